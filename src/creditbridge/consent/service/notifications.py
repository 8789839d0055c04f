"""What both sides of a consent hear of its moves: notices on their pages, and the outbox."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from creditbridge.consent.models import ConsentGrant, ConsentNotification, ConsentOutbox
from creditbridge.core.actors import Actor, Role
from creditbridge.core.clock import utc_now


def notify(session: Session, grant: ConsentGrant, event: str, message: str) -> None:
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
