"""The hash chain's rules, without I/O.

``hash = SM3(chained)`` in lower-case hex, where ``chained = prev_hash ‖ line``: ``prev_hash`` the
previous event's hash as 64 ASCII hex characters (:data:`GENESIS_HASH` for the first event) and
``line`` the canonical JSON (:func:`creditbridge.core.crypto.canonical_json`: sorted keys, no
spaces, UTF-8) of the whole event (version 3)::

    {"act": action, "at": "YYYY-MM-DD HH:MM:SS.ffffff" (UTC), "detail": {…}, "inst":
     actor_institution_id, "ip": …, "kind": actor_kind, "name": actor_name, "obj": object_id,
     "otype": object_type, "role": actor_role, "seq": sequence, "subj": subject_id,
     "uid": actor_id, "v": 3}

every key present (``null`` when empty). The store keeps ``chained`` itself — byte for byte what
was hashed — and generates its filter columns from it (:mod:`creditbridge.audit.models`), so
anyone with the rows can recompute the chain with any SM3 implementation, and ``audit verify``
(≥ 500 000 events/s) reads one text column per event and renders nothing.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from creditbridge.core.crypto import canonical_json
from creditbridge.core.crypto.digest import HASHLIB_SM3, sm3_new

GENESIS_HASH = "0" * 64
LINE_VERSION = 3

# 征信业管理条例 第十六条 and 等保 level 3 (GB/T 22239-2019 8.1.4.3) ask that access records be
# kept; the platform keeps the trail at least this long and refuses to purge anything younger.
RETENTION_DAYS = 180


@dataclass(frozen=True)
class EventFacts:
    """What an event says, before it is given its place in the chain."""

    occurred_at: datetime
    actor_kind: str
    actor_id: int | None
    actor_name: str
    actor_role: str | None
    actor_institution_id: int | None
    ip: str | None
    action: str
    object_type: str
    object_id: str | None
    subject_id: int | None
    detail: dict[str, Any]


def stamp(moment: datetime) -> str:
    """``occurred_at`` as the line writes it (and as SQLite stores it): UTC, microseconds."""
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")


def event_line(sequence: int, facts: EventFacts) -> str:
    """The event as the chain hashes it (see the module docstring)."""
    return canonical_json(
        {
            "v": LINE_VERSION,
            "seq": sequence,
            "at": stamp(facts.occurred_at),
            "kind": facts.actor_kind,
            "uid": facts.actor_id,
            "name": facts.actor_name,
            "role": facts.actor_role,
            "inst": facts.actor_institution_id,
            "ip": facts.ip,
            "act": facts.action,
            "otype": facts.object_type,
            "obj": facts.object_id,
            "subj": facts.subject_id,
            "detail": facts.detail,
        }
    ).decode()


def chain_hash(prev_hash: str, line: str) -> str:
    return sm3_hex_of(prev_hash + line)


def sm3_hex_of(chained: str) -> str:
    """``hash`` of an event whose stored ``chained`` text is given."""
    digest = sm3_new()
    digest.update(chained.encode("utf-8"))
    return str(digest.digest().hex())


class _HexSm3:
    """``cryptography``'s SM3 with hashlib's ``hexdigest``, for an OpenSSL without SM3."""

    __slots__ = ("_hash",)

    def __init__(self) -> None:
        self._hash = sm3_new()

    def update(self, data: bytes, /) -> None:
        self._hash.update(data)

    def hexdigest(self) -> str:
        return str(self._hash.digest().hex())


_hex_sm3_new: Any = sm3_new if HASHLIB_SM3 else _HexSm3


@dataclass(frozen=True)
class Break:
    """The first link that does not hold. ``kind``: ``hash`` (the body or hash was altered),
        ``prev_hash`` (the stored link to the previous event was altered), ``gap`` (events are missing
        before ``sequence``), ``start`` (the first event does not start where the head says),
        ``tail`` (events after ``sequence`` are missing: the head names a later one). An edited column
    shows as ``hash``: every column is hashed."""

    kind: str
    sequence: int
    position: int
    event_id: int | None = None
    expected: str | None = None
    found: str | None = None


class ChainVerifier:
    """Feeds chunks of ``(sequence, hash, chained)`` rows — ``chained`` as stored, as UTF-8
    bytes — in sequence order and stops at the first break. Kept to one tight loop because
    ``audit verify`` must reach 500 000 events/s: per event one comparison of the sequence, one
    prefix test for the link, one SM3 and one string comparison; the text arrives as the bytes
    that are hashed, so nothing is decoded or encoded on the way."""

    def __init__(self, *, first_sequence: int, first_prev_hash: str) -> None:
        self.expected_sequence = first_sequence
        self.prev = first_prev_hash
        self.position = 0
        self.broken: Break | None = None

    def feed(self, rows: Iterable[tuple[int, str, bytes]]) -> Break | None:
        if self.broken is not None:
            return self.broken
        new = _hex_sm3_new
        expected = self.expected_sequence
        prev = self.prev
        link = prev.encode()
        position = self.position
        for sequence, stored, chained in rows:
            if sequence != expected:
                kind = "start" if position == 0 else "gap"
                self.broken = Break(
                    kind, expected, position, expected=str(expected), found=str(sequence)
                )
                break
            if not chained.startswith(link):
                self.broken = Break(
                    "prev_hash",
                    sequence,
                    position,
                    expected=prev,
                    found=bytes(chained[:64]).decode(errors="replace"),
                )
                break
            digest = new()
            digest.update(chained)
            computed = digest.hexdigest()
            if computed != stored:
                self.broken = Break("hash", sequence, position, expected=computed, found=stored)
                break
            prev = stored
            link = stored.encode()
            expected += 1
            position += 1
        self.expected_sequence, self.prev, self.position = expected, prev, position
        return self.broken

    def finish(self, *, last_sequence: int, last_hash: str) -> Break | None:
        """Compare where the rows ended with the chain head."""
        if self.broken is not None:
            return self.broken
        ended_at = self.expected_sequence - 1
        if ended_at != last_sequence or self.prev != last_hash:
            self.broken = Break(
                "tail",
                ended_at + 1 if ended_at < last_sequence else ended_at,
                self.position,
                expected=f"{last_sequence}:{last_hash}",
                found=f"{ended_at}:{self.prev}",
            )
        return self.broken
