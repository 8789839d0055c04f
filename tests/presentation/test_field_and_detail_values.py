"""Values for people on the consent, marketplace, ingest and audit pages (issue 23): loan rates
from basis points, hours, yes/no, a delivered record's values by their field's type, and the
values of an audit event's detail."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from creditbridge.presentation import formatting as f
from creditbridge.presentation.templating import environment


class TestRates:
    def test_basis_points_read_as_a_percentage_with_two_decimals(self) -> None:
        assert f.format_rate_bp(435, "zh") == "4.35%"
        assert f.format_rate_bp(400, "en") == "4.00%"
        assert f.format_rate_bp(Decimal("312.5"), "zh") == "3.13%"  # half up
        assert f.format_rate_bp(None, "zh") == "—"

    def test_hours_and_yes_no(self) -> None:
        assert f.format_hours(26.54, "zh") == "26.5 小时"
        assert f.format_hours(1234, "en") == "1,234.0 h"
        assert f.format_hours(None, "zh") == "—"
        assert [f.format_bool(v, "zh") for v in (True, False, None)] == ["是", "否", "—"]
        assert f.format_bool(True, "en") == "Yes"


class TestFieldValues:
    @pytest.mark.parametrize(
        ("value", "field_type", "unit", "shown"),
        [
            ("12345.60", "amount", "yuan", "1.23万元"),
            ("1234.5", "amount", "wan_yuan", "1,234.50万元"),
            ("2025-06-30", "date", None, "2025年6月30日"),
            (date(2025, 6, 30), "date", None, "2025年6月30日"),
            ("2025-06", "period", None, "2025年6月"),
            ("340104", "division_code", None, "蜀山区"),
            ("C3911", "industry_code", None, "计算机、通信和其他电子设备制造业"),
            ("true", "boolean", None, "是"),
            (False, "boolean", None, "否"),
            ("1200", "integer", "person", "1,200 人"),
            ("12.5", "decimal", "tonne", "12.5 吨"),
            ("85.25", "decimal", "percent", "85.25%"),
            ("26******78", "amount", "wan_yuan", "***万元"),
            ("王*", "string", None, "王*"),
            ("340102198001011234", "uscc", None, "340102198001011234"),
            (None, "amount", "wan_yuan", "—"),
        ],
    )
    def test_a_record_value_is_shown_by_its_field(
        self, value: object, field_type: str, unit: str | None, shown: str
    ) -> None:
        assert f.format_field_value(value, field_type, unit, "zh") == shown

    def test_what_does_not_parse_is_shown_as_stored(self) -> None:
        assert f.format_field_value("n/a", "amount", "wan_yuan", "zh") == "n/a"
        assert f.format_field_value("soon", "date", None, "zh") == "soon"
        assert f.format_field_value("maybe", "boolean", None, "zh") == "maybe"

    def test_enum_codes_by_their_label(self) -> None:
        labels = {"A": "纳税信用A级"}
        assert f.format_field_value("A", "enum", None, "zh", enum_labels=labels) == "纳税信用A级"
        assert f.format_field_value("A", "enum", None, "en", enum_labels=labels) == "A"
        assert f.format_field_value("B", "enum", None, "zh", enum_labels=labels) == "B"


class TestDetailValues:
    def test_moments_carried_as_iso_text_are_shown_in_beijing_time(self) -> None:
        assert f.format_detail_value("2026-04-05T02:00:00Z", "valid_until", "zh") == (
            "2026年4月5日 10:00"
        )
        assert f.format_detail_value("2026-04-05T18:30:00+00:00", "at", "zh") == (
            "2026年4月6日 02:30"
        )
        # A moment without a zone is a stored one: UTC.
        assert f.format_detail_value("2026-04-05 02:00:00", "at", "en") == "5 Apr 2026 10:00"
        assert f.format_detail_value("2025-12-31", "data_to", "zh") == "2025年12月31日"
        moment = datetime(2026, 4, 5, 2, 0, tzinfo=UTC)
        assert f.format_detail_value(moment, "at", "zh") == "2026年4月5日 10:00"

    def test_money_rates_and_counts_by_their_key(self) -> None:
        assert f.format_detail_value(50_000_000, "amount_fen", "zh") == "50.00万元"
        assert f.format_detail_value(435, "rate_bp", "zh") == "4.35%"
        assert f.format_detail_value(12345, "record_count", "zh") == "12,345"
        assert f.format_detail_value(12345, "rows", "zh") == "12,345"

    def test_identifiers_and_codes_are_shown_as_stored(self) -> None:
        assert f.format_detail_value(12345, "consent_id", "zh") == "12345"
        assert f.format_detail_value(2026, "year", "zh") == "2026"
        assert f.format_detail_value("loan_application", "purpose", "zh") == "loan_application"
        assert f.format_detail_value("2026-13-45T99:00", "at", "zh") == "2026-13-45T99:00"

    def test_lists_and_booleans(self) -> None:
        assert f.format_detail_value(["tax", "court"], "categories", "zh") == "tax、court"
        assert f.format_detail_value([], "categories", "zh") == "—"
        assert f.format_detail_value(True, "public", "zh") == "是"
        assert f.format_detail_value(None, "reason", "zh") == "—"


def test_the_new_filters_are_registered() -> None:
    source = (
        "{{ 435|rate_bp }}|{{ 26.5|hours }}|{{ false|yes_no }}"
        "|{{ '2025-06'|field_value('period', none) }}"
        "|{{ '2026-04-05T02:00:00Z'|detail_value('valid_until') }}"
    )
    assert environment.from_string(source).render(lang="zh") == (
        "4.35%|26.5 小时|否|2025年6月|2026年4月5日 10:00"
    )
    assert environment.from_string("{{ 435|rate_bp }}|{{ true|yes_no }}").render(lang="en") == (
        "4.35%|Yes"
    )
