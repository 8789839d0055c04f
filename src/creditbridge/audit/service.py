"""Use cases of the audit trail: append an event in the caller's transaction, list and export it
for the audit admin, verify the chain, and purge what is past retention.

Nothing here changes or deletes an event other than :func:`purge`, which only removes events older
than the retention period and records itself. The system admin has no use case over the trail
(三员分立); at the database level, see docs/operations-security.md.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Generator, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final

import orjson
from sqlalchemy import Insert, bindparam, delete, func, insert, select, text, update
from sqlalchemy.orm import Session, make_transient_to_detached

from creditbridge.audit.domain import (
    GENESIS_HASH,
    RETENTION_DAYS,
    Break,
    ChainVerifier,
    EventFacts,
    event_line,
    sm3_hex_of,
)
from creditbridge.audit.models import AuditChainHead, AuditEvent
from creditbridge.core.actors import Actor
from creditbridge.core.clock import utc_now
from creditbridge.core.crypto import canonical_json
from creditbridge.core.errors import Conflict, ValidationFailed
from creditbridge.presentation.errors import keyed
from creditbridge.presentation.exports import csv_cell
from creditbridge.presentation.i18n import MESSAGES

__all__ = [
    "EventFilter",
    "VerifyReport",
    "count_events",
    "export_csv",
    "get_head",
    "list_actions",
    "list_events",
    "note_trail_access",
    "purge",
    "record",
    "record_along",
    "verify",
]

HEAD_ID = 1
# An arbitrary constant naming "the audit chain" among PostgreSQL advisory locks.
_PG_LOCK_KEY = 0x43424155  # "CBAU"
_FETCH_CHUNK = 50_000


# The statements of an append, built once with bound parameters: building and keying a fresh
# statement per event costs more than the database spends on it.
_LOCK_HEAD: Final = (
    select(AuditChainHead.last_sequence, AuditChainHead.last_hash)
    .where(AuditChainHead.id == HEAD_ID)
    .with_for_update()
)
# SQLite has no FOR UPDATE, and Python's sqlite3 opens a transaction only at the first write: a
# plain read of the head ran outside any transaction, so two requests could both read head n and
# both append n+1 (one then failed on the unique sequence). A no-op UPDATE takes the database's
# write lock first (waiting on busy_timeout) and reads the head under it.
_LOCK_HEAD_SQLITE: Final = (
    update(AuditChainHead)
    .where(AuditChainHead.id == HEAD_ID)
    .values(last_sequence=AuditChainHead.last_sequence)
    .returning(AuditChainHead.last_sequence, AuditChainHead.last_hash)
)
_APPEND: Final = (
    insert(AuditEvent)
    .values(
        sequence=bindparam("audit_sequence"),
        chained=bindparam("audit_chained"),
        hash=bindparam("audit_hash"),
    )
    .returning(AuditEvent.id)
)
_MOVE_HEAD: Final = (
    update(AuditChainHead)
    .where(AuditChainHead.id == HEAD_ID)
    .values(
        last_sequence=bindparam("audit_sequence"),
        last_hash=bindparam("audit_hash"),
        updated_at=bindparam("audit_at"),
    )
    .execution_options(synchronize_session=False)
)


def _lock_chain(session: Session) -> tuple[int, str]:
    """Lock the chain head and return ``(last_sequence, last_hash)``.

    Appends serialize on the head row: on PostgreSQL two transactions could otherwise read the
    same head and both write sequence n+1 (one would then fail on the unique index, or — worse,
    under a different isolation — fork the chain). ``FOR UPDATE`` holds the row until the
    transaction ends, so the head update and the event commit together; SQLite's single writer
    already serializes. Only the very first append, when there is no row to lock yet, takes an
    advisory lock so that two first appends cannot both create the head."""
    sqlite = session.get_bind().dialect.name == "sqlite"
    row = session.execute(_LOCK_HEAD_SQLITE if sqlite else _LOCK_HEAD).first()
    if row is not None:
        return int(row[0]), str(row[1])
    if not sqlite:
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_LOCK_KEY})
        row = session.execute(_LOCK_HEAD).first()
        if row is not None:
            return int(row[0]), str(row[1])
    session.execute(
        insert(AuditChainHead).values(
            id=HEAD_ID,
            last_sequence=0,
            last_hash=GENESIS_HASH,
            first_sequence=1,
            first_prev_hash=GENESIS_HASH,
            updated_at=utc_now(),
        )
    )
    return 0, GENESIS_HASH


def _forget_head(session: Session) -> None:
    """The head is written with plain UPDATEs; drop a stale copy from the identity map."""
    loaded = session.identity_map.get(session.identity_key(AuditChainHead, HEAD_ID))
    if loaded is not None:
        session.expire(loaded)


def record(
    session: Session,
    actor: Actor,
    *,
    action: str,
    object_type: str,
    object_id: str | int | None = None,
    subject_id: int | None = None,
    detail: dict[str, Any] | None = None,
) -> AuditEvent:
    """Append one event to the trail in the caller's transaction (flush, never commit): if the
    act fails and rolls back, its event goes with it, and an act never commits without its event.

    ``action`` is a dotted verb (``consent.approve``, ``data.read``); ``detail`` must be
    canonical-JSON-able (strings, ints, bools, None, lists, dicts, Decimal, dates).

    Two round trips on PostgreSQL (lock the head; insert the event and move the head in one
    statement), three on SQLite, written as core SQL: an audited data read pays for them, and the
    unit of work would add as much again."""
    event, _ = record_along(
        session,
        actor,
        action=action,
        object_type=object_type,
        object_id=object_id,
        subject_id=subject_id,
        detail=detail,
    )
    return event


Along = Callable[[AuditEvent], Sequence[tuple[Insert, dict[str, Any]]]]
"""``along(event)`` → the caller's writes: pairs of an ``INSERT … RETURNING`` statement built
once with bound parameters (a module constant: the combined statement is cached by the
statements' identity) and the values of its parameters, whose names must not start with
``audit_`` nor clash with each other's."""

_COMBINED: dict[tuple[int, ...], tuple[tuple[Insert, ...], Any, list[int]]] = {}


def _combined(extra: tuple[Insert, ...]) -> tuple[Any, list[int]]:
    """PostgreSQL: the head update with the event and ``extra`` as data-modifying CTEs, returning
    the event's id and each extra statement's returned columns; and those statements' widths."""
    key = tuple(id(statement) for statement in extra)
    cached = _COMBINED.get(key)
    if cached is not None and all(a is b for a, b in zip(cached[0], extra, strict=True)):
        return cached[1], cached[2]
    appended = _APPEND.cte("appended")
    ctes = [statement.cte(f"along_{n}") for n, statement in enumerate(extra)]
    columns = [select(appended.c.id).scalar_subquery()]
    for cte in ctes:
        columns.extend(select(column).scalar_subquery() for column in cte.c)
    combined = _MOVE_HEAD.add_cte(appended, *ctes).returning(*columns)
    widths = [len(cte.c) for cte in ctes]
    _COMBINED[key] = (extra, combined, widths)
    return combined, widths


def record_along(
    session: Session,
    actor: Actor,
    *,
    action: str,
    object_type: str,
    object_id: str | int | None = None,
    subject_id: int | None = None,
    detail: dict[str, Any] | None = None,
    along: Along | None = None,
) -> tuple[AuditEvent, list[tuple[Any, ...]]]:
    """:func:`record`, and the caller's own writes that belong to the same act (an access-log
    row, a counter; see :data:`Along`) in the same round trip: on PostgreSQL they are
    data-modifying CTEs of the statement that appends the event, on SQLite they run one after
    the other. Returns the event and each statement's returned row."""
    session.flush()
    last_sequence, last_hash = _lock_chain(session)
    facts = EventFacts(
        occurred_at=utc_now(),
        actor_kind=str(actor.kind),
        actor_id=actor.id,
        actor_name=actor.name,
        actor_role=str(actor.role) if actor.role is not None else None,
        actor_institution_id=actor.institution_id,
        ip=actor.ip,
        action=action,
        object_type=object_type,
        object_id=None if object_id is None else str(object_id),
        subject_id=subject_id,
        # Round-tripped so that what the caller passes is exactly what the body holds.
        detail=orjson.loads(canonical_json(detail or {})),
    )
    sequence = last_sequence + 1
    chained = last_hash + event_line(sequence, facts)
    digest = sm3_hex_of(chained)
    # The generated columns, as the database derives them from ``chained``.
    event = AuditEvent(
        sequence=sequence,
        chained=chained,
        hash=digest,
        prev_hash=last_hash,
        occurred_at=facts.occurred_at,
        actor_kind=facts.actor_kind,
        actor_id=facts.actor_id,
        actor_role=facts.actor_role,
        actor_institution_id=facts.actor_institution_id,
        action=facts.action,
        object_type=facts.object_type,
        object_id=facts.object_id,
        subject_id=facts.subject_id,
    )
    extra = list(along(event)) if along is not None else []
    params: dict[str, Any] = {
        "audit_sequence": sequence,
        "audit_chained": chained,
        "audit_hash": digest,
        "audit_at": facts.occurred_at,
    }
    results: list[tuple[Any, ...]] = []
    # Core execution on the session's connection: these are plain statements with their own
    # parameters, not ORM bulk operations.
    connection = session.connection()
    if connection.dialect.name == "postgresql":
        # One round trip for all: the inserts are data-modifying CTEs of the head update.
        combined, widths = _combined(tuple(statement for statement, _ in extra))
        for _, values in extra:
            params.update(values)
        row = tuple(connection.execute(combined, params).one())
        event.id = row[0]
        position = 1
        for width in widths:
            results.append(row[position : position + width])
            position += width
    else:
        event.id = connection.execute(_APPEND, params).scalar_one()
        connection.execute(_MOVE_HEAD, params)
        results = [
            tuple(connection.execute(statement, values).one()) for statement, values in extra
        ]
    _forget_head(session)
    # Attach it as the persistent row it now is, without the unit of work inserting it again.
    make_transient_to_detached(event)
    session.add(event)
    return event, results


def get_head(session: Session) -> AuditChainHead | None:
    return session.get(AuditChainHead, HEAD_ID)


# --- reading the trail (audit admin) --------------------------------------------------------


@dataclass(frozen=True)
class EventFilter:
    since: datetime | None = None
    until: datetime | None = None
    actor_kind: str | None = None
    actor_id: int | None = None
    institution_id: int | None = None
    action: str | None = None
    subject_id: int | None = None
    object_type: str | None = None
    object_id: str | None = None
    # The subjects an enterprise name or USCC resolved to (the audit page asks subjects' search);
    # an empty tuple matches nothing (a name that matched no enterprise), None does not filter.
    subject_ids: tuple[int, ...] | None = None


def _filtered(query: Any, flt: EventFilter) -> Any:
    if flt.since is not None:
        query = query.where(AuditEvent.occurred_at >= flt.since)
    if flt.until is not None:
        query = query.where(AuditEvent.occurred_at < flt.until)
    if flt.actor_kind:
        query = query.where(AuditEvent.actor_kind == flt.actor_kind)
    if flt.actor_id is not None:
        query = query.where(AuditEvent.actor_id == flt.actor_id)
    if flt.institution_id is not None:
        query = query.where(AuditEvent.actor_institution_id == flt.institution_id)
    if flt.action:
        # A prefix filter: "consent." lists every consent move.
        if flt.action.endswith("."):
            query = query.where(AuditEvent.action.startswith(flt.action, autoescape=True))
        else:
            query = query.where(AuditEvent.action == flt.action)
    if flt.subject_id is not None:
        query = query.where(AuditEvent.subject_id == flt.subject_id)
    if flt.subject_ids is not None:
        query = query.where(AuditEvent.subject_id.in_(flt.subject_ids))
    if flt.object_type:
        query = query.where(AuditEvent.object_type == flt.object_type)
    if flt.object_id:
        query = query.where(AuditEvent.object_id == flt.object_id)
    return query


_ACTION_LABEL: Final = "audit_action."


def list_actions(session: Session) -> list[str]:
    """Every action the auditor can pick: each one the platform has a name for (the
    ``audit_action.*`` labels) and each one the trail holds (an older or newer code), sorted."""
    labelled = {
        key.removeprefix(_ACTION_LABEL) for key in MESSAGES if key.startswith(_ACTION_LABEL)
    }
    recorded = set(session.scalars(select(AuditEvent.action).distinct()))
    return sorted(labelled | recorded)


def list_events(
    session: Session, *, flt: EventFilter | None = None, limit: int = 50, offset: int = 0
) -> list[AuditEvent]:
    """Newest first."""
    query = _filtered(select(AuditEvent), flt or EventFilter())
    query = query.order_by(AuditEvent.sequence.desc()).limit(limit).offset(offset)
    return list(session.scalars(query))


def count_events(session: Session, *, flt: EventFilter | None = None) -> int:
    query = _filtered(select(func.count()).select_from(AuditEvent), flt or EventFilter())
    return int(session.scalar(query) or 0)


def note_trail_access(
    session: Session,
    actor: Actor,
    *,
    action: str,
    flt: EventFilter | None = None,
    page: int | None = None,
    result: dict[str, Any] | None = None,
) -> AuditEvent:
    """Record that ``actor`` (the audit admin) viewed (``audit.view``), exported
    (``audit.export``) or verified (``audit.verify``) the trail: the filters used (as
    ``filter_<name>``), the page, and a check's result, flat so the trail's own table shows them."""
    detail: dict[str, Any] = {}
    if flt is not None:
        detail.update(
            (f"filter_{key}", value)
            for key, value in vars(flt).items()
            if value is not None and value != ""
        )
    if page is not None:
        detail["page"] = page
    detail.update(result or {})
    return record(session, actor, action=action, object_type="audit_trail", detail=detail)


EXPORT_COLUMNS = (
    ("sequence", "序号"),
    ("occurred_at", "时间(UTC)"),
    ("actor_kind", "操作者类型"),
    ("actor_id", "操作者ID"),
    ("actor_name", "操作者"),
    ("actor_role", "角色"),
    ("actor_institution_id", "机构ID"),
    ("ip", "IP"),
    ("action", "操作"),
    ("object_type", "对象类型"),
    ("object_id", "对象ID"),
    ("subject_id", "主体ID"),
    ("detail", "详情"),
    ("prev_hash", "前序哈希"),
    ("hash", "哈希"),
)


def _csv_cell(value: Any) -> str:
    if isinstance(value, dict | list):
        value = canonical_json(value).decode()
    return csv_cell(value)


def export_csv(session: Session, *, flt: EventFilter | None = None) -> Iterator[str]:
    """The filtered trail as CSV in sequence order, UTF-8 with a BOM so that Excel on a Chinese
    Windows opens it correctly; yielded in pieces for a streaming response."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    buffer.write("\ufeff")
    writer.writerow([label for _, label in EXPORT_COLUMNS])
    query = _filtered(select(AuditEvent), flt or EventFilter()).order_by(AuditEvent.sequence)
    for index, event in enumerate(session.scalars(query.execution_options(yield_per=2000))):
        content = event.content
        actor = content.get("actor", {})
        values = {
            **content,
            "actor_kind": actor.get("kind"),
            "actor_id": actor.get("id"),
            "actor_name": actor.get("name"),
            "actor_role": actor.get("role"),
            "actor_institution_id": actor.get("institution_id"),
            "prev_hash": event.prev_hash,
            "hash": event.hash,
        }
        writer.writerow([_csv_cell(values.get(key)) for key, _ in EXPORT_COLUMNS])
        if index % 500 == 499:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()


# --- verification ---------------------------------------------------------------------------


@dataclass
class VerifyReport:
    """The outcome of :func:`verify`. ``broken`` names the first link that does not hold."""

    ok: bool
    checked: int
    first_sequence: int
    last_sequence: int
    head_hash: str
    seconds: float
    broken: Break | None = None
    broken_event_id: int | None = None

    @property
    def events_per_second(self) -> float:
        return self.checked / self.seconds if self.seconds > 0 else 0.0

    def message(self) -> str:
        if self.ok:
            return (
                f"审计链完整 chain intact: {self.checked} 条事件 events "
                f"(序号 {self.first_sequence}–{self.last_sequence}), head {self.head_hash[:16]}…"
            )
        broken = self.broken
        assert broken is not None
        reasons = {
            "hash": "事件内容、检索列或哈希被修改 event columns, body or hash altered",
            "prev_hash": "前序哈希被修改 prev_hash altered",
            "gap": "事件缺失（序号不连续） events missing (sequence gap)",
            "start": "链首事件缺失 events missing at the start",
            "tail": "链尾事件缺失（与链头不符） events missing at the end (head disagrees)",
        }
        where = f"第 {broken.position + 1} 条 position {broken.position + 1}, 序号 sequence {broken.sequence}"
        if self.broken_event_id is not None:
            where += f", 事件ID event id {self.broken_event_id}"
        return f"审计链断裂 chain broken: {reasons.get(broken.kind, broken.kind)} — {where}"

    def as_dict(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "ok": self.ok,
            "checked": self.checked,
            "first_sequence": self.first_sequence,
            "last_sequence": self.last_sequence,
            "head_hash": self.head_hash,
            "seconds": round(self.seconds, 6),
            "events_per_second": round(self.events_per_second),
            "message": self.message(),
        }
        if self.broken is not None:
            body["broken"] = {
                "kind": self.broken.kind,
                "position": self.broken.position + 1,
                "sequence": self.broken.sequence,
                "event_id": self.broken_event_id,
                "expected": self.broken.expected,
                "found": self.broken.found,
            }
        return body


def _chain_sql(postgres: bool) -> str:
    """The rows the verifier reads: ``chained`` is stored exactly as it was hashed."""
    marker = "%s" if postgres else "?"
    # As bytes (the UTF-8 that is hashed): no decoding into str and encoding back per event.
    chained = "convert_to(chained, 'UTF8')" if postgres else "CAST(chained AS BLOB)"
    return (
        f"SELECT sequence, hash, {chained} FROM audit_event "
        f"WHERE sequence >= {marker} AND sequence <= {marker} ORDER BY sequence"
    )


@dataclass(frozen=True)
class _RangeOutcome:
    """What one worker found over sequences ``low..high``: the prev_hash its first row links to,
    the hash of its last row, how many rows held, and the first break inside the range."""

    low: int
    high: int
    first_prev: str | None
    last_hash: str | None
    last_sequence: int
    checked: int
    broken: Break | None


def _chunks(dbapi: Any, postgres: bool, low: int, high: int) -> Generator[list[Any], None, None]:
    """Rows of sequences ``low..high`` in order, a chunk at a time. PostgreSQL: one ordinary
    query per slice of :data:`_FETCH_CHUNK` sequences, in binary — twice as fast as a
    server-side cursor, and memory stays bounded by the slice. SQLite: one cursor."""
    sql = _chain_sql(postgres)
    if postgres:
        cursor = dbapi.cursor(binary=True)
        try:
            for start in range(low, high + 1, _FETCH_CHUNK):
                cursor.execute(sql, (start, min(start + _FETCH_CHUNK - 1, high)))
                rows = cursor.fetchall()
                if rows:
                    yield rows
        finally:
            cursor.close()
        return
    cursor = dbapi.cursor()
    try:
        cursor.execute(sql, (low, high))
        while rows := cursor.fetchmany(_FETCH_CHUNK):
            yield rows
    finally:
        cursor.close()


def _verify_range(
    dbapi: Any, postgres: bool, low: int, high: int, first_prev: str | None
) -> _RangeOutcome:
    """Verify sequences ``low..high`` over a raw DBAPI connection. With ``first_prev`` None the
    first row's own prev_hash is adopted; the caller checks it against the previous range."""
    adopted = first_prev
    verifier = ChainVerifier(first_sequence=low, first_prev_hash=first_prev or "")
    chunks = _chunks(dbapi, postgres, low, high)
    try:
        for rows in chunks:
            if adopted is None:
                adopted = verifier.prev = bytes(rows[0][2][:64]).decode(errors="replace")
            if verifier.feed(rows) is not None:
                break
    finally:
        chunks.close()
    return _RangeOutcome(
        low=low,
        high=high,
        first_prev=adopted,
        last_hash=verifier.prev if verifier.position else None,
        last_sequence=verifier.expected_sequence - 1,
        checked=verifier.position,
        broken=verifier.broken,
    )


def _range_worker(url: str, low: int, high: int) -> _RangeOutcome:
    """Runs in a worker process: its own engine, one range of the chain."""
    from creditbridge.core.db import make_engine

    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            dbapi = connection.connection.dbapi_connection
            return _verify_range(dbapi, engine.dialect.name == "postgresql", low, high, None)
    finally:
        engine.dispose()


def verify(
    session: Session,
    *,
    workers: int = 1,
    database_url: str | None = None,
) -> VerifyReport:
    """Recompute the whole chain and name the first broken link.

    Each event's stored ``chained`` text is exactly what was hashed (its filter columns are
    generated from it), so this reads that one column as bytes, in chunks of bounded size,
    checks the link to the previous hash, hashes it with hashlib's SM3 and compares, then compares
    the last event with the chain head (a truncated tail).

    With ``workers`` > 1 and the ``database_url`` of committed data (the CLI), the sequence range
    is split between processes — each link only needs its predecessor's stored hash, so ranges
    verify independently and their seams are checked here. SM3 of an event's ~350 bytes costs
    about 1.4 µs on one core and reading it about 1 µs, so one core alone stays under 500 000
    events/s."""
    from time import perf_counter

    started = perf_counter()
    head = session.execute(
        select(AuditChainHead).where(AuditChainHead.id == HEAD_ID)
    ).scalar_one_or_none()
    first_sequence = head.first_sequence if head else 1
    first_prev = head.first_prev_hash if head else GENESIS_HASH
    last_sequence = head.last_sequence if head else 0
    last_hash = head.last_hash if head else GENESIS_HASH

    connection = session.connection()
    postgres = connection.dialect.name == "postgresql"
    total = last_sequence - first_sequence + 1
    broken: Break | None = None
    checked = 0
    if workers > 1 and database_url and total >= workers * _FETCH_CHUNK:
        from concurrent.futures import ProcessPoolExecutor

        size = -(-total // workers)
        bounds = [
            (low, min(low + size - 1, last_sequence))
            for low in range(first_sequence, last_sequence + 1, size)
        ]
        with ProcessPoolExecutor(max_workers=len(bounds)) as pool:
            futures = [pool.submit(_range_worker, database_url, lo, hi) for lo, hi in bounds]
            outcomes = [future.result() for future in futures]
        expected_prev = first_prev
        for outcome in outcomes:
            offset = outcome.low - first_sequence
            if outcome.checked == 0 and outcome.broken is None:
                broken = Break("gap", outcome.low, offset)
            elif outcome.first_prev != expected_prev and outcome.broken is None:
                kind = "start" if outcome.low == first_sequence else "prev_hash"
                broken = Break(
                    kind, outcome.low, offset, expected=expected_prev, found=outcome.first_prev
                )
            elif outcome.broken is not None:
                inner = outcome.broken
                # A range that starts with a missing event reports "start": that is a gap here.
                kind = (
                    "gap" if inner.kind == "start" and outcome.low != first_sequence else inner.kind
                )
                broken = Break(
                    kind,
                    inner.sequence,
                    inner.position + offset,
                    expected=inner.expected,
                    found=inner.found,
                )
            elif outcome.last_sequence != outcome.high:
                # The range ended early: events are missing before the next range (or the end).
                gap_at = outcome.last_sequence + 1
                broken = Break(
                    "gap" if outcome.high != last_sequence else "tail",
                    gap_at,
                    offset + outcome.checked,
                )
            if broken is not None:
                checked += outcome.checked
                break
            checked += outcome.checked
            expected_prev = outcome.last_hash or expected_prev
        if broken is None:
            tail = ChainVerifier(first_sequence=last_sequence + 1, first_prev_hash=expected_prev)
            tail.position = checked
            tail.expected_sequence = outcomes[-1].last_sequence + 1 if outcomes else first_sequence
            broken = tail.finish(last_sequence=last_sequence, last_hash=last_hash)
    else:
        dbapi = connection.connection.dbapi_connection
        outcome = _verify_range(dbapi, postgres, first_sequence, last_sequence, first_prev)
        checked = outcome.checked
        verifier = ChainVerifier(first_sequence=first_sequence, first_prev_hash=first_prev)
        verifier.position = outcome.checked
        verifier.expected_sequence = outcome.last_sequence + 1
        verifier.prev = outcome.last_hash or first_prev
        verifier.broken = outcome.broken
        broken = verifier.finish(last_sequence=last_sequence, last_hash=last_hash)

    event_id = None
    if broken is not None and broken.kind in ("hash", "prev_hash"):
        event_id = session.scalar(
            select(AuditEvent.id).where(AuditEvent.sequence == broken.sequence)
        )
    return VerifyReport(
        ok=broken is None,
        checked=checked,
        first_sequence=first_sequence,
        last_sequence=last_sequence,
        head_hash=last_hash,
        seconds=perf_counter() - started,
        broken=broken,
        broken_event_id=event_id,
    )


# --- retention ------------------------------------------------------------------------------


def purge(session: Session, actor: Actor, *, before: datetime) -> int:
    """Delete events older than ``before``, which must be at least :data:`RETENTION_DAYS` ago,
    and record the purge as an event. The head then anchors the chain at the first kept event
    (its sequence and prev_hash), so ``verify`` still checks everything that remains; the purge
    event itself names the anchor, the deleted range and the last deleted hash."""
    limit = utc_now() - timedelta(days=RETENTION_DAYS)
    if before > limit:
        raise keyed(
            ValidationFailed,
            "error.audit.retention",
            days=RETENTION_DAYS,
            limit=f"{limit:%Y-%m-%d}",
        )
    head_sequence, _ = _lock_chain(session)
    victims = select(func.max(AuditEvent.sequence), func.count()).where(
        AuditEvent.occurred_at < before
    )
    last_purged, count = session.execute(victims).one()
    if not count:
        return 0
    if last_purged >= head_sequence:
        # Never empty the trail entirely: the head must stay anchored to a real event.
        raise keyed(Conflict, "error.audit.purge_newest")
    anchor = session.execute(
        select(AuditEvent.sequence, AuditEvent.prev_hash).where(
            AuditEvent.sequence == last_purged + 1
        )
    ).one()
    session.execute(delete(AuditEvent).where(AuditEvent.sequence <= last_purged))
    session.execute(
        update(AuditChainHead)
        .where(AuditChainHead.id == HEAD_ID)
        .values(first_sequence=anchor.sequence, first_prev_hash=anchor.prev_hash)
        .execution_options(synchronize_session=False)
    )
    _forget_head(session)
    record(
        session,
        actor,
        action="audit.purge",
        object_type="audit_event",
        detail={
            "before": before,
            "deleted": int(count),
            "deleted_through_sequence": int(last_purged),
            "new_first_sequence": int(anchor.sequence),
            "new_first_prev_hash": anchor.prev_hash,
        },
    )
    return int(count)
