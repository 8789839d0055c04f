"""A real server and a real browser: ``creditbridge serve`` on a free port over a migrated, seeded
SQLite file, driven by Debian's Chromium through Playwright.

Without Chromium these tests skip, saying why; with ``CREDITBRIDGE_REQUIRE_BROWSER=1`` (``make
test`` sets it) they fail instead, so a machine without a browser cannot pass them silently.
"""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

import httpx
import pyotp
import pytest
from sqlalchemy import Engine, make_url, select, text

from creditbridge import migrations
from creditbridge.access.models import User
from creditbridge.cli import demo as demo_cli
from creditbridge.core.db import make_engine, make_sessionmaker, session_scope

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]
SCREENSHOTS = Path(__file__).resolve().parents[2] / "var" / "screenshots"
ENTERPRISES = 500
SEED = 7

# The journeys marked ``both_stores`` run once more against a server on PostgreSQL when the
# suite has one (CI does): a database of their own beside the unit tests' one, whose schema those
# tests drop and recreate.
PG_URL = os.environ.get("CREDITBRIDGE_TEST_DATABASE_URL", "").strip()
STORES = ["sqlite"] + (["postgresql"] if PG_URL else [])


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Every test that opens the site is parametrized by its store: SQLite, and PostgreSQL too
    for the ``both_stores`` journeys. One server per store for the whole session."""
    if "site" not in metafunc.fixturenames:
        return
    both = metafunc.definition.get_closest_marker("both_stores") is not None
    stores = STORES if both else ["sqlite"]
    metafunc.parametrize("site", stores, indirect=True, scope="session")


try:
    from playwright.sync_api import (
        Browser,
        BrowserContext,
        ConsoleMessage,
        Page,
        expect,
        sync_playwright,
    )
except ImportError:  # pragma: no cover - the dev dependencies include playwright
    sync_playwright = None  # type: ignore[assignment]


def _require_browser(reason: str) -> None:
    if os.environ.get("CREDITBRIDGE_REQUIRE_BROWSER") == "1":
        pytest.fail(f"{reason} (CREDITBRIDGE_REQUIRE_BROWSER=1)")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    if sync_playwright is None:
        _require_browser("the playwright package is not installed")
    if not CHROMIUM.exists():
        _require_browser(f"{CHROMIUM} is missing: run `make browser` (scripts/ensure-chromium)")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@dataclass
class Site:
    base_url: str
    engine: Engine
    seeded_by: str
    # The environment the server runs in, and the CLI commands of the journeys too.
    env: dict[str, str] = field(repr=False)
    # A folder of the site's own: its server's log, the scoring lab, analytics files.
    workdir: Path = field(repr=False)
    logins: list[dict[str, Any]] = field(default_factory=list, repr=False)


def run_creditbridge(env: dict[str, str], *args: str, timeout: float = 600) -> str:
    """``creditbridge <args>`` as an operator would type it; its output. Fails the test if the
    command does."""
    done = subprocess.run(
        [sys.executable, "-m", "creditbridge", *args],
        env=env, capture_output=True, text=True, timeout=timeout,
    )  # fmt: skip
    if done.returncode != 0:
        pytest.fail(f"creditbridge {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}")
    return done.stdout


def cli(site: Site, *args: str, env: dict[str, str] | None = None, timeout: float = 600) -> str:
    """``creditbridge <args>`` against the site's database (``env`` adds to its environment)."""
    return run_creditbridge({**site.env, **(env or {})}, *args, timeout=timeout)


def demo_logins(site: Site, *, by: str = "role") -> dict[str, dict[str, Any]]:
    """The demo accounts as ``creditbridge access demo-logins --json`` prints them (it creates
    them the first time), keyed by ``role`` — or by ``username``: the regional operators share
    the operator role. Asked once per session: the accounts stay put in one database."""
    if not site.logins:
        site.logins = json.loads(cli(site, "access", "demo-logins", "--json", timeout=120))
    return {row[by]: row for row in site.logins}


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _has_demo_generator() -> bool:
    return any(command.name == "generate" for command in demo_cli.app.registered_commands)


def _seed(engine: Engine, env: dict[str, str], workdir: Path) -> str:
    """Fill the database the way an operator would, with the demo command; until that command
    exists, with the page tests' own sample."""
    if _has_demo_generator():
        run_creditbridge(
            env, "demo", "generate", "--enterprises", str(ENTERPRISES), "--seed", str(SEED)
        )
        # Score every enterprise the way `make demo` does (the public expert card: 500
        # enterprises hold too few defaults to train the statistical scorecard).
        lab = str(workdir / "scoring")
        for step in (
            ["snapshot", "--dir", lab, "--as-of", "2026-10-31"],
            ["train", "--kind", "expert", "--dir", lab],
            ["validate", "--dir", lab, "--no-report"],
            ["approve", "--kind", "expert"],
            ["run", "--dir", lab],
        ):
            run_creditbridge(env, "scoring", *step)
        return "creditbridge demo generate"
    from web.seed import seed_sample

    with session_scope(make_sessionmaker(engine)) as session:
        seed_sample(session, enterprises=ENTERPRISES)
    return "tests/web/seed.py"


def _postgres_database() -> str:
    """The journeys' own PostgreSQL database (the test database's name + ``_e2e``), created when
    missing and emptied: its URL."""
    server = make_url(PG_URL)
    name = f"{server.database}_e2e"
    admin = make_engine(server.set(database="postgres").render_as_string(hide_password=False))
    try:
        with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            exists = connection.execute(
                text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": name}
            ).first()
            if exists is None:
                connection.execute(text(f'CREATE DATABASE "{name}"'))
    finally:
        admin.dispose()
    url = server.set(database=name).render_as_string(hide_password=False)
    emptied = make_engine(url)
    try:
        with emptied.begin() as connection:
            connection.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
            connection.execute(text("CREATE SCHEMA public"))
    finally:
        emptied.dispose()
    return url


@pytest.fixture(scope="session")
def site(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Site]:
    """The demo province served by ``creditbridge serve`` on its store (``sqlite`` unless the
    test is parametrized otherwise, see :func:`pytest_generate_tests`)."""
    store = getattr(request, "param", "sqlite")
    workdir = tmp_path_factory.mktemp(f"e2e-{store}")
    if store == "postgresql":
        url = _postgres_database()
    else:
        url = f"sqlite:///{workdir / 'creditbridge.db'}"
    # Webhook receivers of the journeys listen on 127.0.0.1, which only a development or test
    # node may call (issue 13's SSRF guard).
    env = {
        **os.environ,
        "CREDITBRIDGE_DATABASE_URL": url,
        "CREDITBRIDGE_WEBHOOKS_ALLOW_LOOPBACK": "1",
    }
    engine = make_engine(url)
    migrations.upgrade(engine)
    seeded_by = _seed(engine, env, workdir)

    port = _free_port()
    base_url = f"http://127.0.0.1:{port}"
    # The server's output goes to a file, never to a pipe nobody reads: once a long session's
    # access log filled the pipe's 64 KiB the server blocked on its next write and every journey
    # after it stalled with the browser idle.
    log_path = workdir / "serve.log"
    log = log_path.open("wb")
    server = subprocess.Popen(
        [sys.executable, "-m", "creditbridge", "serve", "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        # Generous: on a loaded machine the first start (imports, migrations check) takes long.
        deadline = time.monotonic() + 120
        while True:
            try:
                if httpx.get(f"{base_url}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if server.poll() is not None or time.monotonic() > deadline:
                server.kill()
                server.wait(timeout=10)
                output = log_path.read_text(encoding="utf-8", errors="replace")
                pytest.fail(f"creditbridge serve did not come up:\n{output[-4000:]}")
            time.sleep(0.2)
        yield Site(base_url, engine, seeded_by, env, workdir)
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(timeout=10)
        log.close()
        engine.dispose()


class Screen(NamedTuple):
    name: str  # in the screenshots' names
    width: int
    height: int


DESKTOP = Screen("desktop", 1366, 900)  # issue 23's desktop, beside the phone
WIDE = Screen("desktop", 1440, 900)  # the older journeys' desktop
PHONE = Screen("phone", 390, 844)


@pytest.fixture(params=[DESKTOP, PHONE], ids=lambda screen: screen.name)
def screen(request: pytest.FixtureRequest) -> Screen:
    """Runs the test at a desktop's and at a phone's size."""
    chosen: Screen = request.param
    return chosen


@dataclass
class Console:
    """What the browser complained about: CSP violations, script errors, failed loads — but for
    the console errors ``expected`` matches (a refused form's 422 the journey causes on purpose)."""

    problems: list[str] = field(default_factory=list)
    expected: re.Pattern[str] | None = None

    def on_message(self, message: ConsoleMessage, where: str = "") -> None:
        if message.type == "error" and not (self.expected and self.expected.search(message.text)):
            self.problems.append(f"{where}: {message.text}" if where else message.text)

    def watch(self, page: Page) -> None:
        """Collect ``page``'s errors, each with the address it was on."""
        page.on("console", lambda message: self.on_message(message, page.url))
        page.on("pageerror", lambda error: self.problems.append(f"{page.url}: page error: {error}"))


@pytest.fixture
def console() -> Console:
    return Console()


def log_in(page: Page, site: Site, login: dict[str, Any], next_path: str | None = None) -> None:
    """Log ``login`` in through the login page: user name and password, then its second factor —
    a fresh code of its ``totp_secret``, or, on a first login without one, enrolling the secret
    the page shows. With ``next_path``: open it, be sent to the login, land back on it; without:
    from /login to anywhere but the login."""
    if next_path is None:
        page.goto("/login")
    else:
        page.goto(next_path)
        expect(page).to_have_url(re.compile(r"/login\?next="))
    page.get_by_label("用户名").fill(login["username"])
    page.get_by_label("密码").fill(login["password"])
    page.get_by_role("button", name="登录").click()
    if login.get("totp_secret"):
        code = fresh_totp_code(site, login)
    elif "/login/totp" in page.url:
        code = pyotp.TOTP(page.get_by_test_id("totp-secret").inner_text()).now()
    else:
        code = ""
    if code:
        page.get_by_label("动态口令").fill(code)
        page.get_by_role("button", name="验证").click()
    if next_path is None:
        expect(page).not_to_have_url(re.compile(r"/login"))
    else:
        expect(page).to_have_url(re.compile(re.escape(next_path) + "$"))


# The elements that stick out of the window (deepest first), for a failure's message.
OVERFLOW_JS = """
(limit) => {
  const out = [];
  for (const el of document.body.querySelectorAll('*')) {
    const box = el.getBoundingClientRect();
    if (box.width === 0 || box.right <= limit + 1) continue;
    // Content inside a box that scrolls sideways does not widen the page.
    let scrolled = false;
    for (let p = el.parentElement; p; p = p.parentElement) {
      const o = getComputedStyle(p).overflowX;
      if ((o === 'auto' || o === 'scroll' || o === 'hidden') && p.getBoundingClientRect().right <= limit + 1) { scrolled = true; break; }
    }
    if (scrolled) continue;
    if ([...el.children].some(c => c.getBoundingClientRect().right > limit + 1)) continue;
    const id = el.id ? '#' + el.id : '';
    const cls = el.classList.length ? '.' + [...el.classList].slice(0, 3).join('.') : '';
    const tid = el.dataset.testid ? `[data-testid=${el.dataset.testid}]` : '';
    out.push(`${el.tagName.toLowerCase()}${id}${cls}${tid} right=${Math.round(box.right)} "${(el.textContent || '').trim().slice(0, 30)}"`);
    if (out.length >= 4) break;
  }
  return out;
}
"""


def path_of(page: Page) -> str:
    """The page's address without the site's origin: ``/consents/12``."""
    return re.sub(r"^https?://[^/]+", "", page.url)


def fits_the_screen(page: Page) -> None:
    """The page does not scroll sideways (wide tables scroll inside their own box); a failure
    names the elements that stick out."""
    width, window = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
    if width > window:
        culprits = page.evaluate(OVERFLOW_JS, window)
        pytest.fail(f"{page.url} is {width} px wide in a {window} px window: {culprits}")


class Person:
    """One person's browser (own cookies) at one screen size, its console watched."""

    def __init__(
        self,
        browser: Browser,
        site: Site,
        screen: Screen = WIDE,
        *,
        console: Console | None = None,
        **options: Any,
    ) -> None:
        self.site = site
        self.screen = screen
        self.console = console or Console()
        self.context: BrowserContext = browser.new_context(
            viewport={"width": screen.width, "height": screen.height},
            base_url=site.base_url,
            locale="zh-CN",
            **options,
        )
        self.page: Page = self.context.new_page()
        self.console.watch(self.page)

    @property
    def problems(self) -> list[str]:
        return self.console.problems

    def login(self, login: dict[str, Any], next_path: str | None = None) -> None:
        log_in(self.page, self.site, login, next_path)

    def fits_the_screen(self) -> None:
        fits_the_screen(self.page)

    def close(self) -> None:
        self.context.close()


class People:
    """The browsers a test opens; closed after it, failing it if any reported an error."""

    def __init__(self, browser: Browser, site: Site) -> None:
        self.browser = browser
        self.site = site
        self.opened: list[Person] = []

    def open(self, screen: Screen = WIDE, *, expected: str | None = None, **options: Any) -> Person:
        """A new person's browser; ``expected`` matches the console errors the test causes."""
        console = Console(expected=re.compile(expected) if expected else None)
        person = Person(self.browser, self.site, screen, console=console, **options)
        self.opened.append(person)
        return person

    def close(self) -> None:
        for person in self.opened:
            person.close()
        problems = [person.problems for person in self.opened if person.problems]
        assert problems == [], "the browsers reported errors"


@pytest.fixture
def people(browser: Browser, site: Site) -> Iterator[People]:
    crowd = People(browser, site)
    yield crowd
    crowd.close()


def _open(browser: Browser, console: Console, site: Site, screen: Screen) -> Iterator[Page]:
    person = Person(browser, site, screen, console=console)
    yield person.page
    person.close()
    assert console.problems == [], "the browser reported errors"


@pytest.fixture
def page(browser: Browser, console: Console, site: Site) -> Iterator[Page]:
    """A desktop-sized tab that fails the test if the browser logs any error."""
    yield from _open(browser, console, site, WIDE)


@pytest.fixture
def phone(browser: Browser, console: Console, site: Site) -> Iterator[Page]:
    yield from _open(browser, console, site, PHONE)


# With CREDITBRIDGE_DOCS_SCREENS=1 (scripts/screens sets it) the shots of each role's home and
# main journeys are also copied, made small, into docs/screens/ for the README.
DOCS_SCREENS = Path(__file__).resolve().parents[2] / "docs" / "screens"
DOCS_SHOT = re.compile(
    r"^(home|market|products|consent|upload|audit|users|reports|scoring|collection|jobs"
    r"|deliveries|webhooks|longwork|login)-"
)
DOCS_MAX_WIDTH = 1000
DOCS_MAX_HEIGHT = 2000
DOCS_COLOURS = 64


def publish_screenshot(source: Path, target: Path) -> Path:
    """``source`` as a small PNG at ``target``: scaled to at most DOCS_MAX_WIDTH wide, cut at
    DOCS_MAX_HEIGHT tall (the top of the page is what a reader looks at), quantized to a palette
    of DOCS_COLOURS. The same shot gives the same bytes (no timestamp, deterministic quantizer)."""
    from PIL import Image

    with Image.open(source) as shot:
        image = shot.convert("RGB")
    if image.width > DOCS_MAX_WIDTH:
        height = round(image.height * DOCS_MAX_WIDTH / image.width)
        image = image.resize((DOCS_MAX_WIDTH, height), Image.Resampling.LANCZOS)
    if image.height > DOCS_MAX_HEIGHT:
        image = image.crop((0, 0, image.width, DOCS_MAX_HEIGHT))
    small = image.quantize(
        colors=DOCS_COLOURS, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE
    )
    target.parent.mkdir(parents=True, exist_ok=True)
    small.save(target, format="PNG", optimize=True)
    return target


def run_report_jobs(site: Site) -> None:
    """Run the reports' queued jobs once, as the worker beside the server would. Only those jobs:
    the site is shared by every journey, whose state the schedule's jobs (deadline sweeps,
    metrics) would change under them."""
    from creditbridge.core.config import Settings
    from creditbridge.jobs.registry import REGISTRY, Registry
    from creditbridge.jobs.worker import Worker
    from creditbridge.reports import jobs as report_jobs

    registry = Registry(
        [
            REGISTRY.get_or_raise(report_jobs.AGGREGATES_JOB),
            REGISTRY.get_or_raise(report_jobs.PDF_JOB),
        ]
    )
    worker = Worker(
        Settings(database_url=site.env["CREDITBRIDGE_DATABASE_URL"]),
        worker_id="e2e-worker",
        engine=site.engine,
        registry=registry,
    )
    # The button's POST may still be on its way when the test gets here (the status fragment is on
    # the page before the click too): wait until the run it queued is there to be taken.
    deadline = time.monotonic() + 30
    summary = worker.run_once()
    while not summary["runs"] and time.monotonic() < deadline:
        time.sleep(0.5)
        summary = worker.run_once()
    assert [run["outcome"] for run in summary["runs"]] == ["succeeded"], summary


def screenshot(page: Page, name: str) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True, animations="disabled", caret="hide")
    if os.environ.get("CREDITBRIDGE_DOCS_SCREENS") == "1" and DOCS_SHOT.match(name):
        publish_screenshot(path, DOCS_SCREENS / f"{name}.png")
    return path


def fresh_totp_code(site: Site, login: dict[str, Any]) -> str:
    """A TOTP code of a time step the user has not used yet. The journeys log the same demo users
    in, and the platform accepts each code once (steps now-1 … now+1), so a second login within
    the same 30 s must wait for, or use, the next step."""
    totp = pyotp.TOTP(login["totp_secret"])
    while True:
        with site.engine.connect() as connection:
            last = connection.execute(
                select(User.totp_last_step).where(User.username == login["username"])
            ).scalar_one()
        now_step = int(time.time()) // totp.interval
        for step in (now_step, now_step + 1):
            if last is None or step > last:
                return str(totp.at(step * totp.interval))
        time.sleep(2)
