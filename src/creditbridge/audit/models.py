"""The audit trail's tables: the events and the one-row chain head that serializes appends.

An event is stored as the exact text its hash was taken over — ``chained`` = ``prev_hash ‖ line``
(:mod:`creditbridge.audit.domain`) — so ``audit verify`` reads one column and hashes it, with
nothing to render. The columns the audit admin filters on (time, actor, action, object, subject)
and ``prev_hash`` are **generated** from ``chained`` by the database (``GENERATED ALWAYS AS …
STORED``, indexed): they cannot be written on their own, so they always say what the hashed text
says, and editing the text itself breaks the chain at that event.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any, Final

import orjson
from sqlalchemy import BigInteger, Computed, Index, String, Text
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import Mapped, mapped_column
from sqlalchemy.schema import CreateColumn

from creditbridge.core.db import Base, BigId

_LINE: Final = "substr(chained, 65)"


def _sqlite(key: str) -> str:
    return f"json_extract({_LINE}, '$.{key}')"


def _pg_text(key: str) -> str:
    return f"(({_LINE})::jsonb ->> '{key}')"


def _pg_at() -> str:
    # make_timestamp() and timezone('UTC', timestamp) are immutable, as a generated column
    # needs; casting text to a timestamp is not (it depends on DateStyle).
    at = _pg_text("at")
    parts = ", ".join(
        f"substr({at}, {start}, {length})::int"
        for start, length in ((1, 4), (6, 2), (9, 2), (12, 2), (15, 2))
    )
    return f"timezone('UTC', make_timestamp({parts}, substr({at}, 18)::float8))"


# Column → (key in the line, integer?). The generated expressions are written for SQLite in the
# model (and so in the migration); PostgreSQL's are swapped in when the DDL is compiled.
_GENERATED: Final = {
    "occurred_at": ("at", False),
    "actor_kind": ("kind", False),
    "actor_id": ("uid", True),
    "actor_role": ("role", False),
    "actor_institution_id": ("inst", True),
    "action": ("act", False),
    "object_type": ("otype", False),
    "object_id": ("obj", False),
    "subject_id": ("subj", True),
}
_PG_EXPRESSIONS: Final = {"prev_hash": "substr(chained, 1, 64)"} | {
    column: (_pg_at() if key == "at" else f"({_pg_text(key)})::bigint" if whole else _pg_text(key))
    for column, (key, whole) in _GENERATED.items()
}


def _generated(column: str) -> Computed:
    return Computed(_sqlite(_GENERATED[column][0]), persisted=True)


@compiles(CreateColumn, "postgresql")
def _postgresql_generated(element: CreateColumn, compiler: Any, **kw: Any) -> str:
    """The audit event's generated columns in PostgreSQL's own JSON syntax."""
    column = element.element
    text: str = compiler.visit_create_column(element, **kw)
    table = getattr(column, "table", None)
    if column.computed is None or table is None or table.name != "audit_event":
        return text
    expression = _PG_EXPRESSIONS[column.name]
    return re.sub(
        r"GENERATED ALWAYS AS \(.*\) STORED",
        lambda _: f"GENERATED ALWAYS AS ({expression}) STORED",
        text,
        flags=re.S,
    )


class AuditEvent(Base):
    """One event: ``chained`` is exactly what was hashed (``hash = SM3(chained)``), the previous
    event's hash followed by the line; everything else but ``id``, ``sequence`` and ``hash`` is
    generated from it (see the module docstring)."""

    __tablename__ = "audit_event"
    __table_args__ = (
        Index("ix_audit_event_actor", "actor_kind", "actor_id"),
        Index("ix_audit_event_institution", "actor_institution_id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    sequence: Mapped[int] = mapped_column(BigInteger, unique=True)
    chained: Mapped[str] = mapped_column(Text)
    hash: Mapped[str] = mapped_column(String(64))
    prev_hash: Mapped[str] = mapped_column(
        String(64), Computed("substr(chained, 1, 64)", persisted=True)
    )
    occurred_at: Mapped[datetime] = mapped_column(_generated("occurred_at"), index=True)
    actor_kind: Mapped[str] = mapped_column(String(16), _generated("actor_kind"))
    actor_id: Mapped[int | None] = mapped_column(BigInteger, _generated("actor_id"))
    actor_role: Mapped[str | None] = mapped_column(String(32), _generated("actor_role"))
    actor_institution_id: Mapped[int | None] = mapped_column(
        BigInteger, _generated("actor_institution_id")
    )
    action: Mapped[str] = mapped_column(String(64), _generated("action"), index=True)
    object_type: Mapped[str] = mapped_column(String(64), _generated("object_type"))
    object_id: Mapped[str | None] = mapped_column(String(128), _generated("object_id"))
    subject_id: Mapped[int | None] = mapped_column(BigInteger, _generated("subject_id"), index=True)

    @property
    def line(self) -> str:
        """The event's own part of the hashed text (canonical JSON)."""
        return self.chained[64:]

    @property
    def facts(self) -> dict[str, Any]:
        parsed: dict[str, Any] = orjson.loads(self.line)
        return parsed

    @property
    def body(self) -> str:
        """What no filter column holds — actor's name, IP and detail — as canonical JSON."""
        from creditbridge.core.crypto import canonical_json

        facts = self.facts
        rest = {
            "actor_name": facts.get("name"),
            "detail": facts.get("detail"),
            "ip": facts.get("ip"),
        }
        return canonical_json(rest).decode()

    @property
    def content(self) -> dict[str, Any]:
        """The whole event as one mapping, read from the hashed text: what screens and exports
        show."""
        facts = self.facts
        return {
            "sequence": facts.get("seq"),
            "occurred_at": self.occurred_at.astimezone(UTC).isoformat().replace("+00:00", "Z"),
            "actor": {
                "kind": facts.get("kind"),
                "id": facts.get("uid"),
                "name": facts.get("name"),
                "role": facts.get("role"),
                "institution_id": facts.get("inst"),
            },
            "ip": facts.get("ip"),
            "action": facts.get("act"),
            "object_type": facts.get("otype"),
            "object_id": facts.get("obj"),
            "subject_id": facts.get("subj"),
            "detail": facts.get("detail"),
        }


class AuditChainHead(Base):
    """The last link of the chain (always the row with id 1).

    Appends lock it, which serializes concurrent writers so sequences stay gap-free; ``verify``
    compares the last event with it to detect a truncated tail. After a retention purge,
    ``first_sequence``/``first_prev_hash`` anchor where the remaining chain starts.
    """

    __tablename__ = "audit_chain_head"

    id: Mapped[int] = mapped_column(primary_key=True)
    last_sequence: Mapped[int] = mapped_column(BigInteger)
    last_hash: Mapped[str] = mapped_column(String(64))
    first_sequence: Mapped[int] = mapped_column(BigInteger)
    first_prev_hash: Mapped[str] = mapped_column(String(64))
    updated_at: Mapped[datetime]
