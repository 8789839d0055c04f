"""Operators by region (issue 23): registrations awaiting review are seen and decided only by an
operator whose division holds the enterprise; another region's are "not found", on the page as in
the service."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

import factories
from creditbridge.access import service
from creditbridge.access.models import User
from creditbridge.core.actors import Role
from creditbridge.core.errors import NotFound
from creditbridge.presentation.errors import explain
from web import conftest as web_fixtures
from web.conftest import LOGIN_PASSWORD, LoggedIn

app = web_fixtures.app
client = web_fixtures.client
login_as = web_fixtures.login_as

# 瑶海区 and 庐阳区 of 合肥市, 镜湖区 of 芜湖市, all in 安徽省.
YAOHAI, LUYANG, JINGHU = "340102", "340103", "340202"


def _waiting(session: Session) -> dict[str, User]:
    """A registration waiting for review at an enterprise of each county."""
    waiting = {}
    for county in (YAOHAI, LUYANG, JINGHU):
        subject = factories.subject(session, division_code=county)
        user = factories.account(
            session,
            Role.ENTERPRISE_USER,
            username=f"waiting-{county}",
            password=LOGIN_PASSWORD,
            subject_id=subject.id,
        )
        user.status = "pending"
        waiting[county] = user
    session.flush()
    return waiting


@pytest.mark.parametrize(
    ("division", "counties"),
    [
        (None, {YAOHAI, LUYANG, JINGHU}),
        ("340000", {YAOHAI, LUYANG, JINGHU}),
        ("340100", {YAOHAI, LUYANG}),
        ("340200", {JINGHU}),
        (LUYANG, {LUYANG}),
    ],
)
def test_an_operator_lists_the_registrations_of_its_division(
    session: Session, division: str | None, counties: set[str]
) -> None:
    waiting = _waiting(session)
    operator = factories.operator(division_code=division)

    listed = {u.id for u in service.list_pending_registrations(session, operator)}

    assert listed == {waiting[c].id for c in counties}


def test_a_registration_outside_the_division_cannot_be_reviewed(session: Session) -> None:
    waiting = _waiting(session)
    hefei = factories.operator(division_code="340100")

    with pytest.raises(NotFound) as refused:
        service.review_registration(
            session, hefei, user_id=waiting[JINGHU].id, approve=True, evidence="营业执照已核"
        )

    assert refused.value.code == "CB-NOT-FOUND"
    assert refused.value.key == "error.access.no_pending_registration"
    assert explain("zh", refused.value) == "待批准的注册不存在"
    assert explain("en", refused.value) == "No such registration awaiting approval"
    session.refresh(waiting[JINGHU])
    assert waiting[JINGHU].status == "pending"


def test_a_county_operator_reviews_its_own_countys_registration(session: Session) -> None:
    waiting = _waiting(session)
    luyang = factories.operator(division_code=LUYANG)

    with pytest.raises(NotFound):
        service.review_registration(
            session, luyang, user_id=waiting[YAOHAI].id, approve=True, evidence="营业执照已核"
        )
    done = service.review_registration(
        session, luyang, user_id=waiting[LUYANG].id, approve=False, evidence="授权书不符"
    )

    assert done.status == "disabled"
    assert waiting[YAOHAI].status == "pending"


def test_a_province_operator_reviews_registrations_of_any_city(session: Session) -> None:
    waiting = _waiting(session)
    province = factories.operator(division_code="340000")

    for county in (YAOHAI, JINGHU):
        service.review_registration(
            session, province, user_id=waiting[county].id, approve=True, evidence="营业执照已核"
        )

    assert (waiting[YAOHAI].status, waiting[JINGHU].status) == ("active", "active")


def test_the_registrations_page_and_review_of_a_city_operator(
    client: TestClient, session: Session, login_as: Callable[..., LoggedIn]
) -> None:
    waiting = _waiting(session)
    me = login_as(Role.OPERATOR)
    # The actor is rebuilt from the account on every request: from now on it works for 芜湖.
    me.user.division_code = "340200"
    session.flush()

    queue = client.get("/operator/registrations").text
    assert f"waiting-{JINGHU}" in queue
    assert f"waiting-{YAOHAI}" not in queue
    home = client.get("/").text
    assert 'data-testid="card-registrations-value">1 条<' in home
    assert 'data-testid="home-division-scope"' in home

    elsewhere = client.post(
        f"/operator/registrations/{waiting[YAOHAI].id}",
        data={"approve": "1", "evidence": "营业执照已核", "csrf_token": me.csrf},
        follow_redirects=False,
    )
    assert elsewhere.status_code == 404
    own = client.post(
        f"/operator/registrations/{waiting[JINGHU].id}",
        data={"approve": "1", "evidence": "营业执照已核", "csrf_token": me.csrf},
        follow_redirects=False,
    )
    assert own.status_code == 303
    session.refresh(waiting[YAOHAI])
    session.refresh(waiting[JINGHU])
    assert (waiting[YAOHAI].status, waiting[JINGHU].status) == ("pending", "active")
