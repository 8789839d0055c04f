"""Refusals and input problems told in the reader's language.

An error of :mod:`creditbridge.core.errors` keeps its Chinese ``message`` (the API's ``detail``,
the logs, the CLI); when it also carries a message ``key``, a page shows the key's text in its own
language instead. :func:`keyed` builds such an error from the key alone, so the Chinese text is
written once, in the message table, and never drifts from the English beside it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol, TypeVar

from creditbridge.core.errors import DomainError, Issue
from creditbridge.presentation.i18n import MESSAGES, Language, translate

E = TypeVar("E", bound=DomainError)


class Explained(Protocol):
    """Anything with a Chinese message that may also name it by key: an error, an
    :class:`~creditbridge.core.errors.Issue`, a row issue of a delivery."""

    @property
    def message(self) -> str: ...
    @property
    def key(self) -> str | None: ...
    @property
    def params(self) -> Mapping[str, object] | None: ...


def keyed(error: type[E], key: str, /, *, issues: list[Issue] | None = None, **params: object) -> E:
    """``error`` whose message is the Chinese text of ``key``, keeping the key and ``params`` so a
    page can show the same refusal in English: ``raise keyed(NotFound, "error.catalog.no_version",
    version=v)``."""
    return error(translate("zh", key, **params), key=key, params=params, issues=issues)


def keyed_issue(
    code: str,
    key: str,
    /,
    *,
    field: str | None = None,
    row: int | None = None,
    value: str | None = None,
    location: str | None = None,
    **params: object,
) -> Issue:
    """An :class:`Issue` whose message is the Chinese text of ``key``; ``field``, ``row``,
    ``value`` and ``location`` place it, the other arguments fill the message."""
    return Issue(
        code,
        translate("zh", key, **params),
        field=field,
        row=row,
        value=value,
        location=location,
        key=key,
        params=params,
    )


def explain(lang: Language, item: Explained) -> str:
    """The text of ``item`` in ``lang``: its key's, or its stored message when it has no key (or
    a key this version's tables no longer hold, as a report stored by an older one may)."""
    key = item.key
    if key is None or key not in MESSAGES:
        return item.message
    return translate(lang, key, **dict(item.params or {}))
