"""`audit verify` throughput: the whole chain recomputed from the database.

Claim (issue 4): ``audit verify`` checks ≥ 500,000 events/s — the full check: each event's stored
text (``chained``, from which every filter column is generated) is hashed and linked, so this is
what catches an edited, deleted or truncated event. Figures: ``verify`` as the CLI runs it (one
process per CPU) and in one process; baselines measured in the same run over the same rows: reading
the hashed text without hashing (the floor set by the database and driver, one process), and SM3
over the same bytes already in memory (the floor set by hashing, one process).

    .venv/bin/python benchmarks/bench_audit_verify.py [--events 300000]
    CREDITBRIDGE_BENCH_DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1/bench ... (also PostgreSQL)
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import Engine, insert, text
from sqlalchemy.orm import Session

from creditbridge import migrations
from creditbridge.audit import service
from creditbridge.audit.domain import GENESIS_HASH, EventFacts, event_line, sm3_hex_of
from creditbridge.audit.models import AuditChainHead, AuditEvent
from creditbridge.core.crypto.digest import sm3_new
from creditbridge.core.db import make_engine

WORKERS = os.cpu_count() or 1
ACTIONS = ("data.read", "consent.approve", "consent.request", "data.read_refused", "user.login")


def fill(engine: Engine, events: int) -> None:
    start = datetime(2026, 1, 1, tzinfo=UTC)
    prev = GENESIS_HASH
    rows = []
    with engine.begin() as connection:
        for sequence in range(1, events + 1):
            facts = EventFacts(
                occurred_at=start + timedelta(milliseconds=sequence * 37),
                actor_kind="user",
                actor_id=sequence % 500,
                actor_name=f"客户经理{sequence % 500}",
                actor_role="institution_officer",
                actor_institution_id=sequence % 40,
                ip="10.0.0.1",
                action=ACTIONS[sequence % len(ACTIONS)],
                object_type="subject",
                object_id=str(sequence % 100_000),
                subject_id=sequence % 100_000,
                detail={"purpose": "loan_application", "datasets": ["tax_payment"], "records": 12},
            )
            chained = prev + event_line(sequence, facts)
            digest = sm3_hex_of(chained)
            rows.append({"sequence": sequence, "chained": chained, "hash": digest})
            prev = digest
            if len(rows) == 20_000:
                connection.execute(insert(AuditEvent), rows)
                rows = []
        if rows:
            connection.execute(insert(AuditEvent), rows)
        connection.execute(
            insert(AuditChainHead),
            [
                {
                    "id": 1,
                    "last_sequence": events,
                    "last_hash": prev,
                    "first_sequence": 1,
                    "first_prev_hash": GENESIS_HASH,
                    "updated_at": start,
                }
            ],
        )
    # What autovacuum does to a table after a bulk load: without statistics PostgreSQL sorts
    # each slice on disk instead of walking the sequence index.
    with engine.begin() as connection:
        connection.execute(text("ANALYZE audit_event"))


def _fetch_chained(engine: Engine) -> tuple[float, list[bytes]]:
    """Read what ``verify`` reads (the same SQL, cursor and chunking), without hashing."""
    postgres = engine.dialect.name == "postgresql"
    with engine.connect() as connection:
        raw = connection.connection.dbapi_connection
        assert raw is not None
        last = connection.execute(text("SELECT max(sequence) FROM audit_event")).scalar_one()
        started = time.perf_counter()
        kept: list[bytes] = []
        for rows in service._chunks(raw, postgres, 1, int(last)):
            kept.extend(row[2] for row in rows)
        return time.perf_counter() - started, kept


def read_only(engine: Engine) -> float:
    return _fetch_chained(engine)[0]


def hash_only(engine: Engine) -> tuple[float, float]:
    """Seconds for SM3 over the same bytes in memory, and their mean length."""
    chained = [bytes(line) for line in _fetch_chained(engine)[1]]
    new = sm3_new
    started = time.perf_counter()
    for line in chained:
        digest = new()
        digest.update(line)
        digest.digest()
    return time.perf_counter() - started, sum(map(len, chained)) / len(chained)


def run(label: str, engine: Engine, url: str, events: int, repeat: int) -> None:
    print(f"--- {label}: filling {events} events …", flush=True)
    fill(engine, events)
    verify_runs, single_runs = [], []
    for _ in range(repeat):
        for workers, runs in ((WORKERS, verify_runs), (1, single_runs)):
            with Session(engine) as session:
                report = service.verify(session, workers=workers, database_url=url)
                if not report.ok or report.checked != events:
                    raise SystemExit(report.message())
                runs.append(report.seconds)
    read_runs = [read_only(engine) for _ in range(repeat)]
    hashed = [hash_only(engine) for _ in range(repeat)]
    hash_runs = [seconds for seconds, _ in hashed]
    hashed_bytes = hashed[0][1]
    rate = events / statistics.median(verify_runs)
    single_rate = events / statistics.median(single_runs)
    read_rate = events / statistics.median(read_runs)
    hash_rate = events / statistics.median(hash_runs)
    loads = " ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"{label}: load average {loads}; {WORKERS} CPUs; {hashed_bytes:.0f} hashed bytes/event")
    print(f"{label}: verify, {WORKERS} processes (the CLI)  {rate:,.0f} events/s")
    print(f"{label}: verify, 1 process                 {single_rate:,.0f} events/s")
    print(f"{label}: baseline read, no SM3, 1 process {read_rate:,.0f} events/s")
    print(f"{label}: baseline SM3 over same bytes, 1 process   {hash_rate:,.0f} events/s")
    print(
        f"{label}: runs (s) {WORKERS} processes {[round(x, 3) for x in verify_runs]}, 1 process {[round(x, 3) for x in single_runs]}"
    )
    print(
        f"RESULT audit_verify_events_per_s={rate:.0f} store={label} "
        f"baseline_read_only_events_per_s={read_rate:.0f} ratio={rate / read_rate:.2f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=300_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        url = f"sqlite:///{Path(folder) / 'bench.db'}"
        engine = make_engine(url)
        migrations.upgrade(engine)
        run("sqlite", engine, url, args.events, args.repeat)
        engine.dispose()
    pg_url = os.environ.get("CREDITBRIDGE_BENCH_DATABASE_URL", "").strip()
    if pg_url:
        engine = make_engine(pg_url)
        with engine.begin() as connection:
            connection.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
            connection.execute(text("CREATE SCHEMA public"))
        migrations.upgrade(engine)
        run("postgresql", engine, pg_url, args.events, args.repeat)
        engine.dispose()


if __name__ == "__main__":
    main()
