"""The upload page, a batch's page and its reject report download."""

from __future__ import annotations

import re
from collections.abc import Callable

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from creditbridge.core.actors import Role
from creditbridge.ingest.models import Provider

from .conftest import TAX_HEADER_ZH, assign, codes, csv_bytes, tax_rows


def upload(client: TestClient, csrf: str, provider_id: int, data: bytes, **form: str):  # type: ignore[no-untyped-def]
    return client.post(
        "/ingest/upload",
        data={
            "provider_id": str(provider_id),
            "dataset": "tax_payment",
            "csrf_token": csrf,
            **form,
        },
        files={"file": ("纳税信息.csv", data, "text/csv")},
        follow_redirects=True,
    )


def test_operator_uploads_a_gbk_file_and_downloads_the_report(
    client: TestClient, session: Session, provider: Provider, login_as: Callable[..., object]
) -> None:
    operator = login_as(Role.OPERATOR)
    form = client.get("/ingest/upload")
    assert form.status_code == 200
    assert provider.name in form.text
    rows = [*tax_rows(codes(30)), ("91340100MA2T0001", "2026-09", "是", "1", "1", "1", "1")]

    page = upload(client, operator.csrf, provider.id, csv_bytes(rows, TAX_HEADER_ZH, "gbk"),  # type: ignore[attr-defined]
                  reason="代为补报")  # fmt: skip

    assert page.status_code == 200, page.text
    assert re.search(r'data-testid="count-accepted" data-value="30"', page.text)
    assert re.search(r'data-testid="count-rejected" data-value="1"', page.text)
    assert "GBK/GB18030" in page.text
    # The dataset by its name, not its code.
    from creditbridge.catalog import service as catalog_service

    name = catalog_service.get_dataset_or_raise(session, code="tax_payment").name_zh
    assert re.search(rf'data-testid="batch-dataset" title="tax_payment">{name}<', page.text)
    link = re.search(r'href="(/ingest/batches/\d+/rejects.csv)"', page.text)
    assert link
    report = client.get(link.group(1))
    assert report.content.startswith(b"\xef\xbb\xbf")
    assert "32,uscc,统一社会信用代码,91340100MA2T0001,INGEST-USCC" in report.content.decode(
        "utf-8-sig"
    )


def test_provider_user_sees_only_its_provider(
    client: TestClient, session: Session, provider: Provider, login_as: Callable[..., object]
) -> None:
    clerk = login_as(Role.PROVIDER_USER)
    form = client.get("/ingest/upload")
    assert provider.name not in form.text
    refused = upload(client, clerk.csrf, provider.id, csv_bytes(tax_rows(codes(1))))  # type: ignore[attr-defined]
    assert refused.status_code == 403

    own = clerk.user.provider_id  # type: ignore[attr-defined]
    assign(session, own, "tax_payment")
    done = upload(client, clerk.csrf, own, csv_bytes(tax_rows(codes(1))), batch_id="k1")  # type: ignore[attr-defined]
    assert done.status_code == 200
    assert 'data-value="1"' in done.text
    again = upload(client, clerk.csrf, own, csv_bytes(tax_rows(codes(1))), batch_id="k1")  # type: ignore[attr-defined]
    assert 'data-testid="replayed"' in again.text


def test_an_institution_cannot_open_the_upload_page(
    client: TestClient, login_as: Callable[..., object]
) -> None:
    login_as(Role.INSTITUTION_OFFICER)
    assert client.get("/ingest/upload").status_code == 403
