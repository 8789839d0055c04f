"""Credit reports in a real browser: the enterprise opens its profile and downloads its PDF; the
QR target confirms it genuine and an altered copy is rejected; an institution without a consent
sees only public sections, with one it sees the financing sections; the aggregates show charts."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from creditbridge.access.models import User
from creditbridge.access.service import actor_for_user
from creditbridge.consent import service as consent_service
from creditbridge.consent.models import ConsentGrant
from creditbridge.core.clock import utc_now
from creditbridge.core.db import make_sessionmaker, session_scope
from creditbridge.reports import domain
from creditbridge.subjects.models import Subject

from .conftest import People, Site, demo_logins, run_report_jobs, screenshot

pytestmark = pytest.mark.browser


def _grant_tax_consent(site: Site, officer_name: str, owner_name: str) -> None:
    with session_scope(make_sessionmaker(site.engine)) as session:
        officer = session.scalar(select(User).where(User.username == officer_name))
        owner = session.scalar(select(User).where(User.username == owner_name))
        assert officer is not None
        assert owner is not None
        subject = session.get(Subject, owner.subject_id)
        assert subject is not None
        grant = consent_service.request_consent(
            session,
            actor_for_user(officer),
            uscc=subject.uscc,
            purpose="loan_application",
            categories=["tax"],
            valid_until=utc_now() + timedelta(days=30),
            max_uses=10,
        )
        consent_service.approve(session, actor_for_user(owner), consent_id=grant.id)


def _subject_without_consent(site: Site, officer_name: str, exclude: str) -> str:
    with session_scope(make_sessionmaker(site.engine)) as session:
        officer = session.scalar(select(User).where(User.username == officer_name))
        assert officer is not None
        consented = set(
            session.scalars(
                select(ConsentGrant.subject_id).where(
                    ConsentGrant.institution_id == officer.institution_id
                )
            )
        )
        for subject in session.scalars(select(Subject).order_by(Subject.id).limit(200)):
            if subject.id not in consented and subject.uscc != exclude:
                return subject.uscc
    raise AssertionError("no enterprise without a consent")


def test_report_journey(site: Site, people: People, tmp_path: Path) -> None:
    logins = demo_logins(site)
    owner, bank, operator = (
        logins["enterprise_user"],
        logins["institution_officer"],
        logins["operator"],
    )
    uscc = owner["bound_to"].split()[-1]
    enterprise, officer, admin = (people.open(expected="status of 403") for _ in range(3))
    # 1. The enterprise opens its profile and downloads its own PDF report.
    enterprise.login(owner, f"/enterprises/{uscc}")
    page = enterprise.page
    expect(page.get_by_test_id("profile-audience")).to_have_text("企业自查版")
    expect(page.get_by_test_id("profile-category").first).to_be_visible()
    screenshot(page, "reports-1-profile")
    with page.expect_download() as download:
        page.get_by_test_id("issue-pdf").click()
    pdf = Path(download.value.path()).read_bytes()
    assert pdf.startswith(b"%PDF")
    found = domain.extract_seal(pdf)
    assert found is not None
    report_no = found[1]["content"]["report_no"]

    # 2. The QR code's target confirms the report; uploading the file proves it unaltered.
    page.goto(f"/verify/{report_no}")
    expect(page.get_by_test_id("verify-registered")).to_be_visible()
    screenshot(page, "reports-2-verify-number")
    genuine = tmp_path / "report.pdf"
    genuine.write_bytes(pdf)
    page.locator("#verify-file").set_input_files(str(genuine))
    page.get_by_role("button", name="核验").click()
    expect(page.get_by_test_id("verify-result")).to_have_attribute("data-ok", "true")
    screenshot(page, "reports-3-verify-genuine")

    # 3. An altered copy is rejected, naming the check that failed.
    middle = len(pdf) // 3
    altered = tmp_path / "altered.pdf"
    altered.write_bytes(pdf[:middle] + bytes([pdf[middle] ^ 1]) + pdf[middle + 1 :])
    page.goto("/verify")
    page.locator("#verify-file").set_input_files(str(altered))
    page.get_by_role("button", name="核验").click()
    result = page.get_by_test_id("verify-result")
    expect(result).to_have_attribute("data-ok", "false")
    expect(result).to_have_attribute("data-failed", "file")
    expect(result).to_contain_text("文件完整性")
    screenshot(page, "reports-4-verify-altered")

    # 4. The self-query page shows the access log beside the report.
    page.goto("/me/report")
    expect(page.get_by_test_id("self-access-log")).to_be_visible()
    expect(page.get_by_test_id("self-issuances")).to_contain_text(report_no)
    screenshot(page, "reports-5-self")

    # 5. An institution without a consent sees only the public sections…
    other = _subject_without_consent(site, bank["username"], uscc)
    # A link to a report lands on the page that issues it (a POST with the CSRF token).
    officer.login(bank, f"/reports/{other}")
    report = officer.page
    expect(report.get_by_test_id("issue-confirm")).to_be_visible()
    report.get_by_test_id("issue-confirm-html").click()
    expect(report.get_by_test_id("credit-report")).to_have_attribute("data-audience", "public")
    expect(report.locator('[data-section="penalties"]')).to_be_visible()
    expect(report.locator('[data-section="tax"]')).to_have_count(0)
    screenshot(report, "reports-6-public-report")

    # 6. …and with the enterprise's consent, the financing sections it covers.
    _grant_tax_consent(site, bank["username"], owner["username"])
    report.goto(f"/reports/{uscc}")
    report.get_by_test_id("issue-confirm-html").click()
    expect(report.get_by_test_id("credit-report")).to_have_attribute("data-audience", "consented")
    expect(report.locator('[data-section="tax"]')).to_be_visible()
    expect(report.get_by_test_id("report-consent")).to_be_visible()
    screenshot(report, "reports-7-consented-report")

    # 7. The operator computes the aggregates; the page charts them by city and industry.
    admin.login(operator, "/aggregates")
    figures = admin.page
    figures.get_by_test_id("agg-refresh").click()
    # The recomputation is a job: the worker beside the server runs it, and the page reloads
    # with the figures once the status fragment sees it done.
    expect(figures.get_by_test_id("agg-status")).to_be_visible()
    run_report_jobs(site)
    # The status fragment polls every 2 s and reloads the page once the run is done.
    expect(figures.get_by_test_id("chart-city").locator("svg")).to_be_visible(timeout=30_000)
    expect(figures.get_by_test_id("chart-section").locator("svg")).to_be_visible()
    expect(figures.get_by_test_id("agg-table-city")).to_contain_text("合肥市")
    screenshot(figures, "reports-8-aggregates")
    assert re.search(r"/aggregates$", figures.url)
