"""The one outbox: a message is written in the transaction of the change that causes it, with one
delivery per matching webhook endpoint, and sent after commit by the worker."""

from __future__ import annotations

import secrets
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from creditbridge.core.clock import utc_now
from creditbridge.delivery import domain
from creditbridge.delivery.models import Delivery, OutboxMessage, WebhookEndpoint


def new_message_id() -> str:
    """A stable, unguessable id in the Standard Webhooks style (``msg_`` + 26 characters)."""
    return "msg_" + secrets.token_urlsafe(20)[:26]


def emit(
    session: Session,
    *,
    event_type: str,
    payload: dict[str, Any],
    institution_id: int | None = None,
    subject_id: int | None = None,
    only_endpoint_id: int | None = None,
) -> OutboxMessage:
    """Write one message leaving the node, in the caller's transaction (the services flush; the
    entry point commits both the change and its message, or neither). ``institution_id`` is the
    institution the message is for: its active endpoints subscribed to ``event_type`` each get a
    delivery, and its event feed shows the message. ``only_endpoint_id`` narrows the deliveries to
    one endpoint (the test ping)."""
    now = utc_now()
    message = OutboxMessage(
        message_id=new_message_id(),
        topic=domain.topic_of(event_type),
        event_type=event_type,
        payload=payload,
        institution_id=institution_id,
        subject_id=subject_id,
        created_at=now,
    )
    session.add(message)
    session.flush()
    if institution_id is None:
        return message
    query = select(WebhookEndpoint).where(
        WebhookEndpoint.institution_id == institution_id, WebhookEndpoint.status == "active"
    )
    if only_endpoint_id is not None:
        query = query.where(WebhookEndpoint.id == only_endpoint_id)
    for endpoint in session.scalars(query):
        if only_endpoint_id is None and not domain.subscribed(endpoint.event_types, event_type):
            continue
        session.add(
            Delivery(
                message_id=message.id,
                endpoint_id=endpoint.id,
                status="pending",
                attempts=0,
                next_attempt_at=now,
                created_at=now,
            )
        )
    session.flush()
    return message
