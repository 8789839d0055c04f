"""Report pages through the real application: search and profile per role, the report in HTML
and PDF, public verification with upload, the enterprise's self-query, and bad input."""

from __future__ import annotations

import re
from collections.abc import Callable

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

import factories
from creditbridge.core.actors import CONSOLE, Role
from creditbridge.core.config import get_settings
from creditbridge.reports import service
from web import conftest as web_fixtures
from web.conftest import LOGIN_PASSWORD, LoggedIn
from web.helpers import csrf_from, visible_text

from .conftest import World, grant_consent

app = web_fixtures.app
client = web_fixtures.client
login_as = web_fixtures.login_as
Login = Callable[..., LoggedIn]


def _login_owner(client: TestClient, session: Session, world: World) -> None:
    # An enterprise account is never created by an admin (issue 21): the factory writes it as
    # a verified registration leaves it.
    factories.account(
        session,
        Role.ENTERPRISE_USER,
        username="owner",
        display_name="企业经办人",
        password=LOGIN_PASSWORD,
        subject_id=world.subject.id,
    )
    client.cookies.clear()
    form = client.get("/login")
    done = client.post(
        "/login",
        data={"username": "owner", "password": LOGIN_PASSWORD, "csrf_token": csrf_from(form.text)},
        follow_redirects=False,
    )
    assert done.status_code == 303, done.text


def _sections(html: str) -> list[str]:
    return re.findall(r'data-section="([a-z_]+)"', html)


class TestSearchAndProfile:
    def test_search_redirects_to_the_profile(
        self, client: TestClient, world: World, login_as: Login
    ) -> None:
        login_as(Role.OPERATOR)
        page = client.get(f"/enterprises?q={world.subject.uscc.lower()}", follow_redirects=False)
        assert page.status_code == 303
        assert page.headers["location"] == f"/enterprises/{world.subject.uscc}"

    def test_unknown_code_gets_not_found_with_a_search_box(
        self, client: TestClient, world: World, login_as: Login
    ) -> None:
        login_as(Role.OPERATOR)
        page = client.get("/enterprises/91340100MA2T000995")
        assert page.status_code == 404
        assert 'data-testid="not-found"' in page.text
        assert 'data-testid="search-form"' in page.text

    def test_malformed_code_gets_the_validators_reason(
        self, client: TestClient, world: World, login_as: Login
    ) -> None:
        login_as(Role.OPERATOR)
        page = client.get("/reports/91340100MA2T0001")
        assert page.status_code == 422
        assert "长度为16位，应为18位" in visible_text(page.text)
        page = client.get("/enterprises/91340100MA2T00015Z")
        assert page.status_code == 422
        assert "不合法" in visible_text(page.text) or "校验" in visible_text(page.text)

    def test_institution_profile_shows_public_categories_and_asks_consent_for_the_rest(
        self, client: TestClient, world: World, login_as: Login
    ) -> None:
        login_as(Role.INSTITUTION_OFFICER, institution_id=world.bank.id)
        page = client.get(f"/enterprises/{world.subject.uscc}")
        assert page.status_code == 200
        cats = re.findall(r'data-category="([a-z_]+)"', page.text)
        assert "penalty" in cats
        assert "tax" not in cats
        assert 'data-testid="hidden-categories"' in page.text
        assert 'data-flag="serious_dishonesty"' in page.text

    def test_profile_uses_a_consent_only_when_cited(
        self, client: TestClient, session: Session, world: World, login_as: Login
    ) -> None:
        grant = grant_consent(session, world)
        officer = login_as(Role.INSTITUTION_OFFICER, institution_id=world.bank.id)
        plain = client.get(f"/enterprises/{world.subject.uscc}")
        assert "tax" not in re.findall(r'data-category="([a-z_]+)"', plain.text)
        # A link citing the consent does not use it: a GET never spends a consent (issue 21).
        linked = client.get(f"/enterprises/{world.subject.uscc}?consent_id={grant.id}")
        assert "tax" not in re.findall(r'data-category="([a-z_]+)"', linked.text)
        session.refresh(grant)
        assert grant.uses == 0
        cited = client.post(
            f"/enterprises/{world.subject.uscc}",
            data={"consent_id": str(grant.id), "csrf_token": officer.csrf},
        )
        assert "tax" in re.findall(r'data-category="([a-z_]+)"', cited.text)
        session.refresh(grant)
        assert grant.uses == 1

    def test_owner_profile_shows_everything(
        self, client: TestClient, session: Session, world: World
    ) -> None:
        _login_owner(client, session, world)
        page = client.get(f"/enterprises/{world.subject.uscc}")
        assert page.status_code == 200
        cats = re.findall(r'data-category="([a-z_]+)"', page.text)
        assert "tax" in cats
        assert "已过公示期" in page.text

    def test_profile_needs_a_login(self, client: TestClient, world: World) -> None:
        page = client.get(f"/enterprises/{world.subject.uscc}", follow_redirects=False)
        assert page.status_code == 303
        assert page.headers["location"].startswith("/login")


class TestReport:
    def test_institution_without_consent_gets_public_sections_only(
        self, client: TestClient, world: World, login_as: Login
    ) -> None:
        officer = login_as(Role.INSTITUTION_OFFICER, institution_id=world.bank.id)
        page = client.post(f"/reports/{world.subject.uscc}", data={"csrf_token": officer.csrf})
        assert page.status_code == 200
        assert page.headers["content-type"].startswith("text/html")
        assert "tax" not in _sections(page.text)
        assert "penalties" in _sections(page.text)
        assert 'id="cb-report-seal"' in page.text
        assert 'href="/static/reports/report.css"' in page.text

    def test_institution_with_consent_gets_the_financing_sections(
        self, client: TestClient, session: Session, world: World, login_as: Login
    ) -> None:
        grant = grant_consent(session, world)
        officer = login_as(Role.INSTITUTION_OFFICER, institution_id=world.bank.id)
        page = client.post(
            f"/reports/{world.subject.uscc}",
            data={"consent_id": str(grant.id), "csrf_token": officer.csrf},
        )
        assert page.status_code == 200
        assert "tax" in _sections(page.text)
        assert grant.reference in page.text

    def test_a_refused_consent_is_explained(
        self, client: TestClient, session: Session, world: World, login_as: Login
    ) -> None:
        officer = login_as(Role.INSTITUTION_OFFICER, institution_id=world.bank.id)
        page = client.post(
            f"/reports/{world.subject.uscc}",
            data={"consent_id": "999999", "csrf_token": officer.csrf},
        )
        assert page.status_code in (403, 404)

    def test_pdf_downloads_and_verifies(
        self, client: TestClient, session: Session, world: World, login_as: Login
    ) -> None:
        operator = login_as(Role.OPERATOR)
        pdf = client.post(f"/reports/{world.subject.uscc}/pdf", data={"csrf_token": operator.csrf})
        assert pdf.status_code == 200
        assert pdf.headers["content-type"] == "application/pdf"
        assert "attachment" in pdf.headers["content-disposition"]
        assert service.verify_file(session, pdf.content).ok


class TestVerifyPage:
    def test_the_qr_target_confirms_a_registered_report_without_login(
        self, client: TestClient, session: Session, world: World
    ) -> None:
        issued = service.issue_report(
            session, CONSOLE, subject_id=world.subject.id, settings=get_settings()
        )
        client.cookies.clear()
        page = client.get(f"/verify/{issued.report_no}")
        assert page.status_code == 200
        assert 'data-testid="verify-registered"' in page.text
        assert world.subject.name in page.text

    def test_unknown_number_is_not_found(self, client: TestClient, world: World) -> None:
        page = client.get("/verify/340000-20260105-FFFFFFFFFF")
        assert page.status_code == 404
        assert 'data-testid="verify-unknown"' in page.text

    def test_upload_of_genuine_and_altered_files(
        self, client: TestClient, session: Session, world: World
    ) -> None:
        issued = service.issue_report(
            session, CONSOLE, subject_id=world.subject.id, settings=get_settings()
        )
        form = client.get("/verify")
        token = csrf_from(form.text)
        good = client.post(
            "/verify",
            data={"csrf_token": token},
            files={"file": ("r.html", issued.data, "text/html")},
        )
        assert good.status_code == 200
        assert 'data-ok="true"' in good.text
        altered = issued.data.replace("守合同重信用企业".encode(), "假冒".encode(), 1)
        bad = client.post("/verify", data={"csrf_token": token, "source": altered.decode()})
        assert bad.status_code == 200
        assert 'data-failed="file"' in bad.text
        assert "文件完整性" in bad.text

    def test_pasted_source_with_browser_line_breaks_is_genuine(
        self, client: TestClient, session: Session, world: World
    ) -> None:
        issued = service.issue_report(
            session, CONSOLE, subject_id=world.subject.id, settings=get_settings()
        )
        token = csrf_from(client.get("/verify").text)
        pasted = issued.data.decode().replace("\n", "\r\n").rstrip()
        page = client.post("/verify", data={"csrf_token": token, "source": pasted})
        assert 'data-ok="true"' in page.text

    def test_api_verifies_raw_bytes(
        self, client: TestClient, session: Session, world: World
    ) -> None:
        issued = service.issue_report(
            session, CONSOLE, subject_id=world.subject.id, fmt="html", settings=get_settings()
        )
        ok = client.post("/api/v1/reports/verify", content=issued.data)
        assert ok.json()["genuine"] is True
        bad = client.post("/api/v1/reports/verify", content=b"garbage")
        assert bad.json() | {"checks": []} == {
            "genuine": False,
            "failed_check": "format",
            "report_no": None,
            "format": None,
            "checks": [],
        }


class TestSelfQuery:
    def test_shows_the_access_log_and_downloads_the_full_report(
        self, client: TestClient, session: Session, world: World
    ) -> None:
        grant = grant_consent(session, world)
        service.issue_report(
            session,
            world.officer,
            subject_id=world.subject.id,
            consent_id=grant.id,
            settings=get_settings(),
        )
        _login_owner(client, session, world)

        page = client.get("/me/report")
        assert page.status_code == 200
        assert 'data-testid="access-row"' in page.text
        assert "徽商银行" in page.text
        token = csrf_from(page.text)
        pdf = client.post("/me/report/pdf", data={"csrf_token": token})
        assert pdf.status_code == 200
        assert pdf.content.startswith(b"%PDF")
        html = client.post(f"/reports/{world.subject.uscc}", data={"csrf_token": token})
        assert 'data-audience="owner"' in html.text
        assert "verification" in _sections(html.text)

    def test_only_enterprise_users(self, client: TestClient, world: World, login_as: Login) -> None:
        login_as(Role.OPERATOR)
        assert client.get("/me/report").status_code == 403
