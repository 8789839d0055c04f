"""A product's life after its first review: the bank edits it (the approved terms stay live until
the change is approved), pauses, resumes and withdraws it; every step kept as history and audited;
the operator's queue with due dates, limited to its division."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

import factories
from creditbridge.audit.models import AuditEvent
from creditbridge.core.actors import CONSOLE
from creditbridge.core.errors import InvalidTransition, NotFound, ValidationFailed
from creditbridge.marketplace import service
from creditbridge.marketplace.domain import WAN_FEN, ProductMove
from creditbridge.marketplace.models import Demand, Product
from creditbridge.marketplace.service import products as product_service

from .conftest import Market


def _spec(product: Product, **changes: object) -> service.ProductInput:
    terms = product_service.terms_of(product)
    return replace(service.ProductInput(code=product.code, **terms), **changes)  # type: ignore[arg-type]


def _demand(session: Session, market: Market) -> Demand:
    return service.post_demand(
        session,
        market.owner,
        amount_fen=50 * WAN_FEN,
        term_months=12,
        purpose="采购原材料",
        security_types=["credit"],
    )


def _actions(session: Session, product: Product) -> list[str]:
    return list(
        session.scalars(
            select(AuditEvent.action)
            .where(
                AuditEvent.object_type == "marketplace_product",
                AuditEvent.object_id == str(product.id),
            )
            .order_by(AuditEvent.id)
        )
    )


def test_an_edit_of_a_live_product_waits_for_review_while_the_old_terms_stay_live(
    session: Session, market: Market
) -> None:
    product = market.credit_product
    revision = product_service.edit_product(
        session, market.officer, product_id=product.id, spec=_spec(product, min_rate_bp=350)
    )
    assert revision.status == "pending_review"
    assert revision.changes == {"min_rate_bp": 350}
    assert product.status == "published"
    assert product.min_rate_bp == 400
    # Enterprises still see and match the approved terms.
    recs = service.recommend(session, market.owner, demand_id=_demand(session, market).id)
    assert {r.product.id: r.product.min_rate_bp for r in recs}[product.id] == 400
    queue = product_service.list_review_queue(session, CONSOLE)
    [item] = [i for i in queue if i.product.id == product.id]
    assert item.is_edit
    assert item.changes == {"min_rate_bp": (400, 350)}

    service.review_product(session, CONSOLE, product_id=product.id, approve=True)
    assert product.min_rate_bp == 350
    assert revision.status == "approved"
    assert revision.previous == {"min_rate_bp": 400}
    assert product_service.pending_revision(session, product.id) is None
    assert _actions(session, product)[-2:] == ["market.product.edit", "market.product.review"]


def test_a_rejected_edit_needs_a_reason_and_leaves_the_live_terms(
    session: Session, market: Market
) -> None:
    product = market.credit_product
    product_service.edit_product(
        session, market.officer, product_id=product.id, spec=_spec(product, max_rate_bp=900)
    )
    with pytest.raises(ValidationFailed) as refused:
        service.review_product(session, CONSOLE, product_id=product.id, approve=False, note=" ")
    assert refused.value.issues[0].field == "note"
    assert product_service.pending_revision(session, product.id) is not None
    service.review_product(
        session, CONSOLE, product_id=product.id, approve=False, note="利率上限过高"
    )
    assert product.max_rate_bp == 520
    assert product.status == "published"
    history = product_service.list_product_history(session, market.officer, product.id)
    assert [(r.kind, r.status) for r in history][:1] == [("edit", "rejected")]
    assert history[0].review_note == "利率上限过高"
    notes = service.list_notifications(session, market.officer)
    assert any("利率上限过高" in n.message for n in notes)


def test_an_edit_is_validated_and_must_change_something(session: Session, market: Market) -> None:
    product = market.credit_product
    with pytest.raises(ValidationFailed) as refused:
        product_service.edit_product(
            session, market.officer, product_id=product.id, spec=_spec(product, max_rate_bp=100)
        )
    assert [i.field for i in refused.value.issues] == ["max_rate_bp"]
    with pytest.raises(ValidationFailed) as unchanged:
        product_service.edit_product(
            session, market.officer, product_id=product.id, spec=_spec(product)
        )
    assert unchanged.value.key == "error.marketplace.product_unchanged"
    assert product_service.pending_revision(session, product.id) is None


def test_a_newer_edit_replaces_the_one_waiting(session: Session, market: Market) -> None:
    product = market.credit_product
    first = product_service.edit_product(
        session, market.officer, product_id=product.id, spec=_spec(product, min_rate_bp=390)
    )
    second = product_service.edit_product(
        session,
        market.officer,
        product_id=product.id,
        spec=_spec(product, min_rate_bp=380, name="新名称"),
    )
    assert first.status == "superseded"
    assert product_service.pending_revision(session, product.id) is second
    assert second.changes == {"min_rate_bp": 380, "name": "新名称"}


def test_an_institution_cannot_touch_another_institutions_product(
    session: Session, market: Market
) -> None:
    other = market.other_credit_product
    with pytest.raises(NotFound):
        product_service.edit_product(
            session, market.officer, product_id=other.id, spec=_spec(other, min_rate_bp=300)
        )
    with pytest.raises(NotFound):
        product_service.change_product_status(
            session, market.officer, product_id=other.id, move=ProductMove.PAUSE
        )
    assert other.status == "published"


def test_a_paused_product_is_neither_recommended_nor_open_to_applications(
    session: Session, market: Market
) -> None:
    product = market.credit_product
    demand = _demand(session, market)
    product_service.change_product_status(
        session, market.officer, product_id=product.id, move=ProductMove.PAUSE, reason="额度用完"
    )
    assert product.status == "paused"
    recs = service.recommend(session, market.owner, demand_id=demand.id)
    assert product.id not in {r.product.id for r in recs}
    with pytest.raises(NotFound):
        service.apply(session, market.owner, demand_id=demand.id, product_id=product.id)
    product_service.change_product_status(
        session, market.officer, product_id=product.id, move=ProductMove.RESUME
    )
    assert product.status == "published"
    recs = service.recommend(session, market.owner, demand_id=demand.id)
    assert product.id in {r.product.id for r in recs}
    assert _actions(session, product)[-2:] == ["market.product.pause", "market.product.resume"]


def test_withdrawal_needs_a_reason_is_final_and_drops_a_waiting_edit(
    session: Session, market: Market
) -> None:
    product = market.credit_product
    edit = product_service.edit_product(
        session, market.officer, product_id=product.id, spec=_spec(product, min_rate_bp=390)
    )
    with pytest.raises(ValidationFailed):
        product_service.change_product_status(
            session, market.officer, product_id=product.id, move=ProductMove.WITHDRAW
        )
    assert product.status == "published"
    product_service.change_product_status(
        session,
        market.officer,
        product_id=product.id,
        move=ProductMove.WITHDRAW,
        reason="产品停办",
    )
    assert product.status == "withdrawn"
    assert edit.status == "superseded"
    with pytest.raises(InvalidTransition):
        product_service.change_product_status(
            session, market.officer, product_id=product.id, move=ProductMove.RESUME
        )
    with pytest.raises(InvalidTransition):
        product_service.edit_product(
            session, market.officer, product_id=product.id, spec=_spec(product, min_rate_bp=380)
        )
    assert product.id not in {
        i.product.id for i in product_service.list_review_queue(session, CONSOLE)
    }


def test_a_rejected_product_is_corrected_in_place_and_goes_back_to_review(
    session: Session, market: Market
) -> None:
    product = factories.product(
        session, market.bank, code="mk-fix", by=market.officer, publish=False
    )
    service.review_product(session, CONSOLE, product_id=product.id, approve=False, note="材料不全")
    assert product.status == "rejected"
    product_service.edit_product(
        session,
        market.officer,
        product_id=product.id,
        spec=_spec(product, description="补充说明", regions=["340100"]),
    )
    assert product.status == "pending_review"
    assert product.regions == ["340100"]
    service.review_product(session, CONSOLE, product_id=product.id, approve=True)
    assert product.status == "published"
    kinds = [
        (r.kind, r.status)
        for r in product_service.list_product_history(session, market.officer, product.id)
    ]
    assert kinds == [("edit", "approved"), ("submit", "rejected")]


def test_the_review_queue_marks_overdue_items_and_keeps_to_the_operators_division(
    session: Session, market: Market
) -> None:
    fresh = factories.product(
        session, market.other_bank, code="mk-wuhu", by=market.other_officer, publish=False
    )
    later = fresh.created_at.date() + timedelta(days=30)
    [item] = [
        i for i in product_service.list_review_queue(session, CONSOLE) if i.product.id == fresh.id
    ]
    assert not item.overdue
    [late] = [
        i
        for i in product_service.list_review_queue(session, CONSOLE, today=later)
        if i.product.id == fresh.id
    ]
    assert late.overdue
    assert late.due_date < later
    hefei = replace(CONSOLE, division_code="340100")
    wuhu = replace(CONSOLE, division_code="340200")
    assert fresh.id not in {i.product.id for i in product_service.list_review_queue(session, hefei)}
    assert fresh.id in {i.product.id for i in product_service.list_review_queue(session, wuhu)}
    with pytest.raises(NotFound):
        service.review_product(session, hefei, product_id=fresh.id, approve=True)
    service.review_product(session, wuhu, product_id=fresh.id, approve=True)
    assert fresh.status == "published"
