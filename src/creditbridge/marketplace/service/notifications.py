"""Notifications of marketplace steps: the rows each recipient's pages list."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from creditbridge.core.actors import Actor, Role
from creditbridge.core.clock import utc_now
from creditbridge.delivery import service as delivery_service
from creditbridge.marketplace.models import Application, Demand, Notification
from creditbridge.marketplace.service._common import _is_platform


def _notify(
    session: Session,
    kind: str,
    recipient_id: int | None,
    event: str,
    message: str,
    demand: Demand | None = None,
    app: Application | None = None,
) -> None:
    """Every step is notified: a row in the caller's transaction, read by the recipient's
    notifications page, and a message in the node's outbox (an institution's webhooks and event
    feed; an enterprise's SMS gateway reads the subject's messages), sent after commit."""
    notification = Notification(
        recipient_kind=kind,
        recipient_id=recipient_id,
        event=event,
        message=message[:500],
        demand_id=demand.id if demand is not None else (app.demand_id if app else None),
        application_id=app.id if app is not None else None,
        created_at=utc_now(),
    )
    session.add(notification)
    session.flush()
    delivery_service.emit(
        session,
        event_type=f"marketplace.{event}",
        payload={
            "notification_id": notification.id,
            "recipient": kind,
            "message": notification.message,
            "demand_id": notification.demand_id,
            "application_id": notification.application_id,
            "at": notification.created_at.isoformat(),
        },
        institution_id=recipient_id if kind == "institution" else None,
        subject_id=recipient_id if kind == "subject" else None,
    )


def list_notifications(session: Session, actor: Actor, *, limit: int = 50) -> list[Notification]:
    where: ColumnElement[bool]
    if actor.role is Role.ENTERPRISE_USER and actor.subject_id is not None:
        where = (Notification.recipient_kind == "subject") & (
            Notification.recipient_id == actor.subject_id
        )
    elif actor.institution_id is not None:
        where = (Notification.recipient_kind == "institution") & (
            Notification.recipient_id == actor.institution_id
        )
    elif _is_platform(actor):
        where = Notification.recipient_kind == "operator"
    else:
        return []
    return list(
        session.scalars(
            select(Notification).where(where).order_by(Notification.id.desc()).limit(limit)
        )
    )
