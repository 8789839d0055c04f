"""Enterprise size (工信部联企业〔2011〕300号 Art. 4): boundaries of all 16 rows generated from the
data file, plus hand-worked examples that do not read it."""

from __future__ import annotations

from decimal import Decimal

import pytest

from creditbridge.reference import size
from creditbridge.reference.errors import (
    AmbiguousIndustry,
    IndustryOutOfScope,
    InvalidIndicator,
    MissingIndicator,
    UnknownIndustry,
    UnknownVersion,
)
from creditbridge.reference.size import SizeClass

WAN = 10_000  # yuan in one 万元

# One code per row that must land on it (independent of the YAML's own lists).
ROW_CODES = {
    "agriculture": "0111",
    "industry": "C",
    "construction": "E",
    "wholesale": "51",
    "retail": "5212",
    "transport": "54",
    "warehousing": "592",
    "postal": "60",
    "accommodation": "61",
    "catering": "62",
    "information_transmission": "64",
    "software_it": "65",
    "real_estate_development": "7010",
    "property_management": "702",
    "leasing_business": "L",
    "other": "M",
}


def test_table_has_the_16_rows_of_the_regulation() -> None:
    assert [row.id for row in size.table().rows] == list(ROW_CODES)
    assert size.table("2011").source.startswith("工信部联企业〔2011〕300号")


@pytest.mark.parametrize(("row_id", "code"), ROW_CODES.items())
def test_industry_codes_map_to_their_row(row_id: str, code: str) -> None:
    assert size.industry_row(code).id == row_id


def _kwargs(values: dict[str, Decimal]) -> dict[str, object]:
    def pick(key: str) -> object:
        if key not in values:
            return None
        return int(values[key]) if key == "employees" else values[key]

    return {
        "employees": pick("employees"),
        "revenue_yuan": pick("revenue"),
        "assets_yuan": pick("assets"),
    }


BELOW = {
    SizeClass.LARGE: SizeClass.MEDIUM,
    SizeClass.MEDIUM: SizeClass.SMALL,
    SizeClass.SMALL: SizeClass.MICRO,
}


def _boundary_cases() -> list[tuple[str, str, str, int, SizeClass]]:
    """For each row, class bound and indicator: hold the other indicators exactly at that class's
    bound and move this one to bound−1, bound, bound+1 (persons or yuan)."""
    cases = []
    for row in size.table().rows:
        for size_class in (SizeClass.LARGE, SizeClass.MEDIUM, SizeClass.SMALL):
            bounds = row.bounds(size_class)
            for indicator in bounds:
                for delta, expected in ((-1, BELOW[size_class]), (0, size_class), (1, size_class)):
                    cases.append((row.id, size_class.value, indicator, delta, expected))
    return cases


BOUNDARY_CASES = _boundary_cases()


def test_boundary_cases_cover_every_threshold_of_every_row() -> None:
    thresholds = sum(len(r.large) + len(r.medium) + len(r.small) for r in size.table().rows)
    assert thresholds == 2 * 3 + 14 * 2 * 3  # 2 one-indicator rows, 14 two-indicator rows
    assert len(BOUNDARY_CASES) == 3 * thresholds


@pytest.mark.parametrize(
    ("row_id", "bound_class", "indicator", "delta", "expected"), BOUNDARY_CASES
)
def test_every_threshold_at_minus_one_exact_and_plus_one(
    row_id: str, bound_class: str, indicator: str, delta: int, expected: SizeClass
) -> None:
    row = size.table().row(row_id)
    values = dict(row.bounds(SizeClass(bound_class)))
    values[indicator] += delta  # type: ignore[index]
    assert size.classify(industry=ROW_CODES[row_id], **_kwargs(values)) is expected  # type: ignore[arg-type]


# --- worked examples, thresholds typed in from the regulation, not read from the data file ----


@pytest.mark.parametrize(
    ("industry", "employees", "revenue", "assets", "expected"),
    [
        # 工业: 280 人 < 300 so not medium; ≥ 20 人 and 1.5 亿 ≥ 300 万 → small
        ("C", 280, 150_000_000, None, SizeClass.SMALL),
        # 工业: exactly at both caps (1000 人, 4 亿) → large
        ("3511", 1000, 400_000_000, None, SizeClass.LARGE),
        # 工业: revenue one yuan under the 4 亿 cap → SME; ≥ 300 人 and ≥ 2000 万 → medium
        ("B", 1500, 399_999_999, None, SizeClass.MEDIUM),
        # 零售: 9 人 < 10 → micro whatever the revenue
        ("52", 9, 50_000_000, None, SizeClass.MICRO),
        # 软件: 50 人, 60 万 → small (≥ 10 人, ≥ 50 万)
        ("6513", 50, 600_000, None, SizeClass.SMALL),
        # 建筑: revenue 9 亿 but assets 7.9 亿 < 8 亿 → SME; ≥ 6000 万 and ≥ 5000 万 → medium
        ("E", None, 900_000_000, 790_000_000, SizeClass.MEDIUM),
        # 房地产开发经营: 20 亿 and 1 亿, both at the caps → large
        ("7010", None, 2_000_000_000, 100_000_000, SizeClass.LARGE),
        # 农业: 49.9999 万 → micro; 50 万 → small
        ("A", None, Decimal("499999.99"), None, SizeClass.MICRO),
        ("01", None, 500_000, None, SizeClass.SMALL),
        # 其他未列明 (科研): 99 人 → small; 300 人 → large
        ("M", 99, None, None, SizeClass.SMALL),
        ("73", 300, None, None, SizeClass.LARGE),
        # 铁路运输 is excluded from 交通运输业 → 其他未列明: 299 人 → medium
        ("53", 299, None, None, SizeClass.MEDIUM),
        # 租赁和商务服务: 120 人 < 300 → SME; ≥ 100 人 and 12 亿 ≥ 8000 万 → medium
        ("7211", 120, None, 1_200_000_000, SizeClass.MEDIUM),
        # 装卸搬运 (591) is sized as 交通运输业: 25 人, 210 万 → small (≥ 20 人, ≥ 200 万)
        ("5910", 25, 2_100_000, None, SizeClass.SMALL),
        # 物业管理: 150 人, 600 万 → small (≥ 100 人, ≥ 500 万)
        ("7020", 150, 6_000_000, None, SizeClass.SMALL),
        # 批发: 19 人 < 20 → not medium; ≥ 5 人 and 1 亿 ≥ 1000 万 → small
        ("51", 19, 100_000_000, None, SizeClass.SMALL),
    ],
)
def test_worked_examples(
    industry: str,
    employees: int | None,
    revenue: int | Decimal | None,
    assets: int | Decimal | None,
    expected: SizeClass,
) -> None:
    result = size.classify(
        industry=industry, employees=employees, revenue_yuan=revenue, assets_yuan=assets
    )
    assert result is expected


def test_warehousing_and_transport_differ_at_150_wan() -> None:
    common = {"employees": 25, "revenue_yuan": 1_500_000, "assets_yuan": None}
    assert size.classify(industry="592", **common) is SizeClass.SMALL  # type: ignore[arg-type]
    assert size.classify(industry="5910", **common) is SizeClass.MICRO  # type: ignore[arg-type]


def test_size_class_has_chinese_labels_and_plain_values() -> None:
    assert [(c.value, c.label_zh) for c in SizeClass] == [
        ("large", "大型"),
        ("medium", "中型"),
        ("small", "小型"),
        ("micro", "微型"),
    ]


def test_unneeded_indicators_may_be_missing() -> None:
    assert (
        size.classify(industry="M", employees=5, revenue_yuan=None, assets_yuan=None)
        is SizeClass.MICRO
    )


def test_missing_needed_indicator_raises_naming_the_field() -> None:
    with pytest.raises(MissingIndicator) as caught:
        size.classify(industry="C", employees=None, revenue_yuan=1, assets_yuan=None)
    assert caught.value.field == "employees"
    assert caught.value.issues[0].field == "employees"
    assert "从业人员" in caught.value.message
    assert isinstance(caught.value, ValueError)


def test_float_amounts_are_refused() -> None:
    with pytest.raises(InvalidIndicator, match="revenue_yuan"):
        size.classify(industry="C", employees=10, revenue_yuan=1.5, assets_yuan=None)  # type: ignore[arg-type]


def test_negative_amounts_are_refused() -> None:
    with pytest.raises(InvalidIndicator):
        size.classify(industry="C", employees=-1, revenue_yuan=1, assets_yuan=None)


@pytest.mark.parametrize("code", ["70", "K", "59", "F", "G", "H", "I"])
def test_codes_spanning_rows_with_different_thresholds_are_ambiguous(code: str) -> None:
    with pytest.raises(AmbiguousIndustry, match="更细"):
        size.industry_row(code)


@pytest.mark.parametrize("code", ["J", "66", "6812"])
def test_finance_is_out_of_scope(code: str) -> None:
    with pytest.raises(IndustryOutOfScope, match="金融业企业划型标准规定"):
        size.industry_row(code)


def test_unknown_industry_and_version_raise() -> None:
    with pytest.raises(UnknownIndustry):
        size.industry_row("98")
    with pytest.raises(UnknownVersion, match="2011"):
        size.table("2099")


def test_amounts_are_converted_exactly_from_wan() -> None:
    row = size.table().row("construction")
    assert row.large["revenue"] == Decimal(80_000) * WAN
    assert isinstance(row.large["revenue"], Decimal)
    assert row.small["assets"] == Decimal(3_000_000)
