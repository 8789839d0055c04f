"""XLSX decompression bombs are refused before openpyxl opens them (issue 21 #5): the parts'
declared sizes are checked against the limits, and the refusal names the file and the part."""

from __future__ import annotations

import io
import zipfile
from collections.abc import Iterator

import pytest
from openpyxl import Workbook
from sqlalchemy.orm import Session

from creditbridge.core.actors import CONSOLE
from creditbridge.core.config import IngestSettings, get_settings
from creditbridge.ingest import service
from creditbridge.ingest.models import Provider
from creditbridge.ingest.readers import XLSX_TOO_LARGE

from .conftest import TAX_HEADER_ZH, codes, tax_rows

pytestmark = pytest.mark.security

MB = 1024 * 1024
SHARED_STRINGS = "xl/sharedStrings.xml"


@pytest.fixture
def limits(monkeypatch: pytest.MonkeyPatch) -> Iterator[pytest.MonkeyPatch]:
    """Set ``CREDITBRIDGE_INGEST_XLSX_*`` with ``limits.setenv``; the settings are read afresh."""
    get_settings.cache_clear()
    yield monkeypatch
    get_settings.cache_clear()


def workbook(rows: int = 2) -> bytes:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(TAX_HEADER_ZH)
    for row in tax_rows(codes(rows)):
        sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def inflated(data: bytes, part: str, extra_bytes: int) -> bytes:
    """``data`` with ``part`` grown by ``extra_bytes`` of one repeated character inside an XML
    comment (added when missing): highly compressible, the way a bomb is built."""
    source = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as bomb:
        names = source.namelist() + ([part] if part not in source.namelist() else [])
        for name in names:
            original = source.read(name) if name in source.namelist() else b""
            if name != part:
                bomb.writestr(name, original)
                continue
            with bomb.open(name, "w") as target:
                target.write(original.rstrip() or b'<?xml version="1.0"?><x>')
                target.write(b"<!--")
                chunk = b"A" * MB
                for _ in range(extra_bytes // MB):
                    target.write(chunk)
                target.write(b"A" * (extra_bytes % MB) + b"-->")
    return out.getvalue()


def deliver(
    session: Session,
    provider: Provider,
    data: bytes,
    name: str,
    settings: IngestSettings | None = None,
) -> service.BatchOutcome:
    """Delivered with ``settings``, or the group read from the environment."""
    return service.ingest_batch(
        session, CONSOLE, provider_id=provider.id, dataset_code="tax_payment",
        batch_key=name, source=data, filename=name, channel="file", threshold=1.0,
        settings=settings or IngestSettings(),
    )  # fmt: skip


def test_shared_strings_expanding_past_the_part_limit_are_refused_unopened(
    session: Session, provider: Provider, limits: pytest.MonkeyPatch
) -> None:
    limits.setenv("CREDITBRIDGE_INGEST_XLSX_MAX_PART_BYTES", str(MB))
    bomb = inflated(workbook(), SHARED_STRINGS, 8 * MB)
    assert len(bomb) < 100_000  # a few kilobytes that claim megabytes

    outcome = deliver(session, provider, bomb, "税务月报.xlsx")

    assert (outcome.status, outcome.refusal_code) == ("refused", XLSX_TOO_LARGE)
    message = outcome.refusal_message or ""
    assert "税务月报.xlsx" in message
    assert SHARED_STRINGS in message
    assert "压缩炸弹" in message


def test_the_default_limits_refuse_a_bomb_like_the_one_of_the_attack_trial(
    session: Session, provider: Provider, limits: pytest.MonkeyPatch
) -> None:
    # The trial's file expanded to 331 MB; one past the default part limit is enough here.
    bomb = inflated(workbook(), SHARED_STRINGS, 130 * MB)

    outcome = deliver(session, provider, bomb, "bomb.xlsx")

    assert outcome.refusal_code == XLSX_TOO_LARGE


def test_all_parts_together_have_a_limit(
    session: Session, provider: Provider, limits: pytest.MonkeyPatch
) -> None:
    limits.setenv("CREDITBRIDGE_INGEST_XLSX_MAX_UNCOMPRESSED_BYTES", str(2 * MB))
    bomb = inflated(workbook(), "xl/worksheets/sheet1.xml", 4 * MB)

    outcome = deliver(session, provider, bomb, "big.xlsx")

    assert outcome.refusal_code == XLSX_TOO_LARGE
    assert "全部内容" in (outcome.refusal_message or "")


def test_a_part_is_a_streamed_worksheet_only_if_the_content_types_say_so(
    session: Session, provider: Provider, limits: pytest.MonkeyPatch
) -> None:
    # openpyxl finds parts by declared type, so a worksheet-like path proves nothing.
    limits.setenv("CREDITBRIDGE_INGEST_XLSX_MAX_PART_BYTES", str(MB))
    bomb = inflated(workbook(), "xl/worksheets/sheet9.xml", 2 * MB)

    outcome = deliver(session, provider, bomb, "disguised.xlsx")

    assert outcome.refusal_code == XLSX_TOO_LARGE
    assert "xl/worksheets/sheet9.xml" in (outcome.refusal_message or "")


def test_a_large_worksheet_within_the_total_is_read(
    session: Session, provider: Provider, limits: pytest.MonkeyPatch
) -> None:
    # Worksheets are streamed row by row, so only the total bounds them.
    limits.setenv("CREDITBRIDGE_INGEST_XLSX_MAX_PART_BYTES", str(MB))
    data = inflated(workbook(rows=3), "xl/worksheets/sheet1.xml", 2 * MB)

    outcome = deliver(session, provider, data, "ok.xlsx")

    assert (outcome.status, outcome.rows_new) == ("applied", 3)


def test_the_limits_are_the_ingest_settings_passed_in(
    session: Session, provider: Provider, limits: pytest.MonkeyPatch
) -> None:
    # The environment allows the part; the settings the entry point passes do not.
    limits.setenv("CREDITBRIDGE_INGEST_XLSX_MAX_PART_BYTES", str(64 * MB))
    bomb = inflated(workbook(), SHARED_STRINGS, 2 * MB)

    allowed = deliver(session, provider, bomb, "a.xlsx")
    refused = deliver(session, provider, bomb, "b.xlsx", IngestSettings(xlsx_max_part_bytes=MB))

    assert allowed.status == "applied"
    assert refused.refusal_code == XLSX_TOO_LARGE
    assert refused.issues[0].key == "ingest_issue.xlsx.too_large"
    params = dict(refused.issues[0].params or {})
    assert (params["name"], params["part"], params["limit"]) == (
        "b.xlsx",
        SHARED_STRINGS,
        f"{MB:,}",
    )
