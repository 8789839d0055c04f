"""Long work of reports as jobs of the worker, through the real application on both stores: the
aggregates' recomputation queued by its button and shown queued → done by the polled status
fragment; a PDF made by the worker for the user who asked, the same report the request would
have issued, audited alike, listed among the user's notices and downloadable by that user
alone; a PDF refused for lack of a render slot offers the job instead of an error page."""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from creditbridge.audit.models import AuditEvent
from creditbridge.consent import service as consent_service
from creditbridge.core.actors import Role
from creditbridge.core.config import Settings
from creditbridge.jobs.models import JobRun
from creditbridge.jobs.registry import REGISTRY, Registry
from creditbridge.jobs.worker import Worker
from creditbridge.reports import analytics, service
from creditbridge.reports import jobs as report_jobs
from creditbridge.reports.models import ReportIssuance
from creditbridge.subjects.models import Subject
from web import conftest as web_fixtures
from web.conftest import LoggedIn, app_in_test_transaction

from .conftest import World, grant_consent

login_as = web_fixtures.login_as
Login = Callable[..., LoggedIn]
# The worker of these tests runs the reports' jobs only: the schedule's would run too otherwise.
REPORT_JOBS = Registry(
    [REGISTRY.get_or_raise(report_jobs.AGGREGATES_JOB), REGISTRY.get_or_raise(report_jobs.PDF_JOB)]
)


@pytest.fixture
def settings(engine: Engine, tmp_path: Path) -> Settings:
    # The worker keeps its PDFs under the data folder: a test's own, whatever the store.
    return Settings(
        database_url=engine.url.render_as_string(hide_password=False), data_dir=tmp_path
    )


@pytest.fixture
def app(engine: Engine, session: Session, settings: Settings) -> FastAPI:
    return app_in_test_transaction(settings, engine, session)


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app, raise_server_exceptions=False) as test_client:
        yield test_client


@pytest.fixture
def run_worker(app: FastAPI, engine: Engine, settings: Settings) -> Callable[[], dict[str, Any]]:
    """One pass of a real worker, its transactions joined to the test's (as the app's are)."""

    def run_once() -> dict[str, Any]:
        worker = Worker(settings, worker_id="test-worker", engine=engine, registry=REPORT_JOBS)
        worker.sessionmaker = app.state.sessionmaker
        return worker.run_once()

    return run_once


RunWorker = Callable[[], dict[str, Any]]


def _runs(session: Session, job: str) -> list[JobRun]:
    return list(session.scalars(select(JobRun).where(JobRun.job == job)))


def _ask_pdf(client: TestClient, uscc: str, csrf: str, **data: str) -> Any:
    """The "notify me" button of a report's PDF."""
    return client.post(
        f"/reports/{uscc}/pdf/notify",
        data={"csrf_token": csrf, **data},
        follow_redirects=False,
    )


def _htmx(csrf: str) -> dict[str, str]:
    return {"HX-Request": "true", "X-CSRF-Token": csrf}


def _status(html: str) -> str:
    found = re.search(r'data-testid="agg-status"\s+data-status="([a-z]+)"', html)
    assert found, html[:2000]
    return found.group(1)


class TestAggregatesRefresh:
    def test_refresh_is_queued_and_the_status_moves_from_queued_to_done(
        self,
        client: TestClient,
        session: Session,
        world: World,
        login_as: Login,
        run_worker: RunWorker,
    ) -> None:
        operator = login_as(Role.OPERATOR)
        queued = client.post(
            "/aggregates/refresh", data={"csrf_token": operator.csrf}, headers=_htmx(operator.csrf)
        )
        assert queued.status_code == 200, queued.text[:2000]
        assert _status(queued.text) == "queued"
        assert "已排队" in queued.text
        # Nothing computed in the request: the figures wait for the worker.
        assert analytics.latest(session) is None
        run_id = int(re.search(r"run=(\d+)", queued.text).group(1))  # type: ignore[union-attr]
        # The fragment polls itself every 2 s while the work is pending.
        assert 'hx-trigger="every 2s"' in queued.text

        # Pressing again while it waits queues nothing more.
        again = client.post(
            "/aggregates/refresh", data={"csrf_token": operator.csrf}, headers=_htmx(operator.csrf)
        )
        assert f"run={run_id}" in again.text
        runs = _runs(session, "reports.aggregates")
        assert [r.id for r in runs] == [run_id]

        polled = client.get(f"/aggregates/status?run={run_id}&shown=0")
        assert _status(polled.text) == "queued"
        assert "HX-Refresh" not in polled.headers

        done = run_worker()
        assert [(r["job"], r["outcome"]) for r in done["runs"]] == [
            ("reports.aggregates", "succeeded")
        ]
        latest = analytics.latest(session)
        assert latest is not None
        assert latest.computed_by == operator.user.username  # named after who asked

        polled = client.get(f"/aggregates/status?run={run_id}&shown=0")
        assert _status(polled.text) == "succeeded"
        assert "已完成 于" in polled.text
        assert "every 2s" not in polled.text  # done: the polling stops
        assert polled.headers.get("HX-Refresh") == "true"  # and the page reloads its figures
        # A page already showing these figures is not reloaded again.
        settled = client.get(f"/aggregates/status?run={run_id}&shown={latest.id}")
        assert "HX-Refresh" not in settled.headers

        page = client.get("/aggregates")
        assert 'id="agg-charts"' in page.text
        assert 'data-status="succeeded"' in page.text
        # The request was the operator's, audited; the computation is audited as the worker's.
        actions = set(session.scalars(select(AuditEvent.action)))
        assert {"job.enqueue", "report.aggregates"} <= actions

    def test_without_htmx_the_button_queues_and_returns_to_the_page(
        self, client: TestClient, session: Session, world: World, login_as: Login
    ) -> None:
        operator = login_as(Role.OPERATOR)
        response = client.post(
            "/aggregates/refresh", data={"csrf_token": operator.csrf}, follow_redirects=False
        )
        assert response.status_code == 303
        page = client.get("/aggregates")
        assert 'data-status="queued"' in page.text

    def test_only_operators_queue_or_poll(
        self, client: TestClient, session: Session, world: World, login_as: Login
    ) -> None:
        officer = login_as(Role.INSTITUTION_OFFICER, institution_id=world.bank.id)
        refused = client.post("/aggregates/refresh", data={"csrf_token": officer.csrf})
        assert refused.status_code == 403
        assert client.get("/aggregates/status?run=1").status_code == 403
        assert _runs(session, "reports.aggregates") == []

    def test_a_status_of_another_job_is_not_found(
        self, client: TestClient, session: Session, world: World, login_as: Login
    ) -> None:
        login_as(Role.OPERATOR)
        from creditbridge.jobs import service as jobs_service

        other = jobs_service.enqueue(session, "tests", "jobs.selftest", {})
        assert client.get(f"/aggregates/status?run={other.id}").status_code == 404


def _content_without_identity(content: dict[str, Any]) -> dict[str, Any]:
    """A report's content less what makes each issuance unique (its number and time)."""
    return {k: v for k, v in content.items() if k not in ("report_no", "issued_at")}


class TestPdfAsAJob:
    def test_the_worker_issues_the_pdf_for_the_requester_who_alone_downloads_it(
        self,
        client: TestClient,
        session: Session,
        settings: Settings,
        world: World,
        login_as: Login,
        run_worker: RunWorker,
    ) -> None:
        operator = login_as(Role.OPERATOR)
        asked = _ask_pdf(client, world.subject.uscc, operator.csrf)
        assert asked.status_code == 303
        assert asked.headers["location"] == "/report-files?queued=1"
        waiting = client.get("/report-files?queued=1")
        assert 'data-testid="ready-queued"' in waiting.text
        assert 'data-status="queued"' in waiting.text
        assert session.scalars(select(ReportIssuance)).all() == []

        done = run_worker()
        assert [(r["job"], r["outcome"]) for r in done["runs"]] == [("reports.pdf", "succeeded")]
        issuance = session.scalars(select(ReportIssuance)).one()
        # Issued as the user who asked, as the synchronous path issues it.
        assert (issuance.actor_kind, issuance.actor_id) == ("user", operator.user.id)
        assert issuance.format == "pdf"
        assert issuance.audience == "public"

        notices = client.get("/report-files")
        assert 'data-status="succeeded"' in notices.text
        assert "合肥样例科技有限公司" in notices.text
        link = f"/report-files/{issuance.report_no}.pdf"
        assert link in notices.text
        pdf = client.get(link)
        assert pdf.status_code == 200
        assert pdf.headers["content-type"] == "application/pdf"
        assert pdf.content.startswith(b"%PDF")
        checked = service.verify_file(session, pdf.content)
        assert checked.ok
        assert checked.report_no == issuance.report_no

        # The same report as the request would have issued for the same data.
        job_actor = report_jobs.actor_of(session.get(JobRun, done["runs"][0]["run_id"]).args)  # type: ignore[union-attr]
        synchronous = service.issue_report(
            session, job_actor, subject_id=world.subject.id, fmt="pdf", settings=settings
        )
        stored = Path(settings.data_root / "report-files" / f"{issuance.report_no}.pdf")
        assert stored.read_bytes() == pdf.content
        assert synchronous.content_digest != issuance.content_digest  # its own number and time
        assert issuance.sections == [s["code"] for s in synchronous.content["sections"]]
        assert issuance.file_size > 0
        assert synchronous.data.startswith(b"%PDF")

        # Audited as the synchronous one is: the request, the issuance, the fetch.
        events = session.scalars(
            select(AuditEvent).where(AuditEvent.actor_id == operator.user.id)
        ).all()
        issued = [e for e in events if e.action == "report.issue"]
        assert issued
        assert issued[0].object_id == issuance.report_no
        # The same records as the request's report, the same sections: the same data version.
        assert issued[0].facts["detail"]["records"] == synchronous.content["summary"]["records"]
        assert {"report.pdf_requested", "report.fetch"} <= {e.action for e in events}

        # Another user, even of the same role, learns nothing of it.
        login_as(Role.OPERATOR)
        assert client.get(link).status_code == 404
        assert issuance.report_no not in client.get("/report-files").text
        login_as(Role.ENTERPRISE_USER)
        assert client.get(link).status_code == 404

    def test_an_institution_fetch_passes_the_consent_gate_again(
        self,
        client: TestClient,
        session: Session,
        world: World,
        login_as: Login,
        run_worker: RunWorker,
    ) -> None:
        grant = grant_consent(session, world)
        officer = login_as(Role.INSTITUTION_OFFICER, institution_id=world.bank.id)
        asked = _ask_pdf(client, world.subject.uscc, officer.csrf, consent_id=str(grant.id))
        assert asked.status_code == 303
        run_worker()
        issuance = session.scalars(select(ReportIssuance)).one()
        assert issuance.audience == "consented"
        assert issuance.consent_id == grant.id
        link = f"/report-files/{issuance.report_no}.pdf"
        assert client.get(link).status_code == 200

        consent_service.revoke(session, world.owner, consent_id=grant.id)
        refused = client.get(link)
        assert refused.status_code == 403
        assert "授权已失效" in refused.text

    def test_a_consent_of_another_institution_is_refused_at_once(
        self, client: TestClient, session: Session, world: World, login_as: Login
    ) -> None:
        grant = grant_consent(session, world)
        other = login_as(Role.INSTITUTION_OFFICER, institution_id=world.other_bank.id)
        refused = _ask_pdf(client, world.subject.uscc, other.csrf, consent_id=str(grant.id))
        assert refused.status_code == 404
        assert _runs(session, "reports.pdf") == []

    def test_no_render_slot_offers_the_job_instead_of_an_error_page(
        self, app: FastAPI, client: TestClient, session: Session, world: World, login_as: Login
    ) -> None:
        operator = login_as(Role.OPERATOR)
        app.state.pdf_slots = threading.BoundedSemaphore(1)
        assert app.state.pdf_slots.acquire(blocking=False)  # every slot taken
        busy = client.post(f"/reports/{world.subject.uscc}/pdf", data={"csrf_token": operator.csrf})
        assert busy.status_code == 503
        assert busy.headers["Retry-After"] == "2"
        assert 'data-testid="issue-busy"' in busy.text
        assert 'data-testid="issue-notify"' in busy.text
        assert "生成后通知我" in busy.text
        assert session.scalars(select(ReportIssuance)).all() == []

    def test_an_enterprise_gets_its_own_full_report_from_the_worker(
        self,
        client: TestClient,
        session: Session,
        world: World,
        login_as: Login,
        run_worker: RunWorker,
    ) -> None:
        owner = login_as(Role.ENTERPRISE_USER)
        subject = session.get(Subject, owner.user.subject_id)
        assert subject is not None
        self_page = client.get("/me/report")
        assert 'data-testid="self-pdf-notify"' in self_page.text
        asked = _ask_pdf(client, subject.uscc, owner.csrf)
        assert asked.status_code == 303
        run_worker()
        issuance = session.scalars(select(ReportIssuance)).one()
        assert issuance.audience == "owner"
        assert issuance.subject_id == subject.id
        assert client.get(f"/report-files/{issuance.report_no}.pdf").status_code == 200
