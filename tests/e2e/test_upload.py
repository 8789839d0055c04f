"""A provider's clerk uploads a GBK CSV with Chinese headers and some bad rows, sees the counts,
downloads the reject report and finds the bad rows in it."""

from __future__ import annotations

import csv
import io

import numpy as np
import pyotp
import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import select

from creditbridge.access import service as access_service
from creditbridge.core.actors import CONSOLE, Role
from creditbridge.core.clock import utc_now
from creditbridge.core.db import make_sessionmaker, session_scope
from creditbridge.ingest.models import Provider, ProviderDataset
from creditbridge.reference import uscc

from .conftest import Site, screenshot

pytestmark = pytest.mark.browser

HEADER = "统一社会信用代码,所属期,是否按期申报,应税销售收入（万元）,增值税实缴税额,企业所得税实缴税额,实缴税额合计"
PASSWORD = "Upload-Journey-42"


def _provider_user(site: Site) -> tuple[str, int, str]:
    with session_scope(make_sessionmaker(site.engine)) as session:
        # A clerk delivers only the datasets the list assigns its provider (here tax_payment).
        provider = session.scalars(
            select(Provider)
            .join(ProviderDataset, ProviderDataset.provider_id == Provider.id)
            .where(ProviderDataset.dataset_code == "tax_payment")
            .order_by(Provider.id)
        ).first()
        if provider is None:
            provider = Provider(code="e2e-tax", name="国家税务总局安徽省税务局", kind="department",
                                division_code="340000", created_at=utc_now())  # fmt: skip
            session.add(provider)
            session.flush()
            session.add(ProviderDataset(provider_id=provider.id, dataset_code="tax_payment"))
        access_service.create_user(
            session, CONSOLE, username="taxclerk", display_name="税务填报员", password=PASSWORD,
            role=Role.PROVIDER_USER, provider_id=provider.id,
        )  # fmt: skip
        return "taxclerk", provider.id, provider.name


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


def test_upload_gbk_csv_see_counts_download_reject_report(page: Page, site: Site, tmp_path) -> None:  # type: ignore[no-untyped-def]
    username, _, provider_name = _provider_user(site)
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

    _login(page, username)
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
