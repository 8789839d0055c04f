"""The operator's desk of the worker: the jobs' schedule with their last runs and a "run now"
button, the recent runs with their attempts and errors, the outbox's deliveries of every
institution with retry; and ``/metrics`` for Prometheus.

Operators and system administrators only; ``/metrics`` also admits the security and audit
administrators (who watch the platform's health without running it) and a scraper presenting the
configured bearer token. Handlers parse, call one service, render or redirect."""

from __future__ import annotations

from typing import Annotated, Final
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST

from creditbridge.access import service as access_service
from creditbridge.access.errors import Unauthenticated
from creditbridge.core import crypto, types
from creditbridge.core.actors import Actor, Role
from creditbridge.core.clock import utc_now
from creditbridge.core.config import Settings
from creditbridge.core.errors import Forbidden
from creditbridge.delivery import domain as delivery_domain
from creditbridge.delivery import service as delivery_service
from creditbridge.jobs import domain, metrics
from creditbridge.jobs import service as jobs_service
from creditbridge.jobs.registry import REGISTRY
from creditbridge.presentation import i18n
from creditbridge.presentation.errors import keyed
from creditbridge.web.auth import get_actor, require_roles
from creditbridge.web.deps import ReadSession, WriteSession
from creditbridge.web.templating import language, render

router = APIRouter(include_in_schema=False)

Desk = Annotated[Actor, Depends(require_roles(Role.OPERATOR, Role.SYSTEM_ADMIN))]
JobName = Annotated[str, Path(min_length=1, max_length=64)]
Id = Annotated[types.Id, Path()]
RUNS_SHOWN: Final = 50
DELIVERIES_SHOWN: Final = 100
DELIVERY_STATUSES: Final = delivery_domain.DELIVERY_STATUSES
SCRAPERS: Final = (Role.OPERATOR, Role.SYSTEM_ADMIN, Role.SECURITY_ADMIN, Role.AUDIT_ADMIN)


def _redirect(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)


def _choice(value: str, allowed: tuple[str, ...]) -> str | None:
    return value if value in allowed else None


# --- Jobs ------------------------------------------------------------------------------------


@router.get("/operator/jobs", name="jobs:overview")
def overview(
    request: Request,
    session: ReadSession,
    actor: Desk,
    job: Annotated[str, Query(max_length=64)] = "",
    status: Annotated[str, Query(max_length=16)] = "",
    queued: Annotated[types.Id | None, Query()] = None,
) -> HTMLResponse:
    names = tuple(REGISTRY.names())
    runs = jobs_service.list_runs(
        session,
        job=_choice(job, names),
        status=_choice(status, domain.RUN_STATUSES),
        limit=RUNS_SHOWN,
    )
    lang = language(request)
    return render(
        request,
        "jobs/overview.html",
        schedule=jobs_service.schedule_overview(session, REGISTRY, now=utc_now()),
        runs=runs,
        # The attempts of runs that went wrong or were retried; a first-try success says enough.
        attempts={
            run.id: jobs_service.list_attempts(session, run.id)
            for run in runs
            if run.attempts > 1 or run.status in ("failed", "retrying")
        },
        titles={spec.name: i18n.pick(lang, spec.title_zh, spec.title_en) for spec in REGISTRY},
        failed_count=jobs_service.count_runs(session, status="failed"),
        statuses=domain.RUN_STATUSES,
        job=_choice(job, names) or "",
        status=_choice(status, domain.RUN_STATUSES) or "",
        queued=jobs_service.get_run(session, queued) if queued is not None else None,
    )


@router.post("/operator/jobs/{job}/run", name="jobs:run_now")
def run_now(request: Request, session: WriteSession, actor: Desk, job: JobName) -> Response:
    run = jobs_service.run_now(session, actor, job)
    return _redirect(request.url_for("jobs:overview").path + f"?queued={run.id}")


# --- Deliveries of every institution ---------------------------------------------------------


@router.get("/operator/deliveries", name="jobs:deliveries")
def deliveries(
    request: Request,
    session: ReadSession,
    actor: Desk,
    status: Annotated[str, Query(max_length=16)] = "",
    retried: Annotated[types.Id | None, Query()] = None,
) -> HTMLResponse:
    chosen = _choice(status, DELIVERY_STATUSES)
    lang = language(request)
    return render(
        request,
        "jobs/deliveries.html",
        stats=delivery_service.delivery_stats(session),
        deliveries=delivery_service.list_deliveries(
            session, actor, status=chosen, limit=DELIVERIES_SHOWN
        ),
        institutions={i.id: i.name for i in access_service.list_institutions(session)},
        statuses=DELIVERY_STATUSES,
        status=chosen or "",
        notice=i18n.translate(lang, "webhook.retried", id=retried) if retried else None,
    )


@router.post("/operator/deliveries/{delivery_id}/retry", name="jobs:delivery_retry")
def delivery_retry(
    request: Request,
    session: WriteSession,
    actor: Desk,
    delivery_id: Id,
    status: Annotated[str, Query(max_length=16)] = "",
) -> Response:
    delivery_service.retry_delivery(session, actor, delivery_id)
    query: dict[str, str | int] = {"retried": delivery_id}
    if _choice(status, DELIVERY_STATUSES):
        query["status"] = status
    return _redirect(request.url_for("jobs:deliveries").path + "?" + urlencode(query))


# --- /metrics --------------------------------------------------------------------------------


def _authorize_scrape(request: Request) -> None:
    """A bearer token equal to the configured one, or a session of a role that watches the
    platform. A wrong token is refused even when a session would pass: a scraper misconfigured
    must see its own error, not borrow a browser's login."""
    settings: Settings = request.app.state.settings
    scheme, _, presented = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer":
        expected = settings.worker.metrics_token
        if expected and crypto.constant_time_equal(presented.strip().encode(), expected.encode()):
            return
        raise keyed(Unauthenticated, "error.metrics.unauthenticated")
    actor = get_actor(request)
    if actor is None:
        raise keyed(Unauthenticated, "error.metrics.unauthenticated")
    if not actor.has_role(*SCRAPERS):
        raise keyed(Forbidden, "error.metrics.forbidden")


@router.get("/metrics", name="jobs:metrics")
def metrics_text(request: Request, session: ReadSession) -> Response:
    _authorize_scrape(request)
    return Response(
        metrics.exposition(session),
        media_type=CONTENT_TYPE_LATEST,
        # Figures of this instant: a cache serving an old scrape would hide an outage.
        headers={"Cache-Control": "no-store"},
    )
