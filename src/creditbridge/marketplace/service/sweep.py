"""The deadline job: late applications expire and move on; stale pool demands escalate."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from creditbridge.core.actors import SYSTEM, Actor
from creditbridge.core.clock import local_today
from creditbridge.marketplace.domain import AppMove, AppStatus, DemandMove, DemandStatus
from creditbridge.marketplace.models import Application, Demand
from creditbridge.marketplace.service._common import RESPONSE_DAYS
from creditbridge.marketplace.service._transitions import _demand_move, _demand_of, _move
from creditbridge.marketplace.service.demands import _dispatch_next
from creditbridge.marketplace.service.notifications import _notify


@dataclass
class SweepResult:
    expired: int = 0
    reassigned: int = 0
    pooled: int = 0
    escalated: int = 0


def sweep(
    session: Session,
    actor: Actor = SYSTEM,
    *,
    today: date | None = None,
    response_days: int = RESPONSE_DAYS,
) -> SweepResult:
    """The deadline job: applications unanswered past their working-day deadline expire and
    their demand goes to the next eligible institution (or the pool), which has
    ``response_days`` working days to answer; pool demands nobody took in time are escalated
    to the operator."""
    day = today or local_today()
    result = SweepResult()
    late = list(
        session.scalars(
            select(Application)
            .where(
                Application.status == AppStatus.SUBMITTED.value,
                Application.respond_by < day,
            )
            .order_by(Application.id)
        )
    )
    for app in late:
        _move(session, actor, app, AppMove.EXPIRE, detail={"respond_by": app.respond_by})
        result.expired += 1
        demand = _demand_of(session, app)
        if demand is not None and demand.status == DemandStatus.DISPATCHED.value:
            if _dispatch_next(session, actor, demand, response_days=response_days) is None:
                result.pooled += 1
            else:
                result.reassigned += 1
    stale = list(
        session.scalars(
            select(Demand)
            .where(Demand.status == DemandStatus.POOL.value, Demand.respond_by < day)
            .order_by(Demand.id)
        )
    )
    for demand in stale:
        _demand_move(session, actor, demand, DemandMove.ESCALATE)
        _notify(
            session,
            "operator",
            None,
            "demand.escalated",
            f"融资需求 #{demand.id} 超时无机构承接，请协调",
            demand,
        )
        _notify(
            session,
            "subject",
            demand.subject_id,
            "demand.escalated",
            f"融资需求 #{demand.id} 已提交平台协调",
            demand,
        )
        result.escalated += 1
    return result
