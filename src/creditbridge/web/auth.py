"""Who is asking: login sessions for pages, signatures for the API, CSRF tokens for forms.

For route handlers::

    from creditbridge.web.auth import CurrentActor, SignedClient, require_roles

    @router.get("/things")
    def things(actor: CurrentActor): ...                      # any logged-in user

    @router.post("/things", dependencies=[Depends(require_roles(Role.OPERATOR))])
    ...

    @router.get("/api/v1/things")
    def api_things(client: SignedClient): ...                 # a signed API request

In templates, every form carries ``{{ csrf_field() }}``; htmx requests send the same token in the
``X-CSRF-Token`` header (set once on ``<body hx-headers>`` in the layout).

The session and the institution's status are read on every request, in a short transaction of
their own, so that a suspension, a revocation or a disabled account bites on the very next request
(等保 2.0 §8.1.4), and the last-seen time is committed whatever the page then does.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable
from typing import Annotated, Any, Final
from urllib.parse import quote

import jinja2
from fastapi import Depends, FastAPI, Request
from fastapi.responses import RedirectResponse, Response
from markupsafe import Markup, escape
from sqlalchemy.orm import Session, sessionmaker
from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from creditbridge.access import service as access_service
from creditbridge.access.errors import (
    CsrfFailed,
    SignatureInvalid,
    StaleRequest,
    Unauthenticated,
    UnknownKey,
)
from creditbridge.core import crypto
from creditbridge.core.actors import Actor, Role
from creditbridge.core.clock import utc_now
from creditbridge.core.config import Settings
from creditbridge.core.errors import DomainError, Forbidden
from creditbridge.presentation.templating import environment
from creditbridge.web.errors import domain_error, is_api_request

SESSION_COOKIE: Final = "cb_session"
ANON_COOKIE: Final = "cb_anon"
CSRF_FIELD: Final = "csrf_token"
CSRF_HEADER: Final = "X-CSRF-Token"
SAFE_METHODS: Final = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})
_STATE_ACTOR: Final = "cb_actor"
_STATE_COOKIES: Final = "cb_set_cookies"


def _state(request: Request) -> dict[str, Any]:
    # Request.state is a view of this dict; the cookie middleware reads it from the scope.
    state: dict[str, Any] = request.scope.setdefault("state", {})
    return state


def _sessionmaker(request: Request) -> sessionmaker[Session]:
    factory: sessionmaker[Session] = request.app.state.sessionmaker
    return factory


def client_ip(request: Request) -> str | None:
    return request.client.host if request.client else None


def _secure(request: Request) -> bool:
    return request.url.scheme == "https"


def queue_cookie(request: Request, name: str, value: str, *, max_age: int | None = None) -> None:
    """A Set-Cookie added to whatever response this request ends with (HttpOnly, SameSite=Lax,
    Secure over https), by :class:`AuthCookieMiddleware`."""
    parts = [f"{name}={value}", "Path=/", "HttpOnly", "SameSite=Lax"]
    if max_age is not None:
        parts.append(f"Max-Age={max_age}")
    if _secure(request):
        parts.append("Secure")
    cookies: list[str] = _state(request).setdefault(_STATE_COOKIES, [])
    cookies.append("; ".join(parts))


def clear_cookie(request: Request, name: str) -> None:
    queue_cookie(request, name, "", max_age=0)


class AuthCookieMiddleware:
    """Writes the cookies that dependencies queued with :func:`queue_cookie`, on any response
    (a redirect or an error page included)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_cookies(message: Message) -> None:
            if message["type"] == "http.response.start":
                for cookie in scope.get("state", {}).get(_STATE_COOKIES, []):
                    message.setdefault("headers", []).append(
                        (b"set-cookie", cookie.encode("latin-1"))
                    )
            await send(message)

        await self.app(scope, receive, send_with_cookies)


# --- Sessions --------------------------------------------------------------------------------


def _active_session(request: Request) -> access_service.ActiveSession | None:
    state = _state(request)
    if _STATE_ACTOR in state:
        cached: access_service.ActiveSession | None = state[_STATE_ACTOR]
        return cached
    token = request.cookies.get(SESSION_COOKIE, "")
    active = None
    if token:
        with _sessionmaker(request)() as db, db.begin():
            active = access_service.resolve_session(
                db, token=token, ip=client_ip(request), settings=request.app.state.settings
            )
    state[_STATE_ACTOR] = active
    return active


def get_actor(request: Request) -> Actor | None:
    """The logged-in user of this request, or None (no, expired or refused session)."""
    active = _active_session(request)
    return active.actor if active is not None else None


class LoginRequired(Unauthenticated):
    """Raised by :func:`require_login` for a page request: answered with a redirect to /login."""


def require_login(request: Request) -> Actor:
    """The logged-in actor; pages without one redirect to ``/login?next=…``, the API gets 401."""
    actor = get_actor(request)
    if actor is None:
        raise LoginRequired("请先登录")
    return actor


def require_roles(*roles: Role) -> Callable[[Request], Actor]:
    """A dependency that admits only actors holding one of ``roles`` (403 otherwise)."""

    def dependency(request: Request) -> Actor:
        actor = require_login(request)
        if not actor.has_role(*roles):
            raise Forbidden("当前角色无权访问此页面")
        return actor

    dependency.__name__ = "require_" + "_or_".join(role.value for role in roles)
    # Read by the menus and the reachability test: which roles may open a page is declared once,
    # here, and the navigation is derived from it rather than kept in step by hand.
    dependency.roles = frozenset(roles)  # type: ignore[attr-defined]
    return dependency


CurrentActor = Annotated[Actor, Depends(require_login)]


def login_required_handler(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, DomainError)
    if is_api_request(request) or request.method not in SAFE_METHODS:
        return domain_error(request, exc)
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    if request.headers.get("HX-Request") == "true":
        response = Response(status_code=401)
        response.headers["HX-Redirect"] = "/login?next=" + quote(target, safe="")
        return response
    return RedirectResponse("/login?next=" + quote(target, safe=""), status_code=303)


# --- Signed API requests ---------------------------------------------------------------------


# The cheap checks of access_service.authenticate_request, repeated so that a request it would
# refuse anyway is refused before its body is read (an unsigned 200 MB POST once cost the
# server 240 MB before its 401); authenticate_request stays the authority and checks them again.
_NONCE: Final = re.compile(r"^[A-Za-z0-9_\-.:]{8,128}$")


def _signature_headers(request: Request) -> dict[str, str]:
    return {key.lower(): value for key, value in request.headers.items()}


def check_signature_headers(request: Request) -> None:
    """Refuse, without reading the body, a request whose signature headers are missing or
    malformed, stale, or name no known key."""
    headers = _signature_headers(request)
    settings: Settings = request.app.state.settings
    missing = [name for name in access_service.SIGNATURE_HEADERS if not headers.get(name)]
    if missing:
        raise SignatureInvalid("缺少签名请求头：" + ", ".join(missing))
    moment = access_service.parse_timestamp(headers["x-cb-timestamp"])
    if moment is None:
        raise SignatureInvalid("X-CB-Timestamp 应为 RFC 3339 时间或 Unix 秒数")
    if abs((utc_now() - moment).total_seconds()) > settings.signature_skew_seconds:
        raise StaleRequest(f"请求时间与服务器相差超过 {settings.signature_skew_seconds} 秒")
    if not _NONCE.fullmatch(headers["x-cb-nonce"]):
        raise SignatureInvalid("X-CB-Nonce 应为 8–128 位字母、数字或 _-.:")
    with _sessionmaker(request)() as db:
        known = access_service.get_client_by_key_id(db, headers["x-cb-key-id"][:64]) is not None
        db.rollback()
    if not known:
        raise UnknownKey("未知的密钥编号")


async def signed_body(
    request: Request, _headers_checked: Annotated[None, Depends(check_signature_headers)]
) -> bytes:
    """The body of a request whose signature headers passed; BodyLimitMiddleware refuses it
    (413) once it is larger than the route admits."""
    return await request.body()


def require_signed_client(request: Request, body: Annotated[bytes, Depends(signed_body)]) -> Actor:
    """The API client that signed this request (see docs/api-authentication.md).

    Runs its own transaction and commits the nonce and the rate count before the handler runs,
    so that a nonce cannot be replayed even when the handler then fails.
    """
    with _sessionmaker(request)() as db:
        try:
            actor = access_service.authenticate_request(
                db,
                method=request.method,
                path=request.url.path,
                query=request.url.query,
                headers=_signature_headers(request),
                body=body,
                ip=client_ip(request),
                settings=request.app.state.settings,
            )
        except DomainError:
            db.commit()  # the nonce and the count stand even for a refused request
            raise
        db.commit()
    return actor


SignedClient = Annotated[Actor, Depends(require_signed_client)]


# --- CSRF ------------------------------------------------------------------------------------


def _anon_token(request: Request, settings: Settings) -> str:
    """Before login there is no session: the token is an HMAC of a random cookie (login CSRF)."""
    state = _state(request)
    value = request.cookies.get(ANON_COOKIE) or state.get(ANON_COOKIE)
    if not value or len(value) > 100:
        value = secrets.token_urlsafe(24)
        state[ANON_COOKIE] = value
        queue_cookie(request, ANON_COOKIE, value)
    mac = crypto.hmac_sm3(settings.secret_key_bytes(), f"csrf:{value}".encode())
    return mac.hex()


def csrf_token(request: Request) -> str:
    """The synchronizer token of this request's session (or of the anonymous visitor)."""
    active = _active_session(request)
    if active is not None:
        return active.csrf_token
    return _anon_token(request, request.app.state.settings)


async def verify_csrf(request: Request) -> None:
    """Refuse an unsafe page request without the session's token (the API uses signatures)."""
    if request.method in SAFE_METHODS or is_api_request(request):
        return
    sent = request.headers.get(CSRF_HEADER, "")
    if not sent:
        content_type = request.headers.get("content-type", "")
        if content_type.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
            form = await request.form()
            value = form.get(CSRF_FIELD)
            sent = value if isinstance(value, str) else ""
    # The form is read above on the event loop; the session lookups below query the database and
    # go to a worker thread. Run here, on the loop, they froze the whole worker once 16 form
    # posts waited for a pool connection that only the loop could give back.
    expected = await run_in_threadpool(_expected_csrf_token, request)
    if not sent or not crypto.constant_time_equal(sent.encode(), expected.encode()):
        raise CsrfFailed("表单已失效或来源不明，请刷新页面后重试")


def _expected_csrf_token(request: Request) -> str:
    # A pending login (between password and code) has no actor yet: use the pending session's
    # token, carried in the same cookie.
    return csrf_token(request) if _active_session(request) else _pending_or_anon(request)


def _pending_or_anon(request: Request) -> str:
    token = request.cookies.get(SESSION_COOKIE, "")
    if token:
        with _sessionmaker(request)() as db:
            pending = access_service.pending_user(db, token, settings=request.app.state.settings)
            expected = pending[0].csrf_token if pending is not None else None
            db.rollback()
        if expected is not None:
            return expected
    return _anon_token(request, request.app.state.settings)


def form_token(request: Request) -> str:
    """The token a form on this page must send back (session, pending login, or anonymous)."""
    if _active_session(request) is not None:
        return csrf_token(request)
    return _pending_or_anon(request)


@jinja2.pass_context
def _csrf_token_global(context: jinja2.runtime.Context) -> str:
    return form_token(context["request"])


@jinja2.pass_context
def _csrf_field_global(context: jinja2.runtime.Context) -> Markup:
    token = form_token(context["request"])
    # The token is escaped; the field name is our constant.
    return Markup(f'<input type="hidden" name="{CSRF_FIELD}" value="{escape(token)}">')  # noqa: S704


@jinja2.pass_context
def _current_actor_global(context: jinja2.runtime.Context) -> Any:
    return _active_session(context["request"])


environment.globals.update(
    csrf_token=_csrf_token_global,
    csrf_field=_csrf_field_global,
    current_session=_current_actor_global,
)


CSRF_DEPENDENCY: Final = Depends(verify_csrf)
"""Given to ``FastAPI(dependencies=[...])`` so every route, of every module, checks CSRF."""


def install(app: FastAPI) -> None:
    """Wire authentication into the application: cookie writing and the login redirect."""
    app.add_middleware(AuthCookieMiddleware)
    app.add_exception_handler(LoginRequired, login_required_handler)
