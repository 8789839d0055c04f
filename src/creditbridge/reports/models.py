"""Tables of reports: every issued report (the register the verification page reads), the
marks other modules put on records for reports (disputed, repaired), and the notices of PDFs the
worker made for the person who asked."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from creditbridge.core.db import Base, BigId


class ReportIssuance(Base):
    """One issued report (HTML or PDF). The file itself is not kept: its SM3 digest is, so an
    uploaded copy can be proved byte-for-byte identical to what was issued."""

    __tablename__ = "reports_issuance"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    report_no: Mapped[str] = mapped_column(String(40), unique=True)
    subject_id: Mapped[int] = mapped_column(ForeignKey("subject.id"), index=True)
    audience: Mapped[str] = mapped_column(String(16), doc="public | consented | owner")
    format: Mapped[str] = mapped_column(String(8), doc="html | pdf")
    purpose: Mapped[str | None] = mapped_column(String(32))
    consent_id: Mapped[int | None] = mapped_column(BigId)
    institution_id: Mapped[int | None] = mapped_column(BigId)
    actor_kind: Mapped[str] = mapped_column(String(16))
    actor_id: Mapped[int | None] = mapped_column(BigId)
    actor_name: Mapped[str] = mapped_column(String(200))
    node_code: Mapped[str] = mapped_column(String(12))
    issued_at: Mapped[datetime]
    rules_version: Mapped[str] = mapped_column(String(32))
    sections: Mapped[list[str]] = mapped_column(type_=Base.type_annotation_map[dict[str, Any]])
    content_digest: Mapped[str] = mapped_column(String(64), doc="SM3 of the signed content")
    file_digest: Mapped[str] = mapped_column(String(64), doc="SM3 of the exact bytes issued")
    file_size: Mapped[int]
    signature: Mapped[str] = mapped_column(Text, doc="base64 DER SM2 signature of the content")
    key_fingerprint: Mapped[str] = mapped_column(String(64))


class RecordFlag(Base):
    """A mark on one record version that reports must show: ``disputed`` (an objection, 异议, is
    open: 征信业管理条例 第二十五条) or ``repaired`` (信用修复 granted: publication stops).
    Written only through :func:`creditbridge.reports.service.set_record_flag`, which no workflow
    calls yet: the objection and credit-repair workflows are still to be built."""

    __tablename__ = "reports_record_flag"
    __table_args__ = (UniqueConstraint("record_id", "flag"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    record_id: Mapped[int] = mapped_column(ForeignKey("subject_record.id"), index=True)
    flag: Mapped[str] = mapped_column(String(16), doc="disputed | repaired")
    reference: Mapped[str | None] = mapped_column(String(64), doc="objection or repair case")
    set_at: Mapped[datetime]
    set_by: Mapped[str] = mapped_column(String(200))


class AggregateRun(Base):
    """One computation of the region/industry aggregates (on the analytics path, from a Parquet
    snapshot); pages, API and Excel read the latest. Cells under the disclosure threshold are
    already suppressed in ``tables``."""

    __tablename__ = "reports_aggregate_run"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    computed_at: Mapped[datetime]
    computed_by: Mapped[str] = mapped_column(String(200))
    enterprises: Mapped[int]
    tax_window: Mapped[str] = mapped_column(String(32), doc="months the tax bands sum over")
    duration_ms: Mapped[int]
    tables: Mapped[dict[str, Any]] = mapped_column(doc="dimension → list of cells")


class ReportNotice(Base):
    """A message (站内消息) to the user who asked the worker for a report PDF: ``ready`` with its
    download, or ``failed``. Written in the transaction that ends the request's run, so the
    notice and the outcome commit together; ``request_key``, minted when the run was queued and
    carried in its arguments, lets a run delivered twice find the notice it already wrote. (The
    run's id is the jobs layer's, which reports sits below.) No foreign key to the user: users
    are access's, and a notice outlives nothing it names."""

    __tablename__ = "reports_notice"
    __table_args__ = (Index("ix_reports_notice_user", "user_id", "created_at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    request_key: Mapped[str | None] = mapped_column(String(32), unique=True)
    user_id: Mapped[int] = mapped_column(BigId)
    kind: Mapped[str] = mapped_column(String(16), doc="ready | failed")
    subject_id: Mapped[int] = mapped_column(ForeignKey("subject.id"))
    report_no: Mapped[str | None] = mapped_column(String(40), doc="the PDF's, when ready")
    created_at: Mapped[datetime]
    read_at: Mapped[datetime | None]
