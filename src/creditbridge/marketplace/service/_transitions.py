"""The moves of demands and applications through their state machines, audited, notified."""

from __future__ import annotations

from datetime import date
from typing import Any, Final

from sqlalchemy.orm import Session

from creditbridge.audit import service as audit
from creditbridge.core.actors import Actor
from creditbridge.core.clock import utc_now
from creditbridge.core.errors import ValidationFailed
from creditbridge.marketplace import domain
from creditbridge.marketplace.domain import AppMove, DemandMove
from creditbridge.marketplace.models import Application, Demand
from creditbridge.marketplace.service.notifications import _notify
from creditbridge.presentation.errors import keyed, keyed_issue


def _demand_move(
    session: Session,
    actor: Actor,
    demand: Demand,
    move: DemandMove,
    *,
    respond_by: date | None = None,
    institution_id: int | None = None,
) -> Demand:
    before = demand.status
    after = domain.demand_transition(before, move)
    demand.status = after.value
    demand.status_changed_at = utc_now()
    demand.respond_by = respond_by
    if move is DemandMove.DISPATCH:
        demand.assigned_institution_id = institution_id
    elif move is DemandMove.TO_POOL:
        demand.assigned_institution_id = None
    session.flush()
    audit.record(
        session,
        actor,
        action=f"market.demand.{move.value}",
        object_type="marketplace_demand",
        object_id=demand.id,
        subject_id=demand.subject_id,
        detail={"from": before, "to": after.value, "institution_id": institution_id},
    )
    return demand


def _move(
    session: Session,
    actor: Actor,
    app: Application,
    move: AppMove,
    *,
    reason: str | None = None,
    detail: dict[str, Any] | None = None,
) -> Application:
    before = app.status
    after = domain.transition(before, move)
    if move in domain.REASON_REQUIRED and not (reason or "").strip():
        raise keyed(
            ValidationFailed,
            "error.marketplace.reason_required",
            issues=[
                keyed_issue("CB-MARKET-REASON", "error.marketplace.fill_reason", field="reason")
            ],
        )
    now = utc_now()
    app.status = after.value
    app.status_changed_at = now
    if reason:
        app.reason = reason[:500]
    if move is AppMove.ACCEPT:
        app.accepted_at = now
    if move in (AppMove.APPROVE, AppMove.REJECT):
        app.decided_at = now
    session.flush()
    audit.record(
        session,
        actor,
        action=f"market.application.{move.value}",
        object_type="marketplace_application",
        object_id=app.id,
        subject_id=app.subject_id,
        detail={"from": before, "to": after.value, "reason": reason, **(detail or {})},
    )
    text = f"申请 #{app.id}：{_STATUS_TEXT.get(after.value, after.value)}"
    if reason:
        text += f"（{reason[:200]}）"
    _notify(session, "subject", app.subject_id, f"application.{move.value}", text, None, app)
    _notify(
        session, "institution", app.institution_id, f"application.{move.value}", text, None, app
    )
    return app


_STATUS_TEXT: Final = {
    "submitted": "已提交",
    "accepted": "机构已受理",
    "under_review": "审查中",
    "approved": "已审批通过",
    "rejected": "已拒绝",
    "disbursed": "已放款",
    "repaid": "已结清",
    "overdue": "已逾期",
    "declined": "机构未受理",
    "expired": "超时未响应",
    "withdrawn": "企业已撤回",
}


def _demand_of(session: Session, app: Application) -> Demand | None:
    """The demand an application answers; None for an application made without one."""
    return session.get(Demand, app.demand_id) if app.demand_id else None
