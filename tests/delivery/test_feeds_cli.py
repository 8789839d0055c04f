"""`creditbridge feeds read|export|purge`: the console reads any institution's feed with the same
cursors its system gets, writes the nightly files and purges past retention."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy.orm import Session
from typer.testing import CliRunner

import factories
from creditbridge.access.models import Institution
from creditbridge.cli import feeds as cli
from creditbridge.core.clock import FrozenClock
from creditbridge.core.config import get_settings
from creditbridge.delivery import service

runner = CliRunner()


@pytest.fixture
def files(session: Session, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Path]:
    """The commands run in the test's transaction, on its database, with the node's default
    secret key (so cursors are the ones the API would give) and feed files under tmp_path."""

    @contextmanager
    def transaction() -> Iterator[Session]:
        yield session
        session.flush()

    monkeypatch.setattr(cli, "transaction", transaction)
    url = session.get_bind().engine.url.render_as_string(hide_password=False)
    monkeypatch.setenv("CREDITBRIDGE_DATABASE_URL", url)
    monkeypatch.setenv("CREDITBRIDGE_WORKER_FEED_FILES_DIR", str(tmp_path / "feeds"))
    monkeypatch.setenv("CREDITBRIDGE_WORKER_FEED_RETENTION_DAYS", "30")
    get_settings.cache_clear()
    yield tmp_path / "feeds"
    get_settings.cache_clear()


@pytest.fixture
def bank(session: Session, frozen_clock: FrozenClock) -> Institution:
    return factories.institution(session, code="cli-feed-bank", name="徽商银行")


def _emit(session: Session, institution_id: int, n: int) -> str:
    return service.emit(
        session,
        event_type="consent.approve",
        payload={"n": n, "名称": "合肥样例"},
        institution_id=institution_id,
    ).message_id


@pytest.mark.usefixtures("files")
def test_read_pages_with_the_institutions_own_cursors(session: Session, bank: Institution) -> None:
    ids = [_emit(session, bank.id, n) for n in range(3)]
    other = factories.institution(session, code="cli-feed-other")
    _emit(session, other.id, 9)

    first = runner.invoke(
        cli.app, ["read", "consent", "--institution", str(bank.id), "--limit", "2", "--json"]
    )
    assert first.exit_code == 0, first.output
    page = json.loads(first.stdout)
    assert [e["id"] for e in page["events"]] == ids[:2]
    assert page["has_more"] is True
    rest = runner.invoke(
        cli.app,
        [
            "read",
            "consent",
            "--institution",
            str(bank.id),
            "--after",
            page["next_cursor"],
            "--json",
        ],
    )
    assert [e["id"] for e in json.loads(rest.stdout)["events"]] == ids[2:]
    # The cursor is the institution's: its own system resumes from it.
    officer = factories.officer(bank, id=1)
    resumed = service.read_feed(
        session, officer, topic="consent", after=page["next_cursor"], settings=get_settings()
    )
    assert [e["id"] for e in resumed.events] == ids[2:]
    table = runner.invoke(cli.app, ["read", "consent"])
    assert table.exit_code == 0
    assert "consent.approve" in table.stdout
    assert "has_more: no" in table.stdout


@pytest.mark.usefixtures("files")
def test_read_refuses_a_cursor_never_issued(bank: Institution) -> None:
    done = runner.invoke(
        cli.app, ["read", "consent", "--institution", str(bank.id), "--after", "MTA.forged"]
    )
    assert done.exit_code == 1
    assert "CB-FEED-CURSOR-UNKNOWN" in done.output
    unknown = runner.invoke(cli.app, ["read", "loans"])
    assert unknown.exit_code == 1
    assert "CB-FEED-TOPIC-UNKNOWN" in unknown.output


def test_export_writes_the_days_files_and_prints_their_paths(
    session: Session, bank: Institution, files: Path, frozen_clock: FrozenClock
) -> None:
    frozen_clock.current = datetime(2026, 1, 5, 2, 0, tzinfo=UTC)
    ids = [_emit(session, bank.id, n) for n in range(2)]

    done = runner.invoke(
        cli.app, ["export", "--day", "2026-01-05", "--format", "csv", "--encoding", "gbk"]
    )

    assert done.exit_code == 0, done.output
    target = files / "cli-feed-bank" / "consent-2026-01-05.csv"
    assert done.stdout.split() == [str(target)]
    text = target.read_bytes().decode("gbk")
    assert text.splitlines()[0] == "cursor,id,type,created_at,data"
    assert [line.split(",")[1] for line in text.splitlines()[1:]] == ids
    assert "合肥样例" in text
    empty = runner.invoke(cli.app, ["export", "--day", "2025-01-01"])
    assert (empty.exit_code, empty.stdout) == (0, "")
    for bad in (["--day", "5 January"], ["--day", "2026-01-05", "--format", "xml"]):
        assert runner.invoke(cli.app, ["export", *bad]).exit_code != 0


@pytest.mark.usefixtures("files")
def test_purge_reports_how_many_went(
    session: Session, bank: Institution, frozen_clock: FrozenClock
) -> None:
    for n in range(2):
        _emit(session, bank.id, n)
    frozen_clock.advance(timedelta(days=31))
    _emit(session, bank.id, 3)

    done = runner.invoke(cli.app, ["purge"])

    assert done.exit_code == 0, done.output
    assert "purged: 2" in done.stdout
    assert "purged: 0" in runner.invoke(cli.app, ["purge"]).stdout
