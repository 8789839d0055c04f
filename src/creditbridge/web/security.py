"""The web edge: security headers on every response, the hosts and proxies believed, the public
address links are built from, and the largest request body each route admits.

The Content-Security-Policy allows only this origin: no CDN, no inline script or style. Pages
therefore keep their JavaScript in static files and pass data to it through
``<script type="application/json">`` blocks or ``data-`` attributes, and set no ``style=""``.

Absolute links never come from the request: a ``Host: evil.example`` header once put
``http://evil.example/verify/…`` into a signed report. They are built from
``CREDITBRIDGE_PUBLIC_BASE_URL``; in production the server answers only the hosts it is
configured for, and ``X-Forwarded-*`` is believed only from ``CREDITBRIDGE_TRUSTED_PROXIES``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import ClassVar, Final
from urllib.parse import urlsplit

from starlette.datastructures import Headers, MutableHeaders
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from creditbridge.core.config import InsecureConfiguration, Settings
from creditbridge.core.errors import DomainError, PlatformError

CONTENT_SECURITY_POLICY: Final = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        # Bootstrap's and Swagger UI's stylesheets draw icons from data: SVGs.
        "img-src 'self' data:",
        "font-src 'self'",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)

SECURITY_HEADERS: Final = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    # frame-ancestors covers current browsers; X-Frame-Options covers older ones still common
    # on government desktops.
    "X-Frame-Options": "DENY",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=(), payment=()",
}

SERVER_HEADER: Final = "CreditBridge"
"""Our own ``Server`` value: naming the framework and its version only helps an attacker pick
an exploit (uvicorn's own header is switched off in :mod:`creditbridge.web.server`)."""

STRICT_TRANSPORT_SECURITY: Final = "max-age=31536000"
# No includeSubDomains: other services of the same government domain may still be plain http.

STATIC_PREFIX: Final = "/static/"
CACHEABLE_PATHS: Final = frozenset(
    {
        "/api/v1/openapi.json",
        "/api/v1/keys",
        "/.well-known/creditbridge/signing-key.pem",
    }
)
"""Dynamic responses that are the same for everyone and hold nothing personal. Every other one
is ``Cache-Control: no-store``: pages carry the reader's name and often an enterprise's data,
and a shared proxy or the browser's disk must not keep them."""


class SecurityHeadersMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        no_store = not path.startswith(STATIC_PREFIX) and path not in CACHEABLE_PATHS
        # The scheme is the client's only where a trusted proxy said so (ProxyHeadersMiddleware
        # runs first); HSTS sent over plain http would be ignored anyway (RFC 6797 §8.1).
        https = scope.get("scheme") == "https"

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in SECURITY_HEADERS.items():
                    headers.setdefault(name, value)
                headers["Server"] = SERVER_HEADER
                if https:
                    headers.setdefault("Strict-Transport-Security", STRICT_TRANSPORT_SECURITY)
                if no_store:
                    headers.setdefault("Cache-Control", "no-store")
            await send(message)

        await self.app(scope, receive, send_with_headers)


# --- Public address, hosts and proxies --------------------------------------------------------


class PublicBaseUrlInvalid(PlatformError):
    """Raised at start-up when ``CREDITBRIDGE_PUBLIC_BASE_URL`` is not ``scheme://host[:port]``."""

    code = "CB-PUBLIC-BASE-URL"


DEVELOPMENT_BASE_URL: Final = str(Settings.model_fields["public_base_url"].default)


def public_origin(settings: Settings) -> str:
    """The node's public address, checked: ``http(s)://host[:port]`` and nothing after it.

    Production refuses the development default: links in signed reports would point at the
    verifier's own machine.
    """
    value = settings.public_base_url.strip()
    parts = urlsplit(value)
    if (
        parts.scheme not in ("http", "https")
        or not parts.hostname
        or parts.path not in ("", "/")
        or parts.query
        or parts.fragment
        or parts.username is not None
    ):
        raise PublicBaseUrlInvalid(
            "CREDITBRIDGE_PUBLIC_BASE_URL 应为 https://主机[:端口]，不带路径 "
            f"(should be scheme://host[:port]): {value!r}"
        )
    origin = f"{parts.scheme}://{parts.netloc}"
    if settings.env == "production" and origin == DEVELOPMENT_BASE_URL:
        raise InsecureConfiguration(
            "生产环境必须设置 CREDITBRIDGE_PUBLIC_BASE_URL，报告核验链接由它生成 "
            "(production needs its public address in CREDITBRIDGE_PUBLIC_BASE_URL)"
        )
    return origin


def _listed(value: str) -> list[str]:
    return [item.strip() for item in value.split(",") if item.strip()]


def allowed_hosts(settings: Settings) -> list[str] | None:
    """The Host header values served, or None for any (development and tests, unless listed)."""
    listed = _listed(settings.allowed_hosts)
    if listed:
        return listed
    if settings.env != "production":
        return None
    host = urlsplit(public_origin(settings)).hostname
    assert host is not None  # public_origin refused a URL without one
    return [host]


def trusted_proxies(settings: Settings) -> list[str]:
    return _listed(settings.trusted_proxies)


# --- Request body limits ---------------------------------------------------------------------


class BodyTooLarge(DomainError):
    """Raised while a request body is read, once it is larger than its route admits."""

    code = "CB-BODY-TOO-LARGE"
    status_code = 413
    title = "请求体过大"
    # The rest of the body stays unread, so the connection cannot carry another request.
    headers: ClassVar[dict[str, str]] = {"Connection": "close"}


class BodyLimitExceeded(StarletteHTTPException):
    """Carries :class:`BodyTooLarge` out of the body read to the error handlers: FastAPI turns
    any other exception raised while it parses a body into a 400, but lets HTTPException by."""

    def __init__(self, limit: int) -> None:
        megabytes = limit / (1024 * 1024)
        size = f"{megabytes:g} MB" if megabytes >= 1 else f"{limit} 字节"
        self.error = BodyTooLarge(
            f"请求体超过此地址允许的 {size}，已拒收 (request body larger than {limit} bytes)"
        )
        super().__init__(413, self.error.message)


class BodyLimitMiddleware:
    """Bounds every request body before the application holds it.

    A declared ``Content-Length`` above the route's limit is refused on the first read, without
    reading a byte; a chunked body is counted as it streams and refused as soon as it passes the
    limit. A route that never reads its body answers as it would (a signed API route refuses a
    bad signature first). Limits are by exact path (uploads); every other path has ``default``.
    """

    def __init__(self, app: ASGIApp, *, default: int, routes: Mapping[str, int]) -> None:
        self.app = app
        self.default = default
        self.routes = dict(routes)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.routes.get(scope["path"], self.default)
        declared = _content_length(scope)
        received = 0
        started = False

        async def limited_receive() -> Message:
            nonlocal received
            # Once the answer is on its way the body no longer matters (a streaming response
            # reads on only to notice a disconnect): let it drain.
            if not started and declared is not None and declared > limit:
                raise BodyLimitExceeded(limit)
            message = await receive()
            if message["type"] == "http.request" and not started:
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyLimitExceeded(limit)
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except BodyLimitExceeded as exc:
            # Normally answered by the error handlers; this is for a read outside their reach.
            if started:
                raise
            await _plain_413(exc, send)


def _content_length(scope: Scope) -> int | None:
    value = Headers(scope=scope).get("content-length")
    if value is None or not value.strip().isdigit():
        return None
    return int(value)


async def _plain_413(exc: BodyLimitExceeded, send: Send) -> None:
    body = json.dumps(exc.error.problem(), ensure_ascii=False).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [
                (b"content-type", b"application/problem+json"),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
