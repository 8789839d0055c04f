"""The web edge under attack (issue 21, findings 4, 5 and 8): links never come from the Host
header, bodies are bounded before they are read, and responses leak nothing they need not."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker

from creditbridge.access import service as access_service
from creditbridge.access.client import Signer
from creditbridge.access.models import Institution
from creditbridge.consent import service as consent_service
from creditbridge.core.actors import CONSOLE, Actor, ActorKind, Role
from creditbridge.core.clock import utc_now
from creditbridge.core.config import InsecureConfiguration, Settings
from creditbridge.ingest.models import Provider
from creditbridge.reference import uscc as uscc_codes
from creditbridge.reports import rendering
from creditbridge.subjects.models import Subject
from creditbridge.web import server
from creditbridge.web.app import create_app
from creditbridge.web.security import SERVER_HEADER, PublicBaseUrlInvalid

from .conftest import LoggedIn, settings_for
from .helpers import csrf_from

# Regression trials of issue 21 (attack trial): `make audit-security` runs them.
pytestmark = pytest.mark.security

WHOAMI = "/api/v1/whoami"
PUBLIC_BASE_URL = "https://credit.example.gov.cn"
SMALL = 4096


def _bound_app(engine: Engine, session: Session, **settings: Any) -> FastAPI:
    """The application with these settings, seeing the test's rolled-back transaction."""
    built = create_app(settings_for(engine).model_copy(update=settings), engine=engine)
    built.state.sessionmaker = sessionmaker(
        bind=session.connection(),
        join_transaction_mode="create_savepoint",
        expire_on_commit=False,
        autoflush=False,
    )
    return built


@pytest.fixture
def small_client(engine: Engine, session: Session) -> Iterator[TestClient]:
    """A client of an application whose body limits are a few kilobytes."""
    app = _bound_app(engine, session, max_body_bytes=SMALL, max_upload_bytes=4 * SMALL)
    with TestClient(app, raise_server_exceptions=False) as test_client:
        yield test_client


def _institution(session: Session, code: str) -> Institution:
    institution = Institution(
        code=code,
        name=f"边界测试银行{code}",
        kind="bank",
        division_code="340100",
        status="approved",
        created_at=utc_now(),
    )
    session.add(institution)
    session.flush()
    return institution


def _signer(session: Session, **owner: Any) -> Signer:
    if not owner:
        owner = {"owner_kind": "institution", "institution_id": _institution(session, "edge").id}
    issued = access_service.create_client(
        session, CONSOLE, name="边界测试客户端", algorithm="hmac-sm3", settings=Settings(), **owner
    )
    return Signer(issued.client.key_id, secret=issued.secret)


def _problem_code(response: Any) -> str:
    assert response.headers["content-type"].startswith("application/problem+json"), response.text
    return str(response.json()["code"])


# --- 4. Absolute links never come from the request ---------------------------------------------


class TestLinks:
    @pytest.fixture
    def configured_base_url(self, client: TestClient, monkeypatch: pytest.MonkeyPatch) -> str:
        # The node's settings are the app's: services are handed them, none reads the environment.
        app: Any = client.app
        configured = app.state.settings.model_copy(update={"public_base_url": PUBLIC_BASE_URL})
        monkeypatch.setattr(app.state, "settings", configured)
        return PUBLIC_BASE_URL

    @pytest.mark.usefixtures("sample")
    @pytest.mark.parametrize("suffix", ["", "/pdf"])
    def test_a_report_fetched_with_a_foreign_host_links_to_the_configured_address(
        self,
        client: TestClient,
        session: Session,
        login_as: Callable[..., LoggedIn],
        configured_base_url: str,
        monkeypatch: pytest.MonkeyPatch,
        suffix: str,
    ) -> None:
        # The PDF's text is compressed and subset-encoded: read the HTML it is printed from.
        printed: list[str] = []
        to_pdf = rendering.html_to_pdf
        monkeypatch.setattr(
            rendering, "html_to_pdf", lambda html: printed.append(html) or to_pdf(html)
        )
        uscc = next(
            code
            for code in session.scalars(select(Subject.uscc).order_by(Subject.id))
            if uscc_codes.validate(code).valid
        )
        operator = login_as(Role.OPERATOR)

        # Issuing is a POST with the page's CSRF token (issue 21 finding 7).
        response = client.post(
            f"/reports/{uscc}{suffix}",
            data={"csrf_token": operator.csrf},
            headers={"Host": "evil.example"},
        )

        assert response.status_code == 200, response.text
        html = printed[0] if suffix else response.text
        link = f"{configured_base_url}/verify/{response.headers['x-report-no']}"
        assert f'data-verify-url="{link}"' in html
        assert "evil.example" not in html

    def test_production_needs_its_public_address(self, engine: Engine) -> None:
        production = settings_for(engine).model_copy(
            update={"env": "production", "secret_key": "a-production-secret"}
        )
        with pytest.raises(InsecureConfiguration, match="CREDITBRIDGE_PUBLIC_BASE_URL"):
            create_app(production, engine=engine)

    @pytest.mark.parametrize(
        "value", ["credit.example.gov.cn", "ftp://credit.example.gov.cn", f"{PUBLIC_BASE_URL}/x"]
    )
    def test_a_malformed_public_address_stops_the_start(self, engine: Engine, value: str) -> None:
        with pytest.raises(PublicBaseUrlInvalid):
            create_app(
                settings_for(engine).model_copy(update={"public_base_url": value}), engine=engine
            )

    def test_production_answers_only_its_own_host(self, engine: Engine, session: Session) -> None:
        app = _bound_app(
            engine,
            session,
            env="production",
            secret_key="a-production-secret",
            public_base_url=PUBLIC_BASE_URL,
        )
        with TestClient(app, base_url=PUBLIC_BASE_URL) as production:
            assert production.get("/healthz").status_code == 200
            refused = production.get("/healthz", headers={"Host": "evil.example"})
        assert refused.status_code == 400

    def test_forwarded_headers_are_believed_only_from_a_configured_proxy(
        self, engine: Engine, session: Session
    ) -> None:
        app = _bound_app(engine, session, trusted_proxies="10.0.0.7")
        forwarded = {"X-Forwarded-Proto": "https", "X-Forwarded-For": "203.0.113.9"}

        with TestClient(app, client=("198.51.100.1", 40000)) as stranger:
            spoofed = stranger.get("/healthz", headers=forwarded)
        with TestClient(app, client=("10.0.0.7", 40000)) as proxy:
            relayed = proxy.get("/healthz", headers=forwarded)

        assert "strict-transport-security" not in spoofed.headers
        assert "strict-transport-security" in relayed.headers

    def test_the_server_neither_names_itself_uvicorn_nor_believes_its_proxy_default(
        self,
    ) -> None:
        options = server.uvicorn_options()

        assert options["server_header"] is False
        assert options["proxy_headers"] is False
        assert options["http"] == server.PROTOCOL


# --- 5. Bodies are bounded before they are read -------------------------------------------------


def _call(
    app: FastAPI, method: str, path: str, headers: dict[str, str], chunks: list[bytes]
) -> tuple[int, bytes, int]:
    """Send one request straight to the ASGI app; returns (status, body, chunks read)."""
    read = 0
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        nonlocal read
        if read < len(chunks):
            read += 1
            return {
                "type": "http.request",
                "body": chunks[read - 1],
                "more_body": read < len(chunks),
            }
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()],
        "client": ("198.51.100.1", 40000),
        "server": ("testserver", 80),
    }
    # On a thread of its own: Playwright may keep an event loop running on the main thread.
    with ThreadPoolExecutor(max_workers=1) as runner:
        runner.submit(asyncio.run, app(scope, receive, send)).result()  # type: ignore[arg-type]
    status = next(m["status"] for m in sent if m["type"] == "http.response.start")
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return status, body, read


class TestBodies:
    def test_an_unsigned_post_is_refused_before_its_body_is_read(self, app: FastAPI) -> None:
        status, body, read = _call(app, "POST", WHOAMI, {}, [b"x" * 65536] * 4)

        assert status == 401
        assert b"CB-AUTH-SIGNATURE" in body
        assert read == 0

    def test_an_unknown_key_is_refused_before_the_body_is_read(self, app: FastAPI) -> None:
        headers = Signer("cb-nobody", secret="s3cret").headers("POST", WHOAMI, body=b"{}")

        status, body, read = _call(app, "POST", WHOAMI, headers, [b"x" * 65536] * 4)

        assert status == 401
        assert b"CB-AUTH-UNKNOWN-KEY" in body
        assert read == 0

    def test_a_stale_timestamp_is_refused_before_the_body_is_read(
        self, app: FastAPI, session: Session
    ) -> None:
        signer = _signer(session)
        headers = signer.headers("POST", WHOAMI, body=b"{}", now=utc_now() - timedelta(hours=2))

        status, body, read = _call(app, "POST", WHOAMI, headers, [b"{}"])

        assert (status, read) == (401, 0)
        assert b"CB-AUTH-STALE" in body

    def test_a_declared_body_over_the_limit_is_413_unread(
        self, small_client: TestClient, session: Session
    ) -> None:
        signer = _signer(session)
        body = b"x" * (SMALL + 1)

        response = small_client.post(
            WHOAMI, content=body, headers=signer.headers("POST", WHOAMI, body=body)
        )

        assert response.status_code == 413
        assert _problem_code(response) == "CB-BODY-TOO-LARGE"

    def test_a_chunked_body_is_counted_as_it_streams(
        self, small_client: TestClient, session: Session
    ) -> None:
        signer = _signer(session)
        parts = [b"x" * 1024] * 8

        response = small_client.post(
            WHOAMI,
            content=iter(parts),
            headers=signer.headers("POST", WHOAMI, body=b"".join(parts)),
        )

        assert response.status_code == 413
        assert _problem_code(response) == "CB-BODY-TOO-LARGE"

    def test_a_body_within_the_limit_is_served(
        self, small_client: TestClient, session: Session
    ) -> None:
        signer = _signer(session)
        body = b"x" * (SMALL - 10)

        response = small_client.post(
            WHOAMI, content=body, headers=signer.headers("POST", WHOAMI, body=body)
        )

        assert response.status_code == 200, response.text

    def test_batch_uploads_have_their_own_larger_limit(
        self, small_client: TestClient, session: Session
    ) -> None:
        provider = Provider(
            code="edge-prov",
            name="边界测试部门",
            kind="department",
            division_code="340000",
            created_at=utc_now(),
        )
        session.add(provider)
        session.flush()
        signer = _signer(session, owner_kind="provider", provider_id=provider.id)
        path = "/api/v1/ingest/batches"
        rows = [{"uscc": "x" * 18, "note": "y" * 200}] * 30
        within = json.dumps(
            {"provider": "edge-prov", "dataset": "tax_payment", "batch_id": "b1", "rows": rows}
        ).encode()
        beyond = within + b" " * (4 * SMALL)
        assert SMALL < len(within) < 4 * SMALL < len(beyond)

        accepted = small_client.post(
            path, content=within, headers=signer.headers("POST", path, body=within)
        )
        refused = small_client.post(
            path, content=beyond, headers=signer.headers("POST", path, body=beyond)
        )

        assert accepted.status_code != 413, accepted.text
        assert refused.status_code == 413
        assert _problem_code(refused) == "CB-BODY-TOO-LARGE"

    def test_an_oversized_form_gets_the_413_page(self, small_client: TestClient) -> None:
        form = small_client.get("/login")

        response = small_client.post(
            "/login",
            data={"username": "u" * SMALL, "password": "p", "csrf_token": csrf_from(form.text)},
        )

        assert response.status_code == 413
        assert response.headers["content-type"].startswith("text/html")
        assert "CB-BODY-TOO-LARGE" in response.text


# --- 8. Headers and small leaks -----------------------------------------------------------------


class TestHeaders:
    def test_hsts_only_over_https(self, app: FastAPI) -> None:
        with TestClient(app, base_url="https://testserver") as secure:
            assert secure.get("/").headers["strict-transport-security"].startswith("max-age=")
        with TestClient(app) as plain:
            assert "strict-transport-security" not in plain.get("/").headers

    @pytest.mark.parametrize(
        "path", ["/", "/login", "/catalog", "/api/v1/catalog", "/nope", "/healthz"]
    )
    def test_dynamic_responses_are_not_stored(self, client: TestClient, path: str) -> None:
        assert client.get(path).headers["cache-control"] == "no-store"

    def test_pages_with_personal_data_are_not_stored(
        self, client: TestClient, login_as: Callable[..., LoggedIn]
    ) -> None:
        login_as(Role.ENTERPRISE_USER)

        assert client.get("/account").headers["cache-control"] == "no-store"

    @pytest.mark.parametrize("path", ["/static/css/app.css", "/api/v1/openapi.json"])
    def test_static_and_public_documents_may_be_cached(self, client: TestClient, path: str) -> None:
        response = client.get(path)

        assert response.status_code == 200
        assert "no-store" not in response.headers.get("cache-control", "")

    @pytest.mark.parametrize("path", ["/", "/static/css/app.css", "/api/v1/catalog", "/nope"])
    def test_the_server_header_names_no_framework(self, client: TestClient, path: str) -> None:
        assert client.get(path).headers.get_list("server") == [SERVER_HEADER]

    def test_the_openapi_document_lists_the_refusals_as_problem_json(
        self, client: TestClient
    ) -> None:
        document = client.get("/api/v1/openapi.json").json()
        problem = {"$ref": "#/components/schemas/Problem"}

        assert "code" in document["components"]["schemas"]["Problem"]["properties"]
        signed = document["paths"][WHOAMI]
        for status in ("401", "403", "404", "429"):
            content = signed["get"]["responses"][status]["content"]
            assert content["application/problem+json"]["schema"] == problem, status
        assert "413" in signed["post"]["responses"]
        assert "413" not in signed["get"]["responses"]
        batch = document["paths"]["/api/v1/ingest/batches/{batch_id}"]["get"]["responses"]
        assert batch["422"]["content"] == {"application/problem+json": {"schema": problem}}
        # A public route cannot answer 401.
        assert "401" not in document["paths"]["/api/v1/keys"]["get"]["responses"]

    def test_citing_another_institutions_consent_answers_as_a_missing_one(
        self, client: TestClient, session: Session
    ) -> None:
        from creditbridge.catalog import service as catalog_service

        catalog_service.ensure_default_catalog(session)
        ours, theirs = _institution(session, "ours"), _institution(session, "theirs")
        subject = Subject(
            uscc="91340100EDGE00001X"[:18],
            name="边界测试企业",
            entity_type="91",
            division_code="340102",
            city_code="340100",
            created_at=utc_now(),
        )
        session.add(subject)
        session.flush()
        officer = Actor(
            kind=ActorKind.USER,
            id=1,
            name="他行客户经理",
            role=Role.INSTITUTION_OFFICER,
            institution_id=theirs.id,
        )
        owner = Actor(
            kind=ActorKind.USER,
            id=2,
            name="企业",
            role=Role.ENTERPRISE_USER,
            subject_id=subject.id,
        )
        grant = consent_service.request_consent(
            session,
            officer,
            uscc=subject.uscc,
            purpose="loan_application",
            categories=["tax"],
            valid_until=utc_now() + timedelta(days=30),
            max_uses=2,
        )
        consent_service.approve(session, owner, consent_id=grant.id)
        signer = _signer(session, owner_kind="institution", institution_id=ours.id)
        path = f"/api/v1/subjects/{subject.uscc}/records"

        def read(consent_id: int) -> tuple[int, dict[str, Any]]:
            query = f"purpose=loan_application&categories=tax&consent_id={consent_id}"
            response = client.get(
                f"{path}?{query}", headers=signer.headers("GET", path, query=query)
            )
            return response.status_code, response.json()

        assert read(grant.id) == read(grant.id + 10_000)
