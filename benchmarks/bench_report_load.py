"""Credit reports under a fixed load: HTML p99 and PDF p50 against a trivial page in the same run.

Claim (issue 5): on the demo with 100,000 enterprises, on SQLite and on PostgreSQL, under a fixed
load of 50 requests/s for 60 s from a load generator on this machine: HTML report p99 ≤ 100 ms,
PDF report p50 ≤ 1.5 s, no errors.

What runs: the real server (`creditbridge serve`, ``--workers`` processes, 2 by default: one per core) over a database filled by
`creditbridge demo generate`; the demo institution officer logs in (password + TOTP) and asks for
reports on random enterprises (each request — a POST with the session's CSRF token, as the report
page's button sends it — issues, signs, registers and audits a report). The load
generator is a separate process, open loop: request i is sent at t0 + i/rate whatever the answers,
and its latency counts from that planned moment (no coordinated omission). Phases, one after the
other against the same server: baseline `/healthz` at the HTML rate, HTML reports at the same rate,
then PDF reports at ``--pdf-rate`` (a PDF takes ~0.3 s of CPU, so 50/s would saturate 2 cores; the
claim for PDFs is a median).

    .venv/bin/python benchmarks/bench_report_load.py [--enterprises 100000] [--stores sqlite,postgresql]
        [--rate 50] [--duration 60] [--pdf-rate 1] [--pdf-duration 30] [--work DIR] [--prepare-only]

PostgreSQL: CREDITBRIDGE_BENCH_DATABASE_URL (default postgresql+psycopg://postgres@127.0.0.1:5432/
creditbridge_bench_2, created when missing; its schema is replaced).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx

DEFAULT_PG = "postgresql+psycopg://postgres@127.0.0.1:5432/creditbridge_bench_2"
ROOT = Path(__file__).resolve().parents[1]


# --- the load generator (child process) ----------------------------------------------------------


async def _generate(
    base: str, paths: list[str], rate: float, duration: float, cookie: str, csrf: str
) -> dict[str, Any]:
    total = int(rate * duration)
    latencies: list[float] = [0.0] * total
    statuses: list[int] = [0] * total
    limits = httpx.Limits(max_connections=400, max_keepalive_connections=100)
    async with httpx.AsyncClient(
        base_url=base, headers={"Cookie": cookie}, timeout=60, limits=limits
    ) as client:
        t0 = time.perf_counter() + 0.5

        async def one(i: int) -> None:
            planned = t0 + i / rate
            try:
                path = paths[i % len(paths)]
                # Issuing a report is a POST with the CSRF token (issue 21); /healthz a GET.
                response = await (
                    client.post(path, headers={"X-CSRF-Token": csrf})
                    if path.startswith("/reports/")
                    else client.get(path)
                )
                await response.aread()
                statuses[i] = response.status_code
            except httpx.HTTPError:
                statuses[i] = -1
            latencies[i] = time.perf_counter() - planned

        tasks = []
        for i in range(total):
            delay = t0 + i / rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(one(i)))
        await asyncio.gather(*tasks)
        elapsed = time.perf_counter() - t0
    return {"latencies": latencies, "statuses": statuses, "elapsed": elapsed}


def _child(argv: list[str]) -> None:
    base, paths_file, rate, duration = argv[0], argv[1], float(argv[2]), float(argv[3])
    paths = Path(paths_file).read_text().split()
    cookie = os.environ["BENCH_COOKIE"]
    result = asyncio.run(_generate(base, paths, rate, duration, cookie, os.environ["BENCH_CSRF"]))
    sys.stdout.write(json.dumps(result))


# --- the orchestration -----------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _env(url: str) -> dict[str, str]:
    return {**os.environ, "CREDITBRIDGE_DATABASE_URL": url, "PYTHONUNBUFFERED": "1"}


def _populated(url: str, enterprises: int) -> bool:
    from sqlalchemy import text

    from creditbridge.core.db import make_engine

    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            count = connection.execute(text("SELECT count(*) FROM subject")).scalar_one()
            return int(count) >= enterprises
    except Exception:
        return False
    finally:
        engine.dispose()


def _ensure_pg_database(url: str) -> None:
    import psycopg

    name = url.rsplit("/", 1)[1]
    admin = url.rsplit("/", 1)[0].replace("postgresql+psycopg", "postgresql") + "/postgres"
    with psycopg.connect(admin, autocommit=True) as connection:
        exists = connection.execute(
            "SELECT 1 FROM pg_database WHERE datname = %s", [name]
        ).fetchone()
        if not exists:
            connection.execute(f'CREATE DATABASE "{name}"')


def prepare(store: str, url: str, enterprises: int) -> float | None:
    """Migrate and fill the database with the demo unless it already holds it; seconds taken."""
    if store == "postgresql":
        _ensure_pg_database(url)
    if _populated(url, enterprises):
        return None
    from sqlalchemy import text

    from creditbridge import migrations
    from creditbridge.core.db import make_engine

    engine = make_engine(url)
    if store == "postgresql":
        with engine.begin() as connection:
            connection.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
    migrations.upgrade(engine)
    engine.dispose()
    started = time.perf_counter()
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "creditbridge",
            "demo",
            "generate",
            "--enterprises",
            str(enterprises),
            "--seed",
            "7",
        ],
        env=_env(url),
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise SystemExit(
            f"demo generate failed on {store}:\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}"
        )
    return time.perf_counter() - started


_USED_STEPS: dict[str, int] = {}


def _unused_code(login: dict[str, Any]) -> str:
    """A TOTP code of a time step not used yet: the platform refuses a replayed step, and the
    benchmarks log the same officer in once per phase."""
    import pyotp

    totp = pyotp.TOTP(login["totp_secret"])
    while (step := int(time.time()) // totp.interval) <= _USED_STEPS.get(login["username"], -1):
        time.sleep(0.5)
    _USED_STEPS[login["username"]] = step
    return str(totp.at(step * totp.interval))


def _login(base: str, url: str) -> tuple[str, str]:
    """The officer's session cookie and its CSRF token."""

    logins = json.loads(
        subprocess.run(
            [sys.executable, "-m", "creditbridge", "access", "demo-logins", "--json"],
            env=_env(url),
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    )
    bank = next(row for row in logins if row["role"] == "institution_officer")
    with httpx.Client(base_url=base, follow_redirects=False, timeout=30) as client:
        form = client.get("/login")
        token = re.search(r'name="csrf_token" value="([^"]+)"', form.text)
        assert token, "no CSRF token on /login"
        done = client.post(
            "/login",
            data={
                "username": bank["username"],
                "password": bank["password"],
                "csrf_token": token.group(1),
            },
        )
        if "/login/totp" in done.headers.get("location", ""):
            page = client.get("/login/totp")
            token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
            assert token
            done = client.post(
                "/login/totp",
                data={"code": _unused_code(bank), "csrf_token": token.group(1)},
            )
        assert done.status_code == 303, done.text[:500]
        account = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/account").text)
        assert account, "no CSRF token on /account"
        return "; ".join(f"{k}={v}" for k, v in client.cookies.items()), account.group(1)


def _sample(url: str, n: int) -> list[str]:
    from sqlalchemy import text

    from creditbridge.core.db import make_engine

    engine = make_engine(url)
    with engine.connect() as connection:
        codes = [row[0] for row in connection.execute(text("SELECT uscc FROM subject ORDER BY id"))]
    engine.dispose()
    step = max(1, len(codes) // n)
    return codes[::step][:n]


def _phase(
    base: str, login: tuple[str, str], paths: list[str], rate: float, duration: float, work: Path
) -> dict[str, Any]:
    cookie, csrf = login
    paths_file = work / "paths.txt"
    paths_file.write_text("\n".join(paths))
    done = subprocess.run(
        [sys.executable, __file__, "--child", base, str(paths_file), str(rate), str(duration)],
        env={**os.environ, "BENCH_COOKIE": cookie, "BENCH_CSRF": csrf},
        capture_output=True,
        text=True,
        check=True,
    )
    raw = json.loads(done.stdout)
    latencies = sorted(raw["latencies"])
    errors = sum(1 for s in raw["statuses"] if s != 200)

    def pct(q: float) -> float:
        return latencies[min(len(latencies) - 1, int(q * len(latencies)))] * 1000

    return {
        "requests": len(latencies),
        "errors": errors,
        "achieved_rate": len(latencies) / raw["elapsed"],
        "p50": pct(0.50),
        "p90": pct(0.90),
        "p99": pct(0.99),
        "max": latencies[-1] * 1000,
        "mean": statistics.fmean(latencies) * 1000,
    }


def run_store(store: str, url: str, args: argparse.Namespace, work: Path) -> dict[str, Any]:
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "creditbridge",
            "serve",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            str(args.workers),
        ],
        env=_env(url),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
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
                raise SystemExit(
                    f"server did not start: {server.stdout.read() if server.stdout else ''}"
                )
            time.sleep(0.3)
        login = _login(base, url)
        cookie, csrf = login
        codes = _sample(url, 3000)
        # Warm up: fonts, templates, the catalog cache, the signing key.
        with httpx.Client(base_url=base, headers={"Cookie": cookie}, timeout=60) as client:
            for code in codes[:3]:
                for path in (f"/reports/{code}", f"/reports/{code}/pdf"):
                    issued = client.post(path, headers={"X-CSRF-Token": csrf})
                    assert issued.status_code == 200
        results = {
            "healthz": _phase(base, login, ["/healthz"], args.rate, args.duration, work),
            "html": _phase(
                base, login, [f"/reports/{c}" for c in codes], args.rate, args.duration, work
            ),
            "pdf": _phase(
                base,
                login,
                [f"/reports/{c}/pdf" for c in codes[::-1]],
                args.pdf_rate,
                args.pdf_duration,
                work,
            ),
        }
    finally:
        server.terminate()
        server.wait(timeout=20)
    return results


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        _child(sys.argv[2:])
        return
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--enterprises", type=int, default=100_000)
    parser.add_argument("--stores", default="sqlite,postgresql")
    parser.add_argument("--rate", type=float, default=50)
    parser.add_argument("--duration", type=float, default=60)
    parser.add_argument("--pdf-rate", type=float, default=1)
    parser.add_argument("--pdf-duration", type=float, default=30)
    parser.add_argument("--work", type=Path, default=Path("/tmp/cb-bench-report"))
    parser.add_argument(
        "--workers", type=int, default=2, help="server worker processes (one per core)"
    )
    parser.add_argument("--prepare-only", action="store_true")
    args = parser.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    urls = {
        "sqlite": f"sqlite:///{args.work / f'demo-{args.enterprises}.db'}",
        "postgresql": os.environ.get("CREDITBRIDGE_BENCH_DATABASE_URL", DEFAULT_PG),
    }
    lines = []
    for store in args.stores.split(","):
        took = prepare(store, urls[store], args.enterprises)
        print(
            f"[{store}] demo {args.enterprises:,} enterprises: "
            + (f"generated in {took:.0f} s" if took else "reused"),
            flush=True,
        )
        if args.prepare_only:
            continue
        load_before = os.getloadavg()
        results = run_store(store, urls[store], args, args.work)
        load_after = os.getloadavg()
        print(f"[{store}] load average before {load_before[0]:.2f}, after {load_after[0]:.2f}")
        print(
            f"  {'phase':8} {'rate/s':>7} {'n':>6} {'err':>4} {'p50 ms':>8} {'p90 ms':>8} {'p99 ms':>8} {'max ms':>8}"
        )
        for name, r in results.items():
            print(
                f"  {name:8} {r['achieved_rate']:7.1f} {r['requests']:6d} {r['errors']:4d} "
                f"{r['p50']:8.1f} {r['p90']:8.1f} {r['p99']:8.1f} {r['max']:8.1f}"
            )
        html, base, pdf = results["html"], results["healthz"], results["pdf"]
        ratio = html["p99"] / base["p99"] if base["p99"] else float("nan")
        print(f"  HTML p99 {html['p99']:.1f} ms vs /healthz p99 {base['p99']:.1f} ms: ×{ratio:.1f}")
        lines.append(
            f"{store}_html_p99_ms={html['p99']:.1f} {store}_healthz_p99_ms={base['p99']:.1f} "
            f"{store}_html_ratio={ratio:.1f} {store}_pdf_p50_ms={pdf['p50']:.0f} "
            f"{store}_errors={html['errors'] + pdf['errors'] + base['errors']} "
            f"{store}_load={load_before[0]:.2f}"
        )
    if lines:
        print("RESULT " + " ".join(lines) + f" enterprises={args.enterprises} rate={args.rate:g}")


if __name__ == "__main__":
    main()
