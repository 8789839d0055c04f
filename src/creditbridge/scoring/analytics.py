"""The analytics path of scoring: a typed columnar snapshot of the store, and the indicator SQL
over it.

1. :func:`export_snapshot` writes scoring's part of the analytics snapshot
   (:mod:`creditbridge.core.snapshot`): the enterprises (``subject``), the loan outcomes
   (``loan``) and the current records are streamed out of the store; DuckDB then flattens each
   dataset's JSON ``data`` into typed columns, one Parquet file per dataset named by its code
   (``tax_payment.parquet`` …). Dates become integers the SQL can compare on any engine:
   ``*_day`` / date fields as days since 1970-01-01, ``event_seq`` / ``period_seq`` as month
   numbers (``year * 12 + month - 1``); booleans become 0/1; money and decimals DOUBLE. Memory is
   bounded by the chunk (Python side) and DuckDB's memory limit (flattening).
2. :func:`compute_indicators` runs each indicator's SQL (``scoring/data/indicators-*.yaml``) in
   DuckDB over the snapshot and lines the values up as an n × k matrix (NaN = missing); an SQL
   error names the indicator.
3. :func:`load_into_sqlite` loads the same snapshot into SQLite, so that the tests run the same
   SQL on a second engine.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any, Final, Self

import duckdb
import numpy as np
import pyarrow as pa  # type: ignore[import-untyped]
import pyarrow.parquet as pq  # type: ignore[import-untyped]
from numpy.typing import NDArray
from sqlalchemy import Connection, Text, cast, select

from creditbridge.catalog.schemas import DatasetSpec
from creditbridge.core import snapshot
from creditbridge.core.snapshot import CHUNK_ROWS, Table, day_number, month_seq
from creditbridge.presentation.errors import keyed
from creditbridge.scoring.errors import IndicatorSqlError, SnapshotMissing
from creditbridge.scoring.schemas import IndicatorConfig
from creditbridge.subjects.models import Record, Subject

BAD_LOAN_STATUSES: Final = ("defaulted", "overdue")
DUCKDB_MEMORY_LIMIT: Final = "2GB"
BASE_TABLES: Final = ("subject", "loan", "param", "coverage")


@dataclass(frozen=True)
class Snapshot(snapshot.Snapshot):
    """The model lab's snapshot: the base tables and one per dataset, as of a day."""

    as_of: date

    @classmethod
    def open(cls, folder: Path) -> Self:
        try:
            return super().open(folder)
        except FileNotFoundError:
            raise keyed(SnapshotMissing, "error.scoring.no_snapshot", folder=str(folder)) from None


# ------------------------------------------------------------------ export


STAGING: Final = snapshot.register(
    Table(
        "scoring_subject_raw",
        lambda: select(
            Subject.id, Subject.uscc, Subject.city_code, Subject.division_code,
            Subject.industry_section, Subject.entity_type, Subject.registration_date,
            Subject.registered_capital_fen, Subject.status,
        ).order_by(Subject.id),
        {"subject_id": pa.int64(), "uscc": pa.string(), "city_code": pa.string(),
         "division_code": pa.string(), "industry_section": pa.string(),
         "entity_type": pa.string(), "registration_date": pa.date32(),
         "registered_capital_fen": pa.int64(), "status": pa.string()},
        staging=True,
    ),
    Table(
        "scoring_record_raw",
        lambda: select(
            Record.subject_id, Record.dataset_code, Record.event_date,
            cast(Record.data, Text).label("data"),
        )
        .where(Record.status == "current")
        .order_by(Record.dataset_code, Record.subject_id),
        {"subject_id": pa.int64(), "dataset_code": pa.string(), "event_date": pa.date32(),
         "data": pa.string()},
        staging=True,
    ),
)  # fmt: skip
"""What scoring streams out of the store; :func:`export_snapshot` derives its tables from them."""
SUBJECT_RAW, RECORD_RAW = STAGING
LOAN_RAW: Final = "marketplace_loan_raw"
"""The loans the marketplace contributes (:mod:`creditbridge.marketplace.analytics`): outcomes
that the trained scorecard learns from. Named, not imported: the marketplace reads grades from
scoring, so scoring may not import the marketplace back."""


def _field_sql(code: str, kind: str) -> str | None:
    """The DuckDB expression turning one JSON field into its typed snapshot column; None for
    free text, which no indicator reads."""
    raw = f"json_extract_string(data, '$.{code}')"
    if kind in ("amount", "decimal"):
        return f"TRY_CAST({raw} AS DOUBLE) AS {code}"
    if kind == "integer":
        return f"TRY_CAST({raw} AS BIGINT) AS {code}"
    if kind == "boolean":
        return f"CASE {raw} WHEN 'true' THEN 1 WHEN 'false' THEN 0 END AS {code}"
    if kind == "date":
        return f"CAST(TRY_CAST({raw} AS DATE) - DATE '1970-01-01' AS INTEGER) AS {code}"
    if kind == "period":
        return (
            f"TRY_CAST(substr({raw}, 1, 4) AS INTEGER) * 12 + TRY_CAST(substr({raw}, 6, 2) AS "
            f"INTEGER) - 1 AS {code}_seq"
        )
    if kind in ("text", "uscc"):
        return None
    return f"{raw} AS {code}"


def dataset_select(spec: DatasetSpec, source: str) -> str:
    """The flattening SELECT of one dataset from the raw records ``source``."""
    columns = [
        "subject_id",
        "CAST(event_date - DATE '1970-01-01' AS INTEGER) AS event_day",
        "CAST(year(event_date) * 12 + month(event_date) - 1 AS INTEGER) AS event_seq",
    ]
    columns += [c for f in spec.fields if (c := _field_sql(f.code, f.type)) is not None]
    return (
        f"SELECT {', '.join(columns)} FROM {source} "
        f"WHERE dataset_code = '{spec.code}' ORDER BY subject_id"
    )


def _quote(path: Path) -> str:
    return "'" + str(path).replace("'", "''") + "'"


def export_snapshot(
    connection: Connection,
    folder: Path,
    *,
    as_of: date,
    datasets: Sequence[DatasetSpec],
    chunk_rows: int = CHUNK_ROWS,
) -> Snapshot:
    """Write a new snapshot into ``folder`` (replacing one there) and return it. Reads through
    ``connection`` so it sees the caller's transaction."""
    written = snapshot.export(
        connection,
        folder,
        tables=(*STAGING, LOAN_RAW),
        as_of=as_of,
        derive=lambda work: _derive(work, as_of=as_of, datasets=datasets),
        chunk_rows=chunk_rows,
    )
    return Snapshot(written.folder, written.rows, as_of, written.created_at)


def _derive(work: Path, *, as_of: date, datasets: Sequence[DatasetSpec]) -> dict[str, int]:
    rows: dict[str, int] = {}
    con = duckdb.connect(":memory:")
    try:
        con.execute(f"SET memory_limit = '{DUCKDB_MEMORY_LIMIT}'")
        con.execute("SET preserve_insertion_order = false")
        raw = _quote(work / f"{RECORD_RAW}.parquet")
        con.execute(f"CREATE VIEW raw AS SELECT * FROM read_parquet({raw})")

        def copy(table: str, sql: str) -> None:
            con.execute(f"COPY ({sql}) TO {_quote(work / f'{table}.parquet')} (FORMAT parquet)")
            counted = con.execute(
                f"SELECT COUNT(*) FROM read_parquet({_quote(work / f'{table}.parquet')})"
            ).fetchone()
            rows[table] = int(counted[0]) if counted else 0

        copy(
            "subject",
            "SELECT subject_id, uscc, city_code, division_code, industry_section, entity_type, "
            "CAST(registration_date - DATE '1970-01-01' AS INTEGER) AS registration_day, "
            "registered_capital_fen, status "
            f"FROM read_parquet({_quote(work / f'{SUBJECT_RAW}.parquet')}) ORDER BY subject_id",
        )
        copy(
            "loan",
            "SELECT subject_id, status, "
            "CAST(disbursement_date - DATE '1970-01-01' AS INTEGER) AS disbursement_day "
            f"FROM read_parquet({_quote(work / f'{LOAN_RAW}.parquet')})",
        )
        copy(
            "param",
            f"SELECT CAST({day_number(as_of)} AS INTEGER) AS as_of_day, "
            f"CAST({month_seq(as_of)} AS INTEGER) AS as_of_seq, "
            # Monthly series arrive after their month ends: the last complete month is the one
            # before the as-of month.
            f"CAST({month_seq(as_of) - 1} AS INTEGER) AS last_seq",
        )
        copy(
            "coverage",
            "SELECT subject_id, COUNT(*) AS records FROM raw GROUP BY subject_id ORDER BY 1",
        )
        for spec in datasets:
            copy(spec.code, dataset_select(spec, "raw"))
    finally:
        con.close()
    return rows


# ------------------------------------------------------------------ indicators


@dataclass(frozen=True)
class IndicatorFrame:
    """Indicator values of every enterprise of the snapshot: ``values[i, j]`` is indicator
    ``codes[j]`` of ``subject_ids[i]`` (NaN = missing); ``has_records`` false for enterprises
    without any current record (scored as insufficient data)."""

    subject_ids: NDArray[np.int64]
    codes: tuple[str, ...]
    values: NDArray[np.float64]
    has_records: NDArray[np.bool_]

    def column(self, code: str) -> NDArray[np.float64]:
        return self.values[:, self.codes.index(code)]

    def select(self, codes: Sequence[str]) -> NDArray[np.float64]:
        """The columns of ``codes``, column-major (what the scorer reads fastest)."""
        picked: NDArray[np.float64] = self.values.T[[self.codes.index(c) for c in codes]].T
        return picked


def connect_duckdb(snapshot: Snapshot, *, threads: int | None = None) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect(":memory:")
    con.execute(f"SET memory_limit = '{DUCKDB_MEMORY_LIMIT}'")
    if threads:
        con.execute(f"SET threads = {int(threads)}")
    for table in snapshot.tables:
        con.execute(
            f"CREATE VIEW {table} AS SELECT * FROM read_parquet({_quote(snapshot.path(table))})"
        )
    return con


def _line_up(
    subject_ids: NDArray[np.int64], ids: NDArray[Any], values: NDArray[Any], absent: float | None
) -> NDArray[np.float64]:
    column = np.full(len(subject_ids), np.nan if absent is None else float(absent))
    if len(ids):
        position = np.searchsorted(subject_ids, ids)
        valid = (position < len(subject_ids)) & (
            subject_ids[np.minimum(position, len(subject_ids) - 1)] == ids
        )
        column[position[valid]] = values[valid]
    return column


def _as_float(values: Any) -> NDArray[np.float64]:
    if isinstance(values, np.ma.MaskedArray):
        masked: Any = values
        filled = masked.astype(np.float64).filled(np.nan)
        return np.asarray(filled, dtype=np.float64)
    return np.asarray(values, dtype=np.float64)


def run_indicator(con: Any, code: str, sql: str) -> tuple[NDArray[np.int64], NDArray[np.float64]]:
    """One indicator's (subject_id, value) rows from a DuckDB or sqlite3 connection; an error
    becomes :class:`IndicatorSqlError` naming ``code``."""
    try:
        if isinstance(con, sqlite3.Connection):
            fetched = con.execute(sql).fetchall()
            ids = np.asarray([r[0] for r in fetched], dtype=np.int64)
            values = np.asarray(
                [np.nan if r[1] is None else float(r[1]) for r in fetched], dtype=np.float64
            )
        else:
            arrays = con.execute(sql).fetchnumpy()
            names = list(arrays)
            if len(names) != 2:
                raise IndicatorSqlError(
                    code, f"应返回 2 列 (subject_id, value)，实际 {len(names)} 列"
                )
            ids = np.asarray(arrays[names[0]], dtype=np.int64)
            values = _as_float(arrays[names[1]])
    except (duckdb.Error, sqlite3.Error) as exc:
        raise IndicatorSqlError(code, str(exc).splitlines()[0]) from exc
    order = np.argsort(ids, kind="stable")
    return ids[order], values[order]


def compute_indicators(
    snapshot: Snapshot, config: IndicatorConfig, *, threads: int | None = None
) -> IndicatorFrame:
    con = connect_duckdb(snapshot, threads=threads)
    try:
        return _compute(con, config)
    finally:
        con.close()


def _compute(con: Any, config: IndicatorConfig) -> IndicatorFrame:
    if isinstance(con, sqlite3.Connection):
        subject_ids = np.asarray(
            [r[0] for r in con.execute("SELECT subject_id FROM subject ORDER BY subject_id")],
            dtype=np.int64,
        )
        covered = np.asarray(
            [r[0] for r in con.execute("SELECT subject_id FROM coverage ORDER BY subject_id")],
            dtype=np.int64,
        )
    else:
        subject_ids = np.asarray(
            con.execute("SELECT subject_id FROM subject ORDER BY subject_id").fetchnumpy()[
                "subject_id"
            ],
            dtype=np.int64,
        )
        covered = np.asarray(
            con.execute("SELECT subject_id FROM coverage ORDER BY subject_id").fetchnumpy()[
                "subject_id"
            ],
            dtype=np.int64,
        )
    values = np.empty((len(subject_ids), len(config.indicators)), dtype=np.float64, order="F")
    for j, spec in enumerate(config.indicators):
        ids, column = run_indicator(con, spec.code, spec.sql)
        values[:, j] = _line_up(subject_ids, ids, column, spec.absent)
    has_records = np.isin(subject_ids, covered)
    return IndicatorFrame(subject_ids, config.codes, values, has_records)


def compute_indicators_sqlite(
    connection: sqlite3.Connection, config: IndicatorConfig
) -> IndicatorFrame:
    return _compute(connection, config)


@dataclass(frozen=True)
class Outcomes:
    """Per enterprise with loans: 1 when any loan is defaulted or overdue, else 0."""

    subject_ids: NDArray[np.int64]
    bad: NDArray[np.int8]


def loan_outcomes(snapshot: Snapshot) -> Outcomes:
    con = connect_duckdb(snapshot)
    try:
        statuses = ", ".join(f"'{s}'" for s in BAD_LOAN_STATUSES)
        arrays = con.execute(
            f"SELECT subject_id, MAX(CASE WHEN status IN ({statuses}) THEN 1 ELSE 0 END) AS bad "
            "FROM loan GROUP BY subject_id ORDER BY subject_id"
        ).fetchnumpy()
    finally:
        con.close()
    return Outcomes(
        np.asarray(arrays["subject_id"], dtype=np.int64), np.asarray(arrays["bad"], dtype=np.int8)
    )


# ------------------------------------------------------------------ a second engine


def load_into_sqlite(snapshot: Snapshot, connection: sqlite3.Connection) -> None:
    """Load every table of the snapshot into SQLite tables of the same names, so that the
    indicator SQL runs there unchanged."""
    for name in snapshot.tables:
        arrow = pq.read_table(snapshot.path(name))
        columns = ", ".join(arrow.column_names)
        marks = ", ".join("?" for _ in arrow.column_names)
        connection.execute(f"CREATE TABLE {name} ({columns})")
        for batch in arrow.to_batches(CHUNK_ROWS):
            values = [batch.column(i).to_pylist() for i in range(batch.num_columns)]
            connection.executemany(
                f"INSERT INTO {name} ({columns}) VALUES ({marks})", zip(*values, strict=True)
            )
