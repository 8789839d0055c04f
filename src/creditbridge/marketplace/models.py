"""Products institutions offer and loans made to subjects."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from creditbridge.core.db import Base, BigId


class Product(Base):
    """A financial product (金融产品) published by an institution."""

    __tablename__ = "marketplace_product"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    institution_id: Mapped[int] = mapped_column(ForeignKey("access_institution.id"), index=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    product_type: Mapped[str] = mapped_column(
        String(32), doc="e.g. credit_loan, 税融通 as tax_finance"
    )
    security_type: Mapped[str] = mapped_column(
        String(16), doc="credit | guarantee | mortgage | pledge"
    )
    min_amount_fen: Mapped[int] = mapped_column(BigId)
    max_amount_fen: Mapped[int] = mapped_column(BigId)
    min_rate_bp: Mapped[int] = mapped_column(doc="annual rate in basis points")
    max_rate_bp: Mapped[int]
    min_term_months: Mapped[int]
    max_term_months: Mapped[int]
    status: Mapped[str] = mapped_column(String(16), default="published")
    created_at: Mapped[datetime]


class Loan(Base):
    """A loan to a subject, made through the platform or reported from outside it."""

    __tablename__ = "marketplace_loan"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    subject_id: Mapped[int] = mapped_column(ForeignKey("subject.id"), index=True)
    institution_id: Mapped[int] = mapped_column(ForeignKey("access_institution.id"), index=True)
    product_id: Mapped[int | None] = mapped_column(ForeignKey("marketplace_product.id"))
    amount_fen: Mapped[int] = mapped_column(BigId)
    credit_line_fen: Mapped[int] = mapped_column(BigId)
    rate_bp: Mapped[int]
    term_months: Mapped[int]
    security_type: Mapped[str] = mapped_column(String(16))
    disbursement_date: Mapped[date] = mapped_column(index=True)
    maturity_date: Mapped[date]
    status: Mapped[str] = mapped_column(String(16), doc="current | repaid | overdue | defaulted")
    via_platform: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime]
