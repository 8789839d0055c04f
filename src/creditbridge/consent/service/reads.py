"""Reads of enterprise data: the one authorization every read passes, the reads of records and
of what the platform derives from them, and the enterprise's access log (查询记录)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from functools import lru_cache, partial
from typing import TYPE_CHECKING, Any, Final

import orjson
from sqlalchemy import Date, Insert, bindparam, insert, select, text, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from creditbridge.access import service as access_service
from creditbridge.access.errors import RateLimited
from creditbridge.audit import service as audit
from creditbridge.catalog import service as catalog_service
from creditbridge.catalog.schemas import DisclosureClass
from creditbridge.consent import domain
from creditbridge.consent.domain import ConsentStatus, Purpose, ReadRequest, Refusal, Terms
from creditbridge.consent.errors import ConsentRefused, ReadThrottled, refused
from creditbridge.consent.models import AccessLogEntry, ConsentGrant
from creditbridge.consent.service.lifecycle import institution_of, own_subject
from creditbridge.core.actors import Actor
from creditbridge.core.clock import utc_now
from creditbridge.core.db import UTCDateTime
from creditbridge.protection import service as protection
from creditbridge.protection.domain import Viewer, mask_record
from creditbridge.subjects import service as subjects_service

if TYPE_CHECKING:
    from creditbridge.audit.models import AuditEvent
    from creditbridge.catalog.models import CatalogDataset
    from creditbridge.subjects.models import Record


# --- the authorization ----------------------------------------------------------------------


def authorize_read(
    session: Session,
    actor: Actor,
    *,
    subject_id: int,
    purpose: str | None,
    categories: Iterable[str],
    what: Mapping[str, Any],
    consent_id: int | None = None,
    data_from: date | None = None,
    data_to: date | None = None,
) -> ConsentGrant | None:
    """The one gate of every read of an enterprise's data by an institution — records, reports,
    scores, and whatever else is derived from them (verifications, alerts): call it before
    reading, in the transaction of the read.

    It checks, in this order, that ``actor``'s institution is not throttled by abuse detection
    (:func:`creditbridge.access.service.ensure_not_throttled`), that ``purpose`` is a known one,
    and — when ``categories`` (the non-public categories the read needs) is not empty — that a
    consent lets it read them of ``subject_id`` for ``purpose`` now, over ``data_from`` …
    ``data_to`` (with ``consent_id``, only the consent cited). It then counts one use of that
    consent, atomically: concurrent reads never exceed its maximum.

    Returns the consent read under (its use counted), or None when ``categories`` is empty: the
    read is of public information only. ``purpose`` may be None only then.

    A refusal raises :class:`~creditbridge.consent.errors.ReadThrottled` (429) or the
    :class:`~creditbridge.consent.errors.ConsentRefused` subclass that says why, after writing
    the refusal's audit event (``data.read_refused``, its detail ``what`` is read, with the
    purpose, the consent cited and the reason) and counting the refusal in the institution's
    hourly tally (many refusals throttle it). The error carries those writes as
    ``kept_on_rollback``: the entry point's unit of work rolls the failed request back, writes
    them again and commits, so a refusal always stays on record.

    The caller writes the read itself: :func:`read_records` does for records,
    :func:`record_derived_read` for what is derived from them.
    """
    institution_id = institution_of(actor)
    restricted = sorted(set(categories))
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
            # Throttled, or no valid consent: find out which, and why.
            _ensure_not_throttled(session, actor)
            if purpose is not None and purpose not in set(Purpose):
                raise refused(Refusal.PURPOSE)
            if restricted:
                if purpose is None:
                    raise refused(Refusal.PURPOSE)
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
    except (ConsentRefused, ReadThrottled) as exc:
        record = partial(
            _record_refusal,
            actor=actor,
            subject_id=subject_id,
            detail={
                "purpose": purpose,
                **what,
                "consent_id": consent_id,
                "code": exc.code,
                "reason": exc.reason_code,
            },
        )
        record(session)
        exc.kept_on_rollback = record
        raise
    return grant


def _ensure_not_throttled(session: Session, actor: Actor) -> None:
    try:
        access_service.ensure_not_throttled(session, actor)
    except RateLimited as limited:
        raise ReadThrottled(
            limited.message,
            retry_after=limited.retry_after,
            key=limited.key,
            params=limited.params,
        ) from None


def _record_refusal(
    session: Session, *, actor: Actor, subject_id: int, detail: dict[str, Any]
) -> None:
    """A refused read's audit event and its count in the institution's tally."""
    audit.record(
        session,
        actor,
        action="data.read_refused",
        object_type="subject",
        object_id=subject_id,
        subject_id=subject_id,
        detail=detail,
    )
    access_service.note_data_read(session, actor, subject_id=subject_id, refused=True)
    session.flush()


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
    institution_id = institution_of(actor)
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
        # Another institution's consent answers exactly as a missing one: telling them apart
        # would let an institution probe which consent ids exist and whose they are.
        if cited is None or cited.institution_id != institution_id:
            raise refused(Refusal.NONE)
        reason = domain.refusal(_terms(cited), request)
        if reason is None:
            return cited
        raise refused(reason, consent_id=cited.id)
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


def find_usable_consent(session: Session, actor: Actor, *, subject_id: int) -> ConsentGrant | None:
    """``actor``'s institution's active consent for ``subject_id`` that is inside its window and
    still has a use left (the one ending soonest), or None. One indexed query: an institution
    may hold thousands of consents, so this does not go through :func:`list_for_institution`."""
    now = utc_now()
    return session.scalar(
        select(ConsentGrant)
        .where(
            ConsentGrant.institution_id == institution_of(actor),
            ConsentGrant.subject_id == subject_id,
            ConsentGrant.status == ConsentStatus.ACTIVE.value,
            ConsentGrant.valid_from <= now,
            ConsentGrant.valid_until > now,
            ConsentGrant.uses < ConsentGrant.max_uses,
        )
        .order_by(ConsentGrant.valid_until)
        .limit(1)
    )


# --- reads of records -----------------------------------------------------------------------


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
    A refusal raises as :func:`authorize_read` says."""
    institution_id = institution_of(actor)
    subject = subjects_service.get_subject_or_raise(session, subject_id)
    wanted = frozenset(categories)
    datasets = [d for d in catalog_service.list_datasets(session) if d.category in wanted]
    readable = [d for d in datasets if d.disclosure_class != DisclosureClass.VERIFICATION_ONLY]
    withheld = [d.code for d in datasets if d.disclosure_class == DisclosureClass.VERIFICATION_ONLY]
    grant = authorize_read(
        session,
        actor,
        subject_id=subject_id,
        purpose=purpose,
        categories={d.category for d in readable if d.disclosure_class != DisclosureClass.PUBLIC},
        what={"categories": sorted(wanted)},
        consent_id=consent_id,
        data_from=data_from,
        data_to=data_to,
    )
    window_from = data_from or (grant.data_from if grant else None)
    window_to = data_to or (grant.data_to if grant else None)
    records = subjects_service.list_current_records(
        session,
        subject_id=subject_id,
        public_datasets=[d.code for d in readable if d.disclosure_class == DisclosureClass.PUBLIC],
        restricted_datasets=[
            d.code for d in readable if d.disclosure_class != DisclosureClass.PUBLIC
        ],
        data_from=window_from,
        data_to=window_to,
    )
    views = _views(readable, records, grant)

    def writes_of_the_read(event: AuditEvent) -> list[tuple[Insert, dict[str, Any]]]:
        return _access_log_writes(
            session,
            actor,
            event,
            subject_id=subject_id,
            institution_id=institution_id,
            consent_id=grant.id if grant else None,
            purpose=purpose,
            datasets=sorted({d.code for d in readable}),
            record_count=len(views),
        )

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
    enterprise's authorized data (its credit score, ``item="credit_score"``): writes the audit
    event and the enterprise's access-log row (查询记录) in this transaction, exactly as a read
    of the records themselves would. Returns the access-log row's id. ``grant`` comes from
    :func:`authorize_read` in the same transaction, which counted the read's use of it."""

    def writes_of_the_read(event: AuditEvent) -> list[tuple[Insert, dict[str, Any]]]:
        return _access_log_writes(
            session,
            actor,
            event,
            subject_id=subject_id,
            institution_id=grant.institution_id,
            consent_id=grant.id,
            purpose=grant.purpose,
            datasets=[item],
            record_count=1,
        )

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


def _access_log_writes(
    session: Session,
    actor: Actor,
    event: AuditEvent,
    *,
    subject_id: int,
    institution_id: int,
    consent_id: int | None,
    purpose: str,
    datasets: list[str],
    record_count: int,
) -> list[tuple[Insert, dict[str, Any]]]:
    """The enterprise's access-log row of a read and the institution's tally, to be written in
    the audit event's round trip (see ``audit.record_along``)."""
    log = {
        "log_subject_id": subject_id,
        "log_institution_id": institution_id,
        "log_consent_id": consent_id,
        "log_actor_kind": str(actor.kind),
        "log_actor_id": actor.id,
        "log_actor_name": actor.name,
        "log_purpose": purpose,
        "log_datasets": datasets,
        "log_record_count": record_count,
        "log_audit_sequence": event.sequence,
        "log_read_at": event.occurred_at,
    }
    tally = access_service.tally_statement(session, actor, refused=False)
    return [(_LOG_READ, log)] if tally is None else [(_LOG_READ, log), tally]


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
    own = own_subject(actor, subject_id)
    return list(
        session.scalars(
            select(AccessLogEntry)
            .where(AccessLogEntry.subject_id == own)
            .order_by(AccessLogEntry.id.desc())
            .limit(limit)
            .offset(offset)
        )
    )
