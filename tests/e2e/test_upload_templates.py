"""A provider's clerk downloads a dataset's XLSX template from the upload page, uploads it, sees
the header check (every column recognised), applies it and gets a batch without rejects; a CSV
with an extra column shows that column as dropped before anything is applied. At 1366 and 390 px."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from ._upload_clerk import DATASET, login_to_upload, tax_clerk
from .conftest import Site, screenshot

pytestmark = [pytest.mark.browser, pytest.mark.both_stores]


def _no_sideways_scroll(page: Page) -> None:
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")


@pytest.mark.parametrize("width", [1366, 390])
def test_a_downloaded_template_uploads_clean(
    browser: Browser, site: Site, tmp_path: Path, width: int
) -> None:
    username = f"tplclerk{width}"
    tax_clerk(site, username, "模板填报员")
    context = browser.new_context(
        viewport={"width": width, "height": 900}, base_url=site.base_url, locale="zh-CN",
        accept_downloads=True,
    )  # fmt: skip
    problems: list[str] = []
    context.set_default_timeout(30_000)
    page = context.new_page()
    page.on("pageerror", lambda error: problems.append(str(error)))
    try:
        login_to_upload(page, site, username)
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
