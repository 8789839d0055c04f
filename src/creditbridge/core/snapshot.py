"""The one analytics snapshot: the tables each domain contributes, streamed out of the store into
Parquet files that DuckDB (or SQLite, in the tests) reads.

A domain registers its :class:`Table`\\ s when its ``analytics`` module is imported
(:func:`register`); :func:`export` writes the ones asked for (every registered table by default)
into one folder under the node's analytics root (``Settings.analytics_root``). Each query is
streamed in chunks, so memory is bounded by the chunk whatever the size of the store; a table's
``transform`` adds the columns the analytics SQL compares instead of dates, which differ by engine
(:func:`month_seq`, :func:`day_number`). A domain that derives tables from the streamed ones
(scoring flattens each dataset's JSON) does it in the ``derive`` step, over *staging* tables that
are removed before the folder is published. The folder appears whole or not at all: it is written
beside its final name and renamed.
"""

from __future__ import annotations

import json
import shutil
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, Final, Self

import pyarrow as pa  # type: ignore[import-untyped]
import pyarrow.parquet as pq  # type: ignore[import-untyped]
from sqlalchemy import Connection, Select

CHUNK_ROWS: Final = 50_000
EPOCH: Final = date(1970, 1, 1)
META_FILE: Final = "snapshot.json"

Chunk = dict[str, pa.Array]


def day_number(day: date) -> int:
    """Days since 1970-01-01."""
    return (day - EPOCH).days


def month_seq(day: date) -> int:
    """The month as one number (``year * 12 + month - 1``), so month arithmetic is integer
    arithmetic in any SQL engine."""
    return day.year * 12 + day.month - 1


def _unchanged(chunk: Chunk) -> Chunk:
    return chunk


@dataclass(frozen=True)
class Table:
    """One table of the snapshot: ``query`` streamed in chunks as the columns ``types`` (in the
    query's order), each chunk passed through ``transform``. A ``staging`` table is only input of
    its domain's ``derive`` step and is not published."""

    name: str
    query: Callable[[], Select[*tuple[Any, ...]]]
    types: Mapping[str, pa.DataType]
    transform: Callable[[Chunk], Chunk] = _unchanged
    staging: bool = False


_REGISTRY: dict[str, Table] = {}


def register(*tables: Table) -> tuple[str, ...]:
    """Add a domain's tables to the snapshot; their names, in order. A name belongs to one
    table: two domains contributing the same name is a programming error."""
    for table in tables:
        known = _REGISTRY.get(table.name)
        if known is not None and known != table:
            raise ValueError(f"snapshot table {table.name!r} is already registered")
        _REGISTRY[table.name] = table
    return tuple(table.name for table in tables)


def registered() -> tuple[str, ...]:
    return tuple(_REGISTRY)


@dataclass(frozen=True)
class Snapshot:
    """A folder of Parquet files, one per table, and ``snapshot.json`` saying what is in it."""

    folder: Path
    rows: dict[str, int]
    as_of: date | None = None
    created_at: datetime | None = None

    def path(self, table: str) -> Path:
        return self.folder / f"{table}.parquet"

    @property
    def tables(self) -> list[str]:
        return sorted(self.rows)

    @classmethod
    def open(cls, folder: Path) -> Self:
        """The snapshot in ``folder``; FileNotFoundError when there is none."""
        meta = json.loads((folder / META_FILE).read_text(encoding="utf-8"))
        return cls(
            folder,
            {k: int(v) for k, v in meta["rows"].items()},
            date.fromisoformat(meta["as_of"]) if meta.get("as_of") else None,
            datetime.fromisoformat(meta["created_at"]),
        )

    def remove(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)


def export(
    connection: Connection,
    folder: Path,
    *,
    tables: Iterable[str] | None = None,
    as_of: date | None = None,
    derive: Callable[[Path], dict[str, int]] | None = None,
    chunk_rows: int = CHUNK_ROWS,
) -> Snapshot:
    """Write ``tables`` (every registered one by default) into ``folder``, replacing a snapshot
    there, and return it. ``derive`` runs over the written files in the work folder and returns
    the row counts of the tables it adds. Reads through ``connection``, so it sees the caller's
    transaction (rows not yet committed included)."""
    missing = [name for name in (tables or ()) if name not in _REGISTRY]
    if missing:
        # A table is contributed when its domain's analytics module is imported; the shells
        # import them all through creditbridge.analytics.
        raise LookupError(
            f"snapshot tables not registered (import creditbridge.analytics): {missing}"
        )
    chosen = [_REGISTRY[name] for name in (registered() if tables is None else tables)]
    folder.parent.mkdir(parents=True, exist_ok=True)
    work = folder.parent / f".{folder.name}-{uuid.uuid4().hex[:8]}"
    work.mkdir()
    try:
        rows = {table.name: _write(connection, table, work, chunk_rows) for table in chosen}
        if derive is not None:
            rows.update(derive(work))
        for table in chosen:
            if table.staging:
                (work / f"{table.name}.parquet").unlink()
                del rows[table.name]
        created = datetime.now(UTC)
        meta = {
            "as_of": as_of.isoformat() if as_of else None,
            "rows": rows,
            "created_at": created.isoformat(),
        }
        (work / META_FILE).write_text(json.dumps(meta, indent=1), encoding="utf-8")
        if folder.exists():
            shutil.rmtree(folder)
        work.rename(folder)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return Snapshot(folder, rows, as_of, created)


def _chunks(connection: Connection, table: Table, chunk_rows: int) -> Iterator[pa.RecordBatch]:
    names = list(table.types)
    # Options on the statement, not the connection: Connection.execution_options() changes the
    # caller's connection for good (every later statement would open a server-side cursor).
    result = connection.execute(
        table.query().execution_options(stream_results=True, yield_per=chunk_rows)
    )
    for rows in result.partitions(chunk_rows):
        columns = list(zip(*rows, strict=True)) if rows else [() for _ in names]
        chunk: Chunk = {
            name: pa.array(values, type=table.types[name])
            for name, values in zip(names, columns, strict=True)
        }
        yield pa.RecordBatch.from_pydict(table.transform(chunk))


def _write(connection: Connection, table: Table, work: Path, chunk_rows: int) -> int:
    empty: Chunk = {name: pa.array([], type=kind) for name, kind in table.types.items()}
    schema = pa.RecordBatch.from_pydict(table.transform(empty)).schema
    written = 0
    with pq.ParquetWriter(work / f"{table.name}.parquet", schema) as writer:
        for chunk in _chunks(connection, table, chunk_rows):
            writer.write_batch(chunk.select(schema.names))
            written += chunk.num_rows
    return written
