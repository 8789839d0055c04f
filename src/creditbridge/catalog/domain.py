"""Pure rules of the shared-data list: the vocabularies a catalog file may use, their Chinese
labels, field masking (GB/T 35273 §7.3-style display masks) and publication-period arithmetic.

No I/O, no SQLAlchemy: the file schema, the loader, the ingest validators and the pages all read
these tables, so a new field type or unit is added here once.
"""

from __future__ import annotations

import calendar
import re
import unicodedata
from datetime import date
from enum import StrEnum
from typing import Final, Protocol

from creditbridge.reference import divisions, industries, uscc

CODE_PATTERN: Final = r"^[a-z][a-z0-9_]*$"
PERIOD_PATTERN: Final = r"^[0-9]{4}-(0[1-9]|1[0-2])$"
"""A monthly period as the file and the records write it: ``YYYY-MM``."""

FIELD_TYPES: Final[dict[str, str]] = {
    "string": "字符串",
    "text": "长文本",
    "integer": "整数",
    "decimal": "小数",
    "amount": "金额",
    "date": "日期",
    "period": "月份（YYYY-MM）",
    "enum": "枚举",
    "boolean": "是/否",
    "uscc": "统一社会信用代码",
    "division_code": "行政区划代码",
    "industry_code": "行业代码",
}

UNITS: Final[dict[str, str]] = {
    "yuan": "元",
    "wan_yuan": "万元",
    "person": "人",
    "month": "月",
    "day": "天",
    "item": "件",
    "kwh": "千瓦时",
    "m3": "立方米",
    "m2": "平方米",
    "tonne": "吨",
    "percent": "%",
}

UNITS_BY_TYPE: Final[dict[str, frozenset[str]]] = {
    "amount": frozenset({"yuan", "wan_yuan"}),
    "decimal": frozenset({"kwh", "m3", "m2", "tonne", "percent"}),
    "integer": frozenset({"person", "month", "day", "item"}),
}
"""Units that mean something for each type; any other type takes no unit."""

TYPES_REQUIRING_UNIT: Final = frozenset({"amount"})
"""An amount without a currency unit cannot be read; counts and quantities may be unit-less."""

EVENT_DATE_TYPES: Final = frozenset({"date", "period"})
LENGTH_TYPES: Final = frozenset({"string", "text"})
PATTERN_TYPES: Final = frozenset({"string"})

MASKING_RULES: Final[dict[str, str]] = {
    "none": "不脱敏",
    "name": "姓名（保留姓）",
    "id_number": "证件号（保留前6后4位）",
    "phone": "手机号（保留前3后4位）",
    "partial": "部分遮蔽（保留首尾各约四分之一）",
    "full": "完全遮蔽",
}

CLASSIFICATION_LEVELS: Final[dict[int, str]] = {
    1: "1级（公开）",
    2: "2级（内部）",
    3: "3级（受限）",
    4: "4级（敏感）",
    5: "5级（重要）",
}
"""JR/T 0197-2020 data security levels, 1 lowest to 5 highest."""


class DisclosureClass(StrEnum):
    """How a dataset may leave the platform (公开类别); stored as its value in the catalog."""

    PUBLIC = "public"  # 依法公开: anyone, no consent
    AUTHORIZED = "authorized"  # 授权查询: only under a consent that covers its category
    VERIFICATION_ONLY = "verification_only"  # 仅限核验: never as raw values, only yes/no answers


DISCLOSURE_CLASSES: Final[dict[str, str]] = {
    DisclosureClass.PUBLIC: "依法公开",
    DisclosureClass.AUTHORIZED: "授权查询",
    DisclosureClass.VERIFICATION_ONLY: "仅限核验",
}

PROVIDER_KINDS: Final[dict[str, str]] = {
    "department": "政府部门",
    "utility": "公共事业单位",
    "court": "人民法院",
    "self": "信用主体自主填报",
}

UPDATE_FREQUENCIES: Final[dict[str, str]] = {
    "realtime": "实时",
    "daily": "每日",
    "weekly": "每周",
    "monthly": "每月",
    "quarterly": "每季度",
    "yearly": "每年",
    "on_change": "变更时",
}

SEVERITIES: Final[dict[str, str]] = {"minor": "轻微", "general": "一般", "serious": "严重"}
"""Severity of dishonest conduct (失信行为), per 《信用修复管理办法》(国家发展改革委令第36号)."""

PUBLICATION_PERIOD_CLASSES: Final[dict[str, str]] = {
    **SEVERITIES,
    "by_severity": "按严重程度",
}


def is_code(value: str) -> bool:
    return re.fullmatch(CODE_PATTERN, value) is not None


def is_period(value: str) -> bool:
    return re.fullmatch(PERIOD_PATTERN, value) is not None


# ------------------------------------------------------------------ masking


def mask_value(rule: str, value: str) -> str:
    """The value as shown to someone not entitled to see it in full.

    ``name`` keeps the first character (the surname): 张三 → 张*. ``id_number`` keeps the first 6
    (the issuing region) and last 4 characters. ``phone`` keeps the first 3 and last 4 digits.
    ``partial`` keeps about a quarter at each end. ``full`` shows a fixed mask so that not even the
    length leaks.
    """
    if rule == "none" or not value:
        return value
    if rule == "full":
        return "******"
    if rule == "name":
        return value[0] + "*" * max(len(value) - 1, 1)
    if rule == "id_number":
        return _keep_ends(value, 6, 4)
    if rule == "phone":
        return _keep_ends(value, 3, 4)
    if rule == "partial":
        keep = max(len(value) // 4, 1)
        return _keep_ends(value, keep, keep)
    raise ValueError(f"unknown masking rule {rule!r}")


def _keep_ends(value: str, head: int, tail: int) -> str:
    if len(value) <= head + tail:
        # Too short to keep both ends and still hide something: keep only the first character.
        return value[0] + "*" * (len(value) - 1) if len(value) > 1 else "*"
    return value[:head] + "*" * (len(value) - head - tail) + value[len(value) - tail :]


# ------------------------------------------------------------------ publication periods


def add_months(start: date, months: int) -> date:
    """``start`` plus whole months; the day is clamped to the target month's last day
    (2024-01-31 + 1 month = 2024-02-29), which is how a period "of N months" ends."""
    month_index = start.month - 1 + months
    year, month = start.year + month_index // 12, month_index % 12 + 1
    return date(year, month, min(start.day, calendar.monthrange(year, month)[1]))


# ------------------------------------------------------------------ headers and upload templates


_NOT_IN_HEADER_KEY: Final = re.compile(r"[\s\u200b\ufeff]+")


def header_key(text: str) -> str:
    """How a column header is compared with a field's code, label and aliases, by the list's
    check of its aliases and by collection's readers alike: NFKC (full-width letters from Excel),
    no spaces, zero-width spaces or byte-order marks, lower case."""
    return _NOT_IN_HEADER_KEY.sub("", unicodedata.normalize("NFKC", text)).lower()


class FieldLike(Protocol):
    """What the rules over one field need of it (satisfied by ``schemas.FieldSpec``): upload
    templates here, collection's validation and readers (``ingest.domain``, ``ingest.readers``)."""

    @property
    def code(self) -> str: ...
    @property
    def label_zh(self) -> str: ...
    @property
    def type(self) -> str: ...
    @property
    def unit(self) -> str | None: ...
    @property
    def required(self) -> bool: ...
    @property
    def enum(self) -> list[str] | None: ...
    @property
    def enum_labels(self) -> dict[str, str] | None: ...
    @property
    def max_length(self) -> int | None: ...
    @property
    def pattern(self) -> str | None: ...


def template_header(spec: FieldLike) -> str:
    """A template's column header: the Chinese label, with the unit of an amount, which the
    readers understand (注册资本（万元）) and which tells the provider what to write."""
    if spec.type == "amount" and spec.unit:
        return f"{spec.label_zh}（{UNITS[spec.unit]}）"
    return spec.label_zh


EXAMPLE_DIVISION: Final = "340104"
"""合肥市蜀山区: a current county of the province the demo runs in."""
EXAMPLE_INDUSTRY: Final = "65"
"""软件和信息技术服务业 (GB/T 4754-2017 division 65, section I)."""


def _example_uscc() -> str:
    # Built, not written out, so the check characters are right by construction.
    first16 = "91" + EXAMPLE_DIVISION[:4] + "00" + "MA2TBL8K"
    first17 = first16 + uscc.org_check_character(first16[8:16])
    return first17 + uscc.check_character(first17)


EXAMPLE_USCC: Final = _example_uscc()

# Strings with a pattern get the first of these the pattern accepts (a mobile number, an ID).
_PATTERN_EXAMPLES: Final = ("13800138000", "0551-63356000", "340104199001011234", "A001", "1")
_UNTIL_WORDS: Final = ("until", "end", "expir", "due", "valid_to", "to_date")


def example_value(spec: FieldLike, *, today: date) -> str:
    """A plausible synthetic value of ``spec`` that passes collection's checks: a USCC with
    correct check characters, a division and an industry that exist, a recent date (a later one
    for an end or expiry date), the first allowed value of an enumeration. Written as text, the
    way a provider's spreadsheet cell reads; "" for a string whose pattern none of the
    examples fits."""
    kind = spec.type
    last_month = add_months(today.replace(day=1), -1)
    if kind == "uscc":
        return EXAMPLE_USCC
    if kind == "division_code":
        return EXAMPLE_DIVISION
    if kind == "industry_code":
        return EXAMPLE_INDUSTRY
    if kind == "date":
        ends = any(word in spec.code for word in _UNTIL_WORDS)
        return (add_months(last_month, 36) if ends else last_month).isoformat()
    if kind == "period":
        return last_month.strftime("%Y-%m")
    if kind == "enum":
        return (spec.enum or [""])[0]
    if kind == "boolean":
        return "是"
    if kind == "amount":
        return "500" if spec.unit == "wan_yuan" else "125000.00"
    if kind == "integer":
        return {"person": "36", "month": "12", "day": "30"}.get(spec.unit or "", "3")
    if kind == "decimal":
        return "12.5" if spec.unit == "percent" else "1280.5"
    if kind in ("string", "text"):
        if spec.pattern:
            pattern = spec.pattern
            return next((v for v in _PATTERN_EXAMPLES if re.fullmatch(pattern, v)), "")
        text = "合肥示例科技有限公司" if spec.code == "name" else f"示例{spec.label_zh}"
        return text[: spec.max_length] if spec.max_length else text
    return ""


def check_example_references() -> None:
    """The example codes still exist in the reference tables (a test calls this: a division
    abolished in a later table would make every template's example row a reject)."""
    assert divisions.is_known(EXAMPLE_DIVISION, include_historical=False)
    assert industries.is_valid(EXAMPLE_INDUSTRY)
    assert uscc.is_valid(EXAMPLE_USCC)
