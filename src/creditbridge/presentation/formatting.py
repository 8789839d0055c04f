"""Numbers, money, shares and dates as each language writes them, from CLDR (through Babel).

Chinese pages use the ``zh_Hans_CN`` locale (1,234,567 · 12.3万 · 2026年11月27日); English pages use
``en_GB`` because its dates read day first (27 Nov 2026) with a 24-hour clock, as the Chinese ones do.
Moments are stored in UTC and shown in China's time zone. ``None`` is shown as a dash everywhere, so a
template never has to test for a missing figure.

Money stays :class:`~decimal.Decimal` from the fen to the printed text: a float would lose fen on
the sums of a lending report.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal, localcontext
from typing import TYPE_CHECKING, Final

from babel import Locale
from babel.dates import format_date as _cldr_date
from babel.dates import format_time as _cldr_time
from babel.numbers import format_compact_decimal, format_currency, format_decimal

from creditbridge.core.clock import to_local

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
