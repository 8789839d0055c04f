"""Providers and the batches they deliver."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from creditbridge.core.db import Base, BigId


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
    """One delivery of one dataset by one provider; (provider, batch_key) is its idempotency key."""

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
