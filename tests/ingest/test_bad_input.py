"""Bad input, each case through ingest_batch on both stores: the row or the file is refused with a
code that says why, and nothing else is lost."""

from __future__ import annotations

import io

import pytest
from openpyxl import Workbook
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from creditbridge.core.actors import CONSOLE
from creditbridge.core.config import IngestSettings
from creditbridge.ingest import service
from creditbridge.ingest.models import Provider
from creditbridge.subjects.models import Record

from .conftest import TAX_HEADER_ZH, codes, csv_bytes, tax_rows


def deliver(session: Session, provider: Provider, data: bytes, name: str = "t.csv", **kw):  # type: ignore[no-untyped-def]
    return service.ingest_batch(
        session, CONSOLE, provider_id=provider.id, dataset_code="tax_payment",
        batch_key=name + str(len(data)), source=data, filename=name, channel="file",
        threshold=1.0, settings=IngestSettings(), **kw,
    )  # fmt: skip


def line(row: tuple[str, ...], encoding: str) -> bytes:
    return (",".join(row) + "\n").encode(encoding)


def test_gbk_file_with_a_utf8_line(session: Session, provider: Provider) -> None:
    usccs = codes(4)
    rows = tax_rows(usccs)
    data = line(TAX_HEADER_ZH, "gbk") + b"".join(
        line(r, "utf-8" if i == 2 else "gbk") for i, r in enumerate(rows)
    )
    outcome = deliver(session, provider, data)
    assert outcome.encoding == "gb18030"
    assert (outcome.rows_accepted, outcome.rows_rejected) == (3, 1)
    assert [(i.row, i.code) for i in outcome.issues] == [(4, "INGEST-ENCODING")]


def test_utf8_file_with_a_gbk_line(session: Session, provider: Provider) -> None:
    rows = tax_rows(codes(4))
    rows[1] = (*rows[1][:2], "否", *rows[1][3:])  # the GBK line must hold Chinese to differ
    data = line(TAX_HEADER_ZH, "utf-8") + b"".join(
        line(r, "gbk" if i == 1 else "utf-8") for i, r in enumerate(rows)
    )
    outcome = deliver(session, provider, data)
    assert outcome.encoding == "utf-8"
    assert (outcome.rows_accepted, outcome.rows_rejected) == (3, 1)
    assert (outcome.issues[0].row, outcome.issues[0].code) == (3, "INGEST-ENCODING")


@pytest.mark.parametrize("encoding", ["gbk", "gb18030", "utf-8", "utf-8-sig"])
def test_chinese_headers_in_every_encoding(
    session: Session, provider: Provider, encoding: str
) -> None:
    outcome = deliver(session, provider, csv_bytes(tax_rows(codes(3)), encoding=encoding))
    assert (outcome.status, outcome.rows_new) == ("applied", 3)


def test_missing_required_header(session: Session, provider: Provider) -> None:
    outcome = deliver(
        session, provider, csv_bytes([("x", "2026-09")], ("统一社会信用代码", "所属期"))
    )
    assert (outcome.status, outcome.refusal_code) == ("refused", "INGEST-HEADER-MISSING")
    assert "是否按期申报(declared)" in (outcome.refusal_message or "")


def test_wrong_headers(session: Session, provider: Provider) -> None:
    outcome = deliver(session, provider, b"name,amount\n1,2\n")
    assert outcome.refusal_code == "INGEST-HEADER-UNKNOWN"


def test_duplicate_header(session: Session, provider: Provider) -> None:
    outcome = deliver(session, provider, csv_bytes([], (*TAX_HEADER_ZH, "uscc")))
    assert outcome.refusal_code == "INGEST-HEADER-DUPLICATE"


def test_unknown_columns_are_ignored_and_said_so(session: Session, provider: Provider) -> None:
    rows = [(*r, "备注") for r in tax_rows(codes(1))]
    outcome = deliver(session, provider, csv_bytes(rows, (*TAX_HEADER_ZH, "备注")))
    assert outcome.rows_new == 1
    assert outcome.notes == ["未识别的列已忽略：备注"]


@pytest.mark.parametrize("data", [b"", b"   \n\n", b"\xef\xbb\xbf"])
def test_empty_file(session: Session, provider: Provider, data: bytes) -> None:
    outcome = deliver(session, provider, data)
    assert (outcome.status, outcome.refusal_code) == ("refused", "INGEST-EMPTY")
    assert session.scalar(select(func.count()).select_from(Record)) == 0


def test_a_field_over_the_csv_size_limit_makes_the_file_unreadable(
    session: Session, provider: Provider
) -> None:
    data = csv_bytes(tax_rows(codes(2))) + b"x" * 200_000 + b",2026-09\n"
    outcome = deliver(session, provider, data)
    assert outcome.refusal_code == "INGEST-CSV"
    assert session.scalar(select(func.count()).select_from(Record)) == 0


def test_too_wide_row(session: Session, provider: Provider) -> None:
    rows = tax_rows(codes(2))
    data = csv_bytes([rows[0], (*rows[1], "extra")])
    outcome = deliver(session, provider, data)
    assert [(i.row, i.code) for i in outcome.issues] == [(3, "INGEST-ROW-WIDTH")]


def xlsx(build) -> bytes:  # type: ignore[no-untyped-def]
    book = Workbook()
    build(book.active)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def test_xlsx_with_title_rows_and_merged_cells(session: Session, provider: Provider) -> None:
    usccs = codes(3)

    def build(sheet) -> None:  # type: ignore[no-untyped-def]
        sheet.title = "纳税"
        sheet.append(["2026年9月纳税信息"])
        sheet.merge_cells("A1:G1")
        sheet.append(["填报单位：税务局", None, None, "填报日期：2026-10-10"])
        sheet.merge_cells("A2:C2")
        sheet.append([*list(TAX_HEADER_ZH[:3]), "应税销售收入（万元）", *TAX_HEADER_ZH[4:]])
        for code in usccs:
            sheet.append([code, "2026-09", "是", 1.5, 10, 20.25, 30.25])

    outcome = deliver(session, provider, xlsx(build), name="t.xlsx")

    assert (outcome.status, outcome.rows_new, outcome.rows_rejected) == ("applied", 3, 0)
    assert "表头位于第3行，上方2行（标题）已跳过" in outcome.notes
    record = session.scalars(select(Record).where(Record.source_row == 4)).one()
    assert record.data["taxable_revenue"] == "15000"
    assert record.data["income_tax_paid"] == "20.25"


def test_xlsx_sheet_by_name_and_a_missing_sheet(session: Session, provider: Provider) -> None:
    def build(sheet) -> None:  # type: ignore[no-untyped-def]
        sheet.title = "说明"
        other = sheet.parent.create_sheet("数据")
        other.append(list(TAX_HEADER_ZH))
        other.append(list(tax_rows(codes(1))[0]))

    data = xlsx(build)
    assert deliver(session, provider, data, name="a.xlsx", sheet="数据").rows_new == 1
    missing = deliver(session, provider, data, name="b.xlsx", sheet="没有")
    assert missing.refusal_code == "INGEST-SHEET"


def test_xlsx_formula_without_a_calculated_value(session: Session, provider: Provider) -> None:
    usccs = codes(2)

    def build(sheet) -> None:  # type: ignore[no-untyped-def]
        sheet.append(list(TAX_HEADER_ZH))
        sheet.append([usccs[0], "2026-09", "是", 100, 10, 20, 30])
        sheet.append([usccs[1], "2026-09", "是", 100, 10, 20, "=E3+F3"])

    outcome = deliver(session, provider, xlsx(build), name="f.xlsx")

    assert (outcome.rows_accepted, outcome.rows_rejected) == (1, 1)
    [issue] = outcome.issues
    assert (issue.row, issue.field, issue.code) == (3, "total_tax_paid", "INGEST-FORMULA")
    assert "=E3+F3" in issue.message


def test_not_an_xlsx(session: Session, provider: Provider) -> None:
    outcome = deliver(session, provider, b"PK\x03\x04 broken", name="x.xlsx")
    assert outcome.refusal_code == "INGEST-XLSX"


def test_unsupported_format(session: Session, provider: Provider) -> None:
    assert deliver(session, provider, b"x", name="x.pdf").refusal_code == "INGEST-FORMAT"


def test_json_lines_with_a_broken_line(session: Session, provider: Provider) -> None:
    a, b = codes(2)
    good = '{{"uscc":"{0}","period":"2026-09","declared":"是","taxable_revenue":"1",' \
        '"vat_paid":"1","income_tax_paid":"1","total_tax_paid":"1"}}\n'  # fmt: skip
    data = (good.format(a) + "{not json\n" + good.format(b) + "[1]\n").encode()
    outcome = deliver(session, provider, data, name="t.jsonl")
    assert outcome.rows_new == 2
    assert [(i.row, i.code) for i in outcome.issues] == [(2, "INGEST-JSON"), (4, "INGEST-JSON")]


def test_every_field_problem_of_a_row_is_reported(session: Session, provider: Provider) -> None:
    data = csv_bytes([("91340100MA2T0001", "2026/13", "maybe", '"1,23"', "-5", "", "1.234")])
    outcome = deliver(session, provider, data)
    assert [(i.field, i.code) for i in outcome.issues] == [
        ("uscc", "INGEST-USCC"),
        ("period", "INGEST-PERIOD-INVALID"),
        ("declared", "INGEST-BOOLEAN-FORMAT"),
        ("taxable_revenue", "INGEST-NUMBER-FORMAT"),
        ("vat_paid", "INGEST-AMOUNT-NEGATIVE"),
        ("income_tax_paid", "INGEST-REQUIRED"),
        ("total_tax_paid", "INGEST-AMOUNT-PRECISION"),
    ]
