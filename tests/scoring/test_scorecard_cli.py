"""`creditbridge scoring fit FILE.csv --target … --out card.json` and `scoring apply card.json
FILE.csv --out scored.csv`: the scorecard on an analyst's own table, no database."""

from __future__ import annotations

import csv
import itertools
from pathlib import Path

import numpy as np
import orjson
import pytest
from typer.testing import CliRunner

from creditbridge.cli.app import app
from creditbridge.scoring import domain

runner = CliRunner()


def write_table(
    path: Path, n: int = 1200, seed: int = 5, *, labels: tuple[str, str] = ("0", "1")
) -> None:
    """Risk falls with revenue and rises with arrears; sector matters; -999 is a special code
    of revenue ("not reported"); some values are missing; an id column is text noise."""
    rng = np.random.default_rng(seed)
    revenue = rng.lognormal(3, 1, n)
    arrears = rng.poisson(0.8, n)
    sector = rng.choice(["制造", "批发", "软件", "餐饮"], n)
    effect = {"制造": 0.0, "批发": 0.4, "软件": -0.6, "餐饮": 0.8}
    logit = -1.2 - 0.7 * (np.log(revenue) - 3) + 0.7 * arrears + np.vectorize(effect.get)(sector)
    bad = rng.uniform(size=n) < 1 / (1 + np.exp(-logit))
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["id", "revenue", "arrears", "sector", "default"])
        for i in range(n):
            value = "" if i % 23 == 0 else ("-999" if i % 31 == 0 else f"{revenue[i]:.2f}")
            writer.writerow([f"E{i:05d}", value, arrears[i], sector[i], labels[int(bad[i])]])


def run(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, ["scoring", *args])
    return result.exit_code, result.output + (result.stderr if result.stderr_bytes else "")


@pytest.fixture
def table(tmp_path: Path) -> Path:
    path = tmp_path / "loans.csv"
    write_table(path)
    return path


def test_fit_writes_a_card_and_apply_adds_a_score_that_is_higher_for_better_credit(
    table: Path, tmp_path: Path
) -> None:
    card_path, scored = tmp_path / "card.json", tmp_path / "scored.csv"
    code, output = run("fit", str(table), "--target", "default", "--out", str(card_path),
                       "--special", "-999")  # fmt: skip
    assert code == 0, output
    card = orjson.loads(card_path.read_bytes())
    by_name = {f["name"]: f for f in card["features"]}
    assert {"revenue", "arrears", "sector"} <= set(by_name)
    assert "id" not in by_name  # a text column with a value per row is an identifier
    revenue = by_name["revenue"]["bins"]
    assert [b for b in revenue if b.get("missing")]
    assert [b for b in revenue if b.get("special")]
    assert next(b for b in revenue if b.get("special"))["values"] == [-999.0]
    value_bins = [b for b in revenue if "lower" in b]
    assert value_bins[0]["lower"] is None
    assert value_bins[-1]["upper"] is None
    assert all(a["upper"] == b["lower"] for a, b in itertools.pairwise(value_bins))
    points = [b["points"] for b in value_bins]
    assert points == sorted(points)  # more revenue, more points
    assert all("categories" in b for b in by_name["sector"]["bins"] if not b.get("missing"))

    code, output = run("apply", str(card_path), str(table), "--out", str(scored))
    assert code == 0, output
    with scored.open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert list(rows[0]) == ["id", "revenue", "arrears", "sector", "default", "score"]
    assert rows[0]["id"] == "E00000"
    assert rows[0]["revenue"] == ""
    score = np.asarray([int(r["score"]) for r in rows])
    bad = np.asarray([r["default"] == "1" for r in rows])
    assert domain.auc(bad, -score) > 0.7
    # The score is the base plus one bin's points per feature, exactly as the card says.
    for row, value in zip(rows[:60], score[:60], strict=True):
        assert value == card["base"] + sum(_points(f, row[f["name"]]) for f in card["features"])


def _points(feature: dict[str, object], text: str) -> int:
    bins: list[dict[str, object]] = feature["bins"]  # type: ignore[assignment]
    if text == "":
        return next(int(b["points"]) for b in bins if b.get("missing"))  # type: ignore[call-overload]
    for b in bins:  # a special value's bin wins over the value bin the number falls in
        if b.get("special") and float(text) in b["values"]:  # type: ignore[operator]
            return int(b["points"])  # type: ignore[call-overload]
    for b in bins:
        if "categories" in b and text in b["categories"]:  # type: ignore[operator]
            return int(b["points"])  # type: ignore[call-overload]
        if "lower" in b:
            low, high = b["lower"], b["upper"]
            if (low is None or float(text) >= low) and (high is None or float(text) < high):  # type: ignore[operator]
                return int(b["points"])  # type: ignore[call-overload]
    raise AssertionError(f"no bin for {text!r}")


def test_bad_value_names_which_label_is_bad(tmp_path: Path) -> None:
    path, card = tmp_path / "labels.csv", tmp_path / "card.json"
    write_table(path, labels=("good", "bad"))
    code, output = run("fit", str(path), "--target", "default", "--out", str(card))
    assert code == 2
    assert "“default”" in output
    assert "--bad-value" in output
    code, output = run("fit", str(path), "--target", "default", "--out", str(card),
                       "--bad-value", "bad")  # fmt: skip
    assert code == 0, output
    assert orjson.loads(card.read_bytes())["bad_value"] == "bad"


def test_a_missing_target_column_is_refused_naming_it(table: Path, tmp_path: Path) -> None:
    code, output = run("fit", str(table), "--target", "违约", "--out", str(tmp_path / "c.json"))
    assert code == 2
    assert "目标列“违约”不在文件中" in output
    assert not (tmp_path / "c.json").exists()


def test_a_target_with_three_values_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "three.csv"
    path.write_text("x,y\n" + "".join(f"{i},{i % 3}\n" for i in range(300)), encoding="utf-8")
    code, output = run("fit", str(path), "--target", "y", "--out", str(tmp_path / "c.json"))
    assert code == 2
    assert "目标列“y”必须恰好有两种取值" in output
    assert "3 种" in output


def test_an_empty_target_cell_is_refused_naming_the_row(tmp_path: Path) -> None:
    path = tmp_path / "hole.csv"
    path.write_text("x,y\n1,0\n2,\n3,1\n", encoding="utf-8")
    code, output = run("fit", str(path), "--target", "y", "--out", str(tmp_path / "c.json"))
    assert code == 2
    assert "第 3 行的目标列“y”为空" in output


@pytest.mark.parametrize("content", ["", "x,y\n"])
def test_an_empty_file_is_refused(tmp_path: Path, content: str) -> None:
    path = tmp_path / "empty.csv"
    path.write_text(content, encoding="utf-8")
    code, output = run("fit", str(path), "--target", "y", "--out", str(tmp_path / "c.json"))
    assert code == 2
    assert "是空的" in output or "没有数据行" in output


def test_apply_refuses_a_file_without_a_column_of_the_card(table: Path, tmp_path: Path) -> None:
    card = tmp_path / "card.json"
    assert run("fit", str(table), "--target", "default", "--out", str(card))[0] == 0
    other = tmp_path / "other.csv"
    other.write_text("id,revenue,sector\nE1,10,软件\n", encoding="utf-8")
    code, output = run("apply", str(card), str(other), "--out", str(tmp_path / "s.csv"))
    assert code == 2
    assert "文件缺少评分卡需要的列：arrears" in output
    assert not (tmp_path / "s.csv").exists()


def test_apply_refuses_text_in_a_numeric_column_naming_the_row(table: Path, tmp_path: Path) -> None:
    card = tmp_path / "card.json"
    assert run("fit", str(table), "--target", "default", "--out", str(card))[0] == 0
    other = tmp_path / "other.csv"
    other.write_text("id,revenue,arrears,sector\nE1,10,0,软件\nE2,12,many,软件\n", encoding="utf-8")
    code, output = run("apply", str(card), str(other), "--out", str(tmp_path / "s.csv"))
    assert code == 2
    assert "第 3 行“arrears”列的值“many”不是数字" in output


def test_an_unseen_category_scores_as_missing(table: Path, tmp_path: Path) -> None:
    card_path, scored = tmp_path / "card.json", tmp_path / "scored.csv"
    assert run("fit", str(table), "--target", "default", "--out", str(card_path))[0] == 0
    other = tmp_path / "other.csv"
    other.write_text("revenue,arrears,sector\n10,0,航天\n10,0,\n", encoding="utf-8")
    code, output = run("apply", str(card_path), str(other), "--out", str(scored))
    assert code == 0, output
    with scored.open(encoding="utf-8") as handle:
        first, second = (int(r["score"]) for r in csv.DictReader(handle))
    assert first == second
