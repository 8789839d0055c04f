"""Bulk appends for the synthetic province: one fast path per store, inside the caller's transaction.

The generator writes millions of rows; the ORM (one object and one round of type processing per
row) would spend minutes on what the drivers do in seconds. So rows arrive here as plain tuples of
values already in the form the store keeps — ``int``, ``float``, ``str``, ``None``; dates as ISO
text; timestamps and booleans through :meth:`BulkWriter.timestamp` and :meth:`BulkWriter.boolean` —
and go straight to the driver:

* SQLite: ``executemany`` of one prepared ``INSERT`` on the DBAPI cursor;
* PostgreSQL: ``COPY … FROM STDIN`` through psycopg 3.

Neither commits: the connection's transaction belongs to the caller, and the writer works the same
inside a rolled-back test transaction as inside a CLI command.
"""

from __future__ import annotations

import sqlite3
from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from datetime import UTC, datetime
from itertools import islice
from typing import Any

from sqlalchemy import Connection, Index, Table, inspect, literal, select, text

Row = Sequence[Any]
Scalar = int | float | str | bool | None


def _literal(value: Scalar) -> str:
    """A constant as SQL text: only numbers, NULL and quoted text, so nothing can inject."""
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, int | float):
        return repr(value)
    return "'" + value.replace("'", "''") + "'"


# Rows handed to the driver per call: large enough that per-call overhead vanishes, small enough
# that a chunk of JSON text stays a few tens of megabytes.
CHUNK_ROWS = 50_000


class BulkWriter(ABC):
    """Appends rows to tables through the store's fastest path, without committing."""

    def __init__(self, connection: Connection) -> None:
        self.connection = connection

    @property
    def dbapi(self) -> Any:
        """The driver connection under the caller's transaction (sqlite3 or psycopg)."""
        return self.connection.connection.driver_connection

    @abstractmethod
    def insert(
        self,
        table: Table,
        columns: Sequence[str],
        rows: Iterable[Row],
        constants: Mapping[str, Scalar] | None = None,
    ) -> int:
        """Append ``rows`` (tuples in ``columns`` order), each also carrying ``constants``
        (column → the same value for every row); return how many were written."""

    def insert_groups(
        self,
        table: Table,
        columns: Sequence[str],
        constant_columns: Sequence[str],
        groups: Iterable[tuple[Sequence[Scalar], Iterable[Row]]],
    ) -> int:
        """Append several groups of rows, each group with its own values of ``constant_columns``
        (one delivery of records shares dataset, batch, provider …); return rows written."""
        return sum(
            self.insert(table, columns, rows, dict(zip(constant_columns, values, strict=True)))
            for values, rows in groups
        )

    @abstractmethod
    def timestamp(self, moment: datetime) -> str:
        """A tz-aware UTC moment as the store's text for a ``UTCDateTime`` column."""

    @abstractmethod
    def boolean(self, value: bool) -> Any:
        """A boolean as the store keeps it."""

    def after_explicit_ids(self, table: Table) -> None:  # noqa: B027 - an optional hook
        """Called after rows were written with explicit primary keys (a no-op where ids need no
        sequence)."""

    @contextmanager
    def bulk_load(self, table: Table) -> Iterator[None]:
        """Tune the connection for a large append to ``table`` for the duration of the block.

        When ``table`` is empty its secondary indexes are dropped and rebuilt at the end: building
        an index once by sorting is several times cheaper than maintaining it row by row when
        keys (natural keys start with a random code) arrive in random order. On a table that
        already holds rows every index stays, so other data never loses them.
        """
        dropped: list[Index] = []
        self._begin()
        if self._is_empty(table):
            present = {ix["name"] for ix in inspect(self.connection).get_indexes(table.name)}
            for index in sorted(table.indexes, key=lambda ix: str(ix.name)):
                if index.name in present:
                    index.drop(self.connection)
                    dropped.append(index)
        with self._tuned():
            yield
            for index in dropped:
                index.create(self.connection)

    def _is_empty(self, table: Table) -> bool:
        first = self.connection.execute(select(literal(1)).select_from(table).limit(1))
        return first.first() is None

    @contextmanager
    def _tuned(self) -> Iterator[None]:
        yield

    def _begin(self) -> None:  # noqa: B027 - an optional hook
        """Make sure the caller's transaction is open on the driver connection."""


class SqliteWriter(BulkWriter):
    """``executemany`` on the sqlite3 cursor; the driver binds each tuple in C. Constants are
    written into the statement as literals: binding a parameter costs per row, a literal once."""

    def insert(
        self,
        table: Table,
        columns: Sequence[str],
        rows: Iterable[Row],
        constants: Mapping[str, Scalar] | None = None,
    ) -> int:
        fixed = constants or {}
        names = [*columns, *fixed]
        values = ["?"] * len(columns) + [_literal(v) for v in fixed.values()]
        statement = f"INSERT INTO {table.name} ({', '.join(names)}) VALUES ({', '.join(values)})"
        cursor: sqlite3.Cursor = self.dbapi.cursor()
        written = 0
        try:
            iterator = iter(rows)
            while chunk := list(islice(iterator, CHUNK_ROWS)):
                cursor.executemany(statement, chunk)
                written += len(chunk)
        finally:
            cursor.close()
        return written

    def timestamp(self, moment: datetime) -> str:
        # The text SQLAlchemy's SQLite DateTime writes and parses back (UTC, no offset).
        return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")

    def boolean(self, value: bool) -> int:
        return 1 if value else 0

    @contextmanager
    def _tuned(self) -> Iterator[None]:
        # A larger page cache keeps the table's and the rebuilt indexes' pages in memory during
        # the load (sorting for the index rebuild included); it reverts afterwards. The journal
        # setting cannot change inside a transaction, and WAL with synchronous=NORMAL does not
        # sync on every page anyway.
        cursor: sqlite3.Cursor = self.dbapi.cursor()
        cache_size = cursor.execute("PRAGMA cache_size").fetchone()[0]
        cursor.execute("PRAGMA cache_size=-262144")  # 256 MiB
        try:
            yield
        finally:
            cursor.execute(f"PRAGMA cache_size={int(cache_size)}")
            cursor.close()

    def _begin(self) -> None:
        # sqlite3 opens a transaction only before DML; make sure the DROP INDEX of a bulk load
        # is inside the caller's transaction rather than committed on its own.
        if not self.dbapi.in_transaction:
            self.dbapi.execute("BEGIN")


class PostgresWriter(BulkWriter):
    """``COPY … FROM STDIN``: psycopg streams the rows without a round trip per row."""

    def insert(
        self,
        table: Table,
        columns: Sequence[str],
        rows: Iterable[Row],
        constants: Mapping[str, Scalar] | None = None,
    ) -> int:
        fixed = constants or {}
        names = [*columns, *fixed]
        tail = tuple(fixed.values())
        written = 0
        with (
            self.dbapi.cursor() as cursor,
            cursor.copy(f"COPY {table.name} ({', '.join(names)}) FROM STDIN") as copy,
        ):
            write = copy.write_row
            if tail:
                for row in rows:
                    write((*row, *tail))
                    written += 1
            else:
                for row in rows:
                    write(row)
                    written += 1
        return written

    def insert_groups(
        self,
        table: Table,
        columns: Sequence[str],
        constant_columns: Sequence[str],
        groups: Iterable[tuple[Sequence[Scalar], Iterable[Row]]],
    ) -> int:
        # One COPY for all groups: each COPY is a round trip, and a chunk has thousands of groups.
        names = [*columns, *constant_columns]
        written = 0
        with (
            self.dbapi.cursor() as cursor,
            cursor.copy(f"COPY {table.name} ({', '.join(names)}) FROM STDIN") as copy,
        ):
            write = copy.write_row
            for values, rows in groups:
                tail = tuple(values)
                for row in rows:
                    write((*row, *tail))
                    written += 1
        return written

    def timestamp(self, moment: datetime) -> str:
        return moment.astimezone(UTC).isoformat(sep=" ")

    def boolean(self, value: bool) -> bool:
        return value

    def after_explicit_ids(self, table: Table) -> None:
        # Rows written with explicit ids leave the serial sequence behind; later inserts through
        # the ORM would collide without this.
        for column in table.primary_key.columns:
            self.connection.execute(
                text(
                    "SELECT setval(pg_get_serial_sequence(:table, :column), "
                    f"GREATEST((SELECT MAX({column.name}) FROM {table.name}), 1))"
                ),
                {"table": table.name, "column": column.name},
            )


def writer_for(connection: Connection) -> BulkWriter:
    dialect = connection.dialect.name
    if dialect == "sqlite":
        return SqliteWriter(connection)
    if dialect == "postgresql":
        return PostgresWriter(connection)
    raise NotImplementedError(f"no bulk writer for the {dialect} store")


def tune_for_bulk_load(connection: Connection) -> bool:
    """On SQLite, set connection pragmas that only an empty-handed connection may change, for a
    one-off bulk load (``demo generate``); a no-op elsewhere. Returns whether it tuned.

    * ``journal_mode=DELETE``: pages appended beyond the file's old end need no journal, so a
      load into a fresh file is written once — WAL would write every page twice (log, then
      checkpoint). A crash still rolls back cleanly.
    * ``synchronous=OFF``: the OS, not each commit, decides when to flush; a process crash is
      safe, a power cut during the load is not — acceptable for demo data.
    * ``foreign_keys=OFF``: the generator writes parents before children by construction (the
      tests check ``PRAGMA foreign_key_check``); three index lookups per row are saved.

    Call it before the transaction's first statement, and dispose of the connection afterwards
    (``engine.dispose()``) so that no pooled connection keeps these settings.
    """
    if connection.dialect.name != "sqlite":
        return False
    dbapi = connection.connection.driver_connection
    if dbapi is None or dbapi.in_transaction:
        return False
    # Another connection (a running web server) may hold the file: then WAL stays, which is
    # correct, only slower.
    with suppress(sqlite3.OperationalError):
        dbapi.execute("PRAGMA journal_mode=DELETE")
    dbapi.execute("PRAGMA synchronous=OFF")
    dbapi.execute("PRAGMA foreign_keys=OFF")
    return True
