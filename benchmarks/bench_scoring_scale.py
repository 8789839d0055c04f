"""Scale of credit evaluation on 2 cores.

Claims (issue 6):
1. 2,000,000 enterprises × ~20 indicators scored, graded and given 3 reasons in ≤ 1.5 s of compute
   (`domain.score_matrix`, vectorised numpy). Baseline, same run: the same card applied row by row
   in plain Python on a 20,000-row sample, extrapolated ×100 (clearly an extrapolation), and a
   pandas `DataFrame.apply(axis=1)` on a 20,000-row sample, extrapolated.
2. The indicators from ≥ 50,000,000 raw records in Parquet in ≤ 120 s with peak memory ≤ 6 GB:
   a snapshot of the platform's shape (per-dataset Parquet files as `scoring snapshot` writes
   them) is generated under /tmp, then the real indicator SQL (indicators-v1.yaml, 24 queries)
   runs in DuckDB in a child process whose peak RSS is measured; the files are deleted after.
   Baseline, same run: one indicator (tax paid over 12 months) in pandas on the tax table.

    .venv/bin/python benchmarks/bench_scoring_scale.py [--enterprises 2000000] [--skip-parquet]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import UTC, date, datetime
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from creditbridge.core.snapshot import META_FILE
from creditbridge.scoring import analytics, domain, service
from creditbridge.scoring.analytics import Snapshot
from creditbridge.scoring.schemas import indicator_config

AS_OF = date(2026, 10, 31)


# ------------------------------------------------------------------ 1. scoring


def synthetic_indicators(n: int, rng: np.random.Generator) -> np.ndarray:
    card = service.expert_card()
    columns = []
    for b in card.bins:
        low = (b.splits[0] - 1) if b.splits else 0
        high = (b.splits[-1] + 1) if b.splits else 1
        column = rng.uniform(low, high, n)
        column[rng.random(n) < 0.1] = np.nan
        columns.append(column)
    # Column-major, as the platform's IndicatorFrame holds indicators (one DuckDB column each).
    return np.asfortranarray(np.column_stack(columns))


def row_by_row(card: domain.Card, values: np.ndarray) -> list[tuple[int, int, list[int]]]:
    out = []
    for row in values.tolist():
        total, losses = card.base, []
        for j, b in enumerate(card.bins):
            x = row[j]
            points = b.missing if x != x else b.points[sum(1 for s in b.splits if x >= s)]
            total += points
            losses.append((b.best - points, j))
        grade = sum(1 for c in card.cutoffs if total < c)
        reasons = [j for lost, j in sorted(losses, key=lambda t: -t[0])[:3] if lost > 0]
        out.append((total, grade, reasons))
    return out


def bench_scoring(n: int) -> dict[str, float]:
    rng = np.random.default_rng(20260101)
    card = service.expert_card()
    values = synthetic_indicators(n, rng)
    domain.score_matrix(card, values[:1000])  # warm-up
    timings = []
    for _ in range(3):
        started = time.perf_counter()
        scored = domain.score_matrix(card, values)
        timings.append(time.perf_counter() - started)
    ours = min(timings)
    sample = values[:20_000]
    started = time.perf_counter()
    slow = row_by_row(card, sample)
    python_s = (time.perf_counter() - started) * n / len(sample)
    assert [s for s, _, _ in slow] == scored.score[:20_000].tolist()

    import pandas as pd

    frame = pd.DataFrame(sample, columns=list(card.codes))

    def one(row: pd.Series) -> int:
        total = card.base
        for b in card.bins:
            x = row[b.code]
            total += b.missing if x != x else b.points[sum(1 for s in b.splits if x >= s)]
        return total

    started = time.perf_counter()
    frame.apply(one, axis=1)
    pandas_s = (time.perf_counter() - started) * n / len(sample)
    print(f"[1] score + grade + 3 reasons, {n:,} enterprises × {len(card.bins)} indicators: "
          f"{ours:.3f} s (best of 3: {', '.join(f'{t:.3f}' for t in timings)})  target ≤ 1.5 s")  # fmt: skip
    print(f"    baseline plain Python row by row, 20,000-row sample extrapolated ×{n // 20_000}: {python_s:.1f} s "
          f"(ratio {python_s / ours:.0f}×); pandas apply(axis=1), extrapolated: {pandas_s:.1f} s "
          f"(ratio {pandas_s / ours:.0f}×, score only)")  # fmt: skip
    return {"score_s": ours, "python_s": python_s, "pandas_s": pandas_s}


# ------------------------------------------------------------------ 2. indicators from Parquet

MONTHLY = {
    # dataset: (share of enterprises with the series, columns maker)
    "tax_payment": 0.9, "social_insurance": 0.75, "housing_fund": 0.45, "utility_power": 0.7,
    "utility_water": 0.45, "utility_gas": 0.15, "customs_trade": 0.05,
}  # fmt: skip
EVENTS = {
    "penalty": 0.15, "judgment": 0.2, "enforcement": 0.1, "dishonest_debtor": 0.03,
    "consumption_restriction": 0.03, "serious_dishonesty": 0.02, "abnormal_operation": 0.1,
    "tax_arrears": 0.08, "licence": 0.8, "honour": 0.1, "patent": 0.25, "trademark": 0.2,
    "tech_enterprise": 0.07, "credit_commitment": 0.3, "self_reported": 0.13, "tax_credit_rating": 2.0,
}  # fmt: skip


def _monthly(
    name: str, ids: np.ndarray, last_seq: int, rng: np.random.Generator
) -> dict[str, pa.Array]:
    months = 12
    sid = np.repeat(ids, months)
    seq = np.tile(np.arange(last_seq - months + 1, last_seq + 1, dtype=np.int32), len(ids))
    n = len(sid)
    day = ((seq // 12 - 1970) * 365.25 + (seq % 12) * 30.44).astype(np.int32)
    base = {
        "subject_id": pa.array(sid),
        "event_day": pa.array(day),
        "event_seq": pa.array(seq),
        "period_seq": pa.array(seq),
    }
    amount = rng.lognormal(8, 1.2, n)
    on_time = (rng.random(n) > 0.04).astype(np.int32)
    if name == "tax_payment":
        base |= {"declared": pa.array(on_time), "taxable_revenue": pa.array(amount * 20), "vat_paid": pa.array(amount * 0.6),
                 "income_tax_paid": pa.array(amount * 0.4), "total_tax_paid": pa.array(amount)}  # fmt: skip
    elif name == "social_insurance":
        head = rng.poisson(8, n).astype(np.int64)
        base |= {"insured_headcount": pa.array(head), "contribution_base": pa.array(amount), "amount_due": pa.array(amount),
                 "amount_paid": pa.array(amount * on_time), "arrears_amount": pa.array(amount * (1 - on_time))}  # fmt: skip
    elif name == "housing_fund":
        base |= {"contributing_headcount": pa.array(rng.poisson(6, n).astype(np.int64)), "contribution_rate": pa.array(np.full(n, 12.0)),
                 "amount_paid": pa.array(amount * on_time), "arrears_months": pa.array((1 - on_time).astype(np.int64))}  # fmt: skip
    elif name == "customs_trade":
        base |= {"import_value": pa.array(amount * 10), "export_value": pa.array(amount * 12),
                 "customs_credit_rating": pa.array(np.full(n, "一般信用企业"))}  # fmt: skip
    else:
        base |= {"consumption": pa.array(amount / 3), "amount_billed": pa.array(amount / 5), "amount_paid": pa.array(amount / 5),
                 "arrears_amount": pa.array(np.zeros(n)), "payment_on_time": pa.array(on_time)}  # fmt: skip
    return base


def _event(
    name: str, ids: np.ndarray, as_of_day: int, rng: np.random.Generator
) -> dict[str, pa.Array]:
    n = len(ids)
    day = (as_of_day - rng.integers(0, 1500, n)).astype(np.int32)
    seq = (1970 * 12 + (day / 30.44)).astype(np.int32)
    later = np.where(rng.random(n) < 0.5, day + rng.integers(30, 900, n), -1).astype(np.int32)
    removed = pa.array(later, mask=later < 0)
    base: dict[str, pa.Array] = {
        "subject_id": pa.array(ids),
        "event_day": pa.array(day),
        "event_seq": pa.array(seq),
    }
    extra = {
        "penalty": {
            "severity": pa.array(rng.choice(["minor", "general", "serious"], n)),
            "decision_date": pa.array(day),
        },
        "judgment": {
            "role": pa.array(rng.choice(["原告", "被告"], n)),
            "judgment_date": pa.array(day),
        },
        "dishonest_debtor": {"removed_date": removed},
        "serious_dishonesty": {"removal_date": removed},
        "abnormal_operation": {"removed_date": removed},
        "tax_arrears": {"cleared_date": removed},
        "licence": {"valid_to": pa.array(day + 1100)},
        "tech_enterprise": {"valid_to": pa.array(day + 700)},
        "patent": {"status": pa.array(rng.choice(["有效", "失效", "审查中"], n))},
        "credit_commitment": {"fulfilled": pa.array(np.ones(n, dtype=np.int32))},
        "self_reported": {"commitment_signed": pa.array((rng.random(n) < 0.7).astype(np.int32))},
        "tax_credit_rating": {"rating": pa.array(rng.choice(["A", "B", "M", "C", "D"], n))},
    }
    return base | extra.get(name, {})


def write_snapshot(folder: Path, n: int) -> tuple[Snapshot, int]:
    rng = np.random.default_rng(7)
    folder.mkdir(parents=True)
    as_of_day = analytics.day_number(AS_OF)
    last_seq = analytics.month_seq(AS_OF) - 1
    ids = np.arange(1, n + 1, dtype=np.int64)
    rows: dict[str, int] = {}
    pq.write_table(pa.table({
        "subject_id": ids, "uscc": pa.array(np.full(n, "X")), "city_code": pa.array(np.full(n, "340100")),
        "division_code": pa.array(np.full(n, "340102")), "industry_section": pa.array(np.full(n, "C")),
        "entity_type": pa.array(np.full(n, "91")),
        "registration_day": (as_of_day - rng.integers(100, 9000, n)).astype(np.int32),
        "registered_capital_fen": rng.integers(100_000, 100_000_000, n), "status": pa.array(np.full(n, "active")),
    }), folder / "subject.parquet")  # fmt: skip
    rows["subject"] = n
    pq.write_table(pa.table({"as_of_day": pa.array([as_of_day], pa.int32()), "as_of_seq": pa.array([last_seq + 1], pa.int32()),
                             "last_seq": pa.array([last_seq], pa.int32())}), folder / "param.parquet")  # fmt: skip
    rows["param"] = 1
    pq.write_table(
        pa.table({"subject_id": ids, "records": np.ones(n, dtype=np.int64)}),
        folder / "coverage.parquet",
    )
    rows["coverage"] = n
    pq.write_table(pa.table({"subject_id": pa.array([], pa.int64()), "status": pa.array([], pa.string()),
                             "disbursement_day": pa.array([], pa.int32())}), folder / "loan.parquet")  # fmt: skip
    rows["loan"] = 0
    total = 0
    chunk = 250_000
    for name, share in {**MONTHLY, **EVENTS}.items():
        writer = None
        count = 0
        for start in range(0, n, chunk):
            block = ids[start : start + chunk]
            if name in MONTHLY:
                chosen = block[rng.random(len(block)) < share]
                columns = _monthly(name, chosen, last_seq, rng)
            else:
                chosen = np.repeat(block, rng.poisson(share, len(block)))
                columns = _event(name, chosen, as_of_day, rng)
            table = pa.table(columns)
            if writer is None:
                writer = pq.ParquetWriter(folder / f"{name}.parquet", table.schema)
            writer.write_table(table)
            count += table.num_rows
        assert writer is not None
        writer.close()
        rows[name] = count
        total += count
    (folder / META_FILE).write_text(json.dumps({
        "as_of": AS_OF.isoformat(), "rows": rows, "created_at": datetime.now(UTC).isoformat()}))  # fmt: skip
    return Snapshot.open(folder), total


def child(folder: str) -> None:
    snapshot = Snapshot.open(Path(folder))
    started = time.perf_counter()
    frame = analytics.compute_indicators(snapshot, indicator_config())
    seconds = time.perf_counter() - started
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"seconds": seconds, "peak_mb": peak_mb, "rows": int(frame.values.shape[0]),
                      "indicators": int(frame.values.shape[1])}))  # fmt: skip


def bench_indicators(n: int) -> dict[str, float]:
    work = Path(tempfile.mkdtemp(prefix="bench-scoring-scale-", dir="/tmp"))
    try:
        started = time.perf_counter()
        snapshot, total = write_snapshot(work / "snapshot", n)
        written = time.perf_counter() - started
        size_mb = sum(p.stat().st_size for p in (work / "snapshot").glob("*.parquet")) / 2**20
        print(f"[2] generated {total:,} raw records in {len(snapshot.rows) - 4} dataset files ({size_mb:,.0f} MB Parquet) "
              f"for {n:,} enterprises in {written:.0f} s")  # fmt: skip
        done = subprocess.run(
            [sys.executable, __file__, "--child", str(work / "snapshot")],
            capture_output=True,
            text=True,
            check=True,
        )
        result = json.loads(done.stdout.strip().splitlines()[-1])
        import pandas as pd

        started = time.perf_counter()
        tax = pd.read_parquet(
            work / "snapshot" / "tax_payment.parquet",
            columns=["subject_id", "period_seq", "total_tax_paid"],
        )
        last = analytics.month_seq(AS_OF) - 1
        window = tax[(tax.period_seq >= last - 11) & (tax.period_seq <= last)]
        (window.groupby("subject_id").total_tax_paid.sum() / 10000.0).to_numpy()
        pandas_one = time.perf_counter() - started
        con = analytics.connect_duckdb(snapshot)
        started = time.perf_counter()
        analytics.run_indicator(con, "tax_paid_12m", indicator_config().get("tax_paid_12m").sql)
        duck_one = time.perf_counter() - started
        con.close()
        print(f"    24 indicators in DuckDB: {result['seconds']:.1f} s, peak RSS {result['peak_mb']:,.0f} MB "
              f"({result['rows']:,} × {result['indicators']})  target ≤ 120 s, ≤ 6 GB")  # fmt: skip
        print(f"    baseline one indicator (tax paid 12 m) pandas read+filter+groupby: {pandas_one:.1f} s vs DuckDB "
              f"{duck_one:.1f} s (ratio {pandas_one / duck_one:.1f}×)")  # fmt: skip
        return {"records": total, "indicator_s": result["seconds"], "peak_mb": result["peak_mb"],
                "pandas_one_s": pandas_one, "duck_one_s": duck_one}  # fmt: skip
    finally:
        shutil.rmtree(work, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--enterprises", type=int, default=2_000_000)
    parser.add_argument("--parquet-enterprises", type=int, default=1_300_000)
    parser.add_argument("--skip-parquet", action="store_true")
    parser.add_argument("--child")
    args = parser.parse_args()
    if args.child:
        child(args.child)
        return
    load_before = os.getloadavg()[0]
    one = bench_scoring(args.enterprises)
    two = {} if args.skip_parquet else bench_indicators(args.parquet_enterprises)
    load_after = os.getloadavg()[0]
    print(f"load average {load_before:.1f} before, {load_after:.1f} after; cores {os.cpu_count()}")
    line = (f"RESULT score_s={one['score_s']:.3f} python_extrapolated_s={one['python_s']:.1f} "
            f"pandas_extrapolated_s={one['pandas_s']:.1f} ratio={one['python_s'] / one['score_s']:.0f}")  # fmt: skip
    if two:
        line += (f" records={two['records']} indicator_s={two['indicator_s']:.1f} peak_mb={two['peak_mb']:.0f} "
                 f"pandas_one_s={two['pandas_one_s']:.1f} duckdb_one_s={two['duck_one_s']:.1f}")  # fmt: skip
    print(line)


if __name__ == "__main__":
    main()
