"""Rendering pages with the shared environment of :mod:`creditbridge.presentation.templating`.

``render`` returns the whole page for a normal request and only the page's ``content`` block for
an htmx request (``HX-Request``), so one template serves both a first visit and a partial swap.
Templates whose name starts with ``_`` are partials and are always rendered whole.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from functools import partial
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse

from creditbridge.core.config import Settings
from creditbridge.presentation import i18n
from creditbridge.presentation.i18n import Language
from creditbridge.presentation.templating import CONTENT_BLOCK, environment
from creditbridge.web.areas import AREAS

environment.globals.update(areas=AREAS)


def language(request: Request) -> Language:
    """The reader's language, as :class:`~creditbridge.web.i18n.LanguageMiddleware` chose it."""
    lang = i18n.coerce_language(getattr(request.state, "lang", None))
    if lang is not None:
        return lang
    settings: Settings = request.app.state.settings
    return settings.default_language


def is_htmx(request: Request) -> bool:
    # A boosted link or form (hx-boost) expects a whole page; only targeted swaps get a block.
    return (
        request.headers.get("HX-Request") == "true" and request.headers.get("HX-Boosted") != "true"
    )


def path_for(request: Request, name: str, /, **params: Any) -> str:
    """The path of a named route, without scheme and host: links keep working behind a proxy
    that rewrites the host, and pages stay the same whichever address served them."""
    root: str = request.scope.get("root_path", "")
    return root + str(request.app.url_path_for(name, **params))


def _language_url(request: Request, code: Language) -> str:
    """This page (same path and query) in another language, as a relative link."""
    url = request.url.include_query_params(lang=code)
    return f"{url.path}?{url.query}"


def page_context(request: Request) -> dict[str, Any]:
    """What every page needs besides its own data: language, translation helpers, the node."""
    lang = language(request)
    settings: Settings = request.app.state.settings
    t: Callable[..., str] = partial(i18n.translate, lang)
    return {
        "request": request,
        "lang": lang,
        "t": t,
        "label": partial(i18n.label, lang),
        "pick": partial(i18n.pick, lang),
        "percent": partial(i18n.format_percent, lang=lang),
        "settings": settings,
        "url_for": partial(path_for, request),
        "lang_url": partial(_language_url, request),
    }


def render_string(request: Request, template: str, /, **context: Any) -> str:
    """The template rendered to a string: the ``content`` block for htmx, else the whole page."""
    compiled = environment.get_template(template)
    values: dict[str, Any] = {**page_context(request), **context}
    partial_name = Path(template).name.startswith("_")
    if is_htmx(request) and not partial_name and CONTENT_BLOCK in compiled.blocks:
        block = compiled.blocks[CONTENT_BLOCK]
        return "".join(block(compiled.new_context(values)))
    return compiled.render(values)


def render(
    request: Request,
    template: str,
    /,
    *,
    status_code: int = 200,
    headers: Mapping[str, str] | None = None,
    **context: Any,
) -> HTMLResponse:
    """An HTML response for ``template`` with ``context``; see the module docstring."""
    body = render_string(request, template, **context)
    response = HTMLResponse(body, status_code=status_code, headers=headers)
    # Caches must keep the Chinese and English pages and the htmx fragments apart.
    response.headers["Vary"] = "Cookie, HX-Request"
    return response
