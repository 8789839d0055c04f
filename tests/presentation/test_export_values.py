"""Exports write values for people: units in headers, names of codes, numbers kept as numbers."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime
from decimal import Decimal

from openpyxl import load_workbook

from creditbridge.presentation import exports
from creditbridge.presentation.exports import Column

COLUMNS = [
    Column("企业"),
    Column("授信金额", "money"),
    Column("注册资本", "wan_yuan"),
    Column("笔数", "count"),
    Column("地区", "division"),
    Column("行业", "industry"),
    Column("纳税信用", "tax_grade"),
    Column("增长", "change"),
    Column("放款日", "date"),
    Column("月份", "month"),
    Column("严重程度", "severity"),
]
ROW = (
    "=HYPERLINK(1)",
    123_456_789,
    "500",
    "3",
    "340100",
    "C35",
    0,
    -0.015,
    datetime(2026, 11, 30, 20, tzinfo=UTC),
    "2026-11",
    "serious",
)


def test_headers_carry_units_and_cells_are_for_people() -> None:
    headers, rows = exports.export_table(COLUMNS, [ROW])
    assert headers[1:3] == ["授信金额（万元）", "注册资本（万元）"]
    assert headers[0] == "企业"
    (row,) = rows
    assert row[1] == Decimal("123.46")
    assert row[2] == Decimal("500.00")
    assert row[3] == 3
    assert row[4:8] == ["合肥市", "专用设备制造业", "D级", "\u22121.5%"]
    assert row[8] == date(2026, 12, 1)  # the local (Shanghai) day
    assert row[9:] == ["2026年11月", "严重"]


def test_english_headers_and_empty_cells() -> None:
    headers, rows = exports.export_table(COLUMNS[:3], [(None, "", None)], lang="en")
    assert headers == ["企业", "授信金额 (CNY 10k)", "注册资本 (CNY 10k)"]
    assert rows == [[None, None, None]]


def test_a_masked_amount_is_exported_whole() -> None:
    _, rows = exports.export_table([Column("金额", "money")], [("26******78",)])
    assert rows == [["***万元"]]


def test_csv_has_a_bom_and_no_live_formula() -> None:
    data = exports.csv_bytes(*exports.export_table(COLUMNS, [ROW]))
    assert data.startswith("\ufeff".encode())
    header, row = list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))
    assert header[1] == "授信金额（万元）"
    assert row[0] == "'=HYPERLINK(1)"
    assert row[1] == "123.46"
    assert row[8] == "2026-12-01"


def test_xlsx_keeps_numbers_and_dates_typed() -> None:
    data = exports.xlsx_bytes(*exports.export_table(COLUMNS, [ROW]))
    sheet = load_workbook(io.BytesIO(data)).active
    assert sheet is not None
    values = [cell.value for cell in next(sheet.iter_rows(min_row=2, max_row=2))]
    assert values[0] == "=HYPERLINK(1)"
    assert sheet.cell(row=2, column=1).data_type == "s"
    assert values[1] == 123.46
    assert values[3] == 3
    assert isinstance(values[8], datetime)
    assert values[8].date() == date(2026, 12, 1)
