"""Issue 22 finding 6: a real one-row XLSX delivery through the upload page, the API and the CLI
(the web channels saved the file as ``upload``, without its extension, and openpyxl refused every
workbook)."""

from __future__ import annotations

import io
import os
import re
import tempfile
from collections.abc import Callable
from pathlib import Path

import orjson
from fastapi.testclient import TestClient
from openpyxl import Workbook
from sqlalchemy.orm import Session

from creditbridge.core.actors import Role
from creditbridge.ingest import service
from creditbridge.ingest.models import Provider
from creditbridge.ingest.service.uploads import UPLOAD_PREFIX

from .conftest import TAX_HEADER_ZH, codes, tax_rows
from .test_api import PATH, signer_for
from .test_cli import database, ingest  # noqa: F401 - the CLI's migrated SQLite file

XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def one_row_xlsx(seed: int) -> bytes:
    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.append(TAX_HEADER_ZH)
    sheet.append(tax_rows(codes(1, seed=seed))[0])
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def test_upload_page_applies_a_one_row_xlsx(
    client: TestClient, session: Session, provider: Provider, login_as: Callable[..., object]
) -> None:
    operator = login_as(Role.OPERATOR)
    page = client.post(
        "/ingest/upload",
        data={"provider_id": str(provider.id), "dataset": "tax_payment",
              "csrf_token": operator.csrf, "reason": "代为补报"},  # type: ignore[attr-defined]
        files={"file": ("纳税信息.xlsx", one_row_xlsx(11), XLSX_TYPE)},
        follow_redirects=True,
    )  # fmt: skip
    assert page.status_code == 200, page.text
    assert re.search(r'data-testid="count-accepted" data-value="1"', page.text), page.text


def test_api_applies_a_one_row_xlsx(
    client: TestClient, session: Session, provider: Provider
) -> None:
    signer = signer_for(session, provider)
    files = {"file": ("纳税信息.XLSX", one_row_xlsx(12), XLSX_TYPE)}
    data = {"provider": str(provider.id), "dataset": "tax_payment", "batch_id": "xlsx-1"}
    request = client.build_request("POST", PATH, files=files, data=data)
    body = request.read()
    headers = {**signer.headers("POST", PATH, body=body),
               "Content-Type": request.headers["Content-Type"]}  # fmt: skip
    response = client.post(PATH, content=body, headers=headers)
    assert response.status_code == 201, response.text
    assert (response.json()["status"], response.json()["rows_new"]) == ("applied", 1)


def test_cli_applies_a_one_row_xlsx(database: str, tmp_path: Path) -> None:  # noqa: F811
    workbook = tmp_path / "纳税信息.xlsx"
    workbook.write_bytes(one_row_xlsx(13))
    result = ingest(str(workbook), "--json")
    assert result.exit_code == 0, result.output
    assert orjson.loads(result.stdout)["rows_new"] == 1


def test_an_upload_keeps_only_a_known_extension() -> None:
    assert service.upload_name("纳税信息.XLSX") == "upload.xlsx"
    assert service.upload_name("a.b.jsonl") == "upload.jsonl"
    assert service.upload_name("..\\..\\evil.sh") == "upload"
    assert service.upload_name(None) == "upload"


def test_start_up_sweeps_uploads_of_dead_processes_only(tmp_path: Path) -> None:
    dead = tmp_path / f"{UPLOAD_PREFIX}{2**22 + 12345}-abc"  # above Linux's largest pid
    mine = Path(tempfile.mkdtemp(prefix=f"{UPLOAD_PREFIX}{os.getpid()}-", dir=tmp_path))
    for folder in (dead, mine):
        folder.mkdir(exist_ok=True)
        (folder / "upload.csv").write_bytes(b"x")
    assert service.sweep_stale_uploads(tmp_path) == 1
    assert not dead.exists()
    assert mine.exists()
