"""Issue 23 on the operator's and everyone's access desks: the institutions list filters, sorts,
pages and exports; waiting registrations are marked overdue; and every access form that is refused
comes back with what was typed and a Chinese message at the field."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable
from datetime import timedelta

from fastapi.testclient import TestClient
from openpyxl import load_workbook
from sqlalchemy import func, select
from sqlalchemy.orm import Session

import factories
from creditbridge.access import domain, service
from creditbridge.access.models import Attempt, User
from creditbridge.core.actors import CONSOLE, Role
from creditbridge.core.clock import utc_now
from web import conftest as web_fixtures
from web.conftest import LoggedIn
from web.helpers import csrf_from, table_rows

from .conftest import PASSWORD, SETTINGS, make_subject

app = web_fixtures.app
client = web_fixtures.client
login_as = web_fixtures.login_as

Login = Callable[..., LoggedIn]


def _banks(session: Session) -> None:
    factories.institution(session, code="hf-bank", name="合肥农商银行", division_code="340100")
    factories.institution(session, code="wh-bank", name="芜湖扬子银行", division_code="340202")
    factories.institution(
        session, code="hf-guar", name="合肥担保", kind="guarantor", division_code="340104"
    )
    factories.institution(session, code="js-bank", name="江苏银行", division_code="320100")
    factories.institution(session, code="new-bank", name="新申请银行", status="applied")


def test_the_institutions_list_filters_by_kind_status_and_region(
    client: TestClient, login_as: Login, session: Session
) -> None:
    _banks(session)
    login_as(Role.OPERATOR)

    def codes(**params: str) -> list[str]:
        page = client.get("/operator/institutions", params=params)
        assert page.status_code == 200
        return [row[0] for row in table_rows(page.text, "institutions")]

    assert codes(kind="guarantor") == ["hf-guar"]
    assert codes(status="applied") == ["new-bank"]
    # A city lists what lies within it, its counties included; a province its whole area.
    assert codes(region="340100") == ["hf-bank", "hf-guar", "new-bank"]
    assert codes(region="340000") == ["hf-bank", "hf-guar", "new-bank", "wh-bank"]
    assert codes(q="芜湖") == ["wh-bank"]
    assert codes(region="junk") == codes()  # a junk link shows the whole list, not a 422


def test_the_institutions_list_sorts_and_pages_keeping_the_filters(
    client: TestClient, login_as: Login, session: Session
) -> None:
    for n in range(25):
        factories.institution(session, code=f"b{n:02d}", name=f"银行{n:02d}")
    login_as(Role.OPERATOR)
    first = client.get("/operator/institutions", params={"kind": "bank", "sort": "-code"})
    assert [row[0] for row in table_rows(first.text, "institutions")][:2] == ["b24", "b23"]
    assert len(table_rows(first.text, "institutions")) == 20
    # The next page's link keeps the kind and the sort.
    link = re.search(r'href="([^"]*page=2[^"]*)"', first.text)
    assert link is not None
    assert "kind=bank" in link.group(1)
    assert "sort=-code" in link.group(1)
    second = client.get(link.group(1).replace("&amp;", "&"))
    assert [row[0] for row in table_rows(second.text, "institutions")] == [
        "b04",
        "b03",
        "b02",
        "b01",
        "b00",
    ]
    # An unknown column never reaches the query: the default order is used.
    odd = client.get("/operator/institutions", params={"sort": "password_hash"})
    assert odd.status_code == 200
    assert table_rows(odd.text, "institutions")[0][0] == "b00"


def test_the_institutions_export_is_the_whole_filtered_list(
    client: TestClient, login_as: Login, session: Session
) -> None:
    _banks(session)
    factories.institution(session, code="evil", name='=HYPERLINK("http://x")')
    login_as(Role.OPERATOR)
    page = client.get("/operator/institutions", params={"region": "340100", "size": "1"})
    link = re.search(r'href="([^"]*)"[^>]*data-testid="institutions-export-csv"', page.text)
    assert link is not None
    assert "region=340100" in link.group(1)
    assert "size=" not in link.group(1)
    exported = client.get(link.group(1).replace("&amp;", "&"))
    assert exported.status_code == 200
    assert exported.headers["content-type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(exported.text.lstrip("\ufeff"))))
    assert rows[0][:3] == ["机构代码", "机构名称", "机构类型"]
    assert [row[0] for row in rows[1:]] == ["evil", "hf-bank", "hf-guar", "new-bank"]
    assert rows[1][1] == """'=HYPERLINK("http://x")"""  # never run as a formula
    assert rows[2][2] == "银行"
    assert rows[2][4] == "合肥市"

    xlsx = client.get("/operator/institutions/export.xlsx", params={"q": "evil"})
    sheet = load_workbook(io.BytesIO(xlsx.content)).active
    assert sheet is not None
    cells = list(sheet.iter_rows(min_row=2, values_only=True))
    assert cells[0][1] == '=HYPERLINK("http://x")'  # text, never a formula
    assert sheet.cell(row=2, column=2).data_type == "s"


def test_a_refused_application_keeps_what_was_typed(
    client: TestClient, login_as: Login, session: Session
) -> None:
    operator = login_as(Role.OPERATOR)
    refused = client.post(
        "/operator/institutions",
        data={
            "code": "x",
            "name": "徽商银行",
            "kind": "guarantor",
            "division_code": "34010",
            "uscc": "",
            "csrf_token": operator.csrf,
        },
    )
    assert refused.status_code == 422
    assert 'data-testid="institution-apply"' in refused.text
    assert 'value="徽商银行"' in refused.text
    assert 'value="34010"' in refused.text
    assert re.search(r'<option value="guarantor" selected>', refused.text)
    assert 'data-testid="error-code"' in refused.text
    assert "行政区划代码为 6 位数字" in refused.text
    assert service.count_institutions(session) == 0


def test_registrations_waiting_too_long_are_marked_overdue(
    client: TestClient, login_as: Login, session: Session
) -> None:
    subject = make_subject(session)
    first = service.register_enterprise_user(
        session,
        uscc=subject.uscc,
        legal_rep_name="张三",
        id_tail="01123X",
        username="first-user",
        display_name="第一位",
        password=PASSWORD,
        settings=SETTINGS,
    )
    assert first.status == "active"
    waiting = []
    for name, days in (("old-one", domain.REGISTRATION_REVIEW_DAYS + 2), ("new-one", 0)):
        user = service.register_enterprise_user(
            session,
            uscc=subject.uscc,
            legal_rep_name="张三",
            id_tail="01123X",
            username=name,
            display_name=name,
            password=PASSWORD,
            settings=SETTINGS,
        )
        user.created_at = utc_now() - timedelta(days=days)
        waiting.append(user)
    session.flush()
    operator = login_as(Role.OPERATOR)
    page = client.get("/operator/registrations")
    cards = re.findall(r'data-testid="registration" data-overdue="(true|false)"', page.text)
    assert cards == ["true", "false"]  # the oldest first
    assert "逾期 2 天" in page.text
    assert subject.name in page.text
    assert 'data-testid="registrations-overdue"' in page.text

    # A decision without its evidence comes back at the field, the card still there.
    refused = client.post(
        f"/operator/registrations/{waiting[0].id}",
        data={"approve": "1", "evidence": "  ", "csrf_token": operator.csrf},
    )
    assert refused.status_code == 422
    assert 'data-testid="error-evidence"' in refused.text
    assert "审核依据必填" in refused.text
    session.refresh(waiting[0])
    assert waiting[0].status == "pending"


def test_a_refused_invitation_keeps_the_name_and_username(
    client: TestClient, session: Session
) -> None:
    bank = factories.institution(session)
    issued = service.invite_institution_admin(session, CONSOLE, institution_id=bank.id)
    form = client.get(issued.path)
    refused = client.post(
        issued.path,
        data={
            "username": "li.si",
            "display_name": "李四",
            "password": "short",
            "csrf_token": csrf_from(form.text),
        },
    )
    assert refused.status_code == 422
    assert 'data-testid="invitation-form"' in refused.text
    assert 'value="li.si"' in refused.text
    assert 'value="李四"' in refused.text
    assert 'data-testid="error-password"' in refused.text
    assert "密码长度至少 10 位" in refused.text
    assert service.get_open_invitation(session, issued.token) is not None  # still usable


def test_a_refused_registration_keeps_its_input_and_still_counts(
    client: TestClient, session: Session
) -> None:
    subject = make_subject(session)
    form = client.get("/register")
    refused = client.post(
        "/register",
        data={
            "uscc": subject.uscc,
            "legal_rep_name": "王五",
            "id_tail": "999999",
            "username": "wang.wu",
            "display_name": "王五",
            "password": PASSWORD,
            "csrf_token": csrf_from(form.text),
        },
    )
    assert refused.status_code == 422
    assert 'data-testid="register-form"' in refused.text
    assert f'value="{subject.uscc}"' in refused.text
    assert 'value="wang.wu"' in refused.text
    assert 'value="999999"' not in refused.text  # the identity tail is not sent back
    assert 'data-testid="error-uscc"' in refused.text
    assert "不匹配" in refused.text
    # The failed check is on record although the request was refused (issue 21, finding 3).
    counted = session.scalar(select(func.count()).select_from(Attempt))
    assert counted
    assert session.scalar(select(User).where(User.username == "wang.wu")) is None
