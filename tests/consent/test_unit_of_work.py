"""A refused read stays on record although its request fails: the entry point's unit of work rolls
the request back, then writes the refusal's audit event and tally again (``kept_on_rollback``) and
commits them alone — through a page, the API, any new route, and the CLI."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

import factories
from creditbridge.access import service as access_service
from creditbridge.access.client import Signer
from creditbridge.access.models import ReadTally
from creditbridge.audit.models import AuditEvent
from creditbridge.cli import context
from creditbridge.consent import service
from creditbridge.consent.errors import ConsentRefused
from creditbridge.core.actors import CONSOLE, Role
from creditbridge.core.clock import utc_now
from creditbridge.core.config import Settings
from creditbridge.ingest.models import Provider
from creditbridge.web.deps import WriteSession
from web import conftest as web_fixtures
from web.conftest import LoggedIn

from .conftest import World, active

app = web_fixtures.app
client = web_fixtures.client
login_as = web_fixtures.login_as

Login = Callable[..., LoggedIn]


def _refusals(session: Session, world: World) -> tuple[int, int]:
    """The refused-read events and the bank's counted refusals, as committed so far."""
    session.expire_all()
    events = session.scalar(
        select(func.count()).select_from(AuditEvent).where(AuditEvent.action == "data.read_refused")
    )
    counted = session.scalar(
        select(func.coalesce(func.sum(ReadTally.refusals), 0)).where(
            ReadTally.institution_id == world.bank.id
        )
    )
    return int(events or 0), int(counted or 0)


def _providers(session: Session, code: str) -> int:
    return int(
        session.scalar(select(func.count()).select_from(Provider).where(Provider.code == code)) or 0
    )


def _revoked(world: World, session: Session) -> int:
    grant = active(world, session)
    service.revoke(session, world.owner, consent_id=grant.id)
    return grant.id


def test_a_route_that_wrote_before_a_refused_read_keeps_only_the_refusal(
    app: FastAPI, session: Session, world: World
) -> None:
    consent_id = _revoked(world, session)

    def write_then_read(session: WriteSession) -> dict[str, str]:
        factories.provider(session, code="written-before", name="先写入")
        session.flush()
        service.read_records(
            session,
            world.officer,
            subject_id=world.subject.id,
            purpose="loan_application",
            categories=["tax"],
            consent_id=consent_id,
        )
        return {"read": "yes"}

    app.add_api_route("/test/write-then-read", write_then_read, methods=["GET"])
    with TestClient(app, raise_server_exceptions=False) as plain:
        response = plain.get("/test/write-then-read")

    assert response.status_code == 403
    assert "CB-CONSENT-REVOKED" in response.text
    assert _refusals(session, world) == (1, 1)
    assert _providers(session, "written-before") == 0


def test_a_refused_read_through_the_page_keeps_its_audit_event_and_tally(
    client: TestClient, session: Session, world: World, login_as: Login
) -> None:
    consent_id = _revoked(world, session)
    officer = login_as(Role.INSTITUTION_OFFICER, institution_id=world.bank.id)

    page = client.post(
        "/institution/read",
        data={
            "csrf_token": officer.csrf,
            "uscc": world.subject.uscc,
            "purpose": "loan_application",
            "categories": ["tax"],
            "consent_id": str(consent_id),
        },
    )

    assert page.status_code == 403
    assert _refusals(session, world) == (1, 1)


def test_a_refused_read_through_the_api_keeps_its_audit_event_and_tally(
    client: TestClient, session: Session, world: World
) -> None:
    consent_id = _revoked(world, session)
    issued = access_service.create_client(
        session, CONSOLE, name="信贷系统", owner_kind="institution", algorithm="hmac-sm3",
        institution_id=world.bank.id, settings=Settings(),
    )  # fmt: skip
    signer = Signer(
        issued.client.key_id, secret=issued.secret, private_key_pem=issued.private_key_pem
    )
    path = f"/api/v1/subjects/{world.subject.uscc}/records"
    query = f"purpose=loan_application&categories=tax&consent_id={consent_id}"

    # The world's clock is frozen: the signature must carry its time, not the wall clock's.
    signed = signer.headers("GET", path, query=query, now=utc_now())
    response = client.get(f"{path}?{query}", headers=signed)

    assert response.status_code == 403
    assert response.json()["reason"] == "revoked"
    assert _refusals(session, world) == (1, 1)


@pytest.fixture
def cli_sessions(session: Session, monkeypatch: pytest.MonkeyPatch) -> None:
    """The CLI's transactions as savepoints of the test's transaction."""
    bound = sessionmaker(bind=session.connection(), join_transaction_mode="create_savepoint")
    monkeypatch.setattr(context, "engine", lambda: None)
    monkeypatch.setattr(context, "make_sessionmaker", lambda _engine: bound)


@pytest.mark.usefixtures("cli_sessions")
def test_a_command_that_wrote_before_a_refused_read_keeps_only_the_refusal(
    session: Session, world: World
) -> None:
    consent_id = _revoked(world, session)

    def command() -> None:
        with context.transaction() as db:
            factories.provider(db, code="written-by-command", name="先写入")
            db.flush()
            service.read_records(
                db,
                world.officer,
                subject_id=world.subject.id,
                purpose="loan_application",
                categories=["tax"],
                consent_id=consent_id,
            )

    with pytest.raises(ConsentRefused):
        command()

    assert _refusals(session, world) == (1, 1)
    assert _providers(session, "written-by-command") == 0
