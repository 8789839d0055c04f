"""`creditbridge market outcomes` and `creditbridge market sweep` against a migrated SQLite file
holding a demo province."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest
from typer.testing import CliRunner

from creditbridge import migrations
from creditbridge.cli import context
from creditbridge.cli.app import app
from creditbridge.core.config import get_settings
from creditbridge.core.db import make_engine

runner = CliRunner()


@pytest.fixture
def database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    url = f"sqlite:///{tmp_path / 'market.db'}"
    engine = make_engine(url)
    migrations.upgrade(engine)
    engine.dispose()
    monkeypatch.setenv("CREDITBRIDGE_DATABASE_URL", url)
    get_settings.cache_clear()
    context.engine.cache_clear()
    yield url
    context.engine().dispose()
    context.engine.cache_clear()
    get_settings.cache_clear()


def test_outcomes_and_sweep_on_a_demo_province(database: str) -> None:
    empty = runner.invoke(app, ["market", "outcomes", "--json"])
    assert empty.exit_code == 0, empty.output
    assert orjson.loads(empty.stdout)["loans"] == 0
    generated = runner.invoke(app, ["demo", "generate", "--enterprises", "300", "--seed", "3"])
    assert generated.exit_code == 0, generated.output
    totals = orjson.loads(runner.invoke(app, ["market", "outcomes", "--json"]).stdout)
    assert totals["loans"] > 0
    assert totals["demands"] > 0
    assert 0 < totals["credit_share"] < 1
    assert totals["first_time_borrowers"] > 0
    by_city = orjson.loads(
        runner.invoke(app, ["market", "outcomes", "--json", "--by", "city"]).stdout
    )
    assert sum(r["loans"] for r in by_city) == totals["loans"]
    text = runner.invoke(app, ["market", "outcomes"])
    assert "首贷户" in text.stdout
    assert runner.invoke(app, ["market", "outcomes", "--by", "planet"]).exit_code == 2
    swept = runner.invoke(app, ["market", "sweep", "--today", "2026-12-31"])
    assert swept.exit_code == 0, swept.output
    assert "超时 expired" in swept.stdout
