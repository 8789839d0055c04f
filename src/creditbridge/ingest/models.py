"""Providers, the batches they deliver, and each batch's reject report."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import Float, ForeignKey, Index, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from creditbridge.core.db import Base, BigId

# Columns added after the demo's bulk writer was written carry server defaults, so that writers
# naming only the original columns (demo generate, COPY) keep working.
_ZERO = text("0")


class Provider(Base):
    """A department or utility that owes datasets of the list (数据提供单位)."""

    __tablename__ = "ingest_provider"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(16), doc="department | utility")
    division_code: Mapped[str] = mapped_column(String(6), index=True)
    contact_name: Mapped[str | None] = mapped_column(String(100))
    contact_phone: Mapped[str | None] = mapped_column(String(32))
    created_at: Mapped[datetime]


class ProviderDataset(Base):
    """A dataset this provider owes under the list."""

    __tablename__ = "ingest_provider_dataset"
    __table_args__ = (UniqueConstraint("provider_id", "dataset_code"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    provider_id: Mapped[int] = mapped_column(ForeignKey("ingest_provider.id"), index=True)
    dataset_code: Mapped[str] = mapped_column(String(64), index=True)


class Batch(Base):
    """One delivery of one dataset by one provider; (provider, batch_key) is its idempotency key.

    The counts are the batch's outcome as first computed: a replay of the same key returns them
    unchanged. ``rows_accepted`` includes rows accepted with warnings (``rows_warned``) and rows
    recognised as unchanged (``rows_unchanged``), which are accepted but not stored again.
    """

    __tablename__ = "ingest_batch"
    __table_args__ = (UniqueConstraint("provider_id", "batch_key"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    provider_id: Mapped[int] = mapped_column(ForeignKey("ingest_provider.id"), index=True)
    batch_key: Mapped[str] = mapped_column(String(128))
    dataset_code: Mapped[str] = mapped_column(String(64), index=True)
    channel: Mapped[str] = mapped_column(String(16), doc="file | api | pull | demo")
    status: Mapped[str] = mapped_column(String(16), doc="applied | refused")
    received_at: Mapped[datetime] = mapped_column(index=True)
    rows_total: Mapped[int] = mapped_column(default=0)
    rows_accepted: Mapped[int] = mapped_column(default=0)
    rows_rejected: Mapped[int] = mapped_column(default=0)
    content_digest: Mapped[str] = mapped_column(String(64), doc="SM3 of what was delivered")
    rows_warned: Mapped[int] = mapped_column(default=0, server_default=_ZERO)
    rows_unchanged: Mapped[int] = mapped_column(default=0, server_default=_ZERO)
    rows_new: Mapped[int] = mapped_column(
        default=0, server_default=_ZERO, doc="records stored for a natural key never seen"
    )
    rows_updated: Mapped[int] = mapped_column(
        default=0, server_default=_ZERO, doc="new versions superseding an earlier one"
    )
    rows_withdrawn: Mapped[int] = mapped_column(default=0, server_default=_ZERO)
    subjects_created: Mapped[int] = mapped_column(default=0, server_default=_ZERO)
    reject_threshold: Mapped[float | None] = mapped_column(Float)
    filename: Mapped[str | None] = mapped_column(String(255))
    source_format: Mapped[str | None] = mapped_column(String(16), doc="csv | xlsx | jsonl | rows")
    encoding: Mapped[str | None] = mapped_column(String(32))
    notes: Mapped[list[str] | None] = mapped_column(
        type_=Base.type_annotation_map[dict[str, Any]], nullable=True
    )
    refusal_code: Mapped[str | None] = mapped_column(String(64))
    refusal_message: Mapped[str | None] = mapped_column(String(1000))
    submitted_by: Mapped[str | None] = mapped_column(String(200))


class Reject(Base):
    """One line of a batch's reject report: a problem with one field of one delivered row (or with
    the row or the file as a whole when ``field`` is empty). Warnings are kept too (``warning``):
    their rows were accepted."""

    __tablename__ = "ingest_reject"
    __table_args__ = (Index("ix_ingest_reject_batch_row", "batch_id", "row"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    batch_id: Mapped[int] = mapped_column(ForeignKey("ingest_batch.id"))
    row: Mapped[int] = mapped_column(doc="row number as the provider sees it; 0 = the whole file")
    field: Mapped[str] = mapped_column(String(64), default="")
    label: Mapped[str] = mapped_column(String(100), default="")
    value: Mapped[str] = mapped_column(Text, default="")
    code: Mapped[str] = mapped_column(String(64))
    message: Mapped[str] = mapped_column(String(1000))
    warning: Mapped[bool] = mapped_column(default=False)
    # The message as a key of the message tables with its parameters (issue 12), so the report
    # reads in English on an English page; NULL for lines stored before 0004 (told in Chinese).
    message_key: Mapped[str | None] = mapped_column(String(100))
    message_params: Mapped[dict[str, Any] | None] = mapped_column(
        type_=Base.type_annotation_map[dict[str, Any]], nullable=True
    )

    @property
    def key(self) -> str | None:
        """:attr:`message_key`, under the name a message explainer reads."""
        return self.message_key

    @property
    def params(self) -> dict[str, Any] | None:
        return self.message_params


# ---------------------------------------------------------------------------------------------
# Collection metrics (归集率): written by creditbridge.ingest.metrics from the analytics path,
# read by the collection dashboard. One row per month × dataset × city × provider; a month is
# recomputed whole (its rows are replaced), so the table only ever holds the latest computation.


class CollectionMetric(Base):
    """The collection figures of one provider's dataset in one city for one month.

    Counts, not ratios, so that any roll-up (dataset, city, province) is a plain sum.
    ``coverage_expected`` is NULL where the dataset is not coverage-measured (event datasets).
    """

    __tablename__ = "ingest_collection_metric"
    __table_args__ = (
        UniqueConstraint("month", "dataset_code", "city_code", "provider_id"),
        Index("ix_ingest_collection_metric_month_city", "month", "city_code"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    month: Mapped[str] = mapped_column(String(7), doc="YYYY-MM, the period the data are about")
    dataset_code: Mapped[str] = mapped_column(String(64))
    city_code: Mapped[str] = mapped_column(String(6))
    provider_id: Mapped[int] = mapped_column(ForeignKey("ingest_provider.id"), index=True)
    cadence: Mapped[str] = mapped_column(String(16), doc="periodic | event")
    deadline_date: Mapped[date]
    deliveries_due: Mapped[int] = mapped_column(doc="1 when a delivery is owed (or was made)")
    deliveries_made: Mapped[int] = mapped_column(doc="1 when an applied batch arrived by as-of")
    deliveries_on_time: Mapped[int] = mapped_column(doc="1 when it arrived by the deadline")
    first_received_date: Mapped[date | None]
    batches_applied: Mapped[int]
    batches_refused: Mapped[int]
    months_since_delivery: Mapped[int | None] = mapped_column(
        doc="months between this month and the newest month delivered; NULL = never"
    )
    coverage_expected: Mapped[int | None]
    coverage_covered: Mapped[int | None]
    records_total: Mapped[int]
    records_complete: Mapped[int]
    as_of_at: Mapped[datetime] = mapped_column(doc="batches received after this were not counted")
    computed_at: Mapped[datetime]


class CollectionBatch(Base):
    """A batch counted for a month's collection metrics: the drill-down's last level. A batch
    is about the newest month of its records (the month before it arrived when it has none)."""

    __tablename__ = "ingest_collection_batch"
    __table_args__ = (UniqueConstraint("month", "batch_id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    month: Mapped[str] = mapped_column(String(7))
    batch_id: Mapped[int] = mapped_column(ForeignKey("ingest_batch.id"), index=True)
    provider_id: Mapped[int] = mapped_column(ForeignKey("ingest_provider.id"))
    dataset_code: Mapped[str] = mapped_column(String(64))
