"""Loans: made on disbursement or reported from outside, and their repayment/overdue events."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Final

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from creditbridge.audit import service as audit
from creditbridge.core.actors import Actor
from creditbridge.core.clock import local_today, utc_now
from creditbridge.core.errors import InvalidTransition, Issue, NotFound, ValidationFailed
from creditbridge.core.types import (
    EARLIEST_DATE,
    FEN_MAX,
    date_in_business_range,
    latest_business_date,
)
from creditbridge.marketplace import domain
from creditbridge.marketplace.domain import AppMove, AppStatus
from creditbridge.marketplace.models import Application, Loan, Repayment
from creditbridge.marketplace.service._common import (
    MAX_AMOUNT_FEN,
    _institution_of,
    _party_to,
    _subject_of,
)
from creditbridge.marketplace.service._transitions import _move
from creditbridge.presentation.errors import keyed, keyed_issue
from creditbridge.subjects import service as subjects_service


def count_loans(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(Loan)) or 0


def access_loan(session: Session, actor: Actor, loan_id: int) -> Loan:
    loan = session.get(Loan, loan_id)
    if loan is None or not _party_to(actor, loan.subject_id, loan.institution_id):
        raise keyed(NotFound, "error.marketplace.no_loan")
    return loan


def list_loans_for_subject(session: Session, actor: Actor) -> list[Loan]:
    subject_id = _subject_of(actor)
    return list(
        session.scalars(
            select(Loan)
            .where(Loan.subject_id == subject_id)
            .order_by(Loan.disbursement_date.desc(), Loan.id.desc())
        )
    )


def _new_loan(
    session: Session,
    *,
    subject_id: int,
    institution_id: int,
    product_id: int | None,
    amount_fen: int,
    credit_line_fen: int,
    rate_bp: int,
    term_months: int,
    security_type: str,
    disbursement_date: date,
    via_platform: bool,
    application_id: int | None = None,
) -> Loan:
    issues = [i for i in [_date_issue(disbursement_date, "disbursement_date")] if i]
    if not 0 < credit_line_fen <= FEN_MAX:
        issues.append(
            keyed_issue("CB-MARKET-LINE", "error.marketplace.line_range", field="credit_line_fen")
        )
    if issues:
        raise keyed(ValidationFailed, "error.marketplace.loan_invalid", issues=issues)
    subject = subjects_service.get_subject_or_raise(session, subject_id)
    earlier = session.scalars(
        select(Loan.institution_id)
        .where(Loan.subject_id == subject_id, Loan.disbursement_date <= disbursement_date)
        .distinct()
    )
    flags = domain.loan_flags(
        earlier_lenders=earlier,
        institution_id=institution_id,
        credit_line_fen=credit_line_fen,
        size_class=subject.size_class,
    )
    loan = Loan(
        subject_id=subject_id,
        institution_id=institution_id,
        product_id=product_id,
        amount_fen=amount_fen,
        credit_line_fen=credit_line_fen,
        rate_bp=rate_bp,
        term_months=term_months,
        security_type=security_type,
        disbursement_date=disbursement_date,
        maturity_date=domain.add_months(disbursement_date, term_months),
        status="current",
        via_platform=via_platform,
        first_loan_any_bank=flags.first_loan_any_bank,
        first_loan_this_bank=flags.first_loan_this_bank,
        inclusive_micro=flags.inclusive_micro,
        application_id=application_id,
        repaid_fen=0,
        created_at=utc_now(),
    )
    session.add(loan)
    session.flush()
    return loan


LOAN_EVENTS: Final = ("repayment", "overdue", "repaid")


def _date_issue(day: date, field: str, row: int | None = None) -> Issue | None:
    """A loan's dates feed the outcome statistics: one dated 0096-01-25, or years ahead, is
    refused (CB-MARKET-DATE-RANGE) rather than counted."""
    if date_in_business_range(day):
        return None
    return keyed_issue(
        "CB-MARKET-DATE-RANGE",
        "error.marketplace.date_range",
        field=field,
        row=row,
        value=day.isoformat(),
        earliest=EARLIEST_DATE.isoformat(),
        latest=latest_business_date().isoformat(),
    )


def report_loan_event(
    session: Session,
    actor: Actor,
    *,
    loan_id: int,
    event: str,
    amount_fen: int = 0,
    event_date: date | None = None,
) -> Loan:
    """A lender reports a repayment, an overdue or a full repayment of its own loan."""
    _institution_of(actor)
    loan = access_loan(session, actor, loan_id)
    issues = _event_issues(event, amount_fen)
    if event_date is not None and (wrong := _date_issue(event_date, "event_date")):
        issues.append(wrong)
    if issues:
        raise keyed(ValidationFailed, "error.marketplace.loan_invalid", issues=issues)
    _apply_event(session, actor, loan, event, amount_fen, event_date or local_today())
    return loan


def _event_issues(event: str, amount_fen: int, row: int | None = None) -> list[Issue]:
    issues = []
    if event not in LOAN_EVENTS:
        issues.append(
            keyed_issue("CB-MARKET-EVENT", "error.marketplace.loan_event", field="event", row=row)
        )
    if event == "repayment" and amount_fen <= 0:
        issues.append(
            keyed_issue(
                "CB-MARKET-AMOUNT",
                "error.marketplace.repayment_positive",
                field="amount_yuan",
                row=row,
            )
        )
    if amount_fen < 0:
        issues.append(
            keyed_issue(
                "CB-MARKET-AMOUNT",
                "error.marketplace.amount_negative",
                field="amount_yuan",
                row=row,
            )
        )
    return issues


def _apply_event(
    session: Session, actor: Actor, loan: Loan, event: str, amount_fen: int, day: date
) -> None:
    before = loan.status
    if loan.status in ("repaid",):
        raise keyed(InvalidTransition, "error.marketplace.loan_repaid")
    if event == "repayment":
        loan.repaid_fen += amount_fen
        if loan.repaid_fen >= loan.amount_fen:
            loan.status = "repaid"
    elif event == "overdue":
        loan.status = "overdue"
    else:
        loan.status = "repaid"
    session.add(
        Repayment(
            loan_id=loan.id,
            event=event,
            amount_fen=amount_fen,
            event_date=day,
            reported_by=actor.name,
            created_at=utc_now(),
        )
    )
    session.flush()
    audit.record(
        session,
        actor,
        action=f"market.loan.{event}",
        object_type="marketplace_loan",
        object_id=loan.id,
        subject_id=loan.subject_id,
        detail={"from": before, "to": loan.status, "amount_fen": amount_fen, "date": day},
    )
    if loan.application_id is not None and loan.status != before:
        app = session.get(Application, loan.application_id)
        move = AppMove.REPAY if loan.status == "repaid" else AppMove.OVERDUE
        if app is not None and (AppStatus(app.status), move) in domain.APP_TRANSITIONS:
            _move(session, actor, app, move)


@dataclass(frozen=True)
class UploadResult:
    rows: int
    loans: list[int]


def upload_loan_events(
    session: Session, actor: Actor, *, filename: str, content: bytes
) -> UploadResult:
    """Repayments and overdue status by file (CSV or XLSX) with the header
    ``loan_id,event,amount_yuan,event_date`` (or the Chinese headers of :data:`UPLOAD_HEADERS`,
    events named as in :data:`EVENT_NAMES`); all rows or none, every bad row and field named."""
    _institution_of(actor)
    rows = _read_table(filename, content)
    issues: list[Issue] = []
    parsed: list[tuple[Loan, str, int, date]] = []
    for number, given in enumerate(rows, start=2):
        row = _canonical(given)
        loan_raw = str(row.get("loan_id") or "").strip()
        event = str(row.get("event") or "").strip()
        event = _EVENT_OF.get(event, event)
        amount_raw = str(row.get("amount_yuan") or "0").strip()
        date_raw = str(row.get("event_date") or "").strip()
        loan: Loan | None = None
        if not loan_raw.isdigit():
            issues.append(
                keyed_issue(
                    "CB-MARKET-LOAN", "error.marketplace.loan_id", field="loan_id", row=number
                )
            )
        else:
            try:
                loan = access_loan(session, actor, int(loan_raw))
            except NotFound:
                issues.append(
                    keyed_issue(
                        "CB-MARKET-LOAN", "error.marketplace.no_loan", field="loan_id", row=number
                    )
                )
        try:
            amount_fen = _yuan_to_fen(amount_raw)
        except ValueError:
            issues.append(
                keyed_issue(
                    "CB-MARKET-AMOUNT",
                    "error.marketplace.amount_format",
                    field="amount_yuan",
                    row=number,
                    value=amount_raw[:40],
                )
            )
            amount_fen = 0
        try:
            day = date.fromisoformat(date_raw[:10]) if date_raw else local_today()
        except ValueError:
            issues.append(
                keyed_issue(
                    "CB-MARKET-DATE",
                    "error.marketplace.date_format",
                    field="event_date",
                    row=number,
                    value=date_raw[:40],
                )
            )
            day = local_today()
        if wrong := _date_issue(day, "event_date", number):
            issues.append(wrong)
        issues.extend(_event_issues(event, amount_fen, number))
        if loan is not None:
            parsed.append((loan, event, amount_fen, day))
    if not rows:
        issues.append(keyed_issue("CB-MARKET-EMPTY", "error.marketplace.no_rows"))
    if issues:
        raise keyed(ValidationFailed, "error.marketplace.upload_invalid", issues=issues)
    for loan, event, amount_fen, day in parsed:
        _apply_event(session, actor, loan, event, amount_fen, day)
    return UploadResult(rows=len(parsed), loans=sorted({loan.id for loan, *_ in parsed}))


def list_loans_for_institution(session: Session, actor: Actor, *, limit: int = 500) -> list[Loan]:
    """The acting institution's loans, latest first: what its repayment upload refers to."""
    institution_id = _institution_of(actor)
    return list(
        session.scalars(
            select(Loan)
            .where(Loan.institution_id == institution_id)
            .order_by(Loan.disbursement_date.desc(), Loan.id.desc())
            .limit(limit)
        )
    )


UPLOAD_HEADERS: Final = {
    "loan_id": "贷款编号",
    "event": "事件",
    "amount_yuan": "金额（元）",
    "event_date": "日期",
}
"""The upload's columns and their Chinese headers (the template's); either is accepted."""
EVENT_NAMES: Final = {"repayment": "还款", "overdue": "逾期", "repaid": "结清"}
"""Events by their Chinese names, as the template's example row writes them."""
_HEADER_OF: Final = {zh: en for en, zh in UPLOAD_HEADERS.items()}
_EVENT_OF: Final = {zh: en for en, zh in EVENT_NAMES.items()}


def _canonical(row: dict[str, Any]) -> dict[str, Any]:
    """A row keyed by the English column names, whichever header the file used."""
    return {_HEADER_OF.get(str(key).strip(), str(key).strip()): value for key, value in row.items()}


def _yuan_to_fen(raw: str) -> int:
    from decimal import Decimal

    try:
        value = Decimal(raw.replace(",", ""))
        # quantize itself fails on 1E+30 (more digits than the context holds): inside the try.
        exact = value.is_finite() and value == value.quantize(Decimal("0.01"))
        exact = exact and abs(value) * 100 <= FEN_MAX
    except ArithmeticError as exc:  # InvalidOperation, Overflow
        raise ValueError(raw) from exc
    if not exact:
        raise ValueError(raw)
    return int(value * 100)


def _read_table(filename: str, content: bytes) -> list[dict[str, Any]]:
    if filename.lower().endswith(".xlsx"):
        from openpyxl import load_workbook

        try:
            sheet = load_workbook(io.BytesIO(content), read_only=True, data_only=True).active
        except Exception as exc:  # any unreadable workbook is the user's input
            raise keyed(
                ValidationFailed,
                "error.marketplace.xlsx_unreadable",
                issues=[
                    keyed_issue(
                        "CB-MARKET-FILE", "error.marketplace.xlsx_reason", reason=str(exc)[:200]
                    )
                ],
            ) from exc
        if sheet is None:
            return []
        values = list(sheet.iter_rows(values_only=True))
        if not values:
            return []
        header = [str(h or "").strip() for h in values[0]]
        out = []
        for row in values[1:]:
            if all(v is None for v in row):
                continue
            out.append(
                {
                    h: (v.date().isoformat() if isinstance(v, datetime) else v)
                    for h, v in zip(header, row, strict=False)
                }
            )
        return out
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise keyed(
            ValidationFailed,
            "error.marketplace.file_format",
            issues=[keyed_issue("CB-MARKET-FILE", "error.marketplace.encoding")],
        ) from exc
    return list(csv.DictReader(io.StringIO(text)))


def report_external_loan(
    session: Session,
    actor: Actor,
    *,
    uscc: str,
    amount_fen: int,
    credit_line_fen: int | None,
    rate_bp: int,
    term_months: int,
    security_type: str,
    disbursement_date: date,
) -> Loan:
    """A loan made outside the platform, reported so that the platform's share can be computed."""
    institution_id = _institution_of(actor)
    subject = subjects_service.find_subject_by_uscc(session, uscc)
    issues = []
    if subject is None:
        issues.append(
            keyed_issue(
                "CB-MARKET-SUBJECT", "error.marketplace.no_subject", field="uscc", value=uscc[:18]
            )
        )
    if not 0 < amount_fen <= MAX_AMOUNT_FEN:
        issues.append(
            keyed_issue("CB-MARKET-AMOUNT", "error.marketplace.amount", field="amount_fen")
        )
    if credit_line_fen is not None and credit_line_fen < amount_fen:
        issues.append(
            keyed_issue(
                "CB-MARKET-LINE", "error.marketplace.line_below_amount", field="credit_line_fen"
            )
        )
    if not 0 < rate_bp <= 3600:
        issues.append(keyed_issue("CB-MARKET-RATE", "error.marketplace.rate", field="rate_bp"))
    if not 1 <= term_months <= 360:
        issues.append(keyed_issue("CB-MARKET-TERM", "error.marketplace.term", field="term_months"))
    if security_type not in domain.SECURITY_TYPES:
        issues.append(
            keyed_issue("CB-MARKET-SECURITY", "error.marketplace.security", field="security_type")
        )
    if issues or subject is None:
        raise keyed(ValidationFailed, "error.marketplace.loan_invalid", issues=issues)
    loan = _new_loan(
        session,
        subject_id=subject.id,
        institution_id=institution_id,
        product_id=None,
        amount_fen=amount_fen,
        credit_line_fen=credit_line_fen or amount_fen,
        rate_bp=rate_bp,
        term_months=term_months,
        security_type=security_type,
        disbursement_date=disbursement_date,
        via_platform=False,
    )
    audit.record(
        session,
        actor,
        action="market.loan.report_external",
        object_type="marketplace_loan",
        object_id=loan.id,
        subject_id=subject.id,
        detail={"amount_fen": amount_fen, "security_type": security_type},
    )
    return loan
