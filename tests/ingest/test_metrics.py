"""Collection metrics computed by the job from the analytics path, with known answers, on both
stores (see collection_data.py for the province and why each figure is what it is)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from io import BytesIO
from pathlib import Path

import orjson
import pytest
from openpyxl import load_workbook
from sqlalchemy import select
from sqlalchemy.orm import Session

from creditbridge.core.config import Settings
from creditbridge.core.errors import ValidationFailed
from creditbridge.ingest import jobs, metrics
from creditbridge.ingest.models import CollectionMetric

from .collection_data import AS_OF, MONTH, TAX_DEADLINE, WATER_DEADLINE, Province, build_province


@pytest.fixture
def province(session: Session) -> Province:
    return build_province(session)


@pytest.fixture
def computed(session: Session, province: Province, tmp_path: Path) -> Province:
    metrics.compute_collection_metrics(
        session, month=MONTH, as_of=AS_OF, settings=Settings(analytics_dir=tmp_path)
    )
    return province


def _rows(session: Session, province: Province) -> dict[tuple[str, str, str], CollectionMetric]:
    names = {v: k for k, v in province.providers.items()}
    return {
        (r.dataset_code, r.city_code, names[r.provider_id]): r
        for r in session.scalars(select(CollectionMetric).where(CollectionMetric.month == MONTH))
    }


def test_one_row_per_dataset_city_provider_with_exact_counts(
    session: Session, computed: Province
) -> None:
    rows = _rows(session, computed)
    assert sorted(rows) == [
        ("penalty", "340100", "samr"), ("penalty", "340200", "samr"),
        ("social_insurance", "340100", "hrss"), ("social_insurance", "340200", "hrss"),
        ("tax_payment", "340100", "tax"), ("tax_payment", "340200", "tax"),
        ("utility_water", "340100", "water"),
    ]  # fmt: skip
    fields = (
        "cadence", "deliveries_due", "deliveries_made", "deliveries_on_time", "batches_applied",
        "batches_refused", "coverage_expected", "coverage_covered", "records_total",
        "records_complete", "months_since_delivery",
    )  # fmt: skip
    got = {key: tuple(getattr(row, f) for f in fields) for key, row in rows.items()}
    assert got == {
        # the late tax batch (after as-of) does not count: H4 stays uncovered; H5 is deregistered
        ("tax_payment", "340100", "tax"): ("periodic", 1, 1, 1, 1, 0, 4, 3, 3, 2, 0),
        ("tax_payment", "340200", "tax"): ("periodic", 1, 1, 1, 1, 0, 2, 1, 1, 1, 0),
        # refused, then late; panel = H1, H2 from August
        ("utility_water", "340100", "water"): ("periodic", 1, 1, 0, 1, 1, 2, 1, 1, 1, 0),
        # an event dataset: judged on the delivery made; not coverage-measured
        ("penalty", "340100", "samr"): ("event", 1, 1, 1, 1, 0, None, None, 0, 0, 0),
        ("penalty", "340200", "samr"): ("event", 1, 1, 1, 1, 0, None, None, 1, 1, 0),
        # owed, never delivered
        ("social_insurance", "340100", "hrss"): ("periodic", 1, 0, 0, 0, 0, 0, 0, 0, 0, None),
        ("social_insurance", "340200", "hrss"): ("periodic", 1, 0, 0, 0, 0, 0, 0, 0, 0, None),
    }
    assert rows[("tax_payment", "340100", "tax")].deadline_date == TAX_DEADLINE
    assert rows[("utility_water", "340100", "water")].deadline_date == WATER_DEADLINE
    assert rows[("utility_water", "340100", "water")].first_received_date == date(2026, 11, 10)
    assert rows[("penalty", "340100", "samr")].deadline_date == metrics.deadline_for(
        date(2026, 9, 1), "daily", 7
    )


def test_overview_rates_and_collection_rate(session: Session, computed: Province) -> None:
    overview = metrics.get_overview(session, month=MONTH)
    by_code = {d.code: d for d in overview.datasets}
    tax = by_code["tax_payment"].figures
    assert (tax.timeliness, tax.coverage, tax.completeness) == (1.0, 4 / 6, 3 / 4)
    assert by_code["tax_payment"].shortfalls == ["coverage", "completeness"]
    water = by_code["utility_water"].figures
    assert (water.timeliness, water.coverage, water.completeness) == (0.0, 0.5, 1.0)
    assert by_code["social_insurance"].shortfalls == ["stale", "timeliness", "coverage"]
    assert by_code["penalty"].meets
    assert by_code["penalty"].figures.coverage is None
    assert by_code["registration"].shortfalls == ["no_provider"]
    # 1 dataset of the 30 on the list meets the bar
    assert (overview.met, overview.list_size) == (1, 30)
    assert overview.rate == pytest.approx(1 / 30)
    assert [(c.code, c.met) for c in overview.cities] == [("340100", 1), ("340200", 1)]
    assert overview.target == 1.0


def test_a_looser_bar_lets_more_datasets_meet_it(session: Session, computed: Province) -> None:
    bar = metrics.CollectionBar(timeliness=0.0, coverage=0.5, completeness=0.5)
    overview = metrics.get_overview(session, month=MONTH, bar=bar)
    assert {d.code for d in overview.datasets if d.meets} == {
        "penalty",
        "tax_payment",
        "utility_water",
    }


def test_recomputing_replaces_the_month(
    session: Session, computed: Province, tmp_path: Path
) -> None:
    before = len(_rows(session, computed))
    # Later, the late tax batch has arrived: H4 is now covered.
    later = AS_OF.replace(month=12, day=31)
    metrics.compute_collection_metrics(
        session, month=MONTH, as_of=later, settings=Settings(analytics_dir=tmp_path)
    )
    rows = _rows(session, computed)
    assert len(rows) == before
    tax = rows[("tax_payment", "340100", "tax")]
    assert (tax.coverage_covered, tax.batches_applied, tax.deliveries_on_time) == (4, 2, 1)
    assert not list((tmp_path / "collection").iterdir()), "the snapshot is removed afterwards"


def test_batches_counted_for_the_month(session: Session, computed: Province) -> None:
    water = metrics.list_month_batches(
        session, month=MONTH, dataset_code="utility_water",
        provider_id=computed.providers["water"],
    )  # fmt: skip
    assert [b.batch_key for b in water] == ["water-09-refused", "water-09"]


def test_overdue_list_per_provider_in_working_days(session: Session, computed: Province) -> None:
    overdue = metrics.list_overdue(session, month=MONTH, today=date(2026, 11, 30))
    assert [p.provider_name for p in overdue] == ["测试hrss"]
    (item,) = overdue[0].items
    assert (item.dataset_code, item.cities) == ("social_insurance", 2)
    assert item.deadline == TAX_DEADLINE  # social insurance, like tax, is due 20 working days on
    assert item.working_days_overdue == 19


def test_month_before_any_data_is_empty_not_an_error(
    session: Session, province: Province, tmp_path: Path
) -> None:
    metrics.compute_collection_metrics(
        session, month="2026-01", as_of=AS_OF, settings=Settings(analytics_dir=tmp_path)
    )
    overview = metrics.get_overview(session, month="2026-03")
    assert overview.is_empty
    assert overview.met == 0


def test_excel_export_has_a_row_per_metric(session: Session, computed: Province) -> None:
    data = metrics.export_xlsx(session, months=[MONTH])
    sheet = load_workbook(BytesIO(data)).active
    assert sheet is not None
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0][:3] == ("月份", "数据项代码", "数据项")
    assert len(rows) == 1 + 7
    assert {r[1] for r in rows[1:]} == {
        "penalty",
        "social_insurance",
        "tax_payment",
        "utility_water",
    }


def test_job_entry_point_computes_the_month(
    session: Session, province: Province, tmp_path: Path
) -> None:
    outcome = jobs.compute_collection_metrics(
        session, month=MONTH, as_of=AS_OF, settings=Settings(analytics_dir=tmp_path)
    )
    assert (outcome.month, outcome.rows, outcome.batches) == (MONTH, 7, 4)


@pytest.mark.parametrize("text", ["2026-9", "2026-13", "202609", "x"])
def test_bad_month_is_refused(text: str) -> None:
    with pytest.raises(ValidationFailed):
        metrics.parse_month(text)


@pytest.mark.parametrize(
    ("frequency", "sla", "end", "window"),
    [
        ("monthly", 20, date(2026, 9, 30), 20),
        ("quarterly", 15, date(2026, 9, 30), 15),
        ("yearly", 30, date(2026, 12, 31), 30),
        ("daily", 1, date(2026, 9, 30), 10),
        ("on_change", None, date(2026, 9, 30), 10),
    ],
)
def test_deadline_is_period_end_plus_window(
    frequency: str, sla: int | None, end: date, window: int
) -> None:
    assert (
        metrics.period_end(
            date(2026, 8, 1) if frequency == "quarterly" else date(2026, 9, 1), frequency
        )
        == end
    )
    assert metrics.window_days(frequency, sla) == window


# ------------------------------------------------------------------ the CLI (a migrated SQLite file)


@pytest.fixture
def cli_database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    from creditbridge import migrations
    from creditbridge.cli import context
    from creditbridge.core.config import get_settings
    from creditbridge.core.db import make_engine, make_sessionmaker, session_scope

    url = f"sqlite:///{tmp_path / 'cli.db'}"
    engine = make_engine(url)
    migrations.upgrade(engine)
    with session_scope(make_sessionmaker(engine)) as session:
        build_province(session)
    engine.dispose()
    monkeypatch.setenv("CREDITBRIDGE_DATABASE_URL", url)
    monkeypatch.setenv("CREDITBRIDGE_ANALYTICS_DIR", str(tmp_path / "analytics"))
    get_settings.cache_clear()
    context.engine.cache_clear()
    yield url
    context.engine().dispose()
    context.engine.cache_clear()
    get_settings.cache_clear()


def test_cli_compute_then_report_as_json_and_table(cli_database: str, tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from creditbridge.cli.app import app

    runner = CliRunner()
    before = runner.invoke(app, ["collection", "report", "--month", MONTH])
    assert before.exit_code == 1
    assert "collection compute" in before.output

    done = runner.invoke(
        app, ["collection", "compute", "--month", MONTH, "--last", "2", "--as-of", "2026-11-30"]
    )
    assert done.exit_code == 0, done.output
    assert "2026-08:" in done.stdout
    assert "2026-09: 7 " in done.stdout

    report = runner.invoke(app, ["collection", "report", "--month", MONTH, "--json"])
    assert report.exit_code == 0, report.output
    body = orjson.loads(report.stdout)
    assert (body["datasets_meeting_bar"], body["datasets_on_list"]) == (1, 30)
    tax = next(d for d in body["datasets"] if d["code"] == "tax_payment")
    assert (tax["coverage_expected"], tax["coverage_covered"], tax["records_complete"]) == (6, 4, 3)
    assert [c["code"] for c in body["cities"]] == ["340100", "340200"]

    table = runner.invoke(app, ["collection", "report", "--month", MONTH])
    assert table.exit_code == 0
    assert "归集率 collection rate 3.3% (1/30" in table.stdout

    out = tmp_path / "metrics.xlsx"
    exported = runner.invoke(app, ["collection", "export", "--month", MONTH, "-o", str(out)])
    assert exported.exit_code == 0
    assert out.stat().st_size > 0

    bad = runner.invoke(app, ["collection", "report", "--month", "2026/09"])
    assert bad.exit_code == 1
