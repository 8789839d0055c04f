"""Tables of delivery: the outbox of messages leaving the node (also the event feeds' log),
institutions' webhook endpoints, one delivery per message and endpoint, and every attempt."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from creditbridge.core.db import Base, BigId

_JSON = Base.type_annotation_map[dict[str, Any]]


class OutboxMessage(Base):
    """A message written in the transaction of the change that causes it. Its ``id`` orders the
    event feeds (the cursor); its ``message_id`` is the stable ``webhook-id`` receivers drop
    repeats by. ``institution_id`` and ``subject_id`` say who may see it."""

    __tablename__ = "outbox_message"
    __table_args__ = (Index("ix_outbox_message_feed", "topic", "institution_id", "id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    message_id: Mapped[str] = mapped_column(String(40), unique=True)
    topic: Mapped[str] = mapped_column(String(32), doc="the feed: consent | marketplace | system")
    event_type: Mapped[str] = mapped_column(String(64))
    payload: Mapped[dict[str, Any]]
    institution_id: Mapped[int | None] = mapped_column(BigId, default=None)
    subject_id: Mapped[int | None] = mapped_column(BigId, default=None)
    created_at: Mapped[datetime] = mapped_column(index=True)


class WebhookEndpoint(Base):
    """Where an institution wants its events POSTed. The signing secret is kept sealed (SM4-GCM
    under the node's data key) because it must be usable to sign, unlike a password."""

    __tablename__ = "webhook_endpoint"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    institution_id: Mapped[int] = mapped_column(ForeignKey("access_institution.id"), index=True)
    url: Mapped[str] = mapped_column(String(2000))
    event_types: Mapped[list[str]] = mapped_column(_JSON, doc="patterns: consent.*, marketplace.*")
    scheme: Mapped[str] = mapped_column(String(16), doc="hmac-sha256 | hmac-sm3")
    secret_sealed: Mapped[dict[str, Any]]
    description: Mapped[str] = mapped_column(String(200), default="")
    status: Mapped[str] = mapped_column(String(16), doc="active | disabled")
    disabled_reason: Mapped[str | None] = mapped_column(String(500), default=None)
    created_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class Delivery(Base):
    """One message to one endpoint: pending until a worker leases it, then sent, retried on the
    Standard Webhooks schedule, or dead after the last try (or when the endpoint answers 410)."""

    __tablename__ = "webhook_delivery"
    __table_args__ = (
        UniqueConstraint("message_id", "endpoint_id", name="uq_webhook_delivery_message_endpoint"),
        Index("ix_webhook_delivery_due", "status", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    message_id: Mapped[int] = mapped_column(ForeignKey("outbox_message.id"), index=True)
    endpoint_id: Mapped[int] = mapped_column(ForeignKey("webhook_endpoint.id"), index=True)
    status: Mapped[str] = mapped_column(String(16), doc="pending | sending | sent | failed | dead")
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime]
    lease_owner: Mapped[str | None] = mapped_column(String(64), default=None)
    lease_until: Mapped[datetime | None] = mapped_column(default=None)
    last_status: Mapped[int | None] = mapped_column(default=None)
    last_error: Mapped[str | None] = mapped_column(String(1000), default=None)
    created_at: Mapped[datetime]
    sent_at: Mapped[datetime | None] = mapped_column(default=None)


class DeliveryAttempt(Base):
    """Every POST made, answered or not."""

    __tablename__ = "webhook_attempt"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    delivery_id: Mapped[int] = mapped_column(ForeignKey("webhook_delivery.id"), index=True)
    attempt: Mapped[int]
    started_at: Mapped[datetime] = mapped_column(index=True)
    duration_ms: Mapped[int]
    status_code: Mapped[int | None] = mapped_column(default=None)
    error: Mapped[str | None] = mapped_column(String(1000), default=None)
    worker: Mapped[str] = mapped_column(String(64))
