"""`creditbridge reference …` through Typer's runner."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from creditbridge.cli.reference import app

runner = CliRunner()


def test_uscc_human_output_marks_each_code_and_exits_1_when_any_is_invalid() -> None:
    result = runner.invoke(app, ["uscc", "91340100MA2T00015G", "91350203M0001QAY9B"])
    assert result.exit_code == 1
    assert "✓ 91340100MA2T00015G" in result.output
    assert "登记管理部门：9 工商" in result.output
    assert "340100 安徽省 / 合肥市" in result.output
    assert "✗ 91350203M0001QAY9B" in result.output
    assert "USCC-CHECK" in result.output
    assert "应为“9”" in result.output


def test_uscc_exits_0_when_all_codes_are_valid() -> None:
    result = runner.invoke(app, ["uscc", "91110000600037341L", "N2341822MF0000012X"])
    assert result.exit_code == 0, result.output
    assert "警告 USCC-DIVISION-HISTORICAL" in result.output


def test_uscc_json_prints_one_object_per_line_with_the_documented_keys() -> None:
    result = runner.invoke(app, ["uscc", "--json", "91340100MA2T00015G", "913401"])
    assert result.exit_code == 1
    lines = result.output.strip().splitlines()
    assert len(lines) == 2
    first, second = (json.loads(line) for line in lines)
    assert set(first) == {
        "code", "valid", "errors", "warnings", "authority", "entity_type", "division_code", "division_name",
    }  # fmt: skip
    assert first["valid"] is True
    assert first["division_name"] == "合肥市"
    assert second["errors"][0]["code"] == "USCC-LENGTH"
    assert "合肥市" in lines[0]  # ensure_ascii=False


def test_size_json_names_class_and_table_row() -> None:
    result = runner.invoke(
        app,
        ["size", "--industry", "C", "--employees", "280", "--revenue", "150000000", "--json"],
    )
    assert result.exit_code == 0, result.output
    payload = json.loads(result.output)
    assert payload["size_class"] == "small"
    assert payload["size_class_zh"] == "小型"
    assert payload["industry_row"] == "工业"


def test_size_human_output() -> None:
    result = runner.invoke(
        app, ["size", "--industry", "E", "--revenue", "900000000", "--assets", "790000000"]
    )
    assert result.exit_code == 0, result.output
    assert "中型（medium）" in result.output
    assert "建筑业" in result.output


def test_size_bad_industry_is_a_clear_error_with_exit_1() -> None:
    result = runner.invoke(app, ["size", "--industry", "99", "--employees", "3"])
    assert result.exit_code == 1
    assert "大类 99 不存在" in result.output


def test_size_missing_indicator_is_a_clear_error() -> None:
    result = runner.invoke(app, ["size", "--industry", "C", "--employees", "3"])
    assert result.exit_code == 1
    assert "营业收入" in result.output


def test_size_rejects_non_numeric_amount() -> None:
    result = runner.invoke(
        app, ["size", "--industry", "C", "--employees", "3", "--revenue", "lots"]
    )
    assert result.exit_code == 1
    assert "--revenue" in result.output


def test_division_shows_history_and_successor() -> None:
    result = runner.invoke(app, ["division", "340221"])
    assert result.exit_code == 0, result.output
    assert "芜湖县" in result.output
    assert "2020" in result.output
    assert "340210 湾沚区" in result.output


def test_division_json_and_unknown_code() -> None:
    result = runner.invoke(app, ["division", "--json", "340104"])
    assert json.loads(result.output)["parent_chain"][0]["name"] == "安徽省"
    assert runner.invoke(app, ["division", "999999"]).exit_code == 1


def test_reference_is_mounted_on_the_main_command() -> None:
    from creditbridge.cli.app import app as main_app

    result = runner.invoke(main_app, ["reference", "uscc", "--json", "91340100MA2T00015G"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["valid"] is True
