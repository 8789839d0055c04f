"""Admission limits (issue 22, point 2): PDFs rendered in a bounded pool of processes, admitted
or refused at once, dropped when their client has gone; requests in flight capped per worker;
an exhausted database pool answered 503, never 500."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine, create_engine, func, select
from sqlalchemy.orm import Session
from starlette.types import Receive, Scope, Send

from creditbridge.core.actors import Role
from creditbridge.core.errors import Busy
from creditbridge.reports import rendering
from creditbridge.reports.models import ReportIssuance
from creditbridge.web.admission import InFlightLimitMiddleware
from creditbridge.web.app import create_app

from .conftest import LoggedIn, settings_for

SIMPLE_HTML = "<html><body><h1>信用报告 test</h1></body></html>"


@pytest.fixture
def pdf_cache_cleared() -> Iterator[None]:
    rendering.pdf_cache.clear()
    yield
    rendering.pdf_cache.clear()


def _issuances(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(ReportIssuance)) or 0


# --- PDF renders ---------------------------------------------------------------------------------


class TestPdfAdmission:
    def test_a_pdf_past_the_render_cap_is_refused_503_busy_and_nothing_is_issued(
        self,
        app: FastAPI,
        client: TestClient,
        session: Session,
        login_as: Callable[..., LoggedIn],
    ) -> None:
        owner = login_as(Role.ENTERPRISE_USER)
        slots: threading.Semaphore = app.state.pdf_slots
        taken = 0
        while slots.acquire(blocking=False):  # every render slot busy
            taken += 1
        before = _issuances(session)
        try:
            refused = client.post("/me/report/pdf", data={"csrf_token": owner.csrf})
        finally:
            for _ in range(taken):
                slots.release()

        assert taken == app.state.settings.max_pdf_renders
        assert refused.status_code == 503
        assert refused.headers["retry-after"].isdigit()
        assert Busy.code in refused.text
        assert _issuances(session) == before

        admitted = client.post("/me/report/pdf", data={"csrf_token": owner.csrf})
        assert admitted.status_code == 200
        assert admitted.content.startswith(b"%PDF")

    def test_pdfs_are_rendered_in_another_process(self, pdf_cache_cleared: None) -> None:
        pdf = rendering.html_to_pdf(SIMPLE_HTML)

        assert pdf.startswith(b"%PDF")
        renderer_pid = rendering.renderers.run(os.getpid).result(timeout=60)
        assert renderer_pid != os.getpid()

    def test_a_render_for_a_client_that_left_is_never_submitted(
        self, monkeypatch: pytest.MonkeyPatch, pdf_cache_cleared: None
    ) -> None:
        submitted: list[str] = []
        monkeypatch.setattr(
            rendering.renderers, "run", lambda function, html: submitted.append(html)
        )
        token = rendering.client_gone.set(lambda: True)
        try:
            with pytest.raises(rendering.ClientGone):
                rendering.html_to_pdf(SIMPLE_HTML)
        finally:
            rendering.client_gone.reset(token)

        assert submitted == []

    def test_a_render_finished_after_its_client_left_is_thrown_away(
        self, pdf_cache_cleared: None
    ) -> None:
        calls = iter([False, True])  # still there at submission, gone when the PDF is ready
        token = rendering.client_gone.set(lambda: next(calls, True))
        try:
            with pytest.raises(rendering.ClientGone):
                rendering.html_to_pdf(SIMPLE_HTML + "<p>gone</p>")
        finally:
            rendering.client_gone.reset(token)

        # Nobody received it, so nothing is kept either.
        assert rendering.pdf_cache.get(rendering.pdf_key(SIMPLE_HTML + "<p>gone</p>")) is None

    def test_the_same_issued_html_is_rendered_once(
        self, monkeypatch: pytest.MonkeyPatch, pdf_cache_cleared: None
    ) -> None:
        first = rendering.html_to_pdf(SIMPLE_HTML)

        def never(function: object, html: str) -> Any:
            raise AssertionError("rendered again")

        monkeypatch.setattr(rendering.renderers, "run", never)
        assert rendering.html_to_pdf(SIMPLE_HTML) == first
        with pytest.raises(AssertionError, match="rendered again"):
            rendering.html_to_pdf(SIMPLE_HTML.replace("test", "another report number"))


# --- requests in flight ----------------------------------------------------------------------------


def test_requests_past_the_in_flight_cap_are_refused_but_healthz_is_not() -> None:
    release = asyncio.Event()

    async def slow(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["path"] == "/slow":
            await release.wait()
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})

    limited = InFlightLimitMiddleware(slow, limit=1)

    async def scenario() -> tuple[int, httpx.Response, httpx.Response, httpx.Response, int]:
        transport = httpx.ASGITransport(app=limited)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            first = asyncio.create_task(client.get("/slow"))
            while limited.in_flight == 0:
                await asyncio.sleep(0)
            page = await client.get("/catalog")
            api = await client.get("/api/v1/catalog")
            health = await client.get("/healthz")
            release.set()
            done = await first
            return done.status_code, page, api, health, limited.in_flight

    # On a thread of its own: the browser tests' Playwright keeps an event loop running on the main
    # thread, and asyncio.run refuses to nest inside one.
    with ThreadPoolExecutor(max_workers=1) as runner:
        first, page, api, health, left = runner.submit(asyncio.run, scenario()).result()

    assert first == 200
    assert page.status_code == api.status_code == 503
    assert page.headers["retry-after"] == api.headers["retry-after"] == "2"
    assert "CB-BUSY" in page.text
    assert api.headers["content-type"] == "application/problem+json"
    assert api.json()["code"] == "CB-BUSY"
    assert health.status_code == 200
    assert left == 0


def test_the_app_caps_requests_in_flight(engine: Engine) -> None:
    app = create_app(settings_for(engine).model_copy(update={"max_in_flight": 7}), engine=engine)
    caps = [m.kwargs.get("limit") for m in app.user_middleware if m.cls is InFlightLimitMiddleware]
    assert caps == [7]


# --- the database pool -----------------------------------------------------------------------------


def test_an_exhausted_database_pool_is_answered_503_busy_not_500(engine: Engine) -> None:
    tight = create_engine(engine.url, pool_size=1, max_overflow=0, pool_timeout=0.2)
    app = create_app(settings_for(engine), engine=tight)
    held = tight.connect()  # the pool's one connection, busy elsewhere
    try:
        with TestClient(app, raise_server_exceptions=False) as client:
            page = client.get("/catalog")
            api = client.get("/api/v1/catalog")
    finally:
        held.close()
        tight.dispose()

    assert page.status_code == api.status_code == 503
    assert page.headers["retry-after"] == api.headers["retry-after"]
    assert "CB-BUSY" in page.text
    assert api.json()["code"] == "CB-BUSY"


def test_renderers_end_when_their_server_is_killed() -> None:
    # A server that starts its renderers, says their process ids, and is then SIGKILLed.
    script = (
        "import os, sys, time\n"
        "from creditbridge.reports import rendering\n"
        "pid = rendering.renderers.run(os.getpid).result(timeout=120)\n"
        "print(pid, flush=True)\n"
        "time.sleep(600)\n"
    )
    server = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    assert server.stdout is not None
    renderer = int(server.stdout.readline())
    assert renderer != server.pid
    os.kill(server.pid, signal.SIGKILL)
    server.wait()

    deadline = time.monotonic() + 30  # bounds a hang; the renderer goes within about a second
    while _alive(renderer) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not _alive(renderer)


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().split(")")[-1].split()[0] != "Z"
    except FileNotFoundError:
        return False
