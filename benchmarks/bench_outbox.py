"""The outbox relay: throughput against the receiver's own rate, and commit-to-first-attempt latency.

Claims (issue 13):

* **throughput** — 10,000 messages for one endpoint delivered to a local receiver with the worker's
  default concurrency reach ≥ 0.5 of the receiver's own request rate, measured alone in the same run;
* **latency** — with the relay running idle (default poll interval), p50 of (first attempt started −
  commit) ≤ 1 s.

What runs, in one process tree on this machine:

* the receiver: ``tests/delivery/receivers.py`` (uvicorn, h11) in a child process, answering 200;
* the baseline: a raw keep-alive load generator (asyncio streams), the worker's default
  concurrency (``WorkerSettings().delivery_concurrency``) in flight, POSTs the same request bytes
  (body and the three Standard Webhooks headers, signed once) straight at it — the receiver's own
  rate; for context, the relay's HTTP client (``sender.open_client``) posting the same alone;
* the relay: the messages are written through ``delivery.service.emit`` and committed before the
  clock starts; then the relay's overlapped rounds (``delivery.sender.relay_rounds``, as
  ``run_relay`` and ``deliver_due`` run them; ``most`` stops it after a segment's share) with ``Settings().worker`` as it is by default (concurrency, batch,
  timeout, lease) claim, sign, send and record them. Every one is checked ``sent``. The relay and
  the baseline are measured alternately in ``--segments`` parts of the messages each, so that
  other work starting or stopping on the machine weighs on both alike;
* the latency: ``delivery.sender.run_relay`` runs in a thread with the default poll interval while
  the main thread commits one message at a time, 0.1–0.5 s apart at random (so commits fall
  anywhere in the poll cycle); a sample is the first attempt's ``started_at`` minus the moment the
  commit returned. For context: the poll interval, and one POST to the receiver alone.

A temporary SQLite file by default; ``--database-url`` runs it on PostgreSQL (that database's
``public`` schema is dropped and migrated afresh).

    .venv/bin/python benchmarks/bench_outbox.py [--messages 10000] [--latency-samples 40]
        [--database-url postgresql+psycopg://postgres@127.0.0.1:5432/cb_bench_outbox]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import multiprocessing
import os
import random
import statistics
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime
from multiprocessing.connection import Connection
from pathlib import Path
from urllib.parse import urlsplit

import aiohttp
import httpx
from sqlalchemy import Engine, func, select, text
from sqlalchemy.orm import Session, sessionmaker

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from creditbridge import migrations  # noqa: E402
from creditbridge.core.actors import CONSOLE  # noqa: E402
from creditbridge.core.clock import utc_now  # noqa: E402
from creditbridge.core.config import Settings, WebhookSettings, WorkerSettings  # noqa: E402
from creditbridge.core.db import make_engine, make_sessionmaker  # noqa: E402
from creditbridge.delivery import sender  # noqa: E402
from creditbridge.delivery.models import Delivery, DeliveryAttempt, OutboxMessage  # noqa: E402
from creditbridge.delivery.service import (  # noqa: E402
    RoundOutcome,
    add_endpoint,
    emit,
    message_body,
)
from creditbridge.delivery.signing import sign_headers  # noqa: E402

GOAL_RATIO = 0.5
GOAL_P50 = 1.0
EVENT = "consent.granted"
PAYLOAD = {
    "consent_id": 123456,
    "consent_no": "CN-2026-0000123456",
    "subject_uscc": "91340100MA2N0001XA",
    "purpose": "loan_application",
    "status": "active",
}


# --- the receiver, in a child process --------------------------------------------------------------


def _serve(conn: Connection) -> None:
    from delivery.receivers import Receiver

    with Receiver() as receiver:
        conn.send(receiver.url)
        # The parent's end closing (it finished, or died) ends the child: it never outlives it.
        with contextlib.suppress(EOFError):
            conn.recv()


class ReceiverProcess:
    def __enter__(self) -> ReceiverProcess:
        context = multiprocessing.get_context("spawn")
        self._conn, child = context.Pipe()
        self._process = context.Process(target=_serve, args=(child,), daemon=True)
        self._process.start()
        child.close()
        self.url: str = self._conn.recv()
        return self

    def __exit__(self, *_: object) -> None:
        self._conn.send("stop")
        self._conn.close()
        self._process.join(timeout=10)
        if self._process.is_alive():
            self._process.kill()


# --- the baseline: the receiver's own rate ---------------------------------------------------------


def _baseline_request() -> tuple[bytes, dict[str, str]]:
    body = message_body(event_type=EVENT, created_at=utc_now(), payload={**PAYLOAD, "n": 1})
    headers = sign_headers(
        secret="whsec_" + "QUJD" * 11,
        scheme="hmac-sha256",
        message_id="msg_baseline",
        timestamp=utc_now(),
        body=body,
    )
    headers["content-type"] = "application/json"
    return body, headers


async def direct_burst(settings: Settings, url: str, requests: int, concurrency: int) -> float:
    """Seconds for ``requests`` POSTs straight at the receiver, ``concurrency`` in flight over the
    relay's own client (``sender.open_client``: aiohttp), warmed first as the relay's is."""
    body, headers = _baseline_request()
    remaining = requests

    async with sender.open_client(settings) as client:

        async def worker() -> None:
            nonlocal remaining
            while remaining > 0:
                remaining -= 1
                async with client.post(url, data=body, headers=headers) as response:
                    await response.read()
                    assert response.status == 200

        remaining = concurrency
        await asyncio.gather(*(worker() for _ in range(concurrency)))  # open the connections
        remaining = requests
        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        return time.perf_counter() - started


async def raw_burst(url: str, requests: int, concurrency: int) -> float:
    """Seconds for ``requests`` POSTs straight at the receiver from the leanest client there is:
    ``concurrency`` keep-alive connections writing the same request bytes and reading each
    answer by its Content-Length. What this measures is the receiver, not a client library."""
    body, headers = _baseline_request()
    target = urlsplit(url)
    head = f"POST {target.path} HTTP/1.1\r\nhost: {target.netloc}\r\n" + "".join(
        f"{name}: {value}\r\n" for name, value in headers.items()
    )
    request = f"{head}content-length: {len(body)}\r\n\r\n".encode() + body
    remaining = requests

    async def connection() -> None:
        nonlocal remaining
        reader, writer = await asyncio.open_connection(target.hostname, target.port)
        try:
            while remaining > 0:
                remaining -= 1
                writer.write(request)
                answer = await reader.readuntil(b"\r\n\r\n")
                assert answer.startswith(b"HTTP/1.1 200"), answer[:40]
                length = next(
                    int(line.split(b":", 1)[1])
                    for line in answer.split(b"\r\n")
                    if line.lower().startswith(b"content-length:")
                )
                await reader.readexactly(length)
        finally:
            writer.close()
            await writer.wait_closed()

    remaining = concurrency
    await asyncio.gather(*(connection() for _ in range(concurrency)))  # warm-up
    remaining = requests
    started = time.perf_counter()
    await asyncio.gather(*(connection() for _ in range(concurrency)))
    return time.perf_counter() - started


async def relay_burst(
    sm: sessionmaker[Session], settings: Settings, client: aiohttp.ClientSession, count: int
) -> tuple[float, RoundOutcome]:
    """Seconds for the relay's rounds — overlapped, as ``run_relay`` and ``deliver_due`` run
    them (``sender.relay_rounds``) — to deliver ``count`` of the due messages."""
    started = time.perf_counter()
    done = await sender.relay_rounds(sm, settings, worker="bench", client=client, most=count)
    return time.perf_counter() - started, done


@dataclass
class Throughput:
    """Seconds each side took for the same number of messages, summed over the segments."""

    relay: float = 0.0
    receiver: float = 0.0
    client: float = 0.0
    outcome: RoundOutcome = field(default_factory=RoundOutcome)
    ratios: list[float] = field(default_factory=list)


async def throughput(
    sm: sessionmaker[Session], settings: Settings, url: str, messages: int, segments: int
) -> Throughput:
    """The relay, the receiver alone and the HTTP client alone, ``messages`` each, measured in
    interleaved segments so that a change in the machine's load weighs on all three alike."""
    concurrency = settings.worker.delivery_concurrency
    measured = Throughput()
    async with sender.open_client(settings) as client:
        await direct_burst(settings, url, 200, concurrency)  # warm-up, not counted
        for n in range(segments):
            share = messages // segments + (1 if n < messages % segments else 0)
            receiver_s = await raw_burst(url, share, concurrency)
            client_s = await direct_burst(settings, url, share, concurrency)
            relay_s, outcome = await relay_burst(sm, settings, client, share)
            measured.receiver += receiver_s
            measured.client += client_s
            measured.relay += relay_s
            measured.outcome += outcome
            measured.ratios.append(receiver_s / relay_s)
    return measured


async def _one_post_latency(url: str, samples: int) -> list[float]:
    async with httpx.AsyncClient(trust_env=False) as client:
        await client.post(url, content=b"{}")
        times = []
        for _ in range(samples):
            started = time.perf_counter()
            await client.post(url, content=b"{}")
            times.append(time.perf_counter() - started)
        return times


# --- the database ----------------------------------------------------------------------------------


def fresh_engine(url: str | None, folder: Path) -> tuple[str, Engine]:
    if url is None:
        engine = make_engine(f"sqlite:///{folder / 'outbox.db'}")
        migrations.upgrade(engine)
        return "sqlite", engine
    engine = make_engine(url)
    with engine.begin() as connection:
        connection.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
        connection.execute(text("CREATE SCHEMA public"))
    migrations.upgrade(engine)
    return "postgresql", engine


def register(sm: sessionmaker[Session], settings: Settings, url: str) -> int:
    import factories  # tests/factories.py: an institution through the admission workflow

    with sm() as session, session.begin():
        institution = factories.institution(session)
        add_endpoint(
            session,
            CONSOLE,
            institution_id=institution.id,
            url=url,
            events=["consent.*"],
            settings=settings,
        )
        return institution.id


def publish(sm: sessionmaker[Session], institution_id: int, count: int, chunk: int = 1000) -> None:
    done = 0
    while done < count:
        with sm() as session, session.begin():
            for n in range(done, min(count, done + chunk)):
                emit(
                    session,
                    event_type=EVENT,
                    payload={**PAYLOAD, "n": n},
                    institution_id=institution_id,
                )
        done = min(count, done + chunk)


def count_status(sm: sessionmaker[Session], status: str) -> int:
    with sm() as session:
        return int(
            session.scalar(
                select(func.count()).select_from(Delivery).where(Delivery.status == status)
            )
            or 0
        )


def attempted(sm: sessionmaker[Session], message_ids: list[str]) -> int:
    with sm() as session:
        return int(
            session.scalar(
                select(func.count())
                .select_from(Delivery)
                .join(OutboxMessage, OutboxMessage.id == Delivery.message_id)
                .where(OutboxMessage.message_id.in_(message_ids), Delivery.attempts > 0)
                .where(Delivery.status != "sending")
            )
            or 0
        )


# --- the latency run -------------------------------------------------------------------------------


class RelayThread:
    """``run_relay`` in a thread with its own event loop, stopped the way the worker stops it."""

    def __init__(self, sm: sessionmaker[Session], settings: Settings) -> None:
        self._sm, self._settings = sm, settings
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, name="relay")

    def _run(self) -> None:
        async def main() -> None:
            self._loop = asyncio.get_running_loop()
            self._stop = asyncio.Event()
            self._ready.set()
            await sender.run_relay(self._sm, self._settings, worker="bench", stop=self._stop)

        asyncio.run(main())

    def __enter__(self) -> RelayThread:
        self._thread.start()
        self._ready.wait()
        return self

    def __exit__(self, *_: object) -> None:
        self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join()


def latency(
    sm: sessionmaker[Session], settings: Settings, institution_id: int, samples: int
) -> list[float]:
    rng = random.Random(20261205)
    committed: dict[str, datetime] = {}
    with RelayThread(sm, settings):
        time.sleep(1.0)  # the relay idles: nothing is due
        for n in range(samples):
            with sm() as session, session.begin():
                message = emit(
                    session,
                    event_type=EVENT,
                    payload={**PAYLOAD, "n": n},
                    institution_id=institution_id,
                )
            committed[message.message_id] = utc_now()
            time.sleep(rng.uniform(0.1, 0.5))
        deadline = time.monotonic() + 60
        while attempted(sm, list(committed)) < samples and time.monotonic() < deadline:
            time.sleep(0.1)
    with sm() as session:
        rows = session.execute(
            select(OutboxMessage.message_id, func.min(DeliveryAttempt.started_at))
            .join(Delivery, Delivery.message_id == OutboxMessage.id)
            .join(DeliveryAttempt, DeliveryAttempt.delivery_id == Delivery.id)
            .where(OutboxMessage.message_id.in_(list(committed)))
            .group_by(OutboxMessage.message_id)
        ).all()
    assert len(rows) == samples, f"only {len(rows)} of {samples} messages were attempted"
    return [(first - committed[message_id]).total_seconds() for message_id, first in rows]


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


# --- main ------------------------------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=10_000)
    parser.add_argument("--latency-samples", type=int, default=40)
    parser.add_argument(
        "--segments", type=int, default=5, help="relay and baseline measured alternately"
    )
    parser.add_argument(
        "--database-url", default=None, help="PostgreSQL (wiped); default: a temp SQLite file"
    )
    args = parser.parse_args()

    worker = WorkerSettings()  # the defaults, as `creditbridge worker` runs
    settings = Settings(
        env="development", webhooks=WebhookSettings(allow_loopback=True), worker=worker
    )
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory() as folder, ReceiverProcess() as receiver:
        store, engine = fresh_engine(args.database_url, Path(folder))
        sm = make_sessionmaker(engine)
        institution_id = register(sm, settings, receiver.url)
        print(
            f"[{store}] worker defaults: concurrency {worker.delivery_concurrency}, batch "
            f"{worker.delivery_batch}, timeout {worker.delivery_timeout_seconds:g} s, poll "
            f"{worker.poll_seconds:g} s"
        )

        # (a) throughput
        started = time.perf_counter()
        publish(sm, institution_id, args.messages)
        publish_s = time.perf_counter() - started
        measured = asyncio.run(throughput(sm, settings, receiver.url, args.messages, args.segments))
        outcome = measured.outcome
        sent = count_status(sm, "sent")
        assert sent == args.messages, f"{sent} of {args.messages} sent ({outcome})"
        relay_rate = args.messages / measured.relay
        baseline = args.messages / measured.receiver
        client_rate = args.messages / measured.client
        ratio = relay_rate / baseline
        print(
            f"[{store}] outbox: {args.messages:,} messages written in {publish_s:.1f} s "
            f"({args.messages / publish_s:,.0f}/s; not part of the figures below)"
        )
        print(
            f"[{store}] relay: {args.messages:,} delivered in {measured.relay:.2f} s = "
            f"{relay_rate:,.0f} msg/s ({outcome.claimed:,} claimed, {outcome.sent:,} sent, "
            f"{outcome.retrying} retrying, {outcome.dead} dead)"
        )
        print(
            f"[{store}] receiver alone (raw keep-alive load generator, same concurrency): "
            f"{args.messages:,} requests in {measured.receiver:.2f} s = {baseline:,.0f} req/s"
        )
        print(
            f"[{store}] the relay's HTTP client alone (aiohttp, same concurrency, no database, "
            f"no signing): {client_rate:,.0f} req/s"
        )
        print(
            f"[{store}] ratio relay/receiver: {ratio:.2f} (goal ≥ {GOAL_RATIO}); by segment "
            + " ".join(f"{x:.2f}" for x in measured.ratios)
            + f"; relay/client alone: {relay_rate / client_rate:.2f}"
        )

        # (b) latency, relay idle
        lat = latency(sm, settings, institution_id, args.latency_samples)
        direct = asyncio.run(_one_post_latency(receiver.url, 50))
        p50, p95 = percentile(lat, 0.5), percentile(lat, 0.95)
        print(
            f"[{store}] commit → first attempt, relay idle ({len(lat)} messages): p50 {p50 * 1000:.0f} ms, "
            f"p95 {p95 * 1000:.0f} ms, max {max(lat) * 1000:.0f} ms (goal p50 ≤ {GOAL_P50:g} s)"
        )
        print(
            f"[{store}] context: poll interval {worker.poll_seconds * 1000:.0f} ms (mean wait for the "
            f"next poll {worker.poll_seconds * 500:.0f} ms); one POST to the receiver alone p50 "
            f"{statistics.median(direct) * 1000:.1f} ms"
        )
        engine.dispose()
    load_after = os.getloadavg()
    print(f"[{store}] load average before {load_before[0]:.2f}, after {load_after[0]:.2f}")
    met = ratio >= GOAL_RATIO and p50 <= GOAL_P50
    print(
        f"RESULT store={store} messages={args.messages} relay_msg_per_s={relay_rate:.0f} "
        f"receiver_req_per_s={baseline:.0f} ratio={ratio:.2f} "
        f"client_req_per_s={client_rate:.0f} ratio_client={relay_rate / client_rate:.2f} "
        f"latency_p50_ms={p50 * 1000:.0f} "
        f"latency_p95_ms={p95 * 1000:.0f} poll_ms={worker.poll_seconds * 1000:.0f} "
        f"load={load_before[0]:.2f} {'met' if met else 'NOT MET'}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
