"""Reading rendered pages in tests without a browser."""

from __future__ import annotations

import json
import re
from html import unescape
from html.parser import HTMLParser
from typing import Any


def stat_value(page: str, testid: str) -> int:
    """The number a dashboard figure card shows (its ``data-value``)."""
    match = re.search(
        rf'data-testid="{re.escape(testid)}".*?data-value="(\d+)"', page, flags=re.DOTALL
    )
    assert match, f"no figure {testid} on the page"
    return int(match.group(1))


def json_block(page: str, element_id: str) -> Any:
    match = re.search(
        rf'<script type="application/json" id="{re.escape(element_id)}">(.*?)</script>',
        page,
        flags=re.DOTALL,
    )
    assert match, f"no JSON block #{element_id}"
    return json.loads(unescape(match.group(1)))


class _Collector(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.scripts: list[dict[str, str | None]] = []
        self.styled: list[str] = []
        self.handlers: list[str] = []
        self.urls: list[str] = []
        self.text: list[str] = []
        self.tables: dict[str, list[list[str]]] = {}
        self._table: str | None = None
        self._row: list[str] | None = None
        self._cell: list[str] | None = None
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        named = dict(attrs)
        if tag == "script":
            self.scripts.append(named)
            self._skip += 1
        if tag == "style":
            self._skip += 1
        if "style" in named:
            self.styled.append(tag)
        self.handlers += [name for name in named if name.startswith("on")]
        for attribute in ("src", "href", "action"):
            if named.get(attribute):
                self.urls.append(str(named[attribute]))
        if tag == "table" and named.get("data-testid"):
            self._table = str(named["data-testid"])
            self.tables[self._table] = []
        if tag == "tr" and self._table:
            self._row = []
        if tag in ("td", "th") and self._row is not None:
            self._cell = []

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style"):
            self._skip -= 1
        if tag in ("td", "th") and self._row is not None and self._cell is not None:
            self._row.append(" ".join("".join(self._cell).split()))
            self._cell = None
        if tag == "tr" and self._table and self._row is not None:
            self.tables[self._table].append(self._row)
            self._row = None
        if tag == "table":
            self._table = None

    def handle_data(self, data: str) -> None:
        if self._skip:
            return
        self.text.append(data)
        if self._cell is not None:
            self._cell.append(data)


def parse(page: str) -> _Collector:
    collector = _Collector()
    collector.feed(page)
    return collector


def table_rows(page: str, testid: str) -> list[list[str]]:
    """The body rows of the table marked ``data-testid``, as cell texts (header row dropped)."""
    rows = parse(page).tables.get(testid)
    assert rows is not None, f"no table {testid}"
    return rows[1:]


def visible_text(page: str) -> str:
    return " ".join(" ".join(parse(page).text).split())


def csrf_from(page: str) -> str:
    """The CSRF token a page's forms carry (``{{ csrf_field() }}``)."""
    match = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert match, "no CSRF field on the page"
    return unescape(match.group(1))
