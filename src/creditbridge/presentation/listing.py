"""Lists that filter, sort and paginate: the query parameters of a list page, read and written.

Every list of the platform (open pool, inbox, products, institutions, whitelist, batches, audit
log…) reads ``page``, ``size`` and ``sort`` the same way and writes its links with the same
helper, so a sort header or a page link never drops the filters the user chose. Nothing here
touches the database: a handler parses the parameters with :func:`parse_list_query`, hands
``query.offset``/``query.size``/``query.sort`` to its service, and wraps what comes back in a
:class:`Page` for the ``pagination`` macro of ``components/ui.html``.

Bad values are not an error: a list link is something a user edits or shares, and ``?page=abc``
or ``?size=100000`` should show a sensible page, not a 422. A page is clamped to 1..``size``
bounds, and a sort on a column that is not whitelisted falls back to the default (a free column
name must never reach an ``ORDER BY``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final, Generic, TypeVar
from urllib.parse import urlencode

T = TypeVar("T")

DEFAULT_SIZE: Final = 20
MAX_SIZE: Final = 200
SIZES: Final[tuple[int, ...]] = (20, 50, 100, 200)
"""The page sizes the pagination offers (any value up to ``MAX_SIZE`` is accepted in a link)."""

PAGE_PARAM: Final = "page"
SIZE_PARAM: Final = "size"
SORT_PARAM: Final = "sort"
LIST_PARAMS: Final = frozenset({PAGE_PARAM, SIZE_PARAM, SORT_PARAM})
"""Parameters that are about the view of a list, not about which rows it holds: an export keeps
the filters but drops these."""

DESCENDING_PREFIX: Final = "-"


def _int_or(value: object, default: int) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str):
        text = value.strip()
        if text.lstrip("+-").isdigit() and text.isascii():
            return int(text)
    return default


def parse_page(value: object, *, default: int = 1) -> int:
    """The 1-based page number of ``?page=``; anything that is not a positive integer is page 1."""
    return max(1, _int_or(value, default))


def parse_size(value: object, *, default: int = DEFAULT_SIZE, maximum: int = MAX_SIZE) -> int:
    """Rows per page, between 1 and ``maximum`` (a larger value is cut to it; junk is ``default``)."""
    size = _int_or(value, default)
    if size < 1:
        return default
    return min(size, maximum)


@dataclass(frozen=True, slots=True)
class Sort:
    """A whitelisted column and a direction; written ``col`` (ascending) or ``-col`` in a link."""

    column: str
    descending: bool = False

    @property
    def token(self) -> str:
        return (DESCENDING_PREFIX if self.descending else "") + self.column

    def toggled(self, column: str) -> Sort:
        """The sort a header link for ``column`` leads to: the other direction on the current
        column, ascending on any other."""
        if column == self.column:
            return Sort(column, not self.descending)
        return Sort(column)


def parse_sort(value: object, allowed: Iterable[str], default: str | None = None) -> Sort | None:
    """``col`` or ``-col`` if ``col`` is in ``allowed``; otherwise ``default`` (same syntax), or
    ``None`` when there is none."""
    columns = frozenset(allowed)
    for candidate in (value, default):
        if not isinstance(candidate, str) or not candidate:
            continue
        descending = candidate.startswith(DESCENDING_PREFIX)
        column = candidate.removeprefix(DESCENDING_PREFIX)
        if column in columns:
            return Sort(column, descending)
    return None


def _items(params: Any) -> list[tuple[str, str]]:
    """Pairs of a query mapping; keeps repeated keys (Starlette's ``QueryParams.multi_items``)."""
    if params is None:
        return []
    multi = getattr(params, "multi_items", None)
    if callable(multi):
        return [(str(k), str(v)) for k, v in multi()]
    if isinstance(params, Mapping):
        pairs: list[tuple[str, str]] = []
        for key, value in params.items():
            if isinstance(value, list | tuple):
                pairs.extend((str(key), str(v)) for v in value)
            else:
                pairs.append((str(key), "" if value is None else str(value)))
        return pairs
    return [(str(k), str(v)) for k, v in params]


def query_string(params: Any = None, /, **changes: object) -> str:
    """``?a=1&b=2`` from ``params`` with ``changes`` applied: a change replaces every value of its
    key, ``None`` or ``""`` removes the key. Empty values of ``params`` are dropped too (a filter
    form submits blank fields), and an empty result is ``""`` (a bare path)."""
    pairs = [(k, v) for k, v in _items(params) if k not in changes and v != ""]
    for key, value in changes.items():
        if value is None or value == "":
            continue
        if isinstance(value, list | tuple):
            pairs.extend((key, str(v)) for v in value if v not in (None, ""))
        else:
            pairs.append((key, str(value)))
    return "?" + urlencode(pairs) if pairs else ""


def with_query(path: str, params: Any = None, /, **changes: object) -> str:
    """``path`` followed by :func:`query_string`."""
    return path + query_string(params, **changes)


def sort_link(params: Any, column: str, current: Sort | None = None) -> str:
    """The query string of a header link sorting on ``column`` (toggling when it is the current
    column), keeping the filters and the page size and going back to page 1."""
    sort = Sort(column) if current is None else current.toggled(column)
    return query_string(params, **{SORT_PARAM: sort.token, PAGE_PARAM: None})


def page_link(params: Any, page: int) -> str:
    """The query string of page ``page`` with everything else kept."""
    return query_string(params, **{PAGE_PARAM: page if page > 1 else None})


def export_link(path: str, params: Any, /, **extra: object) -> str:
    """``path`` with the list's filters (and its sort) but not its page and size: an export is the
    whole filtered list in the same order."""
    return with_query(path, params, **{PAGE_PARAM: None, SIZE_PARAM: None}, **extra)


@dataclass(frozen=True, slots=True)
class ListQuery:
    """A list page's view parameters and its filters (the other non-empty parameters)."""

    page: int = 1
    size: int = DEFAULT_SIZE
    sort: Sort | None = None
    filters: Mapping[str, str] = field(default_factory=dict)

    @property
    def offset(self) -> int:
        return (self.page - 1) * self.size

    @property
    def limit(self) -> int:
        return self.size

    def filter(self, name: str, default: str | None = None) -> str | None:
        """A filter's value, stripped; ``default`` when missing or blank."""
        value = self.filters.get(name, "").strip()
        return value or default


def parse_list_query(
    params: Any,
    *,
    sortable: Iterable[str] = (),
    default_sort: str | None = None,
    default_size: int = DEFAULT_SIZE,
    max_size: int = MAX_SIZE,
    filters: Iterable[str] | None = None,
) -> ListQuery:
    """Read ``page``, ``size``, ``sort`` and the filters from a request's query parameters.

    ``filters`` names the filter parameters the list knows (others are ignored); ``None`` keeps
    every non-empty parameter that is not a view parameter. A repeated filter keeps its last value.
    """
    pairs = _items(params)
    values = dict(pairs)
    known = None if filters is None else frozenset(filters)
    chosen = {
        k: v
        for k, v in pairs
        if k not in LIST_PARAMS and v.strip() and (known is None or k in known)
    }
    return ListQuery(
        page=parse_page(values.get(PAGE_PARAM)),
        size=parse_size(values.get(SIZE_PARAM), default=default_size, maximum=max_size),
        sort=parse_sort(values.get(SORT_PARAM), sortable, default_sort),
        filters=chosen,
    )


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    """One page of a list: its rows, the total number of rows matching the filters, and where it
    stands (``page`` of ``pages``; an empty list has one empty page)."""

    items: Sequence[T]
    total: int
    page: int = 1
    size: int = DEFAULT_SIZE

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.size))

    @property
    def has_previous(self) -> bool:
        return self.page > 1

    @property
    def has_next(self) -> bool:
        return self.page < self.pages

    @property
    def first_index(self) -> int:
        """1-based position of the first row shown (0 when the page is empty)."""
        return self.size * (self.page - 1) + 1 if self.items else 0

    @property
    def last_index(self) -> int:
        return self.first_index + len(self.items) - 1 if self.items else 0

    def window(self, radius: int = 2) -> list[int | None]:
        """Page numbers to link: the first, the last and ``radius`` around the current one, with
        ``None`` where numbers are skipped (shown as …)."""
        shown = sorted(
            {1, self.pages}
            | set(range(max(1, self.page - radius), min(self.pages, self.page + radius) + 1))
        )
        out: list[int | None] = []
        previous = 0
        for number in shown:
            if number - previous > 1:
                out.append(None)
            out.append(number)
            previous = number
        return out

    def map(self, func: Callable[[T], Any]) -> Page[Any]:
        """The same page with every row passed through ``func`` (rows to view models)."""
        return Page([func(item) for item in self.items], self.total, self.page, self.size)


def clamp_page(query: ListQuery, total: int) -> ListQuery:
    """``query`` moved to the last page when it asks for one past the end (a filter that narrowed
    the list, a stale link); count first, then fetch with the clamped offset."""
    last = max(1, -(-total // query.size))
    if query.page <= last:
        return query
    return ListQuery(last, query.size, query.sort, query.filters)


def paginate(items: Sequence[T], query: ListQuery) -> Page[T]:
    """A page cut from a list already in memory (small lists, already sorted)."""
    clamped = clamp_page(query, len(items))
    start = clamped.offset
    return Page(list(items[start : start + clamped.size]), len(items), clamped.page, clamped.size)
