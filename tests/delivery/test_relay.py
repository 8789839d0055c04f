"""The outbox relay against a real receiver on 127.0.0.1: what each kind of answer does to a
delivery, leases that pass to another worker when one dies, claims that never overlap, and
signatures the reference library accepts.

The relay commits its claims and results in transactions of its own, which the rolled-back test
session cannot hold, so these tests run on SQLite in a file of their own and on PostgreSQL in a
schema of their own; the delivery tables are emptied after each test.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, create_engine, delete, select, text, update
from sqlalchemy.orm import Session, sessionmaker
from standardwebhooks import Webhook

import factories
from creditbridge import migrations
from creditbridge.core.actors import CONSOLE
from creditbridge.core.clock import utc_now
from creditbridge.core.config import Settings, WebhookSettings, WorkerSettings
from creditbridge.core.db import make_engine, make_sessionmaker
from creditbridge.delivery import domain, sender
from creditbridge.delivery.models import Delivery, DeliveryAttempt, OutboxMessage, WebhookEndpoint
from creditbridge.delivery.service import (
    Claimed,
    add_endpoint,
    claim_due,
    emit,
    record_results,
    replay,
)

from .receivers import HANG, Receiver, Reply

SCHEMA = "relay_tests"


@pytest.fixture(scope="module")
def relay_engine(engine: Engine, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    if engine.dialect.name == "sqlite":
        local = make_engine(f"sqlite:///{Path(tmp_path_factory.mktemp('relay')) / 'relay.db'}")
        migrations.upgrade(local)
        yield local
        local.dispose()
        return
    with engine.begin() as connection:
        connection.execute(text(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE"))
        connection.execute(text(f"CREATE SCHEMA {SCHEMA}"))
    isolated = create_engine(
        engine.url, connect_args={"options": f"-csearch_path={SCHEMA}"}, pool_size=10
    )
    migrations.upgrade(isolated)
    yield isolated
    isolated.dispose()
    with engine.begin() as connection:
        connection.execute(text(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE"))


@pytest.fixture
def sm(relay_engine: Engine) -> Iterator[sessionmaker[Session]]:
    yield make_sessionmaker(relay_engine)
    with relay_engine.begin() as connection:
        for table in (DeliveryAttempt, Delivery, OutboxMessage, WebhookEndpoint):
            connection.execute(delete(table))


def relay_settings(**worker: Any) -> Settings:
    """Loopback receivers allowed (as ``CREDITBRIDGE_WEBHOOKS_ALLOW_LOOPBACK=1`` does), small
    batches. The timeout is generous, so that a busy machine never fails a send that should
    succeed; the test of a receiver that times out shortens it."""
    knobs: dict[str, Any] = {
        "delivery_timeout_seconds": 5,
        "delivery_lease_seconds": 60,
        "delivery_batch": 50,
        "delivery_concurrency": 8,
        "poll_seconds": 0.05,
    }
    knobs.update(worker)
    return Settings(
        env="test",
        webhooks=WebhookSettings(allow_loopback=True),
        worker=WorkerSettings(**knobs),
    )


@pytest.fixture
def settings() -> Settings:
    return relay_settings()


@dataclass(frozen=True)
class Hook:
    endpoint_id: int
    institution_id: int
    secret: str


def register(
    sm: sessionmaker[Session], settings: Settings, url: str, *, scheme: str = "hmac-sha256"
) -> Hook:
    with sm() as session, session.begin():
        institution = factories.institution(session)
        added = add_endpoint(
            session,
            CONSOLE,
            institution_id=institution.id,
            url=url,
            events=["consent.*"],
            scheme=scheme,
            settings=settings,
        )
        return Hook(added.endpoint.id, institution.id, added.secret)


def publish(sm: sessionmaker[Session], hook: Hook, n: int = 1, **payload: Any) -> list[str]:
    """Commit ``n`` consent messages for the hook's institution; their webhook-ids."""
    with sm() as session, session.begin():
        return [
            emit(
                session,
                event_type="consent.granted",
                payload={"consent_id": i, **payload},
                institution_id=hook.institution_id,
            ).message_id
            for i in range(n)
        ]


def deliveries(sm: sessionmaker[Session]) -> list[Delivery]:
    with sm() as session:
        return list(session.scalars(select(Delivery).order_by(Delivery.id)))


def attempts(sm: sessionmaker[Session]) -> list[DeliveryAttempt]:
    with sm() as session:
        return list(
            session.scalars(
                select(DeliveryAttempt).order_by(DeliveryAttempt.delivery_id, DeliveryAttempt.id)
            )
        )


def endpoint_row(sm: sessionmaker[Session], endpoint_id: int) -> WebhookEndpoint:
    with sm() as session:
        found = session.get(WebhookEndpoint, endpoint_id)
        assert found is not None
        return found


def make_due(sm: sessionmaker[Session]) -> None:
    """Time passes until every failed delivery is due again."""
    with sm() as session, session.begin():
        session.execute(
            update(Delivery).where(Delivery.status == "failed").values(next_attempt_at=utc_now())
        )


def expire_leases(sm: sessionmaker[Session]) -> None:
    """Time passes until every lease has run out."""
    with sm() as session, session.begin():
        session.execute(
            update(Delivery)
            .where(Delivery.status == "sending")
            .values(lease_until=utc_now() - timedelta(seconds=1))
        )


def deliver(sm: sessionmaker[Session], settings: Settings, worker: str = "w1") -> Any:
    return sender.deliver_due(sm, settings, worker=worker)


def claim(sm: sessionmaker[Session], settings: Settings, worker: str, limit: int = 50) -> Any:
    with sm() as session, session.begin():
        return claim_due(
            session,
            worker=worker,
            limit=limit,
            lease_seconds=settings.worker.delivery_lease_seconds,
        )


async def send_all(claimed: list[Any], settings: Settings) -> list[Any]:
    async with sender.open_client(settings) as client:
        return [
            await sender.send_one(
                client, c, timeout=settings.worker.delivery_timeout_seconds, settings=settings
            )
            for c in claimed
        ]


# --- A delivery that arrives ---------------------------------------------------------------------


@pytest.mark.parametrize("scheme", ["hmac-sha256", "hmac-sm3"])
def test_a_delivery_arrives_signed_in_the_standard_webhooks_shape_and_is_logged(
    sm: sessionmaker[Session], settings: Settings, scheme: str
) -> None:
    with Receiver() as receiver:
        hook = register(sm, settings, receiver.url, scheme=scheme)
        [webhook_id] = publish(sm, hook, consent_no="C-1")
        outcome = deliver(sm, settings)

    assert (outcome.claimed, outcome.sent) == (1, 1)
    [request] = receiver.requests
    # Raises unless the v1 signature over id, timestamp and body is right and recent.
    Webhook(hook.secret).verify(request.body, request.headers)
    assert request.webhook_id == webhook_id
    assert request.headers["content-type"] == "application/json"
    body = request.json()
    assert body["type"] == "consent.granted"
    assert body["data"] == {"consent_id": 0, "consent_no": "C-1"}
    with sm() as session:
        message = session.scalars(select(OutboxMessage)).one()
    assert body["timestamp"].startswith(message.created_at.strftime("%Y-%m-%dT%H:%M:%S"))
    assert body["timestamp"].endswith("Z")
    [delivery] = deliveries(sm)
    assert delivery.status == "sent"
    assert delivery.sent_at is not None
    assert (delivery.attempts, delivery.last_status, delivery.last_error) == (1, 200, None)
    assert (delivery.lease_owner, delivery.lease_until) == (None, None)
    [attempt] = attempts(sm)
    assert (attempt.attempt, attempt.status_code, attempt.error, attempt.worker) == (
        1,
        200,
        None,
        "w1",
    )


def test_nothing_due_is_a_round_that_claims_nothing(
    sm: sessionmaker[Session], settings: Settings
) -> None:
    outcome = deliver(sm, settings)
    assert outcome.claimed == 0


# --- Receivers that fail -------------------------------------------------------------------------


def test_a_receiver_that_times_out_fails_the_attempt_and_gets_the_message_again_later(
    sm: sessionmaker[Session], settings: Settings
) -> None:
    impatient = relay_settings(delivery_timeout_seconds=0.3)
    with Receiver() as receiver:
        hook = register(sm, settings, receiver.url)
        [webhook_id] = publish(sm, hook)
        receiver.queue(HANG)
        first = deliver(sm, impatient)
        [delivery] = deliveries(sm)
        [attempt] = attempts(sm)
        make_due(sm)
        second = deliver(sm, settings)

    assert (first.claimed, first.retrying) == (1, 1)
    assert delivery.status == "failed"
    assert delivery.last_status is None
    assert delivery.last_error is not None
    assert "timeout" in delivery.last_error
    assert attempt.status_code is None
    assert attempt.error == delivery.last_error
    assert delivery.next_attempt_at >= attempt.started_at + domain.RETRY_SCHEDULE[0] * 0.9
    assert second.sent == 1
    assert [r.webhook_id for r in receiver.requests] == [webhook_id, webhook_id]
    assert [a.attempt for a in attempts(sm)] == [1, 2]
    assert deliveries(sm)[0].status == "sent"


def test_a_receiver_that_trickles_its_answer_fails_within_the_timeout() -> None:
    # Headers at once, then one byte of a long body every 50 ms: only a timeout that also covers
    # reading the answer (aiohttp's total, which runs until the connection is released) ends it.
    async def trickle(_reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 1000\r\n\r\n")
        with contextlib.suppress(ConnectionError):
            for _ in range(1000):
                await asyncio.sleep(0.05)
                writer.write(b"x")
                await writer.drain()

    impatient = relay_settings(delivery_timeout_seconds=0.3)
    claimed = Claimed(
        delivery_id=1,
        attempt=1,
        endpoint_id=1,
        url="",
        scheme="hmac-sha256",
        secret="whsec_" + "QUJD" * 11,
        message_id="msg_trickle",
        event_type="consent.granted",
        body=b"{}",
        created_at=utc_now(),
    )

    async def send() -> tuple[Any, float]:
        server = await asyncio.start_server(trickle, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        async with server, sender.open_client(impatient) as client:
            began = time.perf_counter()
            result = await sender.send_one(
                client,
                dataclasses.replace(claimed, url=f"http://127.0.0.1:{port}/hook"),
                timeout=impatient.worker.delivery_timeout_seconds,
                settings=impatient,
            )
            return result, time.perf_counter() - began

    result, took = asyncio.run(send())

    assert result.status_code is None
    assert result.error is not None
    assert "timeout" in result.error
    assert took < 3  # the whole body would take 50 s


def test_a_500_answer_is_retried_on_the_schedule(
    sm: sessionmaker[Session], settings: Settings
) -> None:
    with Receiver() as receiver:
        hook = register(sm, settings, receiver.url)
        publish(sm, hook)
        receiver.queue(Reply(500))
        outcome = deliver(sm, settings)
        again = deliver(sm, settings)

    assert (outcome.claimed, outcome.retrying) == (1, 1)
    assert again.claimed == 0, "not due again before the schedule says"
    [delivery] = deliveries(sm)
    [attempt] = attempts(sm)
    assert (delivery.status, delivery.attempts, delivery.last_status) == ("failed", 1, 500)
    assert delivery.last_error is not None
    assert delivery.last_error.startswith("HTTP 500")
    wait = domain.RETRY_SCHEDULE[0]
    assert attempt.started_at + wait * 0.9 <= delivery.next_attempt_at
    assert delivery.next_attempt_at <= utc_now() + wait * 1.1
    assert receiver.count == 1


@pytest.mark.parametrize("retry_after", ["120", "http-date"])
def test_a_429_with_retry_after_is_not_tried_before_the_receiver_says(
    sm: sessionmaker[Session], settings: Settings, retry_after: str
) -> None:
    if retry_after == "http-date":
        from email.utils import format_datetime

        retry_after = format_datetime(utc_now() + timedelta(seconds=150), usegmt=True)
        asked = timedelta(seconds=140)  # the header has whole seconds, and time passes
    else:
        asked = timedelta(seconds=120)
    with Receiver() as receiver:
        hook = register(sm, settings, receiver.url)
        publish(sm, hook)
        receiver.queue(Reply(429, retry_after=retry_after))
        outcome = deliver(sm, settings)
        again = deliver(sm, settings)

    assert outcome.retrying == 1
    assert again.claimed == 0
    [delivery] = deliveries(sm)
    [attempt] = attempts(sm)
    assert (delivery.status, delivery.last_status) == ("failed", 429)
    # Longer than the schedule's 5 s: the receiver's wait wins.
    assert delivery.next_attempt_at >= attempt.started_at + asked
    assert receiver.count == 1


def test_a_410_kills_the_delivery_disables_the_endpoint_and_nothing_more_is_sent_to_it(
    sm: sessionmaker[Session],
) -> None:
    # One delivery per round, so the second message is still waiting when the 410 comes back.
    settings = relay_settings(delivery_batch=1, delivery_concurrency=1)
    with Receiver() as receiver:
        hook = register(sm, settings, receiver.url)
        first_id, _ = publish(sm, hook, 2)
        receiver.queue(Reply(410))
        outcome = deliver(sm, settings)
        later = publish(sm, hook)
        after = deliver(sm, settings)

    assert (outcome.claimed, outcome.dead) == (1, 1)
    assert after.claimed == 0
    assert [r.webhook_id for r in receiver.requests] == [first_id]
    gone, waiting = deliveries(sm)
    assert (gone.status, gone.last_status) == ("dead", 410)
    # Claimed ahead while the first was being sent, then given back unsent, its try not counted.
    assert (waiting.status, waiting.attempts, waiting.lease_owner) == ("pending", 0, None)
    assert [a.delivery_id for a in attempts(sm)] == [gone.id]
    endpoint = endpoint_row(sm, hook.endpoint_id)
    assert endpoint.status == "disabled"
    assert endpoint.disabled_reason is not None
    assert "410" in endpoint.disabled_reason
    # The later message is in the outbox (and its institution's feed) but has no delivery.
    with sm() as session:
        assert session.scalar(select(OutboxMessage.id).where(OutboxMessage.message_id == later[0]))


def test_after_the_last_try_the_delivery_is_dead_and_every_attempt_is_logged(
    sm: sessionmaker[Session], settings: Settings
) -> None:
    with Receiver(Reply(500)) as receiver:
        hook = register(sm, settings, receiver.url)
        [webhook_id] = publish(sm, hook)
        for _ in range(domain.MAX_ATTEMPTS):
            deliver(sm, settings)
            make_due(sm)
        after = deliver(sm, settings)

    [delivery] = deliveries(sm)
    assert (delivery.status, delivery.attempts, delivery.last_status) == (
        "dead",
        domain.MAX_ATTEMPTS,
        500,
    )
    assert after.claimed == 0
    assert [a.attempt for a in attempts(sm)] == list(range(1, domain.MAX_ATTEMPTS + 1))
    assert {a.status_code for a in attempts(sm)} == {500}
    assert [r.webhook_id for r in receiver.requests] == [webhook_id] * domain.MAX_ATTEMPTS


def test_a_receiver_that_is_not_listening_fails_the_attempt_with_the_reason(
    sm: sessionmaker[Session], settings: Settings
) -> None:
    with Receiver() as receiver:
        hook = register(sm, settings, receiver.url)
    publish(sm, hook)  # the receiver has closed: its port refuses connections
    outcome = deliver(sm, settings)

    assert outcome.retrying == 1
    [delivery] = deliveries(sm)
    assert delivery.last_status is None
    assert delivery.last_error is not None
    assert "ClientConnectorError" in delivery.last_error


def test_an_address_refused_at_send_time_fails_the_attempt_without_calling_it(
    sm: sessionmaker[Session], settings: Settings
) -> None:
    # Registered while loopback was allowed; the check made again before sending refuses it now,
    # as it would a name re-pointed at an inside address after registration.
    strict = Settings(env="test", webhooks=WebhookSettings(allow_loopback=False))
    with Receiver() as receiver:
        hook = register(sm, settings, receiver.url)
        publish(sm, hook)
        outcome = deliver(sm, strict)

    assert outcome.retrying == 1
    assert receiver.count == 0
    [delivery] = deliveries(sm)
    assert delivery.last_error is not None
    assert "127.0.0.1" in delivery.last_error


def test_the_client_refuses_a_name_that_resolves_to_a_refused_address_when_it_connects(
    settings: Settings,
) -> None:
    # The URL check passed earlier (loopback allowed then); the name now resolves somewhere the
    # platform must not call — DNS rebinding. The client's own resolver refuses it at connect.
    strict = Settings(env="test", webhooks=WebhookSettings(allow_loopback=False))

    async def post(url: str) -> str:
        async with sender.open_client(strict) as client:
            try:
                async with client.post(url, data=b"{}"):
                    return "answered"
            except Exception as exc:
                return f"{type(exc).__name__}: {exc}"

    with Receiver() as receiver:
        named = receiver.url.replace("127.0.0.1", "localhost")
        refused = asyncio.run(post(named))

    assert receiver.count == 0
    assert "address refused" in refused
    assert "localhost" in refused


# --- Leases: a worker that dies, a worker that comes back late ------------------------------------


def test_a_delivery_whose_worker_died_before_sending_is_sent_by_another_with_the_same_id(
    sm: sessionmaker[Session], settings: Settings
) -> None:
    with Receiver() as receiver:
        hook = register(sm, settings, receiver.url)
        [webhook_id] = publish(sm, hook)
        [taken] = claim(sm, settings, "died")  # …and the worker is killed here
        before_expiry = deliver(sm, settings, "w2")
        expire_leases(sm)
        after_expiry = deliver(sm, settings, "w2")

    assert taken.message_id == webhook_id
    assert before_expiry.claimed == 0, "a live lease is not taken over"
    assert after_expiry.sent == 1
    [request] = receiver.requests
    assert request.webhook_id == webhook_id
    Webhook(hook.secret).verify(request.body, request.headers)
    [delivery] = deliveries(sm)
    assert (delivery.status, delivery.attempts) == ("sent", 2)
    # The dead worker's attempt was never logged (it never sent); the one made is.
    assert [(a.attempt, a.worker) for a in attempts(sm)] == [(2, "w2")]


def test_a_message_sent_again_after_a_lease_expiry_carries_the_same_id_and_body(
    sm: sessionmaker[Session], settings: Settings
) -> None:
    with Receiver() as receiver:
        hook = register(sm, settings, receiver.url)
        [webhook_id] = publish(sm, hook)
        claimed = claim(sm, settings, "stalled")
        late_results = asyncio.run(send_all(claimed, settings))  # 200 — then it stalls
        expire_leases(sm)
        retaken = deliver(sm, settings, "w2")
        # The stalled worker wakes and records its result: too late, w2 holds the delivery now.
        with sm() as session, session.begin():
            late = record_results(session, late_results, worker="stalled")

    assert retaken.sent == 1
    first, second = receiver.requests
    assert first.webhook_id == second.webhook_id == webhook_id
    assert first.body == second.body
    assert [r.reply.status for r in (first, second) if r.reply] == [200, 200]
    assert (late.lost, late.sent) == (1, 0)
    [delivery] = deliveries(sm)
    assert (delivery.status, delivery.attempts) == ("sent", 2)
    # Both POSTs are in the log, each under the worker that made it.
    assert sorted((a.attempt, a.worker, a.status_code) for a in attempts(sm)) == [
        (1, "stalled", 200),
        (2, "w2", 200),
    ]


def test_a_replayed_message_arrives_again_with_the_same_id_and_a_fresh_signature(
    sm: sessionmaker[Session], settings: Settings
) -> None:
    with Receiver() as receiver:
        hook = register(sm, settings, receiver.url)
        [webhook_id] = publish(sm, hook)
        deliver(sm, settings)
        with sm() as session, session.begin():
            queued = replay(
                session,
                CONSOLE,
                endpoint_id=hook.endpoint_id,
                since=utc_now() - timedelta(hours=1),
                until=utc_now() + timedelta(minutes=1),
            )
        again = deliver(sm, settings)

    assert (queued, again.sent) == (1, 1)
    first, second = receiver.requests
    assert first.webhook_id == second.webhook_id == webhook_id
    assert first.body == second.body
    for request in (first, second):
        Webhook(hook.secret).verify(request.body, request.headers)
    assert [a.attempt for a in attempts(sm)] == [1, 2]


def test_a_result_is_recorded_by_the_worker_holding_the_lease_only(
    sm: sessionmaker[Session], settings: Settings
) -> None:
    with Receiver() as receiver:
        hook = register(sm, settings, receiver.url)
        publish(sm, hook)
        claimed = claim(sm, settings, "w1")
        results = asyncio.run(send_all(claimed, settings))
    with sm() as session, session.begin():
        stranger = record_results(session, results, worker="w9")
    with sm() as session, session.begin():
        holder = record_results(session, results, worker="w1")

    assert (stranger.lost, holder.sent) == (1, 1)
    assert deliveries(sm)[0].status == "sent"


# --- Claims never overlap ------------------------------------------------------------------------


def test_concurrent_claimers_never_take_the_same_delivery(
    sm: sessionmaker[Session], settings: Settings
) -> None:
    with Receiver() as receiver:
        hook = register(sm, settings, receiver.url)
    publish(sm, hook, 60)
    start = threading.Barrier(6)
    taken: dict[str, list[int]] = {}

    def claimer(name: str) -> None:
        start.wait()
        mine: list[int] = []
        while batch := claim(sm, settings, name, limit=7):
            mine.extend(c.delivery_id for c in batch)
        taken[name] = mine

    threads = [threading.Thread(target=claimer, args=(f"w{n}",)) for n in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    every = [delivery_id for mine in taken.values() for delivery_id in mine]
    assert len(every) == len(set(every)) == 60
    assert {d.lease_owner for d in deliveries(sm)} <= set(taken)
    assert all(d.attempts == 1 for d in deliveries(sm))


@pytest.mark.postgres_only
def test_on_postgresql_a_claim_skips_the_deliveries_another_open_claim_holds(
    sm: sessionmaker[Session], settings: Settings, relay_engine: Engine
) -> None:
    if relay_engine.dialect.name != "postgresql":
        pytest.skip("SKIP LOCKED is PostgreSQL's; SQLite serialises claimers on its write lock")
    with Receiver() as receiver:
        hook = register(sm, settings, receiver.url)
    publish(sm, hook, 10)
    with sm() as first, first.begin():
        held = claim_due(first, worker="w1", limit=5, lease_seconds=60)
        # w1's transaction is still open, its rows locked: w2 neither waits nor takes them.
        with sm() as second, second.begin():
            other = claim_due(second, worker="w2", limit=10, lease_seconds=60)
    assert len(held) == len(other) == 5
    assert not {c.delivery_id for c in held} & {c.delivery_id for c in other}


# --- The relay loop ------------------------------------------------------------------------------


def test_a_running_relay_sends_what_is_committed_while_it_idles_and_stops_when_told(
    sm: sessionmaker[Session], settings: Settings
) -> None:
    with Receiver() as receiver:
        hook = register(sm, settings, receiver.url)
        publish(sm, hook, 3)

        async def scenario() -> bool:
            stop = asyncio.Event()
            relay = asyncio.create_task(sender.run_relay(sm, settings, worker="w1", stop=stop))
            arrived = await asyncio.to_thread(receiver.wait_for, 3)
            # The backlog is sent; the relay idles, polling; a message committed now is sent too.
            await asyncio.to_thread(publish, sm, hook)
            arrived = arrived and await asyncio.to_thread(receiver.wait_for, 4)
            stop.set()
            await asyncio.wait_for(relay, 10)
            return arrived

        arrived = asyncio.run(scenario())

    assert arrived
    assert len(receiver.by_webhook_id()) == 4
    assert [d.status for d in deliveries(sm)] == ["sent"] * 4
