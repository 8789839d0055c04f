"""Recognising an unchanged re-delivery by the fingerprint of its cells (see service.pipeline.Run).

A clean row's version keeps a fingerprint of the cells it came from; the same cells delivered
again (under another batch id) are counted unchanged without being validated again — but only
when the fingerprint still means the same record: same dataset definition, same column units,
and no earlier row of the same batch touched the key."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from creditbridge.core.actors import CONSOLE
from creditbridge.core.config import IngestSettings
from creditbridge.ingest import service
from creditbridge.ingest.models import Provider
from creditbridge.ingest.service import pipeline
from creditbridge.reference import uscc
from creditbridge.subjects.models import Record

from .conftest import TAX_HEADER_ZH, codes, csv_bytes, record_state, tax_rows

CODES = codes(4, seed=21)


def org_check_warned(code: str) -> str:
    """``code`` with a wrong GB 11714 check at position 17 and the USCC check redone: valid,
    with the warning ``USCC-ORG-CHECK``."""
    body = code[:16] + ("1" if code[16] == "0" else "0")
    return body + uscc.check_character(body)


HEADER_WAN = (*TAX_HEADER_ZH[:3], "应税销售收入（万元）", *TAX_HEADER_ZH[4:])


def deliver(session: Session, provider: Provider, data: bytes, key: str) -> Any:
    return service.ingest_batch(
        session, CONSOLE, provider_id=provider.id, dataset_code="tax_payment", batch_key=key,
        source=data, filename="tax.csv", channel="file", threshold=1.0,
        settings=IngestSettings(),
    )  # fmt: skip


def fingerprints(session: Session) -> dict[tuple[str, int], str | None]:
    rows = session.execute(select(Record.natural_key, Record.version, Record.source_fingerprint))
    return {(key, version): fp for key, version, fp in rows}


def test_clean_rows_keep_a_fingerprint_and_rows_with_warnings_do_not(
    session: Session, provider: Provider
) -> None:
    rows = tax_rows(CODES[:2])
    rows.append((org_check_warned(CODES[2]), "2026-09", "是", "1", "1", "1", "1"))
    outcome = deliver(session, provider, csv_bytes(rows), "b1")
    assert (outcome.rows_new, outcome.rows_warned) == (3, 1)

    stored = fingerprints(session)
    assert stored[(f"{org_check_warned(CODES[2])}|2026-09", 1)] is None
    clean = [stored[(f"{code}|2026-09", 1)] for code in CODES[:2]]
    assert all(fp is not None and len(fp) == 32 for fp in clean)
    assert clean[0] != clean[1]


def test_the_same_cells_again_are_unchanged_and_warnings_are_reported_again(
    session: Session, provider: Provider
) -> None:
    rows = tax_rows(CODES[:3])
    rows.append((org_check_warned(CODES[3]), "2026-09", "是", "1", "1", "1", "1"))
    data = csv_bytes(rows)
    deliver(session, provider, data, "b1")
    state = record_state(session)

    again = deliver(session, provider, data, "b2")

    assert (again.rows_unchanged, again.rows_new, again.rows_updated) == (4, 0, 0)
    assert record_state(session) == state
    # The row with a warning was validated again (it has no fingerprint), so its provider still
    # hears about it.
    assert [issue.code for issue in again.issues] == ["INGEST-USCC-ORG-CHECK"]


def test_one_changed_cell_makes_a_new_version(session: Session, provider: Provider) -> None:
    deliver(session, provider, csv_bytes(tax_rows(CODES[:3])), "b1")
    rows = tax_rows(CODES[:3])
    rows[1] = (CODES[1], "2026-09", "是", "1000.5", "10", "20", "31")

    again = deliver(session, provider, csv_bytes(rows), "b2")

    assert (again.rows_unchanged, again.rows_updated) == (2, 1)
    current = session.scalars(
        select(Record).where(Record.natural_key == f"{CODES[1]}|2026-09", Record.version == 2)
    ).one()
    assert current.data["total_tax_paid"] == "31"


def test_the_same_cells_under_another_unit_are_another_record(
    session: Session, provider: Provider
) -> None:
    rows = tax_rows(CODES[:2], revenue="2")
    deliver(session, provider, csv_bytes(rows), "b1")

    # The cells are identical, but the header now says the revenue is in 万元.
    again = deliver(session, provider, csv_bytes(rows, header=HEADER_WAN), "b2")

    assert (again.rows_unchanged, again.rows_updated) == (0, 2)
    revenue = session.scalars(
        select(Record.data).where(Record.status == "current").order_by(Record.natural_key)
    ).all()
    assert [r["taxable_revenue"] for r in revenue] == ["20000", "20000"]


@pytest.mark.parametrize("forked", [False, True])
def test_a_key_changed_earlier_in_the_batch_is_not_taken_for_unchanged(
    session: Session, provider: Provider, monkeypatch: pytest.MonkeyPatch, forked: bool
) -> None:
    """Row 2 changes a record, row 3 restores the cells its stored version had. With one row
    per chunk, the forked reader asks about row 3's key before row 2's version is written; the
    batch's own bookkeeping must still send row 3 through the full path."""
    monkeypatch.setenv("CREDITBRIDGE_INGEST_CHUNK_ROWS", "1")
    if forked:
        monkeypatch.setattr(pipeline, "PARALLEL_BYTES", 1)
    original = tax_rows(CODES[:1])[0]
    deliver(session, provider, csv_bytes([original]), "b1")
    changed = (CODES[0], "2026-09", "是", "1000.5", "10", "20", "99")
    fillers = tax_rows(CODES[1:3])

    again = deliver(session, provider, csv_bytes([fillers[0], changed, original, fillers[1]]), "b2")

    assert (again.rows_new, again.rows_updated, again.rows_unchanged) == (2, 2, 0)
    versions = session.execute(
        select(Record.version, Record.status, Record.data)
        .where(Record.natural_key == f"{CODES[0]}|2026-09")
        .order_by(Record.version)
    ).all()
    assert [(v, s, d["total_tax_paid"]) for v, s, d in versions] == [
        (1, "superseded", "30"), (2, "superseded", "99"), (3, "current", "30"),
    ]  # fmt: skip
    # And a third delivery of the restored cells is recognised by fingerprint again.
    third = deliver(session, provider, csv_bytes([original]), "b3")
    assert (third.rows_unchanged, third.rows_updated) == (1, 0)


@pytest.mark.parametrize("forked", [False, True])
def test_a_repeated_row_in_one_batch_keeps_its_duplicate_warning(
    session: Session, provider: Provider, monkeypatch: pytest.MonkeyPatch, forked: bool
) -> None:
    monkeypatch.setenv("CREDITBRIDGE_INGEST_CHUNK_ROWS", "2")
    if forked:
        monkeypatch.setattr(pipeline, "PARALLEL_BYTES", 1)
    rows = tax_rows(CODES[:2])
    deliver(session, provider, csv_bytes(rows), "b1")
    changed = (CODES[0], "2026-09", "是", "1000.5", "10", "20", "77")

    again = deliver(session, provider, csv_bytes([changed, changed, *rows]), "b2")

    assert again.rows_total == 4
    codes_seen = [issue.code for issue in again.issues]
    assert codes_seen == ["INGEST-DUPLICATE-KEY", "INGEST-DUPLICATE-KEY"]
    current = session.scalars(
        select(Record.data).where(
            Record.natural_key == f"{CODES[0]}|2026-09", Record.status == "current"
        )
    ).one()
    assert current["total_tax_paid"] == "30"
