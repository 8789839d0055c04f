"""The outbox relay's two database steps: claim a batch of due deliveries under a lease, and record
what sending them gave. Both run in worker threads, each in its own short transaction that the
caller opens (``creditbridge.delivery.sender`` does the HTTP in between, holding no transaction).

A delivery is delivered at least once: a worker that dies between its POST and the record leaves
the delivery ``sending`` with a lease that runs out, and the next claimer sends it again with the
same ``webhook-id`` (the message's ``message_id``), which is what receivers drop repeats by.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
from sqlalchemy import (
    ColumnElement,
    Table,
    and_,
    bindparam,
    case,
    column,
    func,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import BindParameter
from sqlalchemy.sql.selectable import TableValuedAlias
from sqlalchemy.types import TypeEngine

from creditbridge.core.clock import utc_now
from creditbridge.core.errors import PlatformError
from creditbridge.delivery import domain
from creditbridge.delivery.models import Delivery, DeliveryAttempt, OutboxMessage, WebhookEndpoint
from creditbridge.delivery.service.endpoints import disable_gone, open_secret

__all__ = [
    "Claimed",
    "RoundOutcome",
    "SendResult",
    "claim_due",
    "message_body",
    "record_results",
    "release",
]

logger = logging.getLogger(__name__)

# The columns hold this much; PostgreSQL refuses a longer value outright.
_ERROR_LENGTH = 1000


@dataclass(frozen=True)
class Claimed:
    """Everything one send needs, read while the delivery was claimed, so the HTTP step touches
    no database. ``attempt`` is the delivery's attempt number this send is (1 is the first);
    ``secret`` is the endpoint's opened signing secret, empty when it could not be opened (the
    send then fails without calling the receiver)."""

    delivery_id: int
    attempt: int
    endpoint_id: int
    url: str
    scheme: str
    secret: str
    message_id: str
    event_type: str
    body: bytes
    created_at: datetime


@dataclass(frozen=True)
class SendResult:
    """What one POST gave: a status code, or an error (timeout, refused connection, refused
    address) and no status. ``retry_after`` is the wait the receiver asked for, if any."""

    delivery_id: int
    attempt: int
    endpoint_id: int
    started_at: datetime
    duration_ms: int
    status_code: int | None = None
    error: str | None = None
    retry_after: timedelta | None = None


@dataclass(frozen=True)
class RoundOutcome:
    """Counts of a relay round (or of several, added up). ``lost`` are results not recorded
    because the delivery's lease had passed to another worker meanwhile."""

    claimed: int = 0
    sent: int = 0
    retrying: int = 0
    dead: int = 0
    lost: int = 0

    def __add__(self, other: RoundOutcome) -> RoundOutcome:
        return RoundOutcome(
            claimed=self.claimed + other.claimed,
            sent=self.sent + other.sent,
            retrying=self.retrying + other.retrying,
            dead=self.dead + other.dead,
            lost=self.lost + other.lost,
        )


def message_body(*, event_type: str, created_at: datetime, payload: object) -> bytes:
    """The JSON a receiver gets, in the Standard Webhooks shape ``{type, timestamp, data}``. Built
    from the stored message only, so every send of a message carries the same bytes."""
    timestamp = created_at.astimezone(UTC).isoformat().replace("+00:00", "Z")
    return orjson.dumps({"type": event_type, "timestamp": timestamp, "data": payload})


# A list of ids as one parameter: ``in_(a_list)`` makes an expression of each id, every time.
_IDS: BindParameter[int] = bindparam("ids", expanding=True)


def _due(now: datetime) -> ColumnElement[bool]:
    """Pending or failed and due, or ``sending`` under a lease that ran out: its worker died
    mid-send, and the attempt it never recorded is made again."""
    return or_(
        and_(Delivery.status.in_(("pending", "failed")), Delivery.next_attempt_at <= now),
        and_(Delivery.status == "sending", Delivery.lease_until < now),
    )


def claim_due(
    session: Session,
    *,
    worker: str,
    limit: int,
    lease_seconds: int,
    now: datetime | None = None,
) -> list[Claimed]:
    """Lease up to ``limit`` due deliveries of active endpoints to ``worker``, oldest first, and
    return what sending them needs. Each claimed delivery becomes ``sending`` with
    ``attempts + 1``. Run it in a transaction of its own, committed before sending.

    Two workers never hold the same delivery. On PostgreSQL the candidates are locked with
    ``FOR UPDATE SKIP LOCKED``, so concurrent claimers take disjoint batches without waiting. On
    SQLite the candidates are read outside any transaction (Python's sqlite3 begins one at the
    first write); the UPDATE that follows takes the database's single write lock and repeats the
    due condition, so a delivery another worker claimed in between is left out."""
    now = now or utc_now()
    active = select(WebhookEndpoint.id).where(WebhookEndpoint.status == "active")
    # The candidates are read with what sending them needs (columns, not entities: building 200
    # ORM objects a round cost more than the query), so a claim is one read and one write.
    rows = session.execute(
        select(
            Delivery.id,
            Delivery.endpoint_id,
            OutboxMessage.message_id,
            OutboxMessage.event_type,
            OutboxMessage.created_at,
            OutboxMessage.payload,
        )
        .join(OutboxMessage, OutboxMessage.id == Delivery.message_id)
        .where(_due(now), Delivery.endpoint_id.in_(active))
        .order_by(Delivery.next_attempt_at, Delivery.id)
        .limit(limit)
        .with_for_update(of=Delivery, skip_locked=True)
    ).all()
    if not rows:
        return []
    taken = session.execute(
        update(Delivery)
        .where(Delivery.id.in_(_IDS), _due(now))
        .values(
            status="sending",
            lease_owner=worker,
            lease_until=now + timedelta(seconds=lease_seconds),
            attempts=Delivery.attempts + 1,
        )
        .returning(Delivery.id, Delivery.attempts)
        .execution_options(synchronize_session=False),
        {"ids": [row[0] for row in rows]},
    ).all()
    attempts = {int(row[0]): int(row[1]) for row in taken}
    # On SQLite another worker may have claimed some of the candidates since they were read:
    # only those this UPDATE took are this claim's. (PostgreSQL holds them locked: all of them.)
    rows = [row for row in rows if row[0] in attempts]
    if not rows:
        return []
    # The endpoints (few — usually one) are loaded whole, since opening a secret needs the row.
    endpoints = {
        endpoint.id: endpoint
        for endpoint in session.scalars(
            select(WebhookEndpoint).where(WebhookEndpoint.id.in_({row[1] for row in rows}))
        )
    }
    # Each endpoint's secret is opened once per claim, not once per delivery.
    secrets = {endpoint_id: _opened(endpoint) for endpoint_id, endpoint in endpoints.items()}
    claimed: list[Claimed] = []
    for delivery_id, endpoint_id, message_id, event_type, created_at, payload in rows:
        endpoint = endpoints[endpoint_id]
        claimed.append(
            Claimed(
                delivery_id=delivery_id,
                attempt=attempts[delivery_id],
                endpoint_id=endpoint_id,
                url=endpoint.url,
                scheme=endpoint.scheme,
                secret=secrets[endpoint_id],
                message_id=message_id,
                event_type=event_type,
                body=message_body(event_type=event_type, created_at=created_at, payload=payload),
                created_at=created_at,
            )
        )
    return claimed


def _opened(endpoint: WebhookEndpoint) -> str:
    # A secret sealed under a key the node no longer holds must not stop the whole batch: that
    # endpoint's deliveries fail (and are retried, then die) while the others are sent.
    try:
        return open_secret(endpoint)
    except PlatformError:
        logger.exception("webhook endpoint %s: its signing secret cannot be opened", endpoint.id)
        return ""


def record_results(
    session: Session, results: list[SendResult], *, worker: str, now: datetime | None = None
) -> RoundOutcome:
    """Log every attempt and move each delivery on: ``sent``; ``failed`` and due again after the
    schedule's wait or the receiver's ``Retry-After``, whichever is longer; or ``dead`` after the
    last try, or when the receiver answered 410 — which also disables its endpoint.

    Fenced by the lease: a result changes its delivery only if ``worker`` still holds it for the
    same attempt. A worker that stalled past its lease, while another re-claimed the delivery,
    logs its attempt (the POST was made) but leaves the delivery to the new holder.

    Three statements whatever the batch's size: the attempts inserted, and the fenced moves
    written — on PostgreSQL one UPDATE whose WHERE is the fence, returning what it moved; on
    SQLite, where the attempts' insert holds the write lock, a read of what ``worker`` still
    holds, then the moves of those (:func:`_log_attempts`, :func:`_move`)."""
    now = now or utc_now()
    if not results:
        return RoundOutcome()
    # The inserts come first: on SQLite they begin the transaction and take the write lock, so
    # the fence read after them sees no claim that could still change under it.
    _log_attempts(session, results, worker)
    moves = sorted((_move_of(result, now) for result in results), key=lambda m: m.delivery_id)
    moved = _move(session, moves, worker)
    sent = retrying = dead = lost = 0
    gone: dict[int, int] = {}
    for move in moves:
        if move.delivery_id not in moved:
            lost += 1
        elif move.status == "sent":
            sent += 1
        elif move.status == "failed":
            retrying += 1
        else:
            dead += 1
            if move.gone:
                gone[move.endpoint_id] = move.last_status or 410
    for endpoint_id, status_code in sorted(gone.items()):
        disable_gone(session, endpoint_id, status_code=status_code)
    return RoundOutcome(claimed=len(results), sent=sent, retrying=retrying, dead=dead, lost=lost)


@dataclass(frozen=True)
class _Move:
    """Where one attempt takes its delivery, if ``attempt`` is still the attempt its worker
    holds: the new status and last answer, with ``sent_at`` set when it was delivered and
    ``due_at`` (its next attempt) when it will be retried — either left None keeps the column as
    it was. The lease is dropped in every case. ``gone``: the receiver answered 410."""

    delivery_id: int
    attempt: int
    endpoint_id: int
    status: str
    last_status: int | None
    last_error: str | None
    sent_at: datetime | None = None
    due_at: datetime | None = None
    gone: bool = False


def _move_of(result: SendResult, now: datetime) -> _Move:
    outcome = domain.outcome_of(result.status_code)
    error = _clip(result.error)
    held = (result.delivery_id, result.attempt, result.endpoint_id)
    if outcome == "sent":
        return _Move(*held, "sent", result.status_code, None, sent_at=now)
    if outcome == "gone":
        return _Move(*held, "dead", result.status_code, error, gone=True)
    wait = domain.next_delay(result.attempt)
    if wait is None:
        return _Move(*held, "dead", result.status_code, error)
    if result.retry_after is not None:
        wait = max(wait, result.retry_after)
    return _Move(*held, "failed", result.status_code, error, due_at=now + wait)


# The bulk writes of a record, by store. psycopg runs an executemany as one pipelined statement
# per row, which cost the relay about 0.03 ms of CPU per row and statement (as much as signing
# and the address check together), so on PostgreSQL each write is one statement over arrays
# (``unnest``: one parameter per column, whatever the batch's size). Python's sqlite3 runs an
# executemany in a C loop over one prepared statement, as cheap as it gets there. Both bypass
# the ORM's bulk paths, whose per-row parameter handling cost more than the database's work.
_ATTEMPTS: Table = DeliveryAttempt.__table__  # type: ignore[assignment]
_DELIVERIES: Table = Delivery.__table__  # type: ignore[assignment]
_ATTEMPT_COLUMNS = (
    "delivery_id",
    "attempt",
    "started_at",
    "duration_ms",
    "status_code",
    "error",
    "worker",
)
# A move's parameters and the delivery column each is of (``move_attempt``: the fence).
_MOVE_COLUMNS = {
    "move_id": "id",
    "move_attempt": "attempts",
    "move_status": "status",
    "move_last_status": "last_status",
    "move_last_error": "last_error",
    "move_sent_at": "sent_at",
    "move_due_at": "next_attempt_at",
}


def _moved(new: Mapping[str, ColumnElement[Any]]) -> dict[str, ColumnElement[Any] | None]:
    """What a move sets, from its new values: the lease dropped; ``sent_at`` and the next
    attempt's time only where the move gives one."""
    return {
        "status": new["move_status"],
        "lease_owner": None,
        "lease_until": None,
        "last_status": new["move_last_status"],
        "last_error": new["move_last_error"],
        "sent_at": func.coalesce(new["move_sent_at"], _DELIVERIES.c.sent_at),
        "next_attempt_at": func.coalesce(new["move_due_at"], _DELIVERIES.c.next_attempt_at),
    }


def _unnest(types: Mapping[str, TypeEngine[Any]]) -> TableValuedAlias:
    """``unnest(:a, :b, …) AS rows(a, b, …)``: one typed array parameter per column."""
    return (
        func.unnest(*(bindparam(name, type_=ARRAY(type_)) for name, type_ in types.items()))
        .table_valued(*(column(name, type_) for name, type_ in types.items()), name="rows")
        .render_derived()
    )


_attempt_rows = _unnest({name: _ATTEMPTS.c[name].type for name in _ATTEMPT_COLUMNS})
_PG_LOG_ATTEMPTS = insert(_ATTEMPTS).from_select(
    list(_ATTEMPT_COLUMNS), select(*(_attempt_rows.c[name] for name in _ATTEMPT_COLUMNS))
)
_move_rows = _unnest({name: _DELIVERIES.c[target].type for name, target in _MOVE_COLUMNS.items()})
# The fence is the WHERE: a delivery moves only if ``worker`` still holds it for that attempt.
_PG_MOVE = (
    update(_DELIVERIES)
    .where(
        _DELIVERIES.c.id == _move_rows.c.move_id,
        _DELIVERIES.c.status == "sending",
        _DELIVERIES.c.lease_owner == bindparam("worker"),
        _DELIVERIES.c.attempts == _move_rows.c.move_attempt,
    )
    .values(_moved({name: _move_rows.c[name] for name in _MOVE_COLUMNS}))
    .returning(_DELIVERIES.c.id)
)
# SQLite: the fence read first (under the write lock), then one UPDATE by primary key per held
# delivery, as an executemany.
_SQLITE_HELD = (
    select(_DELIVERIES.c.id, _DELIVERIES.c.attempts)
    .where(
        _DELIVERIES.c.id.in_(_IDS),
        _DELIVERIES.c.status == "sending",
        _DELIVERIES.c.lease_owner == bindparam("worker"),
    )
    .order_by(_DELIVERIES.c.id)
)
_SQLITE_MOVE = (
    update(_DELIVERIES)
    .where(_DELIVERIES.c.id == bindparam("move_id"))
    .values(
        _moved(
            {
                name: bindparam(name, type_=_DELIVERIES.c[target].type)
                for name, target in _MOVE_COLUMNS.items()
            }
        )
    )
)


def _log_attempts(session: Session, results: list[SendResult], worker: str) -> None:
    rows = [
        (
            result.delivery_id,
            result.attempt,
            result.started_at,
            result.duration_ms,
            result.status_code,
            _clip(result.error),
            worker,
        )
        for result in results
    ]
    connection = session.connection()
    if connection.dialect.name == "postgresql":
        connection.execute(_PG_LOG_ATTEMPTS, _as_arrays(_ATTEMPT_COLUMNS, rows))
    else:
        connection.execute(
            insert(_ATTEMPTS), [dict(zip(_ATTEMPT_COLUMNS, row, strict=True)) for row in rows]
        )


def _move(session: Session, moves: list[_Move], worker: str) -> set[int]:
    """Write the moves of the deliveries ``worker`` still holds for the attempt each move is
    of; return those deliveries' ids (the others' attempts were lost)."""
    if not moves:
        return set()
    rows = [
        (m.delivery_id, m.attempt, m.status, m.last_status, m.last_error, m.sent_at, m.due_at)
        for m in moves
    ]
    connection = session.connection()
    if connection.dialect.name == "postgresql":
        parameters = {**_as_arrays(tuple(_MOVE_COLUMNS), rows), "worker": worker}
        return {int(delivery_id) for delivery_id in connection.scalars(_PG_MOVE, parameters)}
    held = {
        int(delivery_id): int(attempts)
        for delivery_id, attempts in connection.execute(
            _SQLITE_HELD, {"ids": sorted({m.delivery_id for m in moves}), "worker": worker}
        )
    }
    rows = [row for row in rows if held.get(row[0]) == row[1]]
    if rows:
        connection.execute(
            _SQLITE_MOVE, [dict(zip(_MOVE_COLUMNS, row, strict=True)) for row in rows]
        )
    return {row[0] for row in rows}


def _as_arrays(columns: Sequence[str], rows: list[tuple[Any, ...]]) -> dict[str, list[Any]]:
    """Rows as one list per column, for the ``unnest`` statements."""
    return {
        name: list(values) for name, values in zip(columns, zip(*rows, strict=True), strict=True)
    }


def release(session: Session, claimed: list[Claimed], *, worker: str) -> int:
    """Give back claimed deliveries that were not sent: due again as they were before the claim
    (``pending`` or ``failed``, the attempt not counted), with no lease. The relay releases what
    it claimed ahead for an endpoint that answered 410 meanwhile. Fenced like
    :func:`record_results`; returns how many were released."""
    if not claimed:
        return 0
    statement = (
        update(Delivery)
        .where(
            Delivery.id == bindparam("delivery_id"),
            Delivery.status == "sending",
            Delivery.lease_owner == worker,
            Delivery.attempts == bindparam("attempt"),
        )
        .values(
            status=case((Delivery.attempts > 1, "failed"), else_="pending"),
            attempts=Delivery.attempts - 1,
            lease_owner=None,
            lease_until=None,
        )
    )
    # On the connection: an executemany with its own WHERE per row, which the ORM's bulk UPDATE
    # (by primary key only) does not do.
    result = session.connection().execute(
        statement, [{"delivery_id": c.delivery_id, "attempt": c.attempt} for c in claimed]
    )
    return int(result.rowcount)


def _clip(error: str | None) -> str | None:
    if error is None or len(error) <= _ERROR_LENGTH:
        return error
    return error[: _ERROR_LENGTH - 1] + "…"
