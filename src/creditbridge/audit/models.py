"""The audit trail's tables: the events and the one-row chain head that serializes appends."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import orjson
from sqlalchemy import BigInteger, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from creditbridge.core.db import Base, BigId


class AuditEvent(Base):
    """One event. Every column except ``id`` is hashed (:mod:`creditbridge.audit.domain`):
    ``hash = SM3(prev_hash ‖ line)``, ``line`` being the columns written in one fixed form. The
    columns the audit admin filters on are plain indexed columns; ``body`` is the canonical JSON
    of the rest (actor's name, IP, detail)."""

    __tablename__ = "audit_event"
    __table_args__ = (
        Index("ix_audit_event_actor", "actor_kind", "actor_id"),
        Index("ix_audit_event_institution", "actor_institution_id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    sequence: Mapped[int] = mapped_column(BigInteger, unique=True)
    occurred_at: Mapped[datetime] = mapped_column(index=True)
    actor_kind: Mapped[str] = mapped_column(String(16))
    actor_id: Mapped[int | None] = mapped_column(BigInteger)
    actor_role: Mapped[str | None] = mapped_column(String(32))
    actor_institution_id: Mapped[int | None] = mapped_column(BigInteger)
    action: Mapped[str] = mapped_column(String(64), index=True)
    object_type: Mapped[str] = mapped_column(String(64))
    object_id: Mapped[str | None] = mapped_column(String(128))
    subject_id: Mapped[int | None] = mapped_column(BigInteger, index=True)
    body: Mapped[str] = mapped_column(Text)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))

    @property
    def content(self) -> dict[str, Any]:
        """The whole event as one mapping: what screens and exports show."""
        rest: dict[str, Any] = orjson.loads(self.body)
        return {
            "sequence": self.sequence,
            "occurred_at": self.occurred_at.astimezone(UTC).isoformat().replace("+00:00", "Z"),
            "actor": {
                "kind": self.actor_kind,
                "id": self.actor_id,
                "name": rest.get("actor_name"),
                "role": self.actor_role,
                "institution_id": self.actor_institution_id,
            },
            "ip": rest.get("ip"),
            "action": self.action,
            "object_type": self.object_type,
            "object_id": self.object_id,
            "subject_id": self.subject_id,
            "detail": rest.get("detail"),
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
