"""Lending pages: the enterprise publishes demands, sees recommendations, applies and sees its
loans; the institution works its inbox, the open pool and its applications and uploads loan
events; the notifications of all three roles."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated, Any

from fastapi import APIRouter, File, Form, Path, Request, UploadFile
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.orm import Session

from creditbridge.consent.errors import ConsentRefused
from creditbridge.core.actors import Actor, Role
from creditbridge.core.errors import Issue, NotFound, ValidationFailed
from creditbridge.marketplace import domain, service
from creditbridge.marketplace.domain import AppMove
from creditbridge.marketplace.pages._common import (
    MAX_UPLOAD,
    Anyone,
    Enterprise,
    Id,
    Officer,
    _bp,
    _fen,
    _months,
    _path_or_none,
    _redirect,
    _response_days,
)
from creditbridge.presentation.errors import keyed, keyed_issue
from creditbridge.web.deps import ReadSession, WriteSession
from creditbridge.web.templating import render

router = APIRouter(include_in_schema=False)

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


@router.get("/market/notifications", name="marketplace:notifications")
def notifications(request: Request, session: ReadSession, actor: Anyone) -> HTMLResponse:
    return render(
        request,
        "marketplace/notifications.html",
        notifications=service.list_notifications(session, actor, limit=200),
    )
