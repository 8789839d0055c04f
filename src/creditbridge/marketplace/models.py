"""Tables of the financing marketplace: products, demands, applications, loans and repayments,
notifications, and the whitelist with its subscriptions."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, String, text
from sqlalchemy.orm import Mapped, mapped_column

from creditbridge.core.db import Base, BigId

_JSON = Base.type_annotation_map[dict[str, Any]]


def _empty() -> list[Any]:
    return []


class Product(Base):
    """A financial product (金融产品) published by an institution after the operator's review:
    ranges (amount, rate, term) plus eligibility rules, as Fineract describes a loan product."""

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
    status: Mapped[str] = mapped_column(
        String(16), default="published", doc="pending_review | published | rejected | withdrawn"
    )
    regions: Mapped[list[str]] = mapped_column(
        type_=_JSON, default=_empty, doc="division codes (province/city/county); empty = anywhere"
    )
    industry_sections: Mapped[list[str]] = mapped_column(
        type_=_JSON, default=_empty, doc="GB/T 4754 sections; empty = any"
    )
    size_classes: Mapped[list[str]] = mapped_column(type_=_JSON, default=_empty)
    min_years: Mapped[int] = mapped_column(default=0, doc="years in business at least")
    min_grade: Mapped[str | None] = mapped_column(String(4), default=None)
    required_tags: Mapped[list[str]] = mapped_column(
        type_=_JSON, default=_empty, doc="high_tech | specialized"
    )
    consent_categories: Mapped[list[str]] = mapped_column(
        type_=_JSON, default=_empty, doc="catalog categories the institution reads under consent"
    )
    description: Mapped[str] = mapped_column(String(1000), default="")
    review_note: Mapped[str | None] = mapped_column(String(500), default=None)
    reviewed_by: Mapped[str | None] = mapped_column(String(200), default=None)
    reviewed_at: Mapped[datetime | None] = mapped_column(default=None)
    created_at: Mapped[datetime]


class Demand(Base):
    """A financing demand (融资需求) posted by an enterprise. ``status`` moves only through
    :func:`marketplace.domain.demand_transition`; ``tried_institutions`` keeps who has had it,
    so reassignment never goes back to an institution that let it lapse."""

    __tablename__ = "marketplace_demand"
    __table_args__ = (Index("ix_marketplace_demand_status", "status", "respond_by"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    subject_id: Mapped[int] = mapped_column(ForeignKey("subject.id"), index=True)
    amount_fen: Mapped[int] = mapped_column(BigId)
    term_months: Mapped[int]
    purpose: Mapped[str] = mapped_column(String(200))
    security_types: Mapped[list[str]] = mapped_column(type_=_JSON, default=_empty)
    urgency: Mapped[str] = mapped_column(String(16), default="normal")
    max_rate_bp: Mapped[int | None] = mapped_column(default=None)
    status: Mapped[str] = mapped_column(
        String(16), default="new", doc="new | dispatched | pool | claimed | escalated | closed"
    )
    assigned_institution_id: Mapped[int | None] = mapped_column(
        ForeignKey("access_institution.id"), default=None
    )
    claimed_institution_id: Mapped[int | None] = mapped_column(
        ForeignKey("access_institution.id"), default=None, index=True
    )
    tried_institutions: Mapped[list[int]] = mapped_column(type_=_JSON, default=_empty)
    respond_by: Mapped[date | None] = mapped_column(default=None)
    reassignments: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime]
    status_changed_at: Mapped[datetime]
    claimed_at: Mapped[datetime | None] = mapped_column(default=None)


class Application(Base):
    """One institution's handling of one enterprise's request for one product (申请).
    ``status`` moves only through :func:`marketplace.domain.transition`."""

    __tablename__ = "marketplace_application"
    __table_args__ = (Index("ix_marketplace_application_inst", "institution_id", "status"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    demand_id: Mapped[int | None] = mapped_column(ForeignKey("marketplace_demand.id"), index=True)
    subject_id: Mapped[int] = mapped_column(ForeignKey("subject.id"), index=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("marketplace_product.id"))
    institution_id: Mapped[int] = mapped_column(ForeignKey("access_institution.id"))
    consent_id: Mapped[int | None] = mapped_column(ForeignKey("consent_grant.id"))
    amount_fen: Mapped[int] = mapped_column(BigId)
    term_months: Mapped[int]
    channel: Mapped[str] = mapped_column(String(16), doc="apply | dispatch | grab")
    status: Mapped[str] = mapped_column(String(16), default="submitted")
    respond_by: Mapped[date | None]
    approved_amount_fen: Mapped[int | None] = mapped_column(BigId, default=None)
    approved_rate_bp: Mapped[int | None] = mapped_column(default=None)
    approved_term_months: Mapped[int | None] = mapped_column(default=None)
    reason: Mapped[str | None] = mapped_column(String(500), default=None)
    loan_id: Mapped[int | None] = mapped_column(BigId, default=None)
    created_at: Mapped[datetime]
    accepted_at: Mapped[datetime | None] = mapped_column(default=None)
    decided_at: Mapped[datetime | None] = mapped_column(default=None)
    status_changed_at: Mapped[datetime]


class Loan(Base):
    """A loan to a subject, made through the platform or reported from outside it.

    The flags are fixed at disbursement from the loan history the platform holds:
    ``first_loan_any_bank`` (首贷户: no earlier loan from any institution),
    ``first_loan_this_bank`` (本行首贷) and ``inclusive_micro`` (普惠型小微: credit line
    ≤ 1000万元 to a small or micro enterprise, 银保监办发〔2019〕48号)."""

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
    first_loan_any_bank: Mapped[bool] = mapped_column(default=False, server_default=text("false"))
    first_loan_this_bank: Mapped[bool] = mapped_column(default=False, server_default=text("false"))
    inclusive_micro: Mapped[bool] = mapped_column(default=False, server_default=text("false"))
    application_id: Mapped[int | None] = mapped_column(BigId, default=None)
    repaid_fen: Mapped[int] = mapped_column(BigId, default=0, server_default="0")
    created_at: Mapped[datetime]


class Repayment(Base):
    """A repayment or status event reported by the lender (API or upload)."""

    __tablename__ = "marketplace_repayment"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    loan_id: Mapped[int] = mapped_column(ForeignKey("marketplace_loan.id"), index=True)
    event: Mapped[str] = mapped_column(String(16), doc="repayment | overdue | repaid")
    amount_fen: Mapped[int] = mapped_column(BigId, default=0)
    event_date: Mapped[date]
    reported_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime]


class Notification(Base):
    """A message about a marketplace step to an enterprise, an institution or the operator
    (``recipient_id`` None), read by the recipient's notifications page; what leaves the node
    goes through the outbox (``delivery.service.emit``) in the same transaction."""

    __tablename__ = "marketplace_notification"
    __table_args__ = (
        Index("ix_marketplace_notification_recipient", "recipient_kind", "recipient_id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    recipient_kind: Mapped[str] = mapped_column(String(16), doc="subject | institution | operator")
    recipient_id: Mapped[int | None]
    event: Mapped[str] = mapped_column(String(48))
    message: Mapped[str] = mapped_column(String(500))
    demand_id: Mapped[int | None] = mapped_column(BigId, default=None)
    application_id: Mapped[int | None] = mapped_column(BigId, default=None)
    created_at: Mapped[datetime]


class WhitelistEntry(Base):
    """An enterprise on the way onto, or on, the whitelist (白名单), reviewed county → city →
    province (逐级把关)."""

    __tablename__ = "marketplace_whitelist_entry"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    subject_id: Mapped[int] = mapped_column(ForeignKey("subject.id"), index=True)
    status: Mapped[str] = mapped_column(
        String(16),
        default="proposed",
        doc="proposed | county_passed | city_passed | listed | rejected | removed",
    )
    grade: Mapped[str | None] = mapped_column(String(4))
    reasons: Mapped[list[str]] = mapped_column(type_=_JSON, default=_empty)
    note: Mapped[str | None] = mapped_column(String(500), default=None)
    proposed_at: Mapped[datetime]
    status_changed_at: Mapped[datetime]


class WhitelistSubscription(Base):
    """An institution that wants whitelist changes pushed to it."""

    __tablename__ = "marketplace_whitelist_subscription"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    institution_id: Mapped[int] = mapped_column(ForeignKey("access_institution.id"), unique=True)
    created_at: Mapped[datetime]


class ProductRevision(Base):
    """One step in a product's history (产品变更记录): its submission, an edit of its terms, a
    pause, a resumption or its withdrawal.

    An edit of a live product waits here (``pending_review``) while the approved terms stay on the
    product row, so enterprises keep seeing and applying to what the operator approved; approval
    copies ``changes`` onto the product and keeps what they replaced in ``previous``. Pauses,
    resumptions and withdrawals take effect at once (``applied``): they only stop or restart what
    was already approved, and a bank must be able to stop offering a product without waiting."""

    __tablename__ = "marketplace_product_revision"
    __table_args__ = (Index("ix_marketplace_product_revision_status", "status", "submitted_at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("marketplace_product.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16), doc="submit | edit | pause | resume | withdraw")
    status: Mapped[str] = mapped_column(
        String(16), doc="pending_review | approved | rejected | applied | superseded"
    )
    changes: Mapped[dict[str, Any]] = mapped_column(
        type_=_JSON, default=dict, doc="the fields the step sets, as ProductInput names them"
    )
    previous: Mapped[dict[str, Any]] = mapped_column(
        type_=_JSON, default=dict, doc="the values an approved edit replaced"
    )
    reason: Mapped[str | None] = mapped_column(String(500), default=None)
    submitted_by: Mapped[str] = mapped_column(String(200))
    submitted_at: Mapped[datetime]
    review_note: Mapped[str | None] = mapped_column(String(500), default=None)
    reviewed_by: Mapped[str | None] = mapped_column(String(200), default=None)
    reviewed_at: Mapped[datetime | None] = mapped_column(default=None)
