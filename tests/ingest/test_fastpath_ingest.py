"""A delivery read column by column (RowValidator.many) ends exactly as one read row by row."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from creditbridge.core.actors import CONSOLE
from creditbridge.core.config import IngestSettings
from creditbridge.ingest import service
from creditbridge.ingest.domain import RowOutcome, RowValidator
from creditbridge.ingest.models import Provider, Reject
from creditbridge.ingest.service import pipeline
from creditbridge.subjects.models import Record

from .conftest import TAX_HEADER_ZH, codes

CODES = codes(6, seed=11)
HEADER_WAN = (*TAX_HEADER_ZH[:3], "应税销售收入（万元）", *TAX_HEADER_ZH[4:])


def mixed_rows() -> list[tuple[str, ...]]:
    c = CODES
    return [
        (c[0], "2026-09", "是", "1.5", "10", "20", "30"),
        (c[1], "2026/9", "否", "1,234.5", "10.50", "0", "10.5"),
        (c[2], "202609", "是", "12.5万元", "1.00", "2", "3"),
        (c[3], "2026年9月", "Y", "０.５", "１０", "2", "3"),
        (c[0], "2026-09", "是", "1.5", "10", "20", "30"),  # duplicate key, same content
        (c[1], "2026-09", "是", "2", "10", "20", "30"),  # duplicate key, new content
        ("91340100MA2N0000X9", "2026-09", "是", "1", "1", "1", "1"),  # bad uscc
        (c[4], "2026-13", "是", "1", "1", "1", "1"),  # bad period
        (c[4], "2026-10", "maybe", "1", "1", "1", "1"),  # bad boolean
        (c[4], "2026-11", "是", "-1", "1", "1", "1"),  # negative
        (c[4], "2026-12", "是", "1.234", "1", "1", "1"),  # too precise
        (c[4], "2027-01", "是", "1,23,4", "1", "1", "1"),  # bad grouping
        (c[4], "2027-02", "是", "", "1", "1", "1"),  # required missing
        (c[4], "2027-03", "是", "-", "1", "1", "1"),  # blank-looking
        (c[5], "2027-04", "是", "abc", "x", "1", "1"),  # two problems
        (c[5], "2026-09", "是", "00", "1", "1", "1"),
        (c[5], "2026-10", "是", "12.", "1", "1", "1"),
        (c[5], "2026-11", "是", ".5", "1", "1", "1"),
        (c[5], "2026-12", "是", "3", "1", "1", "1", "extra"),  # too wide
    ]


def deliver(session: Session, provider: Provider, data: bytes, key: str) -> Any:
    return service.ingest_batch(
        session, CONSOLE, provider_id=provider.id, dataset_code="tax_payment", batch_key=key,
        source=data, filename="tax.csv", channel="file", threshold=1.0,
        settings=IngestSettings(),
    )  # fmt: skip


def state(session: Session, batch_id: int) -> tuple[list[Any], list[Any]]:
    records = session.execute(
        select(Record.natural_key, Record.version, Record.status, Record.event_date, Record.data,
               Record.digest, Record.source_row, Record.subject_id)
        .where(Record.batch_id == batch_id).order_by(Record.natural_key, Record.version)
    ).all()  # fmt: skip
    rejects = session.execute(
        select(Reject.row, Reject.field, Reject.label, Reject.value, Reject.code, Reject.message,
               Reject.warning)
        .where(Reject.batch_id == batch_id).order_by(Reject.row, Reject.id)
    ).all()  # fmt: skip
    return [tuple(r) for r in records], [tuple(r) for r in rejects]


def one_by_one(self: RowValidator, raws: Sequence[Any], rows: Sequence[int]) -> list[RowOutcome]:
    return [self(raw, row=row) for raw, row in zip(raws, rows, strict=True)]


def counts(outcome: Any) -> dict[str, Any]:
    body: dict[str, Any] = outcome.as_json()
    for volatile in ("batch_id", "batch_key", "received_at", "replayed", "content_digest"):
        body.pop(volatile)
    return body


@pytest.mark.parametrize("encoding", ["gbk", "utf-8"])
@pytest.mark.parametrize("header", [TAX_HEADER_ZH, HEADER_WAN])
def test_first_delivery_by_either_path_is_identical(
    session: Session,
    provider: Provider,
    monkeypatch: pytest.MonkeyPatch,
    encoding: str,
    header: tuple[str, ...],
) -> None:
    lines = [",".join(header)] + [",".join(r) for r in mixed_rows()]
    data = ("\n".join(lines) + "\n").encode(encoding)
    savepoint = session.begin_nested()
    fast = deliver(session, provider, data, "k")
    fast_counts, fast_state = counts(fast), state(session, fast.batch_id)
    savepoint.rollback()
    with monkeypatch.context() as patch:
        patch.setattr(RowValidator, "many", one_by_one)
        slow = deliver(session, provider, data, "k")
    assert counts(slow) == fast_counts
    slow_state = state(session, slow.batch_id)
    # Subject ids of subjects created in the rolled-back delivery differ; compare the rest.
    assert [r[:7] for r in slow_state[0]] == [r[:7] for r in fast_state[0]]
    assert slow_state[1] == fast_state[1]
    assert fast_state[0]
    assert fast_state[1]


@pytest.mark.parametrize("encoding", ["gbk", "utf-8"])
def test_a_forked_reader_gives_the_same_batch(
    session: Session, provider: Provider, monkeypatch: pytest.MonkeyPatch, encoding: str
) -> None:
    """Big files are read and validated in a forked process, a few rows per chunk here."""
    rows = mixed_rows() * 3
    lines = [",".join(HEADER_WAN)] + [",".join(r) for r in rows]
    data = ("\n".join(lines) + "\n").encode(encoding)
    monkeypatch.setenv("CREDITBRIDGE_INGEST_CHUNK_ROWS", "4")
    savepoint = session.begin_nested()
    serial = deliver(session, provider, data, "k")
    serial_counts, serial_state = counts(serial), state(session, serial.batch_id)
    savepoint.rollback()
    monkeypatch.setattr(pipeline, "PARALLEL_BYTES", 1)
    forked = deliver(session, provider, data, "k")
    assert counts(forked) == serial_counts
    forked_state = state(session, forked.batch_id)
    assert [r[:7] for r in forked_state[0]] == [r[:7] for r in serial_state[0]]
    assert forked_state[1] == serial_state[1]


def test_an_unreadable_line_found_by_the_forked_reader_refuses_the_file(
    session: Session, provider: Provider, monkeypatch: pytest.MonkeyPatch
) -> None:
    lines = [",".join(TAX_HEADER_ZH)] + [",".join(r) for r in mixed_rows()[:4]]
    data = ("\n".join(lines) + '\n"unclosed,' + "x" * 200_000 + "\n").encode()
    monkeypatch.setattr(pipeline, "PARALLEL_BYTES", 1)
    outcome = deliver(session, provider, data, "k")
    assert outcome.status == "refused"
