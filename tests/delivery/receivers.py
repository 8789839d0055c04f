"""A real webhook receiver on 127.0.0.1 for tests and benchmarks: scriptable answers, every request
recorded.

::

    from delivery.receivers import Receiver, Reply

    with Receiver() as receiver:                      # answers 200 to everything by default
        receiver.queue(Reply(500), Reply(429, retry_after="30"))  # the next two requests, then the default
        ... register an endpoint at receiver.url and let the relay send ...
        assert receiver.wait_for(3)                   # blocks until 3 requests arrived (False on timeout)
        first = receiver.requests[0]                  # Received: path, headers, body, reply
        first.webhook_id, first.json()
        receiver.by_webhook_id()                      # {webhook-id: [Received, …]}: count duplicates

The API, all of it:

* ``Reply(status=200, retry_after=None, delay=0.0)`` — one answer. ``delay`` holds the request that
  many seconds before answering (longer than the sender's timeout: a receiver that times out);
  ``HANG`` holds it until the receiver closes.
* ``Receiver(default=Reply(), respond=None)`` — a context manager. ``respond(received)`` may return
  the reply for a request (``None``: fall back to the queue, then ``default``). ``default`` may be
  reassigned while it runs.
* ``receiver.url`` (``http://127.0.0.1:<port>/hook``; any path is accepted), ``queue(*replies)``,
  ``requests`` (a copy, in arrival order), ``count``, ``wait_for(count, timeout=10)``,
  ``by_webhook_id()``.

It is uvicorn (h11) serving a bare ASGI callable in a background thread, on a port the kernel
picked. A request is recorded when its body has arrived, before its reply is chosen or delayed, so a
test can wait for a request that hangs. Closing releases held requests, stops the server and joins
the thread. Benchmarks run it in a child process so that the sender under test has the
interpreter to itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import math
import socket
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

import uvicorn

__all__ = ["HANG", "Received", "Receiver", "Reply"]


@dataclass(frozen=True)
class Reply:
    """What the receiver answers: a status, an optional ``Retry-After`` header (seconds or an HTTP
    date, sent as given), after ``delay`` seconds."""

    status: int = 200
    retry_after: str | None = None
    delay: float = 0.0


HANG = Reply(200, delay=math.inf)
"""Hold the request until the receiver closes (the sender times out or is killed first)."""


@dataclass(frozen=True)
class Received:
    """One request as it arrived. Header names are lower-case."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    reply: Reply | None = None
    """What it was answered (``None`` only in what ``respond`` is shown)."""
    arrived: float = field(default_factory=time.monotonic)

    @property
    def webhook_id(self) -> str | None:
        return self.headers.get("webhook-id")

    def json(self) -> Any:
        return json.loads(self.body)


Responder = Callable[[Received], Reply | None]


class Receiver:
    """A loopback HTTP server that records every request and answers as scripted."""

    def __init__(self, default: Reply | None = None, *, respond: Responder | None = None) -> None:
        self.default = default or Reply()
        self._respond = respond
        self._queued: deque[Reply] = deque()
        self._requests: list[Received] = []
        self._changed = threading.Condition()
        self._socket: socket.socket | None = None
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._release: asyncio.Event | None = None
        self.port = 0

    # --- scripting and inspection -------------------------------------------------------------

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    def queue(self, *replies: Reply) -> None:
        """Answer the next requests with these, in order; then the default again."""
        with self._changed:
            self._queued.extend(replies)

    @property
    def requests(self) -> list[Received]:
        with self._changed:
            return list(self._requests)

    @property
    def count(self) -> int:
        with self._changed:
            return len(self._requests)

    def wait_for(self, count: int, timeout: float = 10.0) -> bool:
        """Block until at least ``count`` requests arrived; False if ``timeout`` passed first."""
        with self._changed:
            return self._changed.wait_for(lambda: len(self._requests) >= count, timeout)

    def by_webhook_id(self) -> dict[str | None, list[Received]]:
        grouped: dict[str | None, list[Received]] = {}
        for received in self.requests:
            grouped.setdefault(received.webhook_id, []).append(received)
        return grouped

    # --- the server ---------------------------------------------------------------------------

    def __enter__(self) -> Receiver:
        # The protocol named, so asyncio sets TCP_NODELAY on each accepted connection: with 0 it
        # leaves Nagle on, and every keep-alive answer waits ~40 ms for a delayed ACK.
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", 0))
        self._socket = sock
        self.port = sock.getsockname()[1]
        config = uvicorn.Config(
            self._app,
            interface="asgi3",
            lifespan="off",
            proxy_headers=False,
            loop="asyncio",
            http="h11",
            log_level="warning",
            access_log=False,
            timeout_keep_alive=60,
            timeout_graceful_shutdown=1,
            backlog=1024,
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [sock]}, name="receiver", daemon=True
        )
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                self.__exit__(None, None, None)
                raise RuntimeError("the receiver did not start")
            time.sleep(0.01)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._loop is not None and self._release is not None and not self._loop.is_closed():
            with contextlib.suppress(RuntimeError):  # the loop closed in between
                self._loop.call_soon_threadsafe(self._release.set)
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)
        if self._socket is not None:
            self._socket.close()

    def _choose(self, received: Received) -> Reply:
        chosen = self._respond(received) if self._respond is not None else None
        if chosen is not None:
            return chosen
        with self._changed:
            return self._queued.popleft() if self._queued else self.default

    async def _app(
        self,
        scope: dict[str, Any],
        receive: Callable[[], Any],
        send: Callable[[dict[str, Any]], Any],
    ) -> None:
        if scope["type"] != "http":
            return
        if self._release is None:
            self._loop = asyncio.get_running_loop()
            self._release = asyncio.Event()
        body = bytearray()
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            body += message.get("body", b"")
            if not message.get("more_body", False):
                break
        headers: dict[str, str] = {}
        for raw_name, raw_value in scope["headers"]:
            name, value = raw_name.decode("latin-1").lower(), raw_value.decode("latin-1")
            headers[name] = f"{headers[name]}, {value}" if name in headers else value
        probe = Received(
            method=scope["method"], path=scope["path"], headers=headers, body=bytes(body)
        )
        reply = self._choose(probe)
        received = dataclasses.replace(probe, reply=reply)
        with self._changed:
            self._requests.append(received)
            self._changed.notify_all()
        if reply.delay > 0:
            try:
                timeout = None if math.isinf(reply.delay) else reply.delay
                await asyncio.wait_for(self._release.wait(), timeout)
            except TimeoutError:
                pass
        answer = f"{reply.status}\n".encode()
        response_headers = [
            (b"content-type", b"text/plain"),
            (b"content-length", str(len(answer)).encode()),
        ]
        if reply.retry_after is not None:
            response_headers.append((b"retry-after", reply.retry_after.encode("latin-1")))
        await send(
            {"type": "http.response.start", "status": reply.status, "headers": response_headers}
        )
        await send({"type": "http.response.body", "body": answer})
