"""Issue 22 finding 7: a newcomer's first commands. On a database never upgraded a command names
`creditbridge db upgrade` and exits 2 (it printed a SQLAlchemy traceback); `report verify` run
away from the node's data creates nothing (it created an empty database and a fresh key, then
called a genuine report foreign); the node's files live beside its database, not in the working
directory."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from sqlalchemy import text

from creditbridge.core.config import Settings
from creditbridge.core.db import make_engine


def creditbridge(cwd: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("CREDITBRIDGE_")}
    return subprocess.run(
        [sys.executable, "-m", "creditbridge", *args],
        cwd=cwd, env={**clean, **env}, capture_output=True, text=True, timeout=120,
    )  # fmt: skip


def test_a_command_on_a_database_never_upgraded_says_what_to_run(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'fresh.db'}"
    done = creditbridge(tmp_path, "providers", "list", CREDITBRIDGE_DATABASE_URL=url)
    assert done.returncode == 2, done.stderr
    assert "creditbridge db upgrade" in done.stderr
    assert "Traceback" not in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1


def test_a_schema_older_than_the_program_says_what_to_run(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'old.db'}"
    assert creditbridge(tmp_path, "db", "upgrade", CREDITBRIDGE_DATABASE_URL=url).returncode == 0
    engine = make_engine(url)
    with engine.begin() as connection:
        connection.execute(text("DROP TABLE ingest_provider_dataset"))
    engine.dispose()
    done = creditbridge(tmp_path, "providers", "list", CREDITBRIDGE_DATABASE_URL=url)
    assert done.returncode == 2, done.stderr
    assert "creditbridge db upgrade" in done.stderr
    assert "Traceback" not in done.stderr


def test_report_verify_elsewhere_creates_nothing(tmp_path: Path) -> None:
    report = tmp_path / "report.pdf"
    report.write_bytes(b"%PDF-1.7\n%%EOF\n")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    done = creditbridge(elsewhere, "report", "verify", str(report))
    assert done.returncode == 2, done.stdout + done.stderr
    assert "CB-NODE-DATA-MISSING" in done.stderr
    assert list(elsewhere.iterdir()) == []  # no var/, no database, no key


def test_the_nodes_files_live_beside_its_database(tmp_path: Path) -> None:
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'node' / 'cb.db'}")
    assert settings.signing_key_file == tmp_path / "node" / "keys" / "node-signing-key.pem"
    assert settings.analytics_root == tmp_path / "node" / "analytics"
    moved = Settings(database_url=settings.database_url, data_dir=tmp_path / "data")
    assert moved.signing_key_file == tmp_path / "data" / "keys" / "node-signing-key.pem"
    explicit = Settings(signing_key_path=str(tmp_path / "k.pem"))
    assert explicit.signing_key_file == tmp_path / "k.pem"
