"""Numbers, money, shares and dates in both languages, as CLDR writes them."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from creditbridge.presentation import formatting, i18n
from creditbridge.presentation.i18n import Language

LANGS: tuple[Language, ...] = ("zh", "en")


def test_i18n_keeps_exporting_the_formatters() -> None:
    assert i18n.format_money is formatting.format_money
    assert i18n.format_date is formatting.format_date


@pytest.mark.parametrize("lang", LANGS)
def test_missing_values_are_a_dash(lang: Language) -> None:
    assert formatting.format_number(None, lang) == "—"
    assert formatting.format_compact(None, lang) == "—"
    assert formatting.format_money(None, lang) == "—"
    assert formatting.format_percent(1, 0, lang) == "—"
    assert formatting.format_date(None, lang) == "—"
    assert formatting.format_datetime(None, lang) == "—"
    assert formatting.format_datetime_short(None, lang) == "—"


class TestNumber:
    @pytest.mark.parametrize("lang", LANGS)
    def test_grouped_in_thousands_in_both_languages(self, lang: Language) -> None:
        assert formatting.format_number(1234567, lang) == "1,234,567"
        assert formatting.format_number(0, lang) == "0"
        assert formatting.format_number(-1234, lang) == "-1,234"
        assert formatting.format_number(10**30, lang) == "1," + ",".join(["000"] * 10)

    def test_decimals_are_rounded_half_up(self) -> None:
        assert formatting.format_number(Decimal("2.675"), "zh", digits=2) == "2.68"
        assert formatting.format_number(Decimal("1234.5"), "en", digits=1) == "1,234.5"
        assert formatting.format_number(2.5, "en") == "3"


class TestCompact:
    def test_chinese_counts_in_wan_and_yi(self) -> None:
        assert formatting.format_compact(0, "zh") == "0"
        assert formatting.format_compact(9_999, "zh") == "9,999"
        assert formatting.format_compact(10_000, "zh") == "1万"
        assert formatting.format_compact(123_456, "zh") == "12.3万"
        assert formatting.format_compact(100_000, "zh") == "10万"
        assert formatting.format_compact(123_456_789, "zh") == "1.23亿"
        assert formatting.format_compact(250_000_000, "zh") == "2.5亿"
        assert formatting.format_compact(-123_456, "zh") == "-12.3万"
        assert formatting.format_compact(1_234_567_890_123, "zh") == "1.23万亿"

    def test_english_counts_in_cldr_short_form(self) -> None:
        assert formatting.format_compact(0, "en") == "0"
        assert formatting.format_compact(9_999, "en") == "9,999"
        assert formatting.format_compact(12_345, "en") == "12.3K"
        assert formatting.format_compact(123_456, "en") == "123.5K"
        assert formatting.format_compact(1_234_567, "en") == "1.23M"
        assert formatting.format_compact(2_000_000, "en") == "2M"
        assert formatting.format_compact(-123_456, "en") == "-123.5K"
        assert formatting.format_compact(1_234_567_890_123, "en") == "1.23T"

    def test_a_value_rounding_up_to_the_next_unit_is_written_in_it(self) -> None:
        assert formatting.format_compact(999_999, "en") == "1M"
        assert formatting.format_compact(99_999_999, "zh") == "1亿"
        assert formatting.format_compact(-999_999, "en") == "-1M"


class TestMoney:
    def test_chinese_in_wan_yuan_with_two_decimals(self) -> None:
        # 1,234,567.89 yuan held as fen.
        assert formatting.format_money(123_456_789, "zh") == "123.46万元"
        assert formatting.format_money(1_234_567_800_000, "zh") == "1,234,567.80万元"
        assert formatting.format_money(0, "zh") == "0.00万元"
        assert formatting.format_money(5, "zh") == "0.00万元"
        assert formatting.format_money(5_000, "zh") == "0.01万元"  # half up: 0.005 → 0.01
        assert formatting.format_money(-123_456_789, "zh") == "-123.46万元"

    def test_english_in_yuan_with_the_cldr_currency_sign(self) -> None:
        assert formatting.format_money(123_456_789, "en") == "CN¥1,234,567.89"
        assert formatting.format_money(0, "en") == "CN¥0.00"
        assert formatting.format_money(-5, "en") == "-CN¥0.05"

    @pytest.mark.parametrize("lang", LANGS)
    def test_huge_sums_keep_every_fen(self, lang: Language) -> None:
        fen = 10**25 + 1  # beyond float's 15-16 significant digits
        expected = {
            "zh": "10,000,000,000,000,000,000.00万元",
            "en": "CN¥100,000,000,000,000,000,000,000.01",
        }
        assert formatting.format_money(fen, lang) == expected[lang]

    def test_decimal_fen_stay_decimal(self) -> None:
        assert formatting.format_money(Decimal("12345.5"), "en") == "CN¥123.46"
        assert formatting.format_money(Decimal("12345.5"), "zh") == "0.01万元"


class TestPercent:
    @pytest.mark.parametrize("lang", LANGS)
    def test_one_decimal_rounded_half_up(self, lang: Language) -> None:
        assert formatting.format_percent(1, 3, lang) == "33.3%"
        assert formatting.format_percent(1, 2000, lang) == "0.1%"  # 0.05% rounds up
        assert formatting.format_percent(0, 7, lang) == "0.0%"
        assert formatting.format_percent(3, 3, lang) == "100.0%"
        assert formatting.format_percent(-1, 3, lang) == "-33.3%"
        assert formatting.format_percent(10**6, 1, lang) == "100,000,000.0%"


class TestDates:
    def test_long_chinese_and_medium_british_dates(self) -> None:
        assert formatting.format_date(date(2026, 11, 27), "zh") == "2026年11月27日"
        assert formatting.format_date(date(2026, 11, 27), "en") == "27 Nov 2026"
        assert formatting.format_date(date(1, 1, 1), "en") == "1 Jan 1"
        assert formatting.format_date(date(9999, 12, 31), "zh") == "9999年12月31日"

    def test_utc_moments_are_shown_in_shanghai_time(self) -> None:
        late_evening_utc = datetime(2026, 11, 27, 16, 30, tzinfo=UTC)

        assert formatting.format_datetime(late_evening_utc, "zh") == "2026年11月28日 00:30"
        assert formatting.format_datetime(late_evening_utc, "en") == "28 Nov 2026 00:30"
        assert formatting.format_datetime_short(late_evening_utc, "zh") == "2026-11-28 00:30"
        assert formatting.format_datetime_short(late_evening_utc, "en") == "2026-11-28 00:30"
        assert formatting.format_date(late_evening_utc, "zh") == "2026年11月28日"
        assert formatting.format_date(late_evening_utc, "en") == "28 Nov 2026"

    def test_afternoon_is_on_the_24_hour_clock_in_english_too(self) -> None:
        afternoon_utc = datetime(2026, 11, 27, 6, 5, tzinfo=UTC)

        assert formatting.format_datetime(afternoon_utc, "en") == "27 Nov 2026 14:05"


@pytest.mark.parametrize(
    ("months", "lang", "shown"),
    [
        (12, "zh", "12个月"),
        (36, "zh", "36个月"),
        (1, "en", "1 month"),
        (24, "en", "24 months"),
        ("18", "zh", "18个月"),  # as typed in a form
        ("一年", "zh", "一年"),  # not a number: shown as typed
        (None, "zh", formatting.MISSING),
    ],
)
def test_a_loan_term_is_quoted_in_months_not_as_a_duration(
    months: int | str | None, lang: Language, shown: str
) -> None:
    assert formatting.format_loan_term(months, lang) == shown
    if isinstance(months, int) and months >= 12:
        assert formatting.format_duration(months, lang) != shown  # 1年, 3年: an age, not a term
