"""Region/industry aggregates over 2,000,000 enterprises (synthetic Parquet snapshot).

Claim (issue 5): aggregates over 2,000,000 enterprises ≤ 2 s.

The aggregates are computed in two stages (see ``creditbridge.reports.analytics``):

1. ``build_facts`` — one row per enterprise from the records snapshot (penalties in the last 12
   months, dishonesty list, open enforcement, tax paid in the last 12 months → tax band);
2. ``aggregate`` — all six dimensions and the total in one GROUPING SETS query with suppression.

Stage 2 is what the claim measures (the figures every page/API/Excel reads are its output); stage 1
is measured too and printed. Baseline in the same run: one plain ``GROUP BY city_code`` count over
the same facts file — the least any figure by region must cost.

The synthetic snapshot: 2,000,000 active enterprises over Anhui's 16 cities and their counties,
GB/T 4754 sections/divisions and size classes; 0.2 penalties per enterprise, 1 % on the dishonesty
list, 3 % with an open enforcement case, and 12 monthly tax records for 60 % of them (14.4 M rows,
with the payload as JSON text, as ``export_snapshot`` writes it).

    .venv/bin/python benchmarks/bench_report_aggregates.py [--enterprises 2000000] [--runs 3]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import tempfile
import time
from datetime import date
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from creditbridge.core.snapshot import month_seq
from creditbridge.reference import divisions, industries
from creditbridge.reports import analytics

CHUNK = 1_000_000


def _subjects(path: Path, n: int, rng: np.random.Generator) -> None:
    counties = [d for c in divisions.cities() for d in divisions.counties(c.code)]
    county_codes = np.array([d.code for d in counties])
    city_of = np.array([d.parent_code or "" for d in counties])
    industry = industries.divisions()
    industry_codes = np.array([d.code for d in industry])
    section_of = np.array([d.section for d in industry])
    sizes = np.array(["micro", "small", "medium", "large"])
    with pq.ParquetWriter(path, analytics.SUBJECT_DIMS_SCHEMA) as writer:
        for start in range(0, n, CHUNK):
            m = min(CHUNK, n - start)
            county = rng.integers(0, len(county_codes), m)
            ind = rng.integers(0, len(industry_codes), m)
            size = rng.choice(4, m, p=[0.8, 0.15, 0.04, 0.01])
            writer.write_batch(
                pa.RecordBatch.from_arrays(
                    [
                        pa.array(np.arange(start + 1, start + m + 1, dtype=np.int64)),
                        pa.array(city_of[county]),
                        pa.array(county_codes[county]),
                        pa.array(section_of[ind]),
                        pa.array(industry_codes[ind]),
                        pa.array(sizes[size]),
                        pa.array(np.full(m, "active")),
                    ],
                    schema=analytics.SUBJECT_DIMS_SCHEMA,
                )
            )


RECORD_SCHEMA = pa.schema(
    [
        ("id", pa.int64()),
        ("subject_id", pa.int64()),
        ("dataset_code", pa.string()),
        ("status", pa.string()),
        ("batch_id", pa.int64()),
        ("provider_id", pa.int64()),
        ("data", pa.string()),
        ("event_seq", pa.int32()),
    ]
)


def _records(path: Path, n: int, rng: np.random.Generator, today: date) -> int:
    last = month_seq(today) - 1
    written = 0
    with pq.ParquetWriter(path, RECORD_SCHEMA) as writer:

        def put(subjects: np.ndarray, dataset: str, data: pa.Array, seqs: np.ndarray) -> None:
            nonlocal written
            m = len(subjects)
            writer.write_batch(
                pa.RecordBatch.from_arrays(
                    [
                        pa.array(np.arange(written + 1, written + m + 1, dtype=np.int64)),
                        pa.array(subjects.astype(np.int64)),
                        pa.array(np.full(m, dataset)),
                        pa.array(np.full(m, "current")),
                        pa.array(np.ones(m, dtype=np.int64)),
                        pa.array(np.ones(m, dtype=np.int64)),
                        data,
                        pa.array(seqs.astype(np.int32)),
                    ],
                    schema=RECORD_SCHEMA,
                )
            )
            written += m

        for dataset, share in (
            ("penalty", 0.2),
            ("serious_dishonesty", 0.01),
            ("enforcement", 0.03),
        ):
            m = int(n * share)
            subjects = rng.integers(1, n + 1, m)
            data = pa.array(np.full(m, '{"severity":"general"}'))
            put(subjects, dataset, data, last - rng.integers(0, 36, m))
        payers = rng.choice(np.arange(1, n + 1), int(n * 0.6), replace=False)
        for month in range(12):
            for start in range(0, len(payers), CHUNK):
                chunk = payers[start : start + CHUNK]
                amount = pc.cast(
                    pa.array(np.round(rng.lognormal(8, 1.5, len(chunk)), 2)), pa.string()
                )
                data = pc.binary_join_element_wise(
                    '{"period":"x","total_tax_paid":"', amount, '"}', ""
                )
                put(chunk, "tax_payment", data, np.full(len(chunk), last - month))
    return written


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--enterprises", type=int, default=2_000_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--threads", type=int, default=0, help="DuckDB threads (0: its default)")
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="cb-bench-agg-"))
    rng = np.random.default_rng(7)
    today = date.today()
    try:
        started = time.perf_counter()
        subjects, records, facts = (
            root / "subjects.parquet",
            root / "records.parquet",
            root / "facts.parquet",
        )
        _subjects(subjects, args.enterprises, rng)
        rows = _records(records, args.enterprises, rng, today)
        print(
            f"synthetic snapshot: {args.enterprises:,} enterprises, {rows:,} records in {time.perf_counter() - started:.1f} s"
        )
        load_before = os.getloadavg()[0]
        connection = duckdb.connect()
        if args.threads:
            connection.execute(f"SET threads = {args.threads}")
        stage1, stage2, baseline = [], [], []
        for _ in range(args.runs):
            t = time.perf_counter()
            count = analytics.build_facts(
                connection, subjects=subjects, records=records, out=facts, today=today
            )
            stage1.append(time.perf_counter() - t)
            t = time.perf_counter()
            tables = analytics.aggregate(connection, facts)
            stage2.append(time.perf_counter() - t)
            t = time.perf_counter()
            connection.execute(
                "SELECT city_code, count(*) FROM read_parquet(?) GROUP BY city_code", [str(facts)]
            ).fetchall()
            baseline.append(time.perf_counter() - t)
        load_after = os.getloadavg()[0]
        cells = sum(len(v) for v in tables.values())
        suppressed = sum(1 for v in tables.values() for c in v if c["suppressed"])
        s1, s2, b = (
            statistics.median(stage1),
            statistics.median(stage2),
            statistics.median(baseline),
        )
        threads = connection.execute("SELECT current_setting('threads')").fetchone()
        print(
            f"load average before {load_before:.2f}, after {load_after:.2f}; DuckDB threads {threads[0] if threads else '?'}"
        )
        print(f"facts: {count:,} enterprises; {cells:,} cells, {suppressed} suppressed")
        print(
            f"stage 2 aggregate (all dimensions): median {s2 * 1000:.0f} ms  runs {[round(x * 1000) for x in stage2]}"
        )
        print(f"baseline GROUP BY city count:      median {b * 1000:.0f} ms  ratio ×{s2 / b:.1f}")
        print(
            f"stage 1 build facts from records:  median {s1 * 1000:.0f} ms  runs {[round(x * 1000) for x in stage1]}"
        )
        print(
            f"RESULT enterprises={args.enterprises} records={rows} aggregate_ms={s2 * 1000:.0f} "
            f"baseline_ms={b * 1000:.0f} ratio={s2 / b:.1f} build_facts_ms={s1 * 1000:.0f} "
            f"end_to_end_ms={(s1 + s2) * 1000:.0f} load={load_before:.2f}"
        )
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
