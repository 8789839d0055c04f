"""The catalog file format: the bundled list, and one clear issue per way a file can be wrong."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from creditbridge.catalog import domain
from creditbridge.catalog.errors import CatalogFileInvalid
from creditbridge.catalog.service import (
    BUNDLED_CATALOG_PATH,
    bundled_catalog,
    parse_catalog_file,
    publication_regime_on,
    publication_regimes,
)
from creditbridge.core.errors import Issue, NotFound, ValidationFailed

ToYaml = Callable[[dict[str, Any]], str]

REQUIRED_CATEGORIES = {
    "registration",
    "licence",
    "penalty",
    "judicial",
    "dishonesty",
    "honour",
    "policy_support",
    "tax",
    "social_insurance",
    "housing_fund",
    "customs",
    "utilities",
    "real_estate",
    "intellectual_property",
    "research",
    "self_reported",
}

REQUIRED_DATASETS = {
    "registration",
    "abnormal_operation",
    "licence",
    "penalty",
    "judgment",
    "enforcement",
    "dishonest_debtor",
    "serious_dishonesty",
    "honour",
    "policy_support",
    "tax_credit_rating",
    "tax_payment",
    "tax_arrears",
    "social_insurance",
    "housing_fund",
    "customs_trade",
    "utility_power",
    "utility_water",
    "utility_gas",
    "real_estate",
    "patent",
    "trademark",
    "ip_pledge",
    "tech_enterprise",
    "self_reported",
    "credit_commitment",
}


def only_issue(exc: pytest.ExceptionInfo[CatalogFileInvalid]) -> Issue:
    assert len(exc.value.issues) == 1, [str(i) for i in exc.value.issues]
    return exc.value.issues[0]


# ------------------------------------------------------------------ the bundled list


def test_bundled_catalog_has_every_category_and_at_least_25_datasets() -> None:
    catalog = bundled_catalog()

    assert catalog.version == "2021.1"
    assert catalog.basis == "国办发〔2021〕52号"
    assert set(catalog.categories) >= REQUIRED_CATEGORIES
    assert len(catalog.datasets) >= 25
    assert set(catalog.dataset_codes) >= REQUIRED_DATASETS
    assert {d.category for d in catalog.datasets} == set(catalog.categories)


def test_every_bundled_dataset_is_keyed_by_a_required_uscc_field() -> None:
    for dataset in bundled_catalog().datasets:
        subject = dataset.field(dataset.subject_key)
        assert dataset.subject_key == "uscc", dataset.code
        assert (subject.type, subject.required) == ("uscc", True), dataset.code


def test_every_negative_bundled_dataset_has_a_publication_period_class() -> None:
    negative = [d for d in bundled_catalog().datasets if d.negative]

    assert {d.code for d in negative} >= {
        "abnormal_operation",
        "penalty",
        "judgment",
        "enforcement",
        "dishonest_debtor",
        "serious_dishonesty",
        "tax_arrears",
    }
    assert all(d.publication_period_class in domain.PUBLICATION_PERIOD_CLASSES for d in negative)
    assert all(
        d.publication_period_class is None for d in bundled_catalog().datasets if not d.negative
    )


def test_penalty_periods_follow_the_severity_field_with_chinese_labels() -> None:
    penalty = bundled_catalog().dataset("penalty")
    severity = penalty.field("severity")

    assert penalty.publication_period_class == "by_severity"
    assert penalty.severity_field == "severity"
    assert severity.enum == ["minor", "general", "serious"]
    assert [severity.label_of(v) for v in severity.enum] == ["轻微", "一般", "严重"]


def test_only_registration_carries_the_subject_name() -> None:
    with_name = [d.code for d in bundled_catalog().datasets if "name" in d.field_codes]

    assert with_name == ["registration"]


def test_monthly_bundled_datasets_use_the_period_type() -> None:
    monthly = [d for d in bundled_catalog().datasets if d.update_frequency == "monthly"]
    periodic = [d for d in monthly if "period" in d.field_codes]

    assert {d.code for d in periodic} >= {"tax_payment", "social_insurance", "utility_power"}
    for dataset in periodic:
        assert dataset.field("period").type == "period"
        assert "period" in dataset.natural_key


def test_bundled_disclosure_classes_match_the_kind_of_information() -> None:
    catalog = bundled_catalog()
    by_code = {d.code: d.disclosure_class for d in catalog.datasets}

    for code in ("registration", "licence", "penalty", "judgment", "patent", "honour"):
        assert by_code[code] == "public", code
    for code in ("tax_payment", "social_insurance", "housing_fund", "utility_power", "real_estate"):
        assert by_code[code] == "authorized", code
    assert "verification_only" in by_code.values()


def test_legal_representative_name_is_masked_and_certificate_numbers_partially() -> None:
    catalog = bundled_catalog()

    assert catalog.dataset("registration").field("legal_representative").masking == "name"
    assert catalog.dataset("real_estate").field("certificate_no").masking == "partial"
    assert catalog.dataset("tax_payment").field("total_tax_paid").classification_level == 3


# ------------------------------------------------------------------ malformed files


def test_yaml_syntax_error_names_file_line_and_column() -> None:
    text = 'version: "1"\ntitle: [unclosed\nbasis: x\n'

    with pytest.raises(CatalogFileInvalid) as exc:
        parse_catalog_file(text=text, source_name="broken.yaml")

    issue = only_issue(exc)
    assert "broken.yaml" in exc.value.message
    assert issue.location == "broken.yaml"
    assert issue.code == "yaml_syntax"
    assert issue.row == 3
    assert "YAML 语法错误" in issue.message
    assert "列" in issue.message


def test_key_given_twice_is_refused_rather_than_silently_overwritten() -> None:
    text = 'version: "1"\nversion: "2"\n'

    with pytest.raises(CatalogFileInvalid) as exc:
        parse_catalog_file(text=text, source_name="twice.yaml")

    issue = only_issue(exc)
    assert issue.row == 2
    assert "键 version 重复" in issue.message


def test_unknown_field_type_is_reported_at_its_path_with_the_dataset_and_field(
    small_catalog: dict[str, Any], to_yaml: ToYaml
) -> None:
    small_catalog["datasets"][1]["fields"][3]["type"] = "money"

    with pytest.raises(CatalogFileInvalid) as exc:
        parse_catalog_file(text=to_yaml(small_catalog), source_name="types.yaml")

    issue = only_issue(exc)
    assert issue.location == "types.yaml"
    assert issue.field == "datasets[1].fields[3].type"
    assert issue.value == "money"
    assert "数据项 penalty" in issue.message
    assert "字段 fine_amount" in issue.message
    assert "字段类型 money 无效" in issue.message


def test_natural_key_naming_a_missing_field_is_refused(
    small_catalog: dict[str, Any], to_yaml: ToYaml
) -> None:
    small_catalog["datasets"][1]["natural_key"] = ["decision_no", "case_no"]

    with pytest.raises(CatalogFileInvalid) as exc:
        parse_catalog_file(text=to_yaml(small_catalog), source_name="keys.yaml")

    issue = only_issue(exc)
    assert issue.field == "datasets[1].natural_key[1]"
    assert issue.code == "unknown_reference"
    assert "natural_key 指向的字段 case_no 不存在" in issue.message


def test_duplicate_dataset_code_is_refused(small_catalog: dict[str, Any], to_yaml: ToYaml) -> None:
    small_catalog["datasets"][1]["code"] = "registration"
    small_catalog["datasets"][1]["category"] = "registration"

    with pytest.raises(CatalogFileInvalid) as exc:
        parse_catalog_file(text=to_yaml(small_catalog), source_name="dup.yaml")

    issue = only_issue(exc)
    assert issue.field == "datasets[1].code"
    assert issue.code == "duplicate"
    assert "数据项代码 registration 重复" in issue.message


def test_enum_field_without_values_is_refused(
    small_catalog: dict[str, Any], to_yaml: ToYaml
) -> None:
    del small_catalog["datasets"][0]["fields"][3]["enum"]

    with pytest.raises(CatalogFileInvalid) as exc:
        parse_catalog_file(text=to_yaml(small_catalog), source_name="enum.yaml")

    issue = only_issue(exc)
    assert issue.field == "datasets[0].fields[3].enum"
    assert "enum 类型须列出取值" in issue.message


def test_classification_level_outside_1_to_5_is_refused(
    small_catalog: dict[str, Any], to_yaml: ToYaml
) -> None:
    small_catalog["datasets"][0]["fields"][1]["classification_level"] = 7

    with pytest.raises(CatalogFileInvalid) as exc:
        parse_catalog_file(text=to_yaml(small_catalog), source_name="levels.yaml")

    issue = only_issue(exc)
    assert issue.field == "datasets[0].fields[1].classification_level"
    assert "数据分级 7 无效" in issue.message
    assert "1 至 5" in issue.message


def test_unknown_key_is_refused_with_a_spelling_hint(
    small_catalog: dict[str, Any], to_yaml: ToYaml
) -> None:
    small_catalog["datasets"][0]["fields"][0]["requried"] = True

    with pytest.raises(CatalogFileInvalid) as exc:
        parse_catalog_file(text=to_yaml(small_catalog), source_name="typo.yaml")

    issue = only_issue(exc)
    assert issue.field == "datasets[0].fields[0].requried"
    assert issue.code == "unknown_key"


def test_unquoted_numeric_version_is_refused_with_a_quoting_hint(
    small_catalog: dict[str, Any], to_yaml: ToYaml
) -> None:
    small_catalog["version"] = 2021.1

    with pytest.raises(CatalogFileInvalid) as exc:
        parse_catalog_file(text=to_yaml(small_catalog), source_name="v.yaml")

    assert "加引号" in only_issue(exc).message


@pytest.mark.parametrize(
    ("break_it", "path", "reason"),
    [
        (
            lambda c: [
                c["datasets"][1].pop(k) for k in ("publication_period_class", "severity_field")
            ],
            "datasets[1].publication_period_class",
            "须给出 publication_period_class",
        ),
        (
            lambda c: c["datasets"][0].update(publication_period_class="general"),
            "datasets[0].publication_period_class",
            "只有失信",
        ),
        (
            lambda c: c["datasets"][1]["fields"][4].update(
                enum=["轻微", "一般", "严重"], enum_labels=None
            ),
            "datasets[1].severity_field",
            "minor、general、serious",
        ),
        (
            lambda c: c["datasets"][0]["fields"][2].update(unit="yuan"),
            "datasets[0].fields[2].unit",
            "date 类型不带单位",
        ),
        (
            lambda c: c["datasets"][1]["fields"][3].pop("unit"),
            "datasets[1].fields[3].unit",
            "amount 类型须给出单位",
        ),
        (
            lambda c: c["datasets"][1].update(category="tax"),
            "datasets[1].category",
            "类别 tax 未在 categories 中定义",
        ),
        (
            lambda c: c["datasets"][0].update(event_date_field="name"),
            "datasets[0].event_date_field",
            "date 或 period",
        ),
        (
            lambda c: c["datasets"][0]["fields"][1].update(code="Name"),
            "datasets[0].fields[1].code",
            "代码 Name 不合规",
        ),
        (
            lambda c: c["datasets"][0].update(update_frequency="hourly"),
            "datasets[0].update_frequency",
            "更新频率 hourly 无效",
        ),
        (
            lambda c: c["datasets"][0]["fields"][1].update(code="uscc"),
            "datasets[0].fields[1].code",
            "字段代码 uscc 重复",
        ),
    ],
)
def test_each_broken_rule_is_reported_at_its_path(
    small_catalog: dict[str, Any],
    to_yaml: ToYaml,
    break_it: Callable[[dict[str, Any]], object],
    path: str,
    reason: str,
) -> None:
    break_it(small_catalog)

    with pytest.raises(CatalogFileInvalid) as exc:
        parse_catalog_file(text=to_yaml(small_catalog), source_name="rules.yaml")

    assert [(i.field, reason in i.message) for i in exc.value.issues] == [(path, True)]


def test_every_violation_is_reported_at_once(
    small_catalog: dict[str, Any], to_yaml: ToYaml
) -> None:
    small_catalog["datasets"][0]["natural_key"] = ["nope"]
    small_catalog["datasets"][1]["category"] = "tax"

    with pytest.raises(CatalogFileInvalid) as exc:
        parse_catalog_file(text=to_yaml(small_catalog), source_name="many.yaml")

    assert [i.field for i in exc.value.issues] == [
        "datasets[0].natural_key[0]",
        "datasets[1].category",
    ]
    assert "many.yaml 有 2 处错误" in exc.value.message


def test_malformed_file_is_a_validation_failure_with_problem_details(tmp_path: Path) -> None:
    bad = tmp_path / "list.yaml"
    bad.write_text("- just\n- a list\n", encoding="utf-8")

    with pytest.raises(ValidationFailed) as exc:
        parse_catalog_file(path=bad)

    body = exc.value.problem()
    assert body["code"] == "CB-CATALOG-INVALID"
    assert body["status"] == 422
    assert body["errors"][0]["location"] == "list.yaml"


def test_missing_file_is_reported_not_raised_as_oserror(tmp_path: Path) -> None:
    with pytest.raises(CatalogFileInvalid) as exc:
        parse_catalog_file(path=tmp_path / "absent.yaml")

    assert "absent.yaml" in exc.value.message
    assert only_issue(exc).code == "unreadable"


def test_small_catalog_is_valid(small_catalog: dict[str, Any], to_yaml: ToYaml) -> None:
    catalog = parse_catalog_file(text=to_yaml(small_catalog))

    assert catalog.dataset_codes == ["registration", "penalty"]
    assert catalog.effective_date == date(2025, 1, 1)


def test_bundled_file_parses_from_its_path_as_from_its_text() -> None:
    text = BUNDLED_CATALOG_PATH.read_text(encoding="utf-8")

    assert parse_catalog_file(text=text) == parse_catalog_file(path=BUNDLED_CATALOG_PATH)


# ------------------------------------------------------------------ publication periods


def test_publication_regime_switches_to_the_2025_measures_on_2026_04_01() -> None:
    assert publication_regime_on(date(2023, 5, 1)).basis == "国家发展改革委令2023年第58号"
    assert publication_regime_on(date(2026, 3, 31)).code == "ndrc-2023-58"
    assert publication_regime_on(date(2026, 4, 1)).basis == "国家发展改革委令第36号"
    assert publication_regime_on(date(2030, 1, 1)).code == "ndrc-2025-36"


def test_no_publication_regime_before_2023_05_01() -> None:
    with pytest.raises(NotFound):
        publication_regime_on(date(2023, 4, 30))


def test_2025_periods_count_from_the_decision_date() -> None:
    regime = publication_regime_on(date(2026, 6, 1))

    general = regime.window("general", date(2026, 4, 15))
    serious = regime.window("serious", date(2026, 4, 15))
    minor = regime.window("minor", date(2026, 4, 15))

    assert (general.repair_from, general.publish_until) == (date(2026, 7, 15), date(2027, 4, 15))
    assert (serious.repair_from, serious.publish_until) == (date(2027, 4, 15), date(2029, 4, 15))
    assert minor.published is False
    assert minor.publish_until == date(2026, 7, 15)


def test_every_regime_defines_every_severity() -> None:
    for regime in publication_regimes().regimes:
        assert set(regime.classes) == set(domain.SEVERITIES)
