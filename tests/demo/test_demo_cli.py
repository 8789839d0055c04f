"""`creditbridge demo …` against a fresh SQLite file."""

from __future__ import annotations

import csv
import json
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from creditbridge.cli import context
from creditbridge.cli.app import app
from creditbridge.core.config import get_settings


def _reset_caches() -> None:
    if context.engine.cache_info().currsize:
        context.engine().dispose()
    context.engine.cache_clear()
    get_settings.cache_clear()


@pytest.fixture
def run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., Result]]:
    """Runs the command line on its own (not yet migrated) SQLite database."""
    monkeypatch.setenv("CREDITBRIDGE_DATABASE_URL", f"sqlite:///{tmp_path / 'cli.db'}")
    _reset_caches()
    runner = CliRunner()

    def invoke(*args: str) -> Result:
        return runner.invoke(app, list(args))

    yield invoke
    _reset_caches()


def test_generate_asks_for_a_migrated_database(run: Callable[..., Result]) -> None:
    result = run("demo", "generate", "--enterprises", "50", "--seed", "1")

    assert result.exit_code == 1
    assert "creditbridge db upgrade" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_generate_prints_a_summary_then_refuses_a_second_run(run: Callable[..., Result]) -> None:
    assert run("db", "upgrade").exit_code == 0

    first = run("demo", "generate", "--enterprises", "300", "--seed", "5", "--quiet")
    second = run("demo", "generate", "--enterprises", "300", "--seed", "5")

    assert first.exit_code == 0, first.output
    assert "300 个信用主体" in first.stdout
    assert "tax_payment" in first.stdout
    assert "纳税信息" in first.stdout
    assert "rows/s" in first.stdout
    assert second.exit_code == 1
    assert "已有 300 个信用主体" in second.stderr


def test_generate_json_summary(run: Callable[..., Result]) -> None:
    assert run("db", "upgrade").exit_code == 0

    result = run(
        "demo", "generate", "-n", "200", "--seed", "2", "--as-of", "2026-06-30", "--json", "-q"
    )

    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["enterprises"] == 200
    assert summary["as_of"] == "2026-06-30"
    assert summary["records"] == sum(summary["records_by_dataset"].values()) > 0
    assert summary["rows_total"] > summary["records"]


def test_ensure_generates_once(run: Callable[..., Result]) -> None:
    assert run("db", "upgrade").exit_code == 0

    first = run("demo", "ensure", "-n", "120", "--seed", "3", "-q")
    second = run("demo", "ensure", "-n", "120", "--seed", "3", "-q")

    assert first.exit_code == 0, first.output
    assert "120 个信用主体" in first.stdout
    assert second.exit_code == 0
    assert "已有 120 个信用主体" in second.stdout


def test_truth_export_writes_one_row_per_subject(
    run: Callable[..., Result], tmp_path: Path
) -> None:
    assert run("db", "upgrade").exit_code == 0
    assert run("demo", "generate", "-n", "150", "--seed", "4", "-q").exit_code == 0
    out = tmp_path / "truth.csv"

    result = run("demo", "truth-export", "--out", str(out))

    assert result.exit_code == 0, result.output
    with out.open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 150
    assert set(rows[0]) == {"subject_id", "uscc", "risk", "true_pd", "defaulted", "seed"}
    assert {row["seed"] for row in rows} == {"4"}
    assert all(0 < float(row["true_pd"]) < 1 for row in rows)


def test_truth_export_refuses_other_formats(run: Callable[..., Result], tmp_path: Path) -> None:
    assert run("db", "upgrade").exit_code == 0

    result = run("demo", "truth-export", "--out", str(tmp_path / "truth.parquet"))

    assert result.exit_code == 1
    assert "CSV" in result.stderr


def test_generate_rejects_a_malformed_as_of_date(run: Callable[..., Result]) -> None:
    assert run("db", "upgrade").exit_code == 0

    result = run("demo", "generate", "-n", "10", "--seed", "1", "--as-of", "31/10/2026")

    assert result.exit_code == 1
    assert "YYYY-MM-DD" in result.stderr
