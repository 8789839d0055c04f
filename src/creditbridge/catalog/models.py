"""Tables of the shared-data list. A loaded version is never changed; a new file makes a new version."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from creditbridge.core.db import Base, BigId


class CatalogVersion(Base):
    __tablename__ = "catalog_version"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    version: Mapped[str] = mapped_column(String(32), unique=True)
    title: Mapped[str] = mapped_column(String(200))
    basis: Mapped[str] = mapped_column(String(200), doc="the policy text the list follows")
    effective_date: Mapped[date]
    loaded_at: Mapped[datetime]
    source_digest: Mapped[str] = mapped_column(String(64), doc="SM3 of the loaded file")
    is_current: Mapped[bool] = mapped_column(default=False)
    categories: Mapped[list[dict[str, str]]] = mapped_column(
        type_=Base.type_annotation_map[dict[str, Any]],
        default=list,
        doc="the file's categories in display order: [{code, zh, en}, ...] (a list: JSONB reorders keys)",
    )

    datasets: Mapped[list[CatalogDataset]] = relationship(
        back_populates="catalog_version", order_by="CatalogDataset.position", lazy="raise"
    )


class CatalogDataset(Base):
    """One item of the list (信息项), e.g. 行政处罚信息, as defined in one catalog version."""

    __tablename__ = "catalog_dataset"
    __table_args__ = (UniqueConstraint("catalog_version_id", "code"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    catalog_version_id: Mapped[int] = mapped_column(ForeignKey("catalog_version.id"), index=True)
    position: Mapped[int]
    code: Mapped[str] = mapped_column(String(64), index=True)
    name_zh: Mapped[str] = mapped_column(String(100))
    name_en: Mapped[str] = mapped_column(String(200))
    category: Mapped[str] = mapped_column(String(64))
    provider_kind: Mapped[str] = mapped_column(String(64))
    provider_name: Mapped[str] = mapped_column(String(100))
    update_frequency: Mapped[str] = mapped_column(String(16))
    subject_key: Mapped[str] = mapped_column(String(64))
    natural_key: Mapped[list[str]] = mapped_column(type_=Base.type_annotation_map[dict[str, Any]])
    disclosure_class: Mapped[str] = mapped_column(String(32))
    publication_period_class: Mapped[str | None] = mapped_column(String(16))
    negative: Mapped[bool] = mapped_column(default=False)
    description: Mapped[str] = mapped_column(String(1000), default="")
    definition: Mapped[dict[str, Any]] = mapped_column(
        doc="the dataset exactly as the file gave it"
    )

    catalog_version: Mapped[CatalogVersion] = relationship(back_populates="datasets", lazy="raise")
    fields: Mapped[list[CatalogField]] = relationship(
        back_populates="dataset", order_by="CatalogField.position", lazy="raise"
    )


class CatalogField(Base):
    __tablename__ = "catalog_field"
    __table_args__ = (UniqueConstraint("dataset_id", "code"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    dataset_id: Mapped[int] = mapped_column(ForeignKey("catalog_dataset.id"), index=True)
    position: Mapped[int]
    code: Mapped[str] = mapped_column(String(64))
    label_zh: Mapped[str] = mapped_column(String(100))
    label_en: Mapped[str] = mapped_column(String(200))
    type: Mapped[str] = mapped_column(String(16))
    unit: Mapped[str | None] = mapped_column(String(16))
    required: Mapped[bool]
    enum_values: Mapped[list[str] | None] = mapped_column(
        type_=Base.type_annotation_map[dict[str, Any]], nullable=True
    )
    classification_level: Mapped[int]
    masking: Mapped[str] = mapped_column(String(32))

    dataset: Mapped[CatalogDataset] = relationship(back_populates="fields", lazy="raise")
