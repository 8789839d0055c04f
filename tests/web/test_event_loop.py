"""Nothing a request waits on blocks the worker's event loop (issue 22, point 1).

A real uvicorn on loopback, a database of its own, real concurrency from threads. The tests
assert outcomes — every request answered, /healthz among them, never a 500 — not timings; the
timeouts below only bound a run that would otherwise hang (the old code froze for minutes).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import timedelta

import httpx
from sqlalchemy import Connection, text

from creditbridge.core.clock import utc_now
from creditbridge.core.db import make_engine

from .helpers import csrf_from
from .live import LiveSite, ThreadedServer, log_in
from .live import live_site_fixture as live_site_fixture  # the live_site fixture

# Bounds a hung run, not a claim about speed (timing goals live in benchmarks/).
HEALTH_TIMEOUT = 5.0


@contextmanager
def write_lock_on_session_rows(site: LiveSite) -> Iterator[Connection]:
    """Another connection holds an uncommitted write that a request's session check must wait for:
    on SQLite the database's write lock, on PostgreSQL the rows of ``access_session``."""
    engine = make_engine(site.url)
    connection = engine.connect()
    try:
        if site.store == "sqlite":
            connection.exec_driver_sql("BEGIN IMMEDIATE")
            connection.exec_driver_sql("UPDATE access_session SET ended_at = ended_at")
        else:
            connection.begin()
            connection.execute(text("SELECT id FROM access_session FOR UPDATE"))
        yield connection
    finally:
        connection.rollback()
        connection.close()
        engine.dispose()


def _make_session_write_due(site: LiveSite) -> None:
    # The session check writes the last-seen time at most once a minute: make it due.
    engine = make_engine(site.url)
    with engine.begin() as connection:
        connection.execute(
            text("UPDATE access_session SET last_seen_at = :at"),
            {"at": utc_now() - timedelta(minutes=5)},
        )
    engine.dispose()


def test_healthz_answers_while_a_form_post_waits_for_a_held_write_lock(
    live_site: LiveSite,
) -> None:
    with (
        ThreadedServer(live_site.settings()) as server,
        httpx.Client(base_url=server.base_url, timeout=60) as browser,
    ):
        token = log_in(browser, live_site.enterprise_user)
        _make_session_write_due(live_site)
        answered: list[int] = []
        with write_lock_on_session_rows(live_site):
            post = threading.Thread(
                target=lambda: answered.append(
                    browser.post("/logout", data={"csrf_token": token}).status_code
                )
            )
            post.start()
            # The post is now waiting for the lock (in a worker thread, not on the loop).
            post.join(timeout=0.5)
            assert post.is_alive(), "the form post did not wait for the held lock"
            with httpx.Client(base_url=server.base_url, timeout=HEALTH_TIMEOUT) as probe:
                health = [probe.get("/healthz") for _ in range(3)]
        post.join(timeout=60)

    assert [response.status_code for response in health] == [200, 200, 200]
    assert not post.is_alive()
    assert answered
    assert answered[0] < 500


def test_sixty_concurrent_form_posts_are_all_answered_and_healthz_keeps_answering(
    live_site: LiveSite,
) -> None:
    # A session cookie that names no session: the CSRF check looks it up (and the pending login)
    # in the database before the login handler runs — the path that froze the worker.
    settings = live_site.settings()
    with ThreadedServer(settings) as server:
        with httpx.Client(base_url=server.base_url, timeout=60) as first:
            form = first.get("/login")
            token = csrf_from(form.text)
            anon = first.cookies["cb_anon"]
        cookies = {"cb_anon": anon, "cb_session": "no-such-session-" + "x" * 20}
        stop = threading.Event()
        health: list[int | str] = []

        def probe() -> None:
            with httpx.Client(base_url=server.base_url, timeout=HEALTH_TIMEOUT) as client:
                while not stop.is_set():
                    try:
                        health.append(client.get("/healthz").status_code)
                    except httpx.TimeoutException:
                        health.append("timeout")
                    stop.wait(0.05)

        def post(index: int) -> int:
            with httpx.Client(base_url=server.base_url, timeout=120, cookies=cookies) as client:
                return client.post(
                    "/login",
                    data={
                        "username": f"nobody{index}",
                        "password": "wrong-password-1",
                        "next": "/account",
                        "csrf_token": token,
                    },
                ).status_code

        prober = threading.Thread(target=probe)
        prober.start()
        try:
            with ThreadPoolExecutor(max_workers=60) as pool:
                statuses = list(pool.map(post, range(60)))
        finally:
            stop.set()
            prober.join(timeout=30)

    assert len(statuses) == 60
    assert all(status < 500 or status == 503 for status in statuses), statuses
    assert health
    assert set(health) == {200}, health
