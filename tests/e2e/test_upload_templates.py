"""A provider's clerk downloads a dataset's XLSX template from the upload page, uploads it, sees
the header check (every column recognised), applies it and gets a batch without rejects; a CSV
with an extra column shows that column as dropped before anything is applied. At 1366 and 390 px."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pyotp
import pytest
from playwright.sync_api import Browser, Page, expect
from sqlalchemy import select

from creditbridge.access import service as access_service
from creditbridge.core.actors import CONSOLE, Role
from creditbridge.core.clock import utc_now
from creditbridge.core.db import make_sessionmaker, session_scope
from creditbridge.ingest.models import Provider, ProviderDataset

from .conftest import Site, screenshot

pytestmark = pytest.mark.browser

PASSWORD = "Template-Journey-42"
DATASET = "tax_payment"


def _clerk(site: Site, username: str) -> int:
    with session_scope(make_sessionmaker(site.engine)) as session:
        provider = session.scalars(
            select(Provider)
            .join(ProviderDataset, ProviderDataset.provider_id == Provider.id)
            .where(ProviderDataset.dataset_code == DATASET)
            .order_by(Provider.id)
        ).first()
        if provider is None:
            provider = Provider(code="e2e-tpl", name="国家税务总局安徽省税务局", kind="department",
                                division_code="340000", created_at=utc_now())  # fmt: skip
            session.add(provider)
            session.flush()
            session.add(ProviderDataset(provider_id=provider.id, dataset_code=DATASET))
        access_service.create_user(
            session, CONSOLE, username=username, display_name="模板填报员", password=PASSWORD,
            role=Role.PROVIDER_USER, provider_id=provider.id,
        )  # fmt: skip
        return provider.id


def _login(page: Page, username: str) -> None:
    page.goto("/login?next=/ingest/upload")
    page.fill("#username", username)
    page.fill("#password", PASSWORD)
    page.locator("form button[type=submit]").first.click()
    page.wait_for_load_state()
    if "/login/totp" in page.url:
        secret = page.get_by_test_id("totp-secret").inner_text()
        page.fill("#code", pyotp.TOTP(secret).at(utc_now()))
        page.locator("form button[type=submit]").first.click()
        page.wait_for_load_state()
    if "/ingest/upload" not in page.url:
        page.goto("/ingest/upload")


def _no_sideways_scroll(page: Page) -> None:
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")


@pytest.mark.parametrize("width", [1366, 390])
def test_a_downloaded_template_uploads_clean(
    browser: Browser, site: Site, tmp_path: Path, width: int
) -> None:
    username = f"tplclerk{width}"
    _clerk(site, username)
    context = browser.new_context(
        viewport={"width": width, "height": 900}, base_url=site.base_url, locale="zh-CN",
        accept_downloads=True,
    )  # fmt: skip
    problems: list[str] = []
    context.set_default_timeout(30_000)
    page = context.new_page()
    page.on("pageerror", lambda error: problems.append(str(error)))
    try:
        _login(page, username)
        page.select_option("#u-dataset", DATASET)
        # Choosing the dataset reloads its template links.
        expect(page.get_by_test_id("template-xlsx")).to_have_attribute(
            "href", f"/catalog/{DATASET}/template.xlsx"
        )
        _no_sideways_scroll(page)
        screenshot(page, f"upload-form-{width}")

        with page.expect_download() as info:
            page.get_by_test_id("template-xlsx").click()
        download = info.value
        assert download.suggested_filename == f"{DATASET}-template.xlsx"
        xlsx = tmp_path / download.suggested_filename
        download.save_as(xlsx)

        page.set_input_files("#u-file", str(xlsx))
        page.fill("#u-batch", f"template-{width}")
        page.get_by_test_id("upload-submit").click()
        expect(page.get_by_test_id("check-clean")).to_be_visible()
        expect(page.get_by_test_id("dropped-columns")).to_have_count(0)
        expect(page.get_by_test_id("preview-rows")).to_be_visible()
        _no_sideways_scroll(page)
        screenshot(page, f"upload-check-{width}")

        page.get_by_test_id("upload-confirm").click()
        expect(page.get_by_test_id("count-total")).to_have_attribute("data-value", "1")
        expect(page.get_by_test_id("count-rejected")).to_have_attribute("data-value", "0")
        expect(page.get_by_test_id("batch-status")).to_have_text("已入库")
        _no_sideways_scroll(page)
        screenshot(page, f"upload-applied-{width}")

        # The CSV template with a column the list does not know: shown as dropped, not applied.
        page.goto(f"/ingest/upload?dataset={DATASET}")
        with page.expect_download() as info:
            page.get_by_test_id("template-csv").click()
        rows = list(csv.reader(io.StringIO(Path(info.value.path()).read_text("utf-8-sig"))))
        out = io.StringIO()
        csv.writer(out).writerows([[*rows[0], "内部备注"], [*rows[1], "不入库"]])
        extra = tmp_path / "extra.csv"
        extra.write_text(out.getvalue(), encoding="utf-8")
        page.set_input_files("#u-file", str(extra))
        page.get_by_test_id("upload-submit").click()
        expect(page.get_by_test_id("dropped-columns")).to_be_visible()
        expect(page.get_by_test_id("dropped-column")).to_have_text(["内部备注"])
        expect(page.get_by_test_id("upload-confirm")).to_contain_text("忽略 1 列")
        _no_sideways_scroll(page)
        screenshot(page, f"upload-dropped-{width}")

        page.goto("/ingest/batches")
        expect(page.get_by_test_id("batch-row").first).to_be_visible()
        _no_sideways_scroll(page)
        screenshot(page, f"upload-batches-{width}")
    finally:
        context.close()
    assert problems == []
