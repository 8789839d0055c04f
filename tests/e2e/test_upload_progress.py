"""Long work shows progress (issue 23): a large file sent from an upload form shows a progress
bar that fills to 100%, and the page that answers the post comes next as without script."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from playwright.sync_api import Page, expect

from creditbridge.reference import uscc

from ._upload_clerk import DATASET, login_to_upload, tax_clerk
from .conftest import People, Site, demo_logins

pytestmark = pytest.mark.browser

TAX_HEADER = "统一社会信用代码,所属期,是否按期申报,应税销售收入（万元）,增值税实缴税额,企业所得税实缴税额,实缴税额合计"
FEW_MB = 4 * 1024 * 1024

# Records what the progress element shows as it changes. Set up by the test (CDP bypasses the
# page's CSP, which forbids inline script), reporting through an exposed binding: the page that
# answers the post replaces this one, and the binding outlives it.
WATCH_JS = """() => {
  const box = document.querySelector("[data-upload-progress]");
  const report = () => window.uploadProgressSeen(
    !box.classList.contains("d-none") && box.getClientRects().length > 0,
    box.querySelector("progress").value,
    box.querySelector("[data-upload-percent]").textContent,
    box.querySelector("[data-upload-bytes]").textContent,
  );
  new MutationObserver(report).observe(box, {attributes: true, subtree: true, childList: true, characterData: true});
}"""


def _watch_progress(page: Page) -> list[dict[str, Any]]:
    seen: list[dict[str, Any]] = []

    def record(visible: bool, value: float, percent: str, sent: str) -> None:
        seen.append({"visible": visible, "value": value, "percent": percent, "sent": sent})

    page.expose_function("uploadProgressSeen", record)
    page.evaluate(WATCH_JS)
    return seen


def _assert_progress_shown(seen: list[dict[str, Any]], size: int) -> None:
    shown = [s for s in seen if s["visible"]]
    assert shown, "the progress element never became visible"
    assert shown[-1]["value"] == 100
    assert shown[-1]["percent"] == "100%"
    # The bytes sent are the whole body: the file and the form's other fields.
    assert shown[-1]["sent"].startswith("已发送 ")
    total_mb = float(shown[-1]["sent"].split("/")[-1].strip().removesuffix(" MB"))
    assert total_mb >= round(size / (1024 * 1024), 1)


def _tax_csv(path: Path) -> int:
    codes = uscc.generate(np.random.default_rng(23), 2000, division_codes=["340102"])
    rows: list[str] = [TAX_HEADER]
    size = 0
    month = 0
    while size < FEW_MB:
        month += 1
        period = f"{2000 + month // 12}年{month % 12 + 1}月"
        block = [f"{c},{period},是,12.5,100,200,300" for c in codes]
        size += sum(len(line.encode()) + 1 for line in block)
        rows.extend(block)
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return path.stat().st_size


def test_a_clerks_large_upload_shows_its_progress_then_the_header_check(
    people: People, site: Site, tmp_path: Path
) -> None:
    username = "progressclerk"
    tax_clerk(site, username, "税务填报员（大文件）")
    clerk = people.open()
    page = clerk.page
    login_to_upload(page, site, username)
    expect(page.get_by_test_id("upload-form")).to_be_visible()
    # Hidden until a file is being sent: without script the form posts as it always did.
    expect(page.get_by_test_id("upload-progress")).to_be_hidden()

    path = tmp_path / "纳税信息-大文件.csv"
    size = _tax_csv(path)
    assert size >= FEW_MB
    page.select_option("#u-dataset", DATASET)
    page.set_input_files("#u-file", str(path))
    seen = _watch_progress(page)
    page.get_by_test_id("upload-submit").click()

    # The header check answers the post, as it does without script.
    expect(page.get_by_test_id("check-clean")).to_be_visible(timeout=60_000)
    expect(page.get_by_test_id("upload-confirm")).to_be_visible()
    _assert_progress_shown(seen, size)


def test_a_banks_repayment_upload_shows_its_progress_then_the_answer(
    people: People, site: Site, tmp_path: Path
) -> None:
    # The refusal answers 422, which the browser logs as a failed load.
    officer = people.open(expected=r"status of 422")
    officer.login(demo_logins(site)["institution_officer"], "/market/loans/upload")
    page = officer.page
    expect(page.get_by_test_id("upload-form")).to_be_visible()
    expect(page.get_by_test_id("upload-progress")).to_be_hidden()

    template = page.request.get("/market/loans/upload/template?format=csv")
    header = template.text().lstrip("\ufeff").splitlines()[0]
    # Rows about a loan the bank does not have: the upload is refused whole, changing nothing.
    # Long malformed ids make the megabyte of a few thousand rows, refused without a lookup.
    assert header.split(",")[0] in ("贷款编号", "loan_id")
    row = ",".join(["X" * 200, "还款", "1", "2026-11-30"][: len(header.split(","))])
    path = tmp_path / "还款信息.csv"
    lines = [header, *[row] * (1024 * 1024 // (len(row) + 1))]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    size = path.stat().st_size

    page.set_input_files("#upload-file", str(path))
    seen = _watch_progress(page)
    page.get_by_test_id("upload-submit").click()

    # The answer to the post replaces the page: here the refusal, naming the rows.
    expect(page.get_by_test_id("refusal")).to_be_visible(timeout=120_000)
    _assert_progress_shown(seen, size)
