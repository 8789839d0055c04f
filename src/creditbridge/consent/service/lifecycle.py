"""The consent's life: lookups, the institution's request, the enterprise's decisions, expiry."""

from __future__ import annotations

import secrets
from collections.abc import Iterable, Sequence
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from creditbridge.access import service as access_service
from creditbridge.audit import service as audit
from creditbridge.catalog import service as catalog_service
from creditbridge.consent import domain
from creditbridge.consent.domain import ConsentStatus, Move, Purpose
from creditbridge.consent.models import ConsentGrant
from creditbridge.consent.service.notifications import notify
from creditbridge.core.actors import SYSTEM, Actor, ActorKind, Role
from creditbridge.core.clock import utc_now
from creditbridge.core.errors import Forbidden, Issue, NotFound, ValidationFailed
from creditbridge.presentation.errors import keyed, keyed_issue
from creditbridge.subjects import service as subjects_service

MAX_VALIDITY_DAYS = 366
MAX_USES_LIMIT = 1000

# --- lookups --------------------------------------------------------------------------------


def institution_of(actor: Actor) -> int:
    if actor.institution_id is None or not (
        actor.role is Role.INSTITUTION_OFFICER or actor.kind is ActorKind.API_CLIENT
    ):
        raise keyed(Forbidden, "error.consent.institutions_only")
    return actor.institution_id


def access_consent(session: Session, actor: Actor, consent_id: int) -> ConsentGrant:
    """The consent if ``actor`` is one of its two sides (or the operator); NotFound otherwise,
    so that guessing ids reveals nothing."""
    grant = session.get(ConsentGrant, consent_id)
    if grant is None or not _may_see(actor, grant):
        raise keyed(NotFound, "error.consent.no_consent")
    return grant


def _may_see(actor: Actor, grant: ConsentGrant) -> bool:
    if actor.role is Role.ENTERPRISE_USER:
        return actor.subject_id == grant.subject_id
    if actor.role is Role.INSTITUTION_OFFICER or actor.kind is ActorKind.API_CLIENT:
        return actor.institution_id is not None and actor.institution_id == grant.institution_id
    return actor.role is Role.OPERATOR or actor.kind in (ActorKind.CLI, ActorKind.SYSTEM)


def list_for_subject(
    session: Session, actor: Actor, *, subject_id: int | None = None
) -> list[ConsentGrant]:
    """An enterprise's consents, newest first (its own only)."""
    subject_id = own_subject(actor, subject_id)
    return list(
        session.scalars(
            select(ConsentGrant)
            .where(ConsentGrant.subject_id == subject_id)
            .order_by(ConsentGrant.id.desc())
        )
    )


def list_for_institution(session: Session, actor: Actor) -> list[ConsentGrant]:
    institution_id = institution_of(actor)
    return list(
        session.scalars(
            select(ConsentGrant)
            .where(ConsentGrant.institution_id == institution_id)
            .order_by(ConsentGrant.id.desc())
        )
    )


def own_subject(actor: Actor, subject_id: int | None) -> int:
    if actor.role is Role.ENTERPRISE_USER:
        if actor.subject_id is None or (subject_id is not None and subject_id != actor.subject_id):
            raise keyed(NotFound, "error.consent.no_subject")
        return actor.subject_id
    if actor.role is Role.OPERATOR or actor.kind in (ActorKind.CLI, ActorKind.SYSTEM):
        if subject_id is None:
            raise keyed(ValidationFailed, "error.consent.subject_required")
        return subject_id
    raise keyed(Forbidden, "error.consent.own_records_only")


def institution_names(session: Session, ids: Iterable[int]) -> dict[int, str]:
    """The name of each institution id (for the pages of the consent's two sides)."""
    return access_service.institution_names(session, ids)


# --- the lifecycle --------------------------------------------------------------------------


def request_consent(
    session: Session,
    actor: Actor,
    *,
    uscc: str,
    purpose: str,
    categories: Sequence[str],
    valid_until: datetime,
    max_uses: int,
    data_from: date | None = None,
    data_to: date | None = None,
    valid_from: datetime | None = None,
    note: str = "",
) -> ConsentGrant:
    """An institution asks an enterprise for a consent; it stays ``requested`` until the
    enterprise approves or rejects it."""
    institution_id = institution_of(actor)
    subject = subjects_service.get_subject_by_uscc_or_raise(session, uscc)
    now = utc_now()
    valid_from = valid_from or now
    scope = sorted(set(categories))
    issues = _terms_issues(
        session,
        purpose=purpose,
        categories=scope,
        valid_from=valid_from,
        valid_until=valid_until,
        max_uses=max_uses,
        data_from=data_from,
        data_to=data_to,
        note=note,
    )
    if issues:
        raise keyed(ValidationFailed, "error.consent.request_invalid", issues=issues)
    grant = ConsentGrant(
        reference="CB" + secrets.token_hex(8).upper(),
        subject_id=subject.id,
        institution_id=institution_id,
        purpose=purpose,
        categories=scope,
        data_from=data_from,
        data_to=data_to,
        valid_from=valid_from,
        valid_until=valid_until,
        max_uses=max_uses,
        uses=0,
        status=ConsentStatus.REQUESTED.value,
        note=note,
        requested_by=actor.name,
        requested_at=now,
        status_changed_at=now,
    )
    session.add(grant)
    session.flush()
    audit.record(
        session,
        actor,
        action="consent.request",
        object_type="consent_grant",
        object_id=grant.id,
        subject_id=subject.id,
        detail=_terms_detail(grant),
    )
    notify(session, grant, "request", f"{actor.name} 申请查询授权（{Purpose(purpose).label_zh}）")
    session.flush()
    return grant


def grant(
    session: Session,
    actor: Actor,
    *,
    subject_id: int,
    institution_id: int,
    purpose: str,
    categories: Sequence[str],
    valid_until: datetime,
    max_uses: int,
    note: str = "",
) -> ConsentGrant:
    """The enterprise itself authorizes an institution (it applies for the institution's product,
    or posted a demand agreeing that the institution taking it may read): the consent is born
    active. ``actor`` is the enterprise, or the platform acting on that recorded agreement."""
    if actor.role is Role.ENTERPRISE_USER:
        if actor.subject_id != subject_id:
            raise keyed(NotFound, "error.consent.no_subject")
    elif actor.kind not in (ActorKind.SYSTEM, ActorKind.CLI):
        raise keyed(Forbidden, "error.consent.grant_own_only")
    now = utc_now()
    known = {d.category for d in catalog_service.list_datasets(session)}
    scope = sorted(set(categories))
    issues: list[Issue] = []
    if purpose not in set(Purpose):
        issues.append(
            keyed_issue(
                "CB-CONSENT-PURPOSE-UNKNOWN", "error.consent.unknown_purpose", field="purpose"
            )
        )
    if not scope or any(c not in known for c in scope):
        issues.append(
            keyed_issue(
                "CB-CONSENT-SCOPE-UNKNOWN", "error.consent.scope_invalid", field="categories"
            )
        )
    if not now < valid_until <= now + timedelta(days=MAX_VALIDITY_DAYS):
        issues.append(
            keyed_issue(
                "CB-CONSENT-VALIDITY", "error.consent.validity_within_year", field="valid_until"
            )
        )
    if not 1 <= max_uses <= MAX_USES_LIMIT:
        issues.append(
            keyed_issue("CB-CONSENT-USES", "error.consent.uses_out_of_range", field="max_uses")
        )
    if issues:
        raise keyed(ValidationFailed, "error.consent.grant_invalid", issues=issues)
    return _born_active(
        session,
        actor,
        subject_id=subject_id,
        institution_id=institution_id,
        purpose=purpose,
        categories=scope,
        valid_until=valid_until,
        max_uses=max_uses,
        note=note,
    )


GRANTABLE_INSTITUTION_KINDS = frozenset({"bank", "guarantor", "insurer", "credit_agency"})
"""Institutions an enterprise may name in a consent it starts: those that lend, guarantee or
insure; a city platform is a node's operator, not a reader under consent."""


def grantable_institutions(session: Session) -> list[tuple[int, str, str]]:
    """(id, name, kind) of every institution an enterprise may start a consent to: admitted
    (approved) ones of a kind that reads under consent, by name."""
    rows = [
        (i.id, i.name, i.kind)
        for i in access_service.list_institutions(session, status="approved")
        if i.kind in GRANTABLE_INSTITUTION_KINDS
    ]
    return sorted(rows, key=lambda row: row[1])


def grant_to_institution(
    session: Session,
    actor: Actor,
    *,
    institution_id: int,
    purpose: str,
    categories: Sequence[str],
    valid_until: datetime,
    max_uses: int,
    data_from: date | None = None,
    data_to: date | None = None,
    note: str = "",
) -> ConsentGrant:
    """An enterprise starts a consent to an institution it chose: the consent is born active
    (the enterprise is the one who agrees), audited and heard of by the institution. The terms
    follow the same rules as an institution's request; every refusal is collected, with its
    field, so the form can show them all at once."""
    if actor.role is not Role.ENTERPRISE_USER or actor.subject_id is None:
        raise keyed(Forbidden, "error.consent.grant_own_only")
    now = utc_now()
    issues = _terms_issues(
        session,
        purpose=purpose,
        categories=categories,
        valid_from=now,
        valid_until=valid_until,
        max_uses=max_uses,
        data_from=data_from,
        data_to=data_to,
        note=note,
    )
    institution = access_service.get_institution(session, institution_id)
    # A suspended or revoked institution may not read: a consent to it would be a dead letter,
    # and naming one that is not admitted reveals nothing the public list does not.
    if (
        institution is None
        or institution.status != "approved"
        or institution.kind not in GRANTABLE_INSTITUTION_KINDS
    ):
        issues.insert(
            0,
            keyed_issue(
                "CB-CONSENT-INSTITUTION",
                "error.consent.institution_not_grantable",
                field="institution_id",
            ),
        )
    if issues:
        raise keyed(ValidationFailed, "error.consent.grant_invalid", issues=issues)
    return _born_active(
        session,
        actor,
        subject_id=actor.subject_id,
        institution_id=institution_id,
        purpose=purpose,
        categories=sorted(set(categories)),
        valid_until=valid_until,
        max_uses=max_uses,
        data_from=data_from,
        data_to=data_to,
        note=note,
    )


def _terms_issues(
    session: Session,
    *,
    purpose: str,
    categories: Sequence[str],
    valid_from: datetime,
    valid_until: datetime,
    max_uses: int,
    data_from: date | None,
    data_to: date | None,
    note: str,
) -> list[Issue]:
    """What is wrong with a consent's terms, by field (empty when nothing is)."""
    now = utc_now()
    known = {d.category for d in catalog_service.list_datasets(session)}
    issues: list[Issue] = []
    if purpose not in set(Purpose):
        issues.append(
            keyed_issue(
                "CB-CONSENT-PURPOSE-UNKNOWN", "error.consent.unknown_purpose", field="purpose"
            )
        )
    scope = sorted(set(categories))
    if not scope:
        issues.append(
            keyed_issue("CB-CONSENT-SCOPE-EMPTY", "error.consent.scope_empty", field="categories")
        )
    unknown = [c for c in scope if c not in known]
    if unknown:
        issues.append(
            keyed_issue(
                "CB-CONSENT-SCOPE-UNKNOWN",
                "error.consent.scope_not_in_list",
                field="categories",
                value=",".join(unknown)[:100],
            )
        )
    if valid_until <= valid_from or valid_until <= now:
        issues.append(
            keyed_issue("CB-CONSENT-VALIDITY", "error.consent.validity_order", field="valid_until")
        )
    elif valid_until - valid_from > timedelta(days=MAX_VALIDITY_DAYS):
        issues.append(
            keyed_issue(
                "CB-CONSENT-VALIDITY", "error.consent.validity_too_long", field="valid_until"
            )
        )
    if not 1 <= max_uses <= MAX_USES_LIMIT:
        issues.append(
            keyed_issue(
                "CB-CONSENT-USES", "error.consent.uses_range", field="max_uses", max=MAX_USES_LIMIT
            )
        )
    if data_from and data_to and data_from > data_to:
        issues.append(
            keyed_issue("CB-CONSENT-RANGE", "error.consent.data_range", field="data_from")
        )
    if len(note) > 500:
        issues.append(keyed_issue("CB-CONSENT-NOTE", "error.consent.note_too_long", field="note"))
    return issues


def _born_active(
    session: Session,
    actor: Actor,
    *,
    subject_id: int,
    institution_id: int,
    purpose: str,
    categories: list[str],
    valid_until: datetime,
    max_uses: int,
    note: str,
    data_from: date | None = None,
    data_to: date | None = None,
) -> ConsentGrant:
    """Write a consent the enterprise gave itself: active at once, audited as ``consent.grant``
    and notified to both sides (the outbox tells the institution after commit)."""
    now = utc_now()
    row = ConsentGrant(
        reference="CB" + secrets.token_hex(8).upper(),
        subject_id=subject_id,
        institution_id=institution_id,
        purpose=purpose,
        categories=categories,
        data_from=data_from,
        data_to=data_to,
        valid_from=now,
        valid_until=valid_until,
        max_uses=max_uses,
        uses=0,
        status=ConsentStatus.ACTIVE.value,
        note=note[:500],
        requested_by=actor.name,
        requested_at=now,
        decided_by=actor.name,
        decided_at=now,
        status_changed_at=now,
    )
    session.add(row)
    session.flush()
    audit.record(
        session,
        actor,
        action="consent.grant",
        object_type="consent_grant",
        object_id=row.id,
        subject_id=subject_id,
        detail=_terms_detail(row),
    )
    notify(session, row, "grant", f"企业主动授权（{Purpose(purpose).label_zh}）：{row.reference}")
    session.flush()
    return row


def _terms_detail(grant: ConsentGrant) -> dict[str, Any]:
    return {
        "reference": grant.reference,
        "institution_id": grant.institution_id,
        "purpose": grant.purpose,
        "categories": list(grant.categories),
        "data_from": grant.data_from,
        "data_to": grant.data_to,
        "valid_from": grant.valid_from,
        "valid_until": grant.valid_until,
        "max_uses": grant.max_uses,
    }


def decide(
    session: Session, actor: Actor, *, consent_id: int, move: Move, reason: str | None = None
) -> ConsentGrant:
    """The enterprise approves, rejects, pauses, resumes or revokes one of its consents."""
    if move not in domain.ENTERPRISE_MOVES:
        raise keyed(Forbidden, "error.consent.platform_move")
    grant = access_consent(session, actor, consent_id)
    if actor.role is not Role.ENTERPRISE_USER:
        raise keyed(Forbidden, "error.consent.decide_own_only")
    if move is Move.APPROVE and utc_now() >= grant.valid_until:
        # Approving a request whose window has passed would create a consent that is born dead.
        return _move(session, SYSTEM, grant, Move.EXPIRE, reason="申请已超过有效期")
    return _move(session, actor, grant, move, reason=reason)


def approve(session: Session, actor: Actor, *, consent_id: int) -> ConsentGrant:
    return decide(session, actor, consent_id=consent_id, move=Move.APPROVE)


def reject(
    session: Session, actor: Actor, *, consent_id: int, reason: str | None = None
) -> ConsentGrant:
    return decide(session, actor, consent_id=consent_id, move=Move.REJECT, reason=reason)


def pause(session: Session, actor: Actor, *, consent_id: int) -> ConsentGrant:
    return decide(session, actor, consent_id=consent_id, move=Move.PAUSE)


def resume(session: Session, actor: Actor, *, consent_id: int) -> ConsentGrant:
    return decide(session, actor, consent_id=consent_id, move=Move.RESUME)


def revoke(
    session: Session, actor: Actor, *, consent_id: int, reason: str | None = None
) -> ConsentGrant:
    return decide(session, actor, consent_id=consent_id, move=Move.REVOKE, reason=reason)


def expire_due(session: Session, actor: Actor = SYSTEM) -> int:
    """Mark every consent past its window expired (a job); reads already refuse them."""
    due = list(
        session.scalars(
            select(ConsentGrant).where(
                ConsentGrant.valid_until <= utc_now(),
                ConsentGrant.status.in_(
                    [
                        ConsentStatus.REQUESTED.value,
                        ConsentStatus.ACTIVE.value,
                        ConsentStatus.PAUSED.value,
                    ]
                ),
            )
        )
    )
    for grant in due:
        _move(session, actor, grant, Move.EXPIRE)
    return len(due)


def _move(
    session: Session, actor: Actor, grant: ConsentGrant, move: Move, *, reason: str | None = None
) -> ConsentGrant:
    before = grant.status
    after = domain.transition(before, move)
    now = utc_now()
    grant.status = after.value
    grant.status_changed_at = now
    grant.status_reason = (reason or "")[:500] or None
    if move in (Move.APPROVE, Move.REJECT):
        grant.decided_by = actor.name
        grant.decided_at = now
    session.flush()
    audit.record(
        session,
        actor,
        action=f"consent.{move.value}",
        object_type="consent_grant",
        object_id=grant.id,
        subject_id=grant.subject_id,
        detail={"reference": grant.reference, "from": before, "to": after.value, "reason": reason},
    )
    notify(session, grant, move.value, f"授权 {grant.reference} {move.label_zh}：{after.label_zh}")
    return grant
