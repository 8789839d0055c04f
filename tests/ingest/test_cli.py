"""`creditbridge ingest` and `creditbridge providers list` against a migrated SQLite file."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest
from typer.testing import CliRunner

from creditbridge.cli import context
from creditbridge.cli.app import app
from creditbridge.core.config import get_settings

from .conftest import codes, csv_bytes, tax_rows
from .test_streaming import _prepare

runner = CliRunner()


@pytest.fixture
def database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    _prepare(url)
    monkeypatch.setenv("CREDITBRIDGE_DATABASE_URL", url)
    get_settings.cache_clear()
    context.engine.cache_clear()
    yield url
    context.engine().dispose()
    context.engine.cache_clear()
    get_settings.cache_clear()


def ingest(*args: str):  # type: ignore[no-untyped-def]
    return runner.invoke(
        app,
        ["ingest", *args, "--dataset", "tax_payment", "--on-behalf-of", "tax", "--reason", "补报"],
    )


def test_exit_codes_applied_refused_unreadable(database: str, tmp_path: Path) -> None:
    good = tmp_path / "good.csv"
    good.write_bytes(csv_bytes(tax_rows(codes(5)), encoding="gbk"))
    result = ingest(str(good), "--json")
    assert result.exit_code == 0, result.output
    body = orjson.loads(result.stdout)
    assert (body["status"], body["rows_new"], body["encoding"]) == ("applied", 5, "gb18030")

    replay = ingest(str(good))
    assert replay.exit_code == 0
    assert "replay" in replay.stdout

    bad = tmp_path / "bad.csv"
    bad.write_bytes(csv_bytes([("x", "2026-09", "是", "1", "1", "1", "1")]))
    refused = ingest(str(bad))
    assert refused.exit_code == 1
    assert "INGEST-THRESHOLD" in refused.stdout
    assert "第2行" in refused.stdout

    empty = tmp_path / "empty.csv"
    empty.write_bytes(b"")
    assert ingest(str(empty)).exit_code == 2


def test_a_batch_id_reused_for_other_content_fails(database: str, tmp_path: Path) -> None:
    a, b = tmp_path / "a.csv", tmp_path / "b.csv"
    a.write_bytes(csv_bytes(tax_rows(codes(2))))
    b.write_bytes(csv_bytes(tax_rows(codes(2), revenue="9")))
    assert ingest(str(a), "--batch-id", "k").exit_code == 0
    clash = ingest(str(b), "--batch-id", "k")
    assert clash.exit_code == 1
    assert "CB-DUPLICATE-DELIVERY" in clash.output


def test_providers_list(database: str) -> None:
    table = runner.invoke(app, ["providers", "list"])
    assert table.exit_code == 0
    assert "税务局" in table.stdout
    listed = orjson.loads(runner.invoke(app, ["providers", "list", "--json"]).stdout)
    assert listed[0]["code"] == "tax"
    assert listed[0]["region"] == "安徽省"
