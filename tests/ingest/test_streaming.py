"""Large files: the reader and validator hold one chunk, whatever the size; a batch killed midway
leaves nothing, and delivering it again gives the state of one clean delivery.

The test streams 300,000 rows (≈ 24 MB) and bounds peak traced memory; benchmarks/bench_ingest.py
streams 10,000,000 rows through the same path and reports its peak RSS.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import tracemalloc
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from itertools import islice
from pathlib import Path

import pytest
from sqlalchemy import make_url, select, text
from sqlalchemy.orm import Session

import factories
from creditbridge import migrations
from creditbridge.catalog import service as catalog_service
from creditbridge.catalog.service import bundled_catalog
from creditbridge.core.db import make_engine, make_sessionmaker, session_scope
from creditbridge.ingest.domain import RowValidator
from creditbridge.ingest.models import Batch
from creditbridge.ingest.readers import open_delivery

from .conftest import TAX_HEADER_ZH, codes, record_state

TAX = bundled_catalog().dataset("tax_payment")
# The same stores as the shared ``engine`` fixture; this test needs whole databases of its own.
PG_URL = os.environ.get("CREDITBRIDGE_TEST_DATABASE_URL", "").strip()
STORES = ["sqlite"] + (["postgresql"] if PG_URL else [])


def write_tax_csv(path: Path, rows: int, subjects: int = 2000) -> Path:
    usccs = codes(subjects)
    with path.open("w", encoding="gb18030", newline="") as out:
        out.write(",".join(TAX_HEADER_ZH) + "\n")
        block: list[str] = []
        for i in range(rows):
            month = 1 + (i // subjects) % 12
            year = 2000 + i // (subjects * 12)
            block.append(f"{usccs[i % subjects]},{year}-{month:02d},是,{i}.5,1,2,3\n")
            if len(block) == 10_000:
                out.write("".join(block))
                block.clear()
        out.write("".join(block))
    return path


def _peak_while_streaming(path: Path) -> tuple[int, int]:
    """Rows read and validated, and the peak traced memory while doing it."""
    validate = RowValidator(TAX.fields)
    tracemalloc.start()
    try:
        delivery = open_delivery(path, fields=TAX.fields)
        count = 0
        rows: Iterator = iter(delivery.rows)  # type: ignore[type-arg]
        while chunk := list(islice(rows, 5000)):
            for raw in chunk:
                assert not validate(raw.values, row=raw.row).issues
            count += len(chunk)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return count, peak


def test_reading_and_validating_is_streamed_in_bounded_memory(tmp_path: Path) -> None:
    small_count, small_peak = _peak_while_streaming(write_tax_csv(tmp_path / "s.csv", 50_000))
    big_count, big_peak = _peak_while_streaming(write_tax_csv(tmp_path / "b.csv", 300_000))
    assert (small_count, big_count) == (50_000, 300_000)
    # The big file is ≈ 24 MB; one chunk of rows and the validator's caches stay well under it,
    # and six times the rows cost no more memory than the small file plus noise: memory does
    # not grow with the file, which is what lets a 10,000,000-row file through.
    assert big_peak < 16 * 1024 * 1024, f"peak {big_peak / 1e6:.1f} MB"
    assert big_peak < small_peak + 2 * 1024 * 1024, (small_peak, big_peak)


def _prepare(url: str) -> int:
    engine = make_engine(url)
    migrations.upgrade(engine)
    with session_scope(make_sessionmaker(engine)) as session:
        catalog_service.ensure_default_catalog(session)
        provider_id = factories.provider(
            session, code="tax", name="税务局", datasets=["tax_payment"]
        ).id
    engine.dispose()
    return provider_id


def _ingest(url: str, path: Path) -> subprocess.Popen[bytes]:
    # A 1 MB SQLite page cache: the batch's pages then spill into the WAL as it writes, which
    # is how the test sees that it is writing (with the default 128 MB nothing reaches the WAL
    # of these 30,000 rows before the commit).
    env = {
        **os.environ,
        "CREDITBRIDGE_DATABASE_URL": url,
        "CREDITBRIDGE_INGEST_SQLITE_CACHE_MB": "1",
    }
    command = [sys.executable, "-m", "creditbridge", "ingest", str(path), "--dataset",
               "tax_payment", "--on-behalf-of", "tax", "--reason", "测试", "--batch-id", "big-1"]  # fmt: skip
    return subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def _state(url: str) -> tuple[list[Batch], list[tuple[str, int, str, str]]]:
    engine = make_engine(url)
    with Session(engine) as session:
        batches = list(session.scalars(select(Batch)))
        state = record_state(session)
    engine.dispose()
    return batches, state


@dataclass
class Stores:
    """Two empty databases of one store: one whose delivery is killed, one delivered cleanly."""

    killed: str
    clean: str
    writing: Callable[[], bool]
    """True once the killed delivery has started writing rows (uncommitted)."""


def _sqlite_stores(tmp_path: Path) -> Stores:
    wal = tmp_path / "killed.db-wal"
    return Stores(
        killed=f"sqlite:///{tmp_path / 'killed.db'}",
        clean=f"sqlite:///{tmp_path / 'clean.db'}",
        # The WAL file grows as the first chunks go in.
        writing=lambda: wal.exists() and wal.stat().st_size > 500_000,
    )


def _postgres_stores() -> Iterator[Stores]:
    base = make_url(PG_URL)
    names = [f"{base.database}_killed", f"{base.database}_clean"]
    admin = make_engine(base.set(database="postgres").render_as_string(hide_password=False))
    with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        for name in names:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            connection.execute(text(f'CREATE DATABASE "{name}"'))
    urls = [base.set(database=name).render_as_string(hide_password=False) for name in names]
    watcher = make_engine(urls[0])

    def writing() -> bool:
        # The delivery's open transaction holds a row-exclusive lock on the records table
        # from its first insert until it commits or dies.
        with watcher.connect() as connection:
            held = connection.scalar(text(
                "SELECT count(*) FROM pg_locks l JOIN pg_class c ON c.oid = l.relation "
                "WHERE c.relname = 'subject_record' AND l.mode = 'RowExclusiveLock' "
                "AND l.pid <> pg_backend_pid()"
            ))  # fmt: skip
        return bool(held)

    try:
        yield Stores(killed=urls[0], clean=urls[1], writing=writing)
    finally:
        watcher.dispose()
        with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            for name in names:
                connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(params=STORES)
def stores(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Stores]:
    if request.param == "sqlite":
        yield _sqlite_stores(tmp_path)
    else:
        yield from _postgres_stores()


def test_sigkill_in_the_middle_of_a_batch_leaves_all_or_nothing(
    tmp_path: Path, stores: Stores
) -> None:
    path = write_tax_csv(tmp_path / "big.csv", 30_000)
    _prepare(stores.killed)
    _prepare(stores.clean)

    process = _ingest(stores.killed, path)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and process.poll() is None:
        if stores.writing():
            break
        time.sleep(0.02)
    assert process.poll() is None, "the batch finished before it could be killed"
    process.send_signal(signal.SIGKILL)
    process.wait()

    batches, state = _state(stores.killed)
    assert batches == []
    assert state == []

    assert _ingest(stores.killed, path).wait() == 0
    assert _ingest(stores.clean, path).wait() == 0
    assert _state(stores.killed)[1] == _state(stores.clean)[1]
    assert len(_state(stores.clean)[1]) == 30_000
