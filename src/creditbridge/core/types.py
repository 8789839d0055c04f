"""Constrained types for every number and date that comes from outside (API models, forms, path
and query parameters), so that a value the store or the calendar cannot hold is refused with a
422 naming the field instead of failing deep inside as a 500.

Found by fuzzing (issue 22 finding 5): a ``credit_line_fen`` of 2^63 (SQLite's OverflowError,
PostgreSQL's "bigint out of range"), a disbursement on 9999-12-31 (adding the term overflows the
year), path ids of 2^70, ``until=9999-12-31`` (the day after overflows), and loans dated 0096-01-25
that then fed the outcome statistics.

Use them as annotations: ``loan_id: Annotated[Id, Path()]``, ``amount_fen: PositiveFen``.
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from typing import Annotated, Final

from annotated_types import Ge, Gt, Le
from pydantic import AfterValidator
from pydantic_core import PydanticCustomError

from creditbridge.core.clock import local_today

ID_MAX: Final = 2**62
"""Largest id accepted anywhere: far beyond any table's, and below BIGINT's 2^63 − 1."""

FEN_MAX: Final = 2**62
"""Largest amount in fen (about 4.6 × 10^16 元): sums of many of them still fit in a BIGINT."""

EARLIEST_DATE: Final = date(1949, 10, 1)
"""No business record of the platform is older than the People's Republic."""

FUTURE_YEARS: Final = 1
"""How far ahead a business date (a disbursement, an event) may lie."""

LATEST_FILTER_DATE: Final = date(9000, 1, 1)
"""Filters are clamped below this, so that "the day after" and "+ term" never overflow."""

DATE_RANGE_CODE: Final = "CB-DATE-RANGE"


def latest_business_date() -> date:
    today = local_today()
    try:
        return today.replace(year=today.year + FUTURE_YEARS)
    except ValueError:  # 29 February
        return today.replace(year=today.year + FUTURE_YEARS, day=28)


def date_in_business_range(value: date) -> bool:
    return EARLIEST_DATE <= value <= latest_business_date()


def _business_date(value: date) -> date:
    if not date_in_business_range(value):
        raise PydanticCustomError(
            DATE_RANGE_CODE,
            "日期须在 {earliest} 至 {latest} 之间 date must lie between {earliest} and {latest}",
            {"earliest": EARLIEST_DATE.isoformat(), "latest": latest_business_date().isoformat()},
        )
    return value


def _clamped(value: date) -> date:
    return min(max(value, EARLIEST_DATE), LATEST_FILTER_DATE)


def _decimal_in_range(value: Decimal) -> Decimal:
    if not value.is_finite() or abs(value) >= Decimal(FEN_MAX):
        raise PydanticCustomError("CB-NUMBER-RANGE", "数值超出范围 number out of range")
    return value


Id = Annotated[int, Ge(1), Le(ID_MAX)]
"""A row id in a path, a query or a body."""

Fen = Annotated[int, Ge(0), Le(FEN_MAX)]
"""An amount in fen, zero allowed."""

PositiveFen = Annotated[int, Gt(0), Le(FEN_MAX)]
"""An amount in fen above zero."""

BusinessDate = Annotated[date, AfterValidator(_business_date)]
"""A business date (a disbursement, a repayment): 1949-10-01 … today + 1 year, else 422
``CB-DATE-RANGE``."""

FilterDate = Annotated[date, AfterValidator(_clamped)]
"""A ``since``/``until`` filter: clamped into 1949-10-01 … 9000-01-01 (nothing lies outside)."""

BoundedDecimal = Annotated[Decimal, AfterValidator(_decimal_in_range)]
"""A decimal a form parses (万元 amounts…): finite and below FEN_MAX in magnitude."""


def _no_nul(value: str) -> str:
    if "\x00" in value:
        raise PydanticCustomError("CB-TEXT-NUL", "文本不得含 NUL 字符 text must not contain NUL")
    return value


Text = Annotated[str, AfterValidator(_no_nul)]
"""Text that reaches a query: PostgreSQL refuses NUL in text (a DataError, once a 500)."""


def clamp_filter_date(value: date | None) -> date | None:
    """For filters parsed by hand: the same clamp as :data:`FilterDate`."""
    return None if value is None else _clamped(value)


def day_after(value: date) -> date:
    """``value`` + 1 day, never past the calendar's end."""
    return value if value >= date.max else value + timedelta(days=1)
