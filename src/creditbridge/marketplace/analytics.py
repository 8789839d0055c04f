"""Lending outcomes (融资成效): one GROUP BY per table over loans and over demands/applications,
by province total, city, institution, industry section or size class. The ratios are taken of
the aggregated sums; no row of the data is looked at in Python.

Definitions (see docs/marketplace.md and shared research, mission-anchors §6):
credit-loan share = credit amount / all amount; first-time borrowers = distinct enterprises with
a loan flagged first in the banking system; inclusive micro loans = loans flagged 普惠型小微,
with their amount-weighted average rate; platform share of credit lending = credit amount made
through the platform / all credit amount reported (platform and outside).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, Final, Literal

import pyarrow as pa  # type: ignore[import-untyped]
from sqlalchemy import ColumnElement, Subquery, and_, case, distinct, func, literal, select
from sqlalchemy.orm import Session

from creditbridge.consent import service as consent_service
from creditbridge.core import snapshot
from creditbridge.marketplace.domain import APPROVED_OR_LATER, DECIDED, SECURITY_TYPES
from creditbridge.marketplace.models import Application, Demand, Loan
from creditbridge.presentation.exports import xlsx_row
from creditbridge.reference import divisions, industries
from creditbridge.subjects import service as subjects_service

Dimension = Literal["province", "city", "institution", "industry", "size"]
DIMENSIONS: Final[tuple[Dimension, ...]] = ("province", "city", "institution", "industry", "size")
PROVINCE: Final = "340000"
_SIZE_ZH: Final = {"large": "大型", "medium": "中型", "small": "小型", "micro": "微型"}


@dataclass
class OutcomeRow:
    key: str
    label: str
    loans: int = 0
    amount_fen: int = 0
    credit_loans: int = 0
    credit_amount_fen: int = 0
    first_time_borrowers: int = 0
    first_time_credit_borrowers: int = 0
    first_at_institution: int = 0
    inclusive_loans: int = 0
    inclusive_amount_fen: int = 0
    inclusive_avg_rate_bp: Decimal | None = None
    platform_credit_amount_fen: int = 0
    amount_by_security: dict[str, int] = field(default_factory=dict)
    demands: int = 0
    applications: int = 0
    decided: int = 0
    approved: int = 0
    avg_response_hours: Decimal | None = None

    @property
    def credit_share(self) -> Decimal | None:
        return _ratio(self.credit_amount_fen, self.amount_fen)

    @property
    def platform_credit_share(self) -> Decimal | None:
        return _ratio(self.platform_credit_amount_fen, self.credit_amount_fen)

    @property
    def approval_rate(self) -> Decimal | None:
        return _ratio(self.approved, self.decided)

    def as_dict(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "label": self.label,
            "loans": self.loans,
            "amount_fen": self.amount_fen,
            "credit_loans": self.credit_loans,
            "credit_amount_fen": self.credit_amount_fen,
            "credit_share": _num(self.credit_share),
            "first_time_borrowers": self.first_time_borrowers,
            "first_time_credit_borrowers": self.first_time_credit_borrowers,
            "first_at_institution": self.first_at_institution,
            "inclusive_loans": self.inclusive_loans,
            "inclusive_amount_fen": self.inclusive_amount_fen,
            "inclusive_avg_rate_bp": _num(self.inclusive_avg_rate_bp),
            "platform_credit_amount_fen": self.platform_credit_amount_fen,
            "platform_credit_share": _num(self.platform_credit_share),
            "amount_by_security": dict(self.amount_by_security),
            "demands": self.demands,
            "applications": self.applications,
            "decided": self.decided,
            "approved": self.approved,
            "approval_rate": _num(self.approval_rate),
            "avg_response_hours": _num(self.avg_response_hours),
        }


def _ratio(part: int, whole: int) -> Decimal | None:
    if not whole:
        return None
    return (Decimal(part) / Decimal(whole)).quantize(Decimal("0.0001"), ROUND_HALF_UP)


def _num(value: Decimal | None) -> float | None:
    return None if value is None else float(value)


def _key(
    dimension: Dimension, subjects: Subquery, *, loan_side: bool, division: str | None = None
) -> Any:
    if dimension == "city":
        return subjects.c.city_code
    if dimension == "industry":
        return func.coalesce(subjects.c.industry_section, "")
    if dimension == "size":
        return func.coalesce(subjects.c.size_class, "")
    if dimension == "institution":
        return Loan.institution_id if loan_side else Application.institution_id
    # The one total row is the operator's division, or the whole province for the node.
    return literal(division or PROVINCE)


def _flag(column: Any) -> ColumnElement[int]:
    return case((column.is_(True), 1), else_=0)


def outcomes(
    session: Session,
    *,
    by: Dimension = "province",
    date_from: date | None = None,
    date_to: date | None = None,
    division: str | None = None,
) -> list[OutcomeRow]:
    """Outcome rows for each value of ``by`` (one row for ``province``), largest amount first.

    ``division`` (an operator's province, city or county) counts only the loans, demands and
    applications of enterprises in it, and is then the key of the ``province`` row; None counts
    the whole node (the console, institutions' officers)."""
    if by not in DIMENSIONS:
        raise ValueError(by)
    rows: dict[str, OutcomeRow] = {}

    def row(key: Any) -> OutcomeRow:
        text = "" if key is None else str(key)
        if text not in rows:
            rows[text] = OutcomeRow(key=text, label=text)
        return rows[text]

    subjects = subjects_service.subject_dimensions()
    credit = Loan.security_type == "credit"
    key = _key(by, subjects, loan_side=True, division=division)
    loan_query = (
        select(
            key.label("k"),
            func.count().label("loans"),
            func.coalesce(func.sum(Loan.amount_fen), 0).label("amount"),
            func.coalesce(func.sum(case((credit, 1), else_=0)), 0).label("credit_loans"),
            func.coalesce(func.sum(case((credit, Loan.amount_fen), else_=0)), 0).label(
                "credit_amount"
            ),
            func.count(distinct(case((Loan.first_loan_any_bank.is_(True), Loan.subject_id)))).label(
                "first_time"
            ),
            func.count(
                distinct(case((and_(Loan.first_loan_any_bank.is_(True), credit), Loan.subject_id)))
            ).label("first_time_credit"),
            func.coalesce(func.sum(_flag(Loan.first_loan_this_bank)), 0).label("first_here"),
            func.coalesce(func.sum(_flag(Loan.inclusive_micro)), 0).label("inclusive"),
            func.coalesce(
                func.sum(case((Loan.inclusive_micro.is_(True), Loan.amount_fen), else_=0)), 0
            ).label("inclusive_amount"),
            func.coalesce(
                func.sum(
                    case((Loan.inclusive_micro.is_(True), Loan.amount_fen * Loan.rate_bp), else_=0)
                ),
                0,
            ).label("inclusive_rate_amount"),
            func.coalesce(
                func.sum(
                    case((and_(credit, Loan.via_platform.is_(True)), Loan.amount_fen), else_=0)
                ),
                0,
            ).label("platform_credit"),
            *[
                func.coalesce(
                    func.sum(case((Loan.security_type == kind, Loan.amount_fen), else_=0)), 0
                ).label(f"sec_{kind}")
                for kind in SECURITY_TYPES
            ],
        )
        .select_from(Loan)
        .join(subjects, subjects.c.id == Loan.subject_id)
        .where(subjects_service.subject_in_division(Loan.subject_id, division))
        .group_by(key)
    )
    if date_from is not None:
        loan_query = loan_query.where(Loan.disbursement_date >= date_from)
    if date_to is not None:
        loan_query = loan_query.where(Loan.disbursement_date <= date_to)
    for r in session.execute(loan_query):
        out = row(r.k)
        out.loans = int(r.loans)
        out.amount_fen = int(r.amount)
        out.credit_loans = int(r.credit_loans)
        out.credit_amount_fen = int(r.credit_amount)
        out.first_time_borrowers = int(r.first_time)
        out.first_time_credit_borrowers = int(r.first_time_credit)
        out.first_at_institution = int(r.first_here)
        out.inclusive_loans = int(r.inclusive)
        out.inclusive_amount_fen = int(r.inclusive_amount)
        if r.inclusive_amount:
            out.inclusive_avg_rate_bp = (
                Decimal(int(r.inclusive_rate_amount)) / Decimal(int(r.inclusive_amount))
            ).quantize(Decimal("0.1"), ROUND_HALF_UP)
        out.platform_credit_amount_fen = int(r.platform_credit)
        out.amount_by_security = {kind: int(getattr(r, f"sec_{kind}")) for kind in SECURITY_TYPES}

    # Demands and applications are counted over all time: the period limits the loans only.
    _demand_side(session, by, row, subjects, division)
    _label(session, by, rows)
    return sorted(rows.values(), key=lambda o: (-o.amount_fen, -o.demands, o.key))


def _hours(session: Session, later: Any, earlier: Any) -> ColumnElement[Any]:
    if session.get_bind().dialect.name == "sqlite":
        return (func.julianday(later) - func.julianday(earlier)) * 24
    return func.extract("epoch", later - earlier) / 3600


def _demand_side(
    session: Session,
    by: Dimension,
    row: Any,
    subjects: Subquery,
    division: str | None,
) -> None:
    if by != "institution":
        key = _key(by, subjects, loan_side=False, division=division)
        demand_query = (
            select(key.label("k"), func.count().label("n"))
            .select_from(Demand)
            .join(subjects, subjects.c.id == Demand.subject_id)
            .where(subjects_service.subject_in_division(Demand.subject_id, division))
            .group_by(key)
        )
        for r in session.execute(demand_query):
            row(r.k).demands = int(r.n)
    key = _key(by, subjects, loan_side=False, division=division)
    approved = Application.status.in_([s.value for s in APPROVED_OR_LATER])
    decided = Application.status.in_([s.value for s in DECIDED])
    app_query = (
        select(
            key.label("k"),
            func.count().label("n"),
            func.count(distinct(Application.demand_id)).label("demands"),
            func.coalesce(func.sum(case((decided, 1), else_=0)), 0).label("decided"),
            func.coalesce(func.sum(case((approved, 1), else_=0)), 0).label("approved"),
            func.avg(
                case(
                    (
                        Application.accepted_at.is_not(None),
                        _hours(session, Application.accepted_at, Application.created_at),
                    )
                )
            ).label("hours"),
        )
        .select_from(Application)
        .join(subjects, subjects.c.id == Application.subject_id)
        .where(subjects_service.subject_in_division(Application.subject_id, division))
        .group_by(key)
    )
    for r in session.execute(app_query):
        out = row(r.k)
        out.applications = int(r.n)
        out.decided = int(r.decided)
        out.approved = int(r.approved)
        if by == "institution":
            out.demands = int(r.demands)
        if r.hours is not None:
            out.avg_response_hours = Decimal(str(r.hours)).quantize(Decimal("0.1"), ROUND_HALF_UP)


def _label(session: Session, by: Dimension, rows: dict[str, OutcomeRow]) -> None:
    if by == "institution":
        ids = [int(k) for k in rows if k.isdigit()]
        names = consent_service.institution_names(session, ids)
        for out in rows.values():
            out.label = names.get(int(out.key), out.key) if out.key.isdigit() else out.key
        return
    for out in rows.values():
        if by == "province":
            out.label = divisions.name(out.key) or "全省"
        elif by == "city":
            out.label = divisions.name(out.key) or out.key
        elif by == "industry":
            section = industries.section(out.key) if out.key else None
            out.label = f"{out.key} {section.name_zh}" if section else (out.key or "未分类")
        elif by == "size":
            out.label = _SIZE_ZH.get(out.key, "未划型")


def province_totals(session: Session, *, division: str | None = None) -> OutcomeRow:
    """The one total row: of the operator's ``division``, or of the whole node when None."""
    rows = outcomes(session, by="province", division=division)
    if rows:
        return rows[0]
    key = division or PROVINCE
    return OutcomeRow(key=key, label=(divisions.name(key) if division else None) or "全省")


def to_xlsx(rows: list[OutcomeRow], *, by: Dimension) -> bytes:
    """The outcome table as an Excel workbook (amounts in 万元, shares in %)."""
    import io

    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = "融资成效"
    header = [
        {
            "province": "全省",
            "city": "城市",
            "institution": "机构",
            "industry": "行业",
            "size": "规模",
        }[by],
        "融资需求数",
        "申请数",
        "审批通过率(%)",
        "平均响应时长(小时)",
        "贷款笔数",
        "贷款金额(万元)",
        "信用贷款笔数",
        "信用贷款金额(万元)",
        "信用贷款占比(%)",
        "首贷户数",
        "信用首贷户数",
        "普惠小微贷款笔数",
        "普惠小微贷款金额(万元)",
        "普惠小微平均利率(%)",
        "平台信用贷款占比(%)",
        *[f"{k}(万元)" for k in ("信用", "保证", "抵押", "质押")],
    ]
    sheet.append(xlsx_row(sheet, header))

    def wan(fen: int) -> float:
        return round(fen / 1_000_000, 2)

    def pct(value: Decimal | None) -> float | None:
        return None if value is None else round(float(value) * 100, 2)

    for r in rows:
        sheet.append(
            xlsx_row(
                sheet,
                [
                    r.label,
                    r.demands,
                    r.applications,
                    pct(r.approval_rate),
                    None if r.avg_response_hours is None else float(r.avg_response_hours),
                    r.loans,
                    wan(r.amount_fen),
                    r.credit_loans,
                    wan(r.credit_amount_fen),
                    pct(r.credit_share),
                    r.first_time_borrowers,
                    r.first_time_credit_borrowers,
                    r.inclusive_loans,
                    wan(r.inclusive_amount_fen),
                    None
                    if r.inclusive_avg_rate_bp is None
                    else float(r.inclusive_avg_rate_bp) / 100,
                    pct(r.platform_credit_share),
                    *[wan(r.amount_by_security.get(k, 0)) for k in SECURITY_TYPES],
                ],
            )
        )
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


# What the marketplace contributes to the analytics snapshot: every loan's outcome, which the
# trained scorecard learns from (scoring names the table; it may not import the marketplace).
LOAN_OUTCOMES: Final = snapshot.register(
    snapshot.Table(
        "marketplace_loan_raw",
        lambda: select(Loan.subject_id, Loan.status, Loan.disbursement_date).order_by(Loan.id),
        {"subject_id": pa.int64(), "status": pa.string(), "disbursement_date": pa.date32()},
        staging=True,
    )
)
