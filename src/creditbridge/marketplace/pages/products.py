"""Product and whitelist pages: the institution publishes products and subscribes to the
whitelist; the operator reviews products, escalations and the whitelist; both see the lending
outcomes."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Path, Query, Request
from fastapi.responses import HTMLResponse, Response

from creditbridge.core.errors import Issue, ValidationFailed
from creditbridge.marketplace import analytics, domain, service
from creditbridge.marketplace.domain import Level
from creditbridge.marketplace.pages._common import (
    Id,
    Officer,
    Operator,
    Watcher,
    _bp,
    _fen,
    _months,
    _redirect,
    _response_days,
)
from creditbridge.presentation import i18n
from creditbridge.presentation.errors import keyed
from creditbridge.reference import divisions
from creditbridge.web.deps import ReadSession, WriteSession
from creditbridge.web.templating import language, render

router = APIRouter(include_in_schema=False)


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
