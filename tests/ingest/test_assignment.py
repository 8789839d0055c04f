"""A provider delivers only the datasets the shared-data list assigns it (issue 21, finding 1).

The attack: the market regulator's user uploaded ``tax_payment`` rows that superseded the tax
bureau's record, and withdrew a court's 失信被执行人 listing, on the upload page and through the
API. Every path — service, page, API, console — now refuses with ``CB-INGEST-NOT-ASSIGNED`` naming
the dataset's provider, the refusal stays in the audit trail although the request fails, and the
writer itself lets no unassigned batch touch a stored record.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker
from typer.testing import CliRunner

import factories
from creditbridge.audit.models import AuditEvent
from creditbridge.catalog import service as catalog_service
from creditbridge.cli import context
from creditbridge.cli.app import app as cli_app
from creditbridge.core.actors import CONSOLE, Actor, ActorKind, Role
from creditbridge.core.config import IngestSettings
from creditbridge.ingest import service
from creditbridge.ingest.errors import CatalogNotLoaded, NotAssigned, ReasonRequired
from creditbridge.ingest.models import Batch, Provider
from creditbridge.ingest.service import delivery
from creditbridge.subjects.models import Record
from web.conftest import LoggedIn

from .conftest import assign, codes, csv_bytes, tax_rows
from .test_api import post_json, signer_for
from .test_api import rows as api_tax_rows
from .test_pages import upload

pytestmark = pytest.mark.security

REFUSED_ACTION = "ingest.delivery.not_assigned"
TAX_NAME = "国家税务总局安徽省税务局"
COURT_NAME = "安徽省高级人民法院"
CASE = "(2026)皖01执123号"

Login = Callable[..., LoggedIn]


@pytest.fixture
def court(session: Session, catalog: None) -> Provider:
    return factories.provider(
        session, code="court-ah", name=COURT_NAME, datasets=["dishonest_debtor"]
    )


def clerk_of(provider: Provider) -> Actor:
    return Actor(
        kind=ActorKind.USER, id=7, name="市场监管局经办人", role=Role.PROVIDER_USER,
        provider_id=provider.id,
    )  # fmt: skip


def deliver(session: Session, actor: Actor, provider: Provider, rows: list[dict[str, Any]],
            *, dataset: str = "tax_payment", key: str = "b1", reason: str | None = None,
            threshold: float | None = None) -> Any:  # fmt: skip
    return service.ingest_batch(
        session, actor, provider_id=provider.id, dataset_code=dataset, batch_key=key,
        source=rows, filename=None, channel="api", settings=IngestSettings(), threshold=threshold,
        **({"reason": reason} if reason else {}),
    )  # fmt: skip


def listing(uscc: str, **changes: str) -> dict[str, Any]:
    return {
        "uscc": uscc, "case_no": CASE, "court": "合肥市中级人民法院", "publish_date": "2026-09-01",
        "obligation": "支付货款 120 万元", "performance": "全部未履行", **changes,
    }  # fmt: skip


def current(session: Session, dataset: str) -> list[tuple[str, int, int]]:
    """(natural key, version, provider id) of the current records of ``dataset``."""
    session.expire_all()
    rows = session.execute(
        select(Record.natural_key, Record.version, Record.provider_id).where(
            Record.dataset_code == dataset, Record.status == "current"
        )
    )
    return sorted(tuple(r) for r in rows)  # type: ignore[misc]


def refusals(session: Session) -> list[dict[str, Any]]:
    """The detail of every audited refusal, as committed so far."""
    session.expire_all()
    events = session.scalars(
        select(AuditEvent).where(AuditEvent.action == REFUSED_ACTION).order_by(AuditEvent.id)
    )
    return [event.facts["detail"] for event in events]


def batches(session: Session, provider: Provider) -> int:
    session.expire_all()
    count = select(func.count()).select_from(Batch).where(Batch.provider_id == provider.id)
    return int(session.scalar(count) or 0)


# ---------------------------------------------------------------------------- the service


def test_a_provider_cannot_deliver_a_dataset_it_is_not_assigned(
    session: Session, provider: Provider, other_provider: Provider
) -> None:
    usccs = codes(2)
    deliver(session, CONSOLE, provider, api_tax_rows(usccs))
    before = current(session, "tax_payment")

    with pytest.raises(NotAssigned) as refused:
        deliver(session, clerk_of(other_provider), other_provider, api_tax_rows(usccs[:1]),
                key="amr-1")  # fmt: skip

    error = refused.value
    assert error.code == "CB-INGEST-NOT-ASSIGNED"
    assert error.status_code == 403
    assert "tax_payment" in error.message
    assert TAX_NAME in error.message
    assert other_provider.name in error.message
    assert current(session, "tax_payment") == before
    assert batches(session, other_provider) == 0
    assert refusals(session) == [
        {"provider": "amr-ah", "dataset": "tax_payment", "assigned": ["tax-ah"],
         "channel": "api", "reason": None, "code": "CB-INGEST-NOT-ASSIGNED"}
    ]  # fmt: skip


def test_an_unassigned_provider_cannot_withdraw_a_courts_listing(
    session: Session, court: Provider, other_provider: Provider
) -> None:
    (uscc,) = codes(1)
    deliver(session, CONSOLE, court, [listing(uscc)], dataset="dishonest_debtor")

    with pytest.raises(NotAssigned) as refused:
        deliver(session, clerk_of(other_provider), other_provider,
                [{"uscc": uscc, "case_no": CASE, "_action": "撤销"}],
                dataset="dishonest_debtor", key="w1")  # fmt: skip

    assert COURT_NAME in refused.value.message
    assert current(session, "dishonest_debtor") == [(f"{uscc}|{CASE}", 1, court.id)]
    assert refusals(session)[0]["dataset"] == "dishonest_debtor"


def test_an_operator_delivers_only_for_an_assigned_provider(
    session: Session, provider: Provider, other_provider: Provider
) -> None:
    usccs = codes(1)
    deliver(session, CONSOLE, provider, api_tax_rows(usccs))

    with pytest.raises(NotAssigned):
        deliver(session, factories.operator(), other_provider, api_tax_rows(usccs), key="op-1")
    with pytest.raises(NotAssigned):
        deliver(session, CONSOLE, other_provider, api_tax_rows(usccs), key="op-2", reason="补报")

    assert [row[2] for row in current(session, "tax_payment")] == [provider.id]
    assert [r["reason"] for r in refusals(session)] == [None, "补报"]


def test_the_writer_touches_no_record_for_an_unassigned_provider(
    session: Session,
    provider: Provider,
    other_provider: Provider,
    court: Provider,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Defence in depth: with the entry check gone, the writer still refuses the rows that would
    supersede, withdraw or re-deliver another provider's records, and stores the new ones."""
    monkeypatch.setattr(delivery, "check_assigned", lambda *a, **k: None, raising=False)
    old, new = codes(2)
    deliver(session, CONSOLE, provider, api_tax_rows([old]))
    deliver(session, CONSOLE, court, [listing(old)], dataset="dishonest_debtor")
    tax_before = current(session, "tax_payment")

    changed = [{**api_tax_rows([old])[0], "vat_paid": 99}, *api_tax_rows([new])]
    outcome = deliver(session, CONSOLE, other_provider, changed, key="x1", threshold=1.0)
    withdrawn = deliver(session, CONSOLE, other_provider,
                        [{"uscc": old, "case_no": CASE, "_action": "撤销"}],
                        dataset="dishonest_debtor", key="x2", threshold=1.0)  # fmt: skip

    assert [(i.row, i.code) for i in outcome.issues] == [(1, "INGEST-NOT-ASSIGNED")]
    assert (outcome.status, outcome.rows_updated, outcome.rows_new) == ("applied", 0, 1)
    assert withdrawn.rows_withdrawn == 0
    assert withdrawn.issues[0].code == "INGEST-NOT-ASSIGNED"
    assert current(session, "tax_payment") == sorted(
        [*tax_before, (f"{new}|2026-09", 1, other_provider.id)]
    )
    assert current(session, "dishonest_debtor") == [(f"{old}|{CASE}", 1, court.id)]


def test_the_assigned_provider_still_delivers_corrects_and_withdraws(
    session: Session, provider: Provider, court: Provider
) -> None:
    usccs = codes(2)
    clerk = clerk_of(provider)
    first = deliver(session, clerk, provider, api_tax_rows(usccs))
    fixed = deliver(session, clerk, provider,
                    [{**api_tax_rows(usccs[:1])[0], "vat_paid": 2}], key="b2")  # fmt: skip
    deliver(session, CONSOLE, court, [listing(usccs[0])], dataset="dishonest_debtor")
    gone = deliver(session, CONSOLE, court, [{"uscc": usccs[0], "case_no": CASE, "_action": "撤销"}],
                   dataset="dishonest_debtor", key="w1")  # fmt: skip

    assert (first.status, first.rows_new) == ("applied", 2)
    assert (fixed.status, fixed.rows_updated) == ("applied", 1)
    assert (gone.status, gone.rows_withdrawn) == ("applied", 1)
    assert current(session, "dishonest_debtor") == []
    assert refusals(session) == []


def test_without_a_loaded_list_a_delivery_is_refused_and_loads_nothing(session: Session) -> None:
    tax = factories.provider(session, code="tax-ah", name=TAX_NAME, datasets=["tax_payment"])

    with pytest.raises(CatalogNotLoaded) as refused:
        deliver(session, CONSOLE, tax, api_tax_rows(codes(1)))

    assert refused.value.code == "CB-INGEST-NO-CATALOG"
    assert "creditbridge catalog load" in refused.value.message
    assert catalog_service.get_current_version(session) is None


# ---------------------------------------------------------------------------- the upload page


def test_an_operator_cannot_upload_for_an_unassigned_provider_on_the_page(
    client: TestClient,
    session: Session,
    provider: Provider,
    other_provider: Provider,
    login_as: Login,
) -> None:
    operator = login_as(Role.OPERATOR)

    page = upload(client, operator.csrf, other_provider.id, csv_bytes(tax_rows(codes(1))))

    assert page.status_code == 403
    assert "CB-INGEST-NOT-ASSIGNED" in page.text
    assert TAX_NAME in page.text
    assert batches(session, other_provider) == 0
    assert [r["provider"] for r in refusals(session)] == ["amr-ah"]

    done = upload(client, operator.csrf, provider.id, csv_bytes(tax_rows(codes(1))),
                  reason="税务局前置机故障，代为补报")  # fmt: skip
    assert done.status_code == 200
    assert 'data-testid="count-accepted" data-value="1"' in done.text


def test_a_provider_user_cannot_upload_a_dataset_it_is_not_assigned(
    client: TestClient, session: Session, provider: Provider, login_as: Login
) -> None:
    clerk = login_as(Role.PROVIDER_USER)
    own = clerk.user.provider_id
    assert own is not None

    page = upload(client, clerk.csrf, own, csv_bytes(tax_rows(codes(1))))

    assert page.status_code == 403
    assert "CB-INGEST-NOT-ASSIGNED" in page.text
    assert [r["dataset"] for r in refusals(session)] == ["tax_payment"]


def test_the_upload_page_says_to_load_the_list_and_loads_none(
    client: TestClient, session: Session, login_as: Login
) -> None:
    login_as(Role.OPERATOR)

    page = client.get("/ingest/upload")

    assert page.status_code == 200
    assert 'data-testid="no-catalog"' in page.text
    assert "creditbridge catalog load" in page.text
    assert catalog_service.get_current_version(session) is None


def batch_events(session: Session) -> list[dict[str, Any]]:
    """The detail of every audited batch, as committed so far."""
    session.expire_all()
    events = session.scalars(
        select(AuditEvent).where(AuditEvent.object_type == "ingest_batch").order_by(AuditEvent.id)
    )
    return [event.facts["detail"] for event in events]


def test_an_operator_must_state_a_reason_to_deliver_on_a_providers_behalf(
    session: Session, provider: Provider
) -> None:
    """The review of issue 21: the console demanded --on-behalf-of and --reason, the service let
    an operator deliver for any assigned provider without saying why."""
    with pytest.raises(ReasonRequired) as refused:
        deliver(session, factories.operator(), provider, api_tax_rows(codes(1)), reason="  ")

    error = refused.value
    assert (error.code, error.status_code) == ("CB-INGEST-REASON-REQUIRED", 422)
    assert "代报理由" in error.message
    assert TAX_NAME in error.message
    assert [(i.code, i.field) for i in error.issues] == [("INGEST-REASON-REQUIRED", "reason")]
    assert batches(session, provider) == 0

    done = deliver(session, factories.operator(), provider, api_tax_rows(codes(1)),
                   reason="税务局前置机故障，代为补报")  # fmt: skip
    assert done.status == "applied"
    assert batch_events(session)[-1]["reason"] == "税务局前置机故障，代为补报"
    # The provider's own user delivers without one.
    assert deliver(session, clerk_of(provider), provider, api_tax_rows(codes(1, seed=3)),
                   key="own").status == "applied"  # fmt: skip


def test_the_upload_page_refuses_an_operator_without_a_reason_and_audits_the_one_given(
    client: TestClient, session: Session, provider: Provider, login_as: Login
) -> None:
    operator = login_as(Role.OPERATOR)
    form = client.get("/ingest/upload")
    assert 'name="reason"' in form.text
    assert "代报理由" in form.text

    refused = upload(client, operator.csrf, provider.id, csv_bytes(tax_rows(codes(1))))

    assert refused.status_code == 422
    assert "CB-INGEST-REASON-REQUIRED" in refused.text
    assert "代报理由" in refused.text
    assert batches(session, provider) == 0

    done = upload(client, operator.csrf, provider.id, csv_bytes(tax_rows(codes(1))),
                  reason="税务局前置机故障，代为补报")  # fmt: skip
    assert done.status_code == 200
    assert 'data-testid="count-accepted" data-value="1"' in done.text
    (event,) = batch_events(session)
    assert (event["channel"], event["reason"]) == ("file", "税务局前置机故障，代为补报")


def test_the_upload_page_offers_only_the_datasets_the_provider_is_assigned(
    client: TestClient,
    session: Session,
    provider: Provider,
    court: Provider,
    login_as: Login,
) -> None:
    login_as(Role.OPERATOR)

    first = client.get("/ingest/upload", params={"provider_id": provider.id})
    other = client.get("/ingest/upload", params={"provider_id": court.id})

    assert _offered(first.text) == ["tax_payment"]
    assert _offered(other.text) == ["dishonest_debtor"]

    clerk = login_as(Role.PROVIDER_USER)
    own = clerk.user.provider_id
    assert own is not None
    assert _offered(client.get("/ingest/upload").text) == []  # owes nothing yet
    assign(session, own, "tax_arrears")
    # Another provider's id in the query changes nothing for a provider's user.
    page = client.get("/ingest/upload", params={"provider_id": provider.id})
    assert _offered(page.text) == ["tax_arrears"]
    assert provider.name not in page.text
    assert 'name="reason"' not in page.text


def _offered(page: str) -> list[str]:
    """The dataset codes of the upload form's dataset choice."""
    choice = re.search(r'<select[^>]*id="u-dataset".*?</select>', page, re.S)
    assert choice, page
    return re.findall(r'<option value="([^"]+)"', choice.group(0))


# ---------------------------------------------------------------------------- the API


def test_an_unassigned_client_is_refused_by_the_api_and_the_refusal_is_kept(
    client: TestClient, session: Session, provider: Provider, other_provider: Provider
) -> None:
    signer = signer_for(session, other_provider)
    body = {"provider": other_provider.code, "dataset": "tax_payment", "batch_id": "amr-1",
            "rows": api_tax_rows(codes(1))}  # fmt: skip

    response = post_json(client, signer, body)

    assert response.status_code == 403
    problem = response.json()
    assert problem["code"] == "CB-INGEST-NOT-ASSIGNED"
    assert TAX_NAME in problem["detail"]
    assert "tax_payment" in problem["detail"]
    assert batches(session, other_provider) == 0
    assert refusals(session)[0]["channel"] == "api"


def test_an_unassigned_client_cannot_withdraw_a_listing_through_the_api(
    client: TestClient, session: Session, court: Provider, other_provider: Provider
) -> None:
    (uscc,) = codes(1)
    deliver(session, CONSOLE, court, [listing(uscc)], dataset="dishonest_debtor")
    signer = signer_for(session, other_provider)
    body = {"provider": other_provider.code, "dataset": "dishonest_debtor", "batch_id": "w1",
            "rows": [{"uscc": uscc, "case_no": CASE, "_action": "撤销"}]}  # fmt: skip

    response = post_json(client, signer, body)

    assert response.status_code == 403
    assert response.json()["code"] == "CB-INGEST-NOT-ASSIGNED"
    assert current(session, "dishonest_debtor") == [(f"{uscc}|{CASE}", 1, court.id)]
    assert refusals(session)[0]["dataset"] == "dishonest_debtor"


def test_the_assigned_client_still_delivers_through_the_api(
    client: TestClient, session: Session, provider: Provider
) -> None:
    signer = signer_for(session, provider)
    body = {"provider": provider.code, "dataset": "tax_payment", "batch_id": "tax-1",
            "rows": api_tax_rows(codes(2))}  # fmt: skip

    response = post_json(client, signer, body)

    assert response.status_code == 201, response.text
    assert (response.json()["status"], response.json()["rows_new"]) == ("applied", 2)


# ---------------------------------------------------------------------------- the console

runner = CliRunner()


@pytest.fixture
def cli_sessions(session: Session, monkeypatch: pytest.MonkeyPatch) -> None:
    """The CLI's transactions as savepoints of the test's transaction."""
    bound = sessionmaker(bind=session.connection(), join_transaction_mode="create_savepoint")
    monkeypatch.setattr(context, "engine", lambda: None)
    monkeypatch.setattr(context, "make_sessionmaker", lambda _engine: bound)
    # The test's schema is the models' (the CLI's check for an upgraded schema needs an engine).
    monkeypatch.setattr(context, "require_schema", lambda _engine: None, raising=False)


def cli(path: Path, *args: str):  # type: ignore[no-untyped-def]
    return runner.invoke(cli_app, ["ingest", str(path), "--dataset", "tax_payment", *args])


@pytest.mark.usefixtures("cli_sessions")
def test_the_console_delivers_only_on_behalf_of_an_assigned_provider_with_a_reason(
    session: Session, provider: Provider, other_provider: Provider, tmp_path: Path
) -> None:
    path = tmp_path / "tax.csv"
    path.write_bytes(csv_bytes(tax_rows(codes(2))))

    unstated = cli(path, "--provider", "tax-ah")
    assert unstated.exit_code == 1
    assert "--on-behalf-of" in unstated.output
    assert "--reason" in unstated.output
    assert batches(session, provider) == 0

    unassigned = cli(path, "--on-behalf-of", "amr-ah", "--reason", "市场监管局委托补报")
    assert unassigned.exit_code == 1
    assert "CB-INGEST-NOT-ASSIGNED" in unassigned.output
    assert batches(session, other_provider) == 0
    assert refusals(session) == [
        {"provider": "amr-ah", "dataset": "tax_payment", "assigned": ["tax-ah"],
         "channel": "cli", "reason": "市场监管局委托补报", "code": "CB-INGEST-NOT-ASSIGNED"}
    ]  # fmt: skip

    done = cli(path, "--on-behalf-of", "tax-ah", "--reason", "税务局前置机故障，代为补报", "--json")
    assert done.exit_code == 0, done.output
    batch_id = orjson.loads(done.stdout)["batch_id"]
    session.expire_all()
    event = session.scalars(
        select(AuditEvent).where(
            AuditEvent.object_type == "ingest_batch", AuditEvent.object_id == str(batch_id)
        )
    ).one()
    assert event.action == "ingest.batch.applied"
    assert event.facts["detail"]["reason"] == "税务局前置机故障，代为补报"
