"""The consent as a signed receipt (回执) the enterprise keeps and anyone can verify."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from sqlalchemy import select
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


receipt_times = domain.receipt_times


def verification_path(reference: str, digest: str) -> str:
    """The public page that checks a receipt from its number and terms digest (the QR's link)."""
    return f"/verify/receipt/{quote(reference, safe='')}?d={digest}"


@dataclass(frozen=True)
class Letter:
    """What the 授权书 prints: the receipt's artefact (terms and both sides), the digest of its
    terms and the path of its public check."""

    artefact: dict[str, Any]
    digest: str
    verify_path: str
    key_fingerprint: str


def authorization_letter(
    session: Session, actor: Actor, *, consent_id: int, settings: Settings
) -> Letter:
    """The consent as a letter the enterprise prints (授权书); issuing it is audited like a
    receipt, since it carries the same terms and the same checkable digest."""
    grant = access_consent(session, actor, consent_id)
    if grant.status == ConsentStatus.REQUESTED.value:
        raise keyed(ValidationFailed, "error.consent.no_receipt_yet")
    artefact = receipt_artefact(session, grant, settings=settings)
    digest = domain.terms_digest(artefact)
    audit.record(
        session,
        actor,
        action="consent.letter",
        object_type="consent_grant",
        object_id=grant.id,
        subject_id=grant.subject_id,
        detail={"reference": grant.reference, "digest": digest},
    )
    return Letter(
        artefact=artefact,
        digest=digest,
        verify_path=verification_path(grant.reference, digest),
        key_fingerprint=protection.signing_public_key().fingerprint,
    )


@dataclass(frozen=True)
class PublicCheck:
    """What anyone holding a receipt's number and digest may learn (the QR's page): whether the
    register holds a consent with exactly those terms, and only its two sides' names, purpose,
    period and whether it is in force now — never its categories, data range or uses, which the
    holder of the receipt file can read for themselves."""

    ok: bool
    reason: str | None
    reference: str
    subject_name: str = ""
    institution_name: str = ""
    purpose: str = ""
    valid_from: Any = None
    valid_until: Any = None
    in_force: bool = False


def check_by_reference(
    session: Session, *, reference: str, digest: str, settings: Settings
) -> PublicCheck:
    """Check a receipt by its number and terms digest against the register, without login.

    ``reason`` is ``unknown`` (no such number, or a digest of the wrong form: the page does not
    tell which, so the numbers cannot be probed) or ``digest`` (a consent of that number exists
    but its terms are not those the letter states)."""
    grant = session.scalar(select(ConsentGrant).where(ConsentGrant.reference == reference))
    if grant is None or grant.status == ConsentStatus.REQUESTED.value or len(digest) != 64:
        return PublicCheck(False, "unknown", reference)
    artefact = receipt_artefact(session, grant, settings=settings)
    if not domain.digest_matches(digest, domain.terms_digest(artefact)):
        return PublicCheck(False, "digest", reference)
    now = utc_now()
    status = domain.effective_status(grant.status, grant.valid_until, now)
    return PublicCheck(
        True,
        None,
        reference,
        subject_name=artefact["subject"]["name"],
        institution_name=artefact["institution"]["name"],
        purpose=grant.purpose,
        valid_from=grant.valid_from,
        valid_until=grant.valid_until,
        in_force=status is ConsentStatus.ACTIVE,
    )
