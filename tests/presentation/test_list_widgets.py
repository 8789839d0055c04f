"""The list macros of components/ui.html: links keep the other query parameters."""

from __future__ import annotations

from functools import partial
from html.parser import HTMLParser
from types import SimpleNamespace
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest
from starlette.datastructures import URL, QueryParams

from creditbridge.presentation import i18n
from creditbridge.presentation.i18n import Language
from creditbridge.presentation.listing import Page, Sort
from creditbridge.presentation.templating import environment

_VOID = frozenset({"input", "br", "img", "meta", "link", "hr"})


class Node:
    """An element of the rendered HTML, enough to find elements by tag and attributes."""

    def __init__(self, tag: str, attrs: dict[str, str]) -> None:
        self.tag, self.attrs = tag, attrs
        self.children: list[Node | str] = []

    def __getitem__(self, name: str) -> str:
        return self.attrs[name]

    def has(self, name: str) -> bool:
        return name in self.attrs

    @property
    def classes(self) -> list[str]:
        return self.attrs.get("class", "").split()

    @property
    def text(self) -> str:
        return "".join(c if isinstance(c, str) else c.text for c in self.children).strip()

    def all(self, tag: str | None = None, **attrs: str) -> list[Node]:
        found: list[Node] = []
        for child in self.children:
            if isinstance(child, Node):
                wanted = tag in (None, child.tag) and all(
                    child.attrs.get(k.rstrip("_").replace("_", "-")) == v for k, v in attrs.items()
                )
                if wanted:
                    found.append(child)
                found.extend(child.all(tag, **attrs))
        return found

    def one(self, tag: str | None = None, **attrs: str) -> Node:
        found = self.all(tag, **attrs)
        assert len(found) == 1, (tag, attrs, len(found))
        return found[0]


class _Builder(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.root = Node("root", {})
        self.stack = [self.root]

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        node = Node(tag, {k: v or "" for k, v in attrs})
        self.stack[-1].children.append(node)
        if tag not in _VOID:
            self.stack.append(node)

    def handle_endtag(self, tag: str) -> None:
        while len(self.stack) > 1 and self.stack.pop().tag != tag:
            pass

    def handle_data(self, data: str) -> None:
        self.stack[-1].children.append(data)


def render(
    source: str,
    url: str = "/pool?region=4401&sort=-amount&page=2",
    lang: Language = "zh",
    **values: Any,
) -> Node:
    parsed = URL(url)
    request = SimpleNamespace(url=parsed, query_params=QueryParams(parsed.query))
    template = environment.from_string(
        '{% from "components/ui.html" import filter_bar, sort_header, pagination, export_button, overdue_badge with context %}'
        + source
    )
    html = template.render(
        request=request,
        lang=lang,
        t=partial(i18n.translate, lang),
        label=partial(i18n.label, lang),
        **values,
    )
    builder = _Builder()
    builder.feed(html)
    return builder.root


def query(href: str) -> dict[str, str]:
    return dict(parse_qsl(urlsplit(href).query))


def test_filter_bar_keeps_values_sort_and_size_and_offers_all() -> None:
    fields = [
        {
            "name": "region",
            "label": "地区",
            "kind": "select",
            "options": [("4401", "广州市"), ("4403", "深圳市")],
        },
        {"name": "q", "label": "名称", "placeholder": "企业名称"},
        {"name": "since", "label": "起始", "kind": "date"},
    ]
    root = render(
        "{{ filter_bar(fields) }}",
        url="/pool?region=4403&q=abc&sort=-amount&size=50&page=4",
        fields=fields,
    )
    form = root.one("form", data_testid="filter-bar")
    assert form["method"] == "get"
    options = form.one("select", name="region").all("option")
    assert [o.text for o in options] == ["全部", "广州市", "深圳市"]
    assert options[2].has("selected")
    assert not options[1].has("selected")
    text = form.one("input", name="q")
    assert text["value"] == "abc"
    assert text["placeholder"] == "企业名称"
    assert form.one("input", name="since")["type"] == "date"
    hidden = {i["name"]: i["value"] for i in form.all("input", type="hidden")}
    assert hidden == {"sort": "-amount", "size": "50"}  # page is dropped: a new filter starts at 1
    assert form.one(data_testid="filter-reset")["href"] == "/pool"
    assert {lab["for"] for lab in form.all("label")} == {
        "filter-bar-region",
        "filter-bar-q",
        "filter-bar-since",
    }


def test_sort_header_marks_the_current_column_and_toggles() -> None:
    root = render(
        "{{ sort_header('金额', 'amount') }}{{ sort_header('日期', 'created_at', class='num') }}"
    )
    amount, date = root.all("th")
    assert amount["aria-sort"] == "descending"
    assert query(amount.one("a")["href"]) == {"region": "4401", "sort": "amount"}
    assert not date.has("aria-sort")
    assert "num" in date.classes
    assert query(date.one("a")["href"]) == {"region": "4401", "sort": "created_at"}
    assert date.one("a")["href"].startswith("/pool?")


def test_sort_header_uses_the_handlers_default_sort() -> None:
    root = render(
        "{{ sort_header('日期', 'created_at', sort=s) }}", url="/pool", s=Sort("created_at", True)
    )
    th = root.one("th")
    assert th["aria-sort"] == "descending"
    assert query(th.one("a")["href"]) == {"sort": "created_at"}


@pytest.mark.parametrize(
    ("lang", "summary"), [("zh", "共 123 条 · 第 2/7 页"), ("en", "123 in all · page 2 of 7")]
)
def test_pagination_summary_and_links(lang: Language, summary: str) -> None:
    page = Page(items=list(range(20)), total=123, page=2, size=20)
    nav = render("{{ pagination(p) }}", lang=lang, p=page).one("nav", data_testid="pagination")
    assert nav["data-pages"] == "7"
    assert nav.one(data_testid="pagination-summary").text == summary
    filters = {"region": "4401", "sort": "-amount"}
    assert query(nav.one(data_testid="page-previous")["href"]) == filters
    assert query(nav.one(data_testid="page-next")["href"]) == {**filters, "page": "3"}
    assert query(nav.one(data_testid="page-7")["href"]) == {**filters, "page": "7"}
    assert nav.one(aria_current="page").text == "2"
    assert query(nav.one(data_testid="page-size-50")["href"]) == {**filters, "size": "50"}


def test_pagination_of_a_single_page_shows_only_the_count() -> None:
    root = render("{{ pagination(p) }}", p=Page(items=[1, 2], total=2))
    assert root.one(data_testid="pagination-summary").text == "共 2 条 · 第 1/1 页"
    assert root.all(class_="page-link") == []
    assert root.all("ul") == []


def test_export_button_keeps_filters_and_sort_not_the_page() -> None:
    url = "/pool?region=4401&sort=-amount&page=2&size=50"
    link = render("{{ export_button('/pool/export', format='xlsx') }}", url=url).one(
        "a", data_testid="export"
    )
    assert link.text == "导出 XLSX"
    assert link["href"].startswith("/pool/export?")
    assert query(link["href"]) == {"region": "4401", "sort": "-amount", "format": "xlsx"}


def test_overdue_badge() -> None:
    root = render(
        "{{ overdue_badge(true) }}|{{ overdue_badge(true, days=3) }}|{{ overdue_badge(false) }}|"
        "{{ overdue_badge(false, due_today=true) }}"
    )
    badges = root.all("span")
    assert [b.text for b in badges] == ["已逾期", "逾期 3 天", "今日到期"]
    assert "text-bg-danger" in badges[0].classes
    assert "text-bg-warning" in badges[2].classes
