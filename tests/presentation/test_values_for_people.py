"""Values for people (issue 23): units, signed shares, durations, months, names of codes, and
masked values masked as a whole."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from creditbridge.presentation import formatting as f
from creditbridge.presentation.templating import environment


class TestAmounts:
    def test_cards_switch_to_yi_yuan_from_one_hundred_million(self) -> None:
        yi_fen = 100_000_000 * 100
        assert f.format_money_card(yi_fen, "zh") == "1.00亿元"
        assert f.format_money_card(12_345_678_901, "zh") == "1.23亿元"
        assert f.format_money_card(yi_fen - 1, "zh") == "10,000.00万元"
        assert f.format_money_card(-12_345_678_901, "zh") == "-1.23亿元"
        assert f.format_money_card(None, "zh") == "—"

    def test_cards_in_english_are_compact_yuan(self) -> None:
        assert f.format_money_card(12_345_678_901, "en") == "CN¥123.46M"
        assert f.format_money_card(123_456, "en") == "CN¥1,234.56"

    def test_amounts_held_in_wan_yuan(self) -> None:
        assert f.format_wan_yuan("1234.5", "zh") == "1,234.50万元"
        assert f.format_wan_yuan(Decimal("25000"), "zh", card=True) == "2.50亿元"
        assert f.format_wan_yuan(3, "en") == "CN¥30,000.00"
        assert f.format_wan_yuan(None, "zh") == "—"
        assert f.format_wan_yuan("abc", "zh") == "—"


class TestCounts:
    @pytest.mark.parametrize(
        ("n", "unit", "text"),
        [(1234, "家", "1,234 家"), (56, "笔", "56 笔"), (0, "条", "0 条"), (7, "个", "7 个")],
    )
    def test_chinese_counts_carry_their_measure_word(self, n: int, unit: str, text: str) -> None:
        assert f.format_count(n, unit, "zh") == text

    def test_compact_counts(self) -> None:
        assert f.format_count(123_456, "条", "zh", compact=True) == "12.3万条"
        assert f.format_count(999, "条", "zh", compact=True) == "999 条"

    def test_english_counts_use_a_noun_with_its_plural(self) -> None:
        assert f.format_count(3, "笔", "en", noun_en="loans") == "3 loans"
        assert f.format_count(1, "笔", "en", noun_en="loans") == "1 loan"
        assert f.format_count(2, "家", "en") == "2 enterprises"
        assert f.format_count(1, "家", "en") == "1 enterprise"
        assert f.format_count(None, "家", "en") == "—"


class TestRatios:
    def test_shares(self) -> None:
        assert f.format_ratio(0.853, "zh") == "85.3%"
        assert f.format_ratio(Decimal("0.0005"), "zh") == "0.1%"  # half up
        assert f.format_ratio(1, "en", digits=0) == "100%"
        assert f.format_ratio(None, "zh") == "—"

    def test_changes_carry_a_sign(self) -> None:
        assert f.format_ratio(0.032, "zh", signed=True) == "+3.2%"
        assert f.format_ratio(-0.015, "zh", signed=True) == "\u22121.5%"
        assert f.format_ratio(0, "zh", signed=True) == "0.0%"
        assert f.format_change(110, 100, "zh") == "+10.0%"
        assert f.format_change(90, 100, "en") == "\u221210.0%"
        assert f.format_change(5, 0, "zh") == "—"


class TestDurations:
    @pytest.mark.parametrize(
        ("months", "zh", "en"),
        [
            (40, "3年4个月", "3 yr 4 mo"),
            (36, "3年", "3 yr"),
            (4, "4个月", "4 mo"),
            (0, "不足1个月", "under 1 month"),
        ],
    )
    def test_from_months(self, months: int, zh: str, en: str) -> None:
        assert f.format_duration(months, "zh") == zh
        assert f.format_duration(months, "en") == en

    def test_from_two_dates_counts_whole_months(self) -> None:
        assert f.months_between(date(2022, 7, 5), date(2025, 11, 5)) == 40
        assert f.months_between(date(2022, 7, 5), date(2025, 11, 4)) == 39
        assert f.months_between(date(2025, 11, 4), date(2022, 7, 5)) == -39
        assert f.format_duration_between(date(2022, 7, 5), date(2025, 11, 5), "zh") == "3年4个月"
        moment = datetime(2022, 7, 4, 20, 0, tzinfo=UTC)  # 7月5日 04:00 in Shanghai
        assert f.format_duration_between(moment, date(2025, 11, 5), "zh") == "3年4个月"
        assert f.format_duration_between(None, date(2025, 11, 5), "zh") == "—"

    def test_years_are_truncated_like_an_age(self) -> None:
        assert f.format_years(3.99, "zh") == "3年11个月"
        assert f.format_years("3.4", "zh") == "3年4个月"


class TestMonths:
    def test_chinese_and_english_months(self) -> None:
        assert f.format_month(date(2026, 11, 27), "zh") == "2026年11月"
        assert f.format_month("2026-01", "zh") == "2026年1月"
        assert f.format_month("202611", "zh") == "2026年11月"
        assert f.format_month(date(2026, 11, 27), "en") == "Nov 2026"
        # 2026-11-30 20:00 UTC is already December in Shanghai
        assert f.format_month(datetime(2026, 11, 30, 20, tzinfo=UTC), "zh") == "2026年12月"

    def test_what_is_not_a_month_is_shown_as_given(self) -> None:
        assert f.format_month("2026-13", "zh") == "2026-13"
        assert f.format_month("", "zh") == "—"


class TestNames:
    def test_divisions_by_name(self) -> None:
        assert f.format_division("340100", "zh") == "合肥市"
        assert f.format_division("340104", "zh", full=True) == "安徽省合肥市蜀山区"
        assert f.format_division("999999", "zh") == "999999"
        assert f.format_division(None, "zh") == "—"

    def test_industries_by_name(self) -> None:
        assert f.format_industry("C", "zh") == "制造业"
        assert f.format_industry("C3511", "zh") == "专用设备制造业"
        assert f.format_industry("44", "zh") == "电力、热力生产和供应业"
        assert f.format_industry("C", "en") == "Manufacturing"
        assert f.format_industry("Z99", "zh") == "Z99"
        assert f.format_industry("", "zh") == "—"

    @pytest.mark.parametrize(
        ("value", "zh", "en"),
        [
            ("A", "A级", "Grade A"),
            ("m", "M级", "Grade M"),
            (4, "A级", "Grade A"),
            (0, "D级", "Grade D"),
            (2.0, "M级", "Grade M"),
        ],
    )
    def test_tax_grades_never_show_points(self, value: object, zh: str, en: str) -> None:
        assert f.format_tax_grade(value, "zh") == zh
        assert f.format_tax_grade(value, "en") == en

    def test_unknown_tax_grades(self) -> None:
        assert f.format_tax_grade(None, "zh") == "—"
        assert f.format_tax_grade("Z", "zh") == "Z"
        assert f.format_tax_grade(7, "zh") == "7"

    def test_severities_and_frequencies(self) -> None:
        assert [f.format_severity(s, "zh") for s in ("minor", "general", "serious")] == [
            "轻微",
            "一般",
            "严重",
        ]
        assert f.format_severity(10, "zh") == "严重"
        assert f.format_severity("serious", "en") == "Serious"
        assert f.format_severity("extreme", "zh") == "extreme"
        assert f.format_frequency("monthly", "zh") == "每月"
        assert f.format_frequency("quarterly", "zh") == "每季度"
        assert f.format_frequency(None, "zh") == "—"

    def test_severity_and_frequency_labels_match_the_catalog(self) -> None:
        from creditbridge.catalog.domain import SEVERITIES, UPDATE_FREQUENCIES

        assert {k: f.format_severity(k, "zh") for k in SEVERITIES} == SEVERITIES
        assert {k: f.format_frequency(k, "zh") for k in UPDATE_FREQUENCIES} == UPDATE_FREQUENCIES


class TestMasked:
    def test_masked_as_a_whole_with_the_unit(self) -> None:
        assert f.format_masked("wan_yuan", "zh") == "***万元"
        assert f.format_masked("fen", "zh") == "***万元"
        assert f.format_masked("person", "zh") == "***人"
        assert f.format_masked(None, "zh") == "***"
        assert f.format_masked("wan_yuan", "en") == "*** CNY"

    def test_what_a_masking_rule_returns_is_recognised(self) -> None:
        from creditbridge.catalog.domain import mask_value

        shown = mask_value("partial", "2612345678")
        assert f.is_masked(shown)
        assert not f.is_masked("2612345678")
        assert not f.is_masked(26)


class TestIndicators:
    @pytest.mark.parametrize(
        ("code", "unit", "value", "text"),
        [
            ("tax_credit_rating", "级(A=4…D=0)", 0, "D级"),
            ("tax_credit_rating", "级(A=4…D=0)", 4.0, "A级"),
            ("tax_declared_ratio", "比例", 0.9166, "91.7%"),
            ("tax_trend", "比例", -0.153, "\u221215.3%"),
            ("power_trend", "比例", 0.05, "+5.0%"),
            ("registered_capital", "万元", 500, "500.00万元"),
            ("years_in_business", "年", 3.4, "3年4个月"),
            ("housing_fund_months", "月", 14, "1年2个月"),
            ("judgments_36m", "件", 2, "2 件"),
            ("si_headcount", "人", 12.5, "12.5 人"),
            ("penalty_points_36m", "分(轻微1/一般3/严重10)", 13, "13 分"),
            ("x", "级(A=4…D=0)", None, "—"),
        ],
    )
    def test_scoring_indicators_read_as_people_say_them(
        self, code: str, unit: str, value: float | None, text: str
    ) -> None:
        assert f.format_indicator(code, unit, value, "zh") == text


def test_filters_are_registered_and_take_the_page_language() -> None:
    source = (
        "{{ 12345678901|money_card }}|{{ 3|with_unit('笔') }}|{{ 0.1|ratio(signed=true) }}|{{ 41|duration }}|"
        "{{ '2026-01'|month }}|{{ '340100'|division }}|{{ 'C'|industry }}|{{ 2|tax_grade }}|"
        "{{ 'minor'|severity }}|{{ 'daily'|frequency }}|{{ 'wan_yuan'|masked }}|"
        "{{ 0|indicator('tax_credit_rating', '级(A=4…D=0)') }}|{{ 110|change(100) }}|{{ 500|wan_yuan }}"
    )
    zh = environment.from_string(source).render(lang="zh").split("|")
    assert zh == [
        "1.23亿元",
        "3 笔",
        "+10.0%",
        "3年5个月",
        "2026年1月",
        "合肥市",
        "制造业",
        "M级",
        "轻微",
        "每日",
        "***万元",
        "D级",
        "+10.0%",
        "500.00万元",
    ]
    en = environment.from_string("{{ 41|duration }}|{{ 'minor'|severity }}").render(lang="en")
    assert en == "3 yr 5 mo|Minor"


class TestMaskedFigures:
    def test_a_starred_amount_is_hidden_whole_with_its_unit(self) -> None:
        from creditbridge.catalog.domain import mask_value

        partly = mask_value("partial", "2612345678")  # 26******78: shows size and digits
        assert f.format_masked_figure("amount", "wan_yuan", partly, "zh") == "***万元"
        assert f.format_masked_figure("amount", "yuan", partly, "zh") == "***万元"
        assert f.format_masked_figure("integer", "person", "1*", "zh") == "***人"
        assert f.format_masked_figure("decimal", None, "******", "zh") == "***"

    def test_unmasked_figures_and_masked_text_are_left_to_the_caller(self) -> None:
        assert f.format_masked_figure("amount", "wan_yuan", "2612345678", "zh") is None
        assert f.format_masked_figure("amount", "wan_yuan", 26, "zh") is None
        assert f.format_masked_figure("string", None, "王**", "zh") is None

    def test_report_templates_use_it(self) -> None:
        source = "{{ masked_figure('amount', 'wan_yuan', '26******78') or 'x' }}|{{ masked_figure('amount', 'wan_yuan', '2612') or 'x' }}"
        assert environment.from_string(source).render(lang="zh") == "***万元|x"
