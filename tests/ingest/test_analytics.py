"""The analytics path: the snapshot is Parquet, and the metric SQL is portable — the same text
gives the same rows in DuckDB (over Parquet) and in SQLite (the same data loaded from it)."""

from __future__ import annotations

import sqlite3
from datetime import date
from pathlib import Path

import pyarrow.parquet as pq
from sqlalchemy.orm import Session

from creditbridge.catalog import service as catalog_service
from creditbridge.core.snapshot import month_seq
from creditbridge.ingest import analytics, metrics

from .collection_data import AS_OF, USCC, build_province


def _params(session: Session, month: date) -> analytics.MetricParams:
    return analytics.MetricParams(
        month_seq=month_seq(month),
        as_of=AS_OF,
        panel_months=12,
        datasets=[
            metrics.dataset_params(
                d.code,
                d.update_frequency,
                d.definition.get("sla_days"),
                [f.code for f in d.fields if f.required],
                month,
            )
            for d in catalog_service.list_datasets(session)
        ],
    )


def test_snapshot_is_parquet_with_derived_columns(session: Session, tmp_path: Path) -> None:
    build_province(session)
    snapshot = analytics.export_snapshot(session.connection(), tmp_path, chunk_rows=2)
    assert snapshot.rows["snap_subject"] == len(USCC)
    assert snapshot.rows["snap_batch"] == 6
    batch = pq.read_table(snapshot.path("snap_batch")).to_pylist()
    refused = next(b for b in batch if b["status"] == "refused")
    # received 2026-10-10 02:00 UTC = 10:00 in Beijing; without records it is about September
    assert refused["received_date"] == date(2026, 10, 10)
    assert refused["fallback_seq"] == month_seq(date(2026, 9, 1))
    providers = {
        p["code"]: p["city_code"] for p in pq.read_table(snapshot.path("snap_provider")).to_pylist()
    }
    assert providers == {"t-tax": None, "t-water": "340100", "t-samr": None, "t-hrss": None}
    record = pq.read_table(snapshot.path("snap_record")).to_pylist()[0]
    assert record["event_seq"] == month_seq(date(2026, 9, 1))
    assert '"uscc"' in record["data"]


def test_the_same_metric_sql_gives_the_same_rows_in_duckdb_and_sqlite(
    session: Session, tmp_path: Path
) -> None:
    build_province(session)
    snapshot = analytics.export_snapshot(session.connection(), tmp_path)
    for month in (date(2026, 8, 1), date(2026, 9, 1), date(2026, 10, 1)):
        params = _params(session, month)
        in_duckdb = analytics.run_metrics(snapshot, params)
        second = sqlite3.connect(":memory:")
        analytics.load_into_sqlite(snapshot, params, second)
        in_sqlite = analytics.run_metrics_sqlite(second)
        second.close()
        assert in_duckdb.rows, month
        assert in_sqlite.rows == in_duckdb.rows, month
        assert in_sqlite.batches == in_duckdb.batches, month
