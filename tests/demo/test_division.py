"""`demo generate --division CODE`: a city node's demo, every enterprise inside one division."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Iterator
from datetime import date
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session
from typer.testing import CliRunner, Result

from creditbridge.cli import context
from creditbridge.cli.app import app
from creditbridge.core.actors import SYSTEM
from creditbridge.core.config import get_settings
from creditbridge.core.errors import ValidationFailed
from creditbridge.demo import service
from creditbridge.demo.models import DemoTruth
from creditbridge.demo.population import area_issue, build_population
from creditbridge.demo.timeline import Window
from creditbridge.marketplace.models import Loan
from creditbridge.subjects.models import Record, Subject
from demo.test_determinism import _fingerprint, _rolled_back

AS_OF = date(2026, 10, 31)

# The keys `demo generate --json` printed before --division, plus the division.
SUMMARY_KEYS = {
    "enterprises",
    "seed",
    "as_of",
    "division",
    "records",
    "records_by_dataset",
    "loans",
    "batches",
    "providers",
    "institutions",
    "products",
    "rows_total",
    "seconds",
    "rows_per_second",
    "stages",
}


def _subject_divisions(session: Session) -> list[str]:
    return [str(code) for code in session.scalars(select(Subject.division_code))]


# --- the service, on every store -----------------------------------------------------------------


def test_every_subject_of_a_city_run_lies_in_that_city(session: Session) -> None:
    summary = service.generate(
        session, SYSTEM, enterprises=120, seed=5, as_of=AS_OF, division="340200"
    )

    codes = _subject_divisions(session)
    assert summary.division == "340200"
    assert summary.enterprises == len(codes) == 120
    assert all(code.startswith("3402") and code != "340200" for code in codes)
    # Spread over the city's counties, not piled into one.
    assert len(set(codes)) > 3
    # Everything else follows the subjects: truth, records and loans are about them only.
    subject_ids = set(session.scalars(select(Subject.id)))
    assert set(session.scalars(select(DemoTruth.subject_id))) == subject_ids
    assert set(session.scalars(select(Record.subject_id).distinct())) == subject_ids
    loan_subjects = set(session.scalars(select(Loan.subject_id).distinct()))
    assert loan_subjects
    assert loan_subjects <= subject_ids


def test_a_county_run_lies_in_that_county(session: Session) -> None:
    summary = service.generate(
        session, SYSTEM, enterprises=60, seed=5, as_of=AS_OF, division="340207"
    )

    assert summary.division == "340207"
    assert _subject_divisions(session) == ["340207"] * 60
    assert session.scalar(select(func.count()).select_from(Record)) > 60


@pytest.mark.parametrize(
    ("code", "words"),
    [
        ("110000", "outside the demo province"),
        ("110100", "outside the demo province"),
        ("349999", "unknown"),
        ("34020", "unknown"),
        ("341400", "abolished"),
    ],
)
def test_a_division_outside_the_demo_province_is_refused(
    session: Session, code: str, words: str
) -> None:
    with pytest.raises(ValidationFailed) as refused:
        service.generate(session, SYSTEM, enterprises=10, seed=1, as_of=AS_OF, division=code)

    assert words in refused.value.message
    assert session.scalar(select(func.count()).select_from(Subject)) == 0


def _generate(engine: Engine, seed: int, division: str | None) -> str:
    with _rolled_back(engine) as session:
        service.generate(session, SYSTEM, enterprises=80, seed=seed, as_of=AS_OF, division=division)
        return _fingerprint(session.connection())


def test_the_same_seed_and_division_give_identical_rows(engine: Engine) -> None:
    first = _generate(engine, 7, "340200")
    again = _generate(engine, 7, "340200")

    assert first == again
    assert _generate(engine, 7, "340100") != first
    assert _generate(engine, 7, None) != first


# --- the population, pure ------------------------------------------------------------------------


def test_the_whole_province_as_division_draws_exactly_the_default() -> None:
    window = Window(AS_OF)
    default = build_population(3, 500, window=window, first_id=1)
    province = build_population(3, 500, window=window, first_id=1, area="340000")

    assert np.array_equal(default.uscc, province.uscc)
    assert np.array_equal(default.county, province.county)
    assert np.array_equal(default.name, province.name)
    assert len(set(default.city.tolist())) > 5


def test_n_enterprises_are_drawn_inside_the_division_not_filtered_down() -> None:
    population = build_population(3, 500, window=Window(AS_OF), first_id=1, area="340200")

    assert len(population) == 500
    assert set(population.city.tolist()) == {"340200"}
    assert all(code.startswith("3402") for code in population.county.tolist())
    assert all(address.startswith("安徽省芜湖市") for address in population.address.tolist())
    with pytest.raises(ValueError, match="outside the demo province"):
        build_population(3, 5, window=Window(AS_OF), first_id=1, area="320100")


def test_area_issue_accepts_current_units_of_the_demo_province_only() -> None:
    assert area_issue("340000") is None
    assert area_issue("340200") is None
    assert area_issue("340207") is None
    assert area_issue("341400") is not None  # 巢湖市, abolished in 2011
    assert area_issue("420100") is not None
    assert area_issue("not a code") is not None


# --- the command line, on a fresh SQLite file ----------------------------------------------------


def _reset_caches() -> None:
    if context.engine.cache_info().currsize:
        context.engine().dispose()
    context.engine.cache_clear()
    get_settings.cache_clear()


@pytest.fixture
def cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., Result]]:
    """Runs the command line on its own migrated SQLite database (``cli.db``)."""
    monkeypatch.setenv("CREDITBRIDGE_DATABASE_URL", f"sqlite:///{tmp_path / 'cli.db'}")
    _reset_caches()
    runner = CliRunner()

    def invoke(*args: str) -> Result:
        return runner.invoke(app, list(args))

    assert invoke("db", "upgrade").exit_code == 0
    yield invoke
    _reset_caches()


def _cli_divisions(tmp_path: Path) -> list[str]:
    with sqlite3.connect(tmp_path / "cli.db") as db:
        return [row[0] for row in db.execute("SELECT division_code FROM subject")]


def test_cli_generates_a_city_and_prints_the_division_in_the_json(
    cli: Callable[..., Result], tmp_path: Path
) -> None:
    result = cli("demo", "generate", "-n", "150", "--seed", "2", "--division", "340200", "--json")

    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert set(summary) == SUMMARY_KEYS
    assert summary["division"] == "340200"
    assert summary["enterprises"] == 150
    codes = _cli_divisions(tmp_path)
    assert len(codes) == 150
    assert all(code.startswith("3402") for code in codes)


def test_cli_json_without_a_division_keeps_its_shape(cli: Callable[..., Result]) -> None:
    result = cli("demo", "generate", "-n", "40", "--seed", "2", "--json", "-q")

    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert set(summary) == SUMMARY_KEYS
    assert summary["division"] is None


def test_cli_ensure_takes_a_county(cli: Callable[..., Result], tmp_path: Path) -> None:
    result = cli("demo", "ensure", "-n", "50", "--seed", "2", "--division", "340207", "-q")

    assert result.exit_code == 0, result.output
    assert "340207 鸠江区" in result.stdout
    assert _cli_divisions(tmp_path) == ["340207"] * 50


@pytest.mark.parametrize(
    ("code", "zh", "en"),
    [
        ("110000", "不在演示省份", "outside the demo province"),
        ("349999", "行政区划代码不存在", "unknown GB/T 2260 division code"),
    ],
)
def test_cli_refuses_a_division_outside_the_demo_province(
    cli: Callable[..., Result], tmp_path: Path, code: str, zh: str, en: str
) -> None:
    result = cli("demo", "generate", "-n", "20", "--seed", "1", "--division", code)

    assert result.exit_code == 1
    assert zh in result.stderr
    assert en in result.stderr
    assert "--division" in result.stderr
    assert _cli_divisions(tmp_path) == []
