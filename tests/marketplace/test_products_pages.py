"""Product and whitelist pages through the real application: a refused form comes back with what
was typed and a Chinese message at the field; the officer edits (the change waits, the old terms
stay), pauses and withdraws; the operator reviews with confirmation and a reason; lists filter
and export."""

from __future__ import annotations

import re
from collections.abc import Callable

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from creditbridge.audit.models import AuditEvent
from creditbridge.core.actors import CONSOLE, Role
from creditbridge.marketplace import service
from creditbridge.marketplace.models import Product, WhitelistEntry
from web import conftest as web_fixtures
from web.conftest import LoggedIn

from .conftest import Market

app = web_fixtures.app
client = web_fixtures.client
login_as = web_fixtures.login_as

PRODUCT = {
    "code": "pg-tech",
    "name": "页面科技贷",
    "product_type": "tech_loan",
    "security_type": "credit",
    "min_amount_wan": "50",
    "max_amount_wan": "1000",
    "min_rate_pct": "3.4",
    "max_rate_pct": "5",
    "min_term_months": "12",
    "max_term_months": "36",
    "min_years": "2",
    "min_grade": "BBB",
}


def _post(client: TestClient, url: str, csrf: str, **data: object) -> str:
    response = client.post(url, data={"csrf_token": csrf, **data}, follow_redirects=False)
    assert response.status_code == 303, response.text[:2000]
    return response.headers["location"]


def _refused(
    client: TestClient,
    url: str,
    csrf: str,
    *,
    error: str,
    says: str,
    status: int = 422,
    **data: object,
) -> str:
    """Post a form the service refuses: the page again, with ``says`` at the ``error`` testid."""
    response = client.post(url, data={"csrf_token": csrf, **data})
    assert response.status_code == status
    assert f'data-testid="{error}"' in response.text
    assert says in response.text
    return response.text


def _value(page: str, name: str) -> str:
    match = re.search(rf'name="{name}" value="([^"]*)"', page)
    assert match, f"no input {name}"
    return match.group(1)


def test_a_refused_product_form_keeps_its_input_with_chinese_messages_at_the_fields(
    client: TestClient, session: Session, market: Market, login_as: Callable[..., LoggedIn]
) -> None:
    officer = login_as(Role.INSTITUTION_OFFICER, institution_id=market.bank.id)
    assert client.get("/market/products/new").status_code == 200
    bad = client.post(
        "/market/products",
        data={
            "csrf_token": officer.csrf,
            **PRODUCT,
            "max_rate_pct": "五",
            "size_classes": ["small", "micro"],
            "regions": ["340100"],
            "other_regions": "340102, 999999",
            "industry_sections": ["C"],
        },
    )
    assert bad.status_code == 422
    assert 'data-testid="product-form"' in bad.text
    assert 'data-testid="error-max_rate_bp"' in bad.text
    assert "请输入利率（%，最多两位小数）" in bad.text
    assert "无法识别的行政区划代码：999999" in bad.text
    assert "max_rate_bp" not in re.sub(r'data-testid="error-max_rate_bp"', "", bad.text)
    assert _value(bad.text, "name") == "页面科技贷"
    assert _value(bad.text, "max_rate_pct") == "五"
    assert _value(bad.text, "other_regions") == "340102, 999999"
    assert re.search(r'value="small" id="p-size-small" checked', bad.text)
    assert re.search(r'value="340100" id="p-region-340100" checked', bad.text)
    assert re.search(r'value="C" id="p-ind-C" checked', bad.text)
    assert session.scalar(select(Product).where(Product.code == "pg-tech")) is None

    where = _post(
        client,
        "/market/products",
        officer.csrf,
        **PRODUCT,
        size_classes=["small", "micro"],
        regions=["340100"],
        other_regions="340202",
        industry_sections=["C"],
    )
    product = session.scalars(select(Product).where(Product.code == "pg-tech")).one()
    assert where == f"/market/products/{product.id}"
    assert product.regions == ["340100", "340202"]
    assert product.industry_sections == ["C"]
    assert product.size_classes == ["micro", "small"]
    assert product.min_years == 2
    assert product.status == "pending_review"
    detail = client.get(where)
    assert detail.status_code == 200
    assert "芜湖市" not in detail.text  # the county, by its name
    assert "镜湖区" in detail.text


def test_the_officer_edits_pauses_and_withdraws_and_the_operator_reviews_the_change(
    client: TestClient, session: Session, market: Market, login_as: Callable[..., LoggedIn]
) -> None:
    product = market.credit_product
    officer = login_as(Role.INSTITUTION_OFFICER, institution_id=market.bank.id)
    form = client.get(f"/market/products/{product.id}/edit")
    assert form.status_code == 200
    assert _value(form.text, "min_rate_pct") == "4"
    fields = {
        name: _value(form.text, name)
        for name in (
            "name",
            "min_amount_wan",
            "max_amount_wan",
            "min_rate_pct",
            "max_rate_pct",
            "min_term_months",
            "max_term_months",
            "min_years",
        )
    }
    base = {**fields, "product_type": product.product_type, "security_type": "credit"}
    refused = client.post(
        f"/market/products/{product.id}/edit",
        data={"csrf_token": officer.csrf, **base, "min_rate_pct": "9", "max_rate_pct": "5"},
    )
    assert refused.status_code == 422
    assert "利率范围有误" in refused.text
    assert _value(refused.text, "min_rate_pct") == "9"
    _post(
        client,
        f"/market/products/{product.id}/edit",
        officer.csrf,
        **{**base, "min_rate_pct": "3.5"},
    )
    session.refresh(product)
    assert product.min_rate_bp == 400  # the approved terms stay live
    detail = client.get(f"/market/products/{product.id}")
    assert 'data-testid="pending-change"' in detail.text
    assert 'data-testid="change-min_rate_bp"' in detail.text
    listing = client.get("/market/products")
    assert 'data-testid="product-change-pending"' in listing.text

    # Withdrawal without a reason: the page again, the refusal at the field, nothing changed.
    _refused(
        client,
        f"/market/products/{product.id}/status",
        officer.csrf,
        error="product-withdraw-error",
        says="请填写理由",
        move="withdraw",
        reason="",
    )
    session.refresh(product)
    assert product.status == "published"

    operator = login_as(Role.OPERATOR)
    queue = client.get("/market/review?kind=edit")
    assert queue.status_code == 200
    assert f'data-code="{product.code}" data-kind="edit"' in queue.text
    _refused(
        client,
        f"/market/products/{product.id}/review",
        operator.csrf,
        error="reject-error",
        says="须填写理由",
        decision="reject",
        note="",
    )
    _post(client, f"/market/products/{product.id}/review", operator.csrf, decision="approve")
    session.refresh(product)
    assert product.min_rate_bp == 350

    officer = login_as(Role.INSTITUTION_OFFICER, institution_id=market.bank.id)
    _post(client, f"/market/products/{product.id}/status", officer.csrf, move="pause")
    session.refresh(product)
    assert product.status == "paused"
    paused = client.get("/market/products?status=paused")
    assert f'data-code="{product.code}"' in paused.text
    assert f'data-code="{market.mortgage_product.code}"' not in paused.text
    export = client.get("/market/products.csv?status=paused")
    assert export.status_code == 200
    assert product.code in export.text
    assert "已暂停" in export.text
    assert market.mortgage_product.code not in export.text


def test_the_whitelist_rejection_keeps_the_page_and_says_why_in_chinese(
    client: TestClient, session: Session, market: Market, login_as: Callable[..., LoggedIn]
) -> None:
    entry = service.add_whitelist_candidate(
        session, CONSOLE, subject_id=market.subject.id, grade="AA", reasons=["grade"]
    )
    operator = login_as(Role.OPERATOR)
    refused = _refused(
        client,
        f"/market/whitelist/{entry.id}/review/county",
        operator.csrf,
        error="wl-reject-error",
        says="请填写理由",
        decision="reject",
        note="  ",
    )
    assert 'data-testid="whitelist"' in refused
    assert session.get(WhitelistEntry, entry.id).status == "proposed"  # type: ignore[union-attr]
    wrong_stage = client.post(
        f"/market/whitelist/{entry.id}/review/province",
        data={"csrf_token": operator.csrf, "decision": "pass", "note": ""},
    )
    assert wrong_stage.status_code == 409
    assert 'data-testid="whitelist"' in wrong_stage.text
    _post(
        client,
        f"/market/whitelist/{entry.id}/review/county",
        operator.csrf,
        decision="pass",
        note="",
    )
    page = client.get("/market/whitelist?status=county_passed&grade=A")
    assert f'data-entry="{entry.id}"' in page.text
    assert f'data-entry="{entry.id}"' not in client.get("/market/whitelist?status=listed").text
    export = client.get("/market/whitelist.csv?status=county_passed")
    assert export.status_code == 200
    assert market.subject.uscc in export.text
    assert "待市级审核" in export.text
    assert session.scalar(
        select(AuditEvent.id).where(AuditEvent.action == "market.whitelist.export")
    )


def test_a_pending_change_of_the_consent_scope_names_the_categories(
    client: TestClient, session: Session, market: Market, login_as: Callable[..., LoggedIn]
) -> None:
    from dataclasses import replace

    from creditbridge.catalog import service as catalog_service
    from creditbridge.marketplace.service import products as product_service

    categories = catalog_service.list_categories(session)
    assert len(categories) >= 2, "the catalog's categories are loaded with the list"
    product = market.credit_product
    terms = product_service.terms_of(product)
    chosen = sorted(c.code for c in categories)[:2]
    chosen = chosen if chosen != sorted(terms["consent_categories"]) else [chosen[0]]
    spec = replace(
        service.ProductInput(code=product.code, **terms),  # type: ignore[arg-type]
        consent_categories=chosen,
    )
    product_service.edit_product(session, market.officer, product_id=product.id, spec=spec)
    login_as(Role.INSTITUTION_OFFICER, institution_id=market.bank.id)

    detail = client.get(f"/market/products/{product.id}").text

    change = detail[detail.index('data-testid="change-consent_categories"') :]
    change = change[: change.index("</tr>") if "</tr>" in change else 600]
    names = {c.code: c.name_zh for c in categories}
    for code in chosen:
        assert names[code] in change
        assert f">{code}<" not in change
        assert f"{code}、" not in change
