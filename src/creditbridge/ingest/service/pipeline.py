"""Applying one delivery: the chunk loop of :class:`Run`, its spool, probes and forked reader."""

from __future__ import annotations

import contextlib
import ctypes
import gc
import hashlib
import multiprocessing
import os
import pickle
import queue
import signal
import stat
import sys
import tempfile
import threading
from collections import deque
from collections.abc import Callable, Collection, Generator, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import astuple
from itertools import islice
from operator import itemgetter
from pathlib import Path
from typing import IO, Any, Final, NamedTuple

import orjson
from sqlalchemy.orm import Session

import creditbridge
from creditbridge.catalog.schemas import DatasetSpec
from creditbridge.core.config import IngestSettings
from creditbridge.core.crypto import canonical_json
from creditbridge.core.crypto.digest import sm3_new
from creditbridge.ingest import repository as repo
from creditbridge.ingest.domain import RowIssue, RowOutcome, RowValidator, clean_text, validate_row
from creditbridge.ingest.models import Batch
from creditbridge.ingest.readers import (
    ACTION_COLUMN,
    Delivery,
    DeliveryUnreadable,
    RawRow,
    open_delivery,
    open_rows,
    unreadable,
)
from creditbridge.ingest.service._common import APPLIED, ISSUE_PREVIEW, REFUSED, Source
from creditbridge.presentation.i18n import translate
from creditbridge.protection import service as protection
from creditbridge.reference import divisions

_ROW_UNREADABLE: Final = frozenset({"INGEST-ENCODING", "INGEST-JSON"})
WITHDRAW_WORDS: Final = frozenset({"撤销", "withdraw", "withdrawn", "w", "删除", "delete", "d"})
DELIVER_WORDS: Final = frozenset({"", "新增", "更新", "upsert", "insert", "update", "deliver"})

THRESHOLD_KEY: Final = "ingest_issue.threshold"
"""The refusal of a batch with too many rejected rows (``INGEST-THRESHOLD``)."""


def threshold_params(rejected: int, total: int, threshold: float) -> dict[str, object]:
    """The parameters of :data:`THRESHOLD_KEY`: the batch's page tells the refusal again from
    the batch's counts, in its reader's language."""
    share = rejected / total if total else 0.0
    return {
        "rejected": rejected,
        "total": total,
        "share": f"{share:.1%}",
        "threshold": f"{threshold:.1%}",
    }


def runs_forked(source: Source) -> bool:
    """Whether a forked reader prepares the chunks while this process writes."""
    if (os.cpu_count() or 1) < 2 or "fork" not in multiprocessing.get_all_start_methods():
        return False
    if isinstance(source, bytes):
        return len(source) >= PARALLEL_BYTES
    if isinstance(source, Path):
        return source.stat().st_size >= PARALLEL_BYTES
    return False


def open_source(
    source: Source,
    spec: DatasetSpec,
    *,
    filename: str | None,
    sheet: str | None,
    limits: IngestSettings | None = None,
) -> Delivery:
    if isinstance(source, Path | bytes):
        return open_delivery(
            source, fields=spec.fields, filename=filename, sheet=sheet, limits=limits
        )
    return open_rows(source, fields=spec.fields)


def _row_issue(
    row: int, value: str, code: str, key: str, /, *, warning: bool = False, **params: object
) -> RowIssue:
    """A report line about a whole row, told by message key (its Chinese text from the table)."""
    text = translate("zh", key, **params)
    return RowIssue(row, "", "", value, code, text, warning, key, params)


class _Spool:
    """Report lines kept in a temporary file until the batch's fate is known, so that a refused
    batch of millions of bad rows still keeps its whole report without holding it in memory.
    A line keeps its message key and parameters, so the report reads in English on an English
    page; a clean batch spools nothing, so this costs only the lines a batch has."""

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
            [
                (i.row, i.field, i.label, i.value, i.code, i.message, i.warning, i.key, i.params)
                for i in issues
            ],
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
    unresolved: list[str]  # keys the writer looks up itself (see Run.prepare)


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


_PR_SET_PDEATHSIG: Final = 1
_FD_FOLDER: Final = "/proc/self/fd" if os.path.isdir("/proc/self/fd") else "/dev/fd"


def _die_with_parent(parent: int) -> None:
    """Linux kills this process when the thread that forked it ends (``PR_SET_PDEATHSIG``; that
    thread waits for the reader until the batch ends), so a SIGKILLed server leaves no reader
    behind. Elsewhere the answers pipe is the watchdog: its
    only writer is the parent, so EOF there means the parent is gone (see ``receive``)."""
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if os.getppid() != parent:  # the parent died before prctl took effect
        os._exit(1)


def _release_inherited(keep: Collection[int]) -> None:
    """Give up every socket and pipe the fork copied from the server except our own two pipe
    ends: the listening socket (an orphan holding it kept a restarted server from binding, and
    accepted connections that nobody served), clients' connections, the database's, and the
    other ends of our pipes (holding the answers pipe's write end would hide the parent's death
    from the watchdog). Each descriptor is pointed at /dev/null rather than closed, so that no
    number is reused under a Python object that still believes it owns it."""
    try:
        numbers = [int(name) for name in os.listdir(_FD_FOLDER)]
    except OSError:
        return
    null = os.open(os.devnull, os.O_RDWR)
    try:
        for number in numbers:
            if number <= 2 or number == null or number in keep:
                continue
            try:
                mode = os.fstat(number).st_mode
            except OSError:
                continue
            if stat.S_ISSOCK(mode) or stat.S_ISFIFO(mode):
                with contextlib.suppress(OSError):
                    os.dup2(null, number)
    finally:
        os.close(null)


def _produce(
    send: Any,
    answers: Any,
    run: Run,
    rows: Iterator[RawRow],
    validate: RowValidator,
    parent: int,
) -> None:
    """The forked reader. It asks the writer about the keys of the chunks ahead (probes) before
    it prepares the current one, so the writer's answers are ready when needed. Two threads keep
    the pipes moving: one sends (so the reader never waits on a full pipe while the writer
    writes), one receives answers as soon as they come (so the writer never waits to hand one
    over, and neither side can end up waiting on the other). It never touches the session it
    inherited, holds none of the server's sockets, dies with its parent, and leaves with
    ``os._exit``.

    The writer reads the pipe in order, so the probe of chunk i + PROBES_AHEAD is answered after
    chunk i − 1 is stored and before chunk i is: keys of chunks i … i + PROBES_AHEAD − 1 may be
    written after the answer. They are in ``run.touched`` by the time that chunk is prepared,
    which sends them to the writer's own lookup (see ``Run.prepare``)."""
    _die_with_parent(parent)
    _release_inherited({send.fileno(), answers.fileno()})
    gc.disable()  # see _gc_paused; this process ends with the batch
    outbox: queue.Queue[bytes | None] = queue.Queue(maxsize=4)

    def post(message: tuple[str, Any]) -> None:
        outbox.put(pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL))

    def deliver() -> None:
        while (item := outbox.get()) is not None:
            send.send_bytes(item)

    inbox: queue.Queue[bytes] = queue.Queue()  # at most PROBES_AHEAD answers wait here

    def receive() -> None:
        try:
            while True:
                inbox.put(answers.recv_bytes())
        except (EOFError, OSError):
            # The parent closed its end: it has all it wanted, or it is gone. Either way nothing
            # this process does matters any more, and its main thread may be blocked on a full
            # pipe that nobody reads.
            os._exit(0)

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
                known = pickle.loads(answer)  # noqa: S301 - our own parent
                read_ahead()
                post(("chunk", run.prepare(chunk, validate, probe, known)))
            post(("end", None))
        except DeliveryUnreadable as refused:
            post(("unreadable", (refused.code, refused.message, refused.key, refused.params)))
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


class Run:
    """One batch being applied: counters, the spool, and the chunk loop.

    A chunk passes three steps. **Probe**: for the rows read cleanly, the natural key (from the
    key fields alone) and the fingerprint of the cells; the writer answers with the stored
    fingerprint of each key's current version. **Prepare**: a row whose fingerprint equals its
    key's current version's — and whose key no earlier row of the batch touched — is counted
    unchanged without validation; the rest are validated, serialised and digested. **Store**:
    the writer classifies each accepted row (new, changed, unchanged, withdrawn) against the
    versions the probe looked up, and writes. For a big file the first two steps run in a
    forked reader while the writer stores the chunk before.

    The writer lets a row touch a stored version of its key (supersede, withdraw, or deliver
    again after a withdrawal) only when the batch's provider is assigned the dataset: the entry
    check (``delivery.check_assigned``) refuses such a batch already, and this keeps another
    provider's records out of reach of any path that would reach the writer without it. Such a
    row is rejected (``INGEST-NOT-ASSIGNED``) and the record stays as it was.
    """

    def __init__(
        self,
        session: Session,
        batch: Batch,
        spec: DatasetSpec,
        *,
        chunk_rows: int,
        sqlite_cache_mb: int,
        parallel: bool = False,
    ) -> None:
        self.parallel = parallel
        self.sqlite_cache_mb = sqlite_cache_mb
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
        self.may_touch_stored = repo.is_assigned(
            session, provider_id=batch.provider_id, dataset_code=spec.code
        )
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
        self.spool.add(
            [
                RowIssue(
                    0,
                    "",
                    "",
                    "",
                    unreadable.code,
                    unreadable.message,
                    key=unreadable.key,
                    params=unreadable.params,
                )
            ]
        )

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
            with repo.bulk_cache(self.session, self.sqlite_cache_mb), _gc_paused():
                for chunk in prepared:
                    self._store(chunk)
        except DeliveryUnreadable as refused:
            savepoint.rollback()
            self.refuse_unreadable(refused)
            return
        except BaseException:
            savepoint.rollback()
            raise
        finally:
            prepared.close()
        total, rejected = self.counts["total"], self.counts["rejected"]
        if total == 0:
            savepoint.rollback()
            self.refuse_unreadable(unreadable("INGEST-EMPTY", "ingest_issue.file.only_header"))
            return
        if rejected / total > threshold:
            savepoint.rollback()
            self.batch.status = REFUSED
            self.batch.refusal_code = "INGEST-THRESHOLD"
            self.batch.refusal_message = translate(
                "zh", THRESHOLD_KEY, **threshold_params(rejected, total, threshold)
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
            target=_produce,
            args=(send, answers_in, self, rows, validate, os.getpid()),
            daemon=True,
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
                    code, message, key, params = body
                    raise DeliveryUnreadable(code, message, key=key, params=params)
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
            if held is None and before is not None and not self.may_touch_stored:
                issues.setdefault(row, []).append(
                    _row_issue(
                        row,
                        key,
                        "INGEST-NOT-ASSIGNED",
                        "ingest_issue.not_assigned",
                        key=key,
                        dataset=spec.code,
                    )
                )
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
                        _row_issue(
                            row,
                            key,
                            "INGEST-WITHDRAW-UNKNOWN",
                            "ingest_issue.withdraw_unknown",
                            key=key,
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
                    _row_issue(
                        row,
                        key,
                        "INGEST-DUPLICATE-KEY",
                        "ingest_issue.duplicate_key.same"
                        if same
                        else "ingest_issue.duplicate_key.replaces",
                        warning=True,
                        row=prev_row,
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
                RowIssue(
                    raw.row,
                    p.field,
                    _label(self.spec, p.field),
                    "",
                    p.code,
                    p.message,
                    key=p.key,
                    params=p.params,
                )
                for p in raw.read_problems
            )
            if any(p.code in _ROW_UNREADABLE for p in raw.read_problems):
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
                    translate("zh", "ingest_issue.action"),
                    key="ingest_issue.action",
                    params={},
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
