"""Issue 22 finding 3: a server SIGKILLed in the middle of a big delivery leaves nothing behind.

The forked reader of a big file used to survive its parent, keep the listening socket and wait
forever: the port answered nobody and a restarted server could not bind (Errno 98). Here a real
``creditbridge serve`` receives a delivery big enough for the forked reader, is killed while the
reader runs, and a new server must bind the same port and answer.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest
from sqlalchemy.orm import Session

from creditbridge.access import service as access_service
from creditbridge.access.client import Signer
from creditbridge.core.actors import CONSOLE
from creditbridge.core.config import Settings
from creditbridge.core.db import make_engine
from creditbridge.ingest.service.pipeline import PARALLEL_BYTES
from creditbridge.ingest.service.uploads import UPLOAD_PREFIX

from .test_streaming import _prepare, write_tax_csv

PATH = "/api/v1/ingest/batches"

pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux") or (os.cpu_count() or 1) < 2,
    reason="the forked reader runs only on more than one core; the test reads /proc",
)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _children(pid: int) -> set[int]:
    found: set[int] = set()
    try:
        for task in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{task}/children") as listing:
                found.update(int(n) for n in listing.read().split())
    except OSError:
        pass
    return found


def _alive(pid: int) -> bool:
    """Running (a zombie waiting for its reaper holds no socket any more)."""
    try:
        with open(f"/proc/{pid}/stat") as status:
            return status.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def _serve(port: int, env: dict[str, str]) -> subprocess.Popen[bytes]:
    command = [sys.executable, "-m", "creditbridge", "serve", "--host", "127.0.0.1", "--port"]
    return subprocess.Popen(
        [*command, str(port)], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )


def _wait_healthy(server: subprocess.Popen[bytes], port: int, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if server.poll() is not None:
            output = server.stdout.read().decode(errors="replace") if server.stdout else ""
            pytest.fail(f"the server exited with {server.returncode}:\n{output}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.05)
    pytest.fail(f"the server did not answer /healthz within {seconds} s")


def _port_free(port: int) -> bool:
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn binds
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def test_a_server_killed_mid_delivery_can_be_restarted_on_its_port(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'kill.db'}"
    provider_id = _prepare(url)
    engine = make_engine(url)
    with Session(engine) as session, session.begin():
        issued = access_service.create_client(
            session, CONSOLE, name="税务前置机", owner_kind="provider", algorithm="hmac-sm3",
            provider_id=provider_id, settings=Settings(database_url=url),
        )  # fmt: skip
        signer = Signer(issued.client.key_id, secret=issued.secret)
    engine.dispose()
    big = write_tax_csv(tmp_path / "big.csv", 200_000)
    assert big.stat().st_size >= PARALLEL_BYTES
    request = httpx.Request(
        "POST",
        f"http://127.0.0.1:0{PATH}",
        files={"file": ("纳税.csv", big.read_bytes(), "text/csv")},
        data={"provider": str(provider_id), "dataset": "tax_payment", "batch_id": "killed-1"},
    )
    body = request.read()
    headers = {**signer.headers("POST", PATH, body=body),
               "Content-Type": request.headers["Content-Type"]}  # fmt: skip

    uploads = tmp_path / "tmp"
    uploads.mkdir()
    env = {**os.environ, "CREDITBRIDGE_DATABASE_URL": url, "TMPDIR": str(uploads),
           "CREDITBRIDGE_INGEST_SQLITE_CACHE_MB": "1"}  # fmt: skip
    port = _free_port()
    first = _serve(port, env)
    restarted: subprocess.Popen[bytes] | None = None
    readers: set[int] = set()
    try:
        _wait_healthy(first, port, 60)
        threading.Thread(
            target=lambda: _post_ignoring_errors(f"http://127.0.0.1:{port}{PATH}", body, headers),
            daemon=True,
        ).start()
        deadline = time.monotonic() + 60
        while not (readers := _children(first.pid)) and time.monotonic() < deadline:
            time.sleep(0.01)
        assert readers, "the delivery never started its forked reader"
        assert list(uploads.glob(f"{UPLOAD_PREFIX}{first.pid}-*"))

        first.send_signal(signal.SIGKILL)
        first.wait(timeout=10)
        killed_at = time.monotonic()
        while (any(map(_alive, readers)) or not _port_free(port)) and (
            time.monotonic() - killed_at < 5
        ):
            time.sleep(0.02)
        assert not any(map(_alive, readers)), "the forked reader outlived its server"
        assert _port_free(port), "the port is still held 5 s after the server was killed"

        restarted = _serve(port, env)
        _wait_healthy(restarted, port, 60)
        assert not list(uploads.glob(f"{UPLOAD_PREFIX}*")), "the dead server's upload is left"
    finally:
        for server in (first, restarted):
            if server is not None and server.poll() is None:
                server.kill()
                server.wait(timeout=10)
        for reader in readers:
            if _alive(reader):
                os.kill(reader, signal.SIGKILL)


def _post_ignoring_errors(url: str, body: bytes, headers: dict[str, str]) -> None:
    with contextlib.suppress(httpx.HTTPError):  # the server is killed under it
        httpx.post(url, content=body, headers=headers, timeout=120)
