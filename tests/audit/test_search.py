"""Issue 23, "Lists that work" for the audit trail: the auditor picks actions by their Chinese
names and finds an enterprise by name or USCC; the export holds exactly what the page lists."""

from __future__ import annotations

import re
import subprocess
from collections.abc import Callable
from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

import factories
from creditbridge.audit import service
from creditbridge.core.actors import Actor, ActorKind, Role
from creditbridge.presentation.i18n import MESSAGES
from creditbridge.subjects.models import Subject
from web import conftest as web_fixtures
from web.conftest import LoggedIn
from web.helpers import table_rows

app = web_fixtures.app
client = web_fixtures.client
login_as = web_fixtures.login_as

Login = Callable[..., LoggedIn]
CLERK = Actor(kind=ActorKind.USER, id=7, name="测试员", role=Role.OPERATOR)
SRC = Path(__file__).resolve().parents[2] / "src" / "creditbridge"


def _events(session: Session) -> tuple[int, int, int]:
    """Three enterprises, two of them 徽商…; a consent and a read about each."""
    a = factories.subject(session, name="徽商贸易有限公司")
    b = factories.subject(session, name="徽商物流有限公司")
    c = factories.subject(session, name="江淮机械有限公司")
    for subject in (a, b, c):
        for action in ("consent.approve", "data.read"):
            service.record(
                session,
                CLERK,
                action=action,
                object_type="consent_grant",
                object_id=subject.id,
                subject_id=subject.id,
            )
    return a.id, b.id, c.id


def test_the_action_picker_lists_every_action_by_its_chinese_name(
    client: TestClient, session: Session, login_as: Login
) -> None:
    _events(session)
    login_as(Role.AUDIT_ADMIN)
    page = client.get("/audit", params={"action": "consent.approve"})
    select = re.search(r'<select[^>]*data-testid="audit-action".*?</select>', page.text, re.S)
    assert select is not None
    options = dict(re.findall(r'<option value="([^"]*)"[^>]*>([^<]*)</option>', select.group(0)))
    labelled = [
        key.removeprefix("audit_action.") for key in MESSAGES if key.startswith("audit_action.")
    ]
    for action in labelled:
        assert options[action].startswith(MESSAGES[f"audit_action.{action}"][0]), action
    assert options["consent."] == "全部授权操作"
    assert re.search(r'<option value="consent.approve" selected>同意授权', page.text)
    rows = table_rows(page.text, "audit-events")
    assert len(rows) == 3
    assert all(row[4].startswith("同意授权") for row in rows)


def test_every_action_the_code_records_has_a_chinese_name() -> None:
    """A new ``action="x.y"`` without an ``audit_action.x.y`` label would show the auditor a
    bare code in the picker."""
    found = subprocess.run(
        ["grep", "-rhoE", r'action="[a-z_]+(\.[a-z_]+)+"', str(SRC)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    actions = {item.removeprefix('action="').rstrip('"') for item in found}
    assert len(actions) > 40
    missing = sorted(a for a in actions if f"audit_action.{a}" not in MESSAGES)
    assert missing == []


def test_an_enterprise_is_found_by_a_piece_of_its_name_or_its_uscc(
    client: TestClient, session: Session, login_as: Login
) -> None:
    a, b, c = _events(session)
    login_as(Role.AUDIT_ADMIN)

    by_name = client.get("/audit", params={"subject": "徽商"})
    subjects = {row[6] for row in table_rows(by_name.text, "audit-events")}
    assert subjects == {str(a), str(b)}
    assert "徽商贸易有限公司" in by_name.text
    assert "徽商物流有限公司" in by_name.text
    assert 'value="徽商"' in by_name.text  # the form keeps what was typed

    both = client.get("/audit", params={"subject": "物流", "action": "data.read"})
    assert [row[6] for row in table_rows(both.text, "audit-events")] == [str(b)]

    uscc = session.get(Subject, c)
    assert uscc is not None
    by_code = client.get("/audit", params={"subject": uscc.uscc.lower()})
    assert {row[6] for row in table_rows(by_code.text, "audit-events")} == {str(c)}


def test_a_name_that_matches_no_enterprise_lists_nothing_and_says_so(
    client: TestClient, session: Session, login_as: Login
) -> None:
    _events(session)
    login_as(Role.AUDIT_ADMIN)
    page = client.get("/audit", params={"subject": "不存在的公司"})
    assert page.status_code == 200
    assert table_rows(page.text, "audit-events") == []
    assert "没有名称或代码与“不存在的公司”相符的企业" in page.text
    # A percent sign is a character, not a wildcard.
    assert table_rows(client.get("/audit", params={"subject": "%"}).text, "audit-events") == []


def test_the_export_holds_what_the_filtered_page_lists(
    client: TestClient, session: Session, login_as: Login
) -> None:
    a, b, _ = _events(session)
    login_as(Role.AUDIT_ADMIN)
    params = {"subject": "徽商", "action": "consent."}
    page = client.get("/audit", params=params)
    export_link = re.search(r'href="([^"]*)"[^>]*data-testid="audit-export"', page.text)
    assert export_link is not None
    assert "subject=" in export_link.group(1)
    export = client.get(export_link.group(1).replace("&amp;", "&"))
    lines = export.text.lstrip("\ufeff").strip().splitlines()[1:]
    listed = sorted(row[0] for row in table_rows(page.text, "audit-events"))
    assert sorted(line.split(",")[0] for line in lines) == listed
    assert len(lines) == 2
    assert all(",consent.approve," in line for line in lines)
    # The look itself is on the trail, with what was typed.
    views = service.list_events(session, flt=service.EventFilter(action="audit.view"))
    assert views[0].content["detail"]["filter_subject"] == "徽商"
    assert sorted(views[0].content["detail"]["filter_subject_ids"]) == sorted([a, b])


def test_an_end_date_before_the_start_date_is_marked_at_the_field(
    client: TestClient, session: Session, login_as: Login
) -> None:
    login_as(Role.AUDIT_ADMIN)
    page = client.get("/audit", params={"since": "2026-12-05", "until": "2026-12-01"})
    assert page.status_code == 200
    assert 'data-testid="error-until"' in page.text
    assert 'value="2026-12-01"' in page.text


def test_the_form_as_a_browser_submits_it_with_empty_boxes_is_no_filter(
    client: TestClient, session: Session, login_as: Login
) -> None:
    _events(session)
    login_as(Role.AUDIT_ADMIN)
    empty = dict.fromkeys(
        ("since", "until", "actor_kind", "actor_id", "subject", "subject_id", "institution_id"),
        "",
    )
    page = client.get("/audit", params={**empty, "action": "data.read"})
    assert page.status_code == 200
    assert len(table_rows(page.text, "audit-events")) == 3
    bad = client.get("/audit", params={**empty, "since": "2026-13-40"})
    assert bad.status_code == 200
    assert 'data-testid="error-since"' in bad.text
