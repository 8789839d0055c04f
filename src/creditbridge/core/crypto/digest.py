"""SM3 digests, HMAC-SM3, and the canonical JSON that provenance digests are taken over.

SM3 (GB/T 32905-2016) comes from the stdlib ``hashlib`` when the OpenSSL it was built against
offers it, which is the fast path; whether it does depends on how OpenSSL was built, so it is probed
once at import with the standard's own example and otherwise ``cryptography``'s SM3 is used.

Canonical JSON (version 1) — what :func:`canonical_json` writes, so that another implementation
can reproduce a digest:

* UTF-8, no insignificant whitespace, non-ASCII characters written as themselves; ``"``, ``\\`` and
  control characters below U+0020 escaped (``\\n``, ``\\t``…, otherwise ``\\u00XX``).
* Object keys are strings, sorted by code point, at every depth; tuples are arrays.
* Integers in decimal, within the signed/unsigned 64-bit range. Floats in their shortest
  round-trip form (``0.1``, ``1.0``, ``1e+16``, ``1e-7``); NaN and ±Infinity are refused.
  Money is never a float (integer fen or Decimal), so floats are rare in records.
* ``Decimal`` → a JSON *string* of its exact value in plain notation with trailing fractional zeros
  removed (``Decimal("1.50")`` → ``"1.5"``, ``Decimal("1E+3")`` → ``"1000"``, ``-0`` → ``"0"``), so
  that a value read back from a NUMERIC(18,2) column digests like the one that was written.
* ``datetime`` must be timezone-aware → RFC 3339 in UTC with ``Z`` (``2024-05-01T08:00:00Z``,
  microseconds only when non-zero); a naive datetime is refused because it names no instant.
  ``date`` → ``YYYY-MM-DD``; ``time`` → ``HH:MM:SS[.ffffff]``.
* ``UUID`` → its hyphenated lower-case string; ``Enum`` → its value; dataclasses → objects.
* Anything else (bytes, sets, NumPy scalars, non-string keys) raises ``TypeError``: convert first.

This equals ``json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False)`` for
strings, integers, booleans, null, lists and dicts (a Hypothesis test holds us to it). It is not
RFC 8785 (JCS), whose number format and UTF-16 key order differ. We use ``orjson`` because the demo
generator digests millions of records: it serialises a flat record ~15× faster than ``json.dumps``,
which leaves SM3 and the Decimal/date conversions as most of the cost.
"""

from __future__ import annotations

import hashlib
import hmac
import math
from collections.abc import Callable
from dataclasses import fields, is_dataclass
from datetime import UTC, date, datetime, time
from decimal import Decimal
from typing import Any
from uuid import UUID

import orjson
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives import hmac as crypto_hmac

# GB/T 32905-2016 Appendix A, example 1: SM3("abc").
_ABC_DIGEST = bytes.fromhex("66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0")


def _hashlib_has_sm3() -> bool:
    try:
        return hashlib.new("sm3", b"abc").digest() == _ABC_DIGEST
    except ValueError:
        return False


HASHLIB_SM3 = _hashlib_has_sm3()


class _CryptographySm3:
    """hashlib-shaped wrapper, so callers can feed data in pieces whichever backend is in use."""

    __slots__ = ("_hash",)

    def __init__(self) -> None:
        self._hash = hashes.Hash(hashes.SM3())

    def update(self, data: bytes, /) -> None:
        self._hash.update(data)

    def digest(self) -> bytes:
        return self._hash.finalize()


def _make_sm3_new() -> Callable[[], Any]:
    if HASHLIB_SM3:
        # Copying a prepared context skips OpenSSL's by-name algorithm lookup on every call.
        template = hashlib.new("sm3")
        return template.copy
    return _CryptographySm3


sm3_new: Callable[[], Any] = _make_sm3_new()
"""A fresh SM3 context with ``update(bytes)`` and ``digest()``."""


def sm3_digest(data: bytes) -> bytes:
    h = sm3_new()
    h.update(data)
    digest: bytes = h.digest()
    return digest


def hmac_sm3(key: bytes, data: bytes) -> bytes:
    """HMAC (GB/T 15852.2-2012, the same construction as RFC 2104) with SM3."""
    if HASHLIB_SM3:
        return hmac.digest(key, data, "sm3")
    mac = crypto_hmac.HMAC(key, hashes.SM3())
    mac.update(data)
    return mac.finalize()


def constant_time_equal(a: bytes, b: bytes) -> bool:
    """Compare MACs, tokens or digests without leaking where they first differ."""
    return hmac.compare_digest(a, b)


# orjson writes dataclass fields in declaration order even with OPT_SORT_KEYS, so they come to
# _default and go back as dicts, which it sorts.
_OPTIONS = orjson.OPT_SORT_KEYS | orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS


def _decimal_text(value: Decimal) -> str:
    if not value.is_finite():
        raise ValueError(f"Decimal {value} has no canonical JSON form")
    text = str(value)
    if "E" in text:
        # format(..., "f") is exact; Decimal.normalize() would round to the context precision.
        text = format(value, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text == "-0" else text


def _utc_text(value: datetime) -> orjson.Fragment:
    if value.tzinfo is not UTC:
        offset = value.utcoffset()
        if offset is None:
            raise ValueError(f"naive datetime {value.isoformat()} names no instant; attach a tz")
        value = (value - offset).replace(tzinfo=UTC)
    # orjson formats the datetime in Rust, several times faster than isoformat() here.
    return orjson.Fragment(orjson.dumps(value, option=orjson.OPT_UTC_Z))


def _default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return _decimal_text(value)
    if isinstance(value, datetime):
        return _utc_text(value)
    if isinstance(value, date | time):
        return value.isoformat()
    if is_dataclass(value) and not isinstance(value, type):
        return {f.name: getattr(value, f.name) for f in fields(value)}
    raise TypeError(f"{type(value).__name__} has no canonical JSON form; convert it first")


_LEAVES = frozenset({str, int, bool, type(None), Decimal, date, datetime, time, UUID})


def _has_non_finite_float(obj: Any) -> bool:
    pending = [obj]
    while pending:
        node = pending.pop()
        if isinstance(node, dict):
            values: Any = node.values()
        elif isinstance(node, list | tuple):
            values = node
        elif is_dataclass(node):
            values = [getattr(node, f.name) for f in fields(node)]
        else:
            continue
        # Set-of-types first: records are mostly flat strings and numbers, and this stays in C.
        kinds = set(map(type, values))
        if float in kinds:
            if not all(math.isfinite(v) for v in values if type(v) is float):
                return True
            kinds.discard(float)
        if not kinds <= _LEAVES:
            pending.extend(v for v in values if type(v) not in _LEAVES and type(v) is not float)
    return False


def canonical_json(obj: Any) -> bytes:
    """Serialise ``obj`` to canonical JSON (see the module docstring for the exact form)."""
    try:
        out = orjson.dumps(obj, default=_default, option=_OPTIONS)
    except orjson.JSONEncodeError as exc:
        raise TypeError(str(exc.__cause__ or exc)) from exc
    # orjson writes NaN and Infinity as null, which would make them digest like None; the output
    # scan is cheap, and the walk runs only for the records that contain a null at all.
    if b"null" in out and _has_non_finite_float(obj):
        raise ValueError("NaN and Infinity have no canonical JSON form")
    return out
