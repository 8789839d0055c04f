"""The analytics path of the collection metrics: a columnar snapshot of the store and the SQL that
turns it into figures.

1. :data:`SNAPSHOT_TABLES` are collection's part of the analytics snapshot
   (:mod:`creditbridge.core.snapshot`); :func:`export_snapshot` writes them. Times become numbers and dates the SQL can compare on any engine: ``received_epoch`` (UTC
   seconds), ``received_date`` (the Beijing calendar day) and month sequence numbers
   (``year * 12 + month - 1``), so the metric SQL needs no date functions, which differ by engine.
2. :data:`METRIC_SQL` computes one month's rows per provider × dataset × city. It is standard SQL
   (CTEs, CASE, UNION, aggregates) over plain tables; the only engine-specific piece is reading a
   JSON field, isolated in :data:`JSON_TEXT` (``->>`` in DuckDB and SQLite; Spark would use
   ``get_json_object``). The per-month parameters (deadlines in working days, which datasets are
   coverage-measured, required fields) are computed in Python and given to the SQL as small
   tables, because the holiday calendar is not something SQL knows.
3. :func:`run_metrics` runs it in DuckDB over the Parquet files; :func:`load_into_sqlite` loads the
   same snapshot into SQLite so that the same SQL can be checked on a second engine.
"""

from __future__ import annotations

import sqlite3
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any, Final

import duckdb
import pyarrow as pa  # type: ignore[import-untyped]
import pyarrow.compute as pc  # type: ignore[import-untyped]
import pyarrow.parquet as pq  # type: ignore[import-untyped]
from sqlalchemy import Connection, Text, cast, select

from creditbridge.core import snapshot
from creditbridge.core.snapshot import CHUNK_ROWS, Chunk, Snapshot, Table
from creditbridge.ingest.models import Batch, Provider, ProviderDataset
from creditbridge.subjects.models import Record, Subject

BEIJING_OFFSET_SECONDS: Final = 8 * 3600  # China has kept UTC+8 without summer time since 1991.
SECONDS_PER_DAY: Final = 86_400

JSON_TEXT: Final = "{column} ->> ('$.' || {path})"
"""How the engine reads one JSON field as text (NULL when absent or JSON null)."""


# ------------------------------------------------------------------ snapshot


def _month_seq_of(days: pa.Array) -> pa.Array:
    return pc.subtract(pc.add(pc.multiply(pc.year(days), 12), pc.month(days)), 1).cast(pa.int32())


def _subject(chunk: Chunk) -> Chunk:
    registered = chunk.pop("registration_date").cast(pa.date32())
    chunk["registration_seq"] = _month_seq_of(registered)
    return chunk


def _provider(chunk: Chunk) -> Chunk:
    # Province-level providers (division ending in 0000) deliver for every city; others for the
    # city their division belongs to.
    division = chunk["division_code"]
    city = pc.binary_join_element_wise(pc.utf8_slice_codeunits(division, 0, 4), "00", "")
    province_wide = pc.ends_with(division, "0000")
    chunk["city_code"] = pc.if_else(province_wide, pa.scalar(None, pa.string()), city)
    return chunk


def _batch(chunk: Chunk) -> Chunk:
    received = chunk.pop("received_at").cast(pa.timestamp("us", tz="UTC"))
    epoch = pc.divide(received.cast(pa.int64()), 1_000_000)
    local_day = pc.divide(pc.add(epoch, BEIJING_OFFSET_SECONDS), SECONDS_PER_DAY)
    day = local_day.cast(pa.int32()).cast(pa.date32())
    chunk["received_epoch"] = epoch
    chunk["received_date"] = day
    # A batch without records (refused, or emptied) is taken to be about the month before the one
    # it arrived in: the usual case of data delivered after their month ends.
    chunk["fallback_seq"] = pc.subtract(_month_seq_of(day), 1).cast(pa.int32())
    return chunk


def _record(chunk: Chunk) -> Chunk:
    chunk["event_seq"] = _month_seq_of(chunk.pop("event_date").cast(pa.date32()))
    return chunk


SNAPSHOT_TABLES: Final = snapshot.register(
    Table(
        "snap_subject",
        lambda: select(
            Subject.id, Subject.city_code, Subject.status, Subject.entity_type,
            Subject.registration_date,
        ).order_by(Subject.id),
        {"id": pa.int64(), "city_code": pa.string(), "status": pa.string(),
         "entity_type": pa.string(), "registration_date": pa.date32()},
        _subject,
    ),
    Table(
        "snap_provider",
        lambda: select(Provider.id, Provider.code, Provider.division_code).order_by(Provider.id),
        {"id": pa.int64(), "code": pa.string(), "division_code": pa.string()},
        _provider,
    ),
    Table(
        "snap_provider_dataset",
        lambda: select(ProviderDataset.provider_id, ProviderDataset.dataset_code).order_by(
            ProviderDataset.id
        ),
        {"provider_id": pa.int64(), "dataset_code": pa.string()},
    ),
    Table(
        "snap_batch",
        lambda: select(
            Batch.id, Batch.provider_id, Batch.dataset_code, Batch.status, Batch.received_at,
            Batch.rows_total, Batch.rows_accepted, Batch.rows_rejected,
        ).order_by(Batch.id),
        {"id": pa.int64(), "provider_id": pa.int64(), "dataset_code": pa.string(),
         "status": pa.string(), "received_at": pa.timestamp("us", tz="UTC"),
         "rows_total": pa.int64(), "rows_accepted": pa.int64(), "rows_rejected": pa.int64()},
        _batch,
    ),
    # The payload is exported as JSON text for the completeness check; the metric SQL reads only
    # the required fields of it.
    Table(
        "snap_record",
        lambda: select(
            Record.id, Record.subject_id, Record.dataset_code, Record.status, Record.event_date,
            Record.batch_id, Record.provider_id, cast(Record.data, Text).label("data"),
        ).order_by(Record.id),
        {"id": pa.int64(), "subject_id": pa.int64(), "dataset_code": pa.string(),
         "status": pa.string(), "event_date": pa.date32(), "batch_id": pa.int64(),
         "provider_id": pa.int64(), "data": pa.string()},
        _record,
    ),
)  # fmt: skip
"""The tables collection contributes to the analytics snapshot, which the metric SQL reads."""


def export_snapshot(
    connection: Connection, root: Path, *, chunk_rows: int = CHUNK_ROWS
) -> Snapshot:
    """Write the tables the metrics read into a new folder under ``root``, streaming each query
    in chunks of ``chunk_rows`` rows. Reads through ``connection`` so that it sees the caller's
    transaction (rows not yet committed included)."""
    folder = root / f"snapshot-{uuid.uuid4().hex[:12]}"
    return snapshot.export(connection, folder, tables=SNAPSHOT_TABLES, chunk_rows=chunk_rows)


# ------------------------------------------------------------------ parameters


@dataclass(frozen=True)
class DatasetParams:
    """What the SQL needs to know about one dataset for the month computed."""

    code: str
    cadence: str  # periodic | event
    coverage_basis: str  # active_subjects | panel | none
    coverage_scope: str  # period | stock | none
    deadline: date
    required_fields: tuple[str, ...]


@dataclass(frozen=True)
class MetricParams:
    month_seq: int
    as_of: datetime
    panel_months: int
    datasets: Sequence[DatasetParams]


def param_tables(params: MetricParams) -> dict[str, pa.Table]:
    as_of_epoch = int(params.as_of.timestamp())
    return {
        "param_run": pa.table(
            {
                "month_seq": pa.array([params.month_seq], pa.int32()),
                "as_of_epoch": pa.array([as_of_epoch], pa.int64()),
                "panel_months": pa.array([params.panel_months], pa.int32()),
            }
        ),
        "param_dataset": pa.table(
            {
                "dataset_code": pa.array([d.code for d in params.datasets], pa.string()),
                "cadence": pa.array([d.cadence for d in params.datasets], pa.string()),
                "coverage_basis": pa.array([d.coverage_basis for d in params.datasets]),
                "coverage_scope": pa.array([d.coverage_scope for d in params.datasets]),
                "deadline_date": pa.array([d.deadline for d in params.datasets], pa.date32()),
            }
        ),
        "param_required_field": pa.table(
            {
                "dataset_code": pa.array(
                    [d.code for d in params.datasets for _ in d.required_fields], pa.string()
                ),
                "field_code": pa.array(
                    [f for d in params.datasets for f in d.required_fields], pa.string()
                ),
            }
        ),
    }


# ------------------------------------------------------------------ the metric SQL
# A provider answers for every city when it is province-level, else for its own city and every
# city it has delivered records about (a customs office in the capital serves the province).

_CTES: Final = """
WITH
live_batch AS (
  SELECT b.id, b.provider_id, b.dataset_code, b.status, b.received_date,
         COALESCE(bp.period_seq, b.fallback_seq) AS period_seq
  FROM snap_batch b
  LEFT JOIN (SELECT batch_id, MAX(event_seq) AS period_seq FROM snap_record GROUP BY batch_id) bp
    ON bp.batch_id = b.id
  WHERE b.received_epoch <= (SELECT as_of_epoch FROM param_run)
),
month_batch AS (
  SELECT lb.id, lb.provider_id, lb.dataset_code, lb.status, lb.received_date
  FROM live_batch lb
  WHERE lb.period_seq = (SELECT month_seq FROM param_run)
),
city AS (SELECT DISTINCT city_code FROM snap_subject),
live_record AS (
  SELECT r.subject_id, r.provider_id, r.dataset_code, r.event_seq
  FROM snap_record r
  JOIN live_batch lb ON lb.id = r.batch_id
  WHERE r.status <> 'withdrawn'
),
reach AS (
  SELECT DISTINCT lr.provider_id, lr.dataset_code, s.city_code
  FROM live_record lr
  JOIN snap_subject s ON s.id = lr.subject_id
),
pair AS (
  SELECT provider_id, dataset_code FROM snap_provider_dataset
  UNION
  SELECT provider_id, dataset_code FROM month_batch
),
grid AS (
  SELECT pr.provider_id, pr.dataset_code, c.city_code, d.cadence, d.coverage_basis,
         d.coverage_scope, d.deadline_date
  FROM pair pr
  JOIN param_dataset d ON d.dataset_code = pr.dataset_code
  JOIN snap_provider p ON p.id = pr.provider_id
  JOIN city c ON p.city_code IS NULL OR p.city_code = c.city_code
    OR EXISTS (SELECT 1 FROM reach rc WHERE rc.provider_id = pr.provider_id
               AND rc.dataset_code = pr.dataset_code AND rc.city_code = c.city_code)
),
delivery AS (
  SELECT provider_id, dataset_code,
         SUM(CASE WHEN status = 'applied' THEN 1 ELSE 0 END) AS batches_applied,
         SUM(CASE WHEN status = 'refused' THEN 1 ELSE 0 END) AS batches_refused,
         MIN(CASE WHEN status = 'applied' THEN received_date END) AS first_received_date
  FROM month_batch
  GROUP BY provider_id, dataset_code
),
freshness AS (
  SELECT provider_id, dataset_code,
         (SELECT month_seq FROM param_run) - MAX(period_seq) AS months_since_delivery
  FROM live_batch
  WHERE status = 'applied' AND period_seq <= (SELECT month_seq FROM param_run)
  GROUP BY provider_id, dataset_code
),
month_record AS (
  SELECT r.id, r.provider_id, r.dataset_code, s.city_code, r.data
  FROM snap_record r
  JOIN month_batch mb ON mb.id = r.batch_id AND mb.status = 'applied'
  JOIN snap_subject s ON s.id = r.subject_id
  WHERE r.status <> 'withdrawn'
),
incomplete AS (
  SELECT DISTINCT mr.id
  FROM month_record mr
  JOIN param_required_field f ON f.dataset_code = mr.dataset_code
  WHERE NULLIF(TRIM({json_field}), '') IS NULL
),
completeness AS (
  SELECT mr.provider_id, mr.dataset_code, mr.city_code, COUNT(*) AS records_total,
         SUM(CASE WHEN i.id IS NULL THEN 1 ELSE 0 END) AS records_complete
  FROM month_record mr
  LEFT JOIN incomplete i ON i.id = mr.id
  GROUP BY mr.provider_id, mr.dataset_code, mr.city_code
),
expected AS (
  SELECT g.provider_id, g.dataset_code, s.city_code, s.id AS subject_id
  FROM grid g
  JOIN snap_subject s ON s.city_code = g.city_code
  WHERE g.coverage_basis = 'active_subjects' AND s.status = 'active'
    AND (s.registration_seq IS NULL OR s.registration_seq <= (SELECT month_seq FROM param_run))
  UNION
  SELECT g.provider_id, g.dataset_code, s.city_code, s.id AS subject_id
  FROM grid g
  JOIN live_record lr ON lr.provider_id = g.provider_id AND lr.dataset_code = g.dataset_code
  JOIN snap_subject s ON s.id = lr.subject_id AND s.city_code = g.city_code
  WHERE g.coverage_basis = 'panel' AND s.status = 'active'
    AND lr.event_seq < (SELECT month_seq FROM param_run)
    AND lr.event_seq >= (SELECT month_seq - panel_months FROM param_run)
),
covered AS (
  SELECT DISTINCT lr.provider_id, lr.dataset_code, lr.subject_id
  FROM live_record lr
  JOIN param_dataset d ON d.dataset_code = lr.dataset_code
  WHERE (d.coverage_scope = 'period' AND lr.event_seq = (SELECT month_seq FROM param_run))
     OR (d.coverage_scope = 'stock' AND lr.event_seq <= (SELECT month_seq FROM param_run))
),
coverage AS (
  SELECT e.provider_id, e.dataset_code, e.city_code, COUNT(*) AS expected,
         SUM(CASE WHEN c.subject_id IS NULL THEN 0 ELSE 1 END) AS covered
  FROM expected e
  LEFT JOIN covered c
    ON c.provider_id = e.provider_id AND c.dataset_code = e.dataset_code
   AND c.subject_id = e.subject_id
  GROUP BY e.provider_id, e.dataset_code, e.city_code
)
"""

_METRIC_SELECT: Final = """
SELECT g.dataset_code, g.city_code, g.provider_id, g.cadence, g.deadline_date,
       CASE WHEN g.cadence = 'periodic' OR COALESCE(dl.batches_applied, 0) > 0
            THEN 1 ELSE 0 END AS deliveries_due,
       CASE WHEN COALESCE(dl.batches_applied, 0) > 0 THEN 1 ELSE 0 END AS deliveries_made,
       CASE WHEN dl.first_received_date <= g.deadline_date THEN 1 ELSE 0 END AS deliveries_on_time,
       dl.first_received_date,
       COALESCE(dl.batches_applied, 0) AS batches_applied,
       COALESCE(dl.batches_refused, 0) AS batches_refused,
       fr.months_since_delivery,
       CASE WHEN g.coverage_basis = 'none' THEN NULL
            ELSE COALESCE(cv.expected, 0) END AS coverage_expected,
       CASE WHEN g.coverage_basis = 'none' THEN NULL
            ELSE COALESCE(cv.covered, 0) END AS coverage_covered,
       COALESCE(cp.records_total, 0) AS records_total,
       COALESCE(cp.records_complete, 0) AS records_complete
FROM grid g
LEFT JOIN delivery dl ON dl.provider_id = g.provider_id AND dl.dataset_code = g.dataset_code
LEFT JOIN freshness fr ON fr.provider_id = g.provider_id AND fr.dataset_code = g.dataset_code
LEFT JOIN coverage cv
  ON cv.provider_id = g.provider_id AND cv.dataset_code = g.dataset_code
 AND cv.city_code = g.city_code
LEFT JOIN completeness cp
  ON cp.provider_id = g.provider_id AND cp.dataset_code = g.dataset_code
 AND cp.city_code = g.city_code
ORDER BY g.dataset_code, g.city_code, g.provider_id
"""

_BATCH_SELECT: Final = """
SELECT mb.id AS batch_id, mb.provider_id, mb.dataset_code
FROM month_batch mb
JOIN param_dataset d ON d.dataset_code = mb.dataset_code
ORDER BY mb.id
"""

_JSON_FIELD: Final = JSON_TEXT.format(column="mr.data", path="f.field_code")
METRIC_SQL: Final = _CTES.replace("{json_field}", _JSON_FIELD) + _METRIC_SELECT
"""One month's rows, one per provider × dataset × city (:data:`METRIC_COLUMNS`)."""
BATCH_SQL: Final = _CTES.replace("{json_field}", _JSON_FIELD) + _BATCH_SELECT
"""The batches counted for the month computed: the drill-down's last level."""

METRIC_COLUMNS: Final = (
    "dataset_code", "city_code", "provider_id", "cadence", "deadline_date", "deliveries_due",
    "deliveries_made", "deliveries_on_time", "first_received_date", "batches_applied",
    "batches_refused", "months_since_delivery", "coverage_expected", "coverage_covered",
    "records_total", "records_complete",
)  # fmt: skip


@dataclass(frozen=True)
class MetricResult:
    rows: list[dict[str, Any]]
    batches: list[tuple[int, int, str]]


def run_metrics(snapshot: Snapshot, params: MetricParams) -> MetricResult:
    """Run the metric SQL in an in-memory DuckDB over the snapshot's Parquet files."""
    con = duckdb.connect(":memory:")
    try:
        for table in SNAPSHOT_TABLES:
            path = str(snapshot.path(table)).replace("'", "''")
            con.execute(f"CREATE VIEW {table} AS SELECT * FROM read_parquet('{path}')")
        for name, arrow in param_tables(params).items():
            con.register(name, arrow)
        rows = [
            _as_dates(dict(zip(METRIC_COLUMNS, row, strict=True)))
            for row in con.execute(METRIC_SQL).fetchall()
        ]
        batches = [(int(b), int(p), str(d)) for b, p, d in con.execute(BATCH_SQL).fetchall()]
    finally:
        con.close()
    return MetricResult(rows, batches)


def _as_dates(row: dict[str, Any]) -> dict[str, Any]:
    for key in ("deadline_date", "first_received_date"):
        value = row[key]
        if isinstance(value, str):
            row[key] = date.fromisoformat(value)
    for key, value in row.items():
        if isinstance(value, float | int) and not isinstance(value, bool) and key != "cadence":
            row[key] = int(value)
    return row


# ------------------------------------------------------------------ a second engine


def _sqlite_value(value: Any) -> Any:
    return value.isoformat() if isinstance(value, date) else value


def load_into_sqlite(
    snapshot: Snapshot, params: MetricParams, connection: sqlite3.Connection
) -> None:
    """Load the snapshot and the parameters into SQLite tables of the same names (dates as ISO
    text, which compare the same way), so that :data:`METRIC_SQL` can run there unchanged."""
    tables = {name: pq.read_table(snapshot.path(name)) for name in SNAPSHOT_TABLES}
    tables.update(param_tables(params))
    for name, arrow in tables.items():
        columns = ", ".join(arrow.column_names)
        marks = ", ".join("?" for _ in arrow.column_names)
        connection.execute(f"CREATE TABLE {name} ({columns})")
        for batch in arrow.to_batches(CHUNK_ROWS):
            values = [batch.column(i).to_pylist() for i in range(batch.num_columns)]
            connection.executemany(
                f"INSERT INTO {name} ({columns}) VALUES ({marks})",
                ([_sqlite_value(v) for v in row] for row in zip(*values, strict=True)),
            )


def run_metrics_sqlite(connection: sqlite3.Connection) -> MetricResult:
    rows = [
        _as_dates(dict(zip(METRIC_COLUMNS, row, strict=True)))
        for row in connection.execute(METRIC_SQL).fetchall()
    ]
    batches = [(int(b), int(p), str(d)) for b, p, d in connection.execute(BATCH_SQL).fetchall()]
    return MetricResult(rows, batches)
