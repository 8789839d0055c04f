"""The operator's worker desk through the real application: the schedule with "run now", the
recent runs with their failures and attempts, and the outbox's deliveries of every institution
with their counts, filter and retry. Other roles are kept out."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from datetime import timedelta

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

import factories
from creditbridge.access.models import Institution
from creditbridge.audit.models import AuditEvent
from creditbridge.core.actors import CONSOLE, Role
from creditbridge.core.clock import utc_now
from creditbridge.core.config import Settings, WebhookSettings
from creditbridge.delivery import service as delivery_service
from creditbridge.delivery.models import Delivery, WebhookEndpoint
from creditbridge.jobs import service as jobs_service
from creditbridge.jobs.models import JobRun
from creditbridge.jobs.registry import REGISTRY
from web import conftest as web_fixtures
from web.conftest import LoggedIn, app_in_test_transaction
from web.helpers import table_rows, visible_text

login_as = web_fixtures.login_as
LOOPBACK = Settings(webhooks=WebhookSettings(allow_loopback=True))


@pytest.fixture
def app(engine: Engine, session: Session) -> FastAPI:
    return app_in_test_transaction(web_fixtures.settings_for(engine), engine, session)


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app, raise_server_exceptions=False) as test_client:
        yield test_client


def _post(client: TestClient, url: str, csrf: str, **data: str) -> str:
    response = client.post(url, data={"csrf_token": csrf, **data}, follow_redirects=False)
    assert response.status_code == 303, response.text[:3000]
    return str(response.headers["location"])


def _failed_run(session: Session) -> JobRun:
    """A self-test asked to fail, tried until its last attempt, as a worker records it."""
    run = jobs_service.enqueue(session, "tests", "jobs.selftest", {"fail": True})
    for attempt in range(1, run.max_attempts + 1):
        # Each retry waits its back-off; the test claims it as a worker would once it is due.
        claimed = jobs_service.claim(
            session,
            worker=f"test-worker-{attempt}",
            now=utc_now() + timedelta(hours=attempt),
            lease=timedelta(minutes=5),
            run_id=run.id,
        )
        assert claimed is not None
        jobs_service.finish(
            session, claimed, worker=f"test-worker-{attempt}", error=f"坏了 {attempt}"
        )
    session.refresh(run)
    assert run.status == "failed"
    return run


class TestJobs:
    def test_the_schedule_lists_every_job_and_run_now_queues_one(
        self, client: TestClient, session: Session, login_as: Callable[..., LoggedIn]
    ) -> None:
        operator = login_as(Role.OPERATOR)

        page = client.get("/operator/jobs")

        assert page.status_code == 200
        area = client.get("/operator")
        assert 'href="/operator/jobs"' in area.text
        assert 'href="/operator/deliveries"' in area.text
        listed = re.findall(r'data-testid="schedule-row" data-job="([^"]+)"', page.text)
        assert listed == REGISTRY.names()
        rows = {row[0]: row for row in table_rows(page.text, "schedule")}
        sweep = next(row for name, row in rows.items() if "marketplace.sweep" in name)
        assert "融资对接响应时限处理" in sweep[0]
        assert sweep[1] == "每 5 分钟"
        assert sweep[3] == "尚未运行"
        selftest = next(row for name, row in rows.items() if "jobs.selftest" in name)
        assert (selftest[1], selftest[2]) == ("按需运行", "—")

        where = _post(client, "/operator/jobs/jobs.selftest/run", operator.csrf)

        run = session.scalars(select(JobRun).where(JobRun.job == "jobs.selftest")).one()
        assert where == f"/operator/jobs?queued={run.id}"
        assert (run.status, run.slot) == ("queued", None)
        assert run.requested_by == operator.user.username
        after = client.get(where)
        assert f"作业 jobs.selftest 已加入队列（运行 #{run.id}）" in after.text
        [row] = [r for r in table_rows(after.text, "runs") if r[0] == str(run.id)]
        assert row[2] == f"发起：{operator.user.username}"
        assert row[3] == "排队中"
        [event] = session.scalars(select(AuditEvent).where(AuditEvent.action == "job.enqueue"))
        assert event.object_id == str(run.id)

        unknown = client.post("/operator/jobs/no.such.job/run", data={"csrf_token": operator.csrf})
        assert unknown.status_code == 404

    def test_a_failed_run_is_highlighted_with_its_attempts_and_errors(
        self, client: TestClient, session: Session, login_as: Callable[..., LoggedIn]
    ) -> None:
        run = _failed_run(session)
        login_as(Role.SYSTEM_ADMIN)

        page = client.get("/operator/jobs")

        assert page.status_code == 200
        row = re.search(
            rf'<tr data-testid="run-row" data-run-id="{run.id}".*?</tr>', page.text, re.S
        )
        assert row is not None
        assert 'class="table-danger"' in row.group(0)
        assert 'data-status="failed"' in row.group(0)
        assert f"{run.max_attempts}/{run.max_attempts}" in row.group(0)
        assert f"坏了 {run.max_attempts}" in row.group(0)
        tries = re.findall(r"<li>#(\d) ", row.group(0))
        assert tries == [str(n) for n in range(1, run.max_attempts + 1)]
        assert 'data-testid="failed-count"' in page.text
        assert "失败 1 次" in page.text
        schedule = re.search(r'data-job="jobs.selftest" class="table-danger"', page.text)
        assert schedule is not None

        only_failed = client.get("/operator/jobs?status=failed&job=jobs.selftest")
        assert re.findall(r'data-testid="run-row" data-run-id="(\d+)"', only_failed.text) == [
            str(run.id)
        ]
        nothing = client.get("/operator/jobs?status=succeeded")
        assert 'data-testid="runs-empty"' in nothing.text
        english = client.get("/operator/jobs?lang=en")
        assert "Worker self-test" in english.text
        assert "1 failed" in visible_text(english.text)


class TestDeliveries:
    @pytest.fixture
    def banks(self, session: Session) -> tuple[Institution, Institution]:
        return (
            factories.institution(session, code="op-bank-a", name="运营测试银行甲"),
            factories.institution(session, code="op-bank-b", name="运营测试银行乙"),
        )

    def _deliveries(
        self, session: Session, banks: tuple[Institution, Institution]
    ) -> dict[str, Delivery]:
        made: dict[str, Delivery] = {}
        for bank, status in zip(banks, ("failed", "sent"), strict=True):
            endpoint: WebhookEndpoint = delivery_service.add_endpoint(
                session,
                CONSOLE,
                institution_id=bank.id,
                url="http://127.0.0.1:9/hook",
                events=["consent.*"],
                settings=LOOPBACK,
            ).endpoint
            message = delivery_service.emit(
                session, event_type="consent.grant", payload={}, institution_id=bank.id
            )
            delivery = session.scalars(
                select(Delivery).where(
                    Delivery.message_id == message.id, Delivery.endpoint_id == endpoint.id
                )
            ).one()
            delivery.status, delivery.attempts = status, 1
            delivery.last_status = 503 if status == "failed" else 200
            made[status] = delivery
        pending = delivery_service.emit(
            session, event_type="consent.revoke", payload={}, institution_id=banks[0].id
        )
        made["pending"] = session.scalars(
            select(Delivery).where(Delivery.message_id == pending.id)
        ).one()
        session.flush()
        return made

    def test_counts_recent_deliveries_of_every_institution_and_retry(
        self,
        client: TestClient,
        session: Session,
        banks: tuple[Institution, Institution],
        login_as: Callable[..., LoggedIn],
    ) -> None:
        made = self._deliveries(session, banks)
        operator = login_as(Role.OPERATOR)

        page = client.get("/operator/deliveries")

        assert page.status_code == 200
        for status, expected in (("pending", 1), ("sending", 0), ("sent", 1), ("failed", 1)):
            figure = re.search(
                rf'data-testid="count-{status}".*?data-value="(\d+)"', page.text, re.S
            )
            assert figure is not None, status
            assert int(figure.group(1)) == expected, status
        assert 'data-testid="oldest-pending"' in page.text
        listed = re.findall(r'data-testid="delivery-row" data-delivery-id="(\d+)"', page.text)
        assert sorted(int(n) for n in listed) == sorted(d.id for d in made.values())
        assert "运营测试银行甲" in page.text
        assert "运营测试银行乙" in page.text
        # Retry is offered on what went wrong only.
        assert page.text.count('data-testid="retry"') == 1

        failed_only = client.get("/operator/deliveries?status=failed")
        assert re.findall(
            r'data-testid="delivery-row" data-delivery-id="(\d+)"', failed_only.text
        ) == [str(made["failed"].id)]

        where = _post(
            client,
            f"/operator/deliveries/{made['failed'].id}/retry?status=failed",
            operator.csrf,
        )

        assert where == f"/operator/deliveries?retried={made['failed'].id}&status=failed"
        session.refresh(made["failed"])
        assert made["failed"].status == "pending"
        assert f"投递 #{made['failed'].id} 已重新排队" in client.get(where).text
        again = client.post(
            f"/operator/deliveries/{made['sent'].id}/retry", data={"csrf_token": operator.csrf}
        )
        assert again.status_code == 409


@pytest.mark.security
@pytest.mark.parametrize("role", [Role.INSTITUTION_OFFICER, Role.ENTERPRISE_USER, Role.AUDIT_ADMIN])
def test_only_operators_and_system_admins_reach_the_desk(
    client: TestClient, session: Session, login_as: Callable[..., LoggedIn], role: Role
) -> None:
    user = login_as(role)
    for url in ("/operator/jobs", "/operator/deliveries"):
        assert client.get(url).status_code == 403, url
    refused = client.post("/operator/jobs/jobs.selftest/run", data={"csrf_token": user.csrf})
    assert refused.status_code == 403
    assert session.scalars(select(JobRun)).all() == []


def test_a_visitor_is_sent_to_login(client: TestClient) -> None:
    response = client.get("/operator/jobs", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/login?next=%2Foperator%2Fjobs"
