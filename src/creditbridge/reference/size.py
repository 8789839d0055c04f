"""Enterprise size (企业划型: large / medium / small / micro) under 《中小企业划型标准规定》
(工信部联企业〔2011〕300号), as a pure function over versioned thresholds in
``data/size_thresholds.yaml``.

Article 4 in code: an enterprise at or above every cap of its row is large; below any cap it is
an SME, and then medium if it meets both medium lower bounds, small if both small bounds, else
micro. Rows with one indicator use that one. Amounts are yuan in, 万元 in the data file, compared
as exact Decimals.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from functools import cache
from typing import Any, Literal

from creditbridge.reference import industries
from creditbridge.reference._data import read_yaml
from creditbridge.reference.errors import (
    AmbiguousIndustry,
    IndustryOutOfScope,
    InvalidIndicator,
    MissingIndicator,
    UnknownVersion,
)

Indicator = Literal["employees", "revenue", "assets"]
INDICATORS: tuple[Indicator, ...] = ("employees", "revenue", "assets")
DEFAULT_VERSION = "2011"
_WAN = Decimal(10_000)  # 1 万元 in yuan
_INDICATOR_ZH = {"employees": "从业人员", "revenue": "营业收入", "assets": "资产总额"}
_FIELD = {"employees": "employees", "revenue": "revenue_yuan", "assets": "assets_yuan"}


class SizeClass(StrEnum):
    LARGE = "large"
    MEDIUM = "medium"
    SMALL = "small"
    MICRO = "micro"

    @property
    def label_zh(self) -> str:
        return _LABELS[self]


_LABELS = {
    SizeClass.LARGE: "大型",
    SizeClass.MEDIUM: "中型",
    SizeClass.SMALL: "小型",
    SizeClass.MICRO: "微型",
}


@dataclass(frozen=True)
class SizeRow:
    """One row of the table. Thresholds are in base units: persons, or yuan for amounts."""

    id: str
    name: str
    indicators: tuple[Indicator, ...]
    large: dict[Indicator, Decimal]
    medium: dict[Indicator, Decimal]
    small: dict[Indicator, Decimal]
    industries: tuple[str, ...]
    default: bool = False

    def bounds(self, size_class: SizeClass) -> dict[Indicator, Decimal]:
        """Lower bounds of a class (for LARGE: the SME caps); MICRO has none."""
        if size_class is SizeClass.MICRO:
            return {}
        return {
            SizeClass.LARGE: self.large,
            SizeClass.MEDIUM: self.medium,
            SizeClass.SMALL: self.small,
        }[size_class]


@dataclass(frozen=True)
class SizeTable:
    version: str
    title: str
    source: str
    rows: tuple[SizeRow, ...]
    out_of_scope: dict[str, str]

    def row(self, row_id: str) -> SizeRow:
        for row in self.rows:
            if row.id == row_id:
                return row
        raise KeyError(row_id)


@dataclass(frozen=True)
class SizeAssessment:
    size_class: SizeClass
    row: SizeRow
    version: str


def _indicator(name: str) -> Indicator:
    for known in INDICATORS:
        if name == known:
            return known
    raise ValueError(f"size_thresholds.yaml: unknown indicator {name!r}")


def _bounds(raw: dict[str, Any], indicators: tuple[Indicator, ...]) -> dict[Indicator, Decimal]:
    bounds: dict[Indicator, Decimal] = {}
    for key, value in raw.items():
        indicator = _indicator(key)
        if indicator not in indicators:
            raise ValueError(f"size_thresholds.yaml: {key} is not an indicator of this row")
        if not isinstance(value, int):
            raise ValueError(f"size_thresholds.yaml: {key}={value!r} must be an integer")
        bounds[indicator] = Decimal(value) if indicator == "employees" else Decimal(value) * _WAN
    if set(bounds) != set(indicators):
        raise ValueError("size_thresholds.yaml: each class needs a bound on every indicator")
    return bounds


@cache
def _tables() -> dict[str, SizeTable]:
    tables: dict[str, SizeTable] = {}
    for version, spec in read_yaml("size_thresholds.yaml")["versions"].items():
        rows = []
        for raw in spec["rows"]:
            indicators = tuple(_indicator(i) for i in raw["indicators"])
            rows.append(
                SizeRow(
                    id=raw["id"],
                    name=raw["name"],
                    indicators=indicators,
                    large=_bounds(raw["large"], indicators),
                    medium=_bounds(raw["medium"], indicators),
                    small=_bounds(raw["small"], indicators),
                    industries=tuple(str(code) for code in raw["industries"]),
                    default=bool(raw.get("default", False)),
                )
            )
        tables[str(version)] = SizeTable(
            version=str(version),
            title=spec["title"],
            source=spec["source"],
            rows=tuple(rows),
            out_of_scope={str(k): str(v) for k, v in spec.get("out_of_scope", {}).items()},
        )
    return tables


def versions() -> list[str]:
    return sorted(_tables())


def table(version: str | None = None) -> SizeTable:
    wanted = version or DEFAULT_VERSION
    found = _tables().get(wanted)
    if found is None:
        raise UnknownVersion(
            f"企业划型标准版本“{wanted}”不存在，可用：{'、'.join(versions())}",
            field="version",
            value=wanted,
            key="error.reference.size.no_version",
            params={"version": wanted, "versions": "、".join(versions())},
        )
    return found


def _resolve(code: str, section: str, size_table: SizeTable) -> SizeRow:
    """The row of one code: longest digit prefix, then the section letter, then the default."""
    best: tuple[int, SizeRow] | None = None
    for row in size_table.rows:
        for entry in row.industries:
            if (
                entry.isdigit()
                and code.startswith(entry)
                and (best is None or len(entry) > best[0])
            ):
                best = (len(entry), row)
    if best is not None:
        return best[1]
    for row in size_table.rows:
        if section in row.industries:
            return row
    return next(row for row in size_table.rows if row.default)


def industry_row(industry: str, version: str | None = None) -> SizeRow:
    """The row of the size table that applies to a GB/T 4754-2017 code (section letter, 2–4
    digits, or letter + digits). Raises when the code is unknown, outside the rule's scope, or
    covers rows with different thresholds (then a finer code is needed)."""
    size_table = table(version)
    section, digits = industries.parse(industry)
    if section in size_table.out_of_scope:
        reason = size_table.out_of_scope[section]
        raise IndustryOutOfScope(
            reason,
            field="industry_code",
            value=industry,
            key="error.reference.size.out_of_scope",
            params={"reason": reason},
        )
    if digits:
        finer = [
            entry
            for row in size_table.rows
            for entry in row.industries
            if entry.isdigit() and len(entry) > len(digits) and entry.startswith(digits)
        ]
        candidates = [digits, *finer]
    else:
        found = industries.section(section)
        division_codes = found.division_codes if found else ()
        finer = [
            entry
            for row in size_table.rows
            for entry in row.industries
            if entry.isdigit() and entry[:2] in division_codes
        ]
        candidates = [*division_codes, *finer]
    rows = {_resolve(code, section, size_table).id: code for code in candidates}
    if len(rows) > 1:
        options = "；".join(
            f"{size_table.row(row_id).name}（{'其余代码' if code == digits else '如 ' + code}）"
            for row_id, code in sorted(rows.items(), key=lambda item: item[1])
        )
        raise AmbiguousIndustry(
            f"行业代码“{industry}”在划型标准中对应多个行业：{options}。请提供更细的行业代码（中类或小类）",
            field="industry_code",
            value=industry,
            key="error.reference.size.ambiguous",
            params={"code": industry, "options": options},
        )
    return _resolve(candidates[0], section, size_table)


def _measure(indicator: Indicator, value: object) -> Decimal:
    field = _FIELD[indicator]
    label = _INDICATOR_ZH[indicator]
    if isinstance(value, bool) or not isinstance(value, int | Decimal):
        raise InvalidIndicator(
            f"{label}（{field}）须为整数或 Decimal，不接受 {type(value).__name__}（避免浮点误差）",
            field=field,
            value=repr(value),
            key="error.reference.size.inexact",
            params={"label": label, "field": field, "type": type(value).__name__},
        )
    amount = Decimal(value)
    if not amount.is_finite() or amount < 0:
        raise InvalidIndicator(
            f"{label}（{field}）不能为负数或非有限值",
            field=field,
            value=str(value),
            key="error.reference.size.negative",
            params={"label": label, "field": field},
        )
    if indicator == "employees" and not isinstance(value, int):
        raise InvalidIndicator(
            f"{label}（{field}）须为整数人数",
            field=field,
            value=str(value),
            key="error.reference.size.whole_people",
            params={"label": label, "field": field},
        )
    return amount


def assess(
    *,
    industry: str,
    employees: int | None,
    revenue_yuan: int | Decimal | None,
    assets_yuan: int | Decimal | None,
    version: str | None = None,
) -> SizeAssessment:
    """Like :func:`classify`, also naming the table row and version used."""
    size_table = table(version)
    row = industry_row(industry, size_table.version)
    given: dict[Indicator, object] = {
        "employees": employees,
        "revenue": revenue_yuan,
        "assets": assets_yuan,
    }
    measures: dict[Indicator, Decimal] = {}
    for indicator in row.indicators:
        value = given[indicator]
        if value is None:
            needed = "、".join(f"{_INDICATOR_ZH[i]}（{_FIELD[i]}）" for i in row.indicators)
            raise MissingIndicator(
                f"{row.name}按{needed}划型，缺少{_INDICATOR_ZH[indicator]}（{_FIELD[indicator]}）",
                field=_FIELD[indicator],
                key="error.reference.size.missing",
                params={
                    "row": row.name,
                    "needed": needed,
                    "label": _INDICATOR_ZH[indicator],
                    "field": _FIELD[indicator],
                },
            )
        measures[indicator] = _measure(indicator, value)

    def meets(bounds: dict[Indicator, Decimal]) -> bool:
        return all(measures[i] >= bound for i, bound in bounds.items())

    for size_class in (SizeClass.LARGE, SizeClass.MEDIUM, SizeClass.SMALL):
        if meets(row.bounds(size_class)):
            return SizeAssessment(size_class, row, size_table.version)
    return SizeAssessment(SizeClass.MICRO, row, size_table.version)


def classify(
    *,
    industry: str,
    employees: int | None,
    revenue_yuan: int | Decimal | None,
    assets_yuan: int | Decimal | None,
    version: str | None = None,
) -> SizeClass:
    """Size class of an enterprise. ``industry`` is a GB/T 4754-2017 section letter or code;
    amounts are in yuan (int or Decimal, never float). Only the indicators the industry's row
    uses are required; a missing one raises :class:`MissingIndicator`."""
    return assess(
        industry=industry,
        employees=employees,
        revenue_yuan=revenue_yuan,
        assets_yuan=assets_yuan,
        version=version,
    ).size_class
