"""A burst of PDF reports: /healthz p99 and the share of PDFs answered within 2 s.

Claim (issue 22, point 2): under a 20 PDF/s burst ``/healthz`` p99 stays ≤ 50 ms and every PDF
request gets either its file or a 503 (``CB-BUSY``, ``Retry-After``) within 2 s.

What runs: the real server (`creditbridge serve`, one worker) over a demo database (the one
``bench_report_load.py`` prepares, reused when present); the demo institution officer logs in and
an open-loop generator (request i sent at t0 + i/rate, latency counted from that planned moment)
sends POST /reports/{code}/pdf at ``--rate`` per second for ``--duration`` seconds while /healthz
is probed 20 times a second. Three phases against fresh servers, in one run:

* ``healthz alone``: the probe without any PDF load (the floor);
* ``admitted``: the burst on this version (renders in a process pool, admission limit, 503 past it);
* ``in-process``: the burst on the old path (``CREDITBRIDGE_PDF_IN_PROCESS=1``, no render cap and no
  in-flight cap: every PDF rendered in the serving process, queued without bound).

    .venv/bin/python benchmarks/bench_pdf_burst.py [--enterprises 500] [--rate 20] [--duration 10]
        [--work DIR]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench_report_load as shared  # the demo database and the officer's login

PROBE_RATE = 20.0
WITHIN = 2.0


async def _burst(
    base: str, cookie: str, csrf: str, paths: list[str], rate: float, duration: float
) -> dict[str, Any]:
    limits = httpx.Limits(max_connections=1000, max_keepalive_connections=200)
    async with httpx.AsyncClient(
        base_url=base, headers={"Cookie": cookie}, timeout=120, limits=limits
    ) as client:
        t0 = time.perf_counter() + 0.5
        health: list[float] = []
        pdfs: list[tuple[int, float]] = []

        async def probe(i: int) -> None:
            planned = t0 + i / PROBE_RATE
            await asyncio.sleep(max(0.0, planned - time.perf_counter()))
            try:
                await client.get("/healthz", timeout=30)
                health.append(time.perf_counter() - planned)
            except httpx.HTTPError:
                health.append(float("inf"))

        async def pdf(i: int) -> None:
            planned = t0 + i / rate
            await asyncio.sleep(max(0.0, planned - time.perf_counter()))
            try:
                response = await client.post(paths[i % len(paths)], headers={"X-CSRF-Token": csrf})
                pdfs.append((response.status_code, time.perf_counter() - planned))
            except httpx.HTTPError:
                pdfs.append((0, float("inf")))

        probes = [probe(i) for i in range(int(PROBE_RATE * duration))]
        burst = [pdf(i) for i in range(int(rate * duration))] if paths else []
        await asyncio.gather(*probes, *burst)

    def pct(values: list[float], q: float) -> float:
        ordered = sorted(values)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000

    answered = [s for s, t in pdfs if s in (200, 503) and t <= WITHIN]
    return {
        "healthz_p50_ms": pct(health, 0.5),
        "healthz_p99_ms": pct(health, 0.99),
        "pdf_sent": len(pdfs),
        "pdf_ok": sum(1 for s, _ in pdfs if s == 200),
        "pdf_503": sum(1 for s, _ in pdfs if s == 503),
        "pdf_other": sum(1 for s, _ in pdfs if s not in (200, 503)),
        "pdf_within_2s": len(answered) / len(pdfs) if pdfs else None,
        "pdf_p50_ms": statistics.median(t for _, t in pdfs) * 1000 if pdfs else None,
    }


def _phase(url: str, args: argparse.Namespace, *, burst: bool, old_path: bool) -> dict[str, Any]:
    port = shared._free_port()
    base = f"http://127.0.0.1:{port}"
    env = shared._env(url)
    if old_path:
        env.update(
            CREDITBRIDGE_PDF_IN_PROCESS="1",
            CREDITBRIDGE_MAX_PDF_RENDERS="100000",
            CREDITBRIDGE_MAX_IN_FLIGHT="100000",
        )
    server = subprocess.Popen(
        [sys.executable, "-m", "creditbridge", "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{base}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if server.poll() is not None or time.monotonic() > deadline:
                raise SystemExit("server did not start")
            time.sleep(0.3)
        cookie, csrf = shared._login(base, url)
        codes = shared._sample(url, 500)
        with httpx.Client(base_url=base, headers={"Cookie": cookie}, timeout=120) as client:
            warm = client.post(f"/reports/{codes[0]}/pdf", headers={"X-CSRF-Token": csrf})
            assert warm.status_code == 200, warm.status_code
        paths = [f"/reports/{code}/pdf" for code in codes] if burst else []
        return asyncio.run(_burst(base, cookie, csrf, paths, args.rate, args.duration))
    finally:
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--enterprises", type=int, default=500)
    parser.add_argument("--rate", type=float, default=20.0)
    parser.add_argument("--duration", type=float, default=10.0)
    parser.add_argument("--work", type=Path, default=Path("/tmp/cb-bench-pdf-burst"))
    args = parser.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    url = f"sqlite:///{args.work / 'bench.db'}"
    shared.prepare("sqlite", url, args.enterprises)
    os.environ.setdefault("CREDITBRIDGE_PUBLIC_BASE_URL", "http://127.0.0.1")

    phases = {
        "healthz alone": _phase(url, args, burst=False, old_path=False),
        "admitted (this version)": _phase(url, args, burst=True, old_path=False),
        "in-process (baseline)": _phase(url, args, burst=True, old_path=True),
    }
    print(
        f"PDF burst {args.rate:g}/s for {args.duration:g} s, SQLite, one worker, {os.cpu_count()} cores"
    )
    header = f"{'phase':<26}{'healthz p50':>12}{'healthz p99':>12}{'PDFs':>6}{'200':>6}{'503':>6}{'other':>6}{'≤2 s':>8}{'PDF p50':>10}"
    print(header)
    for name, r in phases.items():
        within = f"{r['pdf_within_2s']:.0%}" if r["pdf_within_2s"] is not None else "—"
        pdf_p50 = f"{r['pdf_p50_ms']:.0f} ms" if r["pdf_p50_ms"] is not None else "—"
        print(
            f"{name:<26}{r['healthz_p50_ms']:>9.1f} ms{r['healthz_p99_ms']:>9.1f} ms"
            f"{r['pdf_sent']:>6}{r['pdf_ok']:>6}{r['pdf_503']:>6}{r['pdf_other']:>6}{within:>8}{pdf_p50:>10}"
        )


if __name__ == "__main__":
    main()
