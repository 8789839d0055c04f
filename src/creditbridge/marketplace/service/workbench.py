"""Read-only figures of the marketplace for the role homes (工作台): what is waiting for each party.

Counts and short lists only, each scoped to the actor the way the full pages scope them (an
enterprise its own, an institution its own, the operator the platform's within its division);
the full lists stay on their pages. Nothing here writes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from creditbridge.access import service as access_service
from creditbridge.core.actors import Actor
from creditbridge.marketplace import domain
from creditbridge.marketplace.domain import (
    LIVE_DEMAND,
    REVIEW_STAGE,
    AppStatus,
    DemandStatus,
    Level,
    ProductStatus,
    WhitelistStatus,
)
from creditbridge.marketplace.models import Application, Demand, Loan, Product, WhitelistEntry
from creditbridge.marketplace.service._common import (
    _institution_of,
    _require_operator,
    _subject_of,
)
from creditbridge.marketplace.service.demands import count_escalated
from creditbridge.reference import divisions
from creditbridge.subjects import service as subjects_service

# An application still in the institution's hands: its deadline can pass.
OPEN_APPLICATION: frozenset[str] = frozenset(
    {AppStatus.SUBMITTED, AppStatus.ACCEPTED, AppStatus.UNDER_REVIEW}
)
SHOWN = 5


@dataclass(frozen=True)
class Deadline:
    """An application whose answer is due: today or already late."""

    application_id: int
    status: str
    respond_by: date
    overdue: bool


@dataclass(frozen=True)
class EnterpriseDesk:
    demands: list[Demand]
    live_demands: int
    applications: list[Application]
    open_applications: int


@dataclass(frozen=True)
class OfficerDesk:
    dispatched: int
    pool: int
    by_status: dict[str, int]
    due_today: list[Deadline]
    overdue: list[Deadline]
    loans_this_month: int
    loans_this_month_fen: int


@dataclass(frozen=True)
class OperatorDesk:
    escalated: int
    products_to_review: int
    whitelist_to_review: dict[str, int]
    """Entries waiting per review level (county, city, province) the operator may review."""


def enterprise_desk(session: Session, actor: Actor) -> EnterpriseDesk:
    """The enterprise's latest demands and applications, with how many are still open."""
    subject_id = _subject_of(actor)
    demands = list(
        session.scalars(
            select(Demand)
            .where(Demand.subject_id == subject_id)
            .order_by(Demand.id.desc())
            .limit(SHOWN)
        )
    )
    live_count = session.scalar(
        select(func.count())
        .select_from(Demand)
        .where(Demand.subject_id == subject_id, Demand.status.in_([d.value for d in LIVE_DEMAND]))
    )
    applications = list(
        session.scalars(
            select(Application)
            .where(Application.subject_id == subject_id)
            .order_by(Application.id.desc())
            .limit(SHOWN)
        )
    )
    open_count = session.scalar(
        select(func.count())
        .select_from(Application)
        .where(
            Application.subject_id == subject_id,
            Application.status.in_([*OPEN_APPLICATION, AppStatus.APPROVED.value]),
        )
    )
    return EnterpriseDesk(demands, int(live_count or 0), applications, int(open_count or 0))


def officer_desk(session: Session, actor: Actor, *, today: date) -> OfficerDesk:
    """The institution's to-dos: dispatched demands, applications by stage, answers due today
    and late (by the working-day deadline the marketplace set), and this month's loans."""
    institution_id = _institution_of(actor)
    dispatched = session.scalar(
        select(func.count())
        .select_from(Demand)
        .where(
            Demand.status == DemandStatus.DISPATCHED.value,
            Demand.assigned_institution_id == institution_id,
        )
    )
    pool = session.scalar(
        select(func.count()).select_from(Demand).where(Demand.status == DemandStatus.POOL.value)
    )
    by_status = {
        str(status): int(count)
        for status, count in session.execute(
            select(Application.status, func.count())
            .where(Application.institution_id == institution_id)
            .group_by(Application.status)
        )
    }
    due = session.execute(
        select(Application.id, Application.status, Application.respond_by)
        .where(
            Application.institution_id == institution_id,
            Application.status.in_(list(OPEN_APPLICATION)),
            Application.respond_by.is_not(None),
            Application.respond_by <= today,
        )
        .order_by(Application.respond_by, Application.id)
    ).all()
    deadlines = [Deadline(i, s, d, d < today) for i, s, d in due if d is not None]
    first_of_month = today.replace(day=1)
    count, total = session.execute(
        select(func.count(), func.coalesce(func.sum(Loan.amount_fen), 0)).where(
            Loan.institution_id == institution_id, Loan.disbursement_date >= first_of_month
        )
    ).one()
    return OfficerDesk(
        dispatched=int(dispatched or 0),
        pool=int(pool or 0),
        by_status=by_status,
        due_today=[d for d in deadlines if not d.overdue],
        overdue=[d for d in deadlines if d.overdue],
        loans_this_month=int(count),
        loans_this_month_fen=int(total),
    )


def review_levels(division_code: str | None) -> tuple[Level, ...]:
    """The whitelist levels an operator reviews (逐级把关): its division's own level (a county
    operator the county step, a city one the city step, a provincial one the provincial step). An
    operator without a division is the node's own and sees all three."""
    if not division_code:
        return tuple(Level)
    return (Level(divisions.division_level(division_code) or Level.COUNTY),)


def _institutions_in(session: Session, division_code: str) -> list[int]:
    # Institutions are few (tens per province): their divisions are read, not joined, since
    # access's table is reached only through its service.
    return [
        i.id
        for i in access_service.list_institutions(session)
        if domain.in_division(i.division_code, division_code)
    ]


def operator_desk(session: Session, actor: Actor) -> OperatorDesk:
    """What waits for the platform's decision: escalated demands, products and whitelist entries
    at the operator's review levels, each limited to its division as their pages are."""
    _require_operator(actor)
    products_query = (
        select(func.count())
        .select_from(Product)
        .where(Product.status == ProductStatus.PENDING_REVIEW.value)
    )
    if actor.division_code is not None:
        # As the review queue: the products of the institutions in the operator's division.
        products_query = products_query.where(
            Product.institution_id.in_(_institutions_in(session, actor.division_code))
        )
    products = session.scalar(products_query)
    waiting: dict[str, WhitelistStatus] = {
        level.value: REVIEW_STAGE[level][0] for level in review_levels(actor.division_code)
    }
    counts: dict[str, int] = {
        str(status): int(n)
        for status, n in session.execute(
            select(WhitelistEntry.status, func.count())
            .where(
                WhitelistEntry.status.in_([s.value for s in waiting.values()]),
                subjects_service.subject_in_division(
                    WhitelistEntry.subject_id, actor.division_code
                ),
            )
            .group_by(WhitelistEntry.status)
        )
    }
    return OperatorDesk(
        escalated=count_escalated(session, actor),
        products_to_review=int(products or 0),
        whitelist_to_review={
            level: int(counts.get(status.value, 0)) for level, status in waiting.items()
        },
    )
