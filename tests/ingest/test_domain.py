from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from creditbridge.ingest.domain import (
    FieldProblem,
    RowStatus,
    parse_amount,
    parse_boolean,
    parse_date,
    parse_integer,
    parse_period,
    parse_value,
    validate_row,
)


@dataclass(frozen=True)
class Spec:
    code: str
    type: str
    label_zh: str = "字段"
    unit: str | None = None
    required: bool = False
    enum: list[str] | None = None
    enum_labels: dict[str, str] | None = None
    max_length: int | None = None
    pattern: str | None = None


@pytest.mark.parametrize(
    "written",
    [
        "2024-01-02",
        "2024/1/2",
        "2024年1月2日",
        "20240102",
        "2024.1.2",
        "２０２４-０１-０２",
        "2024-01-02 08:30:00",
    ],
)
def test_five_ways_of_writing_a_date_are_read_as_the_same_day(written: str) -> None:
    assert parse_date(written) == date(2024, 1, 2)


def test_excel_cells_holding_datetimes_keep_their_date() -> None:
    assert parse_date(datetime(2024, 3, 4, 12, 0)) == date(2024, 3, 4)


def test_an_impossible_date_says_which_day_does_not_exist() -> None:
    with pytest.raises(FieldProblem) as caught:
        parse_date("2023-02-29")
    assert caught.value.code == "INGEST-DATE-INVALID"
    assert "2023年没有2月29日" in caught.value.message


def test_an_unreadable_date_lists_the_accepted_formats() -> None:
    with pytest.raises(FieldProblem) as caught:
        parse_date("01-02-2024")
    assert caught.value.code == "INGEST-DATE-FORMAT"
    assert "2024年1月2日" in caught.value.message


@given(st.dates(min_value=date(1900, 1, 1), max_value=date(2100, 12, 31)))
def test_every_date_survives_each_written_form(day: date) -> None:
    forms = [
        day.isoformat(),
        f"{day.year}/{day.month}/{day.day}",
        f"{day.year}年{day.month}月{day.day}日",
        day.strftime("%Y%m%d"),
    ]
    assert {parse_date(form) for form in forms} == {day}


@pytest.mark.parametrize("written", ["2024-03", "2024/3", "2024年3月", "202403", "2024-03-15"])
def test_periods_are_stored_as_year_dash_month(written: str) -> None:
    assert parse_period(written) == "2024-03"


def test_month_thirteen_is_refused() -> None:
    with pytest.raises(FieldProblem, match="1 至 12"):
        parse_period("2024-13")


@pytest.mark.parametrize(
    ("written", "unit", "column_unit", "expected"),
    [
        ("1,234,567.89", "yuan", None, Decimal("1234567.89")),
        ("1,234.5万元", "yuan", None, Decimal("12345000")),
        ("12.5万", "yuan", None, Decimal("125000")),
        ("￥3,000", "yuan", None, Decimal("3000")),
        ("500", "yuan", "万元", Decimal("5000000")),
        ("5000000元", "wan_yuan", None, Decimal("500")),
        ("1.5亿元", "wan_yuan", None, Decimal("15000")),
        ("300", "wan_yuan", None, Decimal("300")),
        ("１２３", "yuan", None, Decimal("123")),
        (2500, "yuan", "万元", Decimal("25000000")),
    ],
)
def test_amounts_are_converted_into_the_fields_unit(
    written: object, unit: str, column_unit: str | None, expected: Decimal
) -> None:
    assert parse_amount(written, unit=unit, column_unit=column_unit) == expected


@pytest.mark.parametrize(
    ("written", "code"),
    [
        ("12,34", "INGEST-NUMBER-FORMAT"),
        ("abc", "INGEST-NUMBER-FORMAT"),
        ("-5", "INGEST-AMOUNT-NEGATIVE"),
        ("1.234", "INGEST-AMOUNT-PRECISION"),
    ],
)
def test_unreadable_amounts_name_the_reason(written: str, code: str) -> None:
    with pytest.raises(FieldProblem) as caught:
        parse_amount(written, unit="yuan")
    assert caught.value.code == code


def test_integers_refuse_fractions_and_accept_grouping() -> None:
    assert parse_integer("1,200") == 1200
    with pytest.raises(FieldProblem):
        parse_integer("12.5")


@pytest.mark.parametrize(
    ("written", "expected"), [("是", True), ("否", False), ("Y", True), ("0", False)]
)
def test_booleans_read_chinese_and_english(written: str, expected: bool) -> None:
    assert parse_boolean(written) is expected


def test_enum_accepts_the_chinese_label_for_a_coded_value() -> None:
    spec = Spec(
        "severity", "enum", enum=["minor", "general", "serious"], enum_labels={"serious": "严重"}
    )
    assert parse_value(spec, "严重").value == "serious"
    with pytest.raises(FieldProblem) as caught:
        parse_value(spec, "很严重")
    assert caught.value.code == "INGEST-ENUM"
    assert "minor" in caught.value.message


def test_invalid_uscc_gives_the_validators_reason() -> None:
    with pytest.raises(FieldProblem) as caught:
        parse_value(Spec("uscc", "uscc"), "91340100MA2T00015H")
    assert caught.value.code == "INGEST-USCC"
    assert "校验" in caught.value.message


def test_valid_uscc_is_upper_cased() -> None:
    assert parse_value(Spec("uscc", "uscc"), "91340100ma2t00015g").value == "91340100MA2T00015G"


def test_a_historical_division_is_accepted_with_a_warning() -> None:
    parsed = parse_value(Spec("division_code", "division_code"), "340221")
    assert parsed.value == "340221"
    assert parsed.warnings
    assert parsed.warnings[0].code == "INGEST-DIVISION-HISTORICAL"


def test_a_row_lists_every_bad_field_not_just_the_first() -> None:
    fields = [
        Spec("uscc", "uscc", label_zh="统一社会信用代码", required=True),
        Spec("period", "period", label_zh="所属期", required=True),
        Spec("total_tax_paid", "amount", label_zh="实缴税额", unit="yuan", required=True),
        Spec("declared", "boolean", label_zh="是否申报"),
    ]
    outcome = validate_row(
        fields,
        {"uscc": "91340100MA2T00015G", "period": "2024-13", "total_tax_paid": "", "declared": "是"},
        row=7,
    )
    assert outcome.status is RowStatus.REJECTED
    assert [(i.row, i.field, i.code) for i in outcome.issues] == [
        (7, "period", "INGEST-PERIOD-INVALID"),
        (7, "total_tax_paid", "INGEST-REQUIRED"),
    ]
    assert outcome.values == {"uscc": "91340100MA2T00015G", "declared": True}


def test_a_clean_row_is_accepted_in_stored_form() -> None:
    fields = [Spec("paid_on", "date", required=True), Spec("amount", "amount", unit="yuan")]
    outcome = validate_row(fields, {"paid_on": "2024年1月2日", "amount": "1,000.50"}, row=2)
    assert outcome.status is RowStatus.ACCEPTED
    assert outcome.values == {"paid_on": "2024-01-02", "amount": "1000.50"}


def test_four_digit_industry_classes_under_a_known_division_are_accepted() -> None:
    assert parse_value(Spec("industry_code", "industry_code"), "c1310").value == "C1310"
    with pytest.raises(FieldProblem):
        parse_value(Spec("industry_code", "industry_code"), "9999")


def test_divisions_outside_anhui_are_checked_at_province_level() -> None:
    assert parse_value(Spec("division_code", "division_code"), "110105").value == "110105"
    with pytest.raises(FieldProblem):
        parse_value(Spec("division_code", "division_code"), "990101")
