"""`creditbridge demo generate` into SQLite, against a plain bulk insert of the same rows.

Claim: generating the synthetic province — drawing every subject and record, serialising canonical
JSON, SM3-digesting each record, writing subjects, records, batches, loans and the truth, and
rebuilding the indexes — runs at a rate close to merely *inserting* the finished records, and
100,000 enterprises (≈4 million rows) finish within a minute in under 2 GB.

How it is measured:

* **Generation.** A fresh temporary SQLite file is migrated (``creditbridge.migrations.upgrade``),
  then the real command ``python -m creditbridge demo generate --json`` runs in a subprocess, so
  the time includes interpreter start-up, imports, the commit and everything a user waits for.
  Peak memory: ``getrusage(RUSAGE_CHILDREN).ru_maxrss`` after the command ends — the largest
  single process of the tree (the main process; worker processes are smaller). The whole tree's
  resident memory is also sampled from /proc every 0.1 s and reported as ``tree_peak_mb``.
* **Baseline: plain bulk insert.** The ``subject_record`` rows the command wrote are read back in
  chunks of 100,000 (untimed) and inserted into a second freshly migrated file with the same
  schema through ``sqlite3`` ``executemany`` of tuples — the fastest plain path in Python — with
  the platform's ordinary connection settings (WAL, foreign keys on, indexes in place) in one
  transaction; the inserts and the commit are timed. Parents (subjects, providers, batches) are
  copied beforehand, untimed. This is the cost of storing the same rows when they already exist,
  so ``ratio`` = generation rate / plain-insert rate says what generating them on top costs.

The machine is shared and noisy: compare figures from one run only; the load average is printed.

Usage: ``.venv/bin/python benchmarks/bench_demo_generate.py [--enterprises 100000] [--seed S]``
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from creditbridge import migrations
from creditbridge.core.db import make_engine

READ_CHUNK = 100_000
RECORD_COLUMNS = (
    "id", "subject_id", "dataset_code", "natural_key", "version", "status", "event_date", "data",
    "digest", "provider_id", "batch_id", "source_row", "received_at", "superseded_at",
)  # fmt: skip


def migrated(path: Path) -> None:
    engine = make_engine(f"sqlite:///{path}")
    migrations.upgrade(engine)
    engine.dispose()


def _tree_rss_kb(root: int) -> int:
    """Resident memory of ``root`` and all its descendants, from /proc (0 if it is gone)."""
    total = 0
    pending = [root]
    while pending:
        pid = pending.pop()
        try:
            status = Path(f"/proc/{pid}/status").read_text()
            total += next(
                int(line.split()[1]) for line in status.splitlines() if line.startswith("VmRSS:")
            )
            for task in Path(f"/proc/{pid}/task").iterdir():
                children = (task / "children").read_text().split()
                pending.extend(int(child) for child in children)
        except (OSError, StopIteration, ValueError):
            continue
    return total


def run_generate(path: Path, enterprises: int, seed: int) -> tuple[dict[str, object], float, float]:
    """Run the command; return its JSON summary, wall seconds and the sampled tree peak (MB)."""
    env = {**os.environ, "CREDITBRIDGE_DATABASE_URL": f"sqlite:///{path}"}
    command = [
        sys.executable, "-m", "creditbridge", "demo", "generate",
        "--enterprises", str(enterprises), "--seed", str(seed), "--json", "--quiet",
    ]  # fmt: skip
    started = time.perf_counter()
    process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    peak = [0]
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            peak[0] = max(peak[0], _tree_rss_kb(process.pid))
            time.sleep(0.1)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    out, err = process.communicate()
    seconds = time.perf_counter() - started
    done.set()
    sampler.join()
    if process.returncode != 0:
        sys.stderr.write(err.decode())
        raise SystemExit(f"demo generate failed with exit code {process.returncode}")
    return json.loads(out), seconds, peak[0] / 1024


def run_baseline(source: Path, target: Path) -> tuple[int, float]:
    """Insert ``source``'s subject_record rows into ``target``; return (rows, seconds)."""
    engine = make_engine(f"sqlite:///{target}")  # the platform's connection settings
    raw = engine.raw_connection()
    connection = raw.driver_connection
    assert isinstance(connection, sqlite3.Connection)
    connection.execute("ATTACH DATABASE ? AS src", (str(source),))
    for table in ("ingest_provider", "ingest_batch", "subject"):
        connection.execute(f"INSERT INTO main.{table} SELECT * FROM src.{table}")
    connection.commit()
    reader = sqlite3.connect(source)
    statement = (
        f"INSERT INTO subject_record ({', '.join(RECORD_COLUMNS)}) "
        f"VALUES ({', '.join('?' for _ in RECORD_COLUMNS)})"
    )
    select = (
        f"SELECT {', '.join(RECORD_COLUMNS)} FROM subject_record WHERE id > ? ORDER BY id LIMIT ?"
    )
    rows = 0
    seconds = 0.0
    last = 0
    cursor = connection.cursor()
    while True:
        chunk = reader.execute(select, (last, READ_CHUNK)).fetchall()
        if not chunk:
            break
        last = chunk[-1][0]
        started = time.perf_counter()
        cursor.executemany(statement, chunk)
        seconds += time.perf_counter() - started
        rows += len(chunk)
    started = time.perf_counter()
    connection.commit()
    seconds += time.perf_counter() - started
    reader.close()
    raw.close()
    engine.dispose()
    return rows, seconds


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--enterprises", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=20260101)
    parser.add_argument("--keep", type=Path, help="keep the generated database at this path")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="bench-demo-") as folder:
        generated = args.keep or Path(folder) / "demo.db"
        baseline_db = Path(folder) / "baseline.db"
        for path in (generated, baseline_db):
            migrated(path)
        load = os.getloadavg()[0]
        summary, seconds, tree_peak_mb = run_generate(generated, args.enterprises, args.seed)
        peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        rows = int(summary["rows_total"])  # type: ignore[call-overload]
        records = int(summary["records"])  # type: ignore[call-overload]
        demo_rate = rows / seconds
        print(
            f"demo generate --enterprises {args.enterprises}: {rows:,} rows "
            f"({records:,} records) in {seconds:.1f} s wall "
            f"({summary['seconds']} s inside the command) = {demo_rate:,.0f} rows/s; "
            f"peak RSS {peak_mb:.0f} MB (largest process), {tree_peak_mb:.0f} MB (process tree)"
        )
        print(f"  stages: {summary['stages']}")
        print(f"  records by dataset: {summary['records_by_dataset']}")

        baseline_rows, baseline_seconds = run_baseline(generated, baseline_db)
        baseline_rate = baseline_rows / baseline_seconds
        print(
            f"baseline plain executemany insert of the same {baseline_rows:,} subject_record rows: "
            f"{baseline_seconds:.1f} s = {baseline_rate:,.0f} rows/s"
        )
        ratio = demo_rate / baseline_rate
        print(
            f"ratio generate/plain-insert: {ratio:.2f}  "
            f"(load average {load:.1f} before, {os.getloadavg()[0]:.1f} after)"
        )
        print(
            f"RESULT demo_rows_per_s={demo_rate:.0f} baseline_rows_per_s={baseline_rate:.0f} "
            f"ratio={ratio:.2f} seconds={seconds:.1f} peak_mb={peak_mb:.0f} rows={rows}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
