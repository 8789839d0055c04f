"""JSON API of the marketplace (/api/v1/market): lending outcomes; for institutions' systems
(signed clients) the open pool and grabbing, loan events (repayments, overdue) and loans made
outside the platform; the whitelist for subscribed institutions."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Path, Query, Request
from pydantic import BaseModel, Field

from creditbridge.core.actors import Actor, Role
from creditbridge.core.config import Settings
from creditbridge.core.types import BusinessDate, Fen, FilterDate, Id, PositiveFen, Text
from creditbridge.marketplace import analytics, service
from creditbridge.marketplace.domain import WhitelistStatus
from creditbridge.web.auth import SignedClient, require_roles
from creditbridge.web.deps import ReadSession, WriteSession

router = APIRouter(prefix="/api/v1/market", tags=["marketplace 融资对接"])

Watcher = Annotated[Actor, Depends(require_roles(Role.OPERATOR, Role.INSTITUTION_OFFICER))]


class OutcomeOut(BaseModel):
    key: str
    label: str
    loans: int
    amount_fen: int
    credit_loans: int
    credit_amount_fen: int
    credit_share: float | None = Field(description="credit amount / all amount")
    first_time_borrowers: int = Field(description="首贷户: distinct firms with a first-ever loan")
    first_time_credit_borrowers: int
    first_at_institution: int
    inclusive_loans: int = Field(description="普惠型小微: credit line ≤ 1000万元, small/micro")
    inclusive_amount_fen: int
    inclusive_avg_rate_bp: float | None
    platform_credit_amount_fen: int
    platform_credit_share: float | None = Field(
        description="credit lending through the platform / all credit lending reported"
    )
    amount_by_security: dict[str, int]
    demands: int
    applications: int
    decided: int
    approved: int
    approval_rate: float | None
    avg_response_hours: float | None


@router.get("/outcomes", summary="Lending outcomes 融资成效", response_model=list[OutcomeOut])
def outcomes(
    session: ReadSession,
    actor: Watcher,
    by: Literal["province", "city", "institution", "industry", "size"] = "province",
    date_from: FilterDate | None = None,
    date_to: FilterDate | None = None,
) -> list[dict[str, object]]:
    """One row per city, institution, industry section or size class (one row for the
    province); the period limits loans by disbursement date. An operator of a division gets
    only its enterprises' figures, and the one ``province`` row is keyed by its division."""
    rows = analytics.outcomes(
        session, by=by, date_from=date_from, date_to=date_to, division=actor.division_code
    )
    if by == "province" and not rows:
        rows = [analytics.province_totals(session, division=actor.division_code)]
    return [r.as_dict() for r in rows]


class DemandOut(BaseModel):
    id: int
    amount_fen: int
    term_months: int
    purpose: str
    security_types: list[str]
    urgency: str
    status: str
    respond_by: date | None


@router.get("/pool", summary="Open pool 抢单池", response_model=list[DemandOut])
def pool(session: ReadSession, client: SignedClient) -> list[DemandOut]:
    """Demands open to every institution (自由抢单), oldest deadline first."""
    service.require_institution(client)
    return [
        DemandOut(
            id=d.id,
            amount_fen=d.amount_fen,
            term_months=d.term_months,
            purpose=d.purpose,
            security_types=list(d.security_types),
            urgency=d.urgency,
            status=d.status,
            respond_by=d.respond_by,
        )
        for d in service.list_pool(session)
    ]


class ApplicationOut(BaseModel):
    id: int
    demand_id: int | None
    product_id: int
    status: str
    consent_id: int | None


@router.post(
    "/demands/{demand_id}/grab",
    summary="Grab a demand 抢单",
    response_model=ApplicationOut,
    responses={409: {"description": "CB-MARKET-DEMAND-TAKEN: another institution took it"}},
)
def grab(
    request: Request, demand_id: Annotated[Id, Path()], session: WriteSession, client: SignedClient
) -> ApplicationOut:
    """Exactly one of concurrent grabs wins; the others get 409."""
    settings: Settings = request.app.state.settings
    app = service.grab(
        session, client, demand_id=demand_id, response_days=settings.market_response_days
    )
    return ApplicationOut(
        id=app.id,
        demand_id=app.demand_id,
        product_id=app.product_id,
        status=app.status,
        consent_id=app.consent_id,
    )


class LoanEventIn(BaseModel):
    event: Literal["repayment", "overdue", "repaid"]
    amount_fen: Fen = Field(0, le=10**14)
    event_date: BusinessDate | None = None


class LoanOut(BaseModel):
    id: int
    status: str
    amount_fen: int
    repaid_fen: int
    security_type: str
    via_platform: bool
    first_loan_any_bank: bool
    first_loan_this_bank: bool
    inclusive_micro: bool


def _loan_out(loan: object) -> LoanOut:
    return LoanOut.model_validate(loan, from_attributes=True)


@router.post(
    "/loans/{loan_id}/events", summary="Report a repayment or overdue 还款/逾期报送",
    response_model=LoanOut,
)  # fmt: skip
def loan_event(
    loan_id: Annotated[Id, Path()], body: LoanEventIn, session: WriteSession, client: SignedClient
) -> LoanOut:
    """The lender reports on its own loan; another institution's loan answers 404."""
    loan = service.report_loan_event(
        session,
        client,
        loan_id=loan_id,
        event=body.event,
        amount_fen=body.amount_fen,
        event_date=body.event_date,
    )
    return _loan_out(loan)


class ExternalLoanIn(BaseModel):
    uscc: Text = Field(min_length=18, max_length=18)
    amount_fen: PositiveFen
    credit_line_fen: PositiveFen | None = None
    rate_bp: int = Field(gt=0, le=3600)
    term_months: int = Field(ge=1, le=360)
    security_type: Literal["credit", "guarantee", "mortgage", "pledge"]
    disbursement_date: BusinessDate


@router.post(
    "/loans", summary="Report a loan made outside the platform 平台外贷款报送",
    response_model=LoanOut, status_code=201,
)  # fmt: skip
def report_loan(body: ExternalLoanIn, session: WriteSession, client: SignedClient) -> LoanOut:
    """Counted in the denominator of the platform's share of credit lending."""
    loan = service.report_external_loan(session, client, **body.model_dump())
    return _loan_out(loan)


class WhitelistOut(BaseModel):
    uscc: str
    name: str
    status: str
    grade: str | None


@router.get("/whitelist", summary="Whitelist 白名单", response_model=list[WhitelistOut])
def whitelist(
    session: ReadSession,
    client: SignedClient,
    include_removed: Annotated[bool, Query()] = False,
) -> list[WhitelistOut]:
    """The listed enterprises (and, if asked, those removed), for subscribed institutions."""
    service.require_institution(client)
    statuses = [WhitelistStatus.LISTED.value]
    if include_removed:
        statuses.append(WhitelistStatus.REMOVED.value)
    entries = service.list_whitelist(session, statuses=statuses)
    names = service.subject_names(session, {e.subject_id for e in entries})
    return [
        WhitelistOut(
            uscc=names.get(e.subject_id, ("", ""))[0],
            name=names.get(e.subject_id, ("", ""))[1],
            status=e.status,
            grade=e.grade,
        )
        for e in entries
    ]
