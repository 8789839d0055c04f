"""Product and whitelist pages: the institution publishes, edits, pauses and withdraws products
and subscribes to the whitelist; the operator reviews products and their changes, escalations and
the whitelist (at its own level and in its own division); both see the lending outcomes."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Annotated, Any, Final

from fastapi import APIRouter, Depends, Form, Path, Query, Request
from fastapi.responses import HTMLResponse, Response

from creditbridge.catalog import service as catalog_service
from creditbridge.core.actors import Actor
from creditbridge.core.errors import Conflict, DomainError, Forbidden, Issue, ValidationFailed
from creditbridge.marketplace import analytics, domain, service
from creditbridge.marketplace.domain import Level, ProductMove
from creditbridge.marketplace.models import Product
from creditbridge.marketplace.pages._common import (
    Id,
    Officer,
    Operator,
    Watcher,
    _bp,
    _day_or_none,
    _export,
    _fen,
    _months,
    _redirect,
    _response_days,
)
from creditbridge.marketplace.service import products as product_service
from creditbridge.marketplace.service import whitelist as whitelist_service
from creditbridge.presentation import i18n, listing
from creditbridge.presentation.errors import explain, keyed_issue
from creditbridge.presentation.formatting import format_division
from creditbridge.reference import divisions, industries
from creditbridge.web.deps import ReadSession, WriteSession
from creditbridge.web.templating import language, render

router = APIRouter(include_in_schema=False)


# --- Institution: the product form --------------------------------------------------------------


@dataclass
class ProductForm:
    """What the officer typed, kept as typed so a refused form comes back as it was sent."""

    code: str = ""
    name: str = ""
    product_type: str = "credit_loan"
    security_type: str = "credit"
    min_amount_wan: str = ""
    max_amount_wan: str = ""
    min_rate_pct: str = ""
    max_rate_pct: str = ""
    min_term_months: str = ""
    max_term_months: str = ""
    min_grade: str = ""
    min_years: str = "0"
    size_classes: tuple[str, ...] = ()
    required_tags: tuple[str, ...] = ()
    regions: tuple[str, ...] = ()
    other_regions: str = ""
    industry_sections: tuple[str, ...] = ()
    description: str = ""
    errors: dict[str, list[str]] = field(default_factory=dict)

    @classmethod
    def of(cls, product: Product) -> ProductForm:
        """The form filled with a product's terms (an edit starts from what is in force, or
        from the change already waiting when there is one)."""
        cities = {c.code for c in divisions.cities()} | {divisions.ANHUI}
        regions = tuple(product.regions or ())
        return cls(
            code=product.code,
            name=product.name,
            product_type=product.product_type,
            security_type=product.security_type,
            min_amount_wan=_wan(product.min_amount_fen),
            max_amount_wan=_wan(product.max_amount_fen),
            min_rate_pct=_pct(product.min_rate_bp),
            max_rate_pct=_pct(product.max_rate_bp),
            min_term_months=str(product.min_term_months),
            max_term_months=str(product.max_term_months),
            min_grade=product.min_grade or "",
            min_years=str(product.min_years),
            size_classes=tuple(product.size_classes or ()),
            required_tags=tuple(product.required_tags or ()),
            regions=tuple(r for r in regions if r in cities),
            other_regions=",".join(r for r in regions if r not in cities),
            industry_sections=tuple(product.industry_sections or ()),
            description=product.description or "",
        )

    def region_codes(self) -> list[str]:
        extra = [c.strip() for c in self.other_regions.replace("，", ",").split(",")]
        return sorted({*self.regions, *(c for c in extra if c)})


def _wan(fen: int) -> str:
    return format(Decimal(fen) / domain.WAN_FEN, "f").rstrip("0").rstrip(".") or "0"


def _pct(bp: int) -> str:
    return format(Decimal(bp) / 100, "f").rstrip("0").rstrip(".") or "0"


def _spec(form: ProductForm, issues: list[Issue]) -> service.ProductInput:
    """The form in the service's units; a value that cannot be read adds an issue at its field."""
    regions = form.region_codes()
    unknown = [r for r in regions if not divisions.is_known(r, include_historical=False)]
    if unknown:
        issues.append(
            keyed_issue(
                "CB-FORM-REGION",
                "error.marketplace.form_regions",
                field="regions",
                codes="、".join(unknown[:5]),
            )
        )
    years = form.min_years.strip() or "0"
    if not years.isdigit() or int(years) > 100:
        issues.append(
            keyed_issue("CB-FORM-YEARS", "error.marketplace.product_years", field="min_years")
        )
    return service.ProductInput(
        code=form.code.strip(),
        name=form.name.strip(),
        product_type=form.product_type,
        security_type=form.security_type,
        min_amount_fen=_fen(form.min_amount_wan, "min_amount_fen", issues),
        max_amount_fen=_fen(form.max_amount_wan, "max_amount_fen", issues),
        min_rate_bp=_bp(form.min_rate_pct, "min_rate_bp", issues) or 0,
        max_rate_bp=_bp(form.max_rate_pct, "max_rate_bp", issues) or 0,
        min_term_months=_months(form.min_term_months, "min_term_months", issues),
        max_term_months=_months(form.max_term_months, "max_term_months", issues),
        min_grade=form.min_grade or None,
        min_years=int(years) if years.isdigit() and int(years) <= 100 else 0,
        size_classes=list(form.size_classes),
        required_tags=list(form.required_tags),
        regions=[r for r in regions if r not in unknown],
        industry_sections=list(form.industry_sections),
        description=form.description.strip()[:1000],
    )


def _why(request: Request, refused: DomainError) -> str:
    """A refusal in the reader's language: its first issue (the field's message) if it has one."""
    lang = language(request)
    return explain(lang, refused.issues[0]) if refused.issues else explain(lang, refused)


def _keep(request: Request, form: ProductForm, issues: list[Issue]) -> None:
    lang = language(request)
    for issue in issues:
        form.errors.setdefault(issue.field or "", []).append(explain(lang, issue))


def _product_form(
    request: Request,
    form: ProductForm,
    *,
    product: Product | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    return render(
        request,
        "marketplace/product_form.html",
        status_code=status_code,
        form=form,
        product=product,
        product_types=domain.PRODUCT_TYPES,
        security_types=domain.SECURITY_TYPES,
        grades=domain.GRADES,
        cities=[divisions.get(divisions.ANHUI), *divisions.cities()],
        sections=industries.sections(),
        size_classes=("micro", "small", "medium", "large"),
        tags=domain.TAGS,
    )


# The product form's fields, shared by submission and edit.
Code = Annotated[str, Form(max_length=64)]
Name = Annotated[str, Form(max_length=200)]
Short = Annotated[str, Form(max_length=32)]
Number = Annotated[str, Form(max_length=20)]
Codes = Annotated[list[str] | None, Form(max_length=40)]
Text = Annotated[str, Form(max_length=1000)]


def _posted_form(
    code: Code = "",
    name: Name = "",
    product_type: Short = "",
    security_type: Short = "",
    min_amount_wan: Number = "",
    max_amount_wan: Number = "",
    min_rate_pct: Number = "",
    max_rate_pct: Number = "",
    min_term_months: Number = "",
    max_term_months: Number = "",
    min_grade: Short = "",
    min_years: Number = "0",
    size_classes: Codes = None,
    required_tags: Codes = None,
    regions: Codes = None,
    other_regions: Text = "",
    industry_sections: Codes = None,
    description: Text = "",
) -> ProductForm:
    """The product form as posted (to a submission or an edit), kept as typed."""
    return ProductForm(
        code=code,
        name=name,
        product_type=product_type,
        security_type=security_type,
        min_amount_wan=min_amount_wan,
        max_amount_wan=max_amount_wan,
        min_rate_pct=min_rate_pct,
        max_rate_pct=max_rate_pct,
        min_term_months=min_term_months,
        max_term_months=max_term_months,
        min_grade=min_grade,
        min_years=min_years,
        size_classes=tuple(size_classes or ()),
        required_tags=tuple(required_tags or ()),
        regions=tuple(regions or ()),
        other_regions=other_regions,
        industry_sections=tuple(industry_sections or ()),
        description=description,
    )


PostedForm = Annotated[ProductForm, Depends(_posted_form)]


# --- Institution: list, new, edit, pause / resume / withdraw ------------------------------------

PRODUCT_SORTS: Final = ("created_at", "name", "min_rate_bp", "max_amount_fen", "status")
PRODUCT_FILTERS: Final = (
    "status",
    "product_type",
    "security_type",
    "region",
    "date_from",
    "date_to",
)


def _my_products(request: Request, session: Any, actor: Actor) -> tuple[list[Product], Any]:
    q = listing.parse_list_query(
        request.query_params,
        sortable=PRODUCT_SORTS,
        default_sort="-created_at",
        filters=PRODUCT_FILTERS,
    )
    assert actor.institution_id is not None
    rows = service.list_products(
        session, status=q.filter("status"), institution_id=actor.institution_id
    )
    kind, security, region = q.filter("product_type"), q.filter("security_type"), q.filter("region")
    since, until = _day_or_none(q.filter("date_from")), _day_or_none(q.filter("date_to"))
    rows = [
        p
        for p in rows
        if (not kind or p.product_type == kind)
        and (not security or p.security_type == security)
        and (not region or not p.regions or domain.in_region(region, p.regions))
        and (not since or p.created_at.date() >= since)
        and (not until or p.created_at.date() <= until)
    ]
    sort = q.sort or listing.Sort("created_at", descending=True)
    rows.sort(key=lambda p: (getattr(p, sort.column), p.id), reverse=sort.descending)
    return rows, q


@router.get("/market/products", name="marketplace:products")
def products(request: Request, session: ReadSession, actor: Officer) -> HTMLResponse:
    rows, q = _my_products(request, session, actor)
    page = listing.paginate(rows, q)
    published = service.list_products(session)
    return render(
        request,
        "marketplace/products.html",
        page=page,
        sort=q.sort,
        pending_changes=product_service.products_waiting_for_review(
            session, (p.id for p in page.items)
        ),
        published=published,
        institutions=service.institution_names(session, {p.institution_id for p in published}),
        product_types=domain.PRODUCT_TYPES,
        security_types=domain.SECURITY_TYPES,
        statuses=[s.value for s in domain.ProductStatus],
        cities=[divisions.get(divisions.ANHUI), *divisions.cities()],
    )


@router.get("/market/products.csv", name="marketplace:products_export")
def products_export(request: Request, session: ReadSession, actor: Officer) -> Response:
    rows, _ = _my_products(request, session, actor)
    lang = language(request)
    headers = [
        i18n.translate(lang, key)
        for key in (
            "market.product_code",
            "market.product_name",
            "market_term.product_type",
            "market_term.security_type",
            "market.min_amount_wan",
            "market.max_amount_wan",
            "market.min_rate_pct",
            "market.max_rate_pct_product",
            "market.min_term",
            "market.max_term",
            "market_term.regions",
            "market.status",
            "market.created_at",
        )
    ]
    return _export(
        "products",
        "csv",
        headers,
        (
            [
                p.code,
                p.name,
                i18n.label(lang, "market_product_type", p.product_type),
                i18n.label(lang, "market_security", p.security_type),
                _wan(p.min_amount_fen),
                _wan(p.max_amount_fen),
                _pct(p.min_rate_bp),
                _pct(p.max_rate_bp),
                p.min_term_months,
                p.max_term_months,
                "、".join(format_division(r, lang) for r in p.regions or ()),
                i18n.label(lang, "market_product_status", p.status),
                p.created_at.date().isoformat(),
            ]
            for p in rows
        ),
    )


@router.get("/market/products/new", name="marketplace:product_new")
def product_new(request: Request, actor: Officer) -> HTMLResponse:
    return _product_form(request, ProductForm())


@router.post("/market/products", name="marketplace:product_submit")
def product_submit(
    request: Request, session: WriteSession, actor: Officer, form: PostedForm
) -> Response:
    issues: list[Issue] = []
    spec = _spec(form, issues)
    if not issues:
        try:
            product = service.submit_product(session, actor, spec)
        except ValidationFailed as refused:
            issues = refused.issues
        else:
            return _redirect(
                request.url_for("marketplace:product_detail", product_id=product.id).path
            )
    _keep(request, form, issues)
    return _product_form(request, form, status_code=422)


@router.get("/market/products/{product_id}", name="marketplace:product_detail")
def product_detail(
    request: Request, session: ReadSession, actor: Watcher, product_id: Id
) -> HTMLResponse:
    return _detail(request, session, actor, product_id)


def _detail(
    request: Request,
    session: Any,
    actor: Actor,
    product_id: int,
    *,
    errors: dict[str, list[str]] | None = None,
    values: dict[str, str] | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    product = product_service.access_product(session, actor, product_id)
    pending = product_service.pending_revision(session, product.id)
    return render(
        request,
        "marketplace/product_detail.html",
        status_code=status_code,
        product=product,
        pending=pending,
        changes=product_service.pending_changes(product, pending),
        history=product_service.list_product_history(session, actor, product.id),
        moves=[m.value for m in domain.product_moves(product.status)],
        is_owner=actor.institution_id is not None,
        institution=service.institution_name(session, product.institution_id),
        # A change of the consent's scope names the data categories, not their codes.
        categories={
            c.code: (c.name_zh, c.name_en) for c in catalog_service.list_categories(session)
        },
        errors=errors or {},
        values=values or {},
    )


@router.get("/market/products/{product_id}/edit", name="marketplace:product_edit")
def product_edit(
    request: Request, session: ReadSession, actor: Officer, product_id: Id
) -> HTMLResponse:
    product = product_service.access_own_product(session, actor, product_id)
    form = ProductForm.of(product)
    pending = product_service.pending_revision(session, product.id)
    if pending is not None and pending.kind == "edit":
        # Start from the change already waiting: the officer refines it rather than retyping.
        shadow = Product(**{**product_service.terms_of(product), **pending.changes})
        shadow.code = product.code
        form = ProductForm.of(shadow)
    return _product_form(request, form, product=product)


@router.post("/market/products/{product_id}/edit", name="marketplace:product_edit_submit")
def product_edit_submit(
    request: Request, session: WriteSession, actor: Officer, product_id: Id, form: PostedForm
) -> Response:
    product = product_service.access_own_product(session, actor, product_id)
    form.code = product.code  # the code stays (the form shows it read-only)
    issues: list[Issue] = []
    spec = _spec(form, issues)
    if not issues:
        try:
            product_service.edit_product(session, actor, product_id=product.id, spec=spec)
        except ValidationFailed as refused:
            issues = refused.issues
        else:
            return _redirect(
                request.url_for("marketplace:product_detail", product_id=product.id).path
            )
    _keep(request, form, issues)
    return _product_form(request, form, product=product, status_code=422)


@router.post("/market/products/{product_id}/status", name="marketplace:product_status")
def product_status(
    request: Request,
    session: WriteSession,
    actor: Officer,
    product_id: Id,
    move: Annotated[str, Form(pattern="^(pause|resume|withdraw)$")],
    reason: Annotated[str, Form(max_length=500)] = "",
) -> Response:
    try:
        product_service.change_product_status(
            session, actor, product_id=product_id, move=ProductMove(move), reason=reason
        )
    except (ValidationFailed, Conflict) as refused:
        return _detail(
            request,
            session,
            actor,
            product_id,
            errors={move: [_why(request, refused)]},
            values={move: reason},
            status_code=refused.status_code,
        )
    return _redirect(request.url_for("marketplace:product_detail", product_id=product_id).path)


@router.post("/market/whitelist/subscribe", name="marketplace:subscribe")
def subscribe(request: Request, session: WriteSession, actor: Officer) -> Response:
    service.subscribe_whitelist(session, actor)
    return _redirect(request.url_for("marketplace:inbox").path)


# --- Operator: the review queue ----------------------------------------------------------------

REVIEW_SORTS: Final = ("submitted_at", "due_date")


def _review_page(
    request: Request,
    session: Any,
    actor: Actor,
    *,
    errors: dict[int, str] | None = None,
    notes: dict[int, str] | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    q = listing.parse_list_query(
        request.query_params,
        sortable=REVIEW_SORTS,
        default_sort="submitted_at",
        filters=("kind", "overdue", "institution"),
    )
    items = product_service.list_review_queue(session, actor)
    kind, overdue = q.filter("kind"), q.filter("overdue")
    items = [
        i
        for i in items
        if (not kind or (kind == "edit") == i.is_edit) and (not overdue or i.overdue)
    ]
    sort = q.sort or listing.Sort("submitted_at")
    items.sort(key=lambda i: (getattr(i, sort.column), i.product.id), reverse=sort.descending)
    page = listing.paginate(items, q)
    escalated = service.list_escalated(session, actor)
    return render(
        request,
        "marketplace/review.html",
        status_code=status_code,
        page=page,
        sort=q.sort,
        review_days=domain.PRODUCT_REVIEW_DAYS,
        escalated=escalated,
        institutions=service.institution_names(session, {i.product.institution_id for i in items}),
        subjects=service.subject_names(session, {d.subject_id for d in escalated}),
        notifications=service.list_notifications(session, actor, limit=10),
        errors=errors or {},
        notes=notes or {},
    )


@router.get("/market/review", name="marketplace:review")
def review(request: Request, session: ReadSession, actor: Operator) -> HTMLResponse:
    return _review_page(request, session, actor)


@router.post("/market/products/{product_id}/review", name="marketplace:product_review")
def product_review(
    request: Request,
    session: WriteSession,
    actor: Operator,
    product_id: Id,
    decision: Annotated[str, Form(pattern="^(approve|reject)$")],
    note: Annotated[str, Form(max_length=500)] = "",
) -> Response:
    try:
        service.review_product(
            session, actor, product_id=product_id, approve=decision == "approve", note=note
        )
    except (ValidationFailed, Conflict) as refused:
        return _review_page(
            request,
            session,
            actor,
            errors={product_id: _why(request, refused)},
            notes={product_id: note},
            status_code=refused.status_code,
        )
    return _redirect(request.url_for("marketplace:review").path)


@router.post("/market/demands/{demand_id}/redispatch", name="marketplace:redispatch")
def redispatch(request: Request, session: WriteSession, actor: Operator, demand_id: Id) -> Response:
    service.dispatch(session, actor, demand_id=demand_id, response_days=_response_days(request))
    return _redirect(request.url_for("marketplace:review").path)


# --- Operator: the whitelist -------------------------------------------------------------------

WHITELIST_FILTERS: Final = ("status", "grade", "region", "industry", "date_from", "date_to")


def _whitelist_rows(
    request: Request, session: Any, actor: Actor
) -> tuple[list[whitelist_service.WhitelistRow], listing.ListQuery]:
    q = listing.parse_list_query(
        request.query_params,
        sortable=whitelist_service.WHITELIST_SORTS,
        default_sort="-status_changed_at",
        filters=WHITELIST_FILTERS,
    )
    sort = q.sort or listing.Sort("status_changed_at", descending=True)
    rows = whitelist_service.list_whitelist_rows(
        session,
        actor,
        status=q.filter("status"),
        grade=q.filter("grade"),
        region=q.filter("region"),
        industry=q.filter("industry"),
        date_from=_day_or_none(q.filter("date_from")),
        date_to=_day_or_none(q.filter("date_to")),
        sort=sort.column,
        descending=sort.descending,
    )
    return rows, q


def _whitelist_page(
    request: Request,
    session: Any,
    actor: Actor,
    *,
    errors: dict[int, str] | None = None,
    notes: dict[int, str] | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    rows, q = _whitelist_rows(request, session, actor)
    page = listing.paginate(rows, q)
    division = divisions.get(actor.division_code) if actor.division_code else None
    return render(
        request,
        "marketplace/whitelist.html",
        status_code=status_code,
        page=page,
        sort=q.sort,
        division=division,
        statuses=[s.value for s in domain.WhitelistStatus],
        grades=domain.GRADES,
        regions=_region_choices(actor),
        sections=industries.sections(),
        errors=errors or {},
        notes=notes or {},
    )


def _region_choices(actor: Actor) -> list[divisions.Division]:
    """The divisions an operator may narrow its list to: the cities of the province, or the
    counties of its own city; nothing below a county."""
    level = whitelist_service.operator_level(actor)
    if level == "county":
        return []
    if level == "city" and actor.division_code is not None:
        return divisions.counties(actor.division_code)
    return divisions.cities()


@router.get("/market/whitelist", name="marketplace:whitelist")
def whitelist(request: Request, session: ReadSession, actor: Operator) -> HTMLResponse:
    return _whitelist_page(request, session, actor)


@router.get("/market/whitelist.csv", name="marketplace:whitelist_export")
def whitelist_export(request: Request, session: WriteSession, actor: Operator) -> Response:
    rows, q = _whitelist_rows(request, session, actor)
    lang = language(request)
    headers = [
        i18n.translate(lang, key)
        for key in (
            "market.enterprise",
            "consent.uscc",
            "market.whitelist.division",
            "market.industry_section",
            "market.grade",
            "market.status",
            "market.whitelist.reasons",
            "market.created_at",
        )
    ]
    lines = [
        [
            row.name,
            row.uscc,
            format_division(row.division_code, lang),
            row.industry_section or "",
            row.entry.grade or "",
            i18n.label(lang, "market_wl_status", row.entry.status),
            "、".join(i18n.label(lang, "market_wl_reason", r) for r in row.entry.reasons),
            row.entry.proposed_at.date().isoformat(),
        ]
        for row in rows
    ]
    # Names and codes of enterprises leave the platform in this file: the trail says who took it.
    whitelist_service.note_export(session, actor, rows=len(rows), filters=dict(q.filters))
    return _export("whitelist", "csv", headers, lines)


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
    try:
        service.review_whitelist(
            session,
            actor,
            entry_id=entry_id,
            level=Level(level),
            approve=decision == "pass",
            note=note,
        )
    except (ValidationFailed, Conflict, Forbidden) as refused:
        return _whitelist_page(
            request,
            session,
            actor,
            errors={entry_id: _why(request, refused)},
            notes={entry_id: note},
            status_code=refused.status_code,
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
    try:
        service.remove_from_whitelist(session, actor, entry_id=entry_id, reason=reason)
    except (ValidationFailed, Conflict) as refused:
        return _whitelist_page(
            request,
            session,
            actor,
            errors={entry_id: _why(request, refused)},
            notes={entry_id: reason},
            status_code=refused.status_code,
        )
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
    # An operator of a division sees its own enterprises' lending; the node's operators and
    # institutions' officers (no division) the whole node's.
    rows = analytics.outcomes(session, by=dimension, division=actor.division_code)
    total = analytics.province_totals(session, division=actor.division_code)
    lang = language(request)
    return render(
        request,
        "marketplace/outcomes.html",
        by=dimension,
        dimensions=[d for d in analytics.DIMENSIONS if d != "province"],
        rows=rows,
        total=total,
        # Which division the figures cover, for the page to say so (None: the whole node).
        division=actor.division_code,
        division_name=format_division(actor.division_code, lang, full=True)
        if actor.division_code
        else "",
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
    rows = analytics.outcomes(session, by=dimension, division=actor.division_code)
    body = analytics.to_xlsx(rows, by=dimension)
    return Response(
        body,
        media_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        headers={"Content-Disposition": f'attachment; filename="outcomes-{dimension}.xlsx"'},
    )
