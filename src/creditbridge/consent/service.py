"""Use cases of consent: an institution requests, the enterprise decides, the platform expires;
reads of non-public data check a consent, count a use, and are logged for the enterprise and
audited — all in the caller's transaction.

A refused read raises a :class:`~creditbridge.consent.errors.ConsentRefused` after writing its
audit event and abuse tally; entry points commit before re-raising so the refusal stays on record
(see :func:`read_records`).
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from functools import lru_cache
from typing import Any, Final

import orjson
from sqlalchemy import Date, Insert, bindparam, insert, select, text, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from creditbridge.access import service as access_service
from creditbridge.access.models import Institution
from creditbridge.audit import service as audit
from creditbridge.audit.models import AuditEvent
from creditbridge.catalog import service as catalog_service
from creditbridge.catalog.models import CatalogDataset
from creditbridge.consent import domain
from creditbridge.consent.domain import ConsentStatus, Move, Purpose, ReadRequest, Refusal, Terms
from creditbridge.consent.errors import ConsentRefused, refused
from creditbridge.consent.models import (
    AccessLogEntry,
    ConsentGrant,
    ConsentNotification,
    ConsentOutbox,
)
from creditbridge.core.actors import SYSTEM, Actor, ActorKind, Role
from creditbridge.core.clock import utc_now
from creditbridge.core.db import UTCDateTime
from creditbridge.core.errors import Forbidden, Issue, NotFound, ValidationFailed
from creditbridge.protection import service as protection
from creditbridge.protection.domain import Viewer, mask_record
from creditbridge.subjects import service as subjects_service
from creditbridge.subjects.models import Record

MAX_VALIDITY_DAYS = 366
MAX_USES_LIMIT = 1000
CURRENT = "current"

# --- lookups --------------------------------------------------------------------------------


def _institution_of(actor: Actor) -> int:
    if actor.institution_id is None or not (
        actor.role is Role.INSTITUTION_OFFICER or actor.kind is ActorKind.API_CLIENT
    ):
        raise Forbidden("只有接入机构可以申请授权或查询企业信息")
    return actor.institution_id


def access_consent(session: Session, actor: Actor, consent_id: int) -> ConsentGrant:
    """The consent if ``actor`` is one of its two sides (or the operator); NotFound otherwise,
    so that guessing ids reveals nothing."""
    grant = session.get(ConsentGrant, consent_id)
    if grant is None or not _may_see(actor, grant):
        raise NotFound("授权不存在")
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
    subject_id = _own_subject(actor, subject_id)
    return list(
        session.scalars(
            select(ConsentGrant)
            .where(ConsentGrant.subject_id == subject_id)
            .order_by(ConsentGrant.id.desc())
        )
    )


def list_for_institution(session: Session, actor: Actor) -> list[ConsentGrant]:
    institution_id = _institution_of(actor)
    return list(
        session.scalars(
            select(ConsentGrant)
            .where(ConsentGrant.institution_id == institution_id)
            .order_by(ConsentGrant.id.desc())
        )
    )


def _own_subject(actor: Actor, subject_id: int | None) -> int:
    if actor.role is Role.ENTERPRISE_USER:
        if actor.subject_id is None or (subject_id is not None and subject_id != actor.subject_id):
            raise NotFound("企业不存在")
        return actor.subject_id
    if actor.role is Role.OPERATOR or actor.kind in (ActorKind.CLI, ActorKind.SYSTEM):
        if subject_id is None:
            raise ValidationFailed("须指定企业")
        return subject_id
    raise Forbidden("只有企业本身可以查看其授权和查询记录")


def institution_names(session: Session, ids: Iterable[int]) -> dict[int, str]:
    wanted = set(ids)
    if not wanted:
        return {}
    rows = session.execute(
        select(Institution.id, Institution.name).where(Institution.id.in_(wanted))
    )
    return {row.id: row.name for row in rows}


# --- the lifecycle --------------------------------------------------------------------------


def find_usable_consent(session: Session, actor: Actor, *, subject_id: int) -> ConsentGrant | None:
    """``actor``'s institution's active consent for ``subject_id`` that is inside its window and
    still has a use left (the one ending soonest), or None. One indexed query: an institution
    may hold thousands of consents, so this does not go through :func:`list_for_institution`."""
    now = utc_now()
    return session.scalar(
        select(ConsentGrant)
        .where(
            ConsentGrant.institution_id == _institution_of(actor),
            ConsentGrant.subject_id == subject_id,
            ConsentGrant.status == ConsentStatus.ACTIVE.value,
            ConsentGrant.valid_from <= now,
            ConsentGrant.valid_until > now,
            ConsentGrant.uses < ConsentGrant.max_uses,
        )
        .order_by(ConsentGrant.valid_until)
        .limit(1)
    )


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
    institution_id = _institution_of(actor)
    subject = subjects_service.get_subject_by_uscc_or_raise(session, uscc)
    now = utc_now()
    valid_from = valid_from or now
    known = {d.category for d in catalog_service.list_datasets(session)}
    issues: list[Issue] = []
    if purpose not in set(Purpose):
        issues.append(Issue("CB-CONSENT-PURPOSE-UNKNOWN", "未知的授权用途", field="purpose"))
    scope = sorted(set(categories))
    if not scope:
        issues.append(Issue("CB-CONSENT-SCOPE-EMPTY", "至少选择一个信息类别", field="categories"))
    unknown = [c for c in scope if c not in known]
    if unknown:
        issues.append(
            Issue(
                "CB-CONSENT-SCOPE-UNKNOWN",
                "共享清单中没有该信息类别",
                field="categories",
                value=",".join(unknown)[:100],
            )
        )
    if valid_until <= valid_from or valid_until <= now:
        issues.append(
            Issue(
                "CB-CONSENT-VALIDITY", "授权截止时间须晚于开始时间和当前时间", field="valid_until"
            )
        )
    elif valid_until - valid_from > timedelta(days=MAX_VALIDITY_DAYS):
        issues.append(Issue("CB-CONSENT-VALIDITY", "授权有效期不得超过一年", field="valid_until"))
    if not 1 <= max_uses <= MAX_USES_LIMIT:
        issues.append(
            Issue("CB-CONSENT-USES", f"查询次数须在 1 至 {MAX_USES_LIMIT} 之间", field="max_uses")
        )
    if data_from and data_to and data_from > data_to:
        issues.append(Issue("CB-CONSENT-RANGE", "数据起始日期不得晚于截止日期", field="data_from"))
    if len(note) > 500:
        issues.append(Issue("CB-CONSENT-NOTE", "说明不得超过500字", field="note"))
    if issues:
        raise ValidationFailed("授权申请有误", issues=issues)
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
    _notify(session, grant, "request", f"{actor.name} 申请查询授权（{Purpose(purpose).label_zh}）")
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
            raise NotFound("企业不存在")
    elif actor.kind not in (ActorKind.SYSTEM, ActorKind.CLI):
        raise Forbidden("只有企业本身可以主动授权")
    now = utc_now()
    known = {d.category for d in catalog_service.list_datasets(session)}
    scope = sorted(set(categories))
    issues: list[Issue] = []
    if purpose not in set(Purpose):
        issues.append(Issue("CB-CONSENT-PURPOSE-UNKNOWN", "未知的授权用途", field="purpose"))
    if not scope or any(c not in known for c in scope):
        issues.append(Issue("CB-CONSENT-SCOPE-UNKNOWN", "信息类别有误", field="categories"))
    if not now < valid_until <= now + timedelta(days=MAX_VALIDITY_DAYS):
        issues.append(Issue("CB-CONSENT-VALIDITY", "授权有效期须在一年以内", field="valid_until"))
    if not 1 <= max_uses <= MAX_USES_LIMIT:
        issues.append(Issue("CB-CONSENT-USES", "查询次数超出范围", field="max_uses"))
    if issues:
        raise ValidationFailed("授权有误", issues=issues)
    row = ConsentGrant(
        reference="CB" + secrets.token_hex(8).upper(),
        subject_id=subject_id,
        institution_id=institution_id,
        purpose=purpose,
        categories=scope,
        data_from=None,
        data_to=None,
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
    _notify(session, row, "grant", f"企业主动授权（{Purpose(purpose).label_zh}）：{row.reference}")
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
        raise Forbidden("该操作只能由平台执行")
    grant = access_consent(session, actor, consent_id)
    if actor.role is not Role.ENTERPRISE_USER:
        raise Forbidden("只有授权企业本身可以决定授权")
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
    _notify(session, grant, move.value, f"授权 {grant.reference} {move.label_zh}：{after.label_zh}")
    return grant


def _notify(session: Session, grant: ConsentGrant, event: str, message: str) -> None:
    """Both sides hear of every move (as account aggregators notify FIU and FIP): a row each
    side's pages list, and an outbox message a job sends after commit."""
    now = utc_now()
    for kind, recipient in (("subject", grant.subject_id), ("institution", grant.institution_id)):
        session.add(
            ConsentNotification(
                recipient_kind=kind,
                recipient_id=recipient,
                consent_id=grant.id,
                event=event,
                message=message[:500],
                created_at=now,
            )
        )
    session.add(
        ConsentOutbox(
            topic=f"consent.{event}",
            payload={
                "consent_id": grant.id,
                "reference": grant.reference,
                "status": grant.status,
                "subject_id": grant.subject_id,
                "institution_id": grant.institution_id,
                "at": now.isoformat(),
            },
            created_at=now,
        )
    )


def list_notifications(
    session: Session, actor: Actor, *, limit: int = 50
) -> list[ConsentNotification]:
    if actor.role is Role.ENTERPRISE_USER and actor.subject_id is not None:
        kind, recipient = "subject", actor.subject_id
    elif actor.institution_id is not None:
        kind, recipient = "institution", actor.institution_id
    else:
        return []
    return list(
        session.scalars(
            select(ConsentNotification)
            .where(
                ConsentNotification.recipient_kind == kind,
                ConsentNotification.recipient_id == recipient,
            )
            .order_by(ConsentNotification.id.desc())
            .limit(limit)
        )
    )


def pending_outbox(session: Session, *, limit: int = 100) -> list[ConsentOutbox]:
    return list(
        session.scalars(
            select(ConsentOutbox)
            .where(ConsentOutbox.sent_at.is_(None))
            .order_by(ConsentOutbox.id)
            .limit(limit)
        )
    )


def mark_sent(session: Session, message: ConsentOutbox, *, error: str | None = None) -> None:
    message.attempts += 1
    if error is None:
        message.sent_at = utc_now()
        message.last_error = None
    else:
        message.last_error = error[:500]
    session.flush()


MAX_SEND_ATTEMPTS = 10
"""A message that failed this many times is left unsent (and visible) for an operator."""


@dataclass(frozen=True)
class SendOutcome:
    sent: int
    failed: int


def send_notifications(
    session: Session, send: Callable[[str, dict[str, Any]], None], *, limit: int = 100
) -> SendOutcome:
    """Hand up to ``limit`` unsent outbox messages, oldest first, to ``send(topic, payload)``
    and mark each sent, or note its error when ``send`` raises (retried on the next run, up to
    :data:`MAX_SEND_ATTEMPTS`). The payload carries ``outbox_id``: delivery is at least once
    (a crash between sending and committing sends again), so receivers drop repeats by it.
    Rows are locked with SKIP LOCKED on PostgreSQL, so two senders never take the same one."""
    query = (
        select(ConsentOutbox)
        .where(ConsentOutbox.sent_at.is_(None), ConsentOutbox.attempts < MAX_SEND_ATTEMPTS)
        .order_by(ConsentOutbox.id)
        .limit(limit)
    )
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    sent = failed = 0
    for message in session.scalars(query).all():
        try:
            send(message.topic, {**message.payload, "outbox_id": message.id})
        except Exception as exc:  # any transport failure is noted and retried
            mark_sent(session, message, error=f"{type(exc).__name__}: {exc}")
            failed += 1
        else:
            mark_sent(session, message)
            sent += 1
    return SendOutcome(sent=sent, failed=failed)


# --- the read path --------------------------------------------------------------------------


def _terms(grant: ConsentGrant) -> Terms:
    return Terms(
        institution_id=grant.institution_id,
        subject_id=grant.subject_id,
        status=grant.status,
        purpose=grant.purpose,
        categories=frozenset(grant.categories),
        data_from=grant.data_from,
        data_to=grant.data_to,
        valid_from=grant.valid_from,
        valid_until=grant.valid_until,
        max_uses=grant.max_uses,
        uses=grant.uses,
    )


def require_valid(
    session: Session,
    actor: Actor,
    *,
    subject_id: int,
    purpose: str,
    categories: Iterable[str],
    at: datetime | None = None,
    consent_id: int | None = None,
    data_from: date | None = None,
    data_to: date | None = None,
) -> ConsentGrant:
    """The consent that lets ``actor``'s institution read ``categories`` of ``subject_id`` for
    ``purpose`` at ``at`` (now), over the data range asked; raises the ConsentRefused subclass
    that says why not. With ``consent_id`` only that consent is considered (the one cited)."""
    institution_id = _institution_of(actor)
    request = ReadRequest(
        institution_id=institution_id,
        subject_id=subject_id,
        purpose=purpose,
        categories=frozenset(categories),
        at=at or utc_now(),
        data_from=data_from,
        data_to=data_to,
    )
    if consent_id is not None:
        cited = session.get(ConsentGrant, consent_id)
        if cited is None:
            raise refused(Refusal.NONE)
        reason = domain.refusal(_terms(cited), request)
        if reason is None:
            return cited
        raise refused(
            reason, consent_id=cited.id if reason is not Refusal.OTHER_INSTITUTION else None
        )
    candidates = list(
        session.scalars(
            select(ConsentGrant)
            .where(
                ConsentGrant.institution_id == institution_id,
                ConsentGrant.subject_id == subject_id,
            )
            .order_by(ConsentGrant.valid_until)
        )
    )
    reasons: list[Refusal] = []
    for grant in candidates:
        reason = domain.refusal(_terms(grant), request)
        if reason is None:
            return grant
        reasons.append(reason)
    raise refused(domain.closest(reasons))


@dataclass(frozen=True)
class RecordView:
    id: int
    dataset_code: str
    dataset_name: str
    category: str
    natural_key: str
    version: int
    event_date: date | None
    data: dict[str, Any]


@dataclass(frozen=True)
class ReadResult:
    subject_id: int
    subject_uscc: str
    subject_name: str
    purpose: str
    consent: ConsentGrant | None
    records: list[RecordView]
    withheld: list[str] = field(default_factory=list)
    """verification_only datasets in the asked categories: never returned raw (核验 only)."""
    access_log_id: int | None = None


def read_records(
    session: Session,
    actor: Actor,
    *,
    subject_id: int,
    purpose: str,
    categories: Iterable[str],
    consent_id: int | None = None,
    data_from: date | None = None,
    data_to: date | None = None,
) -> ReadResult:
    """An institution reads a subject's current records in ``categories``, masked for it.

    Public datasets need no consent; authorized ones need a consent valid for this institution,
    purpose, scope, data range and moment, and each read counts one of its uses;
    verification_only datasets are never returned. Every read — granted or refused — writes an
    audit event and tells abuse detection; a granted one also writes the enterprise's access log.
    A refusal raises after those writes: the caller commits, then reports the error."""
    institution_id = _institution_of(actor)
    subject = subjects_service.get_subject_or_raise(session, subject_id)
    wanted = frozenset(categories)
    datasets = [d for d in catalog_service.list_datasets(session) if d.category in wanted]
    readable = [d for d in datasets if d.disclosure_class != "verification_only"]
    withheld = [d.code for d in datasets if d.disclosure_class == "verification_only"]
    restricted = sorted({d.category for d in readable if d.disclosure_class != "public"})
    try:
        grant: ConsentGrant | None = None
        if restricted and consent_id is not None and purpose in set(Purpose):
            # The usual case in one statement: throttle check, consent check and use count.
            grant = _claim_use(
                session,
                consent_id=consent_id,
                institution_id=institution_id,
                subject_id=subject_id,
                purpose=purpose,
                categories=restricted,
                data_from=data_from,
                data_to=data_to,
            )
        if grant is None:
            # Throttled (raised, not audited, as before any consent is looked at), or no
            # valid consent: find out which, and why.
            access_service.ensure_not_throttled(session, actor)
            if purpose not in set(Purpose):
                raise refused(Refusal.PURPOSE)
            if restricted:
                grant = require_valid(
                    session,
                    actor,
                    subject_id=subject_id,
                    purpose=purpose,
                    categories=restricted,
                    consent_id=consent_id,
                    data_from=data_from,
                    data_to=data_to,
                )
                _count_use(session, grant)
    except ConsentRefused as exc:
        audit.record(
            session,
            actor,
            action="data.read_refused",
            object_type="subject",
            object_id=subject_id,
            subject_id=subject_id,
            detail={
                "purpose": purpose,
                "categories": sorted(wanted),
                "consent_id": consent_id,
                "code": exc.code,
                "reason": exc.reason.value,
            },
        )
        access_service.note_data_read(session, actor, subject_id=subject_id, refused=True)
        session.flush()
        raise
    window_from = data_from or (grant.data_from if grant else None)
    window_to = data_to or (grant.data_to if grant else None)
    records = subjects_service.list_current_records(
        session,
        subject_id=subject_id,
        public_datasets=[d.code for d in readable if d.disclosure_class == "public"],
        restricted_datasets=[d.code for d in readable if d.disclosure_class != "public"],
        data_from=window_from,
        data_to=window_to,
    )
    views = _views(readable, records, grant)

    def writes_of_the_read(event: AuditEvent) -> list[tuple[Insert, dict[str, Any]]]:
        log = {
            "log_subject_id": subject_id,
            "log_institution_id": institution_id,
            "log_consent_id": grant.id if grant else None,
            "log_actor_kind": str(actor.kind),
            "log_actor_id": actor.id,
            "log_actor_name": actor.name,
            "log_purpose": purpose,
            "log_datasets": sorted({d.code for d in readable}),
            "log_record_count": len(views),
            "log_audit_sequence": event.sequence,
            "log_read_at": event.occurred_at,
        }
        tally = access_service.tally_statement(session, actor, refused=False)
        return [(_LOG_READ, log)] if tally is None else [(_LOG_READ, log), tally]

    # The audit event, the enterprise's access-log row and the abuse tally: one round trip on
    # PostgreSQL after the chain head is locked.
    _, written = audit.record_along(
        session,
        actor,
        action="data.read",
        object_type="subject",
        object_id=subject_id,
        subject_id=subject_id,
        detail={
            "purpose": purpose,
            "datasets": sorted({v.dataset_code for v in views}),
            "categories": sorted(wanted),
            "consent_id": grant.id if grant else None,
            "consent_reference": grant.reference if grant else None,
            "records": len(views),
        },
        along=writes_of_the_read,
    )
    entry_id = int(written[0][0])
    if len(written) > 1:
        access_service.check_tally(session, actor, reads=written[1][0], refusals=written[1][1])
    return ReadResult(
        subject_id=subject.id,
        subject_uscc=subject.uscc,
        subject_name=subject.name,
        purpose=purpose,
        consent=grant,
        records=views,
        withheld=withheld,
        access_log_id=entry_id,
    )


def record_derived_read(
    session: Session,
    actor: Actor,
    *,
    grant: ConsentGrant,
    subject_id: int,
    item: str,
    action: str,
    object_type: str,
    object_id: int | str,
    detail: dict[str, Any],
) -> int:
    """An institution's read, under ``grant``, of something the platform derives from an
    enterprise's authorized data (its credit score, ``item="credit_score"``): counts one use of
    the consent, and writes the audit event and the enterprise's access-log row (查询记录) in
    this transaction, exactly as a read of the records themselves would. Returns the
    access-log row's id. ``grant`` comes from :func:`require_valid` in the same transaction."""
    _count_use(session, grant)

    def writes_of_the_read(event: AuditEvent) -> list[tuple[Insert, dict[str, Any]]]:
        log = {
            "log_subject_id": subject_id,
            "log_institution_id": grant.institution_id,
            "log_consent_id": grant.id,
            "log_actor_kind": str(actor.kind),
            "log_actor_id": actor.id,
            "log_actor_name": actor.name,
            "log_purpose": grant.purpose,
            "log_datasets": [item],
            "log_record_count": 1,
            "log_audit_sequence": event.sequence,
            "log_read_at": event.occurred_at,
        }
        tally = access_service.tally_statement(session, actor, refused=False)
        return [(_LOG_READ, log)] if tally is None else [(_LOG_READ, log), tally]

    _, written = audit.record_along(
        session,
        actor,
        action=action,
        object_type=object_type,
        object_id=object_id,
        subject_id=subject_id,
        detail={**detail, "consent_id": grant.id, "consent_reference": grant.reference},
        along=writes_of_the_read,
    )
    if len(written) > 1:
        access_service.check_tally(session, actor, reads=written[1][0], refusals=written[1][1])
    return int(written[0][0])


_LOG_READ: Final = (
    insert(AccessLogEntry)
    .values(
        {
            column: bindparam(f"log_{column}")
            for column in (
                "subject_id",
                "institution_id",
                "consent_id",
                "actor_kind",
                "actor_id",
                "actor_name",
                "purpose",
                "datasets",
                "record_count",
                "audit_sequence",
                "read_at",
            )
        }
    )
    .returning(AccessLogEntry.id)
)
"""The enterprise's access-log row of a read, built once (see ``audit.record_along``)."""


def _claim_use(
    session: Session,
    *,
    consent_id: int,
    institution_id: int,
    subject_id: int,
    purpose: str,
    categories: Sequence[str],
    data_from: date | None,
    data_to: date | None,
) -> ConsentGrant | None:
    """Count one use of the cited consent if it covers the read — this institution's, for this
    subject and purpose, active, inside its window, its scope and data range covering the read,
    a use left — and the institution is not throttled; all in one ``UPDATE … RETURNING`` whose
    conditions are re-checked under the row lock, so concurrent reads never exceed the maximum.
    None when any condition fails: the caller then finds the reason (:func:`require_valid`)."""
    if data_from is not None and data_to is not None and data_from > data_to:
        return None
    statement = _claim_statement(
        session.get_bind().dialect.name == "postgresql", data_from is not None, data_to is not None
    )
    params: dict[str, Any] = {
        "now": utc_now(),
        "consent_id": consent_id,
        "institution_id": institution_id,
        "subject_id": subject_id,
        "purpose": purpose,
        "wanted": orjson.dumps(sorted(categories)).decode(),
    }
    if data_from is not None:
        params["data_from"] = data_from
    if data_to is not None:
        params["data_to"] = data_to
    claimed: ConsentGrant | None = session.scalars(statement, params).one_or_none()
    return claimed


@lru_cache(maxsize=8)
def _claim_statement(postgres: bool, with_from: bool, with_to: bool) -> Any:
    """The claim of :func:`_claim_use` as SQL written once per store and data-range shape: a
    statement built and keyed anew per read costs more than the database spends on it."""
    table = ConsentGrant.__table__
    covers = (
        "consent_grant.categories @> CAST(:wanted AS jsonb)"
        if postgres
        else "NOT EXISTS (SELECT 1 FROM json_each(:wanted) AS w WHERE w.value NOT IN "
        "(SELECT value FROM json_each(consent_grant.categories)))"
    )
    active = ConsentStatus.ACTIVE.value
    lines = [
        "UPDATE consent_grant SET uses = consent_grant.uses + 1, last_used_at = :now",
        "FROM access_institution",
        "WHERE consent_grant.id = :consent_id AND consent_grant.institution_id = :institution_id",
        "AND access_institution.id = consent_grant.institution_id",
        "AND (access_institution.throttled_until IS NULL",
        "     OR access_institution.throttled_until <= :now)",
        f"AND consent_grant.subject_id = :subject_id AND consent_grant.status = '{active}'",
        "AND consent_grant.purpose = :purpose",
        "AND consent_grant.valid_from <= :now AND consent_grant.valid_until > :now",
        "AND consent_grant.uses < consent_grant.max_uses",
        f"AND {covers}",
    ]
    binds: list[Any] = [bindparam("now", type_=UTCDateTime())]
    if with_from:
        lines.append(
            "AND (consent_grant.data_from IS NULL OR consent_grant.data_from <= :data_from)"
        )
        binds.append(bindparam("data_from", type_=Date()))
    if with_to:
        lines.append("AND (consent_grant.data_to IS NULL OR consent_grant.data_to >= :data_to)")
        binds.append(bindparam("data_to", type_=Date()))
    lines.append("RETURNING " + ", ".join(f"consent_grant.{column.name}" for column in table.c))
    claim = text("\n".join(lines)).bindparams(*binds).columns(*table.c)
    return select(ConsentGrant).from_statement(claim).execution_options(populate_existing=True)


def _count_use(session: Session, grant: ConsentGrant) -> None:
    """One use, counted atomically: two concurrent reads of a consent with one use left cannot
    both pass (the UPDATE's condition is re-checked under the row lock)."""
    now = utc_now()
    result = session.execute(
        update(ConsentGrant)
        .where(ConsentGrant.id == grant.id, ConsentGrant.uses < ConsentGrant.max_uses)
        .values(uses=ConsentGrant.uses + 1, last_used_at=now)
        .execution_options(synchronize_session=False)
    )
    if getattr(result, "rowcount", 1) != 1:
        raise refused(Refusal.USES_EXHAUSTED, consent_id=grant.id)
    # Mirror the UPDATE in the loaded object without another round trip.
    set_committed_value(grant, "uses", grant.uses + 1)
    set_committed_value(grant, "last_used_at", now)


def _views(
    datasets: Sequence[CatalogDataset], records: Sequence[Record], grant: ConsentGrant | None
) -> list[RecordView]:
    by_code = {d.code: d for d in datasets}
    scope = frozenset(grant.categories) if grant else frozenset()
    views = []
    for record in records:
        dataset = by_code[record.dataset_code]
        viewer = Viewer.CONSENTED if dataset.category in scope else Viewer.PUBLIC
        plain = protection.reveal_record(record.dataset_code, record.data)
        views.append(
            RecordView(
                id=record.id,
                dataset_code=record.dataset_code,
                dataset_name=dataset.name_zh,
                category=dataset.category,
                natural_key=record.natural_key,
                version=record.version,
                event_date=record.event_date,
                data=mask_record(dataset.fields, plain, viewer),
            )
        )
    return views


# --- the access log -------------------------------------------------------------------------


def list_access_log(
    session: Session,
    actor: Actor,
    *,
    subject_id: int | None = None,
    limit: int = 100,
    offset: int = 0,
) -> list[AccessLogEntry]:
    """Who read the enterprise's data, newest first: the enterprise's own view (查询记录)."""
    own = _own_subject(actor, subject_id)
    return list(
        session.scalars(
            select(AccessLogEntry)
            .where(AccessLogEntry.subject_id == own)
            .order_by(AccessLogEntry.id.desc())
            .limit(limit)
            .offset(offset)
        )
    )


# --- receipts -------------------------------------------------------------------------------


def receipt_artefact(session: Session, grant: ConsentGrant) -> dict[str, Any]:
    subject = subjects_service.get_subject_or_raise(session, grant.subject_id)
    institution = session.get(Institution, grant.institution_id)
    assert subject is not None
    assert institution is not None
    from creditbridge.core.config import get_settings

    settings = get_settings()
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


def receipt(session: Session, actor: Actor, *, consent_id: int) -> bytes:
    """The consent as an SM2-signed receipt the enterprise can keep and anyone can verify."""
    grant = access_consent(session, actor, consent_id)
    if grant.status == ConsentStatus.REQUESTED.value:
        raise ValidationFailed("授权尚未确认，暂无回执")
    signed = domain.sign_receipt(receipt_artefact(session, grant), protection.signing_key())
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
