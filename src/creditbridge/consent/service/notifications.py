"""What both sides of a consent hear of its moves: notices on their pages, and a message in the
node's outbox (webhooks and the event feed of the institution)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from creditbridge.consent.models import ConsentGrant, ConsentNotification
from creditbridge.core.actors import Actor, Role
from creditbridge.core.clock import utc_now
from creditbridge.delivery import service as delivery_service


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
    delivery_service.emit(
        session,
        event_type=f"consent.{event}",
        payload={
            "consent_id": grant.id,
            "reference": grant.reference,
            "status": grant.status,
            "subject_id": grant.subject_id,
            "institution_id": grant.institution_id,
            "at": now.isoformat(),
        },
        institution_id=grant.institution_id,
        subject_id=grant.subject_id,
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
