"""`creditbridge catalog …` against a fresh SQLite file."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner, Result

from creditbridge.catalog import service
from creditbridge.cli import context
from creditbridge.cli.app import app
from creditbridge.core.config import get_settings

ToYaml = Callable[[dict[str, Any]], str]


def _reset_caches() -> None:
    if context.engine.cache_info().currsize:
        context.engine().dispose()
    context.engine.cache_clear()
    get_settings.cache_clear()


@pytest.fixture
def cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., Result]]:
    """Runs the command line on its own migrated SQLite database."""
    monkeypatch.setenv("CREDITBRIDGE_DATABASE_URL", f"sqlite:///{tmp_path / 'cli.db'}")
    _reset_caches()
    runner = CliRunner()

    def run(*args: str) -> Result:
        return runner.invoke(app, list(args))

    upgraded = run("db", "upgrade")
    assert upgraded.exit_code == 0, upgraded.output
    yield run
    _reset_caches()


def test_load_stores_the_bundled_list_then_reports_unchanged(cli: Callable[..., Result]) -> None:
    first = cli("catalog", "load")
    second = cli("catalog", "load", str(service.BUNDLED_CATALOG_PATH))

    assert first.exit_code == 0, first.output
    count = len(service.bundled_catalog().datasets)
    assert f"version 2021.1, {count} 个信息项" in first.stdout
    assert second.exit_code == 0
    assert "未变化 unchanged" in second.stdout


def test_list_prints_a_table_of_the_current_datasets(cli: Callable[..., Result]) -> None:
    cli("catalog", "load")

    result = cli("catalog", "list")

    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert "version 2021.1" in lines[0]
    assert lines[1].split() == ["code", "中文名", "category", "frequency", "disclosure", "fields"]
    penalty = next(line for line in lines if line.startswith("penalty "))
    assert penalty.split() == ["penalty", "行政处罚信息", "penalty", "daily", "public", "12"]


def test_list_json_is_a_list_of_dataset_objects(cli: Callable[..., Result]) -> None:
    cli("catalog", "load")

    result = cli("catalog", "list", "--json", "--version", "2021.1")

    assert result.exit_code == 0, result.output
    items = json.loads(result.stdout)
    assert [i["code"] for i in items] == service.bundled_catalog().dataset_codes
    assert items[0]["name_zh"] == "市场主体登记信息"


def test_list_before_any_load_says_how_to_load(cli: Callable[..., Result]) -> None:
    result = cli("catalog", "list")

    assert result.exit_code == 0
    assert "creditbridge catalog load" in result.stdout


def test_show_prints_the_dataset_and_its_fields(cli: Callable[..., Result]) -> None:
    cli("catalog", "load")

    result = cli("catalog", "show", "tax_payment")

    assert result.exit_code == 0, result.output
    assert "纳税信息 / Tax payments" in result.stdout
    assert "uscc, period" in result.stdout
    total = next(line for line in result.stdout.splitlines() if line.startswith("total_tax_paid"))
    assert total.split() == ["total_tax_paid", "实缴税额合计", "amount", "yuan", "yes", "3", "none"]


def test_show_json_gives_fields_with_enum_labels(cli: Callable[..., Result]) -> None:
    cli("catalog", "load")

    detail = json.loads(cli("catalog", "show", "penalty", "--json").stdout)

    severity = next(f for f in detail["fields"] if f["code"] == "severity")
    assert severity["enum_labels"]["serious"] == "严重"


def test_show_unknown_dataset_fails_with_one_chinese_line(cli: Callable[..., Result]) -> None:
    cli("catalog", "load")

    result = cli("catalog", "show", "loans")

    assert result.exit_code == 1
    assert "CB-NOT-FOUND" in result.stderr
    assert "没有数据项 loans" in result.stderr
    assert "Traceback" not in result.output


def test_load_of_a_malformed_file_prints_the_file_each_path_and_reason(
    cli: Callable[..., Result], tmp_path: Path, small_catalog: dict[str, Any], to_yaml: ToYaml
) -> None:
    small_catalog["datasets"][1]["natural_key"] = ["case_no"]
    small_catalog["datasets"][0]["fields"][1]["classification_level"] = 7
    bad = tmp_path / "bad-list.yaml"
    bad.write_text(to_yaml(small_catalog), encoding="utf-8")

    result = cli("catalog", "load", str(bad))

    assert result.exit_code == 1
    assert "CB-CATALOG-INVALID" in result.stderr
    assert "bad-list.yaml" in result.stderr
    assert "datasets[0].fields[1].classification_level" in result.stderr
    assert "数据分级 7 无效" in result.stderr
    assert "Traceback" not in result.output
    assert "尚未载入" in cli("catalog", "list").stdout


def test_versions_marks_the_current_one(
    cli: Callable[..., Result], tmp_path: Path, small_catalog: dict[str, Any], to_yaml: ToYaml
) -> None:
    cli("catalog", "load")
    other = tmp_path / "v9.yaml"
    other.write_text(to_yaml(small_catalog), encoding="utf-8")
    assert cli("catalog", "load", str(other)).exit_code == 0

    result = cli("catalog", "versions")

    rows = result.stdout.splitlines()[2:]
    assert [row.split()[:2] for row in rows] == [
        ["*", "9.1"],
        ["2021.1", "信用信息共享清单（2021年版）"],
    ]
