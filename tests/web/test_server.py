"""The served protocol turns Nagle's algorithm off even on a listening socket bound the way
uvicorn binds it for several workers (protocol number 0, which asyncio leaves alone)."""

from __future__ import annotations

import asyncio
import socket
from concurrent.futures import ThreadPoolExecutor

from uvicorn.config import Config
from uvicorn.protocols.http.h11_impl import H11Protocol
from uvicorn.server import ServerState

from creditbridge.web.server import NoDelayH11Protocol


async def _app(scope: object, receive: object, send: object) -> None:  # never called
    raise AssertionError("no request is sent")


async def _nodelay_of_accepted_connection(protocol: type[H11Protocol]) -> int:
    config = Config(app=_app, http=protocol, lifespan="off")
    config.load()
    state = ServerState()
    listening = socket.socket(family=socket.AF_INET)  # as uvicorn's Config.bind_socket
    listening.bind(("127.0.0.1", 0))
    listening.listen()
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: protocol(config, state, {}), sock=listening)
    _, writer = await asyncio.open_connection(*listening.getsockname())
    try:
        for _ in range(200):
            if state.connections:
                break
            await asyncio.sleep(0.01)
        (accepted,) = state.connections
        sock = accepted.transport.get_extra_info("socket")  # type: ignore[attr-defined]
        return int(sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))
    finally:
        writer.close()
        server.close()


def _nodelay(protocol: type[H11Protocol]) -> int:
    # Its own thread and event loop: the browser tests' Playwright may keep a loop running in
    # this thread.
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, _nodelay_of_accepted_connection(protocol)).result()


def test_connections_of_a_worker_bound_socket_have_nagle_off() -> None:
    assert _nodelay(NoDelayH11Protocol) != 0


def test_plain_h11_leaves_nagle_on_there_which_is_why_the_protocol_exists() -> None:
    assert _nodelay(H11Protocol) == 0
