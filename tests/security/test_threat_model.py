"""The threat model in docs/operations-security.md points at tests that exist (issue 21)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "operations-security.md"

pytestmark = pytest.mark.security


def _threat_model() -> str:
    text = DOC.read_text(encoding="utf-8")
    start = text.index("## Threat model (issue 21)")
    end = text.index("\n## ", start + 1)
    return text[start:end]


def test_each_finding_of_issue_21_names_its_regression_tests() -> None:
    """Each of the eight findings of issue 21 has a row in the threat model naming test files
    that exist."""
    rows = [line for line in _threat_model().splitlines() if re.match(r"^\| [1-8] \|", line)]
    assert [row.split("|")[1].strip() for row in rows] == [str(n) for n in range(1, 9)]
    for row in rows:
        where = row.rstrip(" |").rsplit("|", 1)[1]
        paths = re.findall(r"`(tests/[\w/]+\.py)`", where)
        assert paths, f"finding {row.split('|')[1].strip()} names no test file"
        missing = [path for path in paths if not (ROOT / path).exists()]
        assert not missing, f"finding {row.split('|')[1].strip()}: no such file {missing}"


def test_the_threat_model_says_what_each_role_can_never_do() -> None:
    """The threat model has a "can never" row for every role and both kinds of API client."""
    section = _threat_model()
    for actor in (
        "anonymous visitor",
        "system admin",
        "security admin",
        "audit admin",
        "operator",
        "provider user",
        "institution officer",
        "enterprise user",
        "signed API client of an institution",
        "signed API client of a provider",
    ):
        assert re.search(rf"^\| {re.escape(actor)}\b", section, flags=re.MULTILINE), actor
