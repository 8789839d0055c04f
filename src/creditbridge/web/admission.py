"""Admission limits of one worker: what it serves at once, and what it refuses (503 with
``Retry-After``, code ``CB-BUSY``) rather than queueing without bound.

* :class:`InFlightLimitMiddleware`: requests in flight (``CREDITBRIDGE_MAX_IN_FLIGHT``). Offered
  200 HTML requests a second, a worker without it served 131 of them, each after ~7 s in the
  queue; a client is better served by a quick 503 and a retry elsewhere or later.
* :func:`pdf_admission`: PDF renders at once (``CREDITBRIDGE_MAX_PDF_RENDERS``), taken without
  waiting; the render itself runs in a process of :mod:`creditbridge.reports.rendering`.
* :func:`pool_exhausted`: no database connection came free within the pool's timeout.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Final

import anyio.from_thread
from fastapi import Request
from fastapi.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from creditbridge.core.errors import Busy
from creditbridge.reports import rendering

log = logging.getLogger(__name__)

RETRY_AFTER_SECONDS: Final = 2
_DRAIN_BYTES: Final = 64 * 1024
# Probes and assets cost nothing and must answer while the worker is saturated.
_EXEMPT_PATHS: Final = frozenset({"/healthz"})
_EXEMPT_PREFIXES: Final = ("/static/",)


def _busy_body(path: str) -> tuple[bytes, bytes]:
    if path.startswith("/api/"):
        error = Busy()
        body = {**error.problem(), "instance": path}
        return json.dumps(body, ensure_ascii=False).encode(), b"application/problem+json"
    # Kept plain: shedding load must cost less than the page it refuses.
    page = (
        "<!doctype html><meta charset=utf-8><title>系统繁忙 Busy</title>"
        "<h1>系统繁忙，请稍后重试</h1><p>The platform is busy; try again in a few seconds.</p>"
        f"<p><small>{Busy.code}</small></p>"
    )
    return page.encode(), b"text/html; charset=utf-8"


class InFlightLimitMiddleware:
    """Answers 503 (``CB-BUSY``, ``Retry-After``) to a request that arrives while ``limit`` are in
    flight in this worker. ``/healthz`` and static files are never refused.

    Pure ASGI (no BaseHTTPMiddleware): the count is taken and given back around the whole
    response, streaming bodies included, on the event loop's thread, so it needs no lock.
    """

    def __init__(self, app: ASGIApp, *, limit: int) -> None:
        self.app = app
        self.limit = limit
        self.in_flight = 0
        self.refused = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or _exempt(scope["path"]):
            await self.app(scope, receive, send)
            return
        if self.in_flight >= self.limit:
            self.refused += 1
            await _drain(receive)
            body, media_type = _busy_body(scope["path"])
            await send(
                {
                    "type": "http.response.start",
                    "status": Busy.status_code,
                    "headers": [
                        (b"content-type", media_type),
                        (b"content-length", str(len(body)).encode()),
                        (b"retry-after", str(RETRY_AFTER_SECONDS).encode()),
                        (b"cache-control", b"no-store"),
                    ],
                }
            )
            await send({"type": "http.response.body", "body": body})
            return
        self.in_flight += 1
        try:
            await self.app(scope, receive, send)
        finally:
            self.in_flight -= 1


async def _drain(receive: Receive) -> None:
    """Read a small refused body: closing a connection with unread bytes makes the kernel send a
    reset, and the client then sees "connection reset" instead of the 503. A large body is left
    (uvicorn closes that connection after the answer)."""
    received = 0
    while received <= _DRAIN_BYTES:
        message = await receive()
        received += len(message.get("body", b""))
        if message["type"] != "http.request" or not message.get("more_body", False):
            return


def _exempt(path: str) -> bool:
    return path in _EXEMPT_PATHS or path.startswith(_EXEMPT_PREFIXES)


def _disconnected(request: Request) -> bool:
    """Whether the client of ``request`` has gone; called from a route's worker thread."""
    try:
        return bool(anyio.from_thread.run(request.is_disconnected))
    except RuntimeError:  # not in a worker thread of the event loop (a direct call in a test)
        return False


@contextmanager
def pdf_admission(request: Request) -> Iterator[None]:
    """Around the issuance of a PDF, in the route's worker thread: a render slot taken without
    waiting (:class:`~creditbridge.core.errors.Busy` when none is free), and a render that is
    neither submitted nor kept once the client has disconnected."""
    slots: threading.Semaphore = request.app.state.pdf_slots
    if not slots.acquire(blocking=False):
        raise Busy(retry_after=RETRY_AFTER_SECONDS)
    token = rendering.client_gone.set(lambda: _disconnected(request))
    try:
        if _disconnected(request):
            raise rendering.ClientGone()
        yield
    finally:
        rendering.client_gone.reset(token)
        slots.release()


def pool_exhausted(request: Request, exc: Exception) -> Response:
    """SQLAlchemy's ``TimeoutError``: every connection of the pool stayed busy for the pool's
    timeout. The request was not started, so 503 and a retry, never a 500."""
    log.warning("database pool exhausted serving %s %s", request.method, request.url.path)
    # Not the themed error page: its layout reads the session (for the form token) from the very
    # pool that has no connection to give, and a second timeout there became a 500.
    body, media_type = _busy_body(request.url.path)
    return Response(
        body,
        status_code=Busy.status_code,
        media_type=media_type.decode(),
        headers={"Retry-After": str(RETRY_AFTER_SECONDS), "Cache-Control": "no-store"},
    )
