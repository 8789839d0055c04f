"""Choosing the reader's language for each request; the tables and formatters themselves live in
:mod:`creditbridge.presentation.i18n` (reports and scoring render documents with them too).

The language is chosen by ``?lang=zh|en`` (remembered in a cookie), then the cookie, then the
node's default. We ignore ``Accept-Language`` on purpose: this is a Chinese government service
and its pages are Chinese unless the reader asks otherwise.
"""

from __future__ import annotations

from http.cookies import SimpleCookie
from typing import Final
from urllib.parse import parse_qs

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from creditbridge.presentation.i18n import Language, coerce_language

COOKIE_NAME: Final = "cb_lang"
COOKIE_MAX_AGE: Final = 365 * 24 * 3600


# --- Choosing the language -------------------------------------------------------------------


class LanguageMiddleware:
    """Puts the reader's language in ``request.state.lang`` and remembers an explicit
    ``?lang=`` in a cookie, so that every page, error page included, speaks the same language."""

    def __init__(self, app: ASGIApp, *, default: Language = "zh") -> None:
        self.app = app
        self.default = default

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
        asked = coerce_language((query.get("lang") or [None])[-1])
        remembered = coerce_language(_cookie(scope, COOKIE_NAME))
        lang = asked or remembered or self.default
        scope.setdefault("state", {})["lang"] = lang
        if asked is None or asked == remembered:
            await self.app(scope, receive, send)
            return

        async def send_with_cookie(message: Message) -> None:
            if message["type"] == "http.response.start":
                cookie = (
                    f"{COOKIE_NAME}={asked}; Path=/; Max-Age={COOKIE_MAX_AGE}; SameSite=Lax"
                ).encode("latin-1")
                message.setdefault("headers", []).append((b"set-cookie", cookie))
            await send(message)

        await self.app(scope, receive, send_with_cookie)


def _cookie(scope: Scope, name: str) -> str | None:
    for key, value in scope.get("headers", []):
        if key == b"cookie":
            jar: SimpleCookie = SimpleCookie()
            try:
                jar.load(value.decode("latin-1"))
            except Exception:  # a malformed cookie header must not break the page
                return None
            morsel = jar.get(name)
            if morsel is not None:
                return morsel.value
    return None
