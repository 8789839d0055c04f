"""The upload page's two steps: the header check (mapping, dropped columns, missing required
columns, first rows) while the file is held, then the confirmation that applies it; and the form
that keeps the provider's choices on a refusal."""

from __future__ import annotations

import os
import re
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from creditbridge.catalog import service as catalog_service
from creditbridge.core.actors import Role
from creditbridge.ingest import service
from creditbridge.ingest.models import Batch, Provider
from creditbridge.ingest.service import uploads

from .conftest import TAX_HEADER_ZH, codes, csv_bytes, tax_rows


def check(
    client: TestClient, csrf: str, provider_id: int, data: bytes, name: str = "tax.csv", **form: str
):  # type: ignore[no-untyped-def]
    return client.post(
        "/ingest/upload",
        data={
            "provider_id": str(provider_id),
            "dataset": "tax_payment",
            "csrf_token": csrf,
            "step": "check",
            **form,
        },
        files={"file": (name, data, "text/csv")},
    )


def confirm_fields(page: str) -> dict[str, str]:
    form = page[page.index('data-testid="confirm-form"') :]
    form = form[: form.index("</form>")]
    return dict(re.findall(r'name="([a-z_]+)" value="([^"]*)"', form))


def held_folders() -> list[Path]:
    return list(Path(uploads.tempfile.gettempdir()).glob(f"{uploads.UPLOAD_PREFIX}*-held*"))


def test_a_clean_header_is_shown_then_applied_on_confirmation(
    client: TestClient, session: Session, provider: Provider, login_as: Callable[..., object]
) -> None:
    operator = login_as(Role.OPERATOR)
    before = set(held_folders())
    data = csv_bytes(tax_rows(codes(3)))

    page = check(client, operator.csrf, provider.id, data, reason="代为补报", batch_id="b-7")  # type: ignore[attr-defined]

    assert page.status_code == 200, page.text
    assert 'data-testid="check-clean"' in page.text
    assert 'data-testid="dropped-columns"' not in page.text
    assert page.text.count('data-testid="preview-rows"') == 1
    assert codes(3)[0] in page.text  # the first rows as read
    # Nothing is applied before the confirmation.
    assert session.scalar(select(func.count()).select_from(Batch)) == 0
    fields = confirm_fields(page.text)
    assert fields["batch_id"] == "b-7"
    assert fields["reason"] == "代为补报"
    assert len(set(held_folders()) - before) == 1

    done = client.post("/ingest/upload/confirm", data=fields, follow_redirects=True)

    assert done.status_code == 200, done.text
    assert 'data-testid="count-accepted" data-value="3"' in done.text
    assert 'data-testid="count-rejected" data-value="0"' in done.text
    assert set(held_folders()) == before  # the held file is gone
    again = client.post("/ingest/upload/confirm", data=fields)
    assert again.status_code == 409
    assert 'data-testid="error-file"' in again.text


def test_unknown_columns_are_shown_as_dropped_before_applying(
    client: TestClient, session: Session, provider: Provider, login_as: Callable[..., object]
) -> None:
    operator = login_as(Role.OPERATOR)
    header = (*TAX_HEADER_ZH, "备注说明")
    rows = [(*row, "随便写写") for row in tax_rows(codes(2))]

    page = check(client, operator.csrf, provider.id, csv_bytes(rows, header), reason="补报")  # type: ignore[attr-defined]

    assert page.status_code == 200
    dropped = re.findall(r'data-testid="dropped-column">([^<]+)<', page.text)
    assert dropped == ["备注说明"]
    assert 'data-testid="check-clean"' not in page.text
    assert "忽略 1 列并导入" in page.text
    done = client.post(
        "/ingest/upload/confirm", data=confirm_fields(page.text), follow_redirects=True
    )
    assert 'data-testid="count-accepted" data-value="2"' in done.text


def test_a_missing_required_column_is_shown_and_nothing_is_held(
    client: TestClient, session: Session, provider: Provider, login_as: Callable[..., object]
) -> None:
    operator = login_as(Role.OPERATOR)
    before = set(held_folders())
    header = TAX_HEADER_ZH[1:]  # no 统一社会信用代码
    rows = [row[1:] for row in tax_rows(codes(2))]

    page = check(client, operator.csrf, provider.id, csv_bytes(rows, header), reason="补报")  # type: ignore[attr-defined]

    assert page.status_code == 422
    assert 'data-testid="missing-columns"' in page.text
    assert "统一社会信用代码（uscc）" in page.text
    assert "INGEST-HEADER-MISSING" in page.text
    assert 'data-testid="confirm-form"' not in page.text
    assert set(held_folders()) == before


def test_a_held_upload_is_only_its_uploaders(
    client: TestClient, session: Session, provider: Provider, login_as: Callable[..., object]
) -> None:
    operator = login_as(Role.OPERATOR)
    page = check(client, operator.csrf, provider.id, csv_bytes(tax_rows(codes(1))), reason="补报")  # type: ignore[attr-defined]
    token = confirm_fields(page.text)["token"]

    assert service.get_held_upload(token, owner="user:999999") is None
    assert service.get_held_upload("../" + token[3:], owner="user:1") is None
    held = service.get_held_upload(token, owner=f"user:{operator.user.id}")  # type: ignore[attr-defined]
    assert held is not None
    assert held.path.exists()
    service.release_held_upload(held)


def test_abandoned_holds_are_swept(tmp_path: Path) -> None:
    old = tmp_path / f"{uploads.UPLOAD_PREFIX}1-held{'a' * 32}"
    new = tmp_path / f"{uploads.UPLOAD_PREFIX}1-held{'b' * 32}"
    old.mkdir()
    new.mkdir()
    later = time.time() + uploads.HOLD_SECONDS + 60
    (new / "upload.csv").write_text("x")
    os.utime(new, (later, later))

    assert uploads.sweep_abandoned_holds(tmp_path, now=later) == 1
    assert not old.exists()
    assert new.exists()


def test_a_refused_upload_keeps_the_chosen_dataset_and_shows_the_message_at_the_field(
    client: TestClient, session: Session, provider: Provider, login_as: Callable[..., object]
) -> None:
    operator = login_as(Role.OPERATOR)
    catalog_service.ensure_default_catalog(session)
    # An operator delivering on the provider's behalf must say why (issue 21).
    page = check(
        client, operator.csrf, provider.id, csv_bytes(tax_rows(codes(1))), batch_id="keep-me"
    )  # type: ignore[attr-defined]

    assert page.status_code == 422
    assert 'data-testid="upload-form"' in page.text
    assert re.search(r'<option value="tax_payment" selected>', page.text)
    assert 'value="keep-me"' in page.text
    assert 'data-testid="error-reason"' in page.text
    assert "CB-INGEST-REASON-REQUIRED" in page.text
    assert session.scalar(select(func.count()).select_from(Batch)) == 0


@pytest.mark.parametrize("dataset", ["tax_payment"])
def test_the_upload_page_offers_the_chosen_datasets_templates(
    client: TestClient, provider: Provider, login_as: Callable[..., object], dataset: str
) -> None:
    login_as(Role.OPERATOR)
    url = f"/ingest/upload?provider_id={provider.id}&dataset={dataset}"
    # The whole page, and the fragment htmx swaps in when the dataset is chosen.
    for headers in ({}, {"HX-Request": "true"}):
        page = client.get(url, headers=headers)
        assert page.status_code == 200
        assert 'id="u-dataset-group"' in page.text
        assert f'href="/catalog/{dataset}/template.xlsx"' in page.text
        assert f'href="/catalog/{dataset}/template.csv"' in page.text
