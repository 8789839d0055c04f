"""Pure rules: masking and month arithmetic."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from creditbridge.catalog.domain import add_months, is_code, is_period, mask_value


@pytest.mark.parametrize(
    ("rule", "value", "shown"),
    [
        ("none", "张三", "张三"),
        ("name", "张三", "张*"),
        ("name", "欧阳娜娜", "欧***"),
        ("name", "李", "李*"),
        ("id_number", "110105199001010123", "110105********0123"),
        ("phone", "13800138000", "138****8000"),
        ("full", "anything", "******"),
        ("phone", "123", "1**"),
    ],
)
def test_masking_keeps_only_the_documented_characters(rule: str, value: str, shown: str) -> None:
    assert mask_value(rule, value) == shown


def test_partial_masking_hides_the_middle_half() -> None:
    shown = mask_value("partial", "ABCDEFGHIJKL")

    assert shown == "ABC******JKL"


@given(st.text(min_size=1, max_size=40), st.sampled_from(["name", "id_number", "phone", "partial"]))
def test_masking_always_hides_something_and_keeps_length(value: str, rule: str) -> None:
    shown = mask_value(rule, value)

    assert "*" in shown
    assert len(shown) == max(len(value), 2 if rule == "name" else 1)


def test_unknown_masking_rule_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="unknown masking rule"):
        mask_value("blur", "x")


def test_add_months_clamps_to_the_end_of_a_shorter_month() -> None:
    assert add_months(date(2024, 1, 31), 1) == date(2024, 2, 29)
    assert add_months(date(2025, 11, 30), 3) == date(2026, 2, 28)
    assert add_months(date(2026, 4, 1), 36) == date(2029, 4, 1)


@given(st.dates(min_value=date(2000, 1, 1), max_value=date(2090, 1, 1)), st.integers(0, 120))
def test_add_months_moves_exactly_that_many_calendar_months(start: date, months: int) -> None:
    end = add_months(start, months)

    assert (end.year - start.year) * 12 + end.month - start.month == months
    assert end.day <= start.day


def test_codes_and_periods_follow_their_patterns() -> None:
    assert is_code("tax_payment")
    assert not is_code("Tax")
    assert not is_code("1tax")
    assert is_period("2026-01")
    assert not is_period("2026-13")
    assert not is_period("2026-1")
