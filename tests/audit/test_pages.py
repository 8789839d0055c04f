"""The audit admin's pages: the filtered trail, its export and the chain check; read only."""

from __future__ import annotations

import re
from collections.abc import Callable

from fastapi.testclient import TestClient
from sqlalchemy import func, update
from sqlalchemy.orm import Session

from creditbridge.audit import service
from creditbridge.audit.models import AuditEvent
from creditbridge.core.actors import Actor, ActorKind, Role
from web import conftest as web_fixtures
from web.conftest import LoggedIn
from web.helpers import table_rows

app = web_fixtures.app
client = web_fixtures.client
login_as = web_fixtures.login_as

Login = Callable[..., LoggedIn]
CLERK = Actor(kind=ActorKind.USER, id=7, name="测试员", role=Role.OPERATOR, institution_id=None)


def _seed(session: Session, n: int = 3) -> list[AuditEvent]:
    events = []
    for i in range(n):
        events.append(
            service.record(
                session,
                CLERK,
                action="consent.approve" if i % 2 == 0 else "data.read",
                object_type="consent_grant",
                object_id=i + 1,
                subject_id=100 + i,
                detail={"note": f"<b>第{i}条</b>"},
            )
        )
    return events


def test_the_audit_admin_sees_and_filters_the_trail(
    client: TestClient, session: Session, login_as: Login
) -> None:
    _seed(session, 5)
    login_as(Role.AUDIT_ADMIN)

    page = client.get("/audit")

    assert page.status_code == 200
    rows = table_rows(page.text, "audit-events")
    sequences = [int(row[0]) for row in rows]
    assert sequences == sorted(sequences, reverse=True)  # newest first
    assert "<b>第0条</b>" not in page.text  # the detail is shown escaped
    consents = client.get("/audit", params={"action": "consent."})
    actions = [row[4] for row in table_rows(consents.text, "audit-events")]
    assert len(actions) == 3
    # The Chinese name first, the code beneath it.
    assert all(a.startswith("同意授权") and "consent.approve" in a for a in actions)
    one = client.get("/audit", params={"subject_id": 101, "action": "data.read"})
    assert [row[6] for row in table_rows(one.text, "audit-events")] == ["101"]
    assert 'data-testid="audit-total">共 1 条事件<' in one.text


def test_the_trail_is_paginated(client: TestClient, session: Session, login_as: Login) -> None:
    _seed(session, 60)
    login_as(Role.AUDIT_ADMIN)
    first = client.get("/audit", params={"action": "consent."})
    assert len(table_rows(first.text, "audit-events")) == 30
    everything = client.get("/audit")
    assert len(table_rows(everything.text, "audit-events")) == 50
    assert 'data-testid="audit-next"' in everything.text
    second = client.get("/audit", params={"page": 2})
    assert len(table_rows(second.text, "audit-events")) >= 10


def test_export_is_the_filtered_trail_as_csv(
    client: TestClient, session: Session, login_as: Login
) -> None:
    _seed(session, 4)
    login_as(Role.AUDIT_ADMIN)
    export = client.get("/audit/export.csv", params={"action": "data."})
    assert export.status_code == 200
    assert export.headers["content-type"].startswith("text/csv")
    lines = export.text.lstrip("\ufeff").strip().splitlines()
    assert lines[0].startswith("序号,")
    assert len(lines) == 1 + 2
    assert all(",data.read," in line for line in lines[1:])


def test_verify_reports_an_intact_chain_then_names_the_edited_event(
    client: TestClient, session: Session, login_as: Login
) -> None:
    events = _seed(session, 3)
    admin = login_as(Role.AUDIT_ADMIN)
    ok = client.post("/audit/verify", data={"csrf_token": admin.csrf})
    assert ok.status_code == 200
    assert 'data-ok="true"' in ok.text
    assert "审计链完整" in ok.text

    victim = events[1]
    session.execute(
        update(AuditEvent)
        .where(AuditEvent.id == victim.id)
        .values(chained=func.replace(AuditEvent.chained, "第1条", "第9条"))
    )
    session.flush()
    broken = client.post("/audit/verify", data={"csrf_token": admin.csrf})
    assert 'data-ok="false"' in broken.text
    where = re.search(r'data-testid="verify-broken">(.*?)</dd>', broken.text, re.S)
    assert where
    assert f"序号 {victim.sequence}" in where.group(1)
    assert f"事件ID {victim.id}" in where.group(1)


def test_the_audit_page_offers_nothing_that_changes_the_trail(
    client: TestClient, session: Session, login_as: Login
) -> None:
    _seed(session, 2)
    login_as(Role.AUDIT_ADMIN)
    for path in ("/audit", "/audit/verify"):
        page = client.get(path).text
        # The one form that posts (besides logging out) runs the chain check, which only
        # appends its own record: a POST so that a cross-site link cannot write to the trail.
        posts = re.findall(r'<form[^>]*method="post"[^>]*action="([^"]*)"', page)
        assert [p for p in posts if p != "/logout"] == ["/audit/verify"], posts
        assert page.count('method="post"') == len(posts)
    assert client.post("/audit").status_code in (403, 405)


def test_other_roles_cannot_read_the_trail(client: TestClient, login_as: Login) -> None:
    for role in (Role.SYSTEM_ADMIN, Role.SECURITY_ADMIN, Role.OPERATOR):
        login_as(role)
        for path in ("/audit", "/audit/export.csv", "/audit/verify"):
            assert client.get(path).status_code == 403, (role, path)
        assert client.post("/audit/verify", data={"csrf_token": ""}).status_code == 403


def test_viewing_exporting_and_verifying_the_trail_are_themselves_recorded(
    client: TestClient, session: Session, login_as: Login
) -> None:
    _seed(session, 2)
    admin = login_as(Role.AUDIT_ADMIN)
    client.get("/audit", params={"action": "data.", "subject_id": 101})
    client.get("/audit/export.csv", params={"action": "consent."})
    client.post("/audit/verify", data={"csrf_token": admin.csrf})
    watched = service.list_events(session, flt=service.EventFilter(object_type="audit_trail"))
    assert [e.action for e in reversed(watched)] == ["audit.view", "audit.export", "audit.verify"]
    assert {e.actor_role for e in watched} == {"audit_admin"}
    assert {e.actor_id for e in watched} == {admin.user.id}
    view, export, verify = reversed(watched)
    assert view.content["detail"] == {
        "filter_action": "data.",
        "filter_subject_id": 101,
        "page": 1,
    }
    assert export.content["detail"] == {"filter_action": "consent."}
    assert verify.content["detail"]["ok"] is True
    # The next look at the trail shows the earlier ones.
    page = client.get("/audit", params={"action": "audit."})
    assert len(table_rows(page.text, "audit-events")) == 3


def test_filter_dates_at_the_calendars_ends_are_clamped_not_500(
    client: TestClient, session: Session, login_as: Login
) -> None:
    """Issue 22 finding 5: `until=9999-12-31` (the day after overflowed) and `since=0001-01-01`
    (Beijing midnight is the year before in UTC) answered 500."""
    _seed(session)
    login_as(Role.AUDIT_ADMIN)
    for query in ("until=9999-12-31", "since=0001-01-01", "since=0001-01-01&until=9999-12-31"):
        page = client.get(f"/audit?{query}")
        assert page.status_code == 200, (query, page.text[:300])
        assert len(table_rows(page.text, "audit-events")) >= 3
        export = client.get(f"/audit/export.csv?{query}")
        assert export.status_code == 200, query
