"""The outbox relay's two database steps: claim a batch of due deliveries under a lease, and record
what sending them gave. Both run in worker threads, each in its own short transaction that the
caller opens (``creditbridge.delivery.sender`` does the HTTP in between, holding no transaction).

A delivery is delivered at least once: a worker that dies between its POST and the record leaves
the delivery ``sending`` with a lease that runs out, and the next claimer sends it again with the
same ``webhook-id`` (the message's ``message_id``), which is what receivers drop repeats by.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import orjson
from sqlalchemy import ColumnElement, and_, bindparam, case, insert, or_, select, update
from sqlalchemy.orm import Session

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
    candidates = (
        select(Delivery.id)
        .where(_due(now), Delivery.endpoint_id.in_(active))
        .order_by(Delivery.next_attempt_at, Delivery.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    ids = list(session.scalars(candidates))
    if not ids:
        return []
    taken = session.execute(
        update(Delivery)
        .where(Delivery.id.in_(ids), _due(now))
        .values(
            status="sending",
            lease_owner=worker,
            lease_until=now + timedelta(seconds=lease_seconds),
            attempts=Delivery.attempts + 1,
        )
        .returning(Delivery.id, Delivery.attempts)
        .execution_options(synchronize_session=False)
    ).all()
    attempts = {int(row[0]): int(row[1]) for row in taken}
    if not attempts:
        return []
    # Columns, not entities: building 200 ORM objects a round cost more than the query. The
    # endpoints (few — usually one) are loaded whole, since opening a secret needs the row.
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
        .where(Delivery.id.in_(list(attempts)))
        .order_by(Delivery.next_attempt_at, Delivery.id)
    ).all()
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
    logs its attempt (the POST was made) but leaves the delivery to the new holder."""
    now = now or utc_now()
    if not results:
        return RoundOutcome()
    # The inserts come first: on SQLite they begin the transaction and take the write lock, so the
    # read below sees no claim that could still change under it (PostgreSQL locks the rows).
    # One executemany for the whole batch, and below one per kind of outcome: per-row ORM
    # objects and flushes were most of the record's cost.
    session.execute(
        insert(DeliveryAttempt),
        [
            {
                "delivery_id": result.delivery_id,
                "attempt": result.attempt,
                "started_at": result.started_at,
                "duration_ms": result.duration_ms,
                "status_code": result.status_code,
                "error": _clip(result.error),
                "worker": worker,
            }
            for result in results
        ],
    )
    held = {
        int(delivery_id): int(attempts)
        for delivery_id, attempts in session.execute(
            select(Delivery.id, Delivery.attempts)
            .where(
                Delivery.id.in_({result.delivery_id for result in results}),
                Delivery.status == "sending",
                Delivery.lease_owner == worker,
            )
            .order_by(Delivery.id)
            .with_for_update()
        )
    }
    sent: list[dict[str, object]] = []
    dead: list[dict[str, object]] = []
    failed: list[dict[str, object]] = []
    lost = 0
    gone: dict[int, int] = {}
    for result in results:
        if held.get(result.delivery_id) != result.attempt:
            lost += 1
            continue
        row: dict[str, object] = {
            "id": result.delivery_id,
            "lease_owner": None,
            "lease_until": None,
            "last_status": result.status_code,
            "last_error": _clip(result.error),
        }
        outcome = domain.outcome_of(result.status_code)
        if outcome == "sent":
            sent.append({**row, "status": "sent", "sent_at": now, "last_error": None})
            continue
        if outcome == "gone":
            dead.append({**row, "status": "dead"})
            gone[result.endpoint_id] = result.status_code or 410
            continue
        wait = domain.next_delay(result.attempt)
        if wait is None:
            dead.append({**row, "status": "dead"})
            continue
        if result.retry_after is not None:
            wait = max(wait, result.retry_after)
        failed.append({**row, "status": "failed", "next_attempt_at": now + wait})
    for rows in (sent, dead, failed):
        if rows:
            # ORM bulk UPDATE by primary key: one executemany per outcome (same columns each).
            session.execute(update(Delivery), rows)
    for endpoint_id, status_code in sorted(gone.items()):
        disable_gone(session, endpoint_id, status_code=status_code)
    return RoundOutcome(
        claimed=len(results),
        sent=len(sent),
        retrying=len(failed),
        dead=len(dead),
        lost=lost,
    )


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
