"""The outbox relay's sending side: POST claimed deliveries to institutions' webhook endpoints, signed
the Standard Webhooks way, many at once over one pooled HTTP/1.1 client (aiohttp: its compiled
parser and plain connection pool cost a fraction of httpx's CPU per request — see the outbox
section of ``docs/benchmarks.md``).

A round claims a batch (``service.relay.claim_due``, in a thread and a transaction of its own),
sends it with at most ``worker.delivery_concurrency`` requests in flight and no transaction open,
then records every result in one transaction (``service.relay.record_results``). Rounds run as
one overlapped stream (:func:`relay_rounds`): the next batch is claimed and the last one recorded
while sends go on. The worker runs them for as long as it lives (:func:`run_relay`); ``worker
--once`` and the old ``consent send-notifications`` run them until nothing is due
(:func:`deliver_due`).
"""

from __future__ import annotations

import asyncio
import errno
import ipaddress
import logging
import socket
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import suppress
from dataclasses import dataclass, field

import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult
from sqlalchemy.orm import Session, sessionmaker

from creditbridge.core.clock import utc_now
from creditbridge.core.config import Settings
from creditbridge.core.errors import DomainError
from creditbridge.delivery import domain
from creditbridge.delivery.service.endpoints import check_url
from creditbridge.delivery.service.relay import (
    Claimed,
    RoundOutcome,
    SendResult,
    claim_due,
    record_results,
    release,
)
from creditbridge.delivery.signing import sign_headers

__all__ = ["deliver_due", "open_client", "relay_round", "relay_rounds", "run_relay", "send_one"]

logger = logging.getLogger(__name__)

# What is read of a receiver's answer: enough to show why it refused. A body past it is not read,
# and its connection is dropped rather than drained.
_ANSWER_LIMIT = 64 * 1024
_SNIPPET = 200


class _CheckedResolver(AbstractResolver):
    """Name resolution that refuses what :func:`domain.address_refusal` refuses. The client
    connects only to addresses this returned, so the address checked is the address connected
    to: a name re-pointed at an inside address between the per-round ``check_url`` and the
    connection (DNS rebinding) is refused here rather than called. Like ``check_url``, a name
    with any refused address is refused whole. (Literal IP hosts never come here; ``check_url``
    has refused those already, and a literal cannot be re-pointed.)"""

    def __init__(self, *, allow_loopback: bool) -> None:
        self._allow_loopback = allow_loopback
        self._inner = aiohttp.ThreadedResolver()

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        found = await self._inner.resolve(host, port, family)
        for entry in found:
            address = entry["host"]
            try:
                refused = domain.address_refusal(
                    ipaddress.ip_address(address), allow_loopback=self._allow_loopback
                )
            except ValueError:
                refused = "reserved"
            if refused is not None:
                # An OSError with a strerror: aiohttp reports it as the connection's failure
                # (ClientConnectorDNSError), showing that text.
                raise OSError(
                    errno.EACCES, f"地址被拒绝 (address refused): {host} → {address} ({refused})"
                )
        return found

    async def close(self) -> None:
        await self._inner.close()


def open_client(settings: Settings) -> aiohttp.ClientSession:
    """The relay's one client (call it with the event loop running; use it as ``async with``): a
    pool as large as the concurrency, so a round never waits for a connection; the checking
    resolver above; no redirects followed (a 3xx could point inside the node's network, past the
    address check) and no proxy settings from the environment (where a webhook goes is decided
    by its endpoint and the address check alone)."""
    concurrency = settings.worker.delivery_concurrency
    allow_loopback = domain.loopback_allowed(
        env=settings.env, allow_loopback=settings.webhooks.allow_loopback
    )
    connector = aiohttp.TCPConnector(
        limit=concurrency,
        resolver=_CheckedResolver(allow_loopback=allow_loopback),
    )
    return aiohttp.ClientSession(
        connector=connector,
        timeout=aiohttp.ClientTimeout(total=settings.worker.delivery_timeout_seconds),
        trust_env=False,
        auto_decompress=False,
        headers={"user-agent": "CreditBridge-Webhooks/1", "accept-encoding": "identity"},
    )


URLChecks = dict[str, "asyncio.Task[list[str]]"]
"""The address checks of one round, by URL (see :func:`send_one`)."""


async def _check(url: str, settings: Settings, checks: URLChecks | None) -> None:
    if checks is None:
        await asyncio.to_thread(check_url, url, settings)
        return
    task = checks.get(url)
    if task is None:
        task = checks[url] = asyncio.ensure_future(asyncio.to_thread(check_url, url, settings))
    if task.done():
        # The usual case after a round's first send: no shield (a future and callbacks per send).
        task.result()
        return
    # Shielded: one waiter cancelled must not cancel the check the others wait for.
    await asyncio.shield(task)


async def send_one(
    client: aiohttp.ClientSession,
    claimed: Claimed,
    *,
    timeout: float,
    settings: Settings,
    checks: URLChecks | None = None,
) -> SendResult:
    """POST one delivery and say what came of it; never raises for the receiver's faults.

    The URL is checked again first (in a thread: it resolves the host), because DNS may point the
    name somewhere else since the endpoint was registered. ``checks`` shares that check between
    the sends of one round to the same URL (a round lasts seconds; a thread hop and a lookup per
    send cost about a fifth of the relay's throughput in ``bench_outbox.py``). The signature is made
    now, so its ``webhook-timestamp`` is the moment of sending, as receivers' replay windows
    expect."""
    started_at = utc_now()
    began = time.perf_counter()

    def result(
        status_code: int | None = None, error: str | None = None, retry_after: str | None = None
    ) -> SendResult:
        return SendResult(
            delivery_id=claimed.delivery_id,
            attempt=claimed.attempt,
            endpoint_id=claimed.endpoint_id,
            started_at=started_at,
            duration_ms=round((time.perf_counter() - began) * 1000),
            status_code=status_code,
            error=error,
            retry_after=None
            if retry_after is None
            else domain.retry_after_delay(retry_after, utc_now()),
        )

    if not claimed.secret:
        return result(error="签名密钥无法打开，未发送 (the signing secret cannot be opened)")
    try:
        await _check(claimed.url, settings, checks)
    except DomainError as exc:
        return result(error=f"地址被拒绝，未发送 (address refused): {exc}")
    headers = sign_headers(
        secret=claimed.secret,
        scheme=claimed.scheme,
        message_id=claimed.message_id,
        timestamp=utc_now(),
        body=claimed.body,
    )
    headers["content-type"] = "application/json"
    # aiohttp's total timeout bounds the whole exchange, reading the answer included (its timer
    # runs until the connection is released), so a receiver trickling its answer byte by byte
    # still fails in time. The session's (``open_client``: the same setting) serves unless this
    # send asks for another; a second timer per send (``asyncio.timeout``) cost about 3 % of the
    # relay's CPU in ``bench_outbox.py``.
    limit = client.timeout if client.timeout.total == timeout else aiohttp.ClientTimeout(timeout)
    try:
        async with client.post(
            claimed.url, data=claimed.body, headers=headers, allow_redirects=False, timeout=limit
        ) as response:
            answer = await _read_head(response)
            status = response.status
            retry_after = response.headers.get("retry-after")
    except TimeoutError:
        return result(error=f"超时 (timeout): no answer within {timeout:g} s")
    except (aiohttp.ClientError, OSError) as exc:
        return result(error=f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__)
    error = None
    if not 200 <= status < 300:
        snippet = answer[:_SNIPPET].decode("utf-8", errors="replace").strip()
        error = f"HTTP {status}" + (f": {snippet}" if snippet else "")
    return result(status, error, retry_after)


async def _read_head(response: aiohttp.ClientResponse) -> bytes:
    # Leaving the response with its body unread closes that connection instead of draining it.
    kept = bytearray()
    while len(kept) < _ANSWER_LIMIT:
        chunk = await response.content.read(_ANSWER_LIMIT - len(kept))
        if not chunk:
            break
        kept += chunk
    return bytes(kept)


async def _send_guarded(
    client: aiohttp.ClientSession, claimed: Claimed, settings: Settings, checks: URLChecks
) -> SendResult:
    # One delivery's unexpected failure must not take the round's other results with it: those
    # POSTs were made, and unrecorded they would all be sent again once their leases run out.
    try:
        return await send_one(
            client,
            claimed,
            timeout=settings.worker.delivery_timeout_seconds,
            settings=settings,
            checks=checks,
        )
    except Exception as exc:
        logger.exception("delivery %s: sending failed unexpectedly", claimed.delivery_id)
        return SendResult(
            delivery_id=claimed.delivery_id,
            attempt=claimed.attempt,
            endpoint_id=claimed.endpoint_id,
            started_at=utc_now(),
            duration_ms=0,
            error=f"{type(exc).__name__}: {exc}",
        )


def _claim(factory: sessionmaker[Session], settings: Settings, worker: str) -> list[Claimed]:
    with factory() as session, session.begin():
        return claim_due(
            session,
            worker=worker,
            limit=settings.worker.delivery_batch,
            lease_seconds=settings.worker.delivery_lease_seconds,
        )


def _record(
    factory: sessionmaker[Session],
    results: list[SendResult],
    worker: str,
    unsent: list[Claimed] | None = None,
) -> RoundOutcome:
    with factory() as session, session.begin():
        outcome = record_results(session, results, worker=worker)
        release(session, unsent or [], worker=worker)
    logger.info(
        "relay %s: %d claimed, %d sent, %d retrying, %d dead, %d lost",
        worker,
        outcome.claimed,
        outcome.sent,
        outcome.retrying,
        outcome.dead,
        outcome.lost,
    )
    return outcome


async def _send_batch(
    client: aiohttp.ClientSession, claimed: list[Claimed], settings: Settings
) -> list[SendResult]:
    """Send a claimed batch, ``delivery_concurrency`` at a time, results in the batch's order."""
    checks: URLChecks = {}
    results: list[SendResult | None] = [None] * len(claimed)
    queue = iter(enumerate(claimed))

    # A fixed set of senders taking the next delivery as each finishes: the same bound as a
    # semaphore over one task per delivery, at a fraction of the tasks.
    async def sending() -> None:
        for index, delivery in queue:
            results[index] = await _send_guarded(client, delivery, settings, checks)

    await asyncio.gather(
        *(sending() for _ in range(min(settings.worker.delivery_concurrency, len(claimed))))
    )
    return [result for result in results if result is not None]


async def relay_round(
    sessionmaker: sessionmaker[Session],
    settings: Settings,
    *,
    worker: str,
    client: aiohttp.ClientSession,
) -> RoundOutcome:
    """Claim one batch, send it, record it, one step after the other. ``claimed`` is 0 when
    nothing was due. (:func:`relay_rounds` overlaps the steps of successive rounds.)"""
    claimed = await asyncio.to_thread(_claim, sessionmaker, settings, worker)
    if not claimed:
        return RoundOutcome()
    results = await _send_batch(client, claimed, settings)
    return await asyncio.to_thread(_record, sessionmaker, results, worker)


@dataclass
class _Batch:
    """One claim on its way through :func:`relay_rounds`: what was claimed, the results as the
    sends finish, and the deliveries left unsent (their endpoint answered 410 meanwhile)."""

    claimed: list[Claimed]
    results: list[SendResult] = field(default_factory=list)
    unsent: list[Claimed] = field(default_factory=list)
    left: int = 0
    done: asyncio.Event = field(default_factory=asyncio.Event)

    def settle(self) -> None:
        self.left -= 1
        if self.left == 0:
            self.done.set()


async def relay_rounds(
    sessionmaker: sessionmaker[Session],
    settings: Settings,
    *,
    worker: str,
    client: aiohttp.ClientSession,
    stop: asyncio.Event | None = None,
    most: int | None = None,
) -> RoundOutcome:
    """Rounds back to back as one stream, the database steps out of the way of the sending:
    ``delivery_concurrency`` senders take deliveries from a queue that successive claims fill;
    the next batch is claimed (in a thread) while the current one is sent, and each batch is
    recorded (in another thread, one batch at a time, in order) once all its sends are done.
    Sending a batch, waiting for it all, then recording left the event loop idle for a third of
    every round, and the senders idle while the last sends of a batch finished.

    Bounded: at most three batches held at once (say one queued, one sending, one being
    recorded); the claim after them waits for the oldest to be recorded.

    Without ``stop`` this drains: it returns once a claim finds nothing due. With ``stop`` it
    idles ``worker.poll_seconds`` (cut short by ``stop``) when nothing is due, and returns once
    ``stop`` is set — after sending what was already claimed and recording every result: an
    unrecorded POST would be sent again when its lease runs out. ``most`` stops claiming once
    that many deliveries have been claimed (for measuring a slice of a backlog). A failing step
    raises after what was in flight is sent and recorded; deliveries claimed and not sent are
    sent again once their leases run out.

    After a receiver answers 410 Gone, nothing more is sent to its endpoint: deliveries to it
    still queued are given back unsent (:func:`service.relay.release`)."""
    concurrency = settings.worker.delivery_concurrency
    queue: asyncio.Queue[tuple[_Batch, Claimed] | None] = asyncio.Queue()
    held = asyncio.Semaphore(3)
    batches: asyncio.Queue[_Batch | None] = asyncio.Queue()
    gone: set[int] = set()
    checks: URLChecks = {}
    total = RoundOutcome()

    async def sending() -> None:
        while (item := await queue.get()) is not None:
            batch, delivery = item
            try:
                if delivery.endpoint_id in gone:
                    batch.unsent.append(delivery)
                    continue
                result = await _send_guarded(client, delivery, settings, checks)
                if domain.outcome_of(result.status_code) == "gone":
                    gone.add(result.endpoint_id)
                batch.results.append(result)
            finally:
                # Even when cancelled mid-send: the batch's other results are still recorded.
                batch.settle()

    async def recording() -> None:
        nonlocal total
        failure: BaseException | None = None
        while (batch := await batches.get()) is not None:
            await batch.done.wait()
            try:
                total += await asyncio.to_thread(
                    _record, sessionmaker, batch.results, worker, batch.unsent
                )
            except Exception as exc:
                # The other batches are still recorded; the first failure is raised at the end.
                failure = failure or exc
            finally:
                held.release()
        if failure is not None:
            raise failure

    senders = [asyncio.create_task(sending()) for _ in range(concurrency)]
    recorder = asyncio.create_task(recording())
    taken = 0
    try:
        while stop is None or not stop.is_set():
            if most is not None and taken >= most:
                break
            await held.acquire()
            try:
                claimed = await asyncio.to_thread(_claim, sessionmaker, settings, worker)
            except BaseException:
                held.release()
                raise
            if not claimed:
                held.release()
                if stop is None:
                    break
                with suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), settings.worker.poll_seconds)
                continue
            taken += len(claimed)
            batch = _Batch(claimed, left=len(claimed))
            for delivery in claimed:
                queue.put_nowait((batch, delivery))
            batches.put_nowait(batch)
            # …and straight on to the next claim, so it is queued before the senders run dry.
    finally:
        # Whatever ended the loop, what was claimed is sent and recorded before returning.
        # Shielded: a cancelled relay still records the POSTs it made.
        for _ in senders:
            queue.put_nowait(None)
        batches.put_nowait(None)
        await asyncio.shield(asyncio.gather(*senders, return_exceptions=True))
        await asyncio.shield(recorder)
    return total


async def run_relay(
    sessionmaker: sessionmaker[Session],
    settings: Settings,
    *,
    worker: str,
    stop: asyncio.Event,
) -> None:
    """Send the outbox until ``stop`` is set (:func:`relay_rounds`: rounds overlapped while there
    is work, a wait of ``worker.poll_seconds`` after a claim that found nothing). A set ``stop``
    ends the loop after the batch in flight is sent and its results recorded. A round that fails
    (the database away, say) is logged and tried again after the same wait: its claimed
    deliveries are sent again once their leases run out."""
    async with open_client(settings) as client:
        while not stop.is_set():
            try:
                await relay_rounds(sessionmaker, settings, worker=worker, client=client, stop=stop)
            except Exception:
                logger.exception("relay %s: a round failed; trying again", worker)
                with suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), settings.worker.poll_seconds)


def deliver_due(
    sessionmaker: sessionmaker[Session], settings: Settings, *, worker: str
) -> RoundOutcome:
    """Send everything due now, round after round until a claim finds nothing, and return the
    counts. Synchronous (it runs its own event loop), for ``worker --once`` and the CLI. Called
    from a thread whose event loop is running (async code, or a process where a browser driver
    keeps one), it runs that loop on a thread of its own, since ``asyncio.run`` cannot nest. A
    delivery that fails is due again only later, so this ends."""

    async def drain() -> RoundOutcome:
        async with open_client(settings) as client:
            return await relay_rounds(sessionmaker, settings, worker=worker, client=client)

    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(drain())
    with ThreadPoolExecutor(max_workers=1) as runner:
        return runner.submit(lambda: asyncio.run(drain())).result()
