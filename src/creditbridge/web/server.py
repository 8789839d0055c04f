"""How `creditbridge serve` runs uvicorn: the options it passes, and the HTTP protocol, uvicorn's
h11 protocol with TCP_NODELAY set on every connection.

With ``--workers`` above 1, uvicorn binds the listening socket itself as
``socket.socket(family=…)``, whose protocol number is 0, and asyncio turns Nagle's algorithm off
only on sockets whose protocol is ``IPPROTO_TCP``. Those connections kept Nagle on, so a
keep-alive client's next request waited for the peer's delayed ACK: about 40 ms per request
(measured here: ``/healthz`` p50 1.2 ms with one worker, 44 ms with two).
"""

from __future__ import annotations

import asyncio
import contextlib
import faulthandler
import os
import socket
import sys
from typing import Any

from uvicorn.protocols.http.h11_impl import H11Protocol

from creditbridge.reports import rendering


class NoDelayH11Protocol(H11Protocol):
    def connection_made(  # type: ignore[override]
        self, transport: asyncio.Transport
    ) -> None:
        sock = transport.get_extra_info("socket")
        if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
            # A socket that cannot take the option still serves, only slower.
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        super().connection_made(transport)


PROTOCOL = f"{__name__}:{NoDelayH11Protocol.__name__}"
"""The import path uvicorn's ``http`` setting takes (worker processes import it themselves)."""


def uvicorn_options() -> dict[str, Any]:
    """What `creditbridge serve` gives uvicorn besides the address and the workers.

    uvicorn's own ``server: uvicorn`` header is off (the application sends ``Server:
    CreditBridge``), and so are its proxy headers: by default it believes ``X-Forwarded-For``
    and ``-Proto`` from 127.0.0.1, whoever runs there. The application believes them only from
    ``CREDITBRIDGE_TRUSTED_PROXIES`` (:func:`creditbridge.web.app.create_app`).
    """
    return {"http": PROTOCOL, "server_header": False, "proxy_headers": False}


def prepare_process() -> None:
    """Before uvicorn starts: a crash in native code prints every thread's Python stack to the
    log (stderr) instead of only "Segmentation fault", in this process, its worker processes and
    the PDF renderers (``PYTHONFAULTHANDLER`` is inherited); and native libraries' thread pools
    are pinned to one thread, rather than one per core in every process."""
    faulthandler.enable(file=sys.stderr, all_threads=True)
    os.environ.setdefault("PYTHONFAULTHANDLER", "1")
    rendering.pin_native_threads()
