"""The paired table is complete: both languages for every key, the same placeholders in both, and
every key that src names exists (a missing one would fail only when that refusal happens)."""

from __future__ import annotations

import re
from pathlib import Path

import creditbridge
from creditbridge.presentation import i18n

SRC = Path(creditbridge.__file__).parent
PLACEHOLDER = re.compile(r"{(\w+)}")
# Where src names a message key in a literal: key="…", keyed(Error, "…"), keyed_issue("CODE", "…"),
# ingest's _problem("CODE", "…"), and any other literal of the error and row-issue tables (the
# ingest domain keeps some in a dict).
USES = (
    re.compile(r"""\bkey=["']([a-z][\w]*\.[\w.\-]+)["']"""),
    re.compile(r"""\bkeyed\(\s*\w+,\s*["']([^"']+)["']"""),
    re.compile(r"""\b(?:keyed_issue|_problem)\(\s*["'][^"']+["'],\s*["']([^"']+)["']"""),
    re.compile(r"""["']((?:error|ingest_issue)\.[A-Za-z][\w.\-]*)["']"""),
)


def _keys_used_in_src() -> dict[str, str]:
    used: dict[str, str] = {}
    for path in SRC.rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        for pattern in USES:
            for key in pattern.findall(text):
                used.setdefault(key, str(path.relative_to(SRC)))
    return used


def test_every_message_has_both_languages_with_the_same_placeholders() -> None:
    for key, (zh, en) in i18n.MESSAGES.items():
        assert zh.strip(), key
        assert en.strip(), key
        assert sorted(PLACEHOLDER.findall(zh)) == sorted(PLACEHOLDER.findall(en)), key


def test_every_message_key_named_in_src_exists() -> None:
    used = _keys_used_in_src()
    assert len(used) > 30, "the scan found few keys: the patterns are out of date"
    missing = {key: where for key, where in used.items() if key not in i18n.MESSAGES}
    assert missing == {}
