"""Lending pages: the enterprise publishes demands, sees recommendations, applies and sees its
loans; the institution works its inbox, the open pool and its applications and uploads loan
events; the notifications of all three roles.

Every form answers a refusal on its own page (422/409) with the user's input and a message at
the field; every irreversible step (apply, accept, decline, approve, reject, disburse, withdraw,
grab) first shows a confirmation page that says what will happen — a plain page, so it works
without JavaScript and on a phone. Posting the step's form directly still performs it: the
confirmation guards against slips, authorization stays in the service."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Annotated, Any, Final

from fastapi import APIRouter, File, Form, Path, Query, Request, UploadFile
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.orm import Session

from creditbridge.catalog import service as catalog_service
from creditbridge.consent.domain import Purpose
from creditbridge.consent.errors import ConsentRefused
from creditbridge.core.actors import Actor, Role
from creditbridge.core.clock import local_today, utc_now
from creditbridge.core.errors import DomainError, Issue, NotFound, ValidationFailed
from creditbridge.marketplace import domain, service
from creditbridge.marketplace.domain import AppMove
from creditbridge.marketplace.models import Application, Demand, Loan
from creditbridge.marketplace.pages._common import (
    CRITERIA,
    MAX_UPLOAD,
    REFUSALS,
    Anyone,
    Enterprise,
    Id,
    Officer,
    _bp,
    _criteria,
    _errors_by_field,
    _explain_issues,
    _export,
    _fen,
    _in_savepoint,
    _months,
    _path_or_none,
    _redirect,
    _response_days,
    _sorted,
)
from creditbridge.marketplace.service import applications as application_service
from creditbridge.marketplace.service import demands as demand_service
from creditbridge.marketplace.service import loans as loan_service
from creditbridge.presentation import formatting, i18n, listing
from creditbridge.presentation.errors import explain, keyed, keyed_issue
from creditbridge.presentation.listing import ListQuery
from creditbridge.reference import divisions, industries
from creditbridge.web.deps import ReadSession, WriteSession
from creditbridge.web.templating import language, render

router = APIRouter(include_in_schema=False)

ExportFormat = Annotated[str, Query(alias="format", pattern="^(csv|xlsx)$")]
OPEN_STATUSES: Final = ("accepted", "under_review", "approved")
CONFIRMED_MOVES: Final = ("accept", "decline", "approve", "reject", "disburse")
"""The institution's irreversible steps: each shows its confirmation page first."""


def _list_context(query: ListQuery, page: listing.Page[Any]) -> dict[str, Any]:
    """What the lending lists show besides their rows: the sort in force (for the headers of
    ``components/ui.html``), the page, and the choices of the filter bar."""
    return {
        "query": query,
        "sort": query.sort,
        "page": page,
        "region_options": [(c.code, c.name) for c in divisions.cities()],
        "industry_options": [(s.code, f"{s.code} {s.name_zh}") for s in industries.sections()],
        "grade_options": [(g, g) for g in domain.GRADES],
        "today": local_today(),
    }


def _list_query(request: Request, *, sortable: Iterable[str], default_sort: str) -> ListQuery:
    return listing.parse_list_query(
        request.query_params, sortable=sortable, default_sort=default_sort, filters=CRITERIA
    )


def _options(lang: i18n.Language, group: str, values: Iterable[str]) -> list[tuple[str, str]]:
    """(value, Chinese label) pairs of a filter's select."""
    return [(value, i18n.label(lang, group, value)) for value in values]


def _region_name(code: str | None) -> str:
    """A division by name in an export (an empty cell without one)."""
    return formatting.format_division(code, "zh") if code else ""


def _industry_name(lang: i18n.Language, section: str | None) -> str:
    """An industry section by name in an export (an empty cell without one)."""
    return formatting.format_industry(section, lang) if section else ""


def _app_stage(app: Application) -> domain.Stage:
    """Where an application stands in the stepper (提交 → 受理 → 审查 → 审批 → 放款)."""
    return domain.app_stage(app.status, accepted=app.accepted_at is not None)


# --- Enterprise ------------------------------------------------------------------------------


@dataclass
class DemandForm:
    amount_wan: str = ""
    term_months: str = "12"
    purpose: str = ""
    security_types: tuple[str, ...] = ("credit",)
    urgency: str = "normal"
    max_rate_pct: str = ""
    mode: str = "choose"
    errors: dict[str, list[str]] = field(default_factory=dict)


def _demand_form(request: Request, form: DemandForm, *, status_code: int = 200) -> HTMLResponse:
    return render(
        request,
        "marketplace/demand_new.html",
        status_code=status_code,
        form=form,
        security_types=domain.SECURITY_TYPES,
    )


@router.get("/market/demands/new", name="marketplace:demand_new")
def demand_new(request: Request, actor: Enterprise) -> HTMLResponse:
    return _demand_form(request, DemandForm())


@router.post("/market/demands", name="marketplace:demand_create")
def demand_create(
    request: Request,
    session: WriteSession,
    actor: Enterprise,
    amount_wan: Annotated[str, Form(max_length=20)] = "",
    term_months: Annotated[str, Form(max_length=10)] = "",
    purpose: Annotated[str, Form(max_length=400)] = "",
    security_types: Annotated[list[str] | None, Form(max_length=16)] = None,
    urgency: Annotated[str, Form(max_length=16)] = "normal",
    max_rate_pct: Annotated[str, Form(max_length=10)] = "",
    mode: Annotated[str, Form(max_length=16)] = "choose",
) -> Response:
    form = DemandForm(
        amount_wan, term_months, purpose, tuple(security_types or ()), urgency, max_rate_pct, mode
    )
    issues: list[Issue] = []
    amount = _fen(amount_wan, "amount", issues)
    term = _months(term_months, "term_months", issues)
    rate = _bp(max_rate_pct, "max_rate_bp", issues, required=False)
    if not issues:
        try:
            demand = _in_savepoint(
                session,
                lambda: service.post_demand(
                    session,
                    actor,
                    amount_fen=amount,
                    term_months=term,
                    purpose=purpose,
                    security_types=form.security_types,
                    urgency=urgency,
                    max_rate_bp=rate,
                    mode=mode,
                    response_days=_response_days(request),
                ),
            )
        except REFUSALS as failure:
            form.errors[""] = [explain(language(request), failure)]
            issues = failure.issues
        else:
            return _redirect(request.url_for("marketplace:demand", demand_id=demand.id).path)
    _explain_issues(request, form.errors, issues)
    return _demand_form(request, form, status_code=422)


def _lent_demands(applications: Sequence[Application]) -> set[int]:
    """Demands one of whose applications ended in a loan."""
    return {a.demand_id for a in applications if a.demand_id is not None and a.loan_id}


DEMAND_SORTS: Final = {
    "id": lambda d: d.id,
    "amount": lambda d: d.amount_fen,
    "term": lambda d: d.term_months,
    "posted": lambda d: d.created_at,
}


def _my_demand_rows(
    session: Session, actor: Actor, query: ListQuery
) -> tuple[list[Demand], list[Application], set[int]]:
    demands = service.list_demands_for_subject(session, actor)
    apps = service.list_applications(session, actor)
    lent = _lent_demands(apps)
    chosen = _criteria(query)
    kept = [
        d
        for d in demands
        if chosen.keeps(
            status=domain.demand_outcome(d.status, lent=d.id in lent),
            amount_fen=d.amount_fen,
            day=d.created_at.date(),
        )
    ]
    return _sorted(kept, query.sort, DEMAND_SORTS), apps, lent


@router.get("/market/demands", name="marketplace:my_demands")
def my_demands(request: Request, session: ReadSession, actor: Enterprise) -> HTMLResponse:
    query = _list_query(request, sortable=DEMAND_SORTS, default_sort="-id")
    demands, apps, lent = _my_demand_rows(session, actor, query)
    page = listing.paginate(demands, query)
    return render(
        request,
        "marketplace/my_demands.html",
        demands=page.items,
        lent=lent,
        applications=apps,
        products={p.id: p for p in service.list_products(session, status=None)},
        institutions=service.institution_names(session, {a.institution_id for a in apps}),
        notifications=service.list_notifications(session, actor, limit=8),
        status_options=_options(
            language(request),
            "market_demand_status",
            [*[s.value for s in domain.DemandStatus], domain.DEMAND_LENT],
        ),
        stage=_app_stage,
        stages=domain.APP_STAGES,
        **_list_context(query, page),
    )


@router.get("/market/demands/export", name="marketplace:my_demands_export")
def my_demands_export(
    request: Request, session: ReadSession, actor: Enterprise, fmt: ExportFormat = "csv"
) -> Response:
    lang = language(request)
    query = _list_query(request, sortable=DEMAND_SORTS, default_sort="-id")
    demands, _, lent = _my_demand_rows(session, actor, query)
    tr = i18n.translate
    headers = [
        tr(lang, "market.lending.col.id"),
        tr(lang, "market.amount_wan"),
        tr(lang, "market.term_months"),
        tr(lang, "market.purpose"),
        tr(lang, "market.posted_at"),
        tr(lang, "market.status"),
    ]
    rows = [
        [
            d.id,
            d.amount_fen / domain.WAN_FEN,
            d.term_months,
            d.purpose,
            d.created_at.date().isoformat(),
            i18n.label(
                lang, "market_demand_status", domain.demand_outcome(d.status, lent=d.id in lent)
            ),
        ]
        for d in demands
    ]
    return _export("my-demands", fmt, headers, rows)


@router.get("/market/demands/{demand_id}", name="marketplace:demand")
def demand_detail(
    request: Request, session: ReadSession, actor: Anyone, demand_id: Id
) -> HTMLResponse:
    return _demand_page(request, session, actor, demand_id)


def _demand_page(
    request: Request,
    session: Session,
    actor: Actor,
    demand_id: int,
    *,
    refusal: DomainError | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    demand = service.access_demand(session, actor, demand_id)
    is_owner = actor.role is Role.ENTERPRISE_USER
    recs = service.recommend(session, actor, demand_id=demand.id) if is_owner else []
    apps = (
        [a for a in service.list_applications(session, actor) if a.demand_id == demand.id]
        if (actor.role is not Role.OPERATOR)
        else []
    )
    return render(
        request,
        "marketplace/demand.html",
        status_code=status_code,
        demand=demand,
        outcome=domain.demand_outcome(demand.status, lent=bool(_lent_demands(apps))),
        is_owner=is_owner,
        recommendations=recs,
        applications=apps,
        products={p.id: p for p in service.list_products(session, status=None)},
        institutions=service.institution_names(
            session,
            {a.institution_id for a in apps}
            | {i for i in [demand.assigned_institution_id, demand.claimed_institution_id] if i},
        ),
        subject=service.subject_names(session, [demand.subject_id]).get(demand.subject_id),
        rule_text=service.RULE_TEXT,
        refusal=refusal,
    )


def _apply_page(
    request: Request,
    session: Session,
    actor: Actor,
    demand_id: int,
    product_id: int,
    *,
    errors: dict[str, list[Issue]] | None = None,
    refusal: DomainError | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    demand = service.access_demand(session, actor, demand_id)
    product = service.get_product_or_raise(session, product_id)
    if product.status != "published":
        raise keyed(NotFound, "error.marketplace.no_product")
    categories = {c.code: (c.name_zh, c.name_en) for c in catalog_service.list_categories(session)}
    return render(
        request,
        "marketplace/lending_apply.html",
        status_code=status_code,
        demand=demand,
        product=product,
        institution=service.institution_name(session, product.institution_id),
        purpose=Purpose.LOAN_APPLICATION.value,
        scope=[categories.get(code, (code, code)) for code in service.consent_scope(product)],
        valid_until=(utc_now() + timedelta(days=service.CONSENT_DAYS)).date(),
        consent_days=service.CONSENT_DAYS,
        consent_uses=service.CONSENT_USES,
        errors=errors or {},
        refusal=refusal,
    )


@router.get("/market/demands/{demand_id}/apply/{product_id}", name="marketplace:apply_form")
def apply_form(
    request: Request, session: ReadSession, actor: Enterprise, demand_id: Id, product_id: Id
) -> HTMLResponse:
    """The consent the application will create, shown in full before the enterprise applies."""
    return _apply_page(request, session, actor, demand_id, product_id)


@router.post("/market/demands/{demand_id}/apply/{product_id}", name="marketplace:apply")
def apply(
    request: Request,
    session: WriteSession,
    actor: Enterprise,
    demand_id: Id,
    product_id: Id,
    consent: Annotated[str, Form(max_length=8)] = "",
) -> Response:
    # Applying grants the institution a consent: it is given by ticking the box, never implied.
    if consent != "yes":
        issue = keyed_issue(
            "CB-MARKET-CONSENT-UNCHECKED", "market.lending.consent_required", field="consent"
        )
        return _apply_page(
            request,
            session,
            actor,
            demand_id,
            product_id,
            errors={"consent": [issue]},
            status_code=422,
        )
    try:
        app = _in_savepoint(
            session,
            lambda: service.apply(
                session,
                actor,
                demand_id=demand_id,
                product_id=product_id,
                response_days=_response_days(request),
            ),
        )
    except REFUSALS as refused:
        return _apply_page(
            request,
            session,
            actor,
            demand_id,
            product_id,
            refusal=refused,
            status_code=refused.status_code,
        )
    return _redirect(request.url_for("marketplace:application", application_id=app.id).path)


@router.post("/market/demands/{demand_id}/dispatch", name="marketplace:dispatch")
def dispatch(request: Request, session: WriteSession, actor: Enterprise, demand_id: Id) -> Response:
    return _route_demand(request, session, actor, demand_id, service.dispatch)


@router.post("/market/demands/{demand_id}/pool", name="marketplace:to_pool")
def to_pool(request: Request, session: WriteSession, actor: Enterprise, demand_id: Id) -> Response:
    return _route_demand(request, session, actor, demand_id, service.to_pool)


def _route_demand(
    request: Request,
    session: Session,
    actor: Actor,
    demand_id: int,
    send: Callable[..., object],
) -> Response:
    """Send a demand on (to the matched institutions, or to the open pool): back to the demand,
    with the refusal on its page when the service refuses."""
    try:
        _in_savepoint(
            session,
            lambda: send(
                session, actor, demand_id=demand_id, response_days=_response_days(request)
            ),
        )
    except REFUSALS as refused:
        return _demand_page(
            request, session, actor, demand_id, refusal=refused, status_code=refused.status_code
        )
    return _redirect(request.url_for("marketplace:demand", demand_id=demand_id).path)


@router.get("/market/applications/{application_id}/withdraw", name="marketplace:withdraw_confirm")
def withdraw_confirm(
    request: Request, session: ReadSession, actor: Enterprise, application_id: Id
) -> HTMLResponse:
    app = service.access_application(session, actor, application_id)
    return _confirm_page(request, session, actor, app, "withdraw", {})


@router.post("/market/applications/{application_id}/withdraw", name="marketplace:withdraw")
def withdraw(
    request: Request, session: WriteSession, actor: Enterprise, application_id: Id
) -> Response:
    try:
        _in_savepoint(
            session, lambda: service.withdraw(session, actor, application_id=application_id)
        )
    except REFUSALS as refused:
        return _application_page(
            request,
            session,
            actor,
            application_id,
            refusal=refused,
            status_code=refused.status_code,
        )
    return _redirect(request.url_for("marketplace:application", application_id=application_id).path)


LOAN_SORTS: Final = {
    "id": lambda loan: loan.id,
    "amount": lambda loan: loan.amount_fen,
    "disbursed": lambda loan: loan.disbursement_date,
    "maturity": lambda loan: loan.maturity_date,
    "rate": lambda loan: loan.rate_bp,
}


def _loan_status(loan: Loan, today: date) -> str:
    """The status a loan shows and is filtered by: ``overdue`` once it is (see
    :func:`domain.loan_is_overdue`), else its own."""
    return (
        "overdue" if domain.loan_is_overdue(loan.status, loan.maturity_date, today) else loan.status
    )


def _my_loan_rows(session: Session, actor: Actor, query: ListQuery) -> list[Loan]:
    chosen = _criteria(query)
    today = local_today()
    loans = [
        loan
        for loan in service.list_loans_for_subject(session, actor)
        if chosen.keeps(
            status=_loan_status(loan, today),
            amount_fen=loan.amount_fen,
            day=loan.disbursement_date,
        )
    ]
    return _sorted(loans, query.sort, LOAN_SORTS)


@router.get("/market/loans", name="marketplace:my_loans")
def my_loans(request: Request, session: ReadSession, actor: Enterprise) -> HTMLResponse:
    query = _list_query(request, sortable=LOAN_SORTS, default_sort="-disbursed")
    loans = _my_loan_rows(session, actor, query)
    page = listing.paginate(loans, query)
    return render(
        request,
        "marketplace/my_loans.html",
        loans=page.items,
        institutions=service.institution_names(session, {loan.institution_id for loan in loans}),
        status_options=_options(
            language(request), "market_loan_status", ("current", "overdue", "repaid", "defaulted")
        ),
        overdue=lambda loan: domain.loan_is_overdue(loan.status, loan.maturity_date, local_today()),
        **_list_context(query, page),
    )


@router.get("/market/loans/export", name="marketplace:my_loans_export")
def my_loans_export(
    request: Request, session: ReadSession, actor: Enterprise, fmt: ExportFormat = "csv"
) -> Response:
    lang = language(request)
    query = _list_query(request, sortable=LOAN_SORTS, default_sort="-disbursed")
    loans = _my_loan_rows(session, actor, query)
    names = service.institution_names(session, {loan.institution_id for loan in loans})
    return _export("my-loans", fmt, _loan_headers(lang), _loan_cells(lang, loans, names))


def _loan_headers(lang: i18n.Language) -> list[str]:
    tr = i18n.translate
    return [
        tr(lang, "market.lending.col.loan_id"),
        tr(lang, "market.institution"),
        tr(lang, "market.amount_wan"),
        tr(lang, "market.rate_pct"),
        tr(lang, "market.term_months"),
        tr(lang, "market.security_type"),
        tr(lang, "market.disbursed_on"),
        tr(lang, "market.maturity"),
        tr(lang, "market.status"),
        tr(lang, "market.lending.col.repaid_yuan"),
    ]


def _loan_cells(
    lang: i18n.Language, loans: Sequence[Loan], names: dict[int, str]
) -> list[list[object]]:
    today = local_today()
    return [
        [
            loan.id,
            names.get(loan.institution_id, ""),
            loan.amount_fen / domain.WAN_FEN,
            loan.rate_bp / 100,
            loan.term_months,
            i18n.label(lang, "market_security", loan.security_type),
            loan.disbursement_date.isoformat(),
            loan.maturity_date.isoformat(),
            i18n.label(lang, "market_loan_status", _loan_status(loan, today)),
            loan.repaid_fen / 100,
        ]
        for loan in loans
    ]


# --- Institution -----------------------------------------------------------------------------


APP_SORTS: Final = {
    "id": lambda a: a.id,
    "amount": lambda a: a.amount_fen,
    "respond_by": lambda a: a.respond_by,
    "submitted": lambda a: a.created_at,
}


def _inbox_rows(
    session: Session, actor: Actor, query: ListQuery
) -> tuple[list[Application], dict[int, application_service.Party]]:
    apps = service.list_applications(session, actor, limit=1000)
    parties = application_service.parties(session, actor, apps)
    chosen = _criteria(query)
    kept = []
    for a in apps:
        party = parties.get(a.subject_id)
        if chosen.keeps(
            status=a.status,
            division_code=party.division_code if party else None,
            industry_section=party.industry_section if party else None,
            amount_fen=a.amount_fen,
            day=a.created_at.date(),
        ):
            kept.append(a)
    return _sorted(kept, query.sort, APP_SORTS), parties


@router.get("/market/inbox", name="marketplace:inbox")
def inbox(request: Request, session: ReadSession, actor: Officer) -> HTMLResponse:
    query = _list_query(request, sortable=APP_SORTS, default_sort="-id")
    apps, parties = _inbox_rows(session, actor, query)
    done = [a for a in apps if a.status not in ("submitted", *OPEN_STATUSES)]
    page = listing.paginate(done, query)
    pool = service.list_pool(session, limit=5)
    return render(
        request,
        "marketplace/inbox.html",
        waiting=[a for a in apps if a.status == "submitted"],
        working=[a for a in apps if a.status in OPEN_STATUSES],
        done=page.items,
        pool=pool,
        pool_total=demand_service.count_pool(session),
        parties=parties,
        subjects=service.subject_names(
            session, {a.subject_id for a in apps} | {d.subject_id for d in pool}
        ),
        products={p.id: p for p in service.list_products(session, status=None)},
        notifications=service.list_notifications(session, actor, limit=8),
        subscribed=service.is_subscribed(session, actor),
        status_options=_options(
            language(request), "market_app_status", [s.value for s in domain.AppStatus]
        ),
        stage=_app_stage,
        stages=domain.APP_STAGES,
        **_list_context(query, page),
    )


@router.get("/market/inbox/export", name="marketplace:inbox_export")
def inbox_export(
    request: Request, session: ReadSession, actor: Officer, fmt: ExportFormat = "csv"
) -> Response:
    lang = language(request)
    query = _list_query(request, sortable=APP_SORTS, default_sort="-id")
    apps, parties = _inbox_rows(session, actor, query)
    products = {p.id: p for p in service.list_products(session, status=None)}
    tr = i18n.translate
    headers = [
        tr(lang, "market.lending.col.id"),
        tr(lang, "market.enterprise"),
        tr(lang, "market.lending.col.uscc"),
        tr(lang, "market.lending.region"),
        tr(lang, "market.lending.industry"),
        tr(lang, "market.product"),
        tr(lang, "market.amount_wan"),
        tr(lang, "market.lending.col.submitted"),
        tr(lang, "market.respond_by"),
        tr(lang, "market.status"),
        tr(lang, "market.lending.col.late"),
    ]
    today = local_today()
    rows = []
    for a in apps:
        party = parties.get(a.subject_id)
        late = a.status == "submitted" and domain.is_late(a.respond_by, today)
        rows.append(
            [
                a.id,
                party.name if party else "",
                party.uscc if party else "",
                _region_name(party.division_code if party else None),
                _industry_name(lang, party.industry_section if party else None),
                products[a.product_id].name if a.product_id in products else "",
                a.amount_fen / domain.WAN_FEN,
                a.created_at.date().isoformat(),
                a.respond_by.isoformat() if a.respond_by else "",
                i18n.label(lang, "market_app_status", a.status),
                tr(lang, "market.lending.yes") if late else "",
            ]
        )
    return _export("inbox", fmt, headers, rows)


POOL_SORTS: Final = {
    "id": lambda r: r.demand.id,
    "amount": lambda r: r.demand.amount_fen,
    "term": lambda r: r.demand.term_months,
    "respond_by": lambda r: r.demand.respond_by,
    "grade": lambda r: domain.grade_rank(r.grade),
}


def _pool_rows(session: Session, actor: Actor, query: ListQuery) -> list[demand_service.PoolRow]:
    chosen = _criteria(query)
    rows = [
        r
        for r in demand_service.list_pool_rows(session, actor)
        if chosen.keeps(
            division_code=r.division_code,
            industry_section=r.industry_section,
            amount_fen=r.demand.amount_fen,
            grade=r.grade,
            day=r.demand.created_at.date(),
        )
    ]
    return _sorted(rows, query.sort, POOL_SORTS)


@router.get("/market/pool", name="marketplace:pool")
def pool(request: Request, session: ReadSession, actor: Officer) -> HTMLResponse:
    """The open pool (自由抢单) with what an officer judges a demand by before grabbing it."""
    query = _list_query(request, sortable=POOL_SORTS, default_sort="respond_by")
    rows = _pool_rows(session, actor, query)
    page = listing.paginate(rows, query)
    return render(
        request,
        "marketplace/pool.html",
        rows=page.items,
        **_list_context(query, page),
    )


@router.get("/market/pool/export", name="marketplace:pool_export")
def pool_export(
    request: Request, session: ReadSession, actor: Officer, fmt: ExportFormat = "csv"
) -> Response:
    lang = language(request)
    query = _list_query(request, sortable=POOL_SORTS, default_sort="respond_by")
    tr = i18n.translate
    headers = [
        tr(lang, "market.lending.col.id"),
        tr(lang, "market.enterprise"),
        tr(lang, "market.lending.region"),
        tr(lang, "market.lending.industry"),
        tr(lang, "market.grade"),
        tr(lang, "market.amount_wan"),
        tr(lang, "market.term_months"),
        tr(lang, "market.purpose"),
        tr(lang, "market.posted_at"),
        tr(lang, "market.respond_by"),
    ]
    rows = [
        [
            r.demand.id,
            r.name,
            _region_name(r.division_code),
            _industry_name(lang, r.industry_section),
            r.grade or "",
            r.demand.amount_fen / domain.WAN_FEN,
            r.demand.term_months,
            r.demand.purpose,
            r.demand.created_at.date().isoformat(),
            r.demand.respond_by.isoformat() if r.demand.respond_by else "",
        ]
        for r in _pool_rows(session, actor, query)
    ]
    return _export("open-pool", fmt, headers, rows)


def _grab_page(
    request: Request,
    session: Session,
    actor: Actor,
    demand_id: int,
    *,
    errors: dict[str, list[Issue]] | None = None,
    refusal: DomainError | None = None,
    chosen: str = "",
    status_code: int = 200,
) -> HTMLResponse:
    demand = service.access_demand(session, actor, demand_id)
    products = (
        demand_service.grab_products(session, actor, demand_id=demand.id)
        if demand.status == domain.DemandStatus.POOL.value
        else []
    )
    return render(
        request,
        "marketplace/lending_confirm.html",
        status_code=status_code,
        move="grab",
        action=request.url_for("marketplace:grab", demand_id=demand.id).path,
        back=request.url_for("marketplace:pool").path,
        demand=demand,
        app=None,
        product=None,
        subject=service.subject_names(session, [demand.subject_id]).get(demand.subject_id),
        choices=products,
        chosen=chosen or (str(products[0].id) if products else ""),
        values={},
        errors=errors or {},
        refusal=refusal,
    )


@router.get("/market/demands/{demand_id}/grab", name="marketplace:grab_confirm")
def grab_confirm(
    request: Request, session: ReadSession, actor: Officer, demand_id: Id
) -> HTMLResponse:
    """Which of the institution's products the grab opens an application for, and what a grab
    means, before the institution takes the demand."""
    return _grab_page(request, session, actor, demand_id)


@router.post("/market/demands/{demand_id}/grab", name="marketplace:grab")
def grab(
    request: Request,
    session: WriteSession,
    actor: Officer,
    demand_id: Id,
    product_id: Annotated[str, Form(max_length=20)] = "",
) -> Response:
    # Without a product (an older form, a script) the service picks the best fitting one.
    chosen = int(product_id) if product_id.isdigit() else None
    if product_id and chosen is None:
        issue = keyed_issue("CB-MARKET-PRODUCT", "market.lending.choose_product", field="product")
        return _grab_page(
            request, session, actor, demand_id, errors={"product": [issue]}, status_code=422
        )
    try:
        app = _in_savepoint(
            session,
            lambda: service.grab(
                session,
                actor,
                demand_id=demand_id,
                product_id=chosen,
                response_days=_response_days(request),
            ),
        )
    except REFUSALS as refused:
        return _grab_page(
            request,
            session,
            actor,
            demand_id,
            refusal=refused,
            chosen=product_id,
            status_code=refused.status_code,
        )
    return _redirect(request.url_for("marketplace:application", application_id=app.id).path)


@router.get("/market/applications/{application_id}", name="marketplace:application")
def application_detail(
    request: Request, session: ReadSession, actor: Anyone, application_id: Id
) -> HTMLResponse:
    return _application_page(request, session, actor, application_id)


@router.post("/market/applications/{application_id}/score", name="marketplace:read_score")
def application_score(
    request: Request, session: WriteSession, actor: Officer, application_id: Id
) -> HTMLResponse:
    """The page with the score read under the application's consent: one use of the consent
    and an audited access, so a POST with the page's CSRF token, never a link."""
    return _application_page(request, session, actor, application_id, score=True)


def _application_page(
    request: Request,
    session: Session,
    actor: Actor,
    application_id: int,
    *,
    score: bool = False,
    move: str = "",
    values: dict[str, str] | None = None,
    errors: dict[str, list[Issue]] | None = None,
    refusal: DomainError | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    app = service.access_application(session, actor, application_id)
    product = service.get_product_or_raise(session, app.product_id)
    score_view: Any = None
    score_error: str | None = None
    if score and actor.role is Role.INSTITUTION_OFFICER:
        try:
            score_view = service.read_score_for_application(session, actor, application_id=app.id)
        except (ConsentRefused, NotFound) as refused:  # NotFound: no score yet
            score_error = refused.message
    subject = service.subject_names(session, [app.subject_id]).get(app.subject_id)
    report_url = None
    if actor.role is Role.INSTITUTION_OFFICER and subject:
        # The form posts the application's consent and purpose (see the template).
        report_url = _path_or_none(request, "reports:report", uscc=subject[0])
    return render(
        request,
        "marketplace/application.html",
        status_code=status_code,
        app=app,
        product=product,
        actor=actor,
        moves=[m.value for m in domain.allowed_moves(app.status)],
        subject=subject,
        institution=service.institution_name(session, app.institution_id),
        loan=service.access_loan(session, actor, app.loan_id) if app.loan_id else None,
        score=score_view,
        score_error=score_error,
        report_url=report_url,
        stage=_app_stage(app),
        stages=domain.APP_STAGES,
        late=app.status == "submitted" and domain.is_late(app.respond_by, local_today()),
        failed_move=move,
        values=values or {},
        errors=errors or {},
        refusal=refusal,
    )


@dataclass(frozen=True)
class MoveInput:
    """A step's form as typed and as parsed: amounts in fen, the rate in basis points."""

    values: dict[str, str]
    issues: list[Issue]
    amount_fen: int = 0
    rate_bp: int | None = None
    term_months: int | None = None


def _parse_move(
    which: AppMove, *, reason: str, amount_wan: str, rate_pct: str, term_months: str
) -> MoveInput:
    issues: list[Issue] = []
    values = {
        "reason": reason,
        "amount_wan": amount_wan,
        "rate_pct": rate_pct,
        "term_months": term_months,
    }
    if which in domain.REASON_REQUIRED and not reason.strip():
        issues.append(
            keyed_issue("CB-MARKET-REASON", "error.marketplace.fill_reason", field="reason")
        )
    if which not in (AppMove.APPROVE, AppMove.DISBURSE):
        return MoveInput(values, issues)
    amount = _fen(amount_wan, "amount", issues)
    if which is AppMove.DISBURSE:
        return MoveInput(values, issues, amount_fen=amount)
    rate = _bp(rate_pct, "rate_bp", issues)
    term = _months(term_months, "term_months", issues) if term_months.strip() else None
    return MoveInput(values, issues, amount_fen=amount, rate_bp=rate, term_months=term)


@router.get("/market/applications/{application_id}/confirm/{move}", name="marketplace:move_confirm")
def move_confirm(
    request: Request,
    session: ReadSession,
    actor: Officer,
    application_id: Id,
    move: Annotated[str, Path(pattern="^(accept|decline|approve|reject|disburse)$")],
    reason: Annotated[str, Query(max_length=500)] = "",
    amount_wan: Annotated[str, Query(max_length=20)] = "",
    rate_pct: Annotated[str, Query(max_length=10)] = "",
    term_months: Annotated[str, Query(max_length=10)] = "",
) -> HTMLResponse:
    """What the step will do, with the values typed; a typing error goes back to the
    application page with the input kept (nothing is written by this GET)."""
    app = service.access_application(session, actor, application_id)
    parsed = _parse_move(
        AppMove(move),
        reason=reason,
        amount_wan=amount_wan,
        rate_pct=rate_pct,
        term_months=term_months,
    )
    if parsed.issues:
        return _move_again(request, session, actor, application_id, move, parsed)
    return _confirm_page(request, session, actor, app, move, parsed.values)


def _move_again(
    request: Request,
    session: Session,
    actor: Actor,
    application_id: int,
    move: str,
    parsed: MoveInput,
    refusal: DomainError | None = None,
) -> HTMLResponse:
    """The application page with a step's form again, its input kept: the typing issues at their
    fields (422), or the service's refusal with its issues."""
    return _application_page(
        request,
        session,
        actor,
        application_id,
        move=move,
        values=parsed.values,
        errors=_errors_by_field(refusal.issues if refusal else parsed.issues),
        refusal=refusal,
        status_code=refusal.status_code if refusal else 422,
    )


def _confirm_page(
    request: Request,
    session: Session,
    actor: Actor,
    app: Application,
    move: str,
    values: dict[str, str],
) -> HTMLResponse:
    product = service.get_product_or_raise(session, app.product_id)
    action = (
        request.url_for("marketplace:withdraw", application_id=app.id).path
        if move == "withdraw"
        else request.url_for("marketplace:move", application_id=app.id, move=move).path
    )
    return render(
        request,
        "marketplace/lending_confirm.html",
        move=move,
        action=action,
        back=request.url_for("marketplace:application", application_id=app.id).path,
        demand=None,
        app=app,
        product=product,
        institution=service.institution_name(session, app.institution_id),
        subject=service.subject_names(session, [app.subject_id]).get(app.subject_id),
        choices=[],
        chosen="",
        values=values,
        errors={},
        refusal=None,
    )


@router.post("/market/applications/{application_id}/{move}", name="marketplace:move")
def application_move(
    request: Request,
    session: WriteSession,
    actor: Officer,
    application_id: Id,
    move: Annotated[str, Path(pattern="^(accept|decline|review|approve|reject|disburse)$")],
    reason: Annotated[str, Form(max_length=500)] = "",
    amount_wan: Annotated[str, Form(max_length=20)] = "",
    rate_pct: Annotated[str, Form(max_length=10)] = "",
    term_months: Annotated[str, Form(max_length=10)] = "",
) -> Response:
    which = AppMove(move)
    parsed = _parse_move(
        which, reason=reason, amount_wan=amount_wan, rate_pct=rate_pct, term_months=term_months
    )
    if which in (AppMove.APPROVE, AppMove.DISBURSE) and parsed.issues:
        return _move_again(request, session, actor, application_id, move, parsed)
    try:
        _in_savepoint(
            session, lambda: _do_move(request, session, actor, application_id, which, parsed)
        )
    except REFUSALS as refused:
        return _move_again(request, session, actor, application_id, move, parsed, refused)
    return _redirect(request.url_for("marketplace:application", application_id=application_id).path)


def _do_move(
    request: Request,
    session: Session,
    actor: Actor,
    application_id: int,
    which: AppMove,
    parsed: MoveInput,
) -> None:
    reason = parsed.values["reason"]
    if which is AppMove.ACCEPT:
        service.accept(session, actor, application_id=application_id)
    elif which is AppMove.DECLINE:
        service.decline(
            session,
            actor,
            application_id=application_id,
            reason=reason,
            response_days=_response_days(request),
        )
    elif which is AppMove.REVIEW:
        service.start_review(session, actor, application_id=application_id)
    elif which is AppMove.REJECT:
        service.reject(session, actor, application_id=application_id, reason=reason)
    elif which is AppMove.APPROVE:
        assert parsed.rate_bp is not None  # _parse_move refused a missing rate
        service.approve(
            session,
            actor,
            application_id=application_id,
            amount_fen=parsed.amount_fen,
            rate_bp=parsed.rate_bp,
            term_months=parsed.term_months,
        )
    else:
        service.disburse(
            session, actor, application_id=application_id, amount_fen=parsed.amount_fen
        )


def _upload_page(
    request: Request,
    session: Session,
    actor: Actor,
    *,
    result: Any = None,
    refusal: DomainError | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    loans = loan_service.list_loans_for_institution(session, actor, limit=200)
    return render(
        request,
        "marketplace/upload.html",
        status_code=status_code,
        result=result,
        refusal=refusal,
        loans=loans,
        subjects=service.subject_names(session, {loan.subject_id for loan in loans}),
        columns=loan_service.UPLOAD_HEADERS,
        overdue=lambda loan: domain.loan_is_overdue(loan.status, loan.maturity_date, local_today()),
    )


@router.get("/market/loans/upload", name="marketplace:upload")
def upload_form(request: Request, session: ReadSession, actor: Officer) -> HTMLResponse:
    return _upload_page(request, session, actor)


@router.get("/market/loans/upload/template", name="marketplace:upload_template")
def upload_template(
    request: Request, session: ReadSession, actor: Officer, fmt: ExportFormat = "csv"
) -> Response:
    """The upload's template: the Chinese headers and one example row, on one of the
    institution's own loans when it has one (replace it before uploading)."""
    loans = loan_service.list_loans_for_institution(session, actor, limit=1)
    example = [
        loans[0].id if loans else 1,
        loan_service.EVENT_NAMES["repayment"],
        "10000.00",
        local_today().isoformat(),
    ]
    return _export(
        "loan-events-template", fmt, list(loan_service.UPLOAD_HEADERS.values()), [example]
    )


@router.post("/market/loans/upload", name="marketplace:upload_submit")
def upload_submit(
    request: Request,
    session: WriteSession,
    actor: Officer,
    file: Annotated[UploadFile, File()],
) -> HTMLResponse:
    # A plain def (worker thread): the upload and its rows go to the database synchronously.
    content = file.file.read(MAX_UPLOAD + 1)
    if len(content) > MAX_UPLOAD:
        refusal = keyed(
            ValidationFailed,
            "error.marketplace.file_too_large",
            issues=[keyed_issue("CB-MARKET-FILE", "error.marketplace.file_limit", field="file")],
        )
        return _upload_page(request, session, actor, refusal=refusal, status_code=422)
    try:
        result = _in_savepoint(
            session,
            lambda: service.upload_loan_events(
                session, actor, filename=file.filename or "upload.csv", content=content
            ),
        )
    except REFUSALS as refused:
        return _upload_page(
            request, session, actor, refusal=refused, status_code=refused.status_code
        )
    return _upload_page(request, session, actor, result=result)


@router.get("/market/notifications", name="marketplace:notifications")
def notifications(request: Request, session: ReadSession, actor: Anyone) -> HTMLResponse:
    return render(
        request,
        "marketplace/notifications.html",
        notifications=service.list_notifications(session, actor, limit=200),
    )
