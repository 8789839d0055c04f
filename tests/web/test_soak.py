"""A bounded soak of ``creditbridge serve`` (issue 22, point 4): a few hundred mixed page, PDF,
XLSX and API requests from a few clients at once against the real command on loopback. It must
end with the server alive, no 500, and no "Fatal Python error" in its log (faulthandler is on in
``serve``: a crash in native code would print one there)."""

from __future__ import annotations

import itertools
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

from .helpers import csrf_from
from .live import LiveSite, log_in, loopback_socket
from .live import live_site_fixture as live_site_fixture  # the live_site fixture

ROUNDS = 34  # × 9 requests a round: 306 requests
CLIENTS = 4


def _start(site: LiveSite, folder: Path) -> tuple[subprocess.Popen[bytes], str, Path]:
    probe = loopback_socket()
    port = probe.getsockname()[1]
    probe.close()
    log = folder / "serve.log"
    env = {**os.environ, "CREDITBRIDGE_DATABASE_URL": site.url, "PYTHONUNBUFFERED": "1"}
    env.pop("PYTHONFAULTHANDLER", None)  # serve must turn it on itself
    command = [str(Path(sys.executable).parent / "creditbridge"), "serve", "--port", str(port)]
    with log.open("wb") as out:
        process = subprocess.Popen(command, cwd=folder, env=env, stdout=out, stderr=out)
    base_url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        assert process.poll() is None, log.read_text(errors="replace")
        try:
            if httpx.get(f"{base_url}/healthz", timeout=2).status_code == 200:
                return process, base_url, log
        except httpx.TransportError:
            pass
        assert time.monotonic() < deadline, "the server did not start"
        time.sleep(0.1)


def _logged_in(base_url: str, username: str) -> httpx.Cookies:
    # Once per user: a TOTP code is refused the second time it is used (replay protection).
    with httpx.Client(base_url=base_url, timeout=120) as client:
        log_in(client, username)
        return client.cookies


def _round(
    base_url: str, owner_cookies: httpx.Cookies, officer_cookies: httpx.Cookies, index: int
) -> list[tuple[str, int]]:
    """One visitor's browsing: public pages and API, an enterprise's own report as HTML and PDF,
    an officer's figures as a page and an XLSX workbook."""
    seen: list[tuple[str, int]] = []
    with httpx.Client(base_url=base_url, timeout=120) as anonymous:
        for path in ("/", "/catalog", "/verify", "/api/v1/catalog", "/api/v1/openapi.json"):
            seen.append((path, anonymous.get(path).status_code))
    if index % 2 == 0:
        with httpx.Client(base_url=base_url, timeout=120, cookies=owner_cookies) as owner:
            page = owner.get("/me/report")
            seen.append(("/me/report", page.status_code))
            pdf = owner.post("/me/report/pdf", data={"csrf_token": csrf_from(page.text)})
            assert pdf.status_code != 200 or pdf.content.startswith(b"%PDF")
            seen.append(("/me/report/pdf", pdf.status_code))
            seen.append(("/account", owner.get("/account").status_code))
    else:
        with httpx.Client(base_url=base_url, timeout=120, cookies=officer_cookies) as officer:
            seen.append(("/aggregates", officer.get("/aggregates").status_code))
            workbook = officer.get("/aggregates.xlsx")
            assert workbook.status_code != 200 or workbook.content.startswith(b"PK")
            seen.append(("/aggregates.xlsx", workbook.status_code))
            seen.append(("/enterprises", officer.get("/enterprises").status_code))
    seen.append(("/healthz", httpx.get(f"{base_url}/healthz", timeout=30).status_code))
    return seen


def test_a_soak_of_mixed_requests_ends_with_the_server_alive_and_no_crash(
    live_site: LiveSite, tmp_path: Path
) -> None:
    process, base_url, log = _start(live_site, tmp_path)
    try:
        owner = _logged_in(base_url, live_site.enterprise_user)
        officer = _logged_in(base_url, live_site.officer)
        with ThreadPoolExecutor(max_workers=CLIENTS) as pool:
            rounds = list(pool.map(lambda i: _round(base_url, owner, officer, i), range(ROUNDS)))
        alive = process.poll() is None
        final = httpx.get(f"{base_url}/healthz", timeout=30).status_code if alive else None
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    output = log.read_text(errors="replace")
    statuses = Counter(status for status in itertools.chain.from_iterable(rounds))
    served = Counter(path for path, status in itertools.chain.from_iterable(rounds))

    assert alive, output[-4000:]
    assert final == 200
    assert "Fatal Python error" not in output, output[-4000:]
    assert "Segmentation fault" not in output
    # Every request was answered (a crash or a hang would have raised above).
    assert sum(statuses.values()) == ROUNDS * 9
    assert served["/me/report/pdf"]
    assert served["/aggregates.xlsx"]
