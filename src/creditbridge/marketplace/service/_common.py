"""Shared by the marketplace's use cases: who is acting, deadlines, grades, party names."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, timedelta
from typing import Final

from sqlalchemy.orm import Session

from creditbridge.consent import service as consent_service
from creditbridge.core.actors import Actor, ActorKind, Role
from creditbridge.core.clock import local_today
from creditbridge.core.errors import Forbidden
from creditbridge.marketplace import domain
from creditbridge.presentation.errors import keyed
from creditbridge.reference import calendar
from creditbridge.reference.errors import CalendarOutOfRange
from creditbridge.scoring import service as scoring_service
from creditbridge.subjects import service as subjects_service

DEFAULT_CONSENT_CATEGORIES: Final = ("tax", "social_insurance", "housing_fund", "utilities")
CONSENT_DAYS: Final = 90
CONSENT_USES: Final = 20
MAX_AMOUNT_FEN: Final = 100_000 * domain.WAN_FEN  # 10亿元: anything above is a typing error


def _institution_of(actor: Actor) -> int:
    if actor.institution_id is None or not (
        actor.role is Role.INSTITUTION_OFFICER or actor.kind is ActorKind.API_CLIENT
    ):
        raise keyed(Forbidden, "error.marketplace.institutions_only")
    return actor.institution_id


def require_institution(actor: Actor) -> int:
    return _institution_of(actor)


def _subject_of(actor: Actor) -> int:
    if actor.role is not Role.ENTERPRISE_USER or actor.subject_id is None:
        raise keyed(Forbidden, "error.marketplace.enterprises_only")
    return actor.subject_id


def _is_platform(actor: Actor) -> bool:
    return actor.role is Role.OPERATOR or actor.kind in (ActorKind.CLI, ActorKind.SYSTEM)


def _require_operator(actor: Actor) -> None:
    if not _is_platform(actor):
        raise keyed(Forbidden, "error.marketplace.operator_only")


def _party_to(actor: Actor, subject_id: int, institution_id: int) -> bool:
    """Whether ``actor`` is the enterprise or the institution of an application or loan, or
    the platform itself."""
    if actor.role is Role.ENTERPRISE_USER:
        return actor.subject_id == subject_id
    if actor.institution_id is not None:
        return actor.institution_id == institution_id
    return _is_platform(actor)


RESPONSE_DAYS: Final = 2
"""Working days an institution has to answer when the caller passes none: the default of
``Settings.market_response_days`` (``CREDITBRIDGE_MARKET_RESPONSE_DAYS``). Entry points pass the
configured value; this default serves tests and scripts."""


def deadline(today: date | None = None, *, response_days: int = RESPONSE_DAYS) -> date:
    """The day an answer is due: ``response_days`` working days after ``today``."""
    start = today or local_today()
    n = response_days
    try:
        return calendar.add_working_days(start, n)
    except CalendarOutOfRange:
        # Beyond the published holiday data: count weekdays rather than refuse to dispatch.
        day = start
        while n:
            day += timedelta(days=1)
            n -= day.weekday() < 5
        return day


def current_grade(session: Session, subject_id: int) -> str | None:
    """The subject's grade by the public model, for eligibility; None without a usable score."""
    view = scoring_service.get_current_score(session, subject_id=subject_id)
    if view is None or view.insufficient_data:
        return None
    return view.grade or None


def institution_names(session: Session, ids: Iterable[int]) -> dict[int, str]:
    return consent_service.institution_names(session, ids)


def subject_names(session: Session, ids: Iterable[int]) -> dict[int, tuple[str, str]]:
    return subjects_service.subject_names(session, ids)


def institution_name(session: Session, institution_id: int) -> str:
    return institution_names(session, [institution_id]).get(institution_id, "")
