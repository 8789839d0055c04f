"""Consent pages through the real application: the enterprise decides, downloads receipts and
sees who read its data; the institution requests consents and reads under them."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

import factories
from creditbridge.audit.models import AuditEvent
from creditbridge.consent import service
from creditbridge.consent.models import ConsentGrant
from creditbridge.core.actors import Role
from web import conftest as web_fixtures
from web.conftest import LOGIN_PASSWORD, LoggedIn
from web.helpers import csrf_from, table_rows, visible_text

from .conftest import World, active, request

INJECTIONS = ("<script>alert('x')</script>", "'; DROP TABLE consent_grant; --")


def _login_owner(client: TestClient, session: Session, world: World, name: str = "owner") -> str:
    """Log in an enterprise user bound to ``world.subject``; returns the session's CSRF token."""
    # An enterprise account is never created by an admin (issue 21): the factory writes it as
    # a verified registration leaves it.
    factories.account(
        session,
        Role.ENTERPRISE_USER,
        username=name,
        display_name="企业经办人",
        password=LOGIN_PASSWORD,
        subject_id=world.subject.id,
    )
    client.cookies.clear()
    form = client.get("/login")
    done = client.post(
        "/login",
        data={"username": name, "password": LOGIN_PASSWORD, "csrf_token": csrf_from(form.text)},
        follow_redirects=False,
    )
    assert done.status_code == 303, done.text
    return csrf_from(client.get("/enterprise/consents").text)


def _events(session: Session, action: str) -> int:
    return session.scalar(select(func.count()).where(AuditEvent.action == action)) or 0


app = web_fixtures.app
client = web_fixtures.client
login_as = web_fixtures.login_as

Login = Callable[..., LoggedIn]


# --- the enterprise --------------------------------------------------------------------------


class TestEnterprise:
    def test_pending_requests_come_first_with_approve_buttons(
        self, client: TestClient, session: Session, world: World
    ) -> None:
        old = active(world, session)
        pending = request(world, session, categories=["social_insurance"])
        _login_owner(client, session, world)

        page = client.get("/enterprise/consents")

        assert page.status_code == 200
        ids = re.findall(r'data-testid="consent-row" data-consent-id="(\d+)"', page.text)
        assert ids == [str(pending.id), str(old.id)]
        rows = table_rows(page.text, "consents")
        assert "徽商银行" in rows[0][1]
        assert "待企业确认" in rows[0][6]
        assert "社会保险费缴纳" in rows[0][3]
        assert "生效中" in rows[1][6]
        assert f"/consents/{pending.id}/approve" in page.text

    def test_approve_reject_pause_resume_revoke_from_the_detail_page(
        self, client: TestClient, session: Session, world: World
    ) -> None:
        first = request(world, session)
        second = request(world, session, purpose="credit_line_review")
        csrf = _login_owner(client, session, world)

        for move in ("approve", "pause", "resume", "revoke"):
            done = client.post(
                f"/consents/{first.id}/{move}",
                data={"csrf_token": csrf, "reason": "经营调整" if move == "revoke" else ""},
                follow_redirects=False,
            )
            assert done.status_code == 303, done.text
            assert done.headers["location"] == f"/consents/{first.id}"
        rejected = client.post(
            f"/consents/{second.id}/reject",
            data={"csrf_token": csrf, "reason": "用途不符"},
            follow_redirects=False,
        )
        assert rejected.status_code == 303

        session.expire_all()
        assert session.get(ConsentGrant, first.id).status == "revoked"  # type: ignore[union-attr]
        assert session.get(ConsentGrant, second.id).status == "rejected"  # type: ignore[union-attr]
        detail = client.get(f"/consents/{first.id}")
        history = [row[1] for row in table_rows(detail.text, "consent-history")]
        assert history == [
            "申请授权",
            "同意授权 → 生效中",
            "暂停授权 → 已暂停",
            "恢复授权 → 生效中",
            "撤销授权 → 已撤销",
        ]
        assert "经营调整" in visible_text(detail.text)
        assert 'data-testid="approve"' not in detail.text  # a revoked consent has no moves

    def test_an_illegal_move_is_refused_with_a_conflict(
        self, client: TestClient, session: Session, world: World
    ) -> None:
        grant = request(world, session)
        csrf = _login_owner(client, session, world)
        refused = client.post(f"/consents/{grant.id}/resume", data={"csrf_token": csrf})
        assert refused.status_code == 409
        assert "不能恢复授权" in refused.text

    def test_a_post_without_its_csrf_token_changes_nothing(
        self, client: TestClient, session: Session, world: World
    ) -> None:
        grant = request(world, session)
        _login_owner(client, session, world)
        refused = client.post(f"/consents/{grant.id}/approve", data={})
        assert refused.status_code == 403
        assert "CB-CSRF" in refused.text
        session.expire_all()
        assert session.get(ConsentGrant, grant.id).status == "requested"  # type: ignore[union-attr]

    def test_another_enterprises_consent_is_not_found(
        self, client: TestClient, session: Session, world: World
    ) -> None:
        theirs = request(world, session, uscc=world.other_subject.uscc)
        service.approve(session, world.other_owner, consent_id=theirs.id)
        csrf = _login_owner(client, session, world)

        assert client.get(f"/consents/{theirs.id}").status_code == 404
        receipt = client.post(f"/consents/{theirs.id}/receipt", data={"csrf_token": csrf})
        assert receipt.status_code == 404
        assert client.get("/consents/999999999").status_code == 404
        moved = client.post(f"/consents/{theirs.id}/revoke", data={"csrf_token": csrf})
        assert moved.status_code == 404
        session.expire_all()
        assert session.get(ConsentGrant, theirs.id).status == "active"  # type: ignore[union-attr]

    def test_receipt_downloads_signed_and_verifiable(
        self, client: TestClient, session: Session, world: World
    ) -> None:
        grant = active(world, session)
        csrf = _login_owner(client, session, world)
        detail = client.get(f"/consents/{grant.id}")
        assert "creditbridge consent verify" in detail.text
        assert "/.well-known/creditbridge/signing-key.pem" in detail.text

        receipt = client.post(f"/consents/{grant.id}/receipt", data={"csrf_token": csrf})

        assert receipt.status_code == 200
        assert "attachment" in receipt.headers["content-disposition"]
        check = service.verify_receipt(receipt.content)
        assert check.ok, check.message
        assert check.artefact is not None
        assert check.artefact["reference"] == grant.reference
        assert _events(session, "consent.receipt") == 1

    def test_access_log_and_notifications_show_the_institutions_read(
        self, client: TestClient, session: Session, world: World
    ) -> None:
        grant = active(world, session)
        service.read_records(
            session,
            world.officer,
            subject_id=world.subject.id,
            purpose="loan_application",
            categories=["tax"],
        )
        _login_owner(client, session, world)

        log = client.get("/enterprise/access-log")

        rows = table_rows(log.text, "access-log")
        assert len(rows) == 1
        assert rows[0][1] == "徽商银行"
        assert rows[0][2] == world.officer.name
        assert rows[0][3] == "贷款申请审查"
        assert "纳税信息" in rows[0][4] or "纳税" in rows[0][4]
        assert f"/consents/{grant.id}" in log.text
        notes = client.get("/notifications")
        assert grant.reference in visible_text(notes.text)

    def test_the_enterprise_cannot_use_institution_pages(
        self, client: TestClient, session: Session, world: World
    ) -> None:
        _login_owner(client, session, world)
        assert client.get("/institution/consents").status_code == 403
        assert client.get("/institution/read").status_code == 403
        assert client.get("/audit").status_code == 403


def test_pages_need_login(client: TestClient) -> None:
    for path in ("/enterprise/consents", "/institution/consents/new", "/consents/1", "/audit"):
        response = client.get(path, follow_redirects=False)
        assert response.status_code == 303
        assert response.headers["location"].startswith("/login?next=")


# --- the institution -------------------------------------------------------------------------


class TestInstitution:
    def test_request_form_lists_purposes_and_categories_in_chinese(
        self, client: TestClient, session: Session, world: World, login_as: Login
    ) -> None:
        login_as(Role.INSTITUTION_OFFICER, institution_id=world.bank.id)
        page = client.get("/institution/consents/new")
        assert page.status_code == 200
        text = visible_text(page.text)
        for name in ("贷款申请审查", "纳税", "社会保险费缴纳", "住房公积金缴纳", "水电气"):
            assert name in text
        assert 'name="categories" value="tax"' in page.text

    def test_a_valid_request_creates_a_pending_consent(
        self, client: TestClient, session: Session, world: World, login_as: Login
    ) -> None:
        officer = login_as(Role.INSTITUTION_OFFICER, institution_id=world.bank.id)
        done = client.post(
            "/institution/consents",
            data={
                "csrf_token": officer.csrf,
                "uscc": world.subject.uscc.lower(),
                "purpose": "loan_application",
                "categories": ["tax", "social_insurance"],
                "data_from": "2024-01-01",
                "data_to": "2025-12-31",
                "valid_until": "2026-03-31",
                "max_uses": "3",
                "note": "流动资金贷款",
            },
            follow_redirects=False,
        )
        assert done.status_code == 303, done.text
        grant = session.scalars(select(ConsentGrant)).one()
        assert done.headers["location"] == f"/consents/{grant.id}"
        assert grant.status == "requested"
        assert grant.categories == ["social_insurance", "tax"]
        assert grant.institution_id == world.bank.id
        assert grant.data_from == date(2024, 1, 1)
        listing = client.get("/institution/consents")
        assert "待企业确认" in table_rows(listing.text, "consents")[0][6]

    def test_invalid_requests_show_chinese_errors_next_to_fields(
        self, client: TestClient, session: Session, world: World, login_as: Login
    ) -> None:
        officer = login_as(Role.INSTITUTION_OFFICER, institution_id=world.bank.id)
        base = {
            "csrf_token": officer.csrf,
            "uscc": world.subject.uscc,
            "purpose": "loan_application",
            "valid_until": "2026-03-31",
            "max_uses": "3",
        }
        no_scope = client.post("/institution/consents", data=base)
        assert no_scope.status_code == 422
        assert re.search(r'data-testid="error-categories">至少选择一个信息类别<', no_scope.text)

        bad = client.post(
            "/institution/consents",
            data={**base, "categories": ["tax"], "max_uses": "abc", "valid_until": "2025-01-01"},
        )
        assert bad.status_code == 422
        assert 'data-testid="error-max_uses">请输入正整数<' in bad.text

        past = client.post(
            "/institution/consents",
            data={**base, "categories": ["tax"], "valid_until": "2025-01-01"},
        )
        assert 'data-testid="error-valid_until">授权截止时间须晚于开始时间和当前时间<' in past.text

        unknown = client.post(
            "/institution/consents",
            data={**base, "categories": ["tax"], "uscc": "91340100MA2N9999XX"},
        )
        assert unknown.status_code == 422
        assert 'data-testid="error-uscc">未找到该统一社会信用代码对应的企业<' in unknown.text
        # What was typed is kept.
        assert 'value="91340100MA2N9999XX"' in unknown.text
        assert session.scalar(select(func.count()).select_from(ConsentGrant)) == 0

    @pytest.mark.parametrize("note", INJECTIONS)
    def test_injection_strings_in_the_note_are_stored_and_shown_escaped(
        self, client: TestClient, session: Session, world: World, login_as: Login, note: str
    ) -> None:
        officer = login_as(Role.INSTITUTION_OFFICER, institution_id=world.bank.id)
        done = client.post(
            "/institution/consents",
            data={
                "csrf_token": officer.csrf,
                "uscc": world.subject.uscc,
                "purpose": "loan_application",
                "categories": ["tax"],
                "valid_until": "2026-03-31",
                "max_uses": "2",
                "note": note,
            },
        )
        assert done.status_code == 200
        assert "<script>alert" not in done.text
        assert re.search(r'data-testid="consent-note">([^<]*)<', done.text).group(1) == (  # type: ignore[union-attr]
            note.replace("&", "&amp;")
            .replace("<", "&lt;")
            .replace(">", "&gt;")
            .replace("'", "&#39;")
        )
        assert session.scalars(select(ConsentGrant)).one().note == note
        _login_owner(client, session, world)
        mine = client.get(f"/consents/{session.scalars(select(ConsentGrant)).one().id}")
        assert "<script>alert" not in mine.text
        assert note in visible_text(mine.text)

    def test_another_institutions_consent_is_not_found(
        self, client: TestClient, session: Session, world: World, login_as: Login
    ) -> None:
        theirs = active(world, session, actor=world.other_officer)
        login_as(Role.INSTITUTION_OFFICER, institution_id=world.bank.id)
        assert client.get(f"/consents/{theirs.id}").status_code == 404
        assert client.get(f"/institution/read?consent_id={theirs.id}").status_code == 404
        assert client.get("/institution/consents").text.count('data-testid="consent-row"') == 0

    def test_a_read_under_consent_shows_masked_data_grouped_by_category(
        self, client: TestClient, session: Session, world: World, login_as: Login
    ) -> None:
        grant = active(world, session)
        officer = login_as(Role.INSTITUTION_OFFICER, institution_id=world.bank.id)
        form = client.get(f"/institution/read?consent_id={grant.id}")
        assert f'value="{world.subject.uscc}"' in form.text
        assert re.search(r'value="tax" id="r-cat-tax" checked', form.text)

        page = client.post(
            "/institution/read",
            data={
                "csrf_token": officer.csrf,
                "uscc": world.subject.uscc,
                "purpose": "loan_application",
                "categories": ["registration", "tax"],
                "consent_id": str(grant.id),
            },
        )

        assert page.status_code == 200, page.text
        categories = re.findall(r'data-testid="read-category" data-category="(\w+)"', page.text)
        assert categories == ["registration", "tax"]
        tax = table_rows(page.text, "read-dataset-tax_payment")
        assert len(tax) == 1  # the consent's data range leaves out 2023
        assert "1.23万元" in " ".join(tax[0])  # 12345.60 元 in 万元
        registration = visible_text(page.text)
        assert "王五" not in registration  # a natural person's name is masked
        withheld = re.search(r'data-testid="withheld">(.*?)</div>\s*</div>', page.text, re.S)
        assert withheld
        assert "法定代表人" in withheld.group(1)
        assert "340102198001011234" not in page.text
        session.expire_all()
        assert session.get(ConsentGrant, grant.id).uses == 1  # type: ignore[union-attr]

    def test_a_refused_read_shows_the_reason_and_code_and_stays_on_record(
        self, client: TestClient, session: Session, world: World, login_as: Login
    ) -> None:
        grant = active(world, session)
        service.revoke(session, world.owner, consent_id=grant.id)
        officer = login_as(Role.INSTITUTION_OFFICER, institution_id=world.bank.id)

        page = client.post(
            "/institution/read",
            data={
                "csrf_token": officer.csrf,
                "uscc": world.subject.uscc,
                "purpose": "loan_application",
                "categories": ["tax"],
                "consent_id": str(grant.id),
            },
        )

        assert page.status_code == 403
        text = visible_text(page.text)
        assert "授权已被企业撤销" in text
        assert "企业已撤销授权，不能查询" in text
        assert "CB-CONSENT-REVOKED" in text
        # Committed although the request failed: the refusal is in the trail.
        assert _events(session, "data.read_refused") == 1

    def test_public_categories_are_read_without_a_consent(
        self, client: TestClient, session: Session, world: World, login_as: Login
    ) -> None:
        officer = login_as(Role.INSTITUTION_OFFICER, institution_id=world.bank.id)
        page = client.post(
            "/institution/read",
            data={
                "csrf_token": officer.csrf,
                "uscc": world.subject.uscc,
                "purpose": "loan_application",
                "categories": ["registration"],
            },
        )
        assert page.status_code == 200
        assert "仅公开信息" in visible_text(page.text)
        assert len(table_rows(page.text, "read-dataset-registration")) == 1

    def test_the_officer_cannot_use_enterprise_pages(
        self, client: TestClient, session: Session, world: World, login_as: Login
    ) -> None:
        grant = request(world, session)
        officer = login_as(Role.INSTITUTION_OFFICER, institution_id=world.bank.id)
        assert client.get("/enterprise/consents").status_code == 403
        assert client.get("/enterprise/access-log").status_code == 403
        receipt = client.post(f"/consents/{grant.id}/receipt", data={"csrf_token": officer.csrf})
        assert receipt.status_code == 403
        approve = client.post(f"/consents/{grant.id}/approve", data={"csrf_token": officer.csrf})
        assert approve.status_code == 403
        session.expire_all()
        assert session.get(ConsentGrant, grant.id).status == "requested"  # type: ignore[union-attr]
