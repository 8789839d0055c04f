"""The outbox relay's sending side: POST claimed deliveries to institutions' webhook endpoints, signed
the Standard Webhooks way, many at once over one pooled HTTP/1.1 client.

A round claims a batch (``service.relay.claim_due``, in a thread and a transaction of its own),
sends it with at most ``worker.delivery_concurrency`` requests in flight and no transaction open,
then records every result in one transaction (``service.relay.record_results``). The worker runs
rounds for as long as it lives (:func:`run_relay`); ``worker --once`` and the old
``consent send-notifications`` run them until nothing is due (:func:`deliver_due`).
"""

from __future__ import annotations

import asyncio
import logging
import time
from contextlib import suppress

import httpx
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
)
from creditbridge.delivery.signing import sign_headers

__all__ = ["deliver_due", "open_client", "relay_round", "run_relay", "send_one"]

logger = logging.getLogger(__name__)

# What is read of a receiver's answer: enough to show why it refused. A body past it is not read,
# and its connection is dropped rather than drained.
_ANSWER_LIMIT = 64 * 1024
_SNIPPET = 200


def open_client(settings: Settings) -> httpx.AsyncClient:
    """The relay's one client: a pool as large as the concurrency, so a round never waits for a
    connection; no redirects followed (a 3xx could point inside the node's network, past the
    address check) and no proxy settings from the environment (where a webhook goes is decided
    by its endpoint and the address check alone)."""
    concurrency = settings.worker.delivery_concurrency
    return httpx.AsyncClient(
        http1=True,
        http2=False,
        limits=httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency),
        timeout=httpx.Timeout(settings.worker.delivery_timeout_seconds),
        follow_redirects=False,
        trust_env=False,
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
    # Shielded: one waiter cancelled must not cancel the check the others wait for.
    await asyncio.shield(task)


async def send_one(
    client: httpx.AsyncClient,
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
            retry_after=domain.retry_after_delay(retry_after, utc_now()),
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
    try:
        # httpx's timeout bounds each phase (connect, each read); this bounds the whole exchange,
        # so a receiver trickling its answer byte by byte still fails in time.
        async with asyncio.timeout(timeout):
            async with client.stream(
                "POST", claimed.url, content=claimed.body, headers=headers
            ) as response:
                answer = await _read_head(response)
    except (TimeoutError, httpx.TimeoutException):
        return result(error=f"超时 (timeout): no answer within {timeout:g} s")
    except httpx.HTTPError as exc:
        return result(error=f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__)
    error = None
    if not 200 <= response.status_code < 300:
        snippet = answer[:_SNIPPET].decode("utf-8", errors="replace").strip()
        error = f"HTTP {response.status_code}" + (f": {snippet}" if snippet else "")
    return result(response.status_code, error, response.headers.get("retry-after"))


async def _read_head(response: httpx.Response) -> bytes:
    kept = bytearray()
    async for chunk in response.aiter_raw():
        kept += chunk
        if len(kept) >= _ANSWER_LIMIT:
            break
    return bytes(kept)


async def _send_guarded(
    client: httpx.AsyncClient, claimed: Claimed, settings: Settings, checks: URLChecks
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


def _record(factory: sessionmaker[Session], results: list[SendResult], worker: str) -> RoundOutcome:
    with factory() as session, session.begin():
        return record_results(session, results, worker=worker)


async def relay_round(
    sessionmaker: sessionmaker[Session],
    settings: Settings,
    *,
    worker: str,
    client: httpx.AsyncClient,
) -> RoundOutcome:
    """Claim one batch, send it, record it. ``claimed`` is 0 when nothing was due."""
    claimed = await asyncio.to_thread(_claim, sessionmaker, settings, worker)
    if not claimed:
        return RoundOutcome()
    gate = asyncio.Semaphore(settings.worker.delivery_concurrency)
    checks: URLChecks = {}

    async def bounded(delivery: Claimed) -> SendResult:
        async with gate:
            return await _send_guarded(client, delivery, settings, checks)

    results = await asyncio.gather(*(bounded(delivery) for delivery in claimed))
    outcome = await asyncio.to_thread(_record, sessionmaker, list(results), worker)
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


async def run_relay(
    sessionmaker: sessionmaker[Session],
    settings: Settings,
    *,
    worker: str,
    stop: asyncio.Event,
) -> None:
    """Send the outbox until ``stop`` is set: rounds back to back while there is work, and a wait
    of ``worker.poll_seconds`` (cut short by ``stop``) after a round that found nothing. A set
    ``stop`` ends the loop after the round in flight has recorded its results. A round that fails
    (the database away, say) is logged and tried again after the same wait: its claimed
    deliveries are sent again once their leases run out."""
    async with open_client(settings) as client:
        while not stop.is_set():
            try:
                outcome = await relay_round(sessionmaker, settings, worker=worker, client=client)
            except Exception:
                logger.exception("relay %s: a round failed; trying again", worker)
                outcome = RoundOutcome()
            if outcome.claimed == 0:
                with suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), settings.worker.poll_seconds)


def deliver_due(
    sessionmaker: sessionmaker[Session], settings: Settings, *, worker: str
) -> RoundOutcome:
    """Send everything due now, round after round until a round finds nothing, and return the
    counts. Synchronous (it runs its own event loop), for ``worker --once`` and the CLI: call it
    from a thread without a running loop. A delivery that fails is due again only later, so this
    ends."""

    async def drain() -> RoundOutcome:
        total = RoundOutcome()
        async with open_client(settings) as client:
            while True:
                outcome = await relay_round(sessionmaker, settings, worker=worker, client=client)
                total += outcome
                if outcome.claimed == 0:
                    return total

    return asyncio.run(drain())
