"""`creditbridge scoring …` end to end on a generated province in a SQLite file."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path

import orjson
import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from creditbridge import migrations
from creditbridge.cli import context
from creditbridge.cli.app import app
from creditbridge.core.actors import SYSTEM
from creditbridge.core.config import get_settings
from creditbridge.core.db import make_engine, make_sessionmaker, session_scope
from creditbridge.demo import service as demo_service
from creditbridge.subjects.models import Subject

runner = CliRunner()


@pytest.fixture
def database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    engine = make_engine(url)
    migrations.upgrade(engine)
    with session_scope(make_sessionmaker(engine)) as session:
        demo_service.generate(session, SYSTEM, enterprises=1500, seed=11, as_of=date(2026, 10, 31))
    engine.dispose()
    monkeypatch.setenv("CREDITBRIDGE_DATABASE_URL", url)
    get_settings.cache_clear()
    context.engine.cache_clear()
    yield url
    context.engine().dispose()
    context.engine.cache_clear()
    get_settings.cache_clear()


def scoring(*args: str):  # type: ignore[no-untyped-def]
    return runner.invoke(app, ["scoring", *args])


def test_snapshot_train_validate_approve_run_show(database: str, tmp_path: Path) -> None:
    root = str(tmp_path / "lab")
    done = scoring("snapshot", "--dir", root, "--as-of", "2026-10-31")
    assert done.exit_code == 0, done.output
    done = scoring("train", "--dir", root, "--kind", "expert")
    assert done.exit_code == 0, done.output
    done = scoring("validate", "--dir", root)
    assert done.exit_code == 0, done.output
    reports = list((tmp_path / "lab" / "reports").glob("*.html"))
    assert len(reports) == 1
    assert "echarts" in reports[0].read_text("utf-8")
    done = scoring("approve", "--kind", "expert")
    assert done.exit_code == 0, done.output
    done = scoring("run", "--dir", root)
    assert done.exit_code == 0, done.output
    assert "1500 评分 scored" in done.output

    engine = make_engine(database)
    with engine.connect() as connection:
        uscc = connection.execute(select(Subject.uscc).order_by(Subject.id).limit(1)).scalar_one()
    engine.dispose()
    shown = scoring("show", uscc, "--json")
    assert shown.exit_code == 0, shown.output
    body = orjson.loads(shown.stdout)
    assert {"score", "grade", "reasons", "model_version"} <= set(body)
    assert body["grade"] in ("AAA", "AA", "A", "BBB", "BB", "B", "CCC", "CC", "C")
    text = scoring("show", uscc)
    assert text.exit_code == 0
    assert "分" in text.stdout

    sql = scoring("export-sql", body["model_version"])
    assert sql.exit_code == 0
    assert "CASE WHEN" in sql.stdout
    assert scoring("show", "91340100MA2NNONE1X").exit_code == 1


def test_training_on_too_few_outcomes_is_refused_with_a_reason(
    database: str, tmp_path: Path
) -> None:
    root = str(tmp_path / "lab")
    assert scoring("snapshot", "--dir", root, "--as-of", "2026-10-31").exit_code == 0
    refused = scoring("train", "--dir", root, "--kind", "scorecard")
    assert refused.exit_code == 1
    assert "CB-SCORING-TRAINING-REFUSED" in refused.output
    assert "坏样本" in refused.output


def test_commands_without_a_snapshot_say_so(database: str, tmp_path: Path) -> None:
    result = scoring("train", "--dir", str(tmp_path / "none"))
    assert result.exit_code == 1
    assert "scoring snapshot" in result.output
