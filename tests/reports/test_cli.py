"""`creditbridge report issue` and `verify`: exit 0 only for a genuine, unaltered report."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from creditbridge.cli import reports as cli
from creditbridge.core.config import get_settings

from .conftest import World

runner = CliRunner()


@pytest.fixture
def in_test_transaction(session: Session, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    @contextmanager
    def transaction() -> Iterator[Session]:
        yield session
        session.flush()

    monkeypatch.setattr(cli, "transaction", transaction)
    # The node is the test's database: `report verify` refuses to run where no node's data is
    # (it never creates a database or a key), so it must be pointed at this one.
    url = session.get_bind().engine.url.render_as_string(hide_password=False)
    monkeypatch.setenv("CREDITBRIDGE_DATABASE_URL", url)
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


@pytest.mark.usefixtures("in_test_transaction")
class TestCli:
    @pytest.mark.parametrize("fmt", ["html", "pdf"])
    def test_issue_then_verify(self, world: World, tmp_path: Path, fmt: str) -> None:
        out = tmp_path / f"report.{fmt}"
        issued = runner.invoke(
            cli.app, ["issue", world.subject.uscc, "--format", fmt, "--out", str(out)]
        )
        assert issued.exit_code == 0, issued.output
        assert "报告编号" in issued.output
        checked = runner.invoke(cli.app, ["verify", str(out)])
        assert checked.exit_code == 0, checked.output
        assert "genuine and unaltered" in checked.output

    def test_altered_copy_fails_naming_the_check(self, world: World, tmp_path: Path) -> None:
        out = tmp_path / "report.html"
        runner.invoke(cli.app, ["issue", world.subject.uscc, "--format", "html", "--out", str(out)])
        out.write_bytes(out.read_bytes().replace("守合同重信用企业".encode(), "假".encode(), 1))
        checked = runner.invoke(cli.app, ["verify", str(out)])
        assert checked.exit_code == 1
        assert "[file]" in checked.output

    def test_not_a_report_fails_the_format_check(self, tmp_path: Path, world: World) -> None:
        out = tmp_path / "x.pdf"
        out.write_bytes(b"%PDF-1.4 nothing")
        checked = runner.invoke(cli.app, ["verify", str(out)])
        assert checked.exit_code == 1
        assert "[format]" in checked.output

    def test_malformed_code_names_the_reason(self, tmp_path: Path, world: World) -> None:
        done = runner.invoke(cli.app, ["issue", "123", "--out", str(tmp_path / "x.pdf")])
        assert done.exit_code == 1
        assert "长度为3位" in done.output

    def test_unknown_code_is_not_found(self, tmp_path: Path, world: World) -> None:
        done = runner.invoke(
            cli.app, ["issue", "91340100MA2T000995", "--out", str(tmp_path / "x.pdf")]
        )
        assert done.exit_code == 1
        assert "未找到" in done.output
