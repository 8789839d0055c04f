"""The role matrix: every state-changing route of the app × every role, observed and documented.

The documented matrix is a markdown table in ``docs/operations-security.md`` between the marker
comments below. :func:`observe` builds one small world (one enterprise, two banks, one provider,
a consent, a demand with an application, a loan, a whitelist entry, API clients), logs one client
in per role and sends each route one request per role with an empty body, each inside a SAVEPOINT
rolled back afterwards, so no request sees another's effects.

Outcome classes (what the table cells say):

* ``allowed`` — got past authorization: 2xx, a redirect anywhere but /login, 400 or 409 (the
  request itself was refused for what it said or the state of the thing, not for who sent it);
* ``422`` — got past authorization and failed validation of the (empty) body: counts as allowed;
* ``401`` — no identity (no login on a page, no valid signature on the API);
* ``403`` — identity known, refused (a role check, or a page request without its CSRF token:
  an API client posting to a page);
* ``404`` — the object does not exist *for this actor* (object-level access answers 404);
* ``405``, ``429``, ``login`` (redirect to /login), ``error`` (a 5xx: always a finding).

To regenerate the table from what the app does today (then review every change by hand)::

    CB_ROLE_MATRIX_WRITE=1 .venv/bin/pytest -p no:cacheprovider -q tests/security/test_role_matrix.py
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Final
from urllib.parse import urlencode

import httpx
import pyotp
from fastapi import FastAPI
from fastapi.routing import APIRoute, iter_route_contexts
from fastapi.testclient import TestClient
from httpx import Response
from sqlalchemy import Connection, Engine
from sqlalchemy.orm import Session, sessionmaker

import factories
from creditbridge.access import service as access_service
from creditbridge.access.client import Signer
from creditbridge.access.models import AbuseFlag
from creditbridge.access.service.users import actor_for_user
from creditbridge.catalog import service as catalog_service
from creditbridge.consent import service as consent_service
from creditbridge.core.actors import CONSOLE, Role
from creditbridge.core.clock import utc_now
from creditbridge.core.config import Settings
from creditbridge.marketplace import service as market_service
from creditbridge.marketplace.domain import WAN_FEN
from creditbridge.marketplace.models import Loan
from creditbridge.web.app import create_app

DOC: Final = Path(__file__).resolve().parents[2] / "docs" / "operations-security.md"
BEGIN: Final = "<!-- role-matrix:begin -->"
END: Final = "<!-- role-matrix:end -->"
STATE_CHANGING: Final = frozenset({"POST", "PUT", "PATCH", "DELETE"})
PASSWORD: Final = "Correct-Horse-42"

PAGE_ROLES: Final = (
    Role.SYSTEM_ADMIN,
    Role.SECURITY_ADMIN,
    Role.AUDIT_ADMIN,
    Role.OPERATOR,
    Role.PROVIDER_USER,
    Role.INSTITUTION_OFFICER,
    Role.ENTERPRISE_USER,
)
API_INSTITUTION: Final = "api_institution"
API_PROVIDER: Final = "api_provider"
ANONYMOUS: Final = "anonymous"
COLUMNS: Final = (
    ANONYMOUS,
    *(role.value for role in PAGE_ROLES),
    API_INSTITUTION,
    API_PROVIDER,
)
OUTCOMES: Final = frozenset({"allowed", "422", "401", "403", "404", "405", "429", "login", "error"})
# Ids no row has: a probe of a route whose object the world does not hold.
MISSING_ID: Final = 987_654_321
MISSING_TOKEN: Final = "no-such-invitation-token-0000000000"
_ALTERNATIVES: Final = re.compile(r"^\^\(([\w|]+)\)\$$")

# Most routes check the role in a dependency, before the body is read, so an empty body shows
# the role check. These check (part of) it in the service, after the body is parsed: an empty
# body would answer 422 to every role and hide the check, so they get a body that passes
# validation. Values name ``{params}`` of the world.
FORM_BODIES: Final[dict[str, dict[str, str]]] = {
    "POST /account/members/{user_id}/decide": {"approve": "0"},
    "POST /admin/users/{user_id}/changes": {"action": "disable", "reason": "role matrix"},
    "POST /admin/changes/{change_id}/decide": {"approve": "0"},
}
# A page upload: the provider's own dataset, by the form the upload page sends.
UPLOADS: Final[dict[str, dict[str, str]]] = {
    "POST /ingest/upload": {"provider_id": "{provider_id}", "dataset": "tax_payment"},
}
JSON_BODIES: Final[dict[str, dict[str, object]]] = {
    "POST /api/v1/ingest/batches": {
        "provider": "matrix-tax",
        "dataset": "tax_payment",
        "batch_id": "role-matrix-1",
        "rows": [{"uscc": "{uscc}"}],
    },
    "POST /api/v1/market/loans": {
        "uscc": "{uscc}",
        "amount_fen": 1_000_000,
        "rate_bp": 380,
        "term_months": 12,
        "security_type": "credit",
        "disbursement_date": "2026-06-01",
    },
    "POST /api/v1/market/loans/{loan_id}/events": {"event": "repayment", "amount_fen": 100},
}


# --- The routes ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Probe:
    """One row of the matrix: a state-changing route, with any path parameter that takes one of
    a few words (``{move}``, ``{level}``) filled with one of them."""

    method: str
    template: str  # the route's path with the enumerable parameters filled
    route: str  # the route as the app declares it

    @property
    def key(self) -> str:
        return f"{self.method} {self.template}"


def _enumerable(route: APIRoute) -> dict[str, list[str]]:
    words: dict[str, list[str]] = {}
    for param in route.dependant.path_params:
        for meta in param.field_info.metadata:
            pattern = getattr(meta, "pattern", None)
            match = _ALTERNATIVES.match(pattern or "")
            if match:
                words[param.name] = match.group(1).split("|")
    return words


def probes(app: FastAPI) -> list[Probe]:
    """Every POST/PUT/PATCH/DELETE route of ``app`` (pages and API), one probe per value of an
    enumerable path parameter."""
    found: list[Probe] = []
    for context in iter_route_contexts(app.routes):
        route = context.original_route
        path = context.path_format
        if not isinstance(route, APIRoute) or path is None:
            continue
        for method in sorted(set(route.methods or ()) & STATE_CHANGING):
            templates = [path]
            for name, words in _enumerable(route).items():
                templates = [t.replace("{" + name + "}", w) for t in templates for w in words]
            found += [Probe(method, t, f"{method} {path}") for t in templates]
    return sorted(set(found), key=lambda p: p.key)


# --- The documented table --------------------------------------------------------------------


@dataclass
class Table:
    rows: dict[str, dict[str, str]]
    notes: dict[str, str] = field(default_factory=dict)


def _cells(line: str) -> list[str]:
    return [cell.strip() for cell in line.strip().strip("|").split("|")]


def read_table(text: str | None = None) -> Table:
    """The table between the markers: ``route`` (in backticks), one column per role, ``note``."""
    text = DOC.read_text(encoding="utf-8") if text is None else text
    start, end = text.find(BEGIN), text.find(END)
    if start < 0 or end < start:
        raise AssertionError(f"{DOC.name}: no role matrix between {BEGIN} and {END}")
    lines = [line for line in text[start + len(BEGIN) : end].splitlines() if line.startswith("|")]
    header = _cells(lines[0])
    assert header[0] == "route", header
    assert tuple(header[1 : 1 + len(COLUMNS)]) == COLUMNS, header
    table = Table(rows={})
    for line in lines[2:]:
        cells = _cells(line)
        key = cells[0].strip("`")
        assert key not in table.rows, f"{DOC.name}: route {key} has two rows"
        values = dict(zip(COLUMNS, cells[1 : 1 + len(COLUMNS)], strict=True))
        unknown = {v for v in values.values() if v not in OUTCOMES}
        assert not unknown, f"{DOC.name}: row {key}: unknown outcome {sorted(unknown)}"
        table.rows[key] = values
        table.notes[key] = cells[1 + len(COLUMNS)] if len(cells) > 1 + len(COLUMNS) else ""
    return table


def render_table(observed: dict[str, dict[str, str]], notes: dict[str, str]) -> str:
    lines = [
        "| route | " + " | ".join(COLUMNS) + " | note |",
        "|---|" + "---|" * len(COLUMNS) + "---|",
    ]
    for key in sorted(observed):
        row = observed[key]
        lines.append(
            f"| `{key}` | " + " | ".join(row[c] for c in COLUMNS) + f" | {notes.get(key, '')} |"
        )
    return "\n".join(lines)


def write_table(observed: dict[str, dict[str, str]]) -> None:
    """Replace the documented table with ``observed``, keeping the notes of rows that remain."""
    text = DOC.read_text(encoding="utf-8")
    notes = read_table(text).notes if BEGIN in text else {}
    start, end = text.find(BEGIN), text.find(END)
    new = f"{BEGIN}\n{render_table(observed, notes)}\n{END}"
    DOC.write_text(text[:start] + new + text[end + len(END) :], encoding="utf-8")


def summary(row: dict[str, str]) -> str:
    """``allowed: operator; 403: …`` — a row in words, for the audit report."""
    by: dict[str, list[str]] = {}
    for column in COLUMNS:
        by.setdefault(row[column], []).append(column)
    return "; ".join(
        f"{outcome}: {', '.join(by[outcome])}" for outcome in _READING_ORDER if outcome in by
    )


# Past authorization first: that is what a reviewer checks against the rules.
_READING_ORDER: Final = ("allowed", "422", "404", "login", "429", "405", "error", "401", "403")


# --- The world and one client per role -------------------------------------------------------


@dataclass
class World:
    app: FastAPI
    connection: Connection
    clients: dict[str, TestClient]
    csrf: dict[str, str]
    signers: dict[str, Signer]
    params: dict[str, str]


def _classify(response: Response) -> str:
    status = response.status_code
    location = response.headers.get("location", "")
    if status in (301, 302, 303, 307, 308) and location.startswith("/login"):
        return "login"
    if status >= 500:
        return "error"
    if status < 400 or status in (400, 409):
        return "allowed"
    if status == 413:
        return "allowed"  # bounded before authorization would be a finding of its own
    return str(status)


def _login(client: TestClient, username: str) -> str:
    form = client.get("/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', form.text)
    assert token, "no CSRF field on /login"
    response = client.post(
        "/login",
        data={
            "username": username,
            "password": PASSWORD,
            "next": "/account",
            "csrf_token": token.group(1),
        },
        follow_redirects=False,
    )
    assert response.status_code == 303, response.text
    if "/login/totp" in response.headers["location"]:
        enrol = client.get("/login/totp")
        secret = re.search(r'data-testid="totp-secret">([A-Z2-7]+)<', enrol.text)
        form_token = re.search(r'name="csrf_token" value="([^"]+)"', enrol.text)
        assert secret, enrol.text
        assert form_token, enrol.text
        done = client.post(
            "/login/totp",
            data={
                "code": pyotp.TOTP(secret.group(1)).at(utc_now()),
                "next": "/account",
                "csrf_token": form_token.group(1),
            },
            follow_redirects=False,
        )
        assert done.status_code == 303, done.text
    account = client.get("/account")
    assert account.status_code == 200, account.text
    found = re.search(r'name="csrf_token" value="([^"]+)"', account.text)
    assert found, "no CSRF field on /account"
    return found.group(1)


def _seed(session: Session) -> tuple[dict[str, str], dict[str, Signer]]:
    """The objects the routes' path parameters name, and an API client per kind of owner."""
    catalog_service.ensure_default_catalog(session)
    bank = factories.institution(session, code="matrix-bank", name="矩阵银行")
    provider = factories.provider(session, code="matrix-tax", datasets=["tax_payment"])
    subject = factories.subject(session, name="矩阵企业有限公司", legal_representative="张三")
    users = {}
    for role in PAGE_ROLES:
        users[role] = factories.account(
            session,
            role,
            username=f"matrix-{role.value.replace('_', '-')}",
            display_name=f"矩阵{role.label_zh}",
            password=PASSWORD,
            institution_id=bank.id if role is Role.INSTITUTION_OFFICER else None,
            provider_id=provider.id if role is Role.PROVIDER_USER else None,
            subject_id=subject.id if role is Role.ENTERPRISE_USER else None,
        )
    target = factories.account(session, Role.OPERATOR, username="matrix-target", password=PASSWORD)
    officer = actor_for_user(users[Role.INSTITUTION_OFFICER])
    owner = actor_for_user(users[Role.ENTERPRISE_USER])
    consent = consent_service.request_consent(
        session,
        officer,
        uscc=subject.uscc,
        purpose="loan_application",
        categories=["tax"],
        valid_until=utc_now() + timedelta(days=30),
        max_uses=3,
    )
    product = factories.product(session, bank, code="matrix-p1", by=officer)
    demand = market_service.post_demand(
        session, owner, amount_fen=50 * WAN_FEN, term_months=12, purpose="备货"
    )
    application = market_service.apply(session, owner, demand_id=demand.id, product_id=product.id)
    loan = Loan(
        subject_id=subject.id,
        institution_id=bank.id,
        product_id=product.id,
        amount_fen=50 * WAN_FEN,
        credit_line_fen=100 * WAN_FEN,
        rate_bp=380,
        term_months=12,
        security_type="credit",
        disbursement_date=date(2026, 6, 1),
        maturity_date=date(2027, 6, 1),
        status="current",
        via_platform=True,
        created_at=utc_now(),
    )
    session.add(loan)
    entry = market_service.add_whitelist_candidate(
        session, CONSOLE, subject_id=subject.id, grade="A", reasons=["矩阵"]
    )
    flag = AbuseFlag(
        institution_id=bank.id,
        kind="volume",
        hour_start=utc_now().replace(minute=0, second=0, microsecond=0),
        observed=900,
        threshold=500,
        created_at=utc_now(),
    )
    session.add(flag)
    change = access_service.propose_admin_change(
        session,
        actor_for_user(users[Role.SYSTEM_ADMIN]),
        user_id=users[Role.SECURITY_ADMIN].id,
        action="disable",
        reason="矩阵",
    )
    signers: dict[str, Signer] = {}
    issued = access_service.create_client(
        session,
        CONSOLE,
        name="矩阵银行信贷系统",
        owner_kind="institution",
        algorithm="hmac-sm3",
        institution_id=bank.id,
        settings=Settings(),
    )
    signers[API_INSTITUTION] = Signer(issued.client.key_id, secret=issued.secret)
    by_provider = access_service.create_client(
        session,
        CONSOLE,
        name="矩阵税务接口",
        owner_kind="provider",
        algorithm="hmac-sm3",
        provider_id=provider.id,
        settings=Settings(),
    )
    signers[API_PROVIDER] = Signer(by_provider.client.key_id, secret=by_provider.secret)
    session.flush()
    params = {
        "consent_id": str(consent.id),
        "user_id": str(target.id),
        "change_id": str(change.id),
        "client_id": str(issued.client.id),
        "flag_id": str(flag.id),
        "institution_id": str(bank.id),
        "token": MISSING_TOKEN,
        "demand_id": str(demand.id),
        "product_id": str(product.id),
        "application_id": str(application.id),
        "entry_id": str(entry.id),
        "loan_id": str(loan.id),
        "uscc": subject.uscc,
        "provider_id": str(provider.id),
    }
    return params, signers


@contextmanager
def world(engine: Engine) -> Iterator[World]:
    """The seeded world and its clients, inside one transaction rolled back at the end."""
    connection = engine.connect()
    outer = connection.begin()
    session = Session(bind=connection, join_transaction_mode="create_savepoint")
    try:
        params, signers = _seed(session)
        session.commit()
        app = create_app(
            Settings(database_url=engine.url.render_as_string(hide_password=False)),
            engine=engine,
        )
        app.state.sessionmaker = sessionmaker(
            bind=connection,
            join_transaction_mode="create_savepoint",
            expire_on_commit=False,
            autoflush=False,
        )
        clients: dict[str, TestClient] = {}
        csrf: dict[str, str] = {}
        for column in COLUMNS:
            clients[column] = TestClient(app, raise_server_exceptions=False)
            clients[column].__enter__()
        for role in PAGE_ROLES:
            csrf[role.value] = _login(clients[role.value], f"matrix-{role.value.replace('_', '-')}")
        for column in (ANONYMOUS, API_INSTITUTION, API_PROVIDER):
            page = clients[column].get("/login")
            found = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
            assert found
            # Only the anonymous visitor sends its token: an API client has no page to take it from.
            csrf[column] = found.group(1) if column == ANONYMOUS else ""
        yield World(app, connection, clients, csrf, signers, params)
        for test_client in clients.values():
            test_client.__exit__(None, None, None)
    finally:
        session.close()
        outer.rollback()
        connection.close()


def fill(probe: Probe, params: dict[str, str]) -> str:
    return re.sub(r"\{(\w+)\}", lambda m: params.get(m.group(1), str(MISSING_ID)), probe.template)


def send(world: World, probe: Probe, column: str) -> str:
    """The outcome class of ``column`` sending ``probe`` with an empty body (or the one of
    :data:`FORM_BODIES` / :data:`JSON_BODIES`); its effects are rolled back."""
    path = fill(probe, world.params)
    headers: dict[str, str] = {}
    body = b""
    if probe.key in FORM_BODIES:
        body = urlencode(FORM_BODIES[probe.key]).encode()
        headers["Content-Type"] = "application/x-www-form-urlencoded"
    elif probe.key in UPLOADS:
        fields = {k: v.format(**world.params) for k, v in UPLOADS[probe.key].items()}
        encoded = httpx.Request(
            probe.method,
            "http://testserver" + path,
            data=fields,
            files={"file": ("matrix.csv", "uscc\n" + world.params["uscc"] + "\n", "text/csv")},
        )
        body = encoded.read()
        headers["Content-Type"] = encoded.headers["Content-Type"]
    elif probe.key in JSON_BODIES:
        raw = json.dumps(JSON_BODIES[probe.key], ensure_ascii=False)
        body = raw.replace("{uscc}", world.params["uscc"]).encode()
        headers["Content-Type"] = "application/json"
    if column in world.signers:
        headers.update(world.signers[column].headers(probe.method, path, body=body))
    elif world.csrf[column]:
        headers["X-CSRF-Token"] = world.csrf[column]
    client = world.clients[column]
    # A logout or a login answers with cookies of its own: the next probe must not inherit them.
    cookies = list(client.cookies.jar)
    savepoint = world.connection.begin_nested()
    try:
        response = client.request(
            probe.method, path, headers=headers, content=body, follow_redirects=False
        )
    finally:
        savepoint.rollback()
        client.cookies.clear()
        for cookie in cookies:
            client.cookies.jar.set_cookie(cookie)
    return _classify(response)


def observe(world: World, probe: Probe) -> dict[str, str]:
    return {column: send(world, probe, column) for column in COLUMNS}


__all__ = [
    "COLUMNS",
    "Probe",
    "Table",
    "World",
    "observe",
    "probes",
    "read_table",
    "render_table",
    "summary",
    "world",
    "write_table",
]
