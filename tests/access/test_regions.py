"""Issue 23, "Operators by region": an operator belongs to a province, city or county, set by the
system admin (page, console) and carried into its actor; the rule that says which division covers
which; and the user list that filters and pages."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import select
from sqlalchemy.orm import Session
from typer.testing import CliRunner

import factories
from creditbridge.access import domain, service
from creditbridge.access.models import LoginSession
from creditbridge.audit import service as audit_service
from creditbridge.cli.app import app as cli_app
from creditbridge.core.actors import CONSOLE, Actor, ActorKind, Role
from creditbridge.core.errors import Forbidden, ValidationFailed
from creditbridge.demo.logins import ensure_demo_logins
from creditbridge.reference import divisions
from creditbridge.reference.divisions import division_covers, division_level
from web import conftest as web_fixtures
from web.conftest import LoggedIn
from web.helpers import table_rows

from .conftest import PASSWORD, SETTINGS, full_login
from .test_demo_logins import _reset_cli_caches

app = web_fixtures.app
client = web_fixtures.client
login_as = web_fixtures.login_as

Login = Callable[..., LoggedIn]


# --- the rule ----------------------------------------------------------------------------------


def test_a_division_covers_itself_and_what_lies_within() -> None:
    assert division_covers("340000", "340104")  # province → county
    assert division_covers("340100", "340104")  # city → its county
    assert division_covers("340104", "340104")  # county → itself
    assert division_covers("340100", "340100123")  # city → one of its townships
    assert not division_covers("340100", "340200")  # not a sibling city
    assert not division_covers("340104", "340102")  # nor a sibling county
    assert not division_covers("340104", "340100")  # nor its own city
    assert not division_covers("340000", "320100")  # nor another province
    assert division_covers(None, "340104")
    assert division_covers(None, None)
    assert not division_covers("340000", None)  # nothing claims what has no division
    assert not division_covers("34", "340104")  # a malformed code covers nothing


def test_division_levels_come_from_the_data_and_the_shape_of_the_code() -> None:
    assert division_level("340000") == "province"
    assert division_level("340100") == "city"
    assert division_level("340104") == "county"
    assert division_level("110105") == "county"  # Beijing's districts are not in the data
    assert division_level("3401") is None


@given(
    st.from_regex(r"[1-6][0-9]{5}", fullmatch=True), st.from_regex(r"[1-6][0-9]{5}", fullmatch=True)
)
def test_coverage_follows_the_levels(operator: str, subject: str) -> None:
    # Every division covers itself; the province of a subject covers it; and coverage never
    # crosses a province.
    assert division_covers(operator, operator)
    assert division_covers(subject[:2] + "0000", subject)
    if division_covers(operator, subject):
        assert operator[:2] == subject[:2]


# --- the account -------------------------------------------------------------------------------


def test_an_operator_is_created_with_a_division_and_acts_within_it(session: Session) -> None:
    user = factories.account(
        session, Role.OPERATOR, username="hefei-op", password=PASSWORD, division_code="340100"
    )
    assert user.division_code == "340100"
    assert service.actor_for_user(user).division_code == "340100"
    created = audit_service.list_events(
        session, flt=audit_service.EventFilter(action="user.create", object_id=str(user.id))
    )
    assert created[0].content["detail"]["division_code"] == "340100"
    node_wide = factories.account(session, Role.OPERATOR, username="node-op", password=PASSWORD)
    assert node_wide.division_code is None
    assert service.actor_for_user(node_wide).division_code is None


ABOLISHED = next(d.code for d in divisions.all_divisions() if not d.is_current)


@pytest.mark.parametrize(
    ("code", "message"),
    [("3401", "6 位数字"), ("349999", "不存在"), ("990000", "不存在"), (ABOLISHED, "已撤销")],
)
def test_a_bad_division_is_refused_at_its_field(session: Session, code: str, message: str) -> None:
    with pytest.raises(ValidationFailed) as refused:
        service.create_user(
            session,
            CONSOLE,
            username="bad-div",
            display_name="错",
            password=PASSWORD,
            role=Role.OPERATOR,
            division_code=code,
        )
    assert [issue.field for issue in refused.value.issues] == ["division_code"]
    assert message in refused.value.issues[0].message
    assert service.get_user_by_username(session, "bad-div") is None


def test_only_an_operator_belongs_to_a_division(session: Session) -> None:
    provider = factories.provider(session)
    with pytest.raises(ValidationFailed) as refused:
        service.create_user(
            session,
            CONSOLE,
            username="prov-div",
            display_name="提供单位",
            password=PASSWORD,
            role=Role.PROVIDER_USER,
            provider_id=provider.id,
            division_code="340100",
        )
    assert refused.value.issues[0].field == "division_code"


def test_the_system_admin_moves_an_operator_and_its_sessions_end(session: Session) -> None:
    user = factories.account(session, Role.OPERATOR, username="mover", password=PASSWORD)
    secret = service.start_totp_enrolment(session, user, settings=SETTINGS)
    user.totp_enabled = True
    session.flush()
    full_login(session, user, secret)
    admin = Actor(kind=ActorKind.USER, id=9999, name="sysadmin", role=Role.SYSTEM_ADMIN)

    service.set_division(session, admin, user_id=user.id, division_code="340104")

    assert user.division_code == "340104"
    open_sessions = session.scalars(
        select(LoginSession).where(LoginSession.user_id == user.id, LoginSession.ended_at.is_(None))
    ).all()
    assert open_sessions == []
    moved = audit_service.list_events(
        session, flt=audit_service.EventFilter(action="user.set_division")
    )
    assert moved[0].content["detail"] == {"from": None, "to": "340104"}
    operator = Actor(kind=ActorKind.USER, id=1, name="op", role=Role.OPERATOR)
    with pytest.raises(Forbidden):
        service.set_division(session, operator, user_id=user.id, division_code=None)


def test_the_console_creates_an_operator_with_a_division(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CREDITBRIDGE_DATABASE_URL", f"sqlite:///{tmp_path / 'cli.db'}")
    _reset_cli_caches()
    try:
        runner = CliRunner()
        assert runner.invoke(cli_app, ["db", "upgrade"]).exit_code == 0
        made = runner.invoke(
            cli_app,
            ["users", "create", "wuhu-op", "--role", "operator", "--division", "340200",
             "--password", "Anhui#Staff-2026x"],
        )  # fmt: skip
        refused = runner.invoke(
            cli_app,
            ["users", "create", "bad-op", "--role", "operator", "--division", "999999",
             "--password", "Anhui#Staff-2026x"],
        )  # fmt: skip
        listed = runner.invoke(cli_app, ["users", "list", "--json"])
    finally:
        _reset_cli_caches()
    assert made.exit_code == 0, made.output
    assert "340200" in made.stdout
    assert refused.exit_code != 0
    assert "行政区划" in refused.output
    rows = {row["username"]: row for row in json.loads(listed.stdout)}
    assert rows["wuhu-op"]["division_code"] == "340200"
    assert "bad-op" not in rows


def test_the_demo_has_an_operator_at_each_level(session: Session) -> None:
    logins = ensure_demo_logins(session, CONSOLE, settings=SETTINGS)
    regional = {
        login.username: login.division_code
        for login in logins
        if login.username.startswith("demo-operator-")
    }
    province, city, county = (
        regional["demo-operator-province"],
        regional["demo-operator-city"],
        regional["demo-operator-county"],
    )
    assert [division_level(c) for c in (province, city, county)] == ["province", "city", "county"]
    assert division_covers(province, city)
    assert division_covers(city, county)
    user = service.get_user_by_username(session, "demo-operator-county")
    assert user is not None
    assert service.actor_for_user(user).division_code == county


# --- the pages ---------------------------------------------------------------------------------


def test_a_refused_new_user_keeps_what_was_typed(
    client: TestClient, login_as: Login, session: Session
) -> None:
    admin = login_as(Role.SYSTEM_ADMIN)
    refused = client.post(
        "/admin/users",
        data={
            "username": "city-op",
            "display_name": "市级运营",
            "password": "Hefei#Staff-2026x",
            "role": "operator",
            "division_code": "3401",
            "csrf_token": admin.csrf,
        },
    )
    assert refused.status_code == 422
    assert 'data-testid="user-create"' in refused.text  # the form, not an error page
    assert 'value="city-op"' in refused.text
    assert 'value="市级运营"' in refused.text
    assert 'value="3401"' in refused.text
    assert 'data-testid="error-division_code"' in refused.text
    assert "行政区划代码应为 6 位数字" in refused.text
    assert "Hefei#Staff-2026x" not in refused.text  # a password is never echoed
    assert service.get_user_by_username(session, "city-op") is None

    made = client.post(
        "/admin/users",
        data={
            "username": "city-op",
            "display_name": "市级运营",
            "password": "Hefei#Staff-2026x",
            "role": "operator",
            "division_code": "340100",
            "csrf_token": admin.csrf,
        },
        follow_redirects=False,
    )
    assert made.status_code == 303
    detail = client.get(made.headers["location"])
    assert "合肥市（340100）" in detail.text


def test_the_system_admin_changes_a_division_on_the_user_page(
    client: TestClient, login_as: Login, session: Session
) -> None:
    operator = factories.account(session, Role.OPERATOR, username="op-move", password=PASSWORD)
    admin = login_as(Role.SYSTEM_ADMIN)
    url = f"/admin/users/{operator.id}/division"
    refused = client.post(url, data={"division_code": "349999", "csrf_token": admin.csrf})
    assert refused.status_code == 422
    assert 'value="349999"' in refused.text
    assert "行政区划代码不存在" in refused.text
    done = client.post(url, data={"division_code": "340200", "csrf_token": admin.csrf})
    assert done.status_code == 200  # followed to the user page
    assert 'data-testid="user-division">芜湖市（340200）' in done.text
    session.refresh(operator)
    assert operator.division_code == "340200"


def test_the_user_list_filters_by_role_and_status_and_pages(
    client: TestClient, login_as: Login, session: Session
) -> None:
    for n in range(23):
        factories.account(session, Role.OPERATOR, username=f"op{n:02d}", password=PASSWORD)
    login_as(Role.SYSTEM_ADMIN)
    first = client.get("/admin/users", params={"role": "operator"})
    rows = table_rows(first.text, "users")
    assert len(rows) == 20
    assert all(row[2] == "平台运营人员" for row in rows)
    second = client.get("/admin/users", params={"role": "operator", "page": 2})
    assert [row[0] for row in table_rows(second.text, "users")] == ["op20", "op21", "op22"]
    assert "role=operator" in second.text  # page links keep the filter
    found = client.get("/admin/users", params={"q": "op07"})
    assert [row[0] for row in table_rows(found.text, "users")] == ["op07"]
    none = client.get("/admin/users", params={"role": "operator", "status": "disabled"})
    assert table_rows(none.text, "users") == []
    assert 'data-testid="no-users"' in none.text


def test_an_officer_still_sees_only_colleagues(session: Session) -> None:
    bank = factories.institution(session)
    officer = factories.officer(bank, id=1)
    factories.account(session, Role.OPERATOR, username="not-a-colleague", password=PASSWORD)
    assert service.count_users(session, officer) == 0
    assert domain.division_issues(Role.OPERATOR, None) == []
