"""The one Jinja2 environment over the package templates, with the formatting filters.

Pages (the web shell), signed credit reports (PDF/HTML) and scoring's validation reports all render
through it, so a figure or a date looks the same on screen and on paper.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any, Final

import jinja2

from creditbridge import __version__
from creditbridge.presentation import formatting, i18n, listing
from creditbridge.presentation.errors import Explained, explain
from creditbridge.presentation.i18n import Language

TEMPLATES_DIR: Final = Path(__file__).parent / "templates"
# Stylesheets, scripts and the vendored front-end libraries: served under /static by the web shell,
# read from disk by the PDF renderer and the self-contained validation report.
STATIC_DIR: Final = Path(__file__).parent / "static"
CONTENT_BLOCK: Final = "content"

environment = jinja2.Environment(
    loader=jinja2.FileSystemLoader(TEMPLATES_DIR),
    autoescape=jinja2.select_autoescape(["html", "xml"]),
    # An undefined name in a template is a bug; fail the test instead of printing nothing.
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
    auto_reload=False,
)


def _lang(context: jinja2.runtime.Context) -> Language:
    lang: Language = context["lang"]
    return lang


@jinja2.pass_context
def _number(
    context: jinja2.runtime.Context, value: int | float | Decimal | None, digits: int = 0
) -> str:
    return i18n.format_number(value, _lang(context), digits=digits)


@jinja2.pass_context
def _compact(context: jinja2.runtime.Context, value: int | None) -> str:
    return i18n.format_compact(value, _lang(context))


@jinja2.pass_context
def _money(context: jinja2.runtime.Context, fen: int | Decimal | None) -> str:
    return i18n.format_money(fen, _lang(context))


@jinja2.pass_context
def _date(context: jinja2.runtime.Context, value: Any) -> str:
    return i18n.format_date(value, _lang(context))


@jinja2.pass_context
def _datetime(context: jinja2.runtime.Context, value: Any) -> str:
    return i18n.format_datetime(value, _lang(context))


@jinja2.pass_context
def _datetime_short(context: jinja2.runtime.Context, value: Any) -> str:
    return i18n.format_datetime_short(value, _lang(context))


def _with_lang(func: Any) -> Any:
    """A formatting function ``f(value, *args, lang, **kw)`` as a filter that takes the page's
    language from the template context; its keyword-only options are given by name in the
    template (``ratio(signed=true)``, ``division(full=true)``)."""

    @jinja2.pass_context
    def _filter(context: jinja2.runtime.Context, value: Any, *args: Any, **kwargs: Any) -> str:
        result: str = func(value, *args, _lang(context), **kwargs)
        return result

    _filter.__doc__ = func.__doc__
    return _filter


@jinja2.pass_context
def _masked_figure(
    context: jinja2.runtime.Context, field_type: str | None, unit: str | None, value: Any
) -> str | None:
    return formatting.format_masked_figure(field_type, unit, value, _lang(context))


@jinja2.pass_context
def _indicator(context: jinja2.runtime.Context, value: Any, code: str, unit: str) -> str:
    return formatting.format_indicator(code, unit, value, _lang(context))


@jinja2.pass_context
def _explain(context: jinja2.runtime.Context, item: Explained) -> str:
    """An error or an issue (of a request, of a delivered row) in the page's language."""
    return explain(_lang(context), item)


environment.filters.update(
    number=_number,
    compact=_compact,
    money=_money,
    date=_date,
    datetime=_datetime,
    datetime_short=_datetime_short,
    explain=_explain,
    # Values for people (formatting.py): {{ fen|money_card }} {{ n|with_unit('家') }}
    # {{ 0.032|ratio(signed=true) }} {{ months|duration }} {{ term|loan_term }} {{ d|month }} {{ code|division }}
    # {{ code|industry }} {{ 'A'|tax_grade }} {{ 'minor'|severity }} {{ 'monthly'|frequency }}
    # {{ 'wan_yuan'|masked }} {{ value|indicator(code, unit) }}
    money_card=_with_lang(formatting.format_money_card),
    wan_yuan=_with_lang(formatting.format_wan_yuan),
    # with_unit, not 'count': that is Jinja's own alias of length
    with_unit=_with_lang(formatting.format_count),
    ratio=_with_lang(formatting.format_ratio),
    change=_with_lang(formatting.format_change),
    duration=_with_lang(formatting.format_duration),
    loan_term=_with_lang(formatting.format_loan_term),
    duration_between=_with_lang(formatting.format_duration_between),
    years=_with_lang(formatting.format_years),
    month=_with_lang(formatting.format_month),
    division=_with_lang(formatting.format_division),
    industry=_with_lang(formatting.format_industry),
    tax_grade=_with_lang(formatting.format_tax_grade),
    severity=_with_lang(formatting.format_severity),
    frequency=_with_lang(formatting.format_frequency),
    masked=_with_lang(formatting.format_masked),
    indicator=_indicator,
    # {{ bp|rate_bp }} {{ h|hours }} {{ flag|yes_no }} {{ v|field_value(f.type, f.unit) }}
    # {{ value|detail_value(key) }}
    rate_bp=_with_lang(formatting.format_rate_bp),
    hours=_with_lang(formatting.format_hours),
    yes_no=_with_lang(formatting.format_bool),
    field_value=_with_lang(formatting.format_field_value),
    detail_value=_with_lang(formatting.format_detail_value),
)


def _current_sort(params: Any) -> listing.Sort | None:
    """The sort a list link carries, as written (any column): only used to mark and toggle the
    header of that column; the handler whitelists it before it reaches a query."""
    value = params.get(listing.SORT_PARAM) if params is not None else None
    if not isinstance(value, str) or not value.removeprefix(listing.DESCENDING_PREFIX):
        return None
    return listing.Sort(
        value.removeprefix(listing.DESCENDING_PREFIX),
        value.startswith(listing.DESCENDING_PREFIX),
    )


environment.globals.update(
    version=__version__,
    # Links of the list widgets (components/ui.html) that keep the other query parameters.
    query_string=listing.query_string,
    with_query=listing.with_query,
    sort_link=listing.sort_link,
    page_link=listing.page_link,
    export_link=listing.export_link,
    current_sort=_current_sort,
    # {{ masked_figure(f.type, f.unit, value) or show(f, value) }}: a masked amount as ***万元.
    masked_figure=_masked_figure,
    list_sizes=listing.SIZES,
)
