"""The home of each role (工作台): the first page after login, one card per thing waiting.

Each builder calls the services of the modules it shows, scoped to the actor as their full pages
are; every card links to that full page. Figures only here: no query and no business rule.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy.orm import Session

from creditbridge.access import service as access_service
from creditbridge.audit import workbench as audit_workbench
from creditbridge.catalog import service as catalog_service
from creditbridge.consent import service as consent_service
from creditbridge.consent.domain import ConsentStatus
from creditbridge.core.actors import Actor, Role
from creditbridge.core.clock import SHANGHAI, local_today
from creditbridge.core.config import Settings
from creditbridge.core.errors import Forbidden
from creditbridge.delivery import service as delivery_service
from creditbridge.ingest import metrics
from creditbridge.ingest.service import workbench as ingest_workbench
from creditbridge.jobs import service as jobs_service
from creditbridge.marketplace import service as marketplace_service
from creditbridge.marketplace.domain import AppStatus
from creditbridge.marketplace.service import workbench as market_workbench
from creditbridge.reference import divisions
from creditbridge.reports import jobs as report_jobs
from creditbridge.scoring.service import workbench as scoring_workbench
from creditbridge.subjects import service as subjects_service

if TYPE_CHECKING:
    from creditbridge.audit.models import AuditChainHead

SHOWN = 5


@dataclass(frozen=True)
class Message:
    """One line of the enterprise's or institution's messages, whichever module sent it."""

    at: datetime
    text: str
    href: str | None = None


@dataclass(frozen=True)
class Home:
    """The template of a role's home and what it shows."""

    template: str
    data: dict[str, Any] = field(default_factory=dict)


def messages_for(session: Session, actor: Actor) -> list[Message]:
    """The newest messages of a person, whichever module sent them: the homes' messages card."""
    market = [
        Message(n.created_at, n.message)
        for n in marketplace_service.list_notifications(session, actor, limit=SHOWN)
    ]
    consent = [
        Message(n.created_at, n.message)
        for n in consent_service.list_notifications(session, actor, limit=SHOWN)
    ]
    # A PDF the worker made (or could not make) for this person, linked to its download.
    reports = [
        Message(n.created_at, n.message, n.href)
        for n in report_jobs.list_notices(session, actor, limit=SHOWN)
    ]
    return sorted(market + consent + reports, key=lambda m: m.at, reverse=True)[:SHOWN]


def _score_chart(history: list[scoring_workbench.ScorePoint]) -> dict[str, Any]:
    # The option scoring.js draws, as on 我的信用评价 (the CSP forbids inline scripts).
    points = [p for p in history if p.score is not None]
    return {
        "history": {
            "tooltip": {"trigger": "axis"},
            "grid": {"left": 8, "right": 16, "top": 16, "bottom": 8, "containLabel": True},
            "xAxis": {
                "type": "category",
                "data": [f"{p.scored_at.astimezone(SHANGHAI):%Y-%m-%d}" for p in points],
            },
            "yAxis": {"type": "value", "scale": True},
            "series": [
                {
                    "type": "line",
                    "data": [p.score for p in points],
                    "itemStyle": {"color": "#0b4aa2"},
                }
            ],
        }
    }


def enterprise_home(session: Session, actor: Actor) -> Home:
    score = scoring_workbench.my_score(session, actor)
    waiting = [
        c
        for c in consent_service.list_for_subject(session, actor)
        if c.status == ConsentStatus.REQUESTED.value
    ]
    desk = market_workbench.enterprise_desk(session, actor)
    institutions = consent_service.institution_names(
        session,
        {c.institution_id for c in waiting} | {a.institution_id for a in desk.applications},
    )
    return Home(
        "home/enterprise.html",
        {
            "score": score,
            "charts": _score_chart(score.history) if len(score.history) > 1 else {},
            "consents": waiting[:SHOWN],
            "consents_waiting": len(waiting),
            "desk": desk,
            "institutions": institutions,
            "messages": messages_for(session, actor),
        },
    )


def officer_home(session: Session, actor: Actor) -> Home:
    return Home(
        "home/officer.html",
        {
            "desk": market_workbench.officer_desk(session, actor, today=local_today()),
            "stages": [s.value for s in AppStatus],
            "messages": messages_for(session, actor),
        },
    )


@dataclass(frozen=True)
class Collection:
    month: str | None
    rate: float | None
    target: float
    met: int
    listed: int
    overdue_providers: int


def _collection(session: Session, settings: Settings, division_code: str | None) -> Collection:
    """The latest month's collection, of the operator's division as its dashboard shows it."""
    months = metrics.list_months(session)
    if not months:
        return Collection(None, None, metrics.TARGET_RATE, 0, 0, 0)
    bar = metrics.CollectionBar.from_settings(settings.collection)
    overview = metrics.get_overview(session, month=months[0], bar=bar, division_code=division_code)
    overdue = metrics.list_overdue(session, month=months[0], division_code=division_code)
    return Collection(
        months[0], overview.rate, overview.target, overview.met, overview.list_size, len(overdue)
    )


def operator_home(session: Session, actor: Actor, settings: Settings) -> Home:
    """The operator's desk. Collection, escalated demands, products, the whitelist and
    registrations are limited to its division as their pages are (issue 23); failed deliveries
    and jobs are the node's own health, which every operator watches."""
    stats = delivery_service.delivery_stats(session)
    return Home(
        "home/operator.html",
        {
            "collection": _collection(session, settings, actor.division_code),
            "deliveries_failed": stats.counts.get("failed", 0),
            "deliveries_dead": stats.counts.get("dead", 0),
            "jobs_failed": jobs_service.count_runs(session, status="failed"),
            "desk": market_workbench.operator_desk(session, actor),
            "registrations": len(access_service.list_pending_registrations(session, actor)),
            "division": actor.division_code,
            "division_name": divisions.name(actor.division_code) if actor.division_code else "",
        },
    )


def provider_home(session: Session, actor: Actor) -> Home:
    desk = ingest_workbench.provider_desk(session, actor, today=local_today())
    names = {d.code: d.name_zh for d in catalog_service.list_datasets(session)}
    return Home("home/provider.html", {"desk": desk, "dataset_names": names})


@dataclass(frozen=True)
class Chain:
    head: AuditChainHead | None
    last_check: audit_workbench.LastCheck | None


def auditor_home(session: Session, actor: Actor) -> Home:
    events = audit_workbench.list_sensitive(session)
    return Home(
        "home/auditor.html",
        {
            "events": [(e, e.content) for e in events],
            "chain": Chain(audit_workbench.get_head(session), audit_workbench.last_check(session)),
        },
    )


def admin_home(session: Session, actor: Actor) -> Home:
    """The desks of the system and the security administrator (三员分立: each its own)."""
    data: dict[str, Any] = {
        "users": access_service.count_users(session, actor),
        "admin_changes": len(access_service.list_admin_changes(session, actor)),
    }
    if actor.has_role(Role.SECURITY_ADMIN):
        data["clients"] = len(access_service.list_clients(session))
        data["flags"] = len(access_service.list_flags(session, actor))
    else:
        stats = delivery_service.delivery_stats(session)
        data["jobs_failed"] = jobs_service.count_runs(session, status="failed")
        data["deliveries_dead"] = stats.counts.get("dead", 0)
    return Home("home/admin.html", data)


def build_home(session: Session, actor: Actor, *, settings: Settings) -> Home:
    """The home of ``actor``'s role."""
    role = actor.role
    if role is Role.ENTERPRISE_USER:
        return enterprise_home(session, actor)
    if role is Role.INSTITUTION_OFFICER:
        return officer_home(session, actor)
    if role is Role.OPERATOR:
        return operator_home(session, actor, settings)
    if role is Role.PROVIDER_USER:
        return provider_home(session, actor)
    if role is Role.AUDIT_ADMIN:
        return auditor_home(session, actor)
    if role in (Role.SYSTEM_ADMIN, Role.SECURITY_ADMIN):
        return admin_home(session, actor)
    raise Forbidden("当前账户没有可用的工作台")


@dataclass(frozen=True)
class Landing:
    """What a visitor sees before login: public totals of the node."""

    subjects: int
    institutions: int
    products: int
    loans: int


def build_landing(session: Session) -> Landing:
    return Landing(
        subjects=subjects_service.count_subjects(session),
        institutions=access_service.count_institutions(session),
        products=marketplace_service.count_products(session),
        loans=marketplace_service.count_loans(session),
    )
