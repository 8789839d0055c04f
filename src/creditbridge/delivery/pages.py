"""Pages of webhooks, in the institution's area: its endpoints and a form to register one (the
signing secret shown once, on the response to that form), and one endpoint with its deliveries —
a test event, retry of a failed delivery, replay of a period, disable and enable.

Officers of the institution see; its officer-administrator manages (the service decides, the pages
only hide what it would refuse). Operators and system administrators see every institution's
endpoints, which the operator's deliveries page links to. Handlers parse the form, call one
service, and render or redirect."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Annotated, Final
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Form, Path, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.orm import Session

from creditbridge.access import service as access_service
from creditbridge.core import types
from creditbridge.core.actors import Actor, Role
from creditbridge.core.clock import SHANGHAI, utc_now
from creditbridge.core.config import Settings
from creditbridge.core.errors import Forbidden, ValidationFailed
from creditbridge.delivery import domain, service
from creditbridge.presentation import i18n
from creditbridge.presentation.errors import keyed
from creditbridge.web.auth import require_roles
from creditbridge.web.deps import ReadSession, WriteSession
from creditbridge.web.templating import language, render

router = APIRouter(include_in_schema=False)

Id = Annotated[types.Id, Path()]
Viewer = Annotated[
    Actor,
    Depends(require_roles(Role.INSTITUTION_OFFICER, Role.OPERATOR, Role.SYSTEM_ADMIN)),
]
StatusFilter = Annotated[str, Query(max_length=16)]
LOCAL_MINUTE: Final = "%Y-%m-%dT%H:%M"


def _redirect(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)


def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def _status(value: str) -> str | None:
    return value if value in domain.DELIVERY_STATUSES else None


def _institution_names(session: Session, actor: Actor) -> dict[int, str] | None:
    """Names of every institution for the platform's staff, who see all endpoints; None for an
    officer, who sees only its own."""
    if actor.institution_id is not None:
        return None
    return {i.id: i.name for i in access_service.list_institutions(session)}


# --- The institution's endpoints ------------------------------------------------------------


@dataclass
class EndpointForm:
    url: str = ""
    topics: list[str] = field(default_factory=lambda: ["consent.*"])
    patterns: str = ""
    scheme: str = "hmac-sha256"
    description: str = ""


def _endpoints_page(
    request: Request,
    session: Session,
    actor: Actor,
    *,
    added: service.AddedEndpoint | None = None,
    form: EndpointForm | None = None,
    form_error: ValidationFailed | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    institution_id = actor.institution_id
    return render(
        request,
        "delivery/endpoints.html",
        status_code=status_code,
        endpoints=service.list_endpoints(session, actor, institution_id=institution_id),
        institutions=_institution_names(session, actor),
        # Staff register endpoints for an institution at the console; the form is the officer's.
        can_manage=institution_id is not None
        and service.may_manage(session, actor, institution_id),
        topics=domain.TOPICS,
        schemes=domain.SCHEMES,
        form=form or EndpointForm(),
        form_error=form_error,
        added=added,
    )


@router.get("/institution/webhooks", name="delivery:endpoints")
def endpoints(request: Request, session: ReadSession, actor: Viewer) -> HTMLResponse:
    return _endpoints_page(request, session, actor)


@router.post("/institution/webhooks", name="delivery:endpoint_add")
def endpoint_add(
    request: Request,
    session: WriteSession,
    actor: Viewer,
    url: Annotated[str, Form(max_length=2000)],
    topics: Annotated[list[str], Form(max_length=8)] = [],  # noqa: B006 - FastAPI copies defaults
    patterns: Annotated[str, Form(max_length=500)] = "",
    scheme: Annotated[str, Form(max_length=16)] = "hmac-sha256",
    description: Annotated[str, Form(max_length=200)] = "",
) -> HTMLResponse:
    if actor.institution_id is None:
        # The platform's staff register endpoints for an institution at the console.
        raise keyed(Forbidden, "error.webhook.form_no_institution")
    form = EndpointForm(url.strip(), topics, patterns, scheme, description.strip())
    events = [*topics, *(p.strip() for p in patterns.replace("，", ",").split(",") if p.strip())]
    try:
        added = service.add_endpoint(
            session,
            actor,
            institution_id=actor.institution_id,
            url=form.url,
            events=events,
            scheme=scheme,
            description=form.description,
            settings=_settings(request),
        )
    except ValidationFailed as refused:
        # Shown beside the form with what was typed; nothing of the refused endpoint is kept.
        session.rollback()
        return _endpoints_page(
            request, session, actor, form=form, form_error=refused, status_code=422
        )
    # The secret is on this response only: the platform keeps it sealed and never shows it again.
    return _endpoints_page(request, session, actor, added=added)


# --- One endpoint and its deliveries --------------------------------------------------------


def _local_minute(moment: datetime) -> str:
    return moment.astimezone(SHANGHAI).strftime(LOCAL_MINUTE)


def _notice(
    lang: i18n.Language, *, done: str, replayed: int | None, retried: int | None
) -> str | None:
    if replayed is not None:
        return i18n.translate(lang, "webhook.replayed", n=replayed)
    if retried is not None:
        return i18n.translate(lang, "webhook.retried", id=retried)
    notices = {
        "test": "webhook.test_queued",
        "disabled": "webhook.disabled_now",
        "enabled": "webhook.enabled_now",
    }
    return i18n.translate(lang, notices[done]) if done in notices else None


@router.get("/institution/webhooks/{endpoint_id}", name="delivery:endpoint")
def endpoint_detail(
    request: Request,
    session: ReadSession,
    actor: Viewer,
    endpoint_id: Id,
    status: StatusFilter = "",
    done: Annotated[str, Query(max_length=16)] = "",
    replayed: Annotated[int | None, Query(ge=0)] = None,
    retried: Annotated[types.Id | None, Query()] = None,
) -> HTMLResponse:
    endpoint = service.get_endpoint(session, actor, endpoint_id)
    names = _institution_names(session, actor)
    # The replay form starts on today's Beijing day, to this minute.
    now = utc_now()
    midnight = now.astimezone(SHANGHAI).replace(hour=0, minute=0, second=0, microsecond=0)
    return render(
        request,
        "delivery/endpoint.html",
        endpoint=endpoint,
        institution_name=names.get(endpoint.institution_id) if names else None,
        can_manage=service.may_manage(session, actor, endpoint.institution_id),
        deliveries=service.list_deliveries(
            session, actor, endpoint_id=endpoint.id, status=_status(status)
        ),
        statuses=domain.DELIVERY_STATUSES,
        status=_status(status) or "",
        notice=_notice(language(request), done=done, replayed=replayed, retried=retried),
        replay_since=_local_minute(midnight),
        replay_until=_local_minute(now + timedelta(minutes=1)),
    )


def _back(request: Request, endpoint_id: int, **query: str | int) -> RedirectResponse:
    path = request.url_for("delivery:endpoint", endpoint_id=endpoint_id).path
    return _redirect(path + ("?" + urlencode(query) if query else ""))


@router.post("/institution/webhooks/{endpoint_id}/test", name="delivery:endpoint_test")
def endpoint_test(
    request: Request, session: WriteSession, actor: Viewer, endpoint_id: Id
) -> Response:
    service.queue_test_event(session, actor, endpoint_id)
    return _back(request, endpoint_id, done="test")


@router.post("/institution/webhooks/{endpoint_id}/disable", name="delivery:endpoint_disable")
def endpoint_disable(
    request: Request,
    session: WriteSession,
    actor: Viewer,
    endpoint_id: Id,
    reason: Annotated[str, Form(max_length=500)],
) -> Response:
    service.disable_endpoint(session, actor, endpoint_id, reason=reason.strip())
    return _back(request, endpoint_id, done="disabled")


@router.post("/institution/webhooks/{endpoint_id}/enable", name="delivery:endpoint_enable")
def endpoint_enable(
    request: Request, session: WriteSession, actor: Viewer, endpoint_id: Id
) -> Response:
    service.enable_endpoint(session, actor, endpoint_id)
    return _back(request, endpoint_id, done="enabled")


def _moment(value: str) -> datetime:
    """A ``datetime-local`` value (``2026-12-06T09:30``), typed in Beijing time, as UTC."""
    try:
        local = datetime.fromisoformat(value.strip())
    except ValueError:
        raise keyed(ValidationFailed, "error.webhook.form_datetime") from None
    if local.tzinfo is None:
        local = local.replace(tzinfo=SHANGHAI)
    return local.astimezone(UTC)


@router.post("/institution/webhooks/{endpoint_id}/replay", name="delivery:endpoint_replay")
def endpoint_replay(
    request: Request,
    session: WriteSession,
    actor: Viewer,
    endpoint_id: Id,
    since: Annotated[str, Form(max_length=32)],
    until: Annotated[str, Form(max_length=32)],
) -> Response:
    count = service.replay(
        session,
        actor,
        endpoint_id=endpoint_id,
        since=_moment(since),
        until=_moment(until),
    )
    return _back(request, endpoint_id, replayed=count)


@router.post(
    "/institution/webhooks/{endpoint_id}/deliveries/{delivery_id}/retry",
    name="delivery:delivery_retry",
)
def delivery_retry(
    request: Request,
    session: WriteSession,
    actor: Viewer,
    endpoint_id: Id,
    delivery_id: Id,
) -> Response:
    retried = service.retry_delivery(session, actor, delivery_id)
    # Back to the endpoint the delivery belongs to, whichever the form was posted from.
    return _back(request, retried.endpoint_id, retried=delivery_id)
