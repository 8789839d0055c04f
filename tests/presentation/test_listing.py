"""List parameters (page, size, sort, filters) and the links of the list widgets."""

from __future__ import annotations

from urllib.parse import parse_qsl

import pytest
from starlette.datastructures import QueryParams

from creditbridge.presentation import listing
from creditbridge.presentation.listing import ListQuery, Page, Sort


class TestPageAndSize:
    @pytest.mark.parametrize(
        ("raw", "expected"),
        [
            (None, 1),
            ("", 1),
            ("3", 3),
            (" 4 ", 4),
            ("0", 1),
            ("-2", 1),
            ("abc", 1),
            ("2.5", 1),
            ("٣", 1),
            (7, 7),
        ],
    )
    def test_page_is_a_positive_integer_or_one(self, raw: object, expected: int) -> None:
        assert listing.parse_page(raw) == expected

    @pytest.mark.parametrize(
        ("raw", "expected"),
        [
            (None, 20),
            ("", 20),
            ("50", 50),
            ("0", 20),
            ("-5", 20),
            ("junk", 20),
            ("200", 200),
            ("100000", 200),
        ],
    )
    def test_size_defaults_to_20_and_is_capped_at_200(self, raw: object, expected: int) -> None:
        assert listing.parse_size(raw) == expected

    def test_size_bounds_can_be_narrowed_per_list(self) -> None:
        assert listing.parse_size("80", default=10, maximum=50) == 50
        assert listing.parse_size(None, default=10, maximum=50) == 10


class TestSort:
    def test_whitelisted_column_ascending_and_descending(self) -> None:
        assert listing.parse_sort("amount", {"amount", "created_at"}) == Sort("amount")
        assert listing.parse_sort("-amount", {"amount"}) == Sort("amount", descending=True)

    def test_unknown_column_falls_back_to_the_default(self) -> None:
        allowed = ("amount", "created_at")
        assert listing.parse_sort("password_hash", allowed, "-created_at") == Sort(
            "created_at", True
        )
        assert listing.parse_sort("-id; drop table x", allowed, "amount") == Sort("amount")
        assert listing.parse_sort("nope", allowed) is None
        assert listing.parse_sort(None, allowed) is None
        assert listing.parse_sort("-", allowed) is None

    def test_token_and_toggle(self) -> None:
        assert Sort("amount").token == "amount"
        assert Sort("amount", True).token == "-amount"
        assert Sort("amount").toggled("amount") == Sort("amount", True)
        assert Sort("amount", True).toggled("amount") == Sort("amount")
        assert Sort("amount", True).toggled("name") == Sort("name")


class TestQueryString:
    def test_changes_replace_keep_and_drop(self) -> None:
        params = QueryParams("region=440100&status=open&page=3&blank=")
        assert listing.query_string(params, page=4) == "?region=440100&status=open&page=4"
        assert listing.query_string(params, page=None) == "?region=440100&status=open"
        assert listing.query_string(params, status="") == "?region=440100&page=3"

    def test_repeated_keys_are_kept_and_values_encoded(self) -> None:
        params = QueryParams([("grade", "A"), ("grade", "B"), ("q", "广州 & co")])
        qs = listing.query_string(params, page=2)
        assert parse_qsl(qs[1:]) == [
            ("grade", "A"),
            ("grade", "B"),
            ("q", "广州 & co"),
            ("page", "2"),
        ]

    def test_plain_dicts_and_lists_of_values(self) -> None:
        assert listing.query_string({"a": "1", "b": None}, c=["x", "y"]) == "?a=1&c=x&c=y"
        assert listing.query_string({}) == ""
        assert listing.query_string(None) == ""
        assert listing.with_query("/pool", {"a": "1"}) == "/pool?a=1"
        assert listing.with_query("/pool", {}) == "/pool"

    def test_sort_link_toggles_and_goes_back_to_page_one(self) -> None:
        params = QueryParams("status=open&sort=amount&page=5&size=50")
        current = Sort("amount")
        assert listing.sort_link(params, "amount", current) == "?status=open&size=50&sort=-amount"
        assert (
            listing.sort_link(params, "created_at", current)
            == "?status=open&size=50&sort=created_at"
        )
        assert listing.sort_link(QueryParams(""), "amount") == "?sort=amount"

    def test_page_link_drops_page_one(self) -> None:
        params = QueryParams("status=open&page=2")
        assert listing.page_link(params, 3) == "?status=open&page=3"
        assert listing.page_link(params, 1) == "?status=open"

    def test_export_link_keeps_filters_and_sort_not_page_or_size(self) -> None:
        params = QueryParams("status=open&sort=-amount&page=2&size=50")
        assert listing.export_link("/x.csv", params) == "/x.csv?status=open&sort=-amount"
        assert (
            listing.export_link("/x", params, format="xlsx")
            == "/x?status=open&sort=-amount&format=xlsx"
        )


class TestListQuery:
    def test_parses_view_params_and_filters(self) -> None:
        q = listing.parse_list_query(
            QueryParams("page=3&size=50&sort=-amount&region=4401&status=&evil=1"),
            sortable=("amount",),
            default_sort="-created_at",
            filters=("region", "status"),
        )
        assert (q.page, q.size, q.sort) == (3, 50, Sort("amount", True))
        assert q.offset == 100
        assert q.limit == 50
        assert dict(q.filters) == {"region": "4401"}
        assert q.filter("region") == "4401"
        assert q.filter("status") is None
        assert q.filter("status", "open") == "open"

    def test_defaults(self) -> None:
        q = listing.parse_list_query({}, sortable=("created_at",), default_sort="-created_at")
        assert q == ListQuery(1, 20, Sort("created_at", True), {})
        assert q.offset == 0

    def test_without_a_filter_whitelist_keeps_every_other_parameter(self) -> None:
        q = listing.parse_list_query({"q": " 广州 ", "page": "2"})
        assert dict(q.filters) == {"q": " 广州 "}
        assert q.filter("q") == "广州"

    def test_clamp_moves_past_the_end_to_the_last_page(self) -> None:
        q = ListQuery(page=9, size=20)
        assert listing.clamp_page(q, 45).page == 3
        assert listing.clamp_page(q, 0).page == 1
        assert listing.clamp_page(ListQuery(page=2, size=20), 45).page == 2


class TestPage:
    def test_pages_and_positions(self) -> None:
        page = Page(items=list(range(20)), total=123, page=2, size=20)
        assert page.pages == 7
        assert (page.has_previous, page.has_next) == (True, True)
        assert (page.first_index, page.last_index) == (21, 40)

    def test_empty_list_has_one_empty_page(self) -> None:
        page: Page[int] = Page(items=[], total=0)
        assert page.pages == 1
        assert (page.has_previous, page.has_next) == (False, False)
        assert (page.first_index, page.last_index) == (0, 0)

    def test_exact_multiple_and_last_page(self) -> None:
        page = Page(items=[1], total=40, page=2, size=20)
        assert page.pages == 2
        assert not page.has_next

    def test_window_marks_skipped_numbers(self) -> None:
        assert Page([], 200, page=5, size=10).window() == [1, None, 3, 4, 5, 6, 7, None, 20]
        assert Page([], 60, page=1, size=20).window() == [1, 2, 3]
        assert Page([], 200, page=20, size=10).window(radius=1) == [1, None, 19, 20]

    def test_map_and_paginate(self) -> None:
        rows = list(range(1, 46))
        page = listing.paginate(rows, ListQuery(page=3, size=20))
        assert list(page.items) == [41, 42, 43, 44, 45]
        assert (page.total, page.page, page.pages) == (45, 3, 3)
        assert list(page.map(str).items) == ["41", "42", "43", "44", "45"]
        assert listing.paginate(rows, ListQuery(page=99, size=20)).page == 3
