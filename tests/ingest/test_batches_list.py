"""The list of batches: filters, sort, pages, export; a provider sees only its own batches; and
deliveries past their deadline are marked."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable
from datetime import date

from fastapi.testclient import TestClient
from openpyxl import load_workbook
from sqlalchemy.orm import Session

import factories
from creditbridge.core.actors import CONSOLE, Role
from creditbridge.core.clock import SHANGHAI, utc_now
from creditbridge.core.config import IngestSettings
from creditbridge.ingest import service
from creditbridge.ingest.models import CollectionMetric, Provider

from .conftest import assign, codes, csv_bytes, tax_rows


def deliver(session: Session, provider_id: int, key: str, data: bytes) -> service.BatchOutcome:
    return service.ingest_batch(
        session, CONSOLE, provider_id=provider_id, dataset_code="tax_payment", batch_key=key,
        source=data, filename="tax.csv", channel="file", settings=IngestSettings(),
    )  # fmt: skip


def rows_of(page: str) -> list[str]:
    return re.findall(r'data-testid="batch-row" data-batch="(\d+)"', page)


def test_a_provider_sees_only_its_own_batches(
    client: TestClient, session: Session, provider: Provider, login_as: Callable[..., object]
) -> None:
    clerk = login_as(Role.PROVIDER_USER)
    own = clerk.user.provider_id  # type: ignore[attr-defined]
    assign(session, own, "tax_payment")
    mine = deliver(session, own, "mine", csv_bytes(tax_rows(codes(2))))
    theirs = deliver(session, provider.id, "theirs", csv_bytes(tax_rows(codes(2, seed=5))))

    page = client.get("/ingest/batches")
    assert page.status_code == 200
    assert rows_of(page.text) == [str(mine.batch_id)]
    # Asking for the other provider by filter shows nothing of it either.
    assert rows_of(client.get(f"/ingest/batches?provider_id={provider.id}").text) == []
    export = client.get("/ingest/batches/export?format=csv")
    lines = list(csv.reader(io.StringIO(export.content.decode("utf-8-sig"))))
    assert [line[0] for line in lines[1:]] == [str(mine.batch_id)]
    assert str(theirs.batch_id) not in [line[0] for line in lines[1:]]


def test_an_operator_filters_sorts_pages_and_exports(
    client: TestClient, session: Session, provider: Provider, login_as: Callable[..., object]
) -> None:
    login_as(Role.OPERATOR)
    other = factories.provider(session, name="第二税务局", datasets=["tax_payment"])
    small = deliver(session, provider.id, "a", csv_bytes(tax_rows(codes(1))))
    bad = [
        *tax_rows(codes(30, seed=2)),
        ("91340100XXXXXXXXX1", "2026-09", "是", "1", "1", "1", "1"),
    ]
    with_reject = deliver(session, provider.id, "b", csv_bytes(bad))
    elsewhere = deliver(session, other.id, "c", csv_bytes(tax_rows(codes(2, seed=3))))

    everything = client.get("/ingest/batches")
    # Newest first by default.
    assert rows_of(everything.text) == [
        str(elsewhere.batch_id),
        str(with_reject.batch_id),
        str(small.batch_id),
    ]
    assert 'data-testid="pagination"' in everything.text
    by_provider = client.get(f"/ingest/batches?provider_id={provider.id}&sort=-rows_rejected")
    assert rows_of(by_provider.text) == [str(with_reject.batch_id), str(small.batch_id)]
    ascending = client.get("/ingest/batches?sort=rows_total")
    assert rows_of(ascending.text)[0] == str(small.batch_id)
    paged = client.get("/ingest/batches?size=2&page=2")
    assert rows_of(paged.text) == [str(small.batch_id)]
    assert rows_of(client.get("/ingest/batches?status=refused").text) == []
    assert len(rows_of(client.get("/ingest/batches?status=applied").text)) == 3
    # Dates are Beijing calendar days.
    today = utc_now().astimezone(SHANGHAI).date().isoformat()
    assert len(rows_of(client.get(f"/ingest/batches?from={today}&to={today}").text)) == 3
    assert rows_of(client.get("/ingest/batches?from=2001-01-01&to=2001-01-02").text) == []
    # Junk in a shared link is a sensible page, not an error.
    assert client.get("/ingest/batches?page=abc&sort=drop_table&from=x").status_code == 200

    export = client.get(f"/ingest/batches/export?format=xlsx&provider_id={provider.id}")
    sheet = load_workbook(io.BytesIO(export.content)).active
    assert sheet is not None
    values = list(sheet.iter_rows(values_only=True))
    assert values[0][0] == "批次编号"
    assert {row[0] for row in values[1:]} == {small.batch_id, with_reject.batch_id}
    assert {row[10] for row in values[1:]} == {0, 1}


def test_the_upload_page_links_to_the_list(
    client: TestClient, provider: Provider, login_as: Callable[..., object]
) -> None:
    login_as(Role.OPERATOR)
    assert 'href="/ingest/batches"' in client.get("/ingest/upload").text


def _owed(session: Session, provider_id: int, *, made: int, deadline: date) -> None:
    """One city's delivery of tax_payment for 2026-09 as the collection schedule computed it."""
    now = utc_now()
    session.add(
        CollectionMetric(
            month="2026-09",
            dataset_code="tax_payment",
            city_code="340100",
            provider_id=provider_id,
            cadence="periodic",
            deadline_date=deadline,
            deliveries_due=1,
            deliveries_made=made,
            deliveries_on_time=made,
            first_received_date=None,
            batches_applied=made,
            batches_refused=0,
            records_total=0,
            records_complete=0,
            as_of_at=now,
            computed_at=now,
        )
    )
    session.flush()


def test_overdue_deliveries_are_marked_for_those_who_owe_them(
    client: TestClient, session: Session, provider: Provider, login_as: Callable[..., object]
) -> None:
    clerk = login_as(Role.PROVIDER_USER)
    own = clerk.user.provider_id  # type: ignore[attr-defined]
    _owed(session, provider.id, made=0, deadline=date(2026, 10, 15))
    _owed(session, own, made=1, deadline=date(2026, 10, 15))

    # The clerk's provider delivered: nothing overdue, and not the other provider's either.
    assert 'data-testid="overdue-deliveries"' not in client.get("/ingest/batches").text
    login_as(Role.OPERATOR)
    page = client.get("/ingest/batches")
    assert 'data-testid="overdue-deliveries"' in page.text
    assert page.text.count('data-testid="overdue-item"') == 1
    assert 'data-testid="overdue"' in page.text
    assert provider.name in page.text
