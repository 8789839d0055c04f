"""Numbers, money, shares and dates as each language writes them, from CLDR (through Babel).

Chinese pages use the ``zh_Hans_CN`` locale (1,234,567 · 12.3万 · 2026年11月27日); English pages use
``en_GB`` because its dates read day first (27 Nov 2026) with a 24-hour clock, as the Chinese ones do.
Moments are stored in UTC and shown in China's time zone. ``None`` is shown as a dash everywhere, so a
template never has to test for a missing figure.

Money stays :class:`~decimal.Decimal` from the fen to the printed text: a float would lose fen on
the sums of a lending report.

Values for people (issue 23): every figure carries its unit (万元, 亿元 on cards, 家/笔/条/个),
shares and changes are percentages (+3.2%, −1.5%), durations read 3年4个月, months 2026年11月,
codes are shown by name (divisions, GB/T 4754 industries, tax credit grades, severities, update
frequencies), and a masked value is masked as a whole with its unit (***万元), never as a partial
digit string that leaks the size of an amount. Pages (Jinja filters of ``templating``), exports
and reports all use these functions.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation, localcontext
from typing import TYPE_CHECKING, Final

from babel import Locale
from babel.dates import format_date as _cldr_date
from babel.dates import format_time as _cldr_time
from babel.numbers import format_compact_decimal, format_currency, format_decimal

from creditbridge.core.clock import to_local
from creditbridge.reference import divisions, industries

if TYPE_CHECKING:
    from creditbridge.presentation.i18n import Language

MISSING: Final = "—"

_LOCALES: Final[dict[str, Locale]] = {
    "zh": Locale.parse("zh_Hans_CN"),
    "en": Locale.parse("en_GB"),
}
# CLDR's date lengths that give 2026年11月27日 and 27 Nov 2026.
_DATE_LENGTH: Final[dict[str, str]] = {"zh": "long", "en": "medium"}

_FEN_PER_WAN_YUAN: Final = Decimal(1_000_000)
_FEN_PER_YUAN: Final = Decimal(100)
_CENT: Final = Decimal("0.01")
_PRECISION: Final = 60
# Below these a count is short enough to print whole; from the second step up (亿, M) one more
# decimal is kept, as 1.23亿 is how a lending total is read out, and 1.2亿 hides 3 million.
_COMPACT_FROM: Final = 10_000
_COMPACT_FINER: Final[dict[str, int]] = {"zh": 100_000_000, "en": 1_000_000}
# Chinese counts in steps of 10⁴ (万, 亿, 万亿), English in steps of 10³ (K, M, B, T).
_COMPACT_STEP_DIGITS: Final[dict[str, int]] = {"zh": 4, "en": 3}


def _locale(lang: Language) -> Locale:
    return _LOCALES[lang]


def format_number(value: int | float | Decimal | None, lang: Language, *, digits: int = 0) -> str:
    """Grouped digits (千分位): 1,234,567, or ``digits`` decimals (rounded half up)."""
    if value is None:
        return MISSING
    pattern = "#,##0" + ("." + "0" * digits if digits > 0 else "")
    exact = value if isinstance(value, Decimal) else Decimal(str(value))
    # The default 28 significant digits would refuse a sum of fen in the trillions of yuan.
    with localcontext(prec=_PRECISION):
        rounded = exact.quantize(Decimal(1).scaleb(-digits), ROUND_HALF_UP)
        return format_decimal(rounded, format=pattern, locale=_locale(lang))


def format_compact(value: int | None, lang: Language) -> str:
    """Large counts as each language says them: 12.3万 and 1.23亿, or 12.3K and 1.23M (CLDR's short
    compact decimals); below ten thousand the whole number, grouped."""
    if value is None:
        return MISSING
    if abs(value) < _COMPACT_FROM:
        return format_number(value, lang)
    digits = 2 if abs(value) >= _COMPACT_FINER[lang] else 1
    # Babel picks the unit from the unrounded value, so 999,999 would print as 1000K: round to the
    # shown precision first, and a value that rounds up to the next unit is printed in it (1M).
    step = _COMPACT_STEP_DIGITS[lang]
    unit_digits = (len(str(abs(value))) - 1) // step * step
    quantum = Decimal(1).scaleb(unit_digits - digits)
    shown = (Decimal(value) / quantum).quantize(Decimal(1), ROUND_HALF_UP) * quantum
    return format_compact_decimal(
        shown, format_type="short", locale=_locale(lang), fraction_digits=digits
    )


def format_money(fen: int | Decimal | None, lang: Language) -> str:
    """Money held in fen: 万元 with two decimals in Chinese (how lending is reported in China), yuan
    in CLDR's currency format in English (CN¥1,234.56). Rounded half up (四舍五入)."""
    if fen is None:
        return MISSING
    with localcontext(prec=_PRECISION):
        if lang == "zh":
            wan = (Decimal(fen) / _FEN_PER_WAN_YUAN).quantize(_CENT, ROUND_HALF_UP)
            return format_decimal(wan, format="#,##0.00", locale=_locale(lang)) + "万元"
        yuan = (Decimal(fen) / _FEN_PER_YUAN).quantize(_CENT, ROUND_HALF_UP)
        return format_currency(yuan, "CNY", locale=_locale(lang))


def format_percent(part: int, whole: int, lang: Language) -> str:
    """``part`` as a share of ``whole`` with one decimal: 33.3%; a dash when ``whole`` is 0."""
    if whole == 0:
        return MISSING
    # Half up, as ECharts rounds the same shares on the chart next to the table.
    with localcontext(prec=_PRECISION):
        share = (Decimal(part) / Decimal(whole)).quantize(Decimal("0.001"), ROUND_HALF_UP)
        return format_decimal(share * 100, format="#,##0.0", locale=_locale(lang)) + "%"


def format_date(value: date | datetime | None, lang: Language) -> str:
    """2026年11月27日 / 27 Nov 2026. A datetime is first moved to China's time zone."""
    if value is None:
        return MISSING
    if isinstance(value, datetime):
        value = to_local(value).date()
    return _cldr_date(value, _DATE_LENGTH[lang], locale=_locale(lang))


def format_datetime(value: datetime | None, lang: Language) -> str:
    """A stored UTC moment shown in Asia/Shanghai: 2026年11月27日 14:05 / 27 Nov 2026 14:05."""
    if value is None:
        return MISSING
    local = to_local(value)
    time = _cldr_time(local.time(), "short", locale=_locale(lang))
    return f"{format_date(local.date(), lang)} {time}"


def format_datetime_short(value: datetime | None, lang: Language) -> str:
    """For table cells: 2026-11-27 14:05 in Asia/Shanghai (the same in both languages)."""
    if value is None:
        return MISSING
    return f"{to_local(value):%Y-%m-%d %H:%M}"


# ------------------------------------------------------------------ values for people

_FEN_PER_YI_YUAN: Final = Decimal(10_000_000_000)
MINUS: Final = "\u2212"
"""The minus sign of a signed change (−1.5%), as typeset; a hyphen would read as a dash."""
MASK: Final = "***"
"""A masked value, whatever its length: the mask must not leak how many digits an amount has."""


def _decimal(value: int | float | Decimal | str | None) -> Decimal | None:
    if value is None or value == "":
        return None
    if isinstance(value, Decimal):
        return value
    try:
        return Decimal(str(value))
    except InvalidOperation:
        return None


def format_money_card(fen: int | Decimal | None, lang: Language) -> str:
    """Money for a headline card: 亿元 (two decimals) from one hundred million yuan up, else as
    :func:`format_money` (万元); English in CLDR's compact form (CN¥1.23B)."""
    if fen is None:
        return MISSING
    with localcontext(prec=_PRECISION):
        if lang == "zh":
            if abs(Decimal(fen)) < _FEN_PER_YI_YUAN:
                return format_money(fen, lang)
            yi = (Decimal(fen) / _FEN_PER_YI_YUAN).quantize(_CENT, ROUND_HALF_UP)
            return format_decimal(yi, format="#,##0.00", locale=_locale(lang)) + "亿元"
        yuan = int((Decimal(fen) / _FEN_PER_YUAN).to_integral_value(ROUND_HALF_UP))
    if abs(yuan) < _COMPACT_FROM:
        return format_money(fen, lang)
    sign = "-" if yuan < 0 else ""
    return f"{sign}CN¥{format_compact(abs(yuan), lang)}"


def format_wan_yuan(
    value: int | float | Decimal | str | None, lang: Language, *, card: bool = False
) -> str:
    """An amount already held in 万元 (catalog fields, scoring indicators, product limits):
    1,234.50万元; on a card, 1.23亿元 from 10,000万元 up. English in yuan."""
    amount = _decimal(value)
    if amount is None:
        return MISSING
    with localcontext(prec=_PRECISION):
        fen = amount * _FEN_PER_WAN_YUAN
    return format_money_card(fen, lang) if card else format_money(fen, lang)


# Units of counts in English (Chinese measure words have no plural; English needs a noun).
_COUNT_UNITS_EN: Final[dict[str, tuple[str, str]]] = {
    "家": ("enterprise", "enterprises"),
    "笔": ("item", "items"),
    "条": ("record", "records"),
    "个": ("item", "items"),
    "人": ("person", "persons"),
    "项": ("item", "items"),
    "件": ("case", "cases"),
    "次": ("time", "times"),
    "户": ("account", "accounts"),
}


def format_count(
    value: int | None,
    unit: str,
    lang: Language,
    *,
    noun_en: str | None = None,
    compact: bool = False,
) -> str:
    """A count with its measure word: 1,234 家, 56 笔, 12.3万条 (``compact``); English with a
    noun (``noun_en`` as the plural, e.g. "loans", else a neutral one for the unit)."""
    if value is None:
        return MISSING
    number = format_compact(value, lang) if compact else format_number(value, lang)
    if lang == "zh":
        return f"{number}{unit}" if compact and abs(value) >= _COMPACT_FROM else f"{number} {unit}"
    one, many = _COUNT_UNITS_EN.get(unit, ("", ""))
    if noun_en:
        many = noun_en
        one = noun_en[:-1] if noun_en.endswith("s") and value == 1 else noun_en
    noun = one if value == 1 else many
    return f"{number} {noun}" if noun else number


def format_ratio(
    value: int | float | Decimal | str | None,
    lang: Language,
    *,
    signed: bool = False,
    digits: int = 1,
) -> str:
    """A fraction as a percentage: 0.853 → 85.3%; ``signed`` for a change (+3.2%, −1.5%, 0.0%)."""
    fraction = _decimal(value)
    if fraction is None:
        return MISSING
    with localcontext(prec=_PRECISION):
        percent = (fraction * 100).quantize(Decimal(1).scaleb(-digits), ROUND_HALF_UP)
    text = format_number(abs(percent), lang, digits=digits) + "%"
    if percent < 0:
        return MINUS + text
    if signed and percent > 0:
        return "+" + text
    return text


def format_change(
    new: int | float | Decimal | None, old: int | float | Decimal | None, lang: Language
) -> str:
    """The signed relative change from ``old`` to ``new`` (+3.2%); a dash when ``old`` is 0."""
    a, b = _decimal(new), _decimal(old)
    if a is None or b is None or b == 0:
        return MISSING
    with localcontext(prec=_PRECISION):
        return format_ratio((a - b) / abs(b), lang, signed=True)


def months_between(start: date, end: date) -> int:
    """Whole months from ``start`` to ``end`` (a month is complete on the same day of the month;
    negative when ``end`` is earlier)."""
    if end < start:
        return -months_between(end, start)
    months = (end.year - start.year) * 12 + end.month - start.month
    if end.day < start.day:
        months -= 1
    return months


def format_loan_term(months: int | str | None, lang: Language) -> str:
    """A loan's term as lenders quote it, always in months: 12个月, 36个月 (not 1年, 3年 — a
    duration reads as an age; a term is compared in months across products). A term as typed
    in a form (text) is shown as typed unless it is a whole number."""
    if months is None or months == "":
        return MISSING
    if isinstance(months, str):
        if not months.strip().isdigit():
            return months
        months = int(months.strip())
    if lang == "zh":
        return f"{format_number(months, lang)}个月"
    return f"{format_number(months, lang)} month" + ("" if months == 1 else "s")


def format_duration(months: int | float | Decimal | None, lang: Language) -> str:
    """A length of time as people say it: 3年4个月, 3年, 4个月, 不足1个月; 3 yr 4 mo in English.
    Fractions of a month are dropped (an enterprise is 3年 old until its fourth birthday)."""
    amount = _decimal(months)
    if amount is None:
        return MISSING
    whole = int(amount)
    sign = MINUS if whole < 0 else ""
    years, rest = divmod(abs(whole), 12)
    if years == 0 and rest == 0:
        return "不足1个月" if lang == "zh" else "under 1 month"
    if lang == "zh":
        parts = ([f"{years}年"] if years else []) + ([f"{rest}个月"] if rest else [])
        return sign + "".join(parts)
    en = ([f"{years} yr"] if years else []) + ([f"{rest} mo"] if rest else [])
    return sign + " ".join(en)


def format_duration_between(
    start: date | datetime | None, end: date | datetime | None, lang: Language
) -> str:
    """The time from ``start`` to ``end`` as :func:`format_duration` writes it."""
    if start is None or end is None:
        return MISSING
    a = to_local(start).date() if isinstance(start, datetime) else start
    b = to_local(end).date() if isinstance(end, datetime) else end
    return format_duration(months_between(a, b), lang)


def format_years(years: int | float | Decimal | str | None, lang: Language) -> str:
    """A number of years (3.4) as a duration: 3年4个月."""
    amount = _decimal(years)
    if amount is None:
        return MISSING
    # Truncated, as an age is: 3.99 years is 3年11个月.
    with localcontext(prec=_PRECISION):
        return format_duration(int(amount * 12), lang)


_MONTH_TEXT: Final = re.compile(r"^(\d{4})-?(\d{2})(?:-\d{2})?$")


def format_month(value: date | datetime | str | None, lang: Language) -> str:
    """A month: 2026年11月 / Nov 2026, from a date or a ``2026-11``/``202611`` period."""
    if value is None or value == "":
        return MISSING
    if isinstance(value, datetime):
        value = to_local(value).date()
    if isinstance(value, str):
        match = _MONTH_TEXT.match(value.strip())
        if match is None or not 1 <= int(match.group(2)) <= 12:
            return value
        value = date(int(match.group(1)), int(match.group(2)), 1)
    if lang == "zh":
        return f"{value.year}年{value.month}月"
    return _cldr_date(value, "MMM y", locale=_locale(lang))


def format_division(code: str | None, lang: Language, *, full: bool = False) -> str:
    """An administrative division (GB/T 2260) by name: 合肥市, or 安徽省合肥市蜀山区 with
    ``full``; an unknown code is shown as given. The names have no English form in the
    reference, so English pages show the Chinese name too."""
    del lang  # one name for both languages (see above)
    if not code:
        return MISSING
    found = divisions.get(code)
    if found is None:
        return code
    if not full:
        return found.name
    return "".join(d.name for d in divisions.parent_chain(code)) or found.name


def format_industry(code: str | None, lang: Language) -> str:
    """A GB/T 4754 industry by name: the division's name for a 2–4 digit code (C3511 → 专用设备
    制造业), the section's for a letter (C → 制造业); an unknown code as given."""
    if not code:
        return MISSING
    try:
        letter, digits = industries.parse(code)
    except ValueError:
        return code
    if digits:
        found_division = industries.division(digits[:2])
        if found_division is not None:
            return found_division.name_zh if lang == "zh" else found_division.name_en
    found_section = industries.section(letter)
    if found_section is None:
        return code
    return found_section.name_zh if lang == "zh" else found_section.name_en


TAX_GRADES: Final[tuple[str, ...]] = ("A", "B", "M", "C", "D")
"""纳税信用级别 (国家税务总局公告2014年第40号, M added by 2018年第8号), best first."""
_TAX_GRADE_BY_POINTS: Final[dict[int, str]] = {4: "A", 3: "B", 2: "M", 1: "C", 0: "D"}
"""Scoring holds the grade as points (A=4 … D=0, scoring/data/indicators-v1.yaml)."""


def tax_grade(value: object) -> str | None:
    """The grade letter of a letter (any case) or of scoring's points (4 → A … 0 → D)."""
    if isinstance(value, str):
        letter = value.strip().upper()
        return letter if letter in TAX_GRADES else None
    if (
        isinstance(value, int | float | Decimal)
        and not isinstance(value, bool)
        and value == int(value)
    ):
        return _TAX_GRADE_BY_POINTS.get(int(value))
    return None


def format_tax_grade(value: object, lang: Language) -> str:
    """纳税信用 A 级 as a page says it: "A级" / "Grade A" (never "4" or "0 级")."""
    letter = tax_grade(value)
    if letter is None:
        return MISSING if value is None or value == "" else str(value)
    return f"{letter}级" if lang == "zh" else f"Grade {letter}"


_SEVERITIES: Final[dict[str, tuple[str, str]]] = {
    "minor": ("轻微", "Minor"),
    "general": ("一般", "General"),
    "serious": ("严重", "Serious"),
}
_SEVERITY_BY_POINTS: Final[dict[int, str]] = {1: "minor", 3: "general", 10: "serious"}
_FREQUENCIES: Final[dict[str, tuple[str, str]]] = {
    "realtime": ("实时", "Real time"),
    "daily": ("每日", "Daily"),
    "weekly": ("每周", "Weekly"),
    "monthly": ("每月", "Monthly"),
    "quarterly": ("每季度", "Quarterly"),
    "yearly": ("每年", "Yearly"),
    "on_change": ("变更时", "On change"),
}


def _enum(table: dict[str, tuple[str, str]], value: object, lang: Language) -> str:
    if value is None or value == "":
        return MISSING
    pair = table.get(str(value))
    if pair is None:
        return str(value)  # a code newer than this table: shown, never an error
    return pair[0] if lang == "zh" else pair[1]


def format_severity(value: object, lang: Language) -> str:
    """Severity of dishonest conduct by name: minor → 轻微, general → 一般, serious → 严重 (or
    scoring's weights 1/3/10)."""
    if isinstance(value, int) and not isinstance(value, bool):
        value = _SEVERITY_BY_POINTS.get(value, value)
    return _enum(_SEVERITIES, value, lang)


def format_frequency(value: object, lang: Language) -> str:
    """A catalog update frequency by name: monthly → 每月."""
    return _enum(_FREQUENCIES, value, lang)


# Units of masked values: what a reader is told the hidden value is.
_MASK_UNITS: Final[dict[str, tuple[str, str]]] = {
    "fen": ("万元", " CNY"),
    "yuan": ("万元", " CNY"),  # amounts are shown in 万元 whatever unit they are held in
    "wan_yuan": ("万元", " CNY"),
    "person": ("人", " persons"),
    "month": ("个月", " months"),
    "day": ("天", " days"),
    "item": ("项", " items"),
    "kwh": ("千瓦时", " kWh"),
    "m3": ("立方米", " m³"),
    "m2": ("平方米", " m²"),
    "tonne": ("吨", " t"),
    "percent": ("%", "%"),
}
FIGURE_TYPES: Final = frozenset({"amount", "integer", "decimal"})
"""Catalog field types that hold a figure: masked, they are hidden whole (see format_masked)."""


def is_masked(value: object) -> bool:
    """Whether a shown value is the output of a masking rule (protection/catalog's ``*``)."""
    return isinstance(value, str) and "*" in value


def format_masked(unit: str | None, lang: Language) -> str:
    """A masked value as a whole, with its unit: ***万元. The partial masks that suit names and
    identity numbers (张*, 3401**********1234) would show an amount's first and last digits and
    its length ("26******78"), which together give its size: a figure is all hidden."""
    if not unit:
        return MASK
    zh, en = _MASK_UNITS.get(unit, (unit, " " + unit))
    return MASK + (zh if lang == "zh" else en)


def format_masked_figure(
    field_type: str | None, unit: str | None, value: object, lang: Language
) -> str | None:
    """``***万元`` when ``value`` is a masked figure (a catalog field of a figure type that a
    masking rule has starred), else ``None`` so the caller formats the value as usual. Masked
    text fields (names, identity numbers) keep their partial mask: that is what GB/T 35273 asks."""
    if field_type not in FIGURE_TYPES or not is_masked(value):
        return None
    return format_masked(unit, lang)


def format_indicator(code: str, unit: str, value: float | Decimal | None, lang: Language) -> str:
    """A scoring indicator's value with its unit, as people read it: 3年4个月, 1,234.50万元,
    85.3% (+3.2% for a trend), A级, 12 件, 14 分."""
    if value is None:
        return MISSING
    if unit.startswith("级"):
        return format_tax_grade(value, lang)
    if unit == "比例":
        return format_ratio(value, lang, signed=code.endswith("_trend"))
    if unit == "万元":
        return format_wan_yuan(value, lang)
    if unit == "年":
        return format_years(value, lang)
    if unit == "月":
        return format_duration(value, lang)
    if unit.startswith("分"):
        points = format_number(value, lang, digits=0 if float(value) == int(value) else 1)
        return f"{points} 分" if lang == "zh" else f"{points} points"
    if unit in _COUNT_UNITS_EN:
        number = _decimal(value)
        if number is not None and number == number.to_integral_value():
            return format_count(int(number), unit, lang)
        digits = format_number(value, lang, digits=1)
        return f"{digits} {unit}" if lang == "zh" else digits
    return f"{format_number(value, lang, digits=2)} {unit}".strip()


def format_rate_bp(bp: int | Decimal | None, lang: Language) -> str:
    """An interest rate held in basis points as a percentage with two decimals: 435 → 4.35%
    (how a loan rate is quoted; one decimal would round 4.35% and 4.30% together)."""
    if bp is None:
        return MISSING
    with localcontext(prec=_PRECISION):
        return format_ratio(Decimal(bp) / 10_000, lang, digits=2)


def format_hours(hours: int | float | Decimal | None, lang: Language) -> str:
    """A length of time in hours, to one decimal: 26.5 小时 / 26.5 h."""
    if hours is None:
        return MISSING
    number = format_number(hours, lang, digits=1)
    return f"{number} 小时" if lang == "zh" else f"{number} h"


_YES_NO: Final[dict[bool, tuple[str, str]]] = {True: ("是", "Yes"), False: ("否", "No")}


def format_bool(value: bool | None, lang: Language) -> str:
    """是 / 否 (Yes / No): a stored boolean is never shown as True or False."""
    if value is None:
        return MISSING
    zh, en = _YES_NO[bool(value)]
    return zh if lang == "zh" else en


# Catalog amounts in the unit they are held in, as fen (money is shown in 万元 whatever it is held in).
_FEN_PER_UNIT: Final[dict[str, Decimal]] = {"yuan": _FEN_PER_YUAN, "wan_yuan": _FEN_PER_WAN_YUAN}
_ISO_DAY: Final = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_ISO_MOMENT: Final = re.compile(r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}")


def _moment(text: str) -> datetime | date | None:
    """A date or a moment written in ISO 8601 (as JSON carries them), else ``None``. A moment
    without a zone is taken as UTC, as every stored moment is."""
    try:
        if _ISO_MOMENT.match(text):
            return datetime.fromisoformat(text.replace("Z", "+00:00"))
        if _ISO_DAY.match(text):
            return date.fromisoformat(text)
    except ValueError:
        return None
    return None


def _show_moment(value: date, lang: Language) -> str:
    if isinstance(value, datetime):
        return format_datetime(value if value.tzinfo else value.replace(tzinfo=UTC), lang)
    return format_date(value, lang)


def format_field_value(
    value: object,
    field_type: str | None,
    unit: str | None,
    lang: Language,
    *,
    enum_labels: dict[str, str] | None = None,
) -> str:
    """A value of a catalog field (a delivered record, as read under a consent) for people: amounts
    in 万元, dates and months in Chinese form, divisions and industries by name, booleans as 是/否,
    enum codes by their label, quantities with their unit; a masked figure as ***万元. What cannot
    be read as its type is shown as stored: a page must not fail on an odd row."""
    if value is None or value == "":
        return MISSING
    if isinstance(value, bool):
        return format_bool(value, lang)
    masked = format_masked_figure(field_type, unit, value, lang)
    if masked is not None:
        return masked
    text = str(value)
    if is_masked(text):
        return text  # a name or an identity number keeps its partial mask (GB/T 35273)
    if field_type == "amount" and unit in _FEN_PER_UNIT:
        amount = _decimal(text)
        if amount is None:
            return text
        with localcontext(prec=_PRECISION):
            return format_money(amount * _FEN_PER_UNIT[unit], lang)
    if field_type == "date":
        moment = value if isinstance(value, date) else _moment(text[:10])
        return format_date(moment, lang) if moment is not None else text
    if field_type == "period":
        return format_month(value if isinstance(value, date) else text, lang)
    if field_type == "division_code":
        return format_division(text, lang)
    if field_type == "industry_code":
        return format_industry(text, lang)
    if field_type == "boolean":
        flag = {"true": True, "1": True, "false": False, "0": False}.get(text.lower())
        return format_bool(flag, lang) if flag is not None else text
    if field_type == "enum":
        label = (enum_labels or {}).get(text)
        return label if label and lang == "zh" else text
    if field_type in ("integer", "decimal"):
        number = _decimal(text)
        if number is None:
            return text
        exponent = number.as_tuple().exponent
        # As many decimals as were delivered (up to 4): 12.5 吨 stays 12.5, never 12.50 or 13.
        digits = min(-exponent, 4) if isinstance(exponent, int) and exponent < 0 else 0
        shown = format_number(number, lang, digits=digits)
        if unit == "percent":
            return shown + "%"
        if unit in _MASK_UNITS:
            zh, en = _MASK_UNITS[unit]
            return f"{shown} {zh}" if lang == "zh" else shown + en
        return shown
    return text


# Detail keys whose figures are money (fen), rates (basis points) or counts.
_COUNT_KEYS: Final = re.compile(r"(^|_)(count|rows|records|total|uses|n)$")


def format_detail_value(value: object, key: str, lang: Language) -> str:
    """One value of an audit event's detail for people: moments in Beijing time in Chinese form
    (JSON carries them as ISO 8601 text), amounts in 万元 (``*_fen``), rates (``*_bp``), counts
    grouped, booleans as 是/否, lists joined with 、. Codes and identifiers are shown as stored:
    an auditor searches by them."""
    if value is None or value == "":
        return MISSING
    if isinstance(value, bool):
        return format_bool(value, lang)
    if isinstance(value, list | tuple):
        return "、".join(format_detail_value(item, key, lang) for item in value) or MISSING
    if isinstance(value, date):
        return _show_moment(value, lang)
    if isinstance(value, int | Decimal) or (isinstance(value, float) and value.is_integer()):
        if key.endswith("_fen"):
            return format_money(int(value), lang)
        if key.endswith("_bp"):
            return format_rate_bp(int(value), lang)
        if _COUNT_KEYS.search(key):
            return format_number(value, lang)
        return str(value)
    if isinstance(value, str):
        moment = _moment(value)
        if moment is not None:
            return _show_moment(moment, lang)
    return str(value)
