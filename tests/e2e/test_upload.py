"""A provider's clerk uploads a GBK CSV with Chinese headers and some bad rows, sees the counts,
downloads the reject report and finds the bad rows in it."""

from __future__ import annotations

import csv
import io

import numpy as np
import pytest
from playwright.sync_api import Page, expect

from creditbridge.reference import uscc

from ._upload_clerk import login_to_upload, tax_clerk
from .conftest import Site, screenshot

pytestmark = pytest.mark.browser

HEADER = "统一社会信用代码,所属期,是否按期申报,应税销售收入（万元）,增值税实缴税额,企业所得税实缴税额,实缴税额合计"


def test_upload_gbk_csv_see_counts_download_reject_report(page: Page, site: Site, tmp_path) -> None:  # type: ignore[no-untyped-def]
    username = "taxclerk"
    _, provider_name = tax_clerk(site, username, "税务填报员")
    codes = [
        str(c) for c in uscc.generate(np.random.default_rng(99), 40, division_codes=["340102"])
    ]
    good = [f"{c},2026年9月,是,12.5,100,200,300" for c in codes]
    bad = [
        "91340100XXXXXXXXX1,2026-09,是,1,1,1,1",  # invalid code
        f"{codes[0]},2026-13,是,1,1,1,1",  # no 13th month
    ]
    path = tmp_path / "纳税信息.csv"
    path.write_bytes(("\n".join([HEADER, *good, *bad]) + "\n").encode("gbk"))

    login_to_upload(page, site, username)
    expect(page.get_by_test_id("upload-form")).to_be_visible()
    # A provider's clerk can deliver for its own provider only.
    expect(page.locator("#u-provider option")).to_have_count(1)
    expect(page.locator("#u-provider option")).to_contain_text(provider_name)
    page.select_option("#u-dataset", "tax_payment")
    page.set_input_files("#u-file", str(path))
    page.fill("#u-batch", "2026-09-e2e")
    page.get_by_test_id("upload-submit").click()
    # The header check comes first: nothing is applied until the provider confirms.
    page.get_by_test_id("upload-confirm").click()

    expect(page.get_by_test_id("count-total")).to_have_attribute("data-value", "42")
    expect(page.get_by_test_id("count-accepted")).to_have_attribute("data-value", "40")
    expect(page.get_by_test_id("count-rejected")).to_have_attribute("data-value", "2")
    expect(page.get_by_test_id("encoding")).to_have_text("GBK/GB18030")
    screenshot(page, "e2e-ingest-batch")

    with page.expect_download() as info:
        page.get_by_test_id("download-rejects").click()
    data = info.value.path().read_bytes()
    assert data.startswith(b"\xef\xbb\xbf")
    report = list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))
    assert report[0][:6] == ["行号", "字段", "字段名称", "原值", "错误代码", "错误说明"]
    bad_rows = {(line[0], line[4]) for line in report[1:]}
    assert ("42", "INGEST-USCC") in bad_rows
    assert ("43", "INGEST-PERIOD-INVALID") in bad_rows
