"""Use cases over providers and their deliveries (batches).

:func:`ingest_batch` is the one use case behind the upload page, the CLI, the JSON API and the
pull connector. Its rules (docs/ingest.md has them for providers):

* **Idempotency.** (provider, batch id) is the key. Delivering a key again with the same content
  (same SM3 content digest) is a replay: the first outcome is returned and nothing changes.
  The same key with different content is a conflict (:class:`DuplicateDelivery`, 409): a batch,
  once received, is never silently replaced — the provider sends the correction as a new batch.
* **Atomicity.** Rows are streamed in chunks into a SAVEPOINT inside the caller's transaction.
  When the share of rejected rows passes the dataset's threshold (5 % unless configured), the
  savepoint is rolled back: no record of the batch remains, while the batch row and its reject
  report (spooled to a temporary file meanwhile) are kept. Otherwise all accepted rows land with
  the report, in the caller's single commit.
* **Versions.** A natural key (the dataset's ``natural_key`` values joined by ``|``) names a
  record. A changed row makes a new version and marks the earlier one superseded; an identical
  row (same digest) is counted unchanged and not stored; ``_action = 撤销/withdraw`` marks the
  newest version withdrawn. Nothing is overwritten or deleted.
* **Duplicates within a batch** are applied in file order like separate deliveries: the later row
  wins, the earlier stays as a superseded version of the same batch (or is recognised as the same
  content), and the later row carries the warning ``INGEST-DUPLICATE-KEY`` naming the earlier one.
* **Unknown enterprises** get a subject flagged ``needs_registration_check``.
* **Fingerprints.** A version made from a row accepted without any issue keeps a fingerprint of
  the delivered cells (``source_fingerprint``); a re-delivered row with the same fingerprint as its
  key's current version is counted unchanged without being validated again (``_Run``).
"""

from __future__ import annotations

import csv
import gc
import hashlib
import io
import multiprocessing
import os
import pickle
import queue
import tempfile
import threading
from collections import deque
from collections.abc import Callable, Generator, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import astuple, dataclass, field
from datetime import datetime
from itertools import islice
from operator import itemgetter
from pathlib import Path
from typing import IO, Any, Final, NamedTuple

import orjson
from sqlalchemy import func, select
from sqlalchemy.orm import Session

import creditbridge
from creditbridge.audit import service as audit_service
from creditbridge.catalog import service as catalog_service
from creditbridge.catalog.schemas import DatasetSpec
from creditbridge.core.actors import Actor, ActorKind, Role
from creditbridge.core.clock import utc_now
from creditbridge.core.crypto import canonical_json
from creditbridge.core.crypto.digest import sm3_new
from creditbridge.core.errors import DuplicateDelivery, NotFound
from creditbridge.ingest import repository as repo
from creditbridge.ingest.domain import RowIssue, RowOutcome, RowValidator, clean_text, validate_row
from creditbridge.ingest.errors import NotYourProvider
from creditbridge.ingest.models import Batch, Provider, ProviderDataset, Reject
from creditbridge.ingest.readers import (
    ACTION_COLUMN,
    Delivery,
    DeliveryUnreadable,
    RawRow,
    encoding_label,
    open_delivery,
    open_rows,
)
from creditbridge.ingest.schemas import IngestSettings
from creditbridge.protection import service as protection
from creditbridge.reference import divisions

APPLIED = "applied"
REFUSED = "refused"


class DatasetRows(NamedTuple):
    dataset_code: str
    rows_accepted: int


@dataclass(frozen=True)
class BatchSummary:
    """One delivery as the operator sees it in a list: who sent what, when, and how it went."""

    id: int
    received_at: datetime
    provider_code: str
    provider_name: str
    dataset_code: str
    channel: str
    status: str
    rows_total: int
    rows_accepted: int
    rows_rejected: int


def count_providers(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(Provider)) or 0


def count_batches(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(Batch)) or 0


def count_accepted_rows(session: Session) -> int:
    """Rows accepted over every applied delivery: how much the platform has collected."""
    total = session.scalar(
        select(func.coalesce(func.sum(Batch.rows_accepted), 0)).where(Batch.status == APPLIED)
    )
    return int(total or 0)


def count_accepted_rows_by_dataset(session: Session) -> list[DatasetRows]:
    """Rows accepted per dataset over every applied delivery, most first.

    Summed over batches, not counted over records: a province holds hundreds of millions of
    records, and counting them per dataset scans them all (seconds at 100k enterprises even with
    an index), while batches number in the thousands. It counts every accepted version, so a
    record corrected twice counts three times; the current records per dataset are
    :func:`creditbridge.subjects.service.count_records_by_dataset`.
    """
    rows = func.coalesce(func.sum(Batch.rows_accepted), 0).label("rows")
    result = session.execute(
        select(Batch.dataset_code, rows)
        .where(Batch.status == APPLIED)
        .group_by(Batch.dataset_code)
        .order_by(rows.desc(), Batch.dataset_code)
    )
    return [DatasetRows(code, int(n)) for code, n in result]


def list_latest_batches(session: Session, *, limit: int = 10) -> list[BatchSummary]:
    """The most recently received deliveries, newest first, with their provider's name."""
    rows = session.execute(
        select(
            Batch.id,
            Batch.received_at,
            Provider.code.label("provider_code"),
            Provider.name.label("provider_name"),
            Batch.dataset_code,
            Batch.channel,
            Batch.status,
            Batch.rows_total,
            Batch.rows_accepted,
            Batch.rows_rejected,
        )
        .join(Provider, Provider.id == Batch.provider_id)
        # id breaks ties between batches received in the same instant, newest first.
        .order_by(Batch.received_at.desc(), Batch.id.desc())
        .limit(limit)
    )
    return [BatchSummary(**row._asdict()) for row in rows]


# ============================================================================ delivering a batch

ISSUE_PREVIEW: Final = 20
_ROW_UNREADABLE: Final = frozenset({"INGEST-ENCODING", "INGEST-JSON"})
WITHDRAW_WORDS: Final = frozenset({"撤销", "withdraw", "withdrawn", "w", "删除", "delete", "d"})
DELIVER_WORDS: Final = frozenset({"", "新增", "更新", "upsert", "insert", "update", "deliver"})
CHANNELS: Final = frozenset({"file", "api", "pull", "cli", "demo"})

Source = Path | bytes | Iterable[Mapping[str, Any]]
"""A file (path or bytes, read by its file name) or rows already parsed (the API, a connector)."""


@dataclass
class BatchOutcome:
    """What became of one delivery: counts, status and the first problems in row order."""

    batch_id: int
    provider_id: int
    dataset_code: str
    batch_key: str
    channel: str
    status: str
    replayed: bool
    received_at: datetime
    rows_total: int
    rows_accepted: int
    rows_warned: int
    rows_rejected: int
    rows_new: int
    rows_updated: int
    rows_unchanged: int
    rows_withdrawn: int
    subjects_created: int
    reject_threshold: float | None
    refusal_code: str | None
    refusal_message: str | None
    source_format: str | None
    encoding: str | None
    notes: list[str]
    content_digest: str
    issues: list[RowIssue]
    issues_total: int

    @property
    def applied(self) -> bool:
        return self.status == APPLIED

    @property
    def encoding_label(self) -> str | None:
        return encoding_label(self.encoding) if self.encoding else None

    def as_json(self) -> dict[str, Any]:
        body = {k: v for k, v in self.__dict__.items() if k != "issues"}
        body["received_at"] = self.received_at.isoformat()
        body["issues"] = [issue.__dict__ for issue in self.issues]
        return body


def settings() -> IngestSettings:
    return IngestSettings()


# ---------------------------------------------------------------------------- who may deliver


def _is_operator(actor: Actor) -> bool:
    return actor.kind in (ActorKind.CLI, ActorKind.SYSTEM) or actor.has_role(Role.OPERATOR)


def check_may_deliver(actor: Actor, provider_id: int) -> None:
    """Operators deliver for any provider; a provider's users and API clients only for their own."""
    if _is_operator(actor):
        return
    if actor.provider_id is not None and actor.provider_id == provider_id:
        return
    raise NotYourProvider("只能为本单位提交数据：所选数据提供单位不是您所在的单位")


def get_provider_or_raise(session: Session, ref: int | str) -> Provider:
    """A provider by id or code."""
    if isinstance(ref, int) or (isinstance(ref, str) and ref.isdigit()):
        provider = session.get(Provider, int(ref))
    else:
        provider = session.scalar(select(Provider).where(Provider.code == ref))
    if provider is None:
        raise NotFound(f"数据提供单位 {ref} 不存在")
    return provider


def dataset_spec(session: Session, code: str) -> DatasetSpec:
    """The dataset as the current list defines it (loading the bundled list if none is loaded)."""
    catalog_service.ensure_default_catalog(session)
    row = catalog_service.get_dataset_or_raise(session, code=code)
    return DatasetSpec.model_validate(row.definition)


# ---------------------------------------------------------------------------- the use case


def content_digest_of(source: Source) -> tuple[str, Source]:
    """SM3 of what was delivered: the file's bytes, or the canonical JSON of the rows (one line
    per row), streamed. Rows given as an iterator are materialised into a list first."""
    h = sm3_new()
    if isinstance(source, bytes):
        h.update(source)
        return h.digest().hex(), source
    if isinstance(source, Path):
        with source.open("rb") as stream:
            while block := stream.read(1 << 20):
                h.update(block)
        return h.digest().hex(), source
    rows = source if isinstance(source, list) else list(source)
    for row in rows:
        h.update(canonical_json(row) + b"\n")
    return h.digest().hex(), rows


def ingest_batch(
    session: Session,
    actor: Actor,
    *,
    provider_id: int,
    dataset_code: str,
    batch_key: str | None,
    source: Source,
    filename: str | None,
    channel: str,
    sheet: str | None = None,
    threshold: float | None = None,
) -> BatchOutcome:
    """Validate and apply one delivery (see the module docstring for the rules).

    Without a ``batch_key`` the content digest is the key (``sm3-`` and its first 32 hex
    digits): sending the same file again is then a replay, and a changed file a new batch.

    Flushes, never commits. Raises NotFound (provider, dataset), NotYourProvider, and
    DuplicateDelivery for a batch id reused with different content; an unreadable file is not
    raised but refused, with its reason as the report's one line.
    """
    provider = get_provider_or_raise(session, provider_id)
    check_may_deliver(actor, provider.id)
    spec = dataset_spec(session, dataset_code)
    digest, source = content_digest_of(source)
    batch_key = (batch_key or "").strip() or f"sm3-{digest[:32]}"

    earlier = session.scalar(
        select(Batch).where(Batch.provider_id == provider.id, Batch.batch_key == batch_key)
    )
    if earlier is not None:
        if earlier.content_digest != digest or earlier.dataset_code != spec.code:
            raise DuplicateDelivery(
                f"批次号 {batch_key} 已于 {earlier.received_at:%Y-%m-%d %H:%M} 提交过不同的内容"
                f"（{earlier.dataset_code}）：批次一经接收不可替换，请以新的批次号提交更正",
            )
        return outcome_of(session, earlier, replayed=True)

    config = settings()
    limit = config.threshold_for(spec.code) if threshold is None else threshold
    batch = Batch(
        provider_id=provider.id,
        batch_key=batch_key,
        dataset_code=spec.code,
        channel=channel,
        status=REFUSED,
        received_at=utc_now(),
        content_digest=digest,
        reject_threshold=limit,
        filename=filename,
        submitted_by=actor.name,
    )
    session.add(batch)
    session.flush()

    run = _Run(session, batch, spec, chunk_rows=config.chunk_rows, parallel=_parallel(source))
    try:
        delivery = _open(source, spec, filename=filename, sheet=sheet)
    except DeliveryUnreadable as unreadable:
        run.refuse_unreadable(unreadable)
    else:
        batch.source_format = delivery.format
        batch.encoding = delivery.encoding
        batch.notes = list(delivery.notes)
        run.apply(delivery, threshold=limit)
    run.finish()
    audit_service.record(
        session,
        actor,
        action=f"ingest.batch.{batch.status}",
        object_type="ingest_batch",
        object_id=batch.id,
        detail={
            "provider_id": provider.id,
            "dataset": spec.code,
            "batch_key": batch_key,
            "channel": channel,
            "rows_total": batch.rows_total,
            "rows_accepted": batch.rows_accepted,
            "rows_rejected": batch.rows_rejected,
            "content_digest": digest,
            "refusal_code": batch.refusal_code,
        },
    )
    session.flush()
    return outcome_of(session, batch, replayed=False)


def _parallel(source: Source) -> bool:
    if (os.cpu_count() or 1) < 2 or "fork" not in multiprocessing.get_all_start_methods():
        return False
    if isinstance(source, bytes):
        return len(source) >= PARALLEL_BYTES
    if isinstance(source, Path):
        return source.stat().st_size >= PARALLEL_BYTES
    return False


def _open(
    source: Source, spec: DatasetSpec, *, filename: str | None, sheet: str | None
) -> Delivery:
    if isinstance(source, Path | bytes):
        return open_delivery(source, fields=spec.fields, filename=filename, sheet=sheet)
    return open_rows(source, fields=spec.fields)


class _Spool:
    """Report lines kept in a temporary file until the batch's fate is known, so that a refused
    batch of millions of bad rows still keeps its whole report without holding it in memory."""

    def __init__(self) -> None:
        self.file: IO[bytes] = tempfile.TemporaryFile()  # noqa: SIM115 - closed in close()
        self.count = 0
        self.first: list[RowIssue] = []

    def add(self, issues: list[RowIssue]) -> None:
        if not issues:
            return
        if len(self.first) < ISSUE_PREVIEW:
            self.first.extend(issues[: ISSUE_PREVIEW - len(self.first)])
        pickle.dump(
            [(i.row, i.field, i.label, i.value, i.code, i.message, i.warning) for i in issues],
            self.file,
            protocol=pickle.HIGHEST_PROTOCOL,
        )
        self.count += len(issues)

    def drain(self) -> Iterator[list[tuple[Any, ...]]]:
        self.file.seek(0)
        while True:
            try:
                yield pickle.load(self.file)  # noqa: S301 - our own temporary file
            except EOFError:
                return

    def close(self) -> None:
        self.file.close()


class _Prepared(NamedTuple):
    """A chunk validated and digested, ready for the writes: plain columns, one entry per
    accepted row, so that handing it from the forked reader to the writer costs little."""

    rows: int  # rows read
    skipped: int  # recognised unchanged by their fingerprint, not validated again
    issues: list[tuple[int, list[tuple[Any, ...]]]]  # (row, RowIssue fields) per row with issues
    numbers: list[int]  # accepted rows from here on
    withdraws: list[bool]
    keys: list[str]
    subjects: list[str | None]
    names: list[Any]
    events: list[str | None]
    datas: list[str | None]  # the canonical JSON as stored (sealed for level-4+ datasets)
    digests: list[str | None]
    fingerprints: list[str | None]
    unresolved: list[str]  # keys the writer looks up itself (see _Run.prepare)


class _Probe(NamedTuple):
    """A chunk's candidates for recognition by fingerprint: rows read cleanly, without an
    action, whose key fields are in their plain form."""

    positions: list[int]
    keys: list[str]
    fingerprints: list[str]


SUBJECT_CACHE: Final = 1_000_000
"""At most this many subject ids are remembered per batch (about 120 MB at most)."""

PROBES_AHEAD: Final = 3
"""Chunks the forked reader reads and asks about before it prepares the first of them: the
writer's key lookups then overlap the reading instead of waiting for it."""

PARALLEL_BYTES: Final = 8 << 20
"""From this file size a forked process reads and validates while the batch writes."""


def _produce(
    send: Any, answers: Any, run: _Run, rows: Iterator[RawRow], validate: RowValidator
) -> None:
    """The forked reader. It asks the writer about the keys of the chunks ahead (probes) before
    it prepares the current one, so the writer's answers are ready when needed. Two threads keep
    the pipes moving: one sends (so the reader never waits on a full pipe while the writer
    writes), one receives answers as soon as they come (so the writer never waits to hand one
    over, and neither side can end up waiting on the other). It never touches the session it
    inherited, and leaves with ``os._exit``.

    The writer reads the pipe in order, so the probe of chunk i + PROBES_AHEAD is answered after
    chunk i − 1 is stored and before chunk i is: keys of chunks i … i + PROBES_AHEAD − 1 may be
    written after the answer. They are in ``run.touched`` by the time that chunk is prepared,
    which sends them to the writer's own lookup (see ``_Run.prepare``)."""
    gc.disable()  # see _gc_paused; this process ends with the batch
    outbox: queue.Queue[bytes | None] = queue.Queue(maxsize=4)

    def post(message: tuple[str, Any]) -> None:
        outbox.put(pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL))

    def deliver() -> None:
        while (item := outbox.get()) is not None:
            send.send_bytes(item)

    inbox: queue.Queue[bytes | None] = queue.Queue()  # at most PROBES_AHEAD answers wait here

    def receive() -> None:
        try:
            while True:
                inbox.put(answers.recv_bytes())
        except (EOFError, OSError):
            inbox.put(None)  # the writer is gone: the main thread stops at its next answer

    sender = threading.Thread(target=deliver, daemon=True)
    sender.start()
    threading.Thread(target=receive, daemon=True).start()
    code = 0
    try:
        try:
            ahead: deque[tuple[list[RawRow], _Probe]] = deque()

            def read_ahead() -> None:
                if following := list(islice(rows, run.chunk_rows)):
                    probe = run.probe(following)
                    post(("probe", probe.keys))
                    ahead.append((following, probe))

            for _ in range(PROBES_AHEAD):
                read_ahead()
            while ahead:
                chunk, probe = ahead.popleft()
                answer = inbox.get()
                if answer is None:
                    raise RuntimeError("写入进程已关闭应答通道")
                known = pickle.loads(answer)  # noqa: S301 - our own parent
                read_ahead()
                post(("chunk", run.prepare(chunk, validate, probe, known)))
            post(("end", None))
        except DeliveryUnreadable as unreadable:
            post(("unreadable", (unreadable.code, unreadable.message)))
        except Exception as exc:
            post(("error", f"{type(exc).__name__}: {exc}"))
        outbox.put(None)
        sender.join()
        send.close()
    except BaseException:
        code = 1
    finally:
        os._exit(code)


@contextmanager
def _gc_paused() -> Iterator[None]:
    """The cyclic garbage collector off while a batch streams. A chunk allocates tens of
    thousands of dicts, strings and tuples, none of them in a reference cycle (reference counts
    free them); with the collector on, those allocations kept triggering scans of everything
    alive, a third of the reading time. Switched back on, it collects whatever did form a cycle."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


class _Touched:
    """The natural keys a batch has handed to the writer so far, as a fixed-size bit set: a key
    seen here may have a version written in this batch that a probe answered earlier did not
    see. A false positive only costs a lookup; memory stays 16 MB whatever the batch's size."""

    BITS: Final = 1 << 27

    def __init__(self) -> None:
        self.bits = bytearray(self.BITS >> 3)

    def among(self, keys: Iterable[str]) -> set[str]:
        """The ``keys`` (probably) seen before."""
        bits, mask = self.bits, self.BITS - 1
        return {k for k in keys if bits[(h := hash(k) & mask) >> 3] & (1 << (h & 7))}

    def add_all(self, keys: Iterable[str]) -> None:
        bits, mask = self.bits, self.BITS - 1
        for key in keys:
            h = hash(key) & mask
            bits[h >> 3] |= 1 << (h & 7)


FINGERPRINT_VERSION: Final = b"cb-fingerprint-1"


def _fingerprinter(spec: DatasetSpec, units: Mapping[str, str]) -> Callable[[RawRow], str]:
    """A row's fingerprint: BLAKE2b of its delivered cells, keyed by everything that decides
    what those cells mean — the dataset's definition, the file's column units and the software
    version (reference code lists ship with it). Equal fingerprints mean the full rules would
    make the same record of the row, so an unchanged re-delivery skips them."""
    setting = canonical_json(
        {
            "spec": spec.model_dump(mode="json"),
            "units": dict(units),
            "version": creditbridge.__version__,
        }
    )
    key = hashlib.blake2b(FINGERPRINT_VERSION + setting, digest_size=32).digest()
    keyed = hashlib.blake2b(digest_size=16, key=key)  # copied per row: cheaper than re-keying
    codes = [f.code for f in spec.fields]
    pick = itemgetter(*codes)
    single = len(codes) == 1  # itemgetter of one key returns the value, not a tuple

    def fingerprint(raw: RawRow) -> str:
        values = raw.values
        try:
            cells = (pick(values),) if single else pick(values)
        except KeyError:  # a field without a column in this file
            cells = tuple(values.get(code) for code in codes)
        h = keyed.copy()
        h.update(orjson.dumps(cells, default=str))
        return h.hexdigest()

    return fingerprint


class _Run:
    """One batch being applied: counters, the spool, and the chunk loop.

    A chunk passes three steps. **Probe**: for the rows read cleanly, the natural key (from the
    key fields alone) and the fingerprint of the cells; the writer answers with the stored
    fingerprint of each key's current version. **Prepare**: a row whose fingerprint equals its
    key's current version's — and whose key no earlier row of the batch touched — is counted
    unchanged without validation; the rest are validated, serialised and digested. **Store**:
    the writer classifies each accepted row (new, changed, unchanged, withdrawn) against the
    versions the probe looked up, and writes. For a big file the first two steps run in a
    forked reader while the writer stores the chunk before.
    """

    def __init__(
        self,
        session: Session,
        batch: Batch,
        spec: DatasetSpec,
        *,
        chunk_rows: int,
        parallel: bool = False,
    ) -> None:
        self.parallel = parallel
        self.session = session
        self.batch = batch
        self.spec = spec
        self.chunk_rows = chunk_rows
        self.spool = _Spool()
        self.now = batch.received_at
        self.key_fields = list(spec.natural_key)
        self.event_field = spec.event_date_field
        self.event_is_period = spec.field(spec.event_date_field).type == "period"
        identity = {spec.subject_key, *spec.natural_key}
        self.withdraw_fields = [f for f in spec.fields if f.code in identity]
        self.named = "name" in spec.field_codes  # rows can name an enterprise not yet known
        self.sealer = protection.sealer_for(spec)
        self.counts = dict.fromkeys(
            ("total", "accepted", "warned", "rejected", "new", "updated", "unchanged", "withdrawn"),
            0,
        )
        self.subjects_created = 0
        # Subject ids by uscc seen in this batch: a delivery names the same enterprises month
        # after month, and a subject is never deleted inside the batch's transaction.
        self.subject_cache: dict[str, int] = {}
        # Set up by apply(): the preparing side's state (it lives in the forked reader there).
        self.validator: RowValidator | None = None
        self.key_of: Callable[[Mapping[str, Any]], str | None] = lambda raw: None
        self.fingerprint: Callable[[RawRow], str] | None = None
        self.touched = _Touched()
        # The writer's side: what each outstanding probe looked up, oldest first.
        self.probed: deque[dict[str, repo.Latest]] = deque()

    # --- refusal of the whole file

    def refuse_unreadable(self, unreadable: DeliveryUnreadable) -> None:
        self.batch.status = REFUSED
        self.batch.refusal_code = unreadable.code
        self.batch.refusal_message = unreadable.message
        self.spool.add([RowIssue(0, "", "", "", unreadable.code, unreadable.message)])

    # --- the chunk loop

    def apply(self, delivery: Delivery, *, threshold: float) -> None:
        validator = RowValidator(self.spec.fields, delivery.columns.units)
        self.validator = validator
        self.key_of = validator.key_reader(self.key_fields)
        # Sealed (level-4+) datasets keep no fingerprint: an unkeyed hash of an ID number could
        # be brute-forced, and their digests are already keyed.
        if self.sealer is None:
            self.fingerprint = _fingerprinter(self.spec, delivery.columns.units)
        savepoint = self.session.begin_nested()
        prepared = self._prepared(iter(delivery.rows), validator)
        try:
            with repo.bulk_cache(self.session, settings().sqlite_cache_mb), _gc_paused():
                for chunk in prepared:
                    self._store(chunk)
        except DeliveryUnreadable as unreadable:
            savepoint.rollback()
            self.refuse_unreadable(unreadable)
            return
        except BaseException:
            savepoint.rollback()
            raise
        finally:
            prepared.close()
        total, rejected = self.counts["total"], self.counts["rejected"]
        if total == 0:
            savepoint.rollback()
            self.refuse_unreadable(DeliveryUnreadable("INGEST-EMPTY", "文件只有表头，没有数据行"))
            return
        if rejected / total > threshold:
            savepoint.rollback()
            self.batch.status = REFUSED
            self.batch.refusal_code = "INGEST-THRESHOLD"
            self.batch.refusal_message = (
                f"拒收 {rejected} 行，占 {total} 行的 {rejected / total:.1%}，超过该数据项的"
                f"拒收阈值 {threshold:.1%}：整批退回，未保存任何记录。请按拒收报告更正后重新提交"
            )
            self.subjects_created = 0
            for name in ("new", "updated", "unchanged", "withdrawn"):
                self.counts[name] = 0
            return
        savepoint.commit()
        self.batch.status = APPLIED

    def finish(self) -> None:
        b, c = self.batch, self.counts
        b.rows_total, b.rows_accepted, b.rows_rejected = c["total"], c["accepted"], c["rejected"]
        b.rows_warned, b.rows_new, b.rows_updated = c["warned"], c["new"], c["updated"]
        b.rows_unchanged, b.rows_withdrawn = c["unchanged"], c["withdrawn"]
        b.subjects_created = self.subjects_created
        self.session.flush()
        try:
            for block in self.spool.drain():
                repo.insert_rejects(self.session, b.id, block)
        finally:
            self.spool.close()

    # --- the preparing side (no session: runs in the forked reader for a big file)

    def probe(self, chunk: list[RawRow]) -> _Probe:
        positions: list[int] = []
        keys: list[str] = []
        fingerprints: list[str] = []
        if self.validator is not None:
            self.validator.prime([raw.values for raw in chunk])
        fingerprint, key_of = self.fingerprint, self.key_of
        if fingerprint is None:
            return _Probe(positions, keys, fingerprints)
        for i, raw in enumerate(chunk):
            if raw.read_problems or ACTION_COLUMN in raw.values:
                continue
            key = key_of(raw.values)
            if key is None:
                continue
            positions.append(i)
            keys.append(key)
            fingerprints.append(fingerprint(raw))
        return _Probe(positions, keys, fingerprints)

    def prepare(
        self,
        chunk: list[RawRow],
        validate: RowValidator,
        probe: _Probe,
        known: list[str | None],
    ) -> _Prepared:
        """Recognise the unchanged rows, validate the rest, and serialise and digest what is
        accepted. ``known``: the writer's answer to ``probe`` — each probed key's current
        version's fingerprint, where it has one."""
        touched = self.touched
        # Keys an earlier chunk handed over: the probe was answered before their versions were
        # written, so only the writer's own lookup at store time is right for them.
        stale = touched.among(probe.keys)
        if len(probe.keys) == len(chunk) and not any(known):
            # Every row probed and nothing stored to recognise (a new period, a first delivery):
            # no row is skipped, and the probe's keys and fingerprints are the chunk's.
            touched.add_all(probe.keys)
            prepared = self._prepare_plain(chunk, validate, probe)
            if prepared is not None:
                prepared.unresolved.extend(sorted(stale))
                return prepared
        probed = set(probe.keys)
        skip: set[int] = set()
        clean: dict[int, str] = {}  # fingerprint by source row, for the rows validated
        seen: set[str] = set()
        for position, key, fp, stored in zip(
            probe.positions, probe.keys, probe.fingerprints, known, strict=True
        ):
            if stored == fp and key not in seen and key not in stale:
                skip.add(position)
            else:
                clean[chunk[position].row] = fp
            seen.add(key)
        rest = [raw for i, raw in enumerate(chunk) if i not in skip] if skip else chunk
        touched.add_all(probe.keys)
        columns, dicts = _clean_values(rest, validate)
        if dicts is not None:
            keys: list[str] | None = None
            if len(probe.keys) == len(chunk):  # every row probed: its key is known already
                keys = [k for i, k in enumerate(probe.keys) if i not in skip]
            fingerprints = [clean.get(raw.row) for raw in rest]
            prepared = self._prepare_clean(chunk, rest, dicts, fingerprints, len(skip), keys)
        else:
            prepared = self._prepare_mixed(chunk, rest, validate, columns, clean, len(skip))
        keys = prepared.keys
        prepared.unresolved.extend(sorted({k for k in keys if k not in probed or k in stale}))
        touched.add_all(keys)
        return prepared

    def _prepare_plain(
        self, chunk: list[RawRow], validate: RowValidator, probe: _Probe
    ) -> _Prepared | None:
        """:meth:`_prepare_clean` of a whole chunk of probed rows, when all of them are clean;
        ``None`` otherwise (then the general path of :meth:`prepare` takes the chunk)."""
        _, dicts = _clean_values(chunk, validate)
        if dicts is None:
            return None
        return self._prepare_clean(chunk, chunk, dicts, list(probe.fingerprints), 0, probe.keys)

    def _prepare_clean(
        self,
        chunk: list[RawRow],
        rest: list[RawRow],
        dicts: list[dict[str, Any]],
        fingerprints: list[str | None],
        skipped: int,
        keys: list[str] | None,
    ) -> _Prepared:
        """The usual chunk — every row read cleanly, no action, every value in its plain form —
        straight from the value columns to the record columns."""
        if keys is None:
            keys = self._keys(dicts)
        datas, digests, events = self._stored(dicts, None)
        return _Prepared(
            rows=len(chunk),
            skipped=skipped,
            issues=[],
            numbers=[raw.row for raw in rest],
            withdraws=[False] * len(dicts),
            keys=keys,
            subjects=[d.get(self.spec.subject_key) for d in dicts],
            names=[d.get("name") for d in dicts] if self.named else [None] * len(dicts),
            events=events,
            datas=datas,
            digests=digests,
            fingerprints=fingerprints,
            unresolved=[],
        )

    def _prepare_mixed(
        self,
        chunk: list[RawRow],
        rest: list[RawRow],
        validate: RowValidator,
        columns: list[list[Any]] | None,
        clean: dict[int, str],
        skipped: int,
    ) -> _Prepared:
        """Any chunk: rows validated one by one where needed, warnings, withdrawals."""
        outcomes = self._validate_chunk(rest, validate, columns)
        accepted = [(o, w) for o, w in outcomes if not o.issues or not _has_errors(o)]
        values = [o.values for o, _ in accepted]
        withdraws = [w for _, w in accepted]
        datas, digests, events = self._stored(values, withdraws)
        return _Prepared(
            rows=len(chunk),
            skipped=skipped,
            issues=[(o.row, [astuple(i) for i in o.issues]) for o, _ in outcomes if o.issues],
            numbers=[o.row for o, _ in accepted],
            withdraws=withdraws,
            keys=self._keys(values),
            subjects=[v.get(self.spec.subject_key) for v in values],
            names=[v.get("name") for v in values],
            events=events,
            datas=datas,
            digests=digests,
            # Only a row accepted without any issue is recognised by fingerprint later, so
            # a re-delivery still reports every warning.
            fingerprints=[None if w or o.issues else clean.get(o.row) for o, w in accepted],
            unresolved=[],
        )

    def _keys(self, values: list[dict[str, Any]]) -> list[str]:
        key_fields = self.key_fields
        return ["|".join([str(v[k]) for k in key_fields]) for v in values]

    def _stored(
        self, values: list[dict[str, Any]], withdraws: list[bool] | None
    ) -> tuple[list[str | None], list[str | None], list[str | None]]:
        """Per row: the stored text (canonical JSON; level-4+ fields sealed), its digest and the
        event date; a withdrawal (``withdraws``) delivers no data."""
        if withdraws is None:
            plain: list[bytes | None] = [canonical_json(v) for v in values]
        else:
            plain = [
                None if w else canonical_json(v) for v, w in zip(values, withdraws, strict=True)
            ]
        sealer = self.sealer
        if sealer is None:
            digests = [None if d is None else _sm3_hex(d) for d in plain]
        else:
            # Level-4+ fields are stored SM4-GCM encrypted; the digest stays over the plaintext
            # (keyed), so an unchanged re-delivery is still recognised whatever the nonces.
            digests = [None if d is None else sealer.digest(d) for d in plain]
            plain = [
                None if d is None else sealer.seal(v) for v, d in zip(values, plain, strict=True)
            ]
        datas = [None if d is None else d.decode() for d in plain]
        event_field = self.event_field
        if self.event_is_period:
            events = [None if (e := v.get(event_field)) is None else f"{e}-01" for v in values]
        else:
            events = [None if (e := v.get(event_field)) is None else str(e) for v in values]
        return datas, digests, events

    # --- the writing side

    def answer(self, keys: list[str]) -> list[str | None]:
        """A probe's answer: the fingerprint of each key's current version (where it has one).
        What was looked up is kept for the chunk's store."""
        found = repo.latest_versions(self.session, dataset_code=self.spec.code, keys=keys)
        self.probed.append(found)
        current = [found.get(key) for key in keys]
        return [None if x is None or x.status != "current" else x.fingerprint for x in current]

    def _prepared(
        self, rows: Iterator[RawRow], validate: RowValidator
    ) -> Generator[_Prepared, None, None]:
        """Prepared chunks in file order: here, or — for a big file on more than one core — in a
        forked process that reads and prepares the next chunks while this one writes."""
        if not self.parallel:
            while chunk := list(islice(rows, self.chunk_rows)):
                probe = self.probe(chunk)
                yield self.prepare(chunk, validate, probe, self.answer(probe.keys))
            return
        context = multiprocessing.get_context("fork")
        receive, send = context.Pipe(duplex=False)
        answers_in, answers_out = context.Pipe(duplex=False)
        worker = context.Process(
            target=_produce, args=(send, answers_in, self, rows, validate), daemon=True
        )
        worker.start()
        send.close()
        answers_in.close()
        try:
            while True:
                try:
                    message = receive.recv_bytes()
                except EOFError:
                    raise RuntimeError("归集子进程意外退出") from None
                kind, body = pickle.loads(message)  # noqa: S301 - our own child
                if kind == "probe":
                    answers_out.send_bytes(
                        pickle.dumps(self.answer(body), protocol=pickle.HIGHEST_PROTOCOL)
                    )
                elif kind == "chunk":
                    yield body
                elif kind == "unreadable":
                    raise DeliveryUnreadable(*body)
                elif kind == "error":
                    raise RuntimeError(f"归集子进程出错：{body}")
                else:
                    return
        finally:
            receive.close()
            answers_out.close()
            if worker.is_alive():
                worker.kill()
            worker.join()

    def _store(self, prepared: _Prepared) -> None:
        spec = self.spec
        counts = self.counts
        counts["total"] += prepared.rows
        counts["unchanged"] += prepared.skipped
        issues: dict[int, list[RowIssue]] = {
            row: [RowIssue(*i) for i in found] for row, found in prepared.issues
        }
        latest = self.probed.popleft()
        if prepared.unresolved:
            # Keys the probe did not ask about, or asked about before this batch wrote them.
            unresolved = set(prepared.unresolved)
            latest = {k: v for k, v in latest.items() if k not in unresolved}
            latest.update(
                repo.latest_versions(self.session, dataset_code=spec.code, keys=prepared.unresolved)
            )
        subject_ids = self._subjects(prepared)

        # Versions planned in this chunk, by key, as lists in repo.NEW_RECORD order (status at
        # STATUS): built for every new row, so no object per row.
        pending: dict[str, list[Any]] = {}
        news: list[list[Any]] = []
        retire: dict[str, list[int]] = {"superseded": [], "withdrawn": []}
        batch_id = self.batch.id
        status_at = repo.STATUS
        for row, withdraw, key, subject, event, data, digest, fp in zip(
            prepared.numbers,
            prepared.withdraws,
            prepared.keys,
            prepared.subjects,
            prepared.events,
            prepared.datas,
            prepared.digests,
            prepared.fingerprints,
            strict=True,
        ):
            held = pending.get(key)
            before = latest.get(key)
            if held is None and before is None and not withdraw:
                # The usual row of a new period: a first version, nothing to compare.
                counts["new"] += 1
                record = [subject_ids[subject], key, 1, "current", event, data, digest, row, fp]
                pending[key] = record
                news.append(record)
                continue
            if held is not None:
                prev_status = held[status_at]
                prev_version, prev_digest, prev_row = held[2], held[6], held[7]
            elif before is not None:
                prev_status, prev_digest, prev_version = (
                    before.status,
                    before.digest,
                    before.version,
                )
                prev_row = before.source_row if before.batch_id == batch_id else None
            else:
                prev_status, prev_digest, prev_version, prev_row = None, None, 0, None

            if withdraw:
                if prev_status is None:
                    issues.setdefault(row, []).append(
                        RowIssue(
                            row,
                            "",
                            "",
                            key,
                            "INGEST-WITHDRAW-UNKNOWN",
                            f"要撤销的记录（业务主键 {key}）不存在",
                        )
                    )
                    continue
                if prev_status == "current":
                    if held is not None:
                        held[status_at] = "withdrawn"
                    elif before is not None:
                        retire["withdrawn"].append(before.id)
                    counts["withdrawn"] += 1
                else:
                    counts["unchanged"] += 1
                continue

            if prev_row is not None:
                same = prev_digest == digest and prev_status == "current"
                issues.setdefault(row, []).append(
                    RowIssue(
                        row,
                        "",
                        "",
                        key,
                        "INGEST-DUPLICATE-KEY",
                        f"与本批第{prev_row}行的业务主键相同："
                        + (
                            "内容相同，未重复保存"
                            if same
                            else f"以本行为准，第{prev_row}行作为历史版本保留"
                        ),
                        warning=True,
                    )
                )
            if prev_status == "current" and prev_digest == digest:
                counts["unchanged"] += 1
                continue
            if prev_status == "current":
                if held is not None:
                    held[status_at] = "superseded"
                elif before is not None:
                    retire["superseded"].append(before.id)
                counts["updated"] += 1
            else:
                counts["new"] += 1
            record = [
                subject_ids[subject], key, prev_version + 1, "current", event, data, digest, row, fp
            ]  # fmt: skip
            pending[key] = record
            news.append(record)

        found: list[RowIssue] = []
        for row in sorted(issues):
            row_issues = issues[row]
            found.extend(row_issues)
            if any(not issue.warning for issue in row_issues):
                counts["rejected"] += 1
            else:
                counts["warned"] += 1
        counts["accepted"] = counts["total"] - counts["rejected"]
        self.spool.add(found)

        repo.set_status(self.session, retire["superseded"], status="superseded", at=self.now)
        repo.set_status(self.session, retire["withdrawn"], status="withdrawn", at=self.now)
        repo.insert_records(
            self.session,
            news,
            dataset_code=spec.code,
            provider_id=self.batch.provider_id,
            batch_id=batch_id,
            received_at=self.now,
        )

    def _validate_chunk(
        self, chunk: list[RawRow], validate: RowValidator, columns: list[list[Any]] | None = None
    ) -> list[tuple[RowOutcome, bool]]:
        """:meth:`_validate` of every row; the plain rows (read without problems, no action)
        column by column through :meth:`RowValidator.many`, with the same outcomes."""
        plain = [
            i
            for i, raw in enumerate(chunk)
            if not raw.read_problems and ACTION_COLUMN not in raw.values
        ]
        if len(plain) == len(chunk):
            many = validate.many([r.values for r in chunk], [r.row for r in chunk], columns)
            return [(o, False) for o in many]
        outcomes: list[tuple[RowOutcome, bool] | None] = [None] * len(chunk)
        done = validate.many([chunk[i].values for i in plain], [chunk[i].row for i in plain])
        for i, outcome in zip(plain, done, strict=True):
            outcomes[i] = (outcome, False)
        for i, raw in enumerate(chunk):
            if outcomes[i] is None:
                outcomes[i] = self._validate(raw, validate)
        return [o for o in outcomes if o is not None]

    def _validate(self, raw: RawRow, validate: RowValidator) -> tuple[RowOutcome, bool]:
        values = raw.values
        action = values.pop(ACTION_COLUMN, None)
        if raw.read_problems:
            outcome = RowOutcome(row=raw.row)
            outcome.issues.extend(
                RowIssue(raw.row, f, _label(self.spec, f), "", code, message)
                for f, code, message in raw.read_problems
            )
            if any(code in _ROW_UNREADABLE for _, code, _ in raw.read_problems):
                return outcome, False  # no values, or mojibake: checking them says nothing
            # The row's values are checked too, so the provider sees every problem at once.
            checked = validate(values, row=raw.row)
            outcome.issues.extend(
                i for i in checked.issues if i.field not in {p[0] for p in raw.read_problems}
            )
            return outcome, False
        verb = clean_text(action).lower() if action is not None else ""
        if verb in WITHDRAW_WORDS:
            return validate_row(self.withdraw_fields, values, row=raw.row), True
        if verb not in DELIVER_WORDS:
            outcome = validate(values, row=raw.row)
            outcome.issues.append(
                RowIssue(
                    raw.row,
                    ACTION_COLUMN,
                    "操作",
                    clean_text(action),
                    "INGEST-ACTION",
                    "操作列只能为空（新增或更新）或“撤销”",
                )
            )
            return outcome, False
        return validate(values, row=raw.row), False

    def _subjects(self, prepared: _Prepared) -> dict[str, int]:
        """Subject ids by uscc for the chunk's delivering rows; unknown enterprises are created,
        flagged for a registration check, named from the row when it has a name."""
        wanted: dict[str, Any] = {}
        for code, name, withdraw in zip(
            prepared.subjects, prepared.names, prepared.withdraws, strict=True
        ):
            if not withdraw and code is not None:
                wanted.setdefault(code, name)
        cache = self.subject_cache
        known = {code: cache[code] for code in wanted if code in cache}
        if len(known) < len(wanted):
            known.update(repo.subject_ids(self.session, [c for c in wanted if c not in known]))
        missing = [code for code in wanted if code not in known]
        if missing:
            rows = []
            for code in missing:
                division = code[2:8]
                named = wanted[code]
                rows.append(
                    {
                        "uscc": code,
                        "name": str(named) if named else f"待核实主体 {code}",
                        "entity_type": code[:2],
                        "division_code": division,
                        "city_code": divisions.city_of(division) or division[:4] + "00",
                        "status": "active",
                        "needs_registration_check": True,
                        "created_at": self.now,
                    }
                )
            known.update(repo.create_subjects(self.session, rows))
            self.subjects_created += len(missing)
        if len(cache) < SUBJECT_CACHE:
            cache.update(known)
        return known


def _clean_values(
    rows: list[RawRow], validate: RowValidator
) -> tuple[list[list[Any]] | None, list[dict[str, Any]] | None]:
    """The columns read and, when every row was read cleanly, has no action and every value is
    in its plain form, each row's stored values; ``(columns or None, None)`` otherwise."""
    if not rows or any(raw.read_problems or ACTION_COLUMN in raw.values for raw in rows):
        return None, None
    columns = validate.read_columns([raw.values for raw in rows])
    return columns, None if columns is None else validate.clean_values(columns)


def _sm3_hex(data: bytes) -> str:
    h = sm3_new()
    h.update(data)
    return str(h.digest().hex())


def _has_errors(outcome: RowOutcome) -> bool:
    return any(not issue.warning for issue in outcome.issues)


def _label(spec: DatasetSpec, code: str) -> str:
    try:
        return spec.field(code).label_zh
    except KeyError:
        return ""


# ---------------------------------------------------------------------------- reading batches


def outcome_of(session: Session, batch: Batch, *, replayed: bool) -> BatchOutcome:
    first = session.scalars(
        select(Reject)
        .where(Reject.batch_id == batch.id)
        .order_by(Reject.row, Reject.id)
        .limit(ISSUE_PREVIEW)
    ).all()
    total = (
        session.scalar(select(func.count()).select_from(Reject).where(Reject.batch_id == batch.id))
        or 0
    )
    return BatchOutcome(
        batch_id=batch.id,
        provider_id=batch.provider_id,
        dataset_code=batch.dataset_code,
        batch_key=batch.batch_key,
        channel=batch.channel,
        status=batch.status,
        replayed=replayed,
        received_at=batch.received_at,
        rows_total=batch.rows_total,
        rows_accepted=batch.rows_accepted,
        rows_warned=batch.rows_warned,
        rows_rejected=batch.rows_rejected,
        rows_new=batch.rows_new,
        rows_updated=batch.rows_updated,
        rows_unchanged=batch.rows_unchanged,
        rows_withdrawn=batch.rows_withdrawn,
        subjects_created=batch.subjects_created,
        reject_threshold=batch.reject_threshold,
        refusal_code=batch.refusal_code,
        refusal_message=batch.refusal_message,
        source_format=batch.source_format,
        encoding=batch.encoding,
        notes=list(batch.notes or []),
        content_digest=batch.content_digest,
        issues=[
            RowIssue(r.row, r.field, r.label, r.value, r.code, r.message, r.warning) for r in first
        ],
        issues_total=total,
    )


def access_batch(session: Session, actor: Actor, batch_id: int) -> Batch:
    """A batch the actor may see: operators see all, a provider only its own; anything else is
    NotFound, so that another provider's batch ids reveal nothing."""
    batch = session.get(Batch, batch_id)
    if batch is None or not (
        _is_operator(actor)
        or (actor.provider_id is not None and actor.provider_id == batch.provider_id)
    ):
        raise NotFound(f"批次 {batch_id} 不存在")
    return batch


def get_batch_outcome(session: Session, actor: Actor, *, batch_id: int) -> BatchOutcome:
    return outcome_of(session, access_batch(session, actor, batch_id), replayed=False)


def list_rejects(session: Session, actor: Actor, *, batch_id: int) -> Iterator[Reject]:
    """The batch's report lines in row order, streamed."""
    access_batch(session, actor, batch_id)
    yield from session.scalars(
        select(Reject)
        .where(Reject.batch_id == batch_id)
        .order_by(Reject.row, Reject.id)
        .execution_options(yield_per=5000)
    )


REPORT_HEADER: Final = ("行号", "字段", "字段名称", "原值", "错误代码", "错误说明", "级别")
_FORMULA_START: Final = ("=", "+", "-", "@", "\t", "\r")


def _cell(value: str) -> str:
    # A value that Excel would run as a formula (CSV injection) is shown as text.
    return "'" + value if value.startswith(_FORMULA_START) else value


def reject_report_csv(session: Session, actor: Actor, *, batch_id: int) -> Iterator[bytes]:
    """The reject report as CSV in UTF-8 with a BOM (so Excel opens it as UTF-8), streamed."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(REPORT_HEADER)
    yield b"\xef\xbb\xbf" + buffer.getvalue().encode()
    for reject in list_rejects(session, actor, batch_id=batch_id):
        buffer.seek(0)
        buffer.truncate()
        writer.writerow(
            (
                reject.row,
                reject.field,
                reject.label,
                _cell(reject.value),
                reject.code,
                reject.message,
                "警告" if reject.warning else "错误",
            )
        )
        yield buffer.getvalue().encode()


# ---------------------------------------------------------------------------- providers


@dataclass(frozen=True)
class ProviderView:
    id: int
    code: str
    name: str
    kind: str
    division_code: str
    region: str
    contact_name: str | None
    contact_phone: str | None
    datasets: list[str] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return dict(self.__dict__)


def list_providers(session: Session) -> list[ProviderView]:
    """Every provider with the datasets it owes under the list, by code."""
    owed: dict[int, list[str]] = {}
    for provider_id, code in session.execute(
        select(ProviderDataset.provider_id, ProviderDataset.dataset_code).order_by(
            ProviderDataset.dataset_code
        )
    ):
        owed.setdefault(provider_id, []).append(code)
    return [
        ProviderView(
            id=p.id,
            code=p.code,
            name=p.name,
            kind=p.kind,
            division_code=p.division_code,
            region=divisions.name(p.division_code) or p.division_code,
            contact_name=p.contact_name,
            contact_phone=p.contact_phone,
            datasets=owed.get(p.id, []),
        )
        for p in session.scalars(select(Provider).order_by(Provider.code))
    ]


def list_providers_for(session: Session, actor: Actor) -> list[ProviderView]:
    """The providers the actor may deliver for."""
    everyone = list_providers(session)
    if _is_operator(actor):
        return everyone
    return [p for p in everyone if p.id == actor.provider_id]
