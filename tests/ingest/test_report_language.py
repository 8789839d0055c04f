"""The reject report in the reader's language (issue 12, point 5): every line keeps its message
key and parameters, so the batch page at ``?lang=en`` explains it in English while the stored
Chinese, the default page and the CSV's seven columns stay as providers know them."""

from __future__ import annotations

import csv
import html
import io
from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from creditbridge.core.actors import CONSOLE, Role
from creditbridge.core.config import IngestSettings
from creditbridge.ingest import service
from creditbridge.ingest.models import Provider, Reject
from creditbridge.ingest.service import pipeline
from creditbridge.ingest.service.rejects import ENGLISH_COLUMN, REPORT_HEADER

from .conftest import TAX_HEADER_ZH, codes, csv_bytes, tax_rows
from .test_api import PATH, get, post_json, signer_for
from .test_api import rows as api_rows

BAD_CODE = "91340100MA2T0001"


def deliver(session: Session, provider: Provider, data: bytes, **options: Any) -> Any:
    return service.ingest_batch(
        session, CONSOLE, provider_id=provider.id, dataset_code="tax_payment",
        batch_key=options.pop("key", "b1"), source=data, filename="tax.csv", channel="file",
        settings=IngestSettings(), **{"threshold": 1.0, **options},
    )  # fmt: skip


def bad_file() -> bytes:
    """Three good rows, then a month that does not exist, an invalid code, the first row again
    (a duplicate key) and a row wider than the header."""
    good = codes(3)
    rows = [
        *tax_rows(good),
        (good[1], "2026-13", "是", "1", "1", "1", "1"),
        (BAD_CODE, "2026-09", "是", "1", "1", "1", "1"),
        tax_rows(good[:1])[0],
        (*tax_rows(codes(1, seed=7))[0], "多出的一列"),
    ]
    return csv_bytes(rows)


def stored(session: Session, batch_id: int) -> list[tuple[str, str | None, Any]]:
    lines = session.scalars(select(Reject).where(Reject.batch_id == batch_id).order_by(Reject.row))
    return [(r.code, r.message_key, r.message_params) for r in lines]


def test_every_line_of_a_report_is_stored_with_its_key_and_parameters(
    session: Session, provider: Provider
) -> None:
    outcome = deliver(session, provider, bad_file())

    lines = stored(session, outcome.batch_id)
    assert [(code, key) for code, key, _ in lines] == [
        ("INGEST-PERIOD-INVALID", "ingest_issue.period_invalid"),
        ("INGEST-USCC", "ingest_issue.uscc"),
        ("INGEST-DUPLICATE-KEY", "ingest_issue.duplicate_key.same"),
        ("INGEST-ROW-WIDTH", "ingest_issue.row.width"),
    ]
    assert lines[0][2] == {"text": "2026-13"}
    assert lines[2][2] == {"row": 2}
    assert lines[3][2] == {"width": 8, "header": 7}
    # The outcome's preview carries them too, and the Chinese stays what it always said.
    assert [i.key for i in outcome.issues] == [key for _, key, _ in lines]
    assert outcome.issues[2].message == "与本批第2行的业务主键相同：内容相同，未重复保存"


def test_the_forked_reader_keeps_the_keys_too(
    session: Session, provider: Provider, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(pipeline, "PARALLEL_BYTES", 1)  # a big file's path, for a small one
    outcome = deliver(session, provider, bad_file())
    # A field past the csv module's limit makes the file unreadable from there, in the child.
    huge = bad_file() + ("x" * 200_000 + "\n").encode()
    unreadable = deliver(session, provider, huge, key="e1")

    assert [i.key for i in outcome.issues] == [
        "ingest_issue.period_invalid",
        "ingest_issue.uscc",
        "ingest_issue.duplicate_key.same",
        "ingest_issue.row.width",
    ]
    assert (unreadable.refusal_code, unreadable.issues[0].key) == (
        "INGEST-CSV",
        "ingest_issue.file.csv",
    )
    assert unreadable.issues[0].params == {
        "line": 9,
        "error": "field larger than field limit (131072)",
    }


def test_the_pipelines_own_rules_are_keyed(session: Session, provider: Provider) -> None:
    (known,) = codes(1)
    rows = [
        {"uscc": known, "period": "2026-09", "_action": "撤销"},
        {**api_rows([known])[0], "_action": "作废"},
    ]
    outcome = service.ingest_batch(
        session, CONSOLE, provider_id=provider.id, dataset_code="tax_payment", batch_key="w1",
        source=rows, filename=None, channel="api", settings=IngestSettings(), threshold=1.0,
    )  # fmt: skip

    assert [(i.code, i.key) for i in outcome.issues] == [
        ("INGEST-WITHDRAW-UNKNOWN", "ingest_issue.withdraw_unknown"),
        ("INGEST-ACTION", "ingest_issue.action"),
    ]
    assert outcome.issues[0].params == {"key": f"{known}|2026-09"}
    assert outcome.issues[0].message == f"要撤销的记录（业务主键 {known}|2026-09）不存在"


def test_a_file_refused_whole_is_keyed(session: Session, provider: Provider) -> None:
    header_only = csv_bytes([])
    no_period = csv_bytes([r[:1] + r[2:] for r in tax_rows(codes(1))],
                          header=TAX_HEADER_ZH[:1] + TAX_HEADER_ZH[2:])  # fmt: skip

    empty = deliver(session, provider, header_only, key="e1")
    missing = deliver(session, provider, no_period, key="e2")

    assert (empty.refusal_code, empty.issues[0].key) == (
        "INGEST-EMPTY",
        "ingest_issue.file.only_header",
    )
    assert (missing.refusal_code, missing.issues[0].key) == (
        "INGEST-HEADER-MISSING",
        "ingest_issue.header.missing",
    )
    assert missing.refusal_message == "缺少必填列：所属期(period)"


# ---------------------------------------------------------------------------- the batch page


def test_the_batch_page_explains_the_report_in_the_readers_language(
    client: TestClient,
    session: Session,
    provider: Provider,
    login_as: Callable[..., object],
) -> None:
    outcome = deliver(session, provider, bad_file())
    login_as(Role.OPERATOR)
    url = f"/ingest/batches/{outcome.batch_id}"

    chinese = client.get(url)
    english = client.get(url, params={"lang": "en"})

    assert chinese.status_code == english.status_code == 200
    assert "月份 2026-13 不存在：月份须在 1 至 12 之间" in chinese.text
    assert "与本批第2行的业务主键相同：内容相同，未重复保存" in chinese.text
    assert "The month 2026-13 does not exist: a month is 1 to 12" in english.text
    assert "Same key as row 2 of this batch: same content, not stored again" in english.text
    assert "This row has 8 columns, the header only 7" in english.text
    assert "月份 2026-13 不存在" not in english.text
    assert "本行有 8 列" not in english.text


def test_a_refusal_is_explained_in_the_readers_language(
    client: TestClient,
    session: Session,
    provider: Provider,
    login_as: Callable[..., object],
) -> None:
    refused = deliver(session, provider, bad_file(), threshold=0.0)
    unreadable = deliver(session, provider, csv_bytes([]), key="e1")
    login_as(Role.OPERATOR)

    too_many = client.get(f"/ingest/batches/{refused.batch_id}", params={"lang": "en"})
    empty = client.get(f"/ingest/batches/{unreadable.batch_id}", params={"lang": "en"})
    chinese = client.get(f"/ingest/batches/{refused.batch_id}", params={"lang": "zh"})

    assert "3 of 7 rows rejected (42.9%), above the dataset's reject threshold of 0.0%" in (
        html.unescape(too_many.text)
    )
    assert "The file has a header but no data rows" in empty.text
    assert refused.refusal_message is not None
    assert refused.refusal_message.startswith("拒收 3 行，占 7 行的 42.9%，超过该数据项的拒收阈值")
    assert refused.refusal_message in chinese.text


def test_the_csv_stays_chinese_and_an_english_reader_gets_a_last_column(
    client: TestClient,
    session: Session,
    provider: Provider,
    login_as: Callable[..., object],
) -> None:
    outcome = deliver(session, provider, bad_file())
    login_as(Role.OPERATOR)
    url = f"/ingest/batches/{outcome.batch_id}/rejects.csv"

    chinese = list(csv.reader(io.StringIO(client.get(url).content.decode("utf-8-sig"))))
    english = list(
        csv.reader(io.StringIO(client.get(url, params={"lang": "en"}).content.decode("utf-8-sig")))
    )

    assert chinese[0] == list(REPORT_HEADER)
    assert english[0] == [*REPORT_HEADER, ENGLISH_COLUMN]
    assert [line[:7] for line in english] == chinese  # the seven columns never move
    assert chinese[1][5] == "月份 2026-13 不存在：月份须在 1 至 12 之间"
    assert english[1][7] == "The month 2026-13 does not exist: a month is 1 to 12"


# ---------------------------------------------------------------------------- the API


def test_the_apis_issues_carry_key_and_params(
    client: TestClient, session: Session, provider: Provider
) -> None:
    signer = signer_for(session, provider)
    good = codes(2)
    body = {"provider": provider.code, "dataset": "tax_payment", "batch_id": "api-k",
            "rows": [*api_rows(good), {**api_rows(good[:1])[0], "period": "2026-13"}]}  # fmt: skip

    posted = post_json(client, signer, body)

    assert posted.status_code == 201, posted.text
    (issue,) = posted.json()["issues"]
    assert (issue["code"], issue["key"], issue["params"]) == (
        "INGEST-PERIOD-INVALID",
        "ingest_issue.period_invalid",
        {"text": "2026-13"},
    )
    assert issue["message"] == "月份 2026-13 不存在：月份须在 1 至 12 之间"
    batch = posted.json()["id"]
    (line,) = get(client, signer, f"{PATH}/{batch}/rejects").json()
    assert (line["key"], line["params"]) == ("ingest_issue.period_invalid", {"text": "2026-13"})
    english = get(client, signer, f"{PATH}/{batch}/rejects", "format=csv&lang=en")
    assert (
        english.content.decode("utf-8-sig")
        .splitlines()[1]
        .endswith("The month 2026-13 does not exist: a month is 1 to 12")
    )
