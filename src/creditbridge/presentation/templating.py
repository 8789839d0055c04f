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
from creditbridge.presentation import i18n
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
)
environment.globals.update(version=__version__)
