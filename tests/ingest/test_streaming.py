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
from collections.abc import Iterator
from itertools import islice
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from creditbridge import migrations
from creditbridge.catalog import service as catalog_service
from creditbridge.catalog.service import bundled_catalog
from creditbridge.core.clock import utc_now
from creditbridge.core.db import make_engine, make_sessionmaker, session_scope
from creditbridge.ingest.domain import RowValidator
from creditbridge.ingest.models import Batch, Provider
from creditbridge.ingest.readers import open_delivery

from .conftest import TAX_HEADER_ZH, codes, record_state

TAX = bundled_catalog().dataset("tax_payment")


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


def test_reading_and_validating_is_streamed_in_bounded_memory(tmp_path: Path) -> None:
    path = write_tax_csv(tmp_path / "big.csv", 300_000)
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
    assert count == 300_000
    # The file is ≈ 24 MB; one chunk of rows and the validator's caches stay well under it.
    assert peak < 16 * 1024 * 1024, f"peak {peak / 1e6:.1f} MB"


def _prepare(url: str) -> int:
    engine = make_engine(url)
    migrations.upgrade(engine)
    with session_scope(make_sessionmaker(engine)) as session:
        catalog_service.ensure_default_catalog(session)
        provider = Provider(code="tax", name="税务局", kind="department",
                            division_code="340000", created_at=utc_now())  # fmt: skip
        session.add(provider)
        session.flush()
        provider_id = provider.id
    engine.dispose()
    return provider_id


def _ingest(url: str, path: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, "CREDITBRIDGE_DATABASE_URL": url}
    command = [sys.executable, "-m", "creditbridge", "ingest", str(path), "--dataset",
               "tax_payment", "--provider", "tax", "--batch-id", "big-1"]  # fmt: skip
    return subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def _state(url: str) -> tuple[list[Batch], list[tuple[str, int, str, str]]]:
    engine = make_engine(url)
    with Session(engine) as session:
        batches = list(session.scalars(select(Batch)))
        state = record_state(session)
    engine.dispose()
    return batches, state


def test_sigkill_in_the_middle_of_a_batch_leaves_all_or_nothing(tmp_path: Path) -> None:
    path = write_tax_csv(tmp_path / "big.csv", 30_000)
    killed_url = f"sqlite:///{tmp_path / 'killed.db'}"
    clean_url = f"sqlite:///{tmp_path / 'clean.db'}"
    _prepare(killed_url)
    _prepare(clean_url)

    process = _ingest(killed_url, path)
    # Kill it once it is writing: the WAL file grows as the first chunks go in.
    wal = tmp_path / "killed.db-wal"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and process.poll() is None:
        if wal.exists() and wal.stat().st_size > 500_000:
            break
        time.sleep(0.02)
    assert process.poll() is None, "the batch finished before it could be killed"
    process.send_signal(signal.SIGKILL)
    process.wait()

    batches, state = _state(killed_url)
    assert batches == []
    assert state == []

    assert _ingest(killed_url, path).wait() == 0
    assert _ingest(clean_url, path).wait() == 0
    assert _state(killed_url)[1] == _state(clean_url)[1]
    assert len(_state(clean_url)[1]) == 30_000
