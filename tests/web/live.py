"""A real server on loopback for the tests of concurrency, admission and crashes: a database of
its own (committed rows, unlike the rolled-back one of TestClient tests), uvicorn in a thread or
``creditbridge serve`` in a subprocess, and an HTTP client that logs in through the pages.

Import the fixture into a test module with ``from .live import live_site  # noqa: F401``.
"""

from __future__ import annotations

import re
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import httpx
import pyotp
import pytest
import uvicorn
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import URL
from sqlalchemy.orm import Session

import factories
from creditbridge import migrations
from creditbridge.core.actors import Role
from creditbridge.core.clock import utc_now
from creditbridge.core.config import Settings
from creditbridge.core.db import make_engine
from creditbridge.web.app import create_app

from .helpers import csrf_from
from .seed import seed_sample

PASSWORD = "Correct-Horse-42"


@dataclass(frozen=True)
class LiveSite:
    """A migrated, seeded database that a server may be started on."""

    url: str
    store: str
    enterprise_user: str
    officer: str
    uscc: str

    def settings(self, **changes: object) -> Settings:
        return Settings(database_url=self.url).model_copy(update=changes)


def _postgres_sibling(engine: Engine) -> tuple[URL, URL]:
    """The URL of a database beside the test database (never another engineer's)."""
    base = engine.url
    return base, base.set(database=f"{base.database}_live")


@pytest.fixture(name="live_site")
def live_site_fixture(engine: Engine, tmp_path: Path) -> Iterator[LiveSite]:
    if engine.dialect.name == "sqlite":
        url = f"sqlite:///{tmp_path / 'live.db'}"
        cleanup = None
    else:
        base, sibling = _postgres_sibling(engine)
        admin = create_engine(base, isolation_level="AUTOCOMMIT")
        name = sibling.database
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            connection.execute(text(f'CREATE DATABASE "{name}"'))
        url = sibling.render_as_string(hide_password=False)

        def cleanup() -> None:
            with admin.connect() as connection:
                connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            admin.dispose()

    built = make_engine(url)
    migrations.upgrade(built)
    with Session(built) as session, session.begin():
        sample = seed_sample(session, enterprises=12)
        subject = factories.subject(session)
        factories.account(
            session,
            Role.ENTERPRISE_USER,
            username="live-enterprise",
            password=PASSWORD,
            subject_id=subject.id,
        )
        institution = factories.institution(session)
        factories.account(
            session,
            Role.INSTITUTION_OFFICER,
            username="live-officer",
            password=PASSWORD,
            institution_id=institution.id,
        )
        uscc = subject.uscc
        del sample
    built.dispose()
    try:
        yield LiveSite(
            url=url,
            store=engine.dialect.name,
            enterprise_user="live-enterprise",
            officer="live-officer",
            uscc=uscc,
        )
    finally:
        if cleanup is not None:
            cleanup()


def loopback_socket() -> socket.socket:
    """A listening socket on a free loopback port, handed to the server (no race for the port)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(128)
    return sock


class ThreadedServer:
    """uvicorn serving ``settings``' application in a thread of the test process."""

    def __init__(self, settings: Settings) -> None:
        self.app = create_app(settings)
        self.socket = loopback_socket()
        port = self.socket.getsockname()[1]
        self.base_url = f"http://127.0.0.1:{port}"
        config = uvicorn.Config(self.app, log_level="warning", lifespan="on", timeout_keep_alive=30)
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(
            target=self.server.run, kwargs={"sockets": [self.socket]}, daemon=True
        )

    def __enter__(self) -> ThreadedServer:
        self.thread.start()
        deadline = utc_now() + timedelta(seconds=20)
        while not self.server.started:
            assert self.thread.is_alive(), "the server thread died at start-up"
            assert utc_now() < deadline, "the server did not start"
            threading.Event().wait(0.02)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=30)
        self.socket.close()
        self.app.state.engine.dispose()


def log_in(client: httpx.Client, username: str) -> str:
    """Log ``client`` in through the pages (enrolling TOTP where the role needs it); returns the
    session's form token."""
    form = client.get("/login")
    response = client.post(
        "/login",
        data={
            "username": username,
            "password": PASSWORD,
            "next": "/account",
            "csrf_token": csrf_from(form.text),
        },
    )
    assert response.status_code == 303, response.text
    if "/login/totp" in response.headers["location"]:
        enrol = client.get("/login/totp")
        found = re.search(r'data-testid="totp-secret">([A-Z2-7]+)<', enrol.text)
        assert found, "no TOTP secret on the enrolment page"
        done = client.post(
            "/login/totp",
            data={
                "code": pyotp.TOTP(found.group(1)).now(),
                "next": "/account",
                "csrf_token": csrf_from(enrol.text),
            },
        )
        assert done.status_code == 303, done.text
    account = client.get("/account")
    assert account.status_code == 200, account.text
    return csrf_from(account.text)
