"""Pure rules of the shared-data list: the vocabularies a catalog file may use, their Chinese
labels, field masking (GB/T 35273 §7.3-style display masks) and publication-period arithmetic.

No I/O, no SQLAlchemy: the file schema, the loader, the ingest validators and the pages all read
these tables, so a new field type or unit is added here once.
"""

from __future__ import annotations

import calendar
import re
from datetime import date
from enum import StrEnum
from typing import Final

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
