"""Languages of the pages: Chinese first, English second.

Every string a page shows comes from :data:`MESSAGES` (keys in English, one ``(zh, en)`` pair
each), so a translation can never be missing for one language only; the pairs live in one table
per domain (:mod:`creditbridge.presentation.messages`) and templates name them by key, using
:func:`pick` only to choose between a Chinese and an English column of the data. Labels for
the values stored in the database (update frequency, disclosure class, size class…) live there
too, under ``<group>.<value>`` keys, and fall back to the raw value when a new one appears in
the data: a page must not fail because a provider sent a code we have no label for yet.

The language is chosen (in the web shell, :mod:`creditbridge.web.i18n`) by ``?lang=zh|en`` (remembered in a cookie), then the cookie, then the
node's default. We ignore ``Accept-Language`` on purpose: this is a Chinese government service
and its pages are Chinese unless the reader asks otherwise.
"""

from __future__ import annotations

from typing import Final, Literal

from creditbridge.presentation import messages
from creditbridge.presentation.formatting import (
    format_compact,
    format_date,
    format_datetime,
    format_datetime_short,
    format_money,
    format_number,
    format_percent,
)

Language = Literal["zh", "en"]
LANGUAGES: Final[tuple[Language, ...]] = ("zh", "en")

# Every key of every domain table (messages/<domain>.py), merged below.
MESSAGES: Final[dict[str, tuple[str, str]]] = {}


def _merge(*tables: dict[str, tuple[str, str]]) -> None:
    """Add the message tables of later modules; a key defined twice is a bug, caught at import."""
    for table in tables:
        clash = MESSAGES.keys() & table.keys()
        if clash:
            raise RuntimeError(f"message keys defined twice: {sorted(clash)[:5]}")
        MESSAGES.update(table)


_merge(
    messages.COMMON,
    messages.LABELS,
    messages.HOME,
    messages.CATALOG,
    messages.INGEST,
    messages.ACCESS,
    messages.CONSENT,
    messages.AUDIT,
    messages.REPORTS,
    messages.SCORING,
    messages.MARKETPLACE,
    messages.DELIVERY,
    messages.EXCHANGE,
    messages.JOBS,
    messages.ERRORS,
    messages.INGEST_ISSUES,
)


class MissingMessage(KeyError):
    """Raised (in tests and development) when a page asks for a key the table lacks."""


def coerce_language(value: object) -> Language | None:
    if value == "zh":
        return "zh"
    if value == "en":
        return "en"
    return None


def translate(lang: Language, key: str, /, **params: object) -> str:
    """The ``lang`` text of ``key``, with ``{name}`` placeholders filled from ``params``."""
    try:
        zh, en = MESSAGES[key]
    except KeyError:
        raise MissingMessage(key) from None
    # English needs a singular ("1 dataset"); Chinese has none. A ``<key>.one`` entry supplies it.
    if params.get("n") == 1 and f"{key}.one" in MESSAGES:
        zh, en = MESSAGES[f"{key}.one"]
    text = zh if lang == "zh" else en
    return text.format(**params) if params else text


def label(lang: Language, group: str, value: object) -> str:
    """The label of a stored value (``label(lang, "frequency", "daily")``), or the value itself
    when the table has none: data may carry codes newer than this table."""
    if value is None:
        return ""
    pair = MESSAGES.get(f"{group}.{value}")
    if pair is None:
        return str(value)
    return pair[0] if lang == "zh" else pair[1]


def pick(lang: Language, zh: str | None, en: str | None) -> str:
    """Choose between a Chinese and an English column of the data; Chinese when English is blank."""
    if lang == "en" and en:
        return en
    return zh or en or ""


# Numbers, money and dates (CLDR, through Babel) live in ``formatting``; they are re-exported here
# so that callers keep writing ``i18n.format_money``.
__all__ = [
    "LANGUAGES",
    "MESSAGES",
    "Language",
    "MissingMessage",
    "coerce_language",
    "format_compact",
    "format_date",
    "format_datetime",
    "format_datetime_short",
    "format_money",
    "format_number",
    "format_percent",
    "label",
    "pick",
    "translate",
]
