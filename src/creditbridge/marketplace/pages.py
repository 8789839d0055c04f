"""Pages of the marketplace: the enterprise publishes demands, sees recommendations, applies and
sees its loans; the institution works its inbox, the open pool and its applications, publishes
products and uploads loan events; the operator reviews products, escalations and the whitelist;
both see the lending outcomes. Handlers parse forms and call the service; rules live there."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Annotated, Any, Final

from fastapi import APIRouter, Depends, File, Form, Path, Query, Request, UploadFile
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.orm import Session
from starlette.routing import NoMatchFound

from creditbridge.consent.errors import ConsentRefused
from creditbridge.core import types
from creditbridge.core.actors import Actor, Role
from creditbridge.core.config import Settings
from creditbridge.core.errors import Issue, NotFound, ValidationFailed
from creditbridge.core.types import FEN_MAX
from creditbridge.marketplace import analytics, domain, service
from creditbridge.marketplace.domain import AppMove, Level
from creditbridge.presentation import i18n
from creditbridge.presentation.errors import keyed, keyed_issue
from creditbridge.reference import divisions
from creditbridge.web.auth import require_roles
from creditbridge.web.deps import ReadSession, WriteSession
from creditbridge.web.templating import language, render

router = APIRouter(include_in_schema=False)

Id = Annotated[types.Id, Path()]
Enterprise = Annotated[Actor, Depends(require_roles(Role.ENTERPRISE_USER))]
Officer = Annotated[Actor, Depends(require_roles(Role.INSTITUTION_OFFICER))]
Operator = Annotated[Actor, Depends(require_roles(Role.OPERATOR))]
Anyone = Annotated[
    Actor,
    Depends(require_roles(Role.ENTERPRISE_USER, Role.INSTITUTION_OFFICER, Role.OPERATOR)),
]
Watcher = Annotated[Actor, Depends(require_roles(Role.INSTITUTION_OFFICER, Role.OPERATOR))]
MAX_UPLOAD: Final = 5 * 1024 * 1024


def _redirect(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)


def _response_days(request: Request) -> int:
    """Working days an institution has to answer, as this app is configured."""
    settings: Settings = request.app.state.settings
    return settings.market_response_days


def _path_or_none(request: Request, name: str, **params: str) -> str | None:
    """The route's path, or None while the module that serves it is not installed."""
    try:
        return str(request.app.url_path_for(name, **params))
    except NoMatchFound:
        return None


def _fen(raw: str, name: str, issues: list[Issue]) -> int:
    """万元 as typed → fen."""
    try:
        value = Decimal(raw.strip().replace(",", ""))
        # quantize raises on 1E+30 (more digits than the context holds): keep it in the try.
        fits = value.is_finite() and 0 < value * domain.WAN_FEN <= FEN_MAX
        fits = fits and value == value.quantize(Decimal("0.000001"))
    except ArithmeticError:  # InvalidOperation, and Overflow of 1E+999999 × 10^6
        fits = False
    if not fits:
        issues.append(keyed_issue("CB-FORM-AMOUNT", "error.marketplace.form_amount", field=name))
        return 0
    return int(value * domain.WAN_FEN)


def _bp(raw: str, name: str, issues: list[Issue], *, required: bool = True) -> int | None:
    """A rate typed in % → basis points."""
    if not raw.strip() and not required:
        return None
    try:
        value = Decimal(raw.strip())
        fits = value.is_finite() and 0 < value <= 1000 and value == value.quantize(Decimal("0.01"))
    except ArithmeticError:  # InvalidOperation, and Overflow of 1E+999999 × 10^6
        fits = False
    if not fits:
        issues.append(keyed_issue("CB-FORM-RATE", "error.marketplace.form_rate", field=name))
        return None
    return int(value * 100)


def _months(raw: str, name: str, issues: list[Issue]) -> int:
    text = raw.strip()
    if not text.isdigit() or not 1 <= int(text) <= 360:
        issues.append(keyed_issue("CB-FORM-TERM", "error.marketplace.form_term", field=name))
        return 0
    return int(text)


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
            demand = service.post_demand(
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
            )
        except ValidationFailed as failure:
            issues = failure.issues
        else:
            return _redirect(request.url_for("marketplace:demand", demand_id=demand.id).path)
    for issue in issues:
        form.errors.setdefault(issue.field or "", []).append(issue.message)
    return _demand_form(request, form, status_code=422)


@router.get("/market/demands", name="marketplace:my_demands")
def my_demands(request: Request, session: ReadSession, actor: Enterprise) -> HTMLResponse:
    demands = service.list_demands_for_subject(session, actor)
    apps = service.list_applications(session, actor)
    return render(
        request,
        "marketplace/my_demands.html",
        demands=demands,
        applications=apps,
        products={p.id: p for p in service.list_products(session, status=None)},
        institutions=service.institution_names(session, {a.institution_id for a in apps}),
        notifications=service.list_notifications(session, actor, limit=8),
    )


@router.get("/market/demands/{demand_id}", name="marketplace:demand")
def demand_detail(
    request: Request, session: ReadSession, actor: Anyone, demand_id: Id
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
        demand=demand,
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
    )


@router.post("/market/demands/{demand_id}/apply/{product_id}", name="marketplace:apply")
def apply(
    request: Request, session: WriteSession, actor: Enterprise, demand_id: Id, product_id: Id
) -> Response:
    app = service.apply(
        session,
        actor,
        demand_id=demand_id,
        product_id=product_id,
        response_days=_response_days(request),
    )
    return _redirect(request.url_for("marketplace:application", application_id=app.id).path)


@router.post("/market/demands/{demand_id}/dispatch", name="marketplace:dispatch")
def dispatch(request: Request, session: WriteSession, actor: Enterprise, demand_id: Id) -> Response:
    service.dispatch(session, actor, demand_id=demand_id, response_days=_response_days(request))
    return _redirect(request.url_for("marketplace:demand", demand_id=demand_id).path)


@router.post("/market/demands/{demand_id}/pool", name="marketplace:to_pool")
def to_pool(request: Request, session: WriteSession, actor: Enterprise, demand_id: Id) -> Response:
    service.to_pool(session, actor, demand_id=demand_id, response_days=_response_days(request))
    return _redirect(request.url_for("marketplace:demand", demand_id=demand_id).path)


@router.post("/market/applications/{application_id}/withdraw", name="marketplace:withdraw")
def withdraw(
    request: Request, session: WriteSession, actor: Enterprise, application_id: Id
) -> Response:
    service.withdraw(session, actor, application_id=application_id)
    return _redirect(request.url_for("marketplace:application", application_id=application_id).path)


@router.get("/market/loans", name="marketplace:my_loans")
def my_loans(request: Request, session: ReadSession, actor: Enterprise) -> HTMLResponse:
    loans = service.list_loans_for_subject(session, actor)
    return render(
        request,
        "marketplace/my_loans.html",
        loans=loans,
        institutions=service.institution_names(session, {loan.institution_id for loan in loans}),
    )


# --- Institution -----------------------------------------------------------------------------


@router.get("/market/inbox", name="marketplace:inbox")
def inbox(request: Request, session: ReadSession, actor: Officer) -> HTMLResponse:
    apps = service.list_applications(session, actor)
    pool = service.list_pool(session)
    return render(
        request,
        "marketplace/inbox.html",
        waiting=[a for a in apps if a.status == "submitted"],
        working=[a for a in apps if a.status in ("accepted", "under_review", "approved")],
        done=[
            a for a in apps if a.status not in ("submitted", "accepted", "under_review", "approved")
        ][:30],
        pool=pool,
        subjects=service.subject_names(
            session, {a.subject_id for a in apps} | {d.subject_id for d in pool}
        ),
        products={p.id: p for p in service.list_products(session, status=None)},
        notifications=service.list_notifications(session, actor, limit=8),
        subscribed=service.is_subscribed(session, actor),
    )


@router.post("/market/demands/{demand_id}/grab", name="marketplace:grab")
def grab(request: Request, session: WriteSession, actor: Officer, demand_id: Id) -> Response:
    app = service.grab(session, actor, demand_id=demand_id, response_days=_response_days(request))
    return _redirect(request.url_for("marketplace:application", application_id=app.id).path)


@router.get("/market/applications/{application_id}", name="marketplace:application")
def application_detail(
    request: Request, session: ReadSession, actor: Anyone, application_id: Id
) -> HTMLResponse:
    return _application_page(request, session, actor, application_id, score=False)


@router.post("/market/applications/{application_id}/score", name="marketplace:read_score")
def application_score(
    request: Request, session: WriteSession, actor: Officer, application_id: Id
) -> HTMLResponse:
    """The page with the score read under the application's consent: one use of the consent
    and an audited access, so a POST with the page's CSRF token, never a link."""
    return _application_page(request, session, actor, application_id, score=True)


def _application_page(
    request: Request, session: Session, actor: Actor, application_id: int, *, score: bool
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
    else:
        issues: list[Issue] = []
        amount = _fen(amount_wan, "amount", issues)
        if which is AppMove.APPROVE:
            rate = _bp(rate_pct, "rate_bp", issues)
            term = _months(term_months, "term_months", issues) if term_months.strip() else None
            if issues or rate is None:
                raise keyed(ValidationFailed, "error.marketplace.approval_invalid", issues=issues)
            service.approve(
                session,
                actor,
                application_id=application_id,
                amount_fen=amount,
                rate_bp=rate,
                term_months=term,
            )
        else:
            if issues:
                raise keyed(
                    ValidationFailed, "error.marketplace.disbursement_invalid", issues=issues
                )
            service.disburse(session, actor, application_id=application_id, amount_fen=amount)
    return _redirect(request.url_for("marketplace:application", application_id=application_id).path)


@router.get("/market/products", name="marketplace:products")
def products(request: Request, session: ReadSession, actor: Officer) -> HTMLResponse:
    assert actor.institution_id is not None
    return render(
        request,
        "marketplace/products.html",
        mine=service.list_products(session, status=None, institution_id=actor.institution_id),
        published=service.list_products(session),
        institutions=service.institution_names(
            session, {p.institution_id for p in service.list_products(session)}
        ),
        product_types=domain.PRODUCT_TYPES,
        security_types=domain.SECURITY_TYPES,
        region_name=lambda code: divisions.name(code) or code,
    )


@router.post("/market/products", name="marketplace:product_submit")
def product_submit(
    request: Request,
    session: WriteSession,
    actor: Officer,
    code: Annotated[str, Form(max_length=64)] = "",
    name: Annotated[str, Form(max_length=200)] = "",
    product_type: Annotated[str, Form(max_length=32)] = "",
    security_type: Annotated[str, Form(max_length=16)] = "",
    min_amount_wan: Annotated[str, Form(max_length=20)] = "",
    max_amount_wan: Annotated[str, Form(max_length=20)] = "",
    min_rate_pct: Annotated[str, Form(max_length=10)] = "",
    max_rate_pct: Annotated[str, Form(max_length=10)] = "",
    min_term_months: Annotated[str, Form(max_length=10)] = "",
    max_term_months: Annotated[str, Form(max_length=10)] = "",
    min_grade: Annotated[str, Form(max_length=4)] = "",
    min_years: Annotated[str, Form(max_length=4)] = "0",
    size_classes: Annotated[list[str] | None, Form(max_length=8)] = None,
    required_tags: Annotated[list[str] | None, Form(max_length=16)] = None,
) -> Response:
    issues: list[Issue] = []
    spec = service.ProductInput(
        code=code.strip(),
        name=name.strip(),
        product_type=product_type,
        security_type=security_type,
        min_amount_fen=_fen(min_amount_wan, "min_amount_fen", issues),
        max_amount_fen=_fen(max_amount_wan, "max_amount_fen", issues),
        min_rate_bp=_bp(min_rate_pct, "min_rate_bp", issues) or 0,
        max_rate_bp=_bp(max_rate_pct, "max_rate_bp", issues) or 0,
        min_term_months=_months(min_term_months, "min_term_months", issues),
        max_term_months=_months(max_term_months, "max_term_months", issues),
        min_grade=min_grade or None,
        min_years=int(min_years) if min_years.isdigit() else 0,
        size_classes=list(size_classes or []),
        required_tags=list(required_tags or []),
    )
    if issues:
        raise keyed(ValidationFailed, "error.marketplace.product_invalid", issues=issues)
    service.submit_product(session, actor, spec)
    return _redirect(request.url_for("marketplace:products").path)


@router.get("/market/loans/upload", name="marketplace:upload")
def upload_form(request: Request, actor: Officer) -> HTMLResponse:
    return render(request, "marketplace/upload.html", result=None)


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
        raise keyed(
            ValidationFailed,
            "error.marketplace.file_too_large",
            issues=[keyed_issue("CB-MARKET-FILE", "error.marketplace.file_limit", field="file")],
        )
    result = service.upload_loan_events(
        session, actor, filename=file.filename or "upload.csv", content=content
    )
    return render(request, "marketplace/upload.html", result=result)


@router.post("/market/whitelist/subscribe", name="marketplace:subscribe")
def subscribe(request: Request, session: WriteSession, actor: Officer) -> Response:
    service.subscribe_whitelist(session, actor)
    return _redirect(request.url_for("marketplace:inbox").path)


# --- Operator --------------------------------------------------------------------------------


@router.get("/market/review", name="marketplace:review")
def review(request: Request, session: ReadSession, actor: Operator) -> HTMLResponse:
    pending = service.list_products(session, status="pending_review")
    escalated = service.list_escalated(session, actor)
    return render(
        request,
        "marketplace/review.html",
        pending=pending,
        escalated=escalated,
        institutions=service.institution_names(session, {p.institution_id for p in pending}),
        subjects=service.subject_names(session, {d.subject_id for d in escalated}),
        notifications=service.list_notifications(session, actor, limit=10),
    )


@router.post("/market/products/{product_id}/review", name="marketplace:product_review")
def product_review(
    request: Request,
    session: WriteSession,
    actor: Operator,
    product_id: Id,
    decision: Annotated[str, Form(pattern="^(approve|reject)$")],
    note: Annotated[str, Form(max_length=500)] = "",
) -> Response:
    service.review_product(
        session, actor, product_id=product_id, approve=decision == "approve", note=note
    )
    return _redirect(request.url_for("marketplace:review").path)


@router.post("/market/demands/{demand_id}/redispatch", name="marketplace:redispatch")
def redispatch(request: Request, session: WriteSession, actor: Operator, demand_id: Id) -> Response:
    service.dispatch(session, actor, demand_id=demand_id, response_days=_response_days(request))
    return _redirect(request.url_for("marketplace:review").path)


@router.get("/market/whitelist", name="marketplace:whitelist")
def whitelist(request: Request, session: ReadSession, actor: Operator) -> HTMLResponse:
    entries = service.list_whitelist(session)
    return render(
        request,
        "marketplace/whitelist.html",
        entries=entries,
        subjects=service.subject_names(session, {e.subject_id for e in entries}),
        stage={level.value: before.value for level, (before, _) in domain.REVIEW_STAGE.items()},
    )


@router.post("/market/whitelist/propose", name="marketplace:whitelist_propose")
def whitelist_propose(request: Request, session: WriteSession, actor: Operator) -> Response:
    service.propose_whitelist(session, actor)
    return _redirect(request.url_for("marketplace:whitelist").path)


@router.post("/market/whitelist/{entry_id}/review/{level}", name="marketplace:whitelist_review")
def whitelist_review(
    request: Request,
    session: WriteSession,
    actor: Operator,
    entry_id: Id,
    level: Annotated[str, Path(pattern="^(county|city|province)$")],
    decision: Annotated[str, Form(pattern="^(pass|reject)$")],
    note: Annotated[str, Form(max_length=500)] = "",
) -> Response:
    service.review_whitelist(
        session, actor, entry_id=entry_id, level=Level(level), approve=decision == "pass", note=note
    )
    return _redirect(request.url_for("marketplace:whitelist").path)


@router.post("/market/whitelist/{entry_id}/remove", name="marketplace:whitelist_remove")
def whitelist_remove(
    request: Request,
    session: WriteSession,
    actor: Operator,
    entry_id: Id,
    reason: Annotated[str, Form(max_length=500)] = "",
) -> Response:
    service.remove_from_whitelist(session, actor, entry_id=entry_id, reason=reason)
    return _redirect(request.url_for("marketplace:whitelist").path)


# --- Outcomes --------------------------------------------------------------------------------


def _by(value: str) -> analytics.Dimension:
    for dimension in analytics.DIMENSIONS:
        if dimension == value:
            return dimension
    return "city"


@router.get("/market/outcomes", name="marketplace:outcomes")
def outcomes(
    request: Request,
    session: ReadSession,
    actor: Watcher,
    by: Annotated[str, Query(max_length=16)] = "city",
) -> HTMLResponse:
    dimension = _by(by)
    rows = analytics.outcomes(session, by=dimension)
    total = analytics.province_totals(session)
    lang = language(request)
    return render(
        request,
        "marketplace/outcomes.html",
        by=dimension,
        dimensions=[d for d in analytics.DIMENSIONS if d != "province"],
        rows=rows,
        total=total,
        charts={
            "credit": {
                "names": [r.label for r in rows[:20]],
                "values": [round(r.credit_amount_fen / domain.WAN_FEN, 2) for r in rows[:20]],
                "seriesName": i18n.translate(lang, "market.outcomes.chart.credit"),
            },
            "security": {
                "names": [i18n.label(lang, "market_security", k) for k in domain.SECURITY_TYPES],
                "values": [
                    round(total.amount_by_security.get(k, 0) / domain.WAN_FEN, 2)
                    for k in domain.SECURITY_TYPES
                ],
                "seriesName": i18n.translate(lang, "market.outcomes.chart.amount"),
            },
        },
    )


@router.get("/market/outcomes.xlsx", name="marketplace:outcomes_xlsx")
def outcomes_xlsx(
    session: ReadSession, actor: Watcher, by: Annotated[str, Query(max_length=16)] = "city"
) -> Response:
    dimension = _by(by)
    body = analytics.to_xlsx(analytics.outcomes(session, by=dimension), by=dimension)
    return Response(
        body,
        media_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        headers={"Content-Disposition": f'attachment; filename="outcomes-{dimension}.xlsx"'},
    )


@router.get("/market/notifications", name="marketplace:notifications")
def notifications(request: Request, session: ReadSession, actor: Anyone) -> HTMLResponse:
    return render(
        request,
        "marketplace/notifications.html",
        notifications=service.list_notifications(session, actor, limit=200),
    )
