"""The notice (站内消息) of a PDF made by the worker: the requester alone is told it is ready,
with its download, or that it failed; a run delivered twice tells once; reading the notices
(opening them, fetching the PDF) marks them read for that user only."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from creditbridge.consent import service as consent_service
from creditbridge.core.actors import Actor, ActorKind, Role
from creditbridge.core.config import Settings
from creditbridge.jobs.models import JobRun
from creditbridge.reports import jobs as report_jobs
from creditbridge.reports.models import ReportIssuance, ReportNotice
from web import conftest as web_fixtures
from web.conftest import LoggedIn

from . import test_report_jobs as job_fixtures
from .conftest import World, grant_consent
from .test_report_jobs import RunWorker

login_as = web_fixtures.login_as
# The same settings, app, client and worker as the report jobs' tests.
settings = job_fixtures.settings
app = job_fixtures.app
client = job_fixtures.client
run_worker = job_fixtures.run_worker
Login = Callable[..., LoggedIn]
SUBJECT_NAME = "合肥样例科技有限公司"


def _ask_pdf(client: TestClient, uscc: str, csrf: str, **data: str) -> None:
    asked = client.post(
        f"/reports/{uscc}/pdf/notify",
        data={"csrf_token": csrf, **data},
        follow_redirects=False,
    )
    assert asked.status_code == 303, asked.text[:2000]


def _user(logged: LoggedIn, role: Role) -> Actor:
    return Actor(kind=ActorKind.USER, id=logged.user.id, name=logged.user.username, role=role)


def _pdf_run(session: Session) -> JobRun:
    return session.scalars(select(JobRun).where(JobRun.job == report_jobs.PDF_JOB)).one()


def _notice_count(session: Session) -> int:
    return int(session.scalar(select(func.count()).select_from(ReportNotice)) or 0)


class TestReady:
    def test_the_requester_alone_is_told_the_pdf_is_ready_with_its_download(
        self,
        client: TestClient,
        session: Session,
        world: World,
        login_as: Login,
        run_worker: RunWorker,
    ) -> None:
        other = login_as(Role.OPERATOR)
        operator = login_as(Role.OPERATOR)
        _ask_pdf(client, world.subject.uscc, operator.csrf)
        me = _user(operator, Role.OPERATOR)
        # Nothing to tell before the worker has run.
        assert report_jobs.list_notices(session, me, limit=5) == []

        run_worker()
        issuance = session.scalars(select(ReportIssuance)).one()
        [notice] = report_jobs.list_notices(session, me, limit=5)
        assert notice.kind == "ready"
        assert notice.report_no == issuance.report_no
        assert notice.href == f"/report-files/{issuance.report_no}.pdf"
        assert notice.message == f"您申请的信用报告（{SUBJECT_NAME}）已生成，可下载"
        assert notice.text("en") == (
            f"The credit report you asked for ({SUBJECT_NAME}) is ready to download"
        )
        assert notice.read_at is None
        assert report_jobs.count_unread(session, me) == 1
        # Another user, of the same role, is told nothing.
        assert report_jobs.list_notices(session, _user(other, Role.OPERATOR), limit=5) == []
        # The homes' messages card lists it, linked to the download.
        from creditbridge.web.homes import messages_for

        assert [(m.text, m.href) for m in messages_for(session, me)] == [
            (notice.message, notice.href)
        ]
        assert messages_for(session, _user(other, Role.OPERATOR)) == []

        page = client.get("/report-files")
        assert 'data-testid="report-notice" data-kind="ready" data-read="no"' in page.text
        assert notice.message in page.text
        # Fetching the PDF reads its notice.
        assert client.get(notice.href).status_code == 200
        [fetched] = report_jobs.list_notices(session, me, limit=5)
        assert fetched.read_at is not None
        assert report_jobs.count_unread(session, me) == 0

    def test_a_run_delivered_twice_tells_once_and_issues_once(
        self,
        client: TestClient,
        session: Session,
        settings: Settings,
        world: World,
        login_as: Login,
        run_worker: RunWorker,
    ) -> None:
        operator = login_as(Role.OPERATOR)
        _ask_pdf(client, world.subject.uscc, operator.csrf)
        run_worker()
        run = _pdf_run(session)
        assert run.status == "succeeded"
        assert run.args["request_key"]

        # The same run's work again (a second delivery of it): it finds its notice and stops.
        again = report_jobs.run_pdf(session, settings, dict(run.args))
        assert again["notice"] == run.summary["notice"]  # type: ignore[index]
        assert _notice_count(session) == 1
        assert len(session.scalars(select(ReportIssuance)).all()) == 1
        # As would a failure recorded for it late.
        report_jobs.pdf_failed(session, run.args)
        assert _notice_count(session) == 1

    def test_each_request_is_told_of_even_for_the_same_enterprise(
        self,
        client: TestClient,
        session: Session,
        world: World,
        login_as: Login,
        run_worker: RunWorker,
    ) -> None:
        operator = login_as(Role.OPERATOR)
        _ask_pdf(client, world.subject.uscc, operator.csrf)
        _ask_pdf(client, world.subject.uscc, operator.csrf)
        run_worker()
        notices = report_jobs.list_notices(session, _user(operator, Role.OPERATOR), limit=5)
        assert [n.kind for n in notices] == ["ready", "ready"]
        assert len({n.report_no for n in notices}) == 2


class TestFailed:
    def test_a_consent_revoked_before_the_run_tells_the_requester_it_failed(
        self,
        client: TestClient,
        session: Session,
        world: World,
        login_as: Login,
        run_worker: RunWorker,
    ) -> None:
        grant = grant_consent(session, world)
        officer = login_as(Role.INSTITUTION_OFFICER, institution_id=world.bank.id)
        _ask_pdf(client, world.subject.uscc, officer.csrf, consent_id=str(grant.id))
        consent_service.revoke(session, world.owner, consent_id=grant.id)

        done = run_worker()
        # Refused for good: not retried, nothing issued, the requester told.
        assert [(r["job"], r["outcome"]) for r in done["runs"]] == [("reports.pdf", "succeeded")]
        assert _pdf_run(session).summary["refused"]  # type: ignore[index]
        assert session.scalars(select(ReportIssuance)).all() == []
        me = Actor(
            kind=ActorKind.USER,
            id=officer.user.id,
            name=officer.user.username,
            role=Role.INSTITUTION_OFFICER,
            institution_id=world.bank.id,
        )
        [notice] = report_jobs.list_notices(session, me, limit=5)
        assert notice.kind == "failed"
        assert notice.message == f"您申请的信用报告（{SUBJECT_NAME}）生成失败，请重试"
        assert notice.href == f"/reports/{world.subject.uscc}/pdf"

        page = client.get("/report-files")
        assert 'data-kind="failed"' in page.text
        assert 'data-testid="ready-refused"' in page.text

    def test_a_run_failed_for_good_tells_the_requester_once(
        self, session: Session, world: World
    ) -> None:
        # What the worker calls when a PDF run is marked failed after its last attempt.
        args = {
            **report_jobs.actor_args(world.operator),
            "report_subject_id": world.subject.id,
            "request_key": "0123456789abcdef0123456789abcdef",
        }
        args["user_id"] = 4242
        report_jobs.pdf_failed(session, args)
        report_jobs.pdf_failed(session, args)
        reader = Actor(kind=ActorKind.USER, id=4242, name="reader", role=Role.OPERATOR)
        [notice] = report_jobs.list_notices(session, reader, limit=5)
        assert notice.kind == "failed"
        assert notice.report_no is None
        assert "生成失败，请重试" in notice.message
        stranger = Actor(kind=ActorKind.USER, id=4243, name="stranger", role=Role.OPERATOR)
        assert report_jobs.list_notices(session, stranger, limit=5) == []


class TestRead:
    def test_marking_read_touches_the_users_own_notices_only(
        self,
        client: TestClient,
        session: Session,
        world: World,
        login_as: Login,
        run_worker: RunWorker,
    ) -> None:
        first = login_as(Role.OPERATOR)
        _ask_pdf(client, world.subject.uscc, first.csrf)
        second = login_as(Role.OPERATOR)
        _ask_pdf(client, world.subject.uscc, second.csrf)
        run_worker()
        mine = _user(second, Role.OPERATOR)
        theirs = _user(first, Role.OPERATOR)
        their_ids = [n.id for n in report_jobs.list_notices(session, theirs, limit=5)]
        # Someone else's ids change nothing.
        assert report_jobs.mark_read(session, mine, notice_ids=their_ids) == 0

        page = client.get("/report-files")
        assert 'data-testid="notices-read"' in page.text
        read = client.post(
            "/report-files/read", data={"csrf_token": second.csrf}, follow_redirects=False
        )
        assert read.status_code == 303
        assert report_jobs.count_unread(session, mine) == 0
        assert report_jobs.count_unread(session, theirs) == 1
        assert 'data-testid="notices-read"' not in client.get("/report-files").text

    def test_only_people_have_notices(self, session: Session) -> None:
        system = Actor(kind=ActorKind.SYSTEM, id=None, name="system")
        assert report_jobs.list_notices(session, system, limit=5) == []
        assert report_jobs.mark_read(session, system) == 0

    def test_a_queued_run_refuses_a_malformed_request_key(self) -> None:
        args = {"user_id": 1, "name": "x", "role": "operator", "report_subject_id": 1}
        assert report_jobs.pdf_args({**args, "request_key": "a" * 32})["request_key"] == "a" * 32
        with pytest.raises(ValueError, match="request_key"):
            report_jobs.pdf_args({**args, "request_key": "not-hex"})
