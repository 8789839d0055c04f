"""`creditbridge node …` as the checks and the demo network use it: init, identity, peers add,
admit, revoke and status --json with exactly the documented keys; refusals as one line, exit 1."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import orjson
import pytest
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from creditbridge.cli import node as cli
from creditbridge.cli.app import app
from creditbridge.core.config import get_settings
from creditbridge.exchange import identity

from .helpers import ASSESSMENT, peer_document

runner = CliRunner()
PEER_KEYS = [
    "code",
    "relation",
    "status",
    "packages_sent",
    "packages_received",
    "records_received",
    "lag",
    "last_sync_at",
]


@pytest.fixture(autouse=True)
def in_test_transaction(session: Session, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Each command runs in the test's rolled-back session."""

    @contextmanager
    def transaction() -> Iterator[Session]:
        yield session
        session.flush()

    monkeypatch.setattr(cli, "transaction", transaction)
    monkeypatch.setenv("CREDITBRIDGE_ENV", "test")
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def _run(*args: str) -> Any:
    done = runner.invoke(app, ["node", *args])
    assert done.exit_code == 0, done.output
    return orjson.loads(done.stdout) if "--json" in args else done.stdout


def _init() -> Any:
    return _run(
        "init",
        "--code",
        "340000",
        "--level",
        "province",
        "--name",
        "安徽省融资信用服务平台",
        "--url",
        "http://127.0.0.1:8001",
        "--json",
    )


def _write(path: Path, document: dict[str, Any]) -> str:
    path.write_bytes(orjson.dumps(document))
    return str(path)


def test_init_then_identity_writes_a_document_that_verifies(tmp_path: Path) -> None:
    node = _init()
    out = tmp_path / "province.json"

    _run("identity", "--out", str(out))

    parsed = identity.parse(orjson.loads(out.read_bytes()))
    assert (parsed.code, parsed.level) == ("340000", "province")
    assert parsed.signed_by == node["key_id"]


def test_peers_add_admit_revoke_and_status(tmp_path: Path) -> None:
    _init()
    national = _write(tmp_path / "national.json", peer_document("100000", "national"))
    city = _write(tmp_path / "city.json", peer_document("340100", "city"))

    added = _run("peers", "add", national, "--relation", "upstream", "--json")
    assert added["status"] == "applied"
    _run("peers", "add", city, "--relation", "downstream")
    assessment = _write(tmp_path / "assessment.json", ASSESSMENT)
    _run("assess", "340100", "--file", assessment)
    assert "admitted" in _run("admit", "340100", "--reason", "材料齐全")
    _run("admit", "100000")
    assert "revoked" in _run("revoke", "340100", "--reason", "违反安全规定")

    status = _run("status", "--json")

    assert list(status) == ["node", "records_local", "peers"]
    assert status["node"]["code"] == "340000"
    assert status["records_local"] == 0
    assert [list(p) for p in status["peers"]] == [PEER_KEYS, PEER_KEYS]
    assert {p["code"]: (p["relation"], p["status"]) for p in status["peers"]} == {
        "100000": ("upstream", "admitted"),
        "340100": ("downstream", "revoked"),
    }


def test_a_refusal_is_one_line_with_its_code_and_exit_1(tmp_path: Path) -> None:
    _init()
    city = _write(tmp_path / "city.json", peer_document("340100", "city"))
    _run("peers", "add", city, "--relation", "downstream")

    done = runner.invoke(app, ["node", "revoke", "340100", "--reason", "x"])

    assert done.exit_code == 1
    assert "CB-INVALID-TRANSITION" in done.output


def test_a_tampered_identity_file_is_refused(tmp_path: Path) -> None:
    _init()
    document = peer_document("340100", "city")
    document["name"] = "冒名节点"
    done = runner.invoke(
        app,
        ["node", "peers", "add", _write(tmp_path / "x.json", document), "--relation", "downstream"],
    )

    assert done.exit_code == 1
    assert "CB-NODE-IDENTITY-INVALID" in done.output
    assert "signature" in done.output


def test_status_before_init_says_to_run_init() -> None:
    done = runner.invoke(app, ["node", "status", "--json"])

    assert done.exit_code == 1
    assert "CB-NODE-NOT-INITIALISED" in done.output
    assert "node init" in done.output
