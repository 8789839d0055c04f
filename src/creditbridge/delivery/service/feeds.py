"""Resumable event feeds over the outbox, their nightly files, and the retention that purges both.

A feed is one topic (``consent``, ``marketplace``…) as one audience sees it: an institution sees
the messages addressed to it, an operator every message of the topic. Readers page with a
**cursor** — the outbox id of the last event they received, which orders every feed — as
Companies House's stream resumes from a timepoint and Baselayer pages by ``X-Next-Cursor``.

The cursor is opaque: ``base64url(id) "." base64url(tag)``, the tag being 16 bytes of HMAC-SM3,
under a key derived from the node's secret, over the topic, the audience and the id. A client
can neither forge a position nor carry its cursor to another topic or institution; a node
restored from an older backup refuses cursors beyond its newest message instead of silently
skipping what the client already has.

Retention: :func:`purge_expired` deletes what is older than ``feed_retention_days`` and leaves a
``system.feed.purged`` message holding, per topic and audience, the highest id it ever deleted
(the **watermark**). A cursor below its feed's watermark missed purged events: it is answered
410 with the watermark's cursor. Keeping the watermark in the outbox itself needs no table of its
own, and the marker, always newer than what it purged, keeps the table from ever emptying —
SQLite, without AUTOINCREMENT, would otherwise hand out ids from 1 again and old cursors would
point into new messages. Watermarks are per audience so that an institution whose own events
were not purged never loses its place because other institutions' were.
"""

from __future__ import annotations

import base64
import binascii
import csv
import io
import json
import os
import re
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from time import monotonic, sleep
from typing import Any, Final, Literal

from sqlalchemy import delete, exists, func, select, text
from sqlalchemy.orm import Session

from creditbridge.access import service as access_service
from creditbridge.audit import service as audit_service
from creditbridge.core import crypto
from creditbridge.core.actors import SYSTEM, Actor, ActorKind, Role
from creditbridge.core.clock import SHANGHAI, utc_now
from creditbridge.core.config import Settings
from creditbridge.core.errors import Busy, Forbidden, Issue, ValidationFailed
from creditbridge.delivery import domain
from creditbridge.delivery.errors import CursorExpired, CursorUnknown, TopicUnknown
from creditbridge.delivery.models import Delivery, DeliveryAttempt, OutboxMessage
from creditbridge.delivery.service.outbox import emit

__all__ = [
    "MAX_FEED_LIMIT",
    "PURGE_EVENT",
    "FeedPage",
    "feed_cursor",
    "purge_expired",
    "read_feed",
    "write_feed_files",
]

PURGE_EVENT: Final = "system.feed.purged"
MAX_FEED_LIMIT: Final = 1000
EVERYONE: Final = "*"
"""The audience of an operator's read of a whole topic."""

FINISHED: Final = ("sent", "dead")
"""Delivery states after which a message no longer needs to be kept for its webhooks."""

_PURGE_CHUNK: Final = 1000
_PG_PURGE_LOCK: Final = 0x43424650  # "CBFP": names "the feed purge" among advisory locks
# How long a reader waits for the transactions writing the outbox (see _high_mark) before it
# answers 503: request transactions take milliseconds; a long one is a job or a purge.
_PG_WAIT_SECONDS: Final = 2.0
_WRITERS: Final = text(
    "SELECT DISTINCT virtualtransaction FROM pg_locks"
    " WHERE locktype = 'relation' AND relation = 'outbox_message'::regclass"
    " AND mode = 'RowExclusiveLock' AND granted AND pid <> pg_backend_pid()"
)
_SAFE_FOLDER: Final = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


@dataclass(frozen=True)
class FeedPage:
    """One page of a feed. ``next_cursor`` is always present: the cursor of the last event
    returned, or the one the caller passed (its feed's start when none) when nothing is new."""

    events: list[dict[str, Any]]
    next_cursor: str
    has_more: bool


# --- Cursors ----------------------------------------------------------------------------------


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _unb64(text_: str) -> bytes:
    padded = text_ + "=" * (-len(text_) % 4)
    return base64.b64decode(padded, altchars=b"-_", validate=True)


def _cursor_key(settings: Settings) -> bytes:
    return crypto.hmac_sm3(settings.secret_key_bytes(), b"feed-cursor:v1")


def feed_cursor(settings: Settings, *, topic: str, audience: str, position: int) -> str:
    """The cursor that resumes ``topic`` for ``audience`` (an institution id as text, or
    ``"*"``) after outbox id ``position``."""
    tag = crypto.hmac_sm3(_cursor_key(settings), f"{topic}|{audience}|{position}".encode())
    return f"{_b64(str(position).encode('ascii'))}.{_b64(tag[:16])}"


def _position_of(settings: Settings, cursor: str, *, topic: str, audience: str) -> int:
    """The outbox id a cursor names, or :class:`CursorUnknown` for anything this node did not
    issue for this feed (altered, truncated, another topic's or another institution's)."""
    unknown = CursorUnknown(
        "游标无效：本节点从未为此事件流签发该游标 (the cursor was never issued for this feed)"
    )
    body, _, _tag = cursor.partition(".")
    try:
        digits = _unb64(body).decode("ascii")
    except (binascii.Error, ValueError):
        raise unknown from None
    if not digits.isdigit() or len(digits) > 19 or (digits != "0" and digits.startswith("0")):
        raise unknown
    position = int(digits)
    expected = feed_cursor(settings, topic=topic, audience=audience, position=position)
    if not crypto.constant_time_equal(expected.encode(), cursor.encode()):
        raise unknown
    return position


# --- Reading ----------------------------------------------------------------------------------


def _audience(actor: Actor, institution_id: int | None) -> str:
    """Whose messages the actor reads: an institution's caller only its own; an operator (or
    the console) every message of the topic, or one institution's when it names one."""
    if actor.institution_id is not None:
        if institution_id is not None and institution_id != actor.institution_id:
            raise Forbidden("只能读取本机构的事件流 (an institution reads only its own feed)")
        return str(actor.institution_id)
    if actor.kind in (ActorKind.CLI, ActorKind.SYSTEM) or actor.has_role(Role.OPERATOR):
        return EVERYONE if institution_id is None else str(institution_id)
    raise Forbidden("当前角色无权读取事件流 (this role reads no event feed)")


def _watermarks(session: Session, *, below: int | None = None) -> dict[str, dict[str, int]]:
    """The latest purge marker's watermarks (of a marker older than ``below``, when given)."""
    query = select(OutboxMessage.payload).where(
        OutboxMessage.topic == domain.topic_of(PURGE_EVENT),
        OutboxMessage.institution_id.is_(None),
        OutboxMessage.event_type == PURGE_EVENT,
    )
    if below is not None:
        query = query.where(OutboxMessage.id < below)
    payload = session.scalar(query.order_by(OutboxMessage.id.desc()).limit(1))
    if not payload:
        return {}
    marks: dict[str, dict[str, int]] = {
        str(topic): {str(who): int(mark) for who, mark in by_audience.items()}
        for topic, by_audience in payload.get("watermarks", {}).items()
    }
    return marks


def _high_mark(session: Session) -> int:
    """The highest outbox id a reader may serve without ever skipping a message for good.

    On PostgreSQL ids are taken when a row is inserted but become visible when its transaction
    commits, in another order: a reader could see id 11 committed while id 10 is still in
    flight, hand out cursor 11, and never show 10. So the reader reads the highest visible id,
    then waits for every transaction that was writing the table at that moment (it holds the
    table's RowExclusiveLock, taken before its id) to end — as CREATE INDEX CONCURRENTLY waits
    for older writers. Every id up to the mark then belongs to a finished transaction, and
    later writers get higher ids. The reader takes no lock itself, so it never holds up a writer
    or autovacuum; past :data:`_PG_WAIT_SECONDS` it answers ``Busy``. SQLite has one writer at a
    time, which commits before the next takes an id, so the highest id seen is already safe."""
    high = int(session.scalar(select(func.max(OutboxMessage.id))) or 0)
    if session.get_bind().dialect.name != "postgresql":
        return high
    writers = set(session.scalars(_WRITERS))
    deadline = monotonic() + _PG_WAIT_SECONDS
    pause = 0.002
    while writers:
        if monotonic() >= deadline:
            raise Busy(
                "事件正在写入，请稍后重试 (messages are being written; retry shortly)",
                retry_after=1,
            )
        sleep(pause)
        pause = min(pause * 2, 0.05)
        writers &= set(session.scalars(_WRITERS))
    return high


def _utc_text(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _event(message: OutboxMessage) -> dict[str, Any]:
    return {
        "id": message.message_id,
        "type": message.event_type,
        "created_at": _utc_text(message.created_at),
        "data": message.payload,
    }


def read_feed(
    session: Session,
    actor: Actor,
    *,
    topic: str,
    after: str | None,
    limit: int = 100,
    settings: Settings,
    institution_id: int | None = None,
) -> FeedPage:
    """The next page of ``topic`` after the cursor ``after`` (from the oldest retained event
    when empty), oldest first. ``institution_id`` narrows an operator's read to one
    institution's feed (an institution's caller always reads its own).

    Raises :class:`TopicUnknown`, :class:`CursorUnknown` (a cursor not issued for this feed, or
    beyond the newest message), :class:`CursorExpired` (events after it were purged; it names
    the oldest cursor still served), and ``Busy`` on PostgreSQL when writers hold the outbox
    longer than a reader may wait."""
    if topic not in domain.TOPICS:
        raise TopicUnknown(f"没有事件流“{topic}” (no feed named {topic!r})")
    if not 1 <= limit <= MAX_FEED_LIMIT:
        raise ValidationFailed(
            f"每页条数须在 1 至 {MAX_FEED_LIMIT} 之间 (limit must lie in 1..{MAX_FEED_LIMIT})"
        )
    audience = _audience(actor, institution_id)
    high = _high_mark(session)
    watermark = _watermarks(session).get(topic, {}).get(audience, 0)
    if after:
        position = _position_of(settings, after, topic=topic, audience=audience)
        if position > high:
            raise CursorUnknown(
                "游标超出本节点最新的事件，本节点从未签发 (the cursor lies beyond the newest event)"
            )
        if position < watermark:
            raise CursorExpired(
                "游标之后的事件已超过保留期被清除，请从 oldest_cursor 继续 "
                "(events after this cursor were purged; resume from oldest_cursor)",
                oldest_cursor=feed_cursor(
                    settings, topic=topic, audience=audience, position=watermark
                ),
            )
        cursor = after
    else:
        # The feed starts after its watermark: a message below it that is still kept awaits its
        # webhook deliveries only, and serving it would hand out a cursor that is already expired.
        position = watermark
        cursor = feed_cursor(settings, topic=topic, audience=audience, position=watermark)
    query = select(OutboxMessage).where(
        OutboxMessage.topic == topic, OutboxMessage.id > position, OutboxMessage.id <= high
    )
    if audience != EVERYONE:
        query = query.where(OutboxMessage.institution_id == int(audience))
    rows = list(session.scalars(query.order_by(OutboxMessage.id).limit(limit + 1)))
    page = rows[:limit]
    if page:
        cursor = feed_cursor(settings, topic=topic, audience=audience, position=page[-1].id)
    return FeedPage(
        events=[_event(message) for message in page],
        next_cursor=cursor,
        has_more=len(rows) > limit,
    )


# --- Retention --------------------------------------------------------------------------------


def _serialize_purges(session: Session) -> None:
    """Two purges merging watermarks from the same marker would each write one that lacks the
    other's deletions; on PostgreSQL they take turns. On SQLite the new marker's insert takes
    the one write lock before the previous marker is read."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_PURGE_LOCK})


def purge_expired(session: Session, settings: Settings, *, actor: Actor = SYSTEM) -> int:
    """Delete the messages older than ``settings.worker.feed_retention_days`` whose webhook
    deliveries have all finished (sent or dead), with those deliveries and their attempts; a
    message with a delivery still pending, sending or failing is kept. Returns how many messages
    went, records the feeds' new watermarks (module docstring) and audits the purge."""
    _serialize_purges(session)
    before = utc_now() - timedelta(days=settings.worker.feed_retention_days)
    unfinished = exists().where(
        Delivery.message_id == OutboxMessage.id, Delivery.status.not_in(FINISHED)
    )
    candidates = (
        select(OutboxMessage.id)
        .where(OutboxMessage.created_at < before, ~unfinished)
        .order_by(OutboxMessage.id)
        .limit(_PURGE_CHUNK)
    )
    chunk = list(session.scalars(candidates))
    if not chunk:
        return 0
    # The marker goes in first, while the rows it replaces still stand: inserted into a table
    # the purge had emptied, it would take id 1 again on SQLite (see the module docstring).
    marker = emit(session, event_type=PURGE_EVENT, payload={})
    deleted: list[tuple[int, str, int | None]] = []
    while chunk:
        deleted += _purge_chunk(session, chunk)
        chunk = list(session.scalars(candidates.where(OutboxMessage.id > chunk[-1])))
    if not deleted:  # every candidate was replayed meanwhile
        session.delete(marker)
        session.flush()
        return 0
    marks = _watermarks(session, below=marker.id)
    for message_id, topic, institution_id in deleted:
        by_audience = marks.setdefault(topic, {})
        audiences = [EVERYONE] if institution_id is None else [EVERYONE, str(institution_id)]
        for who in audiences:
            by_audience[who] = max(by_audience.get(who, 0), message_id)
    marker.payload = {"before": _utc_text(before), "deleted": len(deleted), "watermarks": marks}
    session.flush()
    audit_service.record(
        session,
        actor,
        action="feed.purge",
        object_type="outbox_message",
        detail={
            "before": before,
            "deleted": len(deleted),
            "through_id": max(message_id for message_id, _, _ in deleted),
        },
    )
    return len(deleted)


def _purge_chunk(session: Session, chunk: list[int]) -> list[tuple[int, str, int | None]]:
    """Delete these messages with their finished deliveries and those deliveries' attempts.
    Deliveries are re-checked as they are deleted: one replayed meanwhile (back to pending)
    stays, and so does its message, which the last statement then skips."""
    finished = select(Delivery.id).where(
        Delivery.message_id.in_(chunk), Delivery.status.in_(FINISHED)
    )
    session.execute(
        delete(DeliveryAttempt)
        .where(DeliveryAttempt.delivery_id.in_(finished))
        .execution_options(synchronize_session="fetch")
    )
    session.execute(
        delete(Delivery)
        .where(Delivery.message_id.in_(chunk), Delivery.status.in_(FINISHED))
        .execution_options(synchronize_session="fetch")
    )
    gone = session.execute(
        delete(OutboxMessage)
        .where(
            OutboxMessage.id.in_(chunk),
            ~exists().where(Delivery.message_id == OutboxMessage.id),
        )
        .returning(OutboxMessage.id, OutboxMessage.topic, OutboxMessage.institution_id)
        .execution_options(synchronize_session="fetch")
    ).all()
    return [(row.id, row.topic, row.institution_id) for row in gone]


# --- Nightly files ----------------------------------------------------------------------------

FeedFormat = Literal["jsonl", "csv"]
FeedEncoding = Literal["utf-8", "gbk"]
CSV_HEADER: Final = ("cursor", "id", "type", "created_at", "data")


def _folder(session: Session, institution_id: int) -> str:
    """An institution's files go under its code, or its id when the code would not make a
    safe single path segment."""
    institution = access_service.get_institution(session, institution_id)
    code = institution.code if institution is not None else ""
    if _SAFE_FOLDER.fullmatch(code) and not set(code) <= {"."}:
        return code
    return str(institution_id)


def _compact(payload: Any) -> str:
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":"), sort_keys=True)


def _lines(
    rows: list[OutboxMessage], *, fmt: FeedFormat, settings: Settings, topic: str, audience: str
) -> Iterator[str]:
    if fmt == "csv":
        yield _csv_line(CSV_HEADER)
    for message in rows:
        cursor = feed_cursor(settings, topic=topic, audience=audience, position=message.id)
        event = _event(message)
        if fmt == "csv":
            yield _csv_line(
                (cursor, event["id"], event["type"], event["created_at"], _compact(event["data"]))
            )
        else:
            yield _compact({"cursor": cursor, **event}) + "\n"


def _csv_line(cells: tuple[str, ...]) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\r\n").writerow(cells)
    return buffer.getvalue()


def _write_temp(target: Path, lines: Iterator[str], *, encoding: FeedEncoding, shown: str) -> Path:
    """Write ``lines`` to a temporary file beside ``target`` and return it. A character the
    encoding lacks is refused naming the file's line (1 = the first)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    temp = Path(name)
    try:
        with os.fdopen(handle, "wb") as out:
            for count, line in enumerate(lines, start=1):
                try:
                    out.write(line.encode(encoding))
                except UnicodeEncodeError as exc:
                    bad = exc.object[exc.start : exc.end]
                    message = (
                        f"{shown} 第{count}行含有 {encoding.upper()} 无法表示的字符“{bad}” "
                        f"(line {count} of {shown} has a character {encoding} cannot encode)"
                    )
                    raise ValidationFailed(
                        message,
                        issues=[
                            Issue(
                                "CB-FEED-FILE-ENCODING",
                                message,
                                row=count,
                                value=bad,
                                location=shown,
                            )
                        ],
                    ) from None
            out.flush()
            os.fsync(out.fileno())
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    return temp


def _fsync_folder(folder: Path) -> None:
    if os.name != "posix":
        return
    handle = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(handle)
    finally:
        os.close(handle)


def _groups(
    session: Session, *, start: datetime, end: datetime
) -> Iterator[tuple[int, str, list[OutboxMessage]]]:
    """The day's messages of each institution and topic, oldest first."""
    query = (
        select(OutboxMessage)
        .where(
            OutboxMessage.created_at >= start,
            OutboxMessage.created_at < end,
            OutboxMessage.institution_id.is_not(None),
        )
        .order_by(OutboxMessage.institution_id, OutboxMessage.topic, OutboxMessage.id)
    )
    key: tuple[int, str] | None = None
    batch: list[OutboxMessage] = []
    for message in session.scalars(query.execution_options(yield_per=2000)):
        assert message.institution_id is not None
        this = (message.institution_id, message.topic)
        if key is not None and this != key:
            yield key[0], key[1], batch
            batch = []
        key = this
        batch.append(message)
    if key is not None:
        yield key[0], key[1], batch


def write_feed_files(
    session: Session,
    settings: Settings,
    *,
    day: date,
    fmt: FeedFormat = "jsonl",
    encoding: FeedEncoding = "utf-8",
    actor: Actor = SYSTEM,
) -> list[Path]:
    """Write the nightly file of each institution and topic with events created on ``day``
    (Beijing time): ``<feed_files_root>/<institution code>/<topic>-<YYYY-MM-DD>.<jsonl|csv>``,
    for systems that ingest files in a night batch rather than call the feed.

    Each line (JSON Lines) or row (CSV, after the header ``cursor,id,type,created_at,data``,
    ``data`` as compact JSON) is one event with the cursor that resumes the API feed after it.
    Every file is written to a temporary name and renamed only once all of them are complete,
    so a reader never sees half a file and a refused run (a character GBK lacks) leaves the
    previous files as they were; running the same day again rewrites the same bytes."""
    if fmt not in ("jsonl", "csv"):
        raise ValidationFailed(f"不支持的文件格式 {fmt} (format must be jsonl or csv)")
    if encoding not in ("utf-8", "gbk"):
        raise ValidationFailed(f"不支持的编码 {encoding} (encoding must be utf-8 or gbk)")
    start = datetime.combine(day, time(), tzinfo=SHANGHAI).astimezone(UTC)
    end = datetime.combine(day + timedelta(days=1), time(), tzinfo=SHANGHAI).astimezone(UTC)
    root = settings.feed_files_root
    written: list[tuple[Path, Path]] = []
    events = 0
    try:
        folders: dict[int, str] = {}
        for institution_id, topic, rows in _groups(session, start=start, end=end):
            if institution_id not in folders:
                folders[institution_id] = _folder(session, institution_id)
            relative = Path(folders[institution_id]) / f"{topic}-{day:%Y-%m-%d}.{fmt}"
            lines = _lines(
                rows, fmt=fmt, settings=settings, topic=topic, audience=str(institution_id)
            )
            temp = _write_temp(root / relative, lines, encoding=encoding, shown=relative.as_posix())
            written.append((temp, root / relative))
            events += len(rows)
        if written:
            # Before the renames: an audit that fails leaves the previous files in place.
            audit_service.record(
                session,
                actor,
                action="feed.export",
                object_type="feed_file",
                detail={
                    "day": day,
                    "format": fmt,
                    "encoding": encoding,
                    "files": len(written),
                    "events": events,
                },
            )
        for temp, target in written:
            os.replace(temp, target)
    finally:
        for temp, _ in written:
            temp.unlink(missing_ok=True)
    for folder in {target.parent for _, target in written}:
        _fsync_folder(folder)
    return [target for _, target in written]
