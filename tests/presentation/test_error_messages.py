"""Errors and delivered-row issues named by message key, so that English pages explain them in
English while the API and the reject report keep their Chinese text."""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Iterator
from datetime import date
from typing import Any

import pytest

import creditbridge
from creditbridge.catalog.errors import CatalogFileInvalid
from creditbridge.core.errors import DomainError, Issue, NotFound
from creditbridge.ingest import domain as ingest
from creditbridge.presentation import i18n
from creditbridge.presentation.errors import explain, keyed, keyed_issue


def _domain_errors() -> Iterator[type[DomainError]]:
    for module in pkgutil.walk_packages(creditbridge.__path__, "creditbridge."):
        if module.name.endswith("__main__") or ".migrations" in module.name:
            continue
        importlib.import_module(module.name)
    pending = [DomainError]
    while pending:
        cls = pending.pop()
        yield cls
        pending.extend(cls.__subclasses__())


def test_every_error_class_is_titled_in_both_languages() -> None:
    classes = [cls for cls in _domain_errors() if cls.__module__.startswith("creditbridge.")]
    assert len(classes) > 20
    untitled = sorted(cls.code for cls in classes if cls.title_key() not in i18n.MESSAGES)
    assert untitled == []
    # A class that writes its own title (the API's) says the same as the pages.
    differing = sorted(
        cls.code
        for cls in classes
        if "title" in vars(cls) and i18n.MESSAGES[cls.title_key()][0] != cls.title
    )
    assert differing == []


class TestKeyedErrors:
    def test_the_chinese_message_comes_from_the_table_and_the_key_is_kept(self) -> None:
        error = keyed(NotFound, "error.catalog.no_version", version="2099.1")

        assert error.message == "没有版本为 2099.1 的共享清单"
        assert str(error) == error.message
        assert (error.key, error.params) == ("error.catalog.no_version", {"version": "2099.1"})
        assert explain("en", error) == "There is no shared-data list of version 2099.1"
        assert explain("zh", error) == error.message

    def test_problem_details_keep_the_chinese_detail_and_add_the_key(self) -> None:
        body = keyed(NotFound, "error.catalog.no_regime", day=date(2020, 1, 1)).problem()

        assert body["detail"] == "2020-01-01 没有施行中的失信信息公示期规定"
        assert body["key"] == "error.catalog.no_regime"
        assert body["params"] == {"day": "2020-01-01"}  # JSON carries the date as text

    def test_an_error_given_only_a_message_is_as_before(self) -> None:
        error = NotFound("没有这个东西")

        assert error.message == "没有这个东西"
        assert error.key is None
        assert "key" not in error.problem()
        assert explain("en", error) == "没有这个东西"

    def test_an_error_without_a_message_says_its_title(self) -> None:
        assert NotFound().message == "未找到"

    def test_issues_carry_keys_too(self) -> None:
        issue = keyed_issue("encoding", "error.catalog.encoding", location="list.yaml", row=2)
        error = keyed(
            CatalogFileInvalid, "error.catalog.file_invalid", issues=[issue], name="list.yaml", n=1
        )

        assert issue.message == "文件须为 UTF-8 编码"
        assert explain("en", issue) == "The file must be encoded in UTF-8"
        assert error.problem()["errors"] == [
            {
                "code": "encoding",
                "message": "文件须为 UTF-8 编码",
                "row": 2,
                "location": "list.yaml",
                "key": "error.catalog.encoding",
                "params": {},
            }
        ]
        assert explain("en", error) == "The shared-data list file list.yaml has 1 error"

    def test_a_key_the_tables_no_longer_hold_falls_back_to_the_message(self) -> None:
        stored = Issue("old", "旧的说明", key="error.retired.reason", params={})

        assert explain("en", stored) == "旧的说明"


def _problem_of(call: Any) -> ingest.FieldProblem:
    with pytest.raises(ingest.FieldProblem) as caught:
        call()
    return caught.value


class TestRowIssues:
    @pytest.mark.parametrize(
        ("call", "english"),
        [
            (lambda: ingest.parse_date("2024-02-30"), "The date 2024-02-30 does not exist"),
            (lambda: ingest.parse_date("next Tuesday"), "Unrecognised date next Tuesday"),
            (lambda: ingest.parse_period("2024-13"), "The month 2024-13 does not exist"),
            (lambda: ingest.parse_period("soon"), "Unrecognised month soon"),
            (lambda: ingest.parse_amount("12,34", unit="yuan"), "is wrongly grouped"),
            (lambda: ingest.parse_amount("abc", unit="yuan"), "The amount abc is not a number"),
            (lambda: ingest.parse_amount("-5", unit="yuan"), "The amount -5 is negative"),
            (lambda: ingest.parse_amount("1.001", unit="yuan"), "finer than a fen"),
            (lambda: ingest.parse_amount("1", unit="acres"), "acres is not a unit of money"),
            (lambda: ingest.parse_integer("1.5"), "1.5 is not a whole number"),
            (lambda: ingest.parse_decimal("x"), "x is not a number"),
            (lambda: ingest.parse_boolean("maybe"), "maybe is not yes/no"),
        ],
    )
    def test_each_refusal_has_a_key_and_english(self, call: Any, english: str) -> None:
        problem = _problem_of(call)

        assert problem.key is not None
        assert i18n.translate("zh", problem.key, **problem.params) == problem.message
        assert english in explain("en", problem)

    def test_the_chinese_text_of_the_report_is_unchanged(self) -> None:
        assert _problem_of(lambda: ingest.parse_period("2024-13")).message == (
            "月份 2024-13 不存在：月份须在 1 至 12 之间"
        )
        assert _problem_of(lambda: ingest.parse_amount("1.001", unit="yuan")).message == (
            "金额 1.001 精度超过分"
        )

    def test_validated_rows_carry_the_key_to_the_reject_report(self) -> None:
        fields = [
            _Field("uscc", "统一社会信用代码", "uscc", required=True),
            _Field("amount", "金额", "amount", unit="yuan"),
            _Field("division", "行政区划", "division_code"),
        ]
        outcome = ingest.validate_row(
            fields, {"uscc": "", "amount": "-1", "division": "999999"}, row=7
        )

        issues = {issue.field: issue for issue in outcome.issues}
        assert issues["uscc"].key == "ingest_issue.required"
        assert explain("en", issues["uscc"]) == "A required field is empty"
        assert issues["amount"].key == "ingest_issue.amount.negative"
        assert explain("en", issues["amount"]) == "The amount -1 is negative"
        assert issues["division"].key == "ingest_issue.division"
        assert explain("en", issues["division"]) == "The division code 999999 is not in GB/T 2260"
        # The report's row issue still unpacks positionally as the spool stores it.
        assert ingest.RowIssue(*(7, "f", "l", "v", "C", "说明", False)).key is None


class _Field:
    def __init__(
        self,
        code: str,
        label_zh: str,
        type: str,
        *,
        required: bool = False,
        unit: str | None = None,
    ) -> None:
        self.code = code
        self.label_zh = label_zh
        self.type = type
        self.unit = unit
        self.required = required
        self.enum: list[str] | None = None
        self.enum_labels: dict[str, str] | None = None
        self.max_length: int | None = None
        self.pattern: str | None = None
