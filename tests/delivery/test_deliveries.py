"""The delivery log: who sees which deliveries and attempts, retrying one, replaying a time range
with the same webhook-ids, and the figures of the operator page and /metrics."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

import factories
from creditbridge.access.models import Institution
from creditbridge.access.service import actor_for_user, users
from creditbridge.audit import service as audit_service
from creditbridge.core.actors import CONSOLE, Actor, ActorKind, Role
from creditbridge.core.clock import SHANGHAI, FrozenClock
from creditbridge.core.config import Settings, WebhookSettings
from creditbridge.core.errors import Forbidden, InvalidTransition, NotFound, ValidationFailed
from creditbridge.delivery import service
from creditbridge.delivery.errors import EndpointDisabled
from creditbridge.delivery.models import Delivery, DeliveryAttempt, OutboxMessage, WebhookEndpoint

LOOPBACK = Settings(env="test", webhooks=WebhookSettings(allow_loopback=True))
_names = itertools.count(1)


@dataclass
class World:
    bank: Institution
    other: Institution
    admin: Actor
    officer: Actor
    outsider: Actor
    endpoint: WebhookEndpoint
    theirs: WebhookEndpoint


def _officer(session: Session, institution: Institution, *, org_admin: bool) -> Actor:
    user = users.new_user(
        session,
        username=f"deliv{next(_names)}",
        display_name="客户经理",
        password="Passw0rd!-long",
        role=Role.INSTITUTION_OFFICER,
        institution_id=institution.id,
        org_admin=org_admin,
    )
    return actor_for_user(user)


def _endpoint(session: Session, institution: Institution, **kw: Any) -> WebhookEndpoint:
    values: dict[str, Any] = {"url": "http://127.0.0.1:9/in", "events": ["*"]}
    values.update(kw)
    return service.add_endpoint(
        session, CONSOLE, institution_id=institution.id, settings=LOOPBACK, **values
    ).endpoint


@pytest.fixture
def world(session: Session, monkeypatch: pytest.MonkeyPatch, frozen_clock: FrozenClock) -> World:
    # Nobody logs in here: a real password hash would only slow every test down.
    monkeypatch.setattr(users, "hash_password", lambda password: "unused")
    bank = factories.institution(session)
    other = factories.institution(session)
    return World(
        bank=bank,
        other=other,
        admin=_officer(session, bank, org_admin=True),
        officer=_officer(session, bank, org_admin=False),
        outsider=_officer(session, other, org_admin=True),
        endpoint=_endpoint(session, bank),
        theirs=_endpoint(session, other),
    )


def _emit(
    session: Session,
    institution: Institution,
    event: str = "consent.granted",
    *,
    to: WebhookEndpoint | None = None,
) -> Delivery:
    """A message for the institution, and its delivery (to ``to`` when it has several)."""
    message = service.emit(
        session, event_type=event, payload={"n": 1}, institution_id=institution.id
    )
    query = select(Delivery).where(Delivery.message_id == message.id)
    if to is not None:
        query = query.where(Delivery.endpoint_id == to.id)
    return session.scalars(query).one()


def _set(delivery: Delivery, session: Session, status: str, *, attempts: int = 1) -> Delivery:
    delivery.status = status
    delivery.attempts = attempts
    if status == "sending":
        delivery.lease_owner = "worker-1"
    session.flush()
    return delivery


def _webhook_id(session: Session, delivery: Delivery) -> str:
    return session.scalars(
        select(OutboxMessage.message_id).where(OutboxMessage.id == delivery.message_id)
    ).one()


# --- reading the log -------------------------------------------------------------------------------


@pytest.mark.security
class TestScoping:
    def test_an_officer_sees_its_institution_s_deliveries_only(
        self, session: Session, world: World
    ) -> None:
        mine = _emit(session, world.bank)
        theirs = _emit(session, world.other)

        for actor in (world.admin, world.officer):
            assert [v.id for v in service.list_deliveries(session, actor)] == [mine.id]
        assert [v.id for v in service.list_deliveries(session, world.outsider)] == [theirs.id]

    def test_the_platform_sees_all(self, session: Session, world: World) -> None:
        mine, theirs = _emit(session, world.bank), _emit(session, world.other)
        operator = factories.operator()

        seen = [v.id for v in service.list_deliveries(session, operator)]
        assert seen[:2] == [theirs.id, mine.id]

    def test_another_institution_s_endpoint_or_delivery_is_not_found(
        self, session: Session, world: World
    ) -> None:
        theirs = _emit(session, world.other)

        with pytest.raises(NotFound):
            service.list_deliveries(session, world.admin, endpoint_id=world.theirs.id)
        with pytest.raises(NotFound):
            service.list_attempts(session, world.admin, theirs.id)
        with pytest.raises(NotFound):
            service.retry_delivery(session, world.admin, theirs.id)
        with pytest.raises(NotFound):
            service.replay(
                session,
                world.admin,
                endpoint_id=world.theirs.id,
                since=theirs.created_at,
                until=theirs.created_at + timedelta(seconds=1),
            )

    def test_an_officer_who_is_not_the_administrator_cannot_retry_or_replay(
        self, session: Session, world: World
    ) -> None:
        failed = _set(_emit(session, world.bank), session, "failed")

        with pytest.raises(Forbidden):
            service.retry_delivery(session, world.officer, failed.id)
        with pytest.raises(Forbidden):
            service.replay(
                session,
                world.officer,
                endpoint_id=world.endpoint.id,
                since=failed.created_at,
                until=failed.created_at + timedelta(seconds=1),
            )

    def test_an_enterprise_user_sees_no_deliveries(self, session: Session, world: World) -> None:
        user = Actor(kind=ActorKind.USER, id=5, name="ent", role=Role.ENTERPRISE_USER)

        with pytest.raises(Forbidden):
            service.list_deliveries(session, user)


class TestLog:
    def test_a_view_carries_the_message_s_webhook_id_and_the_endpoint(
        self, session: Session, world: World
    ) -> None:
        delivery = _emit(session, world.bank, "marketplace.application_submitted")

        [view] = service.list_deliveries(session, world.admin)

        assert view.id == delivery.id
        assert view.webhook_id == _webhook_id(session, delivery)
        assert view.webhook_id.startswith("msg_")
        assert view.event_type == "marketplace.application_submitted"
        assert (view.endpoint_id, view.url) == (world.endpoint.id, world.endpoint.url)
        assert (view.status, view.attempts, view.institution_id) == ("pending", 0, world.bank.id)

    def test_filters_by_endpoint_and_status_newest_first(
        self, session: Session, world: World, frozen_clock: FrozenClock
    ) -> None:
        second = _endpoint(session, world.bank, events=["consent.*"])
        first_sent = _set(_emit(session, world.bank, to=world.endpoint), session, "sent")
        frozen_clock.advance(timedelta(minutes=1))
        later = _emit(session, world.bank, to=world.endpoint)

        by_endpoint = service.list_deliveries(session, world.admin, endpoint_id=second.id)
        sent = service.list_deliveries(session, world.admin, status="sent")

        assert len(by_endpoint) == 2
        assert {v.endpoint_id for v in by_endpoint} == {second.id}
        assert [v.id for v in sent] == [first_sent.id]
        newest = service.list_deliveries(session, world.admin, endpoint_id=world.endpoint.id)
        assert [v.id for v in newest] == [later.id, first_sent.id]
        assert len(service.list_deliveries(session, world.admin, limit=1)) == 1

    def test_an_unknown_status_is_refused(self, session: Session, world: World) -> None:
        with pytest.raises(ValidationFailed, match="无效"):
            service.list_deliveries(session, world.admin, status="lost")

    def test_attempts_in_order(
        self, session: Session, world: World, frozen_clock: FrozenClock
    ) -> None:
        delivery = _emit(session, world.bank)
        start = frozen_clock.now()
        for n, code in ((2, 200), (1, 500)):
            session.add(
                DeliveryAttempt(
                    delivery_id=delivery.id,
                    attempt=n,
                    started_at=start + timedelta(seconds=10 * n),
                    duration_ms=12,
                    status_code=code,
                    error=None if code == 200 else "HTTP 500",
                    worker="w1",
                )
            )
        session.flush()

        attempts = service.list_attempts(session, world.officer, delivery.id)

        assert [(a.attempt, a.status_code, a.error) for a in attempts] == [
            (1, 500, "HTTP 500"),
            (2, 200, None),
        ]


# --- retry and replay ------------------------------------------------------------------------------


class TestRetry:
    @pytest.mark.parametrize("status", ["failed", "dead"])
    def test_a_failed_or_dead_delivery_is_due_again_now_with_its_attempts(
        self, session: Session, world: World, frozen_clock: FrozenClock, status: str
    ) -> None:
        delivery = _set(_emit(session, world.bank), session, status, attempts=10)
        frozen_clock.advance(timedelta(hours=3))

        view = service.retry_delivery(session, world.admin, delivery.id)

        assert (view.status, view.attempts, view.next_attempt_at) == (
            "pending",
            10,
            frozen_clock.now(),
        )
        [event] = audit_service.list_events(
            session, flt=audit_service.EventFilter(action="webhook.retry")
        )
        assert event.object_id == str(delivery.id)
        assert event.facts["detail"]["from"] == status

    @pytest.mark.parametrize("status", ["pending", "sending", "sent"])
    def test_only_failed_or_dead_ones_are_retried(
        self, session: Session, world: World, status: str
    ) -> None:
        delivery = _set(_emit(session, world.bank), session, status)

        with pytest.raises(InvalidTransition, match=status):
            service.retry_delivery(session, world.admin, delivery.id)

    def test_not_to_a_disabled_endpoint(self, session: Session, world: World) -> None:
        delivery = _set(_emit(session, world.bank), session, "dead")
        service.disable_endpoint(session, CONSOLE, world.endpoint.id, reason="")

        with pytest.raises(EndpointDisabled):
            service.retry_delivery(session, world.admin, delivery.id)


class TestReplay:
    def _timeline(
        self, session: Session, world: World, frozen_clock: FrozenClock
    ) -> tuple[datetime, list[Delivery]]:
        """Messages a minute apart at t0..t5, in every state a delivery can be in."""
        t0 = frozen_clock.now()
        made = []
        for status in ("sent", "dead", "failed", "sending", "pending", "sent"):
            made.append(_set(_emit(session, world.bank), session, status, attempts=3))
            frozen_clock.advance(timedelta(minutes=1))
        return t0, made

    def test_the_range_goes_back_to_pending_with_the_same_webhook_ids(
        self, session: Session, world: World, frozen_clock: FrozenClock
    ) -> None:
        t0, made = self._timeline(session, world, frozen_clock)
        ids = [_webhook_id(session, d) for d in made]
        frozen_clock.advance(timedelta(hours=1))

        count = service.replay(
            session,
            world.admin,
            endpoint_id=world.endpoint.id,
            since=t0 + timedelta(minutes=1),
            until=t0 + timedelta(minutes=5),
        )

        for delivery in made:
            session.refresh(delivery)
        # t1 dead and t2 failed are queued again; t3 is being sent and t4 is already queued;
        # t0 and t5 lie outside [since, until).
        assert count == 2
        assert [d.status for d in made] == [
            "sent",
            "pending",
            "pending",
            "sending",
            "pending",
            "sent",
        ]
        assert [d.attempts for d in made] == [3] * 6
        assert made[1].next_attempt_at == frozen_clock.now()
        assert made[1].lease_owner is None
        assert made[3].lease_owner == "worker-1"
        assert [_webhook_id(session, d) for d in made] == ids

    def test_the_bounds_are_since_inclusive_until_exclusive(
        self, session: Session, world: World, frozen_clock: FrozenClock
    ) -> None:
        t0, made = self._timeline(session, world, frozen_clock)

        count = service.replay(
            session,
            world.admin,
            endpoint_id=world.endpoint.id,
            since=t0,
            until=t0 + timedelta(minutes=5),
        )

        for delivery in made:
            session.refresh(delivery)
        assert count == 3
        assert made[0].status == "pending"
        assert made[5].status == "sent"

    def test_a_range_in_beijing_time_means_the_same_instants(
        self, session: Session, world: World, frozen_clock: FrozenClock
    ) -> None:
        t0, made = self._timeline(session, world, frozen_clock)

        count = service.replay(
            session,
            CONSOLE,
            endpoint_id=world.endpoint.id,
            since=t0.astimezone(SHANGHAI),
            until=(t0 + timedelta(seconds=30)).astimezone(SHANGHAI),
        )

        assert count == 1
        session.refresh(made[0])
        assert made[0].status == "pending"

    def test_only_this_endpoint_s_deliveries(
        self, session: Session, world: World, frozen_clock: FrozenClock
    ) -> None:
        second = _endpoint(session, world.bank)
        t0 = frozen_clock.now()
        message = service.emit(
            session, event_type="consent.granted", payload={}, institution_id=world.bank.id
        )
        both = list(session.scalars(select(Delivery).where(Delivery.message_id == message.id)))
        for delivery in both:
            _set(delivery, session, "sent")

        count = service.replay(
            session, world.admin, endpoint_id=second.id, since=t0, until=t0 + timedelta(seconds=1)
        )

        assert count == 1
        for delivery in both:
            session.refresh(delivery)
        assert {d.endpoint_id: d.status for d in both} == {
            world.endpoint.id: "sent",
            second.id: "pending",
        }

    def test_is_audited(self, session: Session, world: World, frozen_clock: FrozenClock) -> None:
        t0, _ = self._timeline(session, world, frozen_clock)

        service.replay(
            session, world.admin, endpoint_id=world.endpoint.id, since=t0, until=frozen_clock.now()
        )

        [event] = audit_service.list_events(
            session, flt=audit_service.EventFilter(action="webhook.replay")
        )
        assert event.object_id == str(world.endpoint.id)
        assert event.actor_id == world.admin.id
        assert event.facts["detail"]["queued"] == 4
        assert event.facts["detail"]["since"] == t0.isoformat()

    def test_a_disabled_endpoint_must_be_enabled_first(
        self, session: Session, world: World, frozen_clock: FrozenClock
    ) -> None:
        t0, made = self._timeline(session, world, frozen_clock)
        service.disable_endpoint(session, world.admin, world.endpoint.id, reason="")

        with pytest.raises(EndpointDisabled, match="请先启用"):
            service.replay(
                session,
                world.admin,
                endpoint_id=world.endpoint.id,
                since=t0,
                until=frozen_clock.now(),
            )

        session.refresh(made[1])
        assert made[1].status == "dead"

    @pytest.mark.parametrize("span", [timedelta(0), timedelta(minutes=-5)])
    def test_an_empty_or_inverted_range_is_refused(
        self, session: Session, world: World, frozen_clock: FrozenClock, span: timedelta
    ) -> None:
        now = frozen_clock.now()

        with pytest.raises(ValidationFailed, match="时间范围"):
            service.replay(
                session, world.admin, endpoint_id=world.endpoint.id, since=now, until=now + span
            )

    def test_a_time_without_a_zone_is_refused(self, session: Session, world: World) -> None:
        with pytest.raises(ValidationFailed, match="时区"):
            service.replay(
                session,
                world.admin,
                endpoint_id=world.endpoint.id,
                since=datetime(2026, 1, 1),
                until=datetime(2026, 1, 2),
            )


# --- figures ---------------------------------------------------------------------------------------


class TestFigures:
    def test_counts_by_status_and_the_oldest_due_wait(
        self, session: Session, world: World, frozen_clock: FrozenClock
    ) -> None:
        before = service.delivery_stats(session)
        t0 = frozen_clock.now()
        waiting = _emit(session, world.bank)  # due since t0
        frozen_clock.advance(timedelta(minutes=1))
        _set(_emit(session, world.bank), session, "sent")
        resting = _set(_emit(session, world.bank), session, "failed")
        resting.next_attempt_at = t0 - timedelta(hours=5) + timedelta(days=1)  # not due yet
        session.flush()
        frozen_clock.advance(timedelta(seconds=30))

        stats = service.delivery_stats(session)

        assert stats.counts["pending"] == before.counts["pending"] + 1
        assert stats.counts["sent"] == before.counts["sent"] + 1
        assert stats.counts["failed"] == before.counts["failed"] + 1
        assert set(stats.counts) == {"pending", "sending", "sent", "failed", "dead"}
        assert stats.total == before.total + 3
        assert stats.due == before.due + 1
        assert waiting.next_attempt_at == t0
        assert stats.oldest_pending_age_seconds is not None
        assert stats.oldest_pending_age_seconds >= 90

    def test_no_due_delivery_has_no_age(self, session: Session, world: World) -> None:
        for delivery in session.scalars(select(Delivery)):
            delivery.status = "sent"
        session.flush()

        assert service.delivery_stats(session).oldest_pending_age_seconds is None

    def test_first_attempt_latencies_since_a_moment(
        self, session: Session, world: World, frozen_clock: FrozenClock
    ) -> None:
        t0 = frozen_clock.now()
        old, fresh = _emit(session, world.bank), _emit(session, world.bank)
        for delivery, attempt, after in (
            (old, 1, timedelta(seconds=-30)),  # before `since`: left out
            (fresh, 1, timedelta(milliseconds=1500)),
            (fresh, 2, timedelta(seconds=20)),  # not a first attempt
        ):
            session.add(
                DeliveryAttempt(
                    delivery_id=delivery.id,
                    attempt=attempt,
                    started_at=t0 + after,
                    duration_ms=3,
                    status_code=500,
                    worker="w1",
                )
            )
        session.flush()

        assert service.first_attempt_latencies(session, since=t0) == [1.5]
