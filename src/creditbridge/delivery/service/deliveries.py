"""The delivery log: what was sent to which endpoint, every attempt, and the institution's and
operator's levers — retry one delivery, replay a time range — plus the figures the operator page
and ``/metrics`` show.

Reads are scoped like endpoints (an officer sees its own institution's deliveries, the platform
all); retry and replay need the right to manage the endpoint, and are audited.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, func, select, update
from sqlalchemy.orm import Session

from creditbridge.audit import service as audit_service
from creditbridge.core.actors import Actor
from creditbridge.core.clock import utc_now
from creditbridge.core.errors import InvalidTransition, NotFound, ValidationFailed
from creditbridge.delivery import domain
from creditbridge.delivery.errors import refusal
from creditbridge.delivery.models import Delivery, DeliveryAttempt, OutboxMessage, WebhookEndpoint
from creditbridge.delivery.service.endpoints import (
    get_endpoint,
    is_platform,
    require_active,
    require_manager,
    require_reader,
)

MAX_LIMIT = 1000
# A replay or retry puts these back in the queue. A delivery being sent right now (``sending``)
# is left to its worker, and a ``pending`` one is already due.
_REPLAYABLE = ("sent", "failed", "dead")
_RETRYABLE = ("failed", "dead")


@dataclass(frozen=True)
class DeliveryView:
    """One message to one endpoint, as the delivery log shows it. ``webhook_id`` is the
    message's stable id: the ``webhook-id`` header of every attempt, replays included."""

    id: int
    webhook_id: str
    event_type: str
    endpoint_id: int
    url: str
    status: str
    attempts: int
    next_attempt_at: datetime
    last_status: int | None
    last_error: str | None
    created_at: datetime
    sent_at: datetime | None
    institution_id: int


@dataclass(frozen=True)
class AttemptView:
    attempt: int
    started_at: datetime
    duration_ms: int
    status_code: int | None
    error: str | None
    worker: str


@dataclass(frozen=True)
class DeliveryStats:
    """The outbox at a glance. ``counts`` holds every status (zero included).
    ``oldest_pending_age_seconds`` is how long the longest-waiting DUE delivery has waited since
    it became due (None when nothing is due): the relay's lag, which a failed delivery resting
    until its next try on the schedule does not inflate."""

    counts: dict[str, int]
    due: int
    oldest_pending_age_seconds: float | None

    @property
    def total(self) -> int:
        return sum(self.counts.values())


_VIEW_COLUMNS = (
    Delivery.id,
    OutboxMessage.message_id,
    OutboxMessage.event_type,
    Delivery.endpoint_id,
    WebhookEndpoint.url,
    Delivery.status,
    Delivery.attempts,
    Delivery.next_attempt_at,
    Delivery.last_status,
    Delivery.last_error,
    Delivery.created_at,
    Delivery.sent_at,
    WebhookEndpoint.institution_id,
)


def _views(session: Session, query: Select[*tuple[Any, ...]]) -> list[DeliveryView]:
    return [DeliveryView(*row) for row in session.execute(query)]


def _scoped(actor: Actor) -> Select[*tuple[Any, ...]]:
    query = (
        select(*_VIEW_COLUMNS)
        .join(OutboxMessage, OutboxMessage.id == Delivery.message_id)
        .join(WebhookEndpoint, WebhookEndpoint.id == Delivery.endpoint_id)
    )
    if not is_platform(actor):
        query = query.where(WebhookEndpoint.institution_id == actor.institution_id)
    return query


def list_deliveries(
    session: Session,
    actor: Actor,
    *,
    endpoint_id: int | None = None,
    status: str | None = None,
    limit: int = 100,
) -> list[DeliveryView]:
    """The deliveries the actor may see, newest first, of one endpoint and/or one status."""
    require_reader(actor)
    if status is not None and status not in domain.DELIVERY_STATUSES:
        raise refusal(ValidationFailed, "error.delivery.status", field="status", status=status)
    query = _scoped(actor)
    if endpoint_id is not None:
        get_endpoint(session, actor, endpoint_id)
        query = query.where(Delivery.endpoint_id == endpoint_id)
    if status is not None:
        query = query.where(Delivery.status == status)
    query = query.order_by(Delivery.id.desc()).limit(max(1, min(limit, MAX_LIMIT)))
    return _views(session, query)


def _delivery(session: Session, actor: Actor, delivery_id: int) -> Delivery:
    """The delivery if the actor may see its endpoint; NotFound otherwise."""
    require_reader(actor)
    delivery = session.get(Delivery, delivery_id)
    if delivery is None:
        raise refusal(NotFound, "error.delivery.delivery_not_found")
    try:
        get_endpoint(session, actor, delivery.endpoint_id)
    except NotFound:
        raise refusal(NotFound, "error.delivery.delivery_not_found") from None
    return delivery


def get_delivery(session: Session, actor: Actor, delivery_id: int) -> DeliveryView:
    delivery = _delivery(session, actor, delivery_id)
    return _views(session, _scoped(actor).where(Delivery.id == delivery.id))[0]


def list_attempts(session: Session, actor: Actor, delivery_id: int) -> list[AttemptView]:
    """Every POST made for the delivery, first first."""
    delivery = _delivery(session, actor, delivery_id)
    rows = session.scalars(
        select(DeliveryAttempt)
        .where(DeliveryAttempt.delivery_id == delivery.id)
        .order_by(DeliveryAttempt.started_at, DeliveryAttempt.id)
    )
    return [
        AttemptView(
            attempt=row.attempt,
            started_at=row.started_at,
            duration_ms=row.duration_ms,
            status_code=row.status_code,
            error=row.error,
            worker=row.worker,
        )
        for row in rows
    ]


def retry_delivery(session: Session, actor: Actor, delivery_id: int) -> DeliveryView:
    """A failed or dead delivery back in the queue, due now, with its attempts kept (so one that
    had used up the schedule gets one more try). Audited."""
    delivery = _delivery(session, actor, delivery_id)
    endpoint = get_endpoint(session, actor, delivery.endpoint_id)
    require_manager(session, actor, endpoint.institution_id)
    if delivery.status not in _RETRYABLE:
        raise refusal(InvalidTransition, "error.delivery.not_retryable", status=delivery.status)
    require_active(endpoint)
    previous = delivery.status
    delivery.status = "pending"
    delivery.next_attempt_at = utc_now()
    delivery.lease_owner = None
    delivery.lease_until = None
    session.flush()
    audit_service.record(
        session,
        actor,
        action="webhook.retry",
        object_type="webhook_delivery",
        object_id=delivery.id,
        detail={
            "endpoint_id": endpoint.id,
            "institution_id": endpoint.institution_id,
            "from": previous,
        },
    )
    return get_delivery(session, actor, delivery.id)


def replay(
    session: Session, actor: Actor, *, endpoint_id: int, since: datetime, until: datetime
) -> int:
    """Send again every delivery to the endpoint whose message was created in ``[since, until)``
    (sent, failed or dead; one being sent or already queued is left as it is): back to
    ``pending``, due now, attempts kept. Each message keeps its ``webhook-id``, so a receiver that
    already processed it drops the repeat. Returns how many were queued. Audited.

    Refused for a disabled endpoint (enable it first: nothing would be sent)."""
    endpoint = get_endpoint(session, actor, endpoint_id)
    require_manager(session, actor, endpoint.institution_id)
    if since.tzinfo is None or until.tzinfo is None or since >= until:
        raise refusal(ValidationFailed, "error.delivery.range", field="since")
    require_active(endpoint)
    in_range = select(OutboxMessage.id).where(
        OutboxMessage.created_at >= since, OutboxMessage.created_at < until
    )
    now = utc_now()
    result = session.execute(
        update(Delivery)
        .where(
            Delivery.endpoint_id == endpoint.id,
            Delivery.status.in_(_REPLAYABLE),
            Delivery.message_id.in_(in_range),
        )
        .values(status="pending", next_attempt_at=now, lease_owner=None, lease_until=None)
        .execution_options(synchronize_session="fetch")
    )
    count = int(result.rowcount or 0)  # type: ignore[attr-defined]
    audit_service.record(
        session,
        actor,
        action="webhook.replay",
        object_type="webhook_endpoint",
        object_id=endpoint.id,
        detail={
            "institution_id": endpoint.institution_id,
            "since": since.isoformat(),
            "until": until.isoformat(),
            "queued": count,
        },
    )
    return count


# --- figures ---------------------------------------------------------------------------------------


def delivery_stats(session: Session) -> DeliveryStats:
    """Counts by status and the relay's lag, for the operator page and ``/metrics`` (the caller
    has already checked the reader is an operator)."""
    counts = dict.fromkeys(domain.DELIVERY_STATUSES, 0)
    for status, count in session.execute(
        select(Delivery.status, func.count()).group_by(Delivery.status)
    ):
        counts[status] = int(count)
    now = utc_now()
    due, oldest = session.execute(
        select(func.count(), func.min(Delivery.next_attempt_at)).where(
            Delivery.status.in_(("pending", "failed")), Delivery.next_attempt_at <= now
        )
    ).one()
    age = None if oldest is None else max((now - oldest).total_seconds(), 0.0)
    return DeliveryStats(counts=counts, due=int(due), oldest_pending_age_seconds=age)


def first_attempt_latencies(session: Session, *, since: datetime) -> list[float]:
    """Seconds from each message's commit (``created_at``) to its delivery's first attempt, for
    the first attempts started at or after ``since``: the "commit to first try" figure of the
    metrics and the benchmark."""
    rows = session.execute(
        select(OutboxMessage.created_at, DeliveryAttempt.started_at)
        .join(Delivery, Delivery.id == DeliveryAttempt.delivery_id)
        .join(OutboxMessage, OutboxMessage.id == Delivery.message_id)
        .where(DeliveryAttempt.attempt == 1, DeliveryAttempt.started_at >= since)
        .order_by(DeliveryAttempt.started_at)
    )
    return [max((started - created).total_seconds(), 0.0) for created, started in rows]
