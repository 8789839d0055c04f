"""Exchange packages (数据包), receipts (回执), the exchange log's hash chain and the reconciliation
(对账) digest: the wire format two nodes agree on, as pure functions. No database, no transport —
the service keeps what these produce, and an adapter carries the bytes (HTTP body or file).

Package, format ``creditbridge-exchange-package/1`` — one file or HTTP body, UTF-8::

    <envelope line>\\n          {"header": {...}, "signature": {"algorithm": "SM2-SM3", "value": b64}}
    <record line>\\n            one per record, ``count`` of them (none for an empty package)

* Every line is canonical JSON (:func:`creditbridge.core.crypto.canonical_json`): UTF-8, keys
  sorted by code point at every depth, no insignificant whitespace, non-ASCII as itself; so one
  package has exactly one byte form, and a decoder refuses any other (``CB-EXCH-FORMAT``).
* The header: ``format``, ``origin`` and ``receiver`` (node codes), ``stream`` (the dataset),
  ``sequence`` (1, 2, … per (origin, receiver, stream)), ``count`` (records), ``body_digest`` (SM3
  hex of the body: every byte after the envelope line), ``body_bytes`` (its length, so a reader
  can refuse an oversized package from the first line), ``created_at`` (RFC 3339 UTC) and
  ``key_id`` (the fingerprint of the origin's SM2 key, :attr:`Sm2PublicKey.fingerprint`).
* The signature is SM2 with SM3 (user ID ``1234567812345678``, DER, base64) over the canonical JSON
  of the header alone; the header names the body by its digest, so one signature covers both and a
  receiver can check it before reading the body. The SM3 hex of the same header bytes is the
  package's :attr:`Package.digest`, which receipts and the log name it by.
* A record line: ``{"data": {...} | null, "id", "operation": "upsert" | "withdraw", "origin",
  "version"}``. ``origin`` is the node where the record was collected: a province forwarding a
  city's record upward keeps the city as its origin, and only that origin's later versions may
  update or withdraw the copy (the service enforces it; the package only carries it). Values in
  ``data`` arrive as canonical JSON writes them (a Decimal or a date as a string).

Receipt, format ``creditbridge-exchange-receipt/1``: a single line
``{"receipt": {...}, "signature": {...}}\\n`` signed the same way by the receiver.

Why this shape: GB/T 39443-2020 §5.4–5.7 exchanges packages with a header and a body in file,
database-link and service modes, and the local specs (舞钢 DB410481) make the receipt a normative
feedback record; X-Road signs every message and keeps a hash-chained log so that each can serve as
evidence. No public national schema exists, so this one is ours and documented here and in
``docs/exchange-protocol.md``.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any, ClassVar, Final, TypeVar

from creditbridge.core.clock import utc_now
from creditbridge.core.crypto import (
    SigningKey,
    Sm2PublicKey,
    canonical_json,
    sign,
    sm3_hex,
)
from creditbridge.core.crypto import verify as sm2_verify
from creditbridge.core.crypto.digest import sm3_new
from creditbridge.core.errors import ExchangeError

PACKAGE_FORMAT: Final = "creditbridge-exchange-package/1"
RECEIPT_FORMAT: Final = "creditbridge-exchange-receipt/1"
SIGNATURE_ALGORITHM: Final = "SM2-SM3"
GENESIS: Final = "0" * 64
"""The ``prev_hash`` of the first entry of an exchange log."""

DEFAULT_RECEIPT_MAX_BYTES: Final = 1 << 20

# Node codes, stream names: what may sit in a package id and a file name without escaping.
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
_HEX64 = re.compile(r"[0-9a-f]{64}")


# --- Refusals -----------------------------------------------------------------------------------
# Each names what is wrong with a package or receipt another node sent; the codes are part of the
# protocol (a receipt's reasons carry them back to the origin).


class PackageFormatInvalid(ExchangeError):
    """Raised for bytes that are not a package or receipt of a known format (or not canonical)."""

    code = "CB-EXCH-FORMAT"
    status_code = 400
    title = "数据包格式不正确"


class PackageTooLarge(ExchangeError):
    """Raised before parsing when a package exceeds the receiver's limit: memory stays bounded."""

    code = "CB-EXCH-TOO-LARGE"
    status_code = 413
    title = "数据包超过大小上限"


class OriginUnknown(ExchangeError):
    """Raised when the sending node, or the key it names, is not in the receiver's registry."""

    code = "CB-EXCH-ORIGIN-UNKNOWN"
    status_code = 403
    title = "来源节点或密钥未登记"


class SignatureInvalid(ExchangeError):
    """Raised when the SM2 signature does not verify with the registered key it names."""

    code = "CB-EXCH-SIGNATURE"
    status_code = 403
    title = "数据包签名无效"


class DigestMismatch(ExchangeError):
    """Raised when the body is not the one the signed header names (altered in transit)."""

    code = "CB-EXCH-DIGEST"
    status_code = 400
    title = "数据包摘要不符"


class CountMismatch(ExchangeError):
    code = "CB-EXCH-COUNT"
    status_code = 400
    title = "数据包记录数不符"


class ClockSkew(ExchangeError):
    """Raised when the sender's clock is further from ours than the limit: a stale or post-dated
    message is refused rather than logged with a time nobody can trust."""

    code = "CB-EXCH-SKEW"
    status_code = 400
    title = "节点时钟偏差超限"


class WrongReceiver(ExchangeError):
    code = "CB-EXCH-RECEIVER"
    status_code = 400
    title = "数据包的接收节点不是本节点"


E = TypeVar("E", bound=ExchangeError)


def _refusal(error: type[E], reason: str, message: str, /, **params: object) -> E:
    # The key names the message in presentation/messages/exchange.py; pure code cannot import the
    # tables, so the Chinese text is written here and must match them.
    return error(message.format(**params), key=f"error.exchange.package.{reason}", params=params)


def _format_error(what: str) -> PackageFormatInvalid:
    return _refusal(PackageFormatInvalid, "format", "数据包格式不正确：{what}", what=what)


# --- Records and packages -----------------------------------------------------------------------


class Operation(StrEnum):
    UPSERT = "upsert"
    WITHDRAW = "withdraw"


@dataclass(frozen=True)
class ExchangeRecord:
    """One record as it travels: ``data`` is None exactly when it is withdrawn."""

    id: str
    version: int
    origin: str
    operation: Operation
    data: Mapping[str, Any] | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.id, str) or not self.id:
            raise ValueError("a record id is a non-empty string")
        if not _is_int(self.version) or self.version < 1:
            raise ValueError("a record version is an integer ≥ 1")
        if not isinstance(self.origin, str) or not _NAME.fullmatch(self.origin):
            raise ValueError(f"bad origin node code {self.origin!r}")
        if self.data is not None and not isinstance(self.data, Mapping):
            raise ValueError("a record's data is an object")
        if (self.data is None) != (self.operation is Operation.WITHDRAW):
            raise ValueError("an upsert carries data and a withdrawal none")

    def line(self) -> bytes:
        return canonical_json(
            {
                "data": self.data,
                "id": self.id,
                "operation": self.operation.value,
                "origin": self.origin,
                "version": self.version,
            }
        )


@dataclass(frozen=True)
class PackageHeader:
    origin: str
    receiver: str
    stream: str
    sequence: int
    count: int
    body_digest: str
    body_bytes: int
    created_at: datetime
    key_id: str
    format: str = PACKAGE_FORMAT

    def as_dict(self) -> dict[str, Any]:
        return {
            "body_bytes": self.body_bytes,
            "body_digest": self.body_digest,
            "count": self.count,
            "created_at": self.created_at,
            "format": self.format,
            "key_id": self.key_id,
            "origin": self.origin,
            "receiver": self.receiver,
            "sequence": self.sequence,
            "stream": self.stream,
        }

    def signed_bytes(self) -> bytes:
        return canonical_json(self.as_dict())


@dataclass(frozen=True)
class Package:
    header: PackageHeader
    signature: bytes
    records: tuple[ExchangeRecord, ...]
    body: bytes

    @property
    def package_id(self) -> str:
        """``origin/receiver/stream/sequence``: the idempotency key, the same on every retry."""
        h = self.header
        return f"{h.origin}/{h.receiver}/{h.stream}/{h.sequence}"

    @property
    def digest(self) -> str:
        """SM3 hex of the signed header, which names the body by its digest: the whole package."""
        return sm3_hex(self.header.signed_bytes())


def _envelope(kind: str, content: dict[str, Any], signature: bytes) -> bytes:
    return canonical_json(
        {
            kind: content,
            "signature": {
                "algorithm": SIGNATURE_ALGORITHM,
                "value": base64.b64encode(signature).decode("ascii"),
            },
        }
    )


def build_package(
    *,
    origin: str,
    receiver: str,
    stream: str,
    sequence: int,
    records: Iterable[ExchangeRecord],
    key: SigningKey,
    key_id: str | None = None,
    created_at: datetime | None = None,
) -> Package:
    """A package of ``records`` signed with the origin's ``key`` (``key_id`` defaults to the
    fingerprint of its public key). Raises ValueError for arguments no caller should pass."""
    for name, value in (("origin", origin), ("receiver", receiver), ("stream", stream)):
        if not _NAME.fullmatch(value):
            raise ValueError(f"bad {name} {value!r}")
    if not _is_int(sequence) or sequence < 1:
        raise ValueError("a sequence is an integer ≥ 1")
    records = tuple(records)
    if len({r.id for r in records}) != len(records):
        raise ValueError("a record appears at most once in a package")
    body = b"".join(r.line() + b"\n" for r in records)
    header = PackageHeader(
        origin=origin,
        receiver=receiver,
        stream=stream,
        sequence=sequence,
        count=len(records),
        body_digest=sm3_hex(body),
        body_bytes=len(body),
        created_at=_utc(created_at or utc_now()),
        key_id=key_id or key.public_key.fingerprint,
    )
    return Package(header, sign(key, header.signed_bytes()), records, body)


def encode(package: Package) -> bytes:
    """The package as one file or HTTP body (see the module docstring)."""
    return _envelope("header", package.header.as_dict(), package.signature) + b"\n" + package.body


def decode(data: bytes, *, max_bytes: int) -> Package:
    """Parse a package without trusting it: :func:`verify` is what checks it. Refuses more than
    ``max_bytes`` before parsing, and anything but the one canonical form."""
    if len(data) > max_bytes:
        raise _too_large(len(data), max_bytes)
    first, newline, body = data.partition(b"\n")
    if not newline:
        raise _format_error("缺少包头行")
    fields, signature = _open_envelope(first, "header")
    header = _header(fields)
    if header.body_bytes > max_bytes:
        raise _too_large(header.body_bytes, max_bytes)
    if body and not body.endswith(b"\n"):
        raise _format_error("包体最后一行未以换行结束")
    records = tuple(_record(line, n) for n, line in enumerate(body.split(b"\n")[:-1], start=1))
    if len({r.id for r in records}) != len(records):
        raise _format_error("同一记录在包内出现多次")
    return Package(header, signature, records, body)


def verify(
    package: Package,
    *,
    keys_of_origin: Mapping[str, Mapping[str, Sm2PublicKey]],
    now: datetime,
    max_skew: timedelta,
    receiver: str | None = None,
) -> None:
    """Raise the refusal for the first thing wrong with ``package``, else return.

    ``keys_of_origin`` maps each admitted node's code to its keys by key id (the registry; a
    rotated key stays until the packages it signed are through). ``max_skew`` bounds
    ``|now - created_at|`` — file mode, where a package may wait hours in a directory, passes a
    limit as wide as its transfer window. With ``receiver``, a package addressed to another node
    is refused. Signature before anything that reads the body: a forged header learns nothing.
    """
    h = package.header
    if receiver is not None and h.receiver != receiver:
        raise _refusal(
            WrongReceiver,
            "receiver",
            "数据包发往 {to}，不是本节点 {me}",
            to=h.receiver,
            me=receiver,
        )
    _check_signature(keys_of_origin, h.origin, h.key_id, h.signed_bytes(), package.signature)
    _check_skew(h.created_at, now, max_skew)
    if len(package.body) != h.body_bytes or sm3_hex(package.body) != h.body_digest:
        raise _refusal(DigestMismatch, "digest", "包体与包头的 SM3 摘要不符")
    if len(package.records) != h.count:
        raise _refusal(
            CountMismatch,
            "count",
            "包头记录数 {declared}，包体实有 {actual}",
            declared=h.count,
            actual=len(package.records),
        )


# --- Sequencing ---------------------------------------------------------------------------------


class SequenceDecision(StrEnum):
    APPLY = "apply"
    DUPLICATE = "duplicate"
    GAP = "gap"


@dataclass(frozen=True)
class SequenceCheck:
    decision: SequenceDecision
    missing: tuple[int, int] | None = None
    """For a gap: the first and last sequence (inclusive) to ask the origin for."""


def check_sequence(last_applied: int, incoming: int) -> SequenceCheck:
    """What to do with package ``incoming`` of a stream whose last applied one is
    ``last_applied`` (0 when none was). A duplicate is answered with the receipt already given and
    changes nothing; the service should still compare its digest with the logged one, since the
    same sequence with other content is a conflict, not a retry. A gap is not applied: packages
    apply in order, so a later one never overwrites what a missing one would bring."""
    if not _is_int(incoming) or incoming < 1 or not _is_int(last_applied) or last_applied < 0:
        raise ValueError("sequences are integers, the first one 1")
    if incoming <= last_applied:
        return SequenceCheck(SequenceDecision.DUPLICATE)
    if incoming == last_applied + 1:
        return SequenceCheck(SequenceDecision.APPLY)
    return SequenceCheck(SequenceDecision.GAP, (last_applied + 1, incoming - 1))


# --- Receipts -----------------------------------------------------------------------------------


class ReceiptStatus(StrEnum):
    ACCEPTED = "accepted"
    REJECTED = "rejected"


@dataclass(frozen=True)
class RejectReason:
    """Why a package, or one record of it (``record_id``), was refused; ``code`` is a stable
    ``CB-…`` code such as this module's refusals or a validation issue's."""

    code: str
    record_id: str | None = None
    field: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"code": self.code, "field": self.field, "record_id": self.record_id}


@dataclass(frozen=True)
class Receipt:
    """The receiver's signed acknowledgement. ``accepted``: the package was applied (``applied``
    records; a record skipped — e.g. an older version than held — has a reason). ``rejected``:
    nothing was applied, and at least one reason says why."""

    package_id: str
    package_digest: str
    origin: str
    receiver: str
    stream: str
    sequence: int
    status: ReceiptStatus
    reasons: tuple[RejectReason, ...]
    applied: int
    received_at: datetime
    key_id: str
    signature: bytes = b""
    format: str = RECEIPT_FORMAT

    def as_dict(self) -> dict[str, Any]:
        return {
            "applied": self.applied,
            "format": self.format,
            "key_id": self.key_id,
            "origin": self.origin,
            "package_digest": self.package_digest,
            "package_id": self.package_id,
            "reasons": [r.as_dict() for r in self.reasons],
            "received_at": self.received_at,
            "receiver": self.receiver,
            "sequence": self.sequence,
            "status": self.status.value,
            "stream": self.stream,
        }

    def signed_bytes(self) -> bytes:
        return canonical_json(self.as_dict())

    @property
    def digest(self) -> str:
        return sm3_hex(self.signed_bytes())


def build_receipt(
    package: Package,
    *,
    status: ReceiptStatus,
    applied: int,
    key: SigningKey,
    reasons: Sequence[RejectReason] = (),
    key_id: str | None = None,
    received_at: datetime | None = None,
) -> Receipt:
    """The receiver's receipt for ``package`` (whose header may be unverified: a receipt that
    rejects a bad signature names the package it was given)."""
    if status is ReceiptStatus.REJECTED and (applied or not reasons):
        raise ValueError("a rejection applies nothing and gives at least one reason")
    if not 0 <= applied <= package.header.count:
        raise ValueError("applied counts records of the package")
    h = package.header
    unsigned = Receipt(
        package_id=package.package_id,
        package_digest=package.digest,
        origin=h.origin,
        receiver=h.receiver,
        stream=h.stream,
        sequence=h.sequence,
        status=status,
        reasons=tuple(reasons),
        applied=applied,
        received_at=_utc(received_at or utc_now()),
        key_id=key_id or key.public_key.fingerprint,
    )
    return replace(unsigned, signature=sign(key, unsigned.signed_bytes()))


def encode_receipt(receipt: Receipt) -> bytes:
    return _envelope("receipt", receipt.as_dict(), receipt.signature) + b"\n"


def decode_receipt(data: bytes, *, max_bytes: int = DEFAULT_RECEIPT_MAX_BYTES) -> Receipt:
    if len(data) > max_bytes:
        raise _too_large(len(data), max_bytes)
    line, newline, rest = data.partition(b"\n")
    if not newline or rest:
        raise _format_error("回执应为一行")
    fields, signature = _open_envelope(line, "receipt")
    return _receipt(fields, signature)


def verify_receipt(
    receipt: Receipt,
    *,
    keys_of_receiver: Mapping[str, Mapping[str, Sm2PublicKey]],
    package: Package | None = None,
    now: datetime | None = None,
    max_skew: timedelta | None = None,
) -> None:
    """Raise the refusal for the first thing wrong with ``receipt``: signer unknown, signature,
    (with ``package``) a receipt for another package, (with ``now`` and ``max_skew``) clock skew."""
    _check_signature(
        keys_of_receiver,
        receipt.receiver,
        receipt.key_id,
        receipt.signed_bytes(),
        receipt.signature,
    )
    if package is not None and (
        receipt.package_digest != package.digest or receipt.package_id != package.package_id
    ):
        raise _refusal(DigestMismatch, "receipt_digest", "回执所指的数据包不是本包")
    if now is not None and max_skew is not None:
        _check_skew(receipt.received_at, now, max_skew)


# --- The exchange log's hash chain --------------------------------------------------------------


class LogKind(StrEnum):
    PACKAGE = "package"
    RECEIPT = "receipt"


class Direction(StrEnum):
    SENT = "sent"
    RECEIVED = "received"


@dataclass(frozen=True)
class LogEntry:
    """One line of the exchange log: a package or receipt (by digest) sent to or received from
    ``peer``. Both nodes log both, so each holds evidence of what the other signed."""

    kind: LogKind
    digest: str
    direction: Direction
    peer: str
    stream: str
    sequence: int
    at: datetime

    def as_dict(self) -> dict[str, Any]:
        return {
            "at": self.at,
            "digest": self.digest,
            "direction": self.direction.value,
            "kind": self.kind.value,
            "peer": self.peer,
            "sequence": self.sequence,
            "stream": self.stream,
        }


def chain_entry(prev_hash: str, entry: LogEntry) -> str:
    """``SM3(prev_hash ‖ "\\n" ‖ canonical_json(entry))`` hex: changing, dropping or reordering a
    logged entry breaks every later link (X-Road's message log; the audit trail's chain too)."""
    if not _HEX64.fullmatch(prev_hash):
        raise ValueError("a chain hash is 64 lower-case hex digits")
    return sm3_hex(prev_hash.encode("ascii") + b"\n" + canonical_json(entry.as_dict()))


@dataclass(frozen=True)
class ChainBreak:
    index: int
    """Position (0-based) of the first entry whose stored hash does not follow."""
    expected: str
    found: str


def verify_chain(
    entries: Iterable[tuple[LogEntry, str]], *, genesis: str = GENESIS
) -> ChainBreak | None:
    """The first broken link of ``(entry, stored hash)`` pairs in log order, or None. Each link is
    checked against the previous *stored* hash, so an altered entry is named itself rather than
    every entry after it; a deleted one is named by its successor."""
    prev = genesis
    for index, (entry, stored) in enumerate(entries):
        expected = chain_entry(prev, entry)
        if stored != expected:
            return ChainBreak(index, expected, stored)
        prev = stored
    return None


# --- Reconciliation (对账) ------------------------------------------------------------------------


@dataclass(frozen=True)
class ReconciliationSummary:
    """What each side sends for one peer and stream: equal summaries mean equal holdings."""

    count: int
    digest: str


def reconciliation_digest(
    pairs: Iterable[tuple[str, int]], *, presorted: bool = False
) -> ReconciliationSummary:
    """Count and SM3 hex over ``canonical_json([id, version]) + "\\n"`` for each pair in id order
    (code point order). ``presorted=True`` streams an ordered query's rows in constant memory and
    refuses a disorder; otherwise the pairs are sorted here, which suits a day's range, not a
    whole dataset — large sides reconcile per id range and drill into the ranges that differ."""
    ordered = pairs if presorted else sorted(pairs)
    h = sm3_new()
    count, prev = 0, None
    for record_id, version in ordered:
        if prev is not None and record_id <= prev:
            raise ValueError(f"record ids must be unique and ascending, got {record_id!r}")
        h.update(canonical_json([record_id, version]) + b"\n")
        count, prev = count + 1, record_id
    digest: bytes = h.digest()
    return ReconciliationSummary(count, digest.hex())


@dataclass(frozen=True)
class ReconciliationDiff:
    missing: tuple[str, ...]
    """Held by the remote side (the origin) and not here: to be re-sent."""
    extra: tuple[str, ...]
    """Held here and not by the origin: withdrawn there, or never sent by it."""
    differing: tuple[tuple[str, int, int], ...]
    """``(id, local version, remote version)``."""

    @property
    def matches(self) -> bool:
        return not (self.missing or self.extra or self.differing)


def compare(
    local: Iterable[tuple[str, int]], remote: Iterable[tuple[str, int]]
) -> ReconciliationDiff:
    """Name the differences between two sides' (id, version) lists, both held in memory: for a
    range whose summaries differ, not for a whole dataset."""
    ours, theirs = _unique(local), _unique(remote)
    return ReconciliationDiff(
        missing=tuple(sorted(theirs.keys() - ours.keys())),
        extra=tuple(sorted(ours.keys() - theirs.keys())),
        differing=tuple(
            (i, ours[i], theirs[i])
            for i in sorted(ours.keys() & theirs.keys())
            if ours[i] != theirs[i]
        ),
    )


# --- Internals ----------------------------------------------------------------------------------


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _utc(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        raise ValueError("a naive datetime names no instant")
    return moment.astimezone(UTC)


def _unique(pairs: Iterable[tuple[str, int]]) -> dict[str, int]:
    held: dict[str, int] = {}
    for record_id, version in pairs:
        if record_id in held:
            raise ValueError(f"record {record_id!r} listed twice")
        held[record_id] = version
    return held


def _too_large(size: int, limit: int) -> PackageTooLarge:
    return _refusal(
        PackageTooLarge,
        "too_large",
        "数据包 {size} 字节，超过上限 {limit} 字节",
        size=size,
        limit=limit,
    )


def _check_signature(
    registry: Mapping[str, Mapping[str, Sm2PublicKey]],
    node: str,
    key_id: str,
    signed: bytes,
    signature: bytes,
) -> None:
    keys = registry.get(node)
    if keys is None:
        raise _refusal(OriginUnknown, "origin_unknown", "节点 {node} 未登记", node=node)
    public_key = keys.get(key_id)
    if public_key is None:
        raise _refusal(
            OriginUnknown,
            "key_unknown",
            "节点 {node} 没有登记密钥 {key_id}",
            node=node,
            key_id=key_id,
        )
    if not sm2_verify(public_key, signed, signature):
        raise _refusal(SignatureInvalid, "signature", "节点 {node} 的签名无法验证", node=node)


def _check_skew(moment: datetime, now: datetime, max_skew: timedelta) -> None:
    skew = abs(_utc(now) - moment)
    if skew > max_skew:
        raise _refusal(
            ClockSkew,
            "skew",
            "时间相差 {seconds} 秒，超过允许的 {limit} 秒",
            seconds=int(skew.total_seconds()),
            limit=int(max_skew.total_seconds()),
        )


def _canonical_object(line: bytes, what: str) -> dict[str, Any]:
    try:
        value = json.loads(line)
        canonical = isinstance(value, dict) and canonical_json(value) == line
    except (ValueError, TypeError, RecursionError):
        raise _format_error(f"{what}不是 JSON 对象") from None
    if not canonical:
        raise _format_error(f"{what}不是规范 JSON 对象")
    assert isinstance(value, dict)
    return value


def _open_envelope(line: bytes, kind: str) -> tuple[dict[str, Any], bytes]:
    envelope = _canonical_object(line, "包头行" if kind == "header" else "回执")
    content, sig = envelope.get(kind), envelope.get("signature")
    if set(envelope) != {kind, "signature"} or not isinstance(content, dict):
        raise _format_error(f"缺少 {kind} 或 signature")
    if (
        not isinstance(sig, dict)
        or set(sig) != {"algorithm", "value"}
        or sig["algorithm"] != SIGNATURE_ALGORITHM
        or not isinstance(sig["value"], str)
    ):
        raise _format_error("签名不是 SM2-SM3")
    try:
        signature = base64.b64decode(sig["value"], validate=True)
    except binascii.Error:
        raise _format_error("签名不是 base64") from None
    return content, signature


class _Fields:
    """Typed reads of a parsed JSON object, each refusing with the field's name."""

    _NAMED: ClassVar[dict[str, re.Pattern[str]]] = {"name": _NAME, "hex": _HEX64}

    def __init__(self, content: dict[str, Any], expected: set[str]) -> None:
        if set(content) != expected:
            names = ", ".join(sorted(set(content) ^ expected))
            raise _format_error(f"字段不符：{names}")
        self._content = content

    def text(self, name: str, pattern: str | None = None) -> str:
        value = self._content[name]
        if not isinstance(value, str) or (
            pattern is not None and not self._NAMED[pattern].fullmatch(value)
        ):
            raise _format_error(f"字段 {name} 无效")
        return value

    def count(self, name: str, minimum: int = 0) -> int:
        value = self._content[name]
        if not _is_int(value) or value < minimum:
            raise _format_error(f"字段 {name} 无效")
        assert isinstance(value, int)
        return value

    def moment(self, name: str) -> datetime:
        text = self.text(name)
        try:
            value = datetime.fromisoformat(text)
        except ValueError:
            raise _format_error(f"字段 {name} 不是时间") from None
        if value.tzinfo is None:
            raise _format_error(f"字段 {name} 缺少时区")
        return value.astimezone(UTC)


_HEADER_FIELDS = {
    "body_bytes",
    "body_digest",
    "count",
    "created_at",
    "format",
    "key_id",
    "origin",
    "receiver",
    "sequence",
    "stream",
}


def _header(content: dict[str, Any]) -> PackageHeader:
    f = _Fields(content, _HEADER_FIELDS)
    if f.text("format") != PACKAGE_FORMAT:
        raise _format_error(f"不支持的格式 {content['format']}")
    return PackageHeader(
        origin=f.text("origin", "name"),
        receiver=f.text("receiver", "name"),
        stream=f.text("stream", "name"),
        sequence=f.count("sequence", 1),
        count=f.count("count"),
        body_digest=f.text("body_digest", "hex"),
        body_bytes=f.count("body_bytes"),
        created_at=f.moment("created_at"),
        key_id=f.text("key_id"),
    )


def _record(line: bytes, number: int) -> ExchangeRecord:
    content = _canonical_object(line, f"第 {number} 条记录")
    f = _Fields(content, {"data", "id", "operation", "origin", "version"})
    data = content["data"]
    try:
        return ExchangeRecord(
            id=f.text("id"),
            version=f.count("version", 1),
            origin=f.text("origin", "name"),
            operation=Operation(content["operation"]),
            data=data,
        )
    except ValueError:
        raise _format_error(f"第 {number} 条记录无效") from None


_RECEIPT_FIELDS = {
    "applied",
    "format",
    "key_id",
    "origin",
    "package_digest",
    "package_id",
    "reasons",
    "received_at",
    "receiver",
    "sequence",
    "status",
    "stream",
}


def _receipt(content: dict[str, Any], signature: bytes) -> Receipt:
    f = _Fields(content, _RECEIPT_FIELDS)
    if f.text("format") != RECEIPT_FORMAT:
        raise _format_error(f"不支持的格式 {content['format']}")
    try:
        status = ReceiptStatus(content["status"])
    except ValueError:
        raise _format_error("字段 status 无效") from None
    reasons = content["reasons"]
    if not isinstance(reasons, list):
        raise _format_error("字段 reasons 无效")
    return Receipt(
        package_id=f.text("package_id"),
        package_digest=f.text("package_digest", "hex"),
        origin=f.text("origin", "name"),
        receiver=f.text("receiver", "name"),
        stream=f.text("stream", "name"),
        sequence=f.count("sequence", 1),
        status=status,
        reasons=tuple(_reason(r) for r in reasons),
        applied=f.count("applied"),
        received_at=f.moment("received_at"),
        key_id=f.text("key_id"),
        signature=signature,
    )


def _reason(content: object) -> RejectReason:
    if not isinstance(content, dict):
        raise _format_error("回执原因无效")
    _Fields(content, {"code", "field", "record_id"})
    code, record_id, field = content["code"], content["record_id"], content["field"]
    if not isinstance(code, str) or not all(
        v is None or isinstance(v, str) for v in (record_id, field)
    ):
        raise _format_error("回执原因无效")
    return RejectReason(code, record_id, field)
