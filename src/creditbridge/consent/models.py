"""Tables of consent: the artefacts, the access log, notifications to both sides."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from creditbridge.core.db import Base, BigId


class ConsentGrant(Base):
    """One consent artefact (授权书), modelled on the account-aggregator ConsentDetail: who
    (subject → institution), why (purpose), what (categories, data range), until when (validity)
    and how often (max uses); ``status`` moves only through :func:`consent.domain.transition`."""

    __tablename__ = "consent_grant"
    __table_args__ = (
        Index("ix_consent_grant_pair", "institution_id", "subject_id", "status"),
        Index("ix_consent_grant_subject", "subject_id", "status"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    reference: Mapped[str] = mapped_column(String(32), unique=True, doc="public id on receipts")
    subject_id: Mapped[int] = mapped_column(ForeignKey("subject.id"))
    institution_id: Mapped[int] = mapped_column(ForeignKey("access_institution.id"))
    purpose: Mapped[str] = mapped_column(String(32))
    categories: Mapped[list[str]] = mapped_column(type_=Base.type_annotation_map[dict[str, Any]])
    data_from: Mapped[date | None]
    data_to: Mapped[date | None]
    valid_from: Mapped[datetime]
    valid_until: Mapped[datetime]
    max_uses: Mapped[int]
    uses: Mapped[int] = mapped_column(default=0)
    status: Mapped[str] = mapped_column(String(16), default="requested")
    note: Mapped[str] = mapped_column(String(500), default="")
    requested_by: Mapped[str] = mapped_column(String(200))
    requested_at: Mapped[datetime]
    decided_by: Mapped[str | None] = mapped_column(String(200))
    decided_at: Mapped[datetime | None]
    status_changed_at: Mapped[datetime]
    status_reason: Mapped[str | None] = mapped_column(String(500))
    last_used_at: Mapped[datetime | None]


class AccessLogEntry(Base):
    """One read of an enterprise's data by an institution (查询记录): who, when, which datasets,
    under which consent and purpose. The enterprise sees these; 征信业管理条例 第十八、二十条 tie
    every query to a consent and an agreed purpose."""

    __tablename__ = "consent_access_log"
    __table_args__ = (Index("ix_consent_access_log_subject", "subject_id", "read_at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    subject_id: Mapped[int] = mapped_column(ForeignKey("subject.id"))
    institution_id: Mapped[int | None] = mapped_column(
        ForeignKey("access_institution.id"), index=True
    )
    consent_id: Mapped[int | None] = mapped_column(ForeignKey("consent_grant.id"), index=True)
    actor_kind: Mapped[str] = mapped_column(String(16))
    actor_id: Mapped[int | None] = mapped_column(BigId)
    actor_name: Mapped[str] = mapped_column(String(200))
    purpose: Mapped[str | None] = mapped_column(String(32))
    datasets: Mapped[list[str]] = mapped_column(type_=Base.type_annotation_map[dict[str, Any]])
    record_count: Mapped[int]
    audit_sequence: Mapped[int] = mapped_column(doc="the audit event of this read")
    read_at: Mapped[datetime]


class ConsentNotification(Base):
    """A message to one side of a consent about a move of it, listed on that side's pages."""

    __tablename__ = "consent_notification"
    __table_args__ = (Index("ix_consent_notification_recipient", "recipient_kind", "recipient_id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    recipient_kind: Mapped[str] = mapped_column(String(16), doc="subject | institution")
    recipient_id: Mapped[int]
    consent_id: Mapped[int] = mapped_column(ForeignKey("consent_grant.id"), index=True)
    event: Mapped[str] = mapped_column(String(32))
    message: Mapped[str] = mapped_column(String(500))
    created_at: Mapped[datetime]
    read_at: Mapped[datetime | None]
