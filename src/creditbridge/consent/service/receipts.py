"""The consent as a signed receipt (回执) the enterprise keeps and anyone can verify."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from creditbridge.access import service as access_service
from creditbridge.audit import service as audit
from creditbridge.consent import domain
from creditbridge.consent.domain import ConsentStatus, Purpose
from creditbridge.consent.models import ConsentGrant
from creditbridge.consent.service.lifecycle import access_consent
from creditbridge.core.actors import Actor
from creditbridge.core.clock import utc_now
from creditbridge.core.config import Settings
from creditbridge.core.errors import ValidationFailed
from creditbridge.presentation.errors import keyed
from creditbridge.protection import service as protection
from creditbridge.subjects import service as subjects_service


def receipt_artefact(
    session: Session, grant: ConsentGrant, *, settings: Settings
) -> dict[str, Any]:
    """What a receipt signs: the consent's terms and state, its two sides and this node."""
    subject = subjects_service.get_subject_or_raise(session, grant.subject_id)
    institution = access_service.get_institution(session, grant.institution_id)
    assert institution is not None
    return {
        "reference": grant.reference,
        "consent_id": grant.id,
        "node": {"code": settings.node_code, "name": settings.node_name},
        "subject": {"uscc": subject.uscc, "name": subject.name},
        "institution": {"code": institution.code, "name": institution.name},
        "purpose": {"code": grant.purpose, "label": Purpose(grant.purpose).label_zh},
        "categories": list(grant.categories),
        "data_range": {"from": grant.data_from, "to": grant.data_to},
        "validity": {"from": grant.valid_from, "until": grant.valid_until},
        "max_uses": grant.max_uses,
        "status": grant.status,
        "requested_at": grant.requested_at,
        "decided_at": grant.decided_at,
        "status_changed_at": grant.status_changed_at,
        "issued_at": utc_now(),
    }


def receipt(session: Session, actor: Actor, *, consent_id: int, settings: Settings) -> bytes:
    """The consent as an SM2-signed receipt the enterprise can keep and anyone can verify."""
    grant = access_consent(session, actor, consent_id)
    if grant.status == ConsentStatus.REQUESTED.value:
        raise keyed(ValidationFailed, "error.consent.no_receipt_yet")
    signed = domain.sign_receipt(
        receipt_artefact(session, grant, settings=settings), protection.signing_key()
    )
    audit.record(
        session,
        actor,
        action="consent.receipt",
        object_type="consent_grant",
        object_id=grant.id,
        subject_id=grant.subject_id,
    )
    return signed


def verify_receipt(raw: bytes, public_key: Any | None = None) -> domain.ReceiptCheck:
    return domain.check_receipt(raw, public_key or protection.signing_public_key())
