"""Subjects and their versioned credit records with provenance."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from creditbridge.core.db import Base, BigId


class Subject(Base):
    """A credit subject, keyed by its unified social credit code (uscc)."""

    __tablename__ = "subject"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    uscc: Mapped[str] = mapped_column(String(18), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    entity_type: Mapped[str] = mapped_column(
        String(2), doc="USCC positions 1-2, e.g. 91 enterprise"
    )
    division_code: Mapped[str] = mapped_column(
        String(6), index=True, doc="current county-level division"
    )
    city_code: Mapped[str] = mapped_column(String(6), index=True)
    industry_code: Mapped[str | None] = mapped_column(
        String(4), index=True, doc="GB/T 4754 division"
    )
    industry_section: Mapped[str | None] = mapped_column(String(1), index=True)
    size_class: Mapped[str | None] = mapped_column(String(8), index=True)
    registration_date: Mapped[date | None]
    registered_capital_fen: Mapped[int | None] = mapped_column(BigId)
    legal_representative: Mapped[str | None] = mapped_column(String(100))
    status: Mapped[str] = mapped_column(String(16), default="active", doc="active | deregistered")
    needs_registration_check: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime]


class Record(Base):
    """One version of one credit record (信用记录). Versions are never overwritten: a change
    supersedes the earlier version, a withdrawal (撤销) marks it withdrawn."""

    __tablename__ = "subject_record"
    __table_args__ = (
        Index("ix_subject_record_subject_dataset", "subject_id", "dataset_code"),
        Index("ix_subject_record_natural", "dataset_code", "natural_key", "version", unique=True),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    subject_id: Mapped[int] = mapped_column(ForeignKey("subject.id"))
    dataset_code: Mapped[str] = mapped_column(String(64))
    natural_key: Mapped[str] = mapped_column(String(200))
    version: Mapped[int] = mapped_column(default=1)
    status: Mapped[str] = mapped_column(
        String(16), default="current", doc="current | superseded | withdrawn"
    )
    event_date: Mapped[date | None] = mapped_column(
        doc="the date the record is about, for the timeline"
    )
    data: Mapped[dict[str, Any]]
    digest: Mapped[str] = mapped_column(String(64), doc="SM3 of the canonical JSON of data")
    provider_id: Mapped[int] = mapped_column(ForeignKey("ingest_provider.id"))
    batch_id: Mapped[int] = mapped_column(ForeignKey("ingest_batch.id"), index=True)
    source_row: Mapped[int]
    received_at: Mapped[datetime]
    superseded_at: Mapped[datetime | None]
    source_fingerprint: Mapped[str | None] = mapped_column(
        String(32),
        doc="fingerprint of the delivered cells this version came from (clean rows only): a "
        "re-delivered identical row is recognised by it without being validated again",
    )
