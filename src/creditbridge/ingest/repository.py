"""Queries and bulk writes of a batch, one chunk of rows at a time.

A batch writes up to millions of record versions; one ORM object per row would cost more than the
whole validation. Rows go straight to the driver inside the caller's transaction (and savepoint):
``executemany`` of one prepared statement on SQLite, ``COPY … FROM STDIN`` on PostgreSQL. The
record's ``data`` is canonical JSON text written as is: byte for byte what was digested, except
in datasets with level-4+ fields, whose values are SM4-GCM envelopes while the digest is over the
plaintext (``protection.service.Sealer``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any, Final, NamedTuple

import orjson
from sqlalchemy import exists, insert, select, update
from sqlalchemy.orm import Session

from creditbridge.core.errors import plain_params
from creditbridge.ingest.models import ProviderDataset, Reject
from creditbridge.subjects.models import Record, Subject

RECORD_CONSTANTS: Final = ("dataset_code", "provider_id", "batch_id", "received_at")
REJECT_COLUMNS: Final = ("batch_id", "row", "field", "label", "value", "code", "message", "warning")


class Latest(NamedTuple):
    """The newest non-superseded version of a natural key."""

    id: int
    version: int
    status: str
    digest: str
    batch_id: int
    source_row: int
    fingerprint: str | None


NEW_RECORD: Final = (
    "subject_id",
    "natural_key",
    "version",
    "status",
    "event_date",
    "data",
    "digest",
    "source_row",
    "source_fingerprint",
)
"""What the writer gives :func:`insert_records` for each version, in this order (one list per row:
it is built for every delivered row, and an object per row costs more than the rest of the loop).
``status`` is ``current``, or ``superseded``/``withdrawn`` for a row a later row of the same chunk
replaced; the batch's constants are added here."""
STATUS: Final = NEW_RECORD.index("status")


def _dbapi(session: Session) -> Any:
    return session.connection().connection.driver_connection


def is_postgres(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


@contextmanager
def bulk_cache(session: Session, mib: int) -> Iterator[None]:
    """On SQLite, a page cache of ``mib`` MiB while a batch is applied (the connection's default
    is 2 MB): its key lookups and index inserts touch pages all over indexes of millions of
    rows. PostgreSQL's shared buffers are the server's business."""
    if is_postgres(session):
        yield
        return
    cursor = _dbapi(session).cursor()
    try:
        (before,) = cursor.execute("PRAGMA cache_size").fetchone()
        cursor.execute(f"PRAGMA cache_size = -{int(mib) * 1024}")
        try:
            yield
        finally:
            cursor.execute(f"PRAGMA cache_size = {int(before)}")
    finally:
        cursor.close()


def is_assigned(session: Session, *, provider_id: int, dataset_code: str) -> bool:
    """Whether the list assigns ``dataset_code`` to ``provider_id`` (ingest_provider_dataset)."""
    return bool(
        session.scalar(
            select(
                exists().where(
                    ProviderDataset.provider_id == provider_id,
                    ProviderDataset.dataset_code == dataset_code,
                )
            )
        )
    )


def latest_versions(
    session: Session, *, dataset_code: str, keys: Sequence[str]
) -> dict[str, Latest]:
    """The newest current or withdrawn version of each key that has one, in one query."""
    if not keys:
        return {}
    # Straight to the driver: SQLAlchemy's row objects cost more than the query on a chunk.
    postgres = is_postgres(session)
    if postgres:
        sql = (
            "SELECT natural_key, id, version, status, digest, batch_id, source_row, "
            "source_fingerprint FROM subject_record WHERE dataset_code = %s AND "
            "status != 'superseded' AND natural_key = ANY(%s::text[])"
        )
    else:
        sql = (
            "SELECT natural_key, id, version, status, digest, batch_id, source_row, "
            "source_fingerprint FROM subject_record WHERE dataset_code = ? AND "
            "status != 'superseded' AND natural_key IN (SELECT value FROM json_each(?))"
        )
    found: dict[str, Latest] = {}
    for key, *columns in _fetch(session, sql, (dataset_code, _keys_param(postgres, keys))):
        latest = Latest(*columns)
        held = found.get(key)
        if held is None or latest.version > held.version:
            found[key] = latest
    return found


def subject_ids(session: Session, usccs: Iterable[str]) -> dict[str, int]:
    codes = list(set(usccs))
    if not codes:
        return {}
    postgres = is_postgres(session)
    sql = (
        "SELECT uscc, id FROM subject WHERE uscc = ANY(%s::text[])"
        if postgres
        else "SELECT uscc, id FROM subject WHERE uscc IN (SELECT value FROM json_each(?))"
    )
    rows = _fetch(session, sql, (_keys_param(postgres, codes),))
    return {str(uscc): int(subject_id) for uscc, subject_id in rows}


def _keys_param(postgres: bool, keys: Sequence[str]) -> Any:
    # One bound parameter for a whole chunk's keys: an array on PostgreSQL, a JSON array that
    # json_each unpacks on SQLite (an IN list of 5,000 placeholders costs more than the query).
    return list(keys) if postgres else orjson.dumps(list(keys)).decode()


def _fetch(session: Session, sql: str, params: tuple[Any, ...]) -> list[Any]:
    cursor = _dbapi(session).cursor()
    try:
        cursor.execute(sql, params)
        return list(cursor.fetchall())
    finally:
        cursor.close()


def create_subjects(session: Session, rows: Sequence[dict[str, Any]]) -> dict[str, int]:
    """Insert subjects (each a dict of Subject columns) and return their ids by uscc."""
    if not rows:
        return {}
    session.execute(insert(Subject), list(rows))
    return subject_ids(session, (row["uscc"] for row in rows))


def insert_records(
    session: Session,
    records: Sequence[Sequence[Any]],
    *,
    dataset_code: str,
    provider_id: int,
    batch_id: int,
    received_at: datetime,
) -> None:
    """Append versions (each a sequence in :data:`NEW_RECORD` order); a version whose status is
    not ``current`` is superseded as of ``received_at``."""
    if not records:
        return
    if is_postgres(session):
        # COPY's text format written here in one piece per chunk: psycopg's write_row costs
        # more per row than everything else the chunk does.
        stamp = received_at.isoformat()
        fixed = f"\t{_copy_text(dataset_code)}\t{provider_id}\t{batch_id}\t{stamp}\n"
        lines = [
            f"{subject_id}\t{_copy_text(key)}\t{version}\t{status}\t"
            f"{NULL if event is None else _copy_text(event)}\t{_copy_text(data)}\t{digest}\t"
            f"{row}\t{NULL if status == 'current' else stamp}\t{NULL if fp is None else fp}"
            f"{fixed}"
            for subject_id, key, version, status, event, data, digest, row, fp in records
        ]
        columns = ", ".join((*NEW_RECORD[:-1], "superseded_at", NEW_RECORD[-1], *RECORD_CONSTANTS))
        with (
            _dbapi(session).cursor() as cursor,
            cursor.copy(f"COPY subject_record ({columns}) FROM STDIN") as copy,
        ):
            copy.write("".join(lines))
        return
    stamp = _sql_text(sqlite_timestamp(received_at))
    # The batch's constants are written into the statement once instead of bound for every row
    # (they are our own code, ids and timestamp, quoted), and superseded_at follows the status.
    fixed = f"{_sql_text(dataset_code)}, {int(provider_id)}, {int(batch_id)}, {stamp}"
    cursor = _dbapi(session).cursor()
    try:
        cursor.executemany(
            f"INSERT INTO subject_record ({', '.join(NEW_RECORD)}, superseded_at, "
            f"{', '.join(RECORD_CONSTANTS)}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, "
            f"CASE ?{STATUS + 1} WHEN 'current' THEN NULL ELSE {stamp} END, {fixed})",
            records,
        )
    finally:
        cursor.close()


def _sql_text(value: str) -> str:
    """A string literal for SQLite's SQL text."""
    return "'" + value.replace("'", "''") + "'"


NULL: Final = "\\N"
_COPY_SPECIAL: Final = re.compile("[\b\t\n\v\f\r\\\\]")
_COPY_ESCAPES: Final = {
    "\b": "\\b", "\t": "\\t", "\n": "\\n", "\v": "\\v", "\f": "\\f", "\r": "\\r",
    "\\": "\\\\",
}  # fmt: skip


def _copy_text(value: str) -> str:
    """A value as COPY's text format writes it (the escapes psycopg's write_row makes)."""
    if _COPY_SPECIAL.search(value) is None:
        return value
    return _COPY_SPECIAL.sub(lambda m: _COPY_ESCAPES[m.group()], value)


def sqlite_timestamp(moment: datetime) -> str:
    """The text SQLAlchemy's SQLite DateTime writes and reads back (UTC, no offset)."""
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")


def set_status(session: Session, ids: Sequence[int], *, status: str, at: datetime) -> None:
    """Mark earlier versions superseded or withdrawn (never deleted, never rewritten)."""
    if not ids:
        return
    session.execute(
        update(Record)
        .where(Record.id.in_(list(ids)))
        .values(status=status, superseded_at=at)
        .execution_options(synchronize_session=False)
    )


def insert_rejects(session: Session, batch_id: int, issues: Sequence[tuple[Any, ...]]) -> None:
    """``issues``: tuples of (row, field, label, value, code, message, warning, message key,
    message parameters); the key and parameters are None for a line told in Chinese only."""
    if not issues:
        return
    session.execute(
        insert(Reject),
        [
            {
                "batch_id": batch_id,
                "row": row,
                "field": field,
                "label": label,
                "value": value[:2000],
                "code": code,
                "message": message[:1000],
                "warning": warning,
                "message_key": key,
                "message_params": None if params is None else plain_params(params),
            }
            for row, field, label, value, code, message, warning, key, params in issues
        ],
    )
