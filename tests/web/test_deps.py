"""Request sessions: a read session never keeps anything; a write session commits before the
response is sent, so a commit that fails is answered with an error, never with a 200."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Annotated

import pytest
from fastapi import Depends, FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from creditbridge.ingest.models import Provider
from creditbridge.web.deps import ReadSession, WriteSession, get_write_session

from .helpers import csrf_from

CREATED = datetime(2026, 1, 1, tzinfo=UTC)


def _provider(code: str) -> Provider:
    return Provider(
        code=code, name=code, kind="department", division_code="340000", created_at=CREATED
    )


def _count(session: Session, code: str) -> int:
    return (
        session.scalar(select(func.count()).select_from(Provider).where(Provider.code == code)) or 0
    )


# The hazard WriteSession's scope="function" exists for: the same dependency in FastAPI's default
# "request" scope commits only after the response has gone out.
LateWriteSession = Annotated[Session, Depends(get_write_session, scope="request")]


@pytest.fixture
def writing(app: FastAPI) -> Iterator[TestClient]:
    def create(code: str, session: WriteSession) -> dict[str, str]:
        session.add(_provider(code))
        return {"created": code}

    def create_then_fail(code: str, session: WriteSession) -> dict[str, str]:
        session.add(_provider(code))
        session.flush()
        raise RuntimeError("the handler failed after writing")

    def create_late(code: str, session: LateWriteSession) -> dict[str, str]:
        session.add(_provider(code))
        return {"created": code}

    def touch(code: str, session: ReadSession) -> dict[str, str]:
        session.add(_provider(code))
        session.flush()
        return {"touched": code}

    app.add_api_route("/test/providers/{code}", create, methods=["POST"])
    app.add_api_route("/test/providers/{code}/fail", create_then_fail, methods=["POST"])
    app.add_api_route("/test/providers/{code}/late", create_late, methods=["POST"])
    app.add_api_route("/test/providers/{code}/read", touch, methods=["POST"])
    with TestClient(app, raise_server_exceptions=False) as client:
        # These routes are pages: every unsafe request needs the CSRF token (see web.auth).
        client.headers["X-CSRF-Token"] = csrf_from(client.get("/login").text)
        yield client


def test_write_session_commits_when_the_handler_returns(
    writing: TestClient, session: Session
) -> None:
    response = writing.post("/test/providers/p-new")

    assert response.status_code == 200
    assert _count(session, "p-new") == 1


def test_failing_commit_is_an_error_response_not_a_200(
    writing: TestClient, session: Session
) -> None:
    session.add(_provider("p-dup"))
    session.flush()

    # The duplicate code is only found when the commit flushes, after the handler returned.
    response = writing.post("/test/providers/p-dup")

    assert response.status_code == 500
    assert response.headers["content-type"].startswith("text/html")
    assert "created" not in response.text
    assert _count(session, "p-dup") == 1


def test_request_scope_would_have_answered_200_for_a_lost_write(
    writing: TestClient, session: Session
) -> None:
    session.add(_provider("p-late"))
    session.flush()

    response = writing.post("/test/providers/p-late/late")

    # Pinned so that a FastAPI upgrade that changes this shows up here: the 200 went out before
    # the commit failed, which is why WriteSession uses scope="function".
    assert response.status_code == 200
    assert _count(session, "p-late") == 1


def test_write_session_rolls_back_when_the_handler_raises(
    writing: TestClient, session: Session
) -> None:
    response = writing.post("/test/providers/p-fail/fail")

    assert response.status_code == 500
    assert _count(session, "p-fail") == 0


def test_read_session_keeps_nothing(writing: TestClient, session: Session) -> None:
    response = writing.post("/test/providers/p-read/read")

    assert response.status_code == 200
    assert _count(session, "p-read") == 0
