"""Products: an institution's submission, edits, pauses and withdrawal; the operator's review of
each (an edit of a live product waits beside the live terms until approved); the history; the
published matrix."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from datetime import date
from typing import Any, Final

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from creditbridge.access import service as access_service
from creditbridge.audit import service as audit
from creditbridge.core.actors import Actor
from creditbridge.core.clock import local_today, utc_now
from creditbridge.core.errors import InvalidTransition, Issue, NotFound, ValidationFailed
from creditbridge.marketplace import domain
from creditbridge.marketplace.domain import ProductMatrix, ProductMove, ProductRules, ProductStatus
from creditbridge.marketplace.models import Product, ProductRevision
from creditbridge.marketplace.service._common import (
    DEFAULT_CONSENT_CATEGORIES,
    MAX_AMOUNT_FEN,
    _institution_of,
    _require_operator,
    deadline,
)
from creditbridge.marketplace.service.notifications import _notify
from creditbridge.presentation.errors import keyed, keyed_issue


def count_products(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(Product)) or 0


@dataclass
class ProductInput:
    code: str
    name: str
    product_type: str
    security_type: str
    min_amount_fen: int
    max_amount_fen: int
    min_rate_bp: int
    max_rate_bp: int
    min_term_months: int
    max_term_months: int
    regions: list[str] = field(default_factory=list)
    industry_sections: list[str] = field(default_factory=list)
    size_classes: list[str] = field(default_factory=list)
    min_years: int = 0
    min_grade: str | None = None
    required_tags: list[str] = field(default_factory=list)
    consent_categories: list[str] = field(default_factory=list)
    description: str = ""


def _product_issues(spec: ProductInput) -> list[Issue]:
    issues: list[Issue] = []

    def bad(name: str, key: str) -> None:
        issues.append(keyed_issue("CB-MARKET-PRODUCT", key, field=name))

    if not spec.code.strip() or len(spec.code) > 64:
        bad("code", "error.marketplace.product_code")
    if not spec.name.strip() or len(spec.name) > 200:
        bad("name", "error.marketplace.product_name")
    if spec.product_type not in domain.PRODUCT_TYPES:
        bad("product_type", "error.marketplace.product_type")
    if spec.security_type not in domain.SECURITY_TYPES:
        bad("security_type", "error.marketplace.product_security")
    if not 0 < spec.min_amount_fen <= spec.max_amount_fen <= MAX_AMOUNT_FEN:
        bad("max_amount_fen", "error.marketplace.product_amount")
    if not 0 < spec.min_rate_bp <= spec.max_rate_bp <= 3600:
        bad("max_rate_bp", "error.marketplace.product_rate")
    if not 0 < spec.min_term_months <= spec.max_term_months <= 360:
        bad("max_term_months", "error.marketplace.product_term")
    if any(s not in domain.SIZE_CLASSES for s in spec.size_classes):
        bad("size_classes", "error.marketplace.product_size")
    if any(s not in domain.INDUSTRY_SECTIONS for s in spec.industry_sections):
        bad("industry_sections", "error.marketplace.product_industry")
    if any(not (len(r) == 6 and r.isdigit()) for r in spec.regions):
        bad("regions", "error.marketplace.product_regions")
    if spec.min_grade and spec.min_grade not in domain.GRADES:
        bad("min_grade", "error.marketplace.product_grade")
    if any(t not in domain.TAGS for t in spec.required_tags):
        bad("required_tags", "error.marketplace.product_tags")
    if not 0 <= spec.min_years <= 100:
        bad("min_years", "error.marketplace.product_years")
    return issues


def submit_product(session: Session, actor: Actor, spec: ProductInput) -> Product:
    """An institution submits a product; it is published after the operator's review."""
    institution_id = _institution_of(actor)
    issues = _product_issues(spec)
    if session.scalar(select(Product.id).where(Product.code == spec.code)) is not None:
        issues.append(
            keyed_issue("CB-MARKET-PRODUCT", "error.marketplace.product_code_taken", field="code")
        )
    if issues:
        raise keyed(ValidationFailed, "error.marketplace.product_invalid", issues=issues)
    product = Product(
        institution_id=institution_id,
        code=spec.code,
        name=spec.name,
        product_type=spec.product_type,
        security_type=spec.security_type,
        min_amount_fen=spec.min_amount_fen,
        max_amount_fen=spec.max_amount_fen,
        min_rate_bp=spec.min_rate_bp,
        max_rate_bp=spec.max_rate_bp,
        min_term_months=spec.min_term_months,
        max_term_months=spec.max_term_months,
        regions=sorted(set(spec.regions)),
        industry_sections=sorted(set(spec.industry_sections)),
        size_classes=sorted(set(spec.size_classes)),
        min_years=spec.min_years,
        min_grade=spec.min_grade or None,
        required_tags=sorted(set(spec.required_tags)),
        consent_categories=sorted(set(spec.consent_categories or DEFAULT_CONSENT_CATEGORIES)),
        description=spec.description[:1000],
        status="pending_review",
        created_at=utc_now(),
    )
    session.add(product)
    session.flush()
    _revision(session, actor, product, "submit", ProductStatus.PENDING_REVIEW, terms_of(product))
    audit.record(
        session,
        actor,
        action="market.product.submit",
        object_type="marketplace_product",
        object_id=product.id,
        detail={"code": product.code, "name": product.name},
    )
    _notify(session, "operator", None, "product.submitted", f"新产品待审核：{product.name}")
    return product


def review_product(
    session: Session, actor: Actor, *, product_id: int, approve: bool, note: str = ""
) -> Product:
    """The operator decides on what waits for review on a product: a new (or resubmitted)
    product, or the pending edit of a live one. Approving an edit puts its terms live and keeps
    the replaced ones in the revision; rejecting it leaves the live terms as they were."""
    _require_operator(actor)
    product = get_product_or_raise(session, product_id)
    _require_reviewer_of(session, actor, product)
    pending = pending_revision(session, product.id)
    is_new = product.status == ProductStatus.PENDING_REVIEW.value
    if not is_new and (pending is None or pending.kind != "edit"):
        raise keyed(InvalidTransition, "error.marketplace.product_not_pending")
    if not approve and not note.strip():
        raise keyed(
            ValidationFailed,
            "error.marketplace.return_reason",
            issues=[keyed_issue("CB-MARKET-REASON", "error.marketplace.reason", field="note")],
        )
    now = utc_now()
    before = product.status
    replaced: dict[str, Any] = {}
    if is_new:
        move = ProductMove.APPROVE if approve else ProductMove.REJECT
        product.status = domain.product_transition(product.status, move).value
    elif approve and pending is not None:
        live = terms_of(product)
        replaced = {k: live.get(k) for k in pending.changes}
        _apply_terms(product, pending.changes)
    product.review_note = note[:500] or None
    product.reviewed_by = actor.name
    product.reviewed_at = now
    if pending is not None:
        pending.status = "approved" if approve else "rejected"
        pending.previous = replaced
        pending.review_note = note[:500] or None
        pending.reviewed_by = actor.name
        pending.reviewed_at = now
    session.flush()
    audit.record(
        session,
        actor,
        action="market.product.review",
        object_type="marketplace_product",
        object_id=product.id,
        detail={
            "approve": approve,
            "note": note,
            "from": before,
            "to": product.status,
            "revision_id": pending.id if pending is not None else None,
            "changes": sorted(pending.changes) if pending is not None and not is_new else None,
        },
    )
    if is_new:
        text = f"产品“{product.name}”审核{'通过，已上架' if approve else '未通过'}"
    else:
        text = f"产品“{product.name}”的修改审核{'通过，已生效' if approve else '未通过，仍按原条件展示'}"
    if not approve:
        text += f"（{note.strip()[:200]}）"
    _notify(session, "institution", product.institution_id, "product.reviewed", text)
    _MATRIX.clear()
    return product


# --- the institution's changes ---------------------------------------------------------------

TERMS: Final = (
    "name",
    "product_type",
    "security_type",
    "min_amount_fen",
    "max_amount_fen",
    "min_rate_bp",
    "max_rate_bp",
    "min_term_months",
    "max_term_months",
    "regions",
    "industry_sections",
    "size_classes",
    "min_years",
    "min_grade",
    "required_tags",
    "consent_categories",
    "description",
)
"""What an edit may change; the code stays, since the bank's systems and loan reports use it."""

_SETS: Final = frozenset(
    {"regions", "industry_sections", "size_classes", "required_tags", "consent_categories"}
)


def terms_of(product: Product) -> dict[str, Any]:
    """The product's terms, as ProductInput names them (lists sorted, as stored)."""
    return {k: (sorted(v) if k in _SETS else v) for k in TERMS for v in [getattr(product, k)]}


def _terms_of_input(spec: ProductInput, product: Product) -> dict[str, Any]:
    values = asdict(spec)
    terms = {k: (sorted(set(values[k])) if k in _SETS else values[k]) for k in TERMS}
    terms["min_grade"] = terms["min_grade"] or None
    terms["description"] = (terms["description"] or "")[:1000]
    if not terms["consent_categories"]:
        # The form does not show the consent scope: an edit that leaves it out keeps it.
        terms["consent_categories"] = sorted(product.consent_categories or ())
    return terms


def _apply_terms(product: Product, terms: dict[str, Any]) -> None:
    for key, value in terms.items():
        if key in TERMS:
            setattr(product, key, list(value) if key in _SETS else value)


def _revision(
    session: Session,
    actor: Actor,
    product: Product,
    kind: str,
    status: ProductStatus | str,
    changes: dict[str, Any],
    *,
    reason: str | None = None,
) -> ProductRevision:
    revision = ProductRevision(
        product_id=product.id,
        kind=kind,
        status=status if isinstance(status, str) else status.value,
        changes=changes,
        previous={},
        reason=reason,
        submitted_by=actor.name,
        submitted_at=utc_now(),
    )
    session.add(revision)
    session.flush()
    return revision


def pending_revision(session: Session, product_id: int) -> ProductRevision | None:
    """The submission or edit of ``product_id`` that waits for review, if any."""
    return session.scalar(
        select(ProductRevision)
        .where(
            ProductRevision.product_id == product_id,
            ProductRevision.status == ProductStatus.PENDING_REVIEW.value,
        )
        .order_by(ProductRevision.id.desc())
        .limit(1)
    )


def products_waiting_for_review(session: Session, product_ids: Iterable[int]) -> set[int]:
    """Which of ``product_ids`` have a submission or edit waiting for review, in one query."""
    wanted = set(product_ids)
    if not wanted:
        return set()
    return set(
        session.scalars(
            select(ProductRevision.product_id).where(
                ProductRevision.product_id.in_(wanted),
                ProductRevision.status == ProductStatus.PENDING_REVIEW.value,
            )
        )
    )


def pending_changes(
    product: Product, pending: ProductRevision | None
) -> dict[str, tuple[Any, Any]]:
    """The edit waiting beside a live product's terms, field → (live, proposed); empty when what
    waits is the product itself (new, or corrected in place) or nothing waits."""
    if pending is None or pending.kind != "edit" or product.status == "pending_review":
        return {}
    live = terms_of(product)
    return {k: (live.get(k), v) for k, v in pending.changes.items()}


def access_own_product(session: Session, actor: Actor, product_id: int) -> Product:
    """The institution's own product; NotFound for another institution's (it does not learn
    which ids exist)."""
    institution_id = _institution_of(actor)
    product = session.get(Product, product_id)
    if product is None or product.institution_id != institution_id:
        raise keyed(NotFound, "error.marketplace.no_product")
    return product


def access_product(session: Session, actor: Actor, product_id: int) -> Product:
    """The product as ``actor`` may see it: an officer its institution's own, an operator one of
    an institution in its division; NotFound otherwise."""
    if actor.institution_id is not None:
        return access_own_product(session, actor, product_id)
    _require_operator(actor)
    product = get_product_or_raise(session, product_id)
    _require_reviewer_of(session, actor, product)
    return product


def edit_product(
    session: Session, actor: Actor, *, product_id: int, spec: ProductInput
) -> ProductRevision:
    """The institution changes a product's terms. A live product (published or paused) keeps its
    approved terms until the operator approves the change — enterprises never apply under terms
    nobody reviewed; a product not yet live (awaiting review, or rejected) is corrected in place
    and goes (back) to the review queue. A newer edit replaces one still waiting."""
    product = access_own_product(session, actor, product_id)
    if product.status == ProductStatus.WITHDRAWN.value:
        raise keyed(InvalidTransition, "error.marketplace.product_withdrawn")
    spec.code = product.code
    issues = _product_issues(spec)
    if issues:
        raise keyed(ValidationFailed, "error.marketplace.product_invalid", issues=issues)
    proposed = _terms_of_input(spec, product)
    changes = domain.changed_terms(terms_of(product), proposed)
    waiting = pending_revision(session, product.id)
    # Compare with what is already waiting too: resubmitting the same change is no change.
    if (
        waiting is not None
        and waiting.kind == "edit"
        and not domain.changed_terms({**terms_of(product), **waiting.changes}, proposed)
    ):
        changes = {}
    if not changes:
        raise keyed(
            ValidationFailed,
            "error.marketplace.product_unchanged",
            issues=[
                keyed_issue(
                    "CB-MARKET-PRODUCT", "error.marketplace.product_unchanged", field="name"
                )
            ],
        )
    if waiting is not None:
        waiting.status = "superseded"
    before = product.status
    if domain.ProductStatus(product.status) not in domain.LIVE_PRODUCT:
        _apply_terms(product, changes)
        product.status = domain.product_transition(product.status, ProductMove.RESUBMIT).value
        product.review_note = None
    revision = _revision(session, actor, product, "edit", ProductStatus.PENDING_REVIEW, changes)
    audit.record(
        session,
        actor,
        action="market.product.edit",
        object_type="marketplace_product",
        object_id=product.id,
        detail={
            "revision_id": revision.id,
            "from": before,
            "to": product.status,
            "fields": sorted(changes),
            "replaces": waiting.id if waiting is not None else None,
        },
    )
    _notify(session, "operator", None, "product.changed", f"产品修改待审核：{product.name}")
    return revision


_MOVE_TEXT: Final = {
    ProductMove.PAUSE: "已暂停，暂不接受申请",
    ProductMove.RESUME: "已恢复上架",
    ProductMove.WITHDRAW: "已下架",
}


def change_product_status(
    session: Session, actor: Actor, *, product_id: int, move: ProductMove, reason: str = ""
) -> Product:
    """The institution pauses, resumes or withdraws its product, at once: these stop or restart
    terms the operator already approved, and a bank that stops lending must not have to wait
    for a review to stop taking applications. A paused product is neither recommended nor open
    to applications; a withdrawn one is gone for good (its applications and loans keep it)."""
    if move not in _MOVE_TEXT:
        raise keyed(InvalidTransition, "error.marketplace.product_move", status="", move=move)
    product = access_own_product(session, actor, product_id)
    if move is ProductMove.WITHDRAW and not reason.strip():
        raise keyed(
            ValidationFailed,
            "error.marketplace.withdraw_reason",
            issues=[
                keyed_issue("CB-MARKET-REASON", "error.marketplace.fill_reason", field="reason")
            ],
        )
    before = product.status
    product.status = domain.product_transition(before, move).value
    waiting = pending_revision(session, product.id)
    if move is ProductMove.WITHDRAW and waiting is not None:
        waiting.status = "superseded"
    revision = _revision(
        session,
        actor,
        product,
        move.value,
        "applied",
        {"status": product.status},
        reason=reason.strip()[:500] or None,
    )
    audit.record(
        session,
        actor,
        action=f"market.product.{move.value}",
        object_type="marketplace_product",
        object_id=product.id,
        detail={"from": before, "to": product.status, "reason": reason, "revision_id": revision.id},
    )
    _notify(
        session,
        "operator",
        None,
        f"product.{move.value}",
        f"产品“{product.name}”{_MOVE_TEXT[move]}",
    )
    _MATRIX.clear()
    return product


def list_product_history(session: Session, actor: Actor, product_id: int) -> list[ProductRevision]:
    """The steps of a product, newest first: its institution's officers and the operator of its
    division."""
    access_product(session, actor, product_id)
    return list(
        session.scalars(
            select(ProductRevision)
            .where(ProductRevision.product_id == product_id)
            .order_by(ProductRevision.id.desc())
        )
    )


# --- the operator's review queue -------------------------------------------------------------


@dataclass(frozen=True)
class ReviewItem:
    """A product waiting for the operator: new (``revision`` its submission, or None for one
    submitted before revisions were kept) or an edit of a live product (``changes``: field →
    (live, proposed))."""

    product: Product
    revision: ProductRevision | None
    submitted_at: Any
    due_date: date
    overdue: bool
    changes: dict[str, tuple[Any, Any]]

    @property
    def is_edit(self) -> bool:
        return self.revision is not None and self.revision.kind == "edit" and bool(self.changes)


def _institution_divisions(session: Session) -> dict[int, str]:
    return {i.id: i.division_code for i in access_service.list_institutions(session)}


def _require_reviewer_of(session: Session, actor: Actor, product: Product) -> None:
    """A division's operator reviews the products of the institutions in its division."""
    if actor.division_code is None:
        return
    institution = access_service.get_institution(session, product.institution_id)
    if institution is None or not domain.in_division(
        institution.division_code, actor.division_code
    ):
        raise keyed(NotFound, "error.marketplace.no_product")


def list_review_queue(
    session: Session, actor: Actor, *, today: date | None = None
) -> list[ReviewItem]:
    """New products and edits waiting for review, oldest first (the longest waiting is the one to
    do), each with its due date (PRODUCT_REVIEW_DAYS working days after submission); limited to
    the operator's division."""
    _require_operator(actor)
    day = today or local_today()
    waiting = {
        r.product_id: r
        for r in session.scalars(
            select(ProductRevision)
            .where(ProductRevision.status == ProductStatus.PENDING_REVIEW.value)
            .order_by(ProductRevision.id)
        )
    }
    ids = set(waiting) | set(
        session.scalars(
            select(Product.id).where(Product.status == ProductStatus.PENDING_REVIEW.value)
        )
    )
    products = list(session.scalars(select(Product).where(Product.id.in_(ids)))) if ids else []
    if actor.division_code is not None:
        where = _institution_divisions(session)
        products = [
            p
            for p in products
            if domain.in_division(where.get(p.institution_id), actor.division_code)
        ]
    items = []
    for product in products:
        revision = waiting.get(product.id)
        submitted = revision.submitted_at if revision is not None else product.created_at
        due = deadline(submitted.date(), response_days=domain.PRODUCT_REVIEW_DAYS)
        changes = pending_changes(product, revision)
        items.append(ReviewItem(product, revision, submitted, due, day > due, changes))
    return sorted(items, key=lambda i: (i.submitted_at, i.product.id))


def list_products(
    session: Session, *, status: str | None = "published", institution_id: int | None = None
) -> list[Product]:
    query = select(Product)
    if status:
        query = query.where(Product.status == status)
    if institution_id is not None:
        query = query.where(Product.institution_id == institution_id)
    return list(session.scalars(query.order_by(Product.id)))


def get_product_or_raise(session: Session, product_id: int) -> Product:
    product = session.get(Product, product_id)
    if product is None:
        raise keyed(NotFound, "error.marketplace.no_product")
    return product


def rules_of(product: Product) -> ProductRules:
    return ProductRules(
        id=product.id,
        security_type=product.security_type,
        min_amount_fen=product.min_amount_fen,
        max_amount_fen=product.max_amount_fen,
        min_rate_bp=product.min_rate_bp,
        max_rate_bp=product.max_rate_bp,
        min_term_months=product.min_term_months,
        max_term_months=product.max_term_months,
        regions=tuple(product.regions or ()),
        industry_sections=tuple(product.industry_sections or ()),
        size_classes=tuple(product.size_classes or ()),
        min_years=product.min_years,
        min_grade=product.min_grade,
        required_tags=tuple(product.required_tags or ()),
        tax_grades=domain.tax_grades_for(product.product_type),
    )


_MATRIX: dict[tuple[Any, ...], ProductMatrix] = {}


def published_matrix(session: Session) -> ProductMatrix:
    """The published products as a :class:`ProductMatrix`, rebuilt when the set changes."""
    counts = session.execute(
        select(func.count(), func.max(Product.id), func.max(Product.reviewed_at)).where(
            Product.status == "published"
        )
    ).one()
    key = (*counts, id(session.get_bind().engine))
    matrix = _MATRIX.get(key)
    if matrix is None:
        _MATRIX.clear()
        matrix = ProductMatrix.build([rules_of(p) for p in list_products(session)])
        _MATRIX[key] = matrix
    return matrix
