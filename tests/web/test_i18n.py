"""The message table as pages use it (the formatters are tested in tests/presentation)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from creditbridge.presentation import i18n
from creditbridge.presentation.templating import TEMPLATES_DIR
from creditbridge.web.areas import AREAS


def test_every_literal_key_used_by_a_template_exists() -> None:
    used: set[str] = set()
    for template in Path(TEMPLATES_DIR).rglob("*.html"):
        # Whole literal keys only: t('area.' ~ key) is covered by the areas test below.
        used |= set(re.findall(r"""\bt\(\s*['"]([\w.\-]+)['"]\s*[,)]""", template.read_text()))
    assert used, "the scan found no keys: the pattern is out of date"
    assert sorted(used - set(i18n.MESSAGES)) == []


def test_every_area_feature_and_node_level_has_its_texts() -> None:
    for level in ("national", "provincial", "city", "county"):
        assert f"node_level.{level}" in i18n.MESSAGES
    for area in AREAS:
        assert f"area.{area.key}" in i18n.MESSAGES
        assert f"area.{area.key}.lead" in i18n.MESSAGES
        for feature in area.features:
            assert f"feature.{feature.key}" in i18n.MESSAGES
            assert f"feature.{feature.key}.desc" in i18n.MESSAGES


def test_unknown_key_is_an_error() -> None:
    with pytest.raises(i18n.MissingMessage):
        i18n.translate("zh", "no.such.key")


def test_placeholders_and_english_singular() -> None:
    assert i18n.translate("zh", "catalog.datasets_count", n=1) == "1 个信息项"
    assert i18n.translate("en", "catalog.datasets_count", n=1) == "1 dataset"
    assert i18n.translate("en", "catalog.datasets_count", n=3) == "3 datasets"


def test_labels_fall_back_to_the_stored_value() -> None:
    assert i18n.label("zh", "frequency", "quarterly") == "每季"
    assert i18n.label("en", "frequency", "on_change") == "On change"
    assert i18n.label("zh", "frequency", "fortnightly") == "fortnightly"
    assert i18n.label("zh", "frequency", None) == ""


def test_update_frequency_labels_are_the_ones_the_list_uses() -> None:
    expected = {
        "realtime": "实时",
        "daily": "每日",
        "weekly": "每周",
        "monthly": "每月",
        "quarterly": "每季",
        "yearly": "每年",
        "on_change": "变更时",
    }
    assert {code: i18n.label("zh", "frequency", code) for code in expected} == expected


def test_disclosure_labels() -> None:
    assert [
        i18n.label("zh", "disclosure", c) for c in ("public", "authorized", "verification_only")
    ] == [
        "公开",
        "授权",
        "仅核验",
    ]


def test_pick_prefers_the_readers_language_and_falls_back_to_chinese() -> None:
    assert i18n.pick("en", "合肥市", "Hefei") == "Hefei"
    assert i18n.pick("en", "合肥市", "") == "合肥市"
    assert i18n.pick("zh", "合肥市", "Hefei") == "合肥市"
