"""One i18n mechanism: a paired (zh, en) table per domain, templates naming every string by key."""

from __future__ import annotations

import re
from pathlib import Path

import jinja2
import pytest
from jinja2 import nodes

from creditbridge.consent.domain import ConsentStatus, Move, Purpose
from creditbridge.ingest.metrics import SHORTFALL_ZH
from creditbridge.marketplace import domain as market
from creditbridge.presentation import i18n, messages
from creditbridge.presentation.templating import TEMPLATES_DIR, environment

TABLES = {name: getattr(messages, name) for name in messages.__all__}
TEMPLATES = sorted(Path(TEMPLATES_DIR).rglob("*.html"))
# `group.thing` or deeper; error codes keep their upper-case (error.CB-NOT-FOUND).
KEY = re.compile(r"^[a-z][a-z0-9_]*(\.[A-Za-z0-9_\-]+)+$")


def _calls(template: Path, name: str) -> list[nodes.Call]:
    source = template.read_text(encoding="utf-8")
    tree = environment.parse(source, name=str(template))
    return [
        call
        for call in tree.find_all(nodes.Call)
        if isinstance(call.node, nodes.Name) and call.node.name == name
    ]


def test_every_domain_table_is_in_the_lookup() -> None:
    for name, table in TABLES.items():
        assert table, name
        for key, pair in table.items():
            assert i18n.MESSAGES[key] == pair, (name, key)


def test_keys_follow_the_dotted_style() -> None:
    assert [key for key in i18n.MESSAGES if not KEY.match(key)] == []


def test_a_key_defined_in_two_tables_is_refused() -> None:
    key = next(iter(messages.COMMON))
    with pytest.raises(RuntimeError, match="defined twice"):
        i18n._merge({key: ("重复", "twice")})
    assert i18n.MESSAGES[key] == messages.COMMON[key]


def test_the_scan_parses_every_template() -> None:
    assert TEMPLATES
    for template in TEMPLATES:
        try:
            _calls(template, "t")
        except jinja2.TemplateSyntaxError as error:  # pragma: no cover - names the broken file
            pytest.fail(f"{template}: {error}")


def test_templates_pick_only_between_data_columns() -> None:
    """``pick`` chooses between a Chinese and an English column of the data; a literal string
    belongs in a message table, where the completeness test sees both languages."""
    literal = [
        f"{template.relative_to(TEMPLATES_DIR)}:{call.lineno}"
        for template in TEMPLATES
        for call in _calls(template, "pick")
        if any(isinstance(arg, nodes.Const) and isinstance(arg.value, str) for arg in call.args)
    ]
    assert literal == []


def test_every_literal_key_with_placeholders_gets_all_its_parameters() -> None:
    for template in TEMPLATES:
        for call in _calls(template, "t"):
            if not call.args or not isinstance(call.args[0], nodes.Const):
                continue
            key = call.args[0].value
            zh, _ = i18n.MESSAGES[key]
            given = {kw.key for kw in call.kwargs}
            assert set(re.findall(r"{(\w+)}", zh)) == given, f"{template.name}: {key}"


def test_keys_built_in_templates_exist() -> None:
    # t('ingest.batch.count.' ~ key) in ingest/batch.html: the scan above cannot see these.
    for count in ("total", "accepted", "warned", "rejected"):
        assert f"ingest.batch.count.{count}" in i18n.MESSAGES
    # The dashboard names a dataset's shortfalls as the CLI does, in the reader's language.
    for code, zh in SHORTFALL_ZH.items():
        assert i18n.MESSAGES[f"collection.shortfall.{code}"][0] == zh


def test_rendered_text_has_placeholders_filled() -> None:
    assert (
        i18n.translate("en", "collection.dashboard.rate_hint", met=3, size=4, target="90")
        == "3 / 4 datasets meet the bar; action-plan target 90%"
    )
    assert i18n.translate("zh", "scoring.card.points_lost", points=12) == "（-12 分）"


def test_consent_labels_come_from_the_tables() -> None:
    for group, values in (
        ("purpose", Purpose),
        ("consent_status", ConsentStatus),
        ("consent_move", Move),
    ):
        for value in values:
            zh, en = i18n.MESSAGES[f"{group}.{value.value}"]
            assert value.label_zh == zh
            assert en
    assert Purpose.POST_LOAN_MONITORING.label_zh == "贷后管理"
    assert Move.PAUSE.label_zh == "暂停授权"


def test_marketplace_codes_have_labels_in_both_languages() -> None:
    for group, codes in (
        ("market_product_type", market.PRODUCT_TYPES),
        ("market_tag", market.TAGS),
        ("market_security", market.SECURITY_TYPES),
    ):
        labelled = {
            key.removeprefix(f"{group}.") for key in i18n.MESSAGES if key.startswith(f"{group}.")
        }
        assert set(codes) == labelled, group
