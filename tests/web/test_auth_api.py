"""Signed API requests over HTTP: each failure is a 401 with its own stable code; the rate limit
is a 429 with Retry-After; the documented client example works against the app."""

from __future__ import annotations

import runpy
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from creditbridge.access import service as access_service
from creditbridge.access.client import Signer
from creditbridge.access.models import Institution
from creditbridge.core.actors import CONSOLE
from creditbridge.core.clock import utc_now
from creditbridge.core.config import Settings

from .conftest import LoggedIn

PATH = "/api/v1/whoami"
DOCS_EXAMPLE = Path(__file__).resolve().parents[2] / "docs" / "examples" / "signed_client.py"


def _institution(session: Session, status: str = "approved") -> Institution:
    institution = Institution(
        code=f"api-{status}-{utc_now().timestamp()}",
        name="接口测试银行",
        kind="bank",
        division_code="340100",
        status=status,
        created_at=utc_now(),
    )
    session.add(institution)
    session.flush()
    return institution


def _signer(
    session: Session, algorithm: str = "hmac-sm3", **kw: object
) -> tuple[Signer, access_service.IssuedClient]:
    institution = kw.pop("institution", None) or _institution(session)
    issued = access_service.create_client(
        session,
        CONSOLE,
        name="信贷系统",
        owner_kind="institution",
        algorithm=algorithm,
        institution_id=institution.id,
        settings=Settings(),
        **kw,  # type: ignore[arg-type]
    )
    return Signer(
        issued.client.key_id, secret=issued.secret, private_key_pem=issued.private_key_pem
    ), issued


def _code(response: object) -> str:
    body = response.json()  # type: ignore[attr-defined]
    assert response.headers["content-type"].startswith("application/problem+json")  # type: ignore[attr-defined]
    return str(body["code"])


@pytest.mark.parametrize("algorithm", ["sm2", "hmac-sm3"])
def test_signed_get_and_post_are_accepted(
    client: TestClient, session: Session, algorithm: str
) -> None:
    signer, issued = _signer(session, algorithm)
    response = client.get(PATH + "?a=1", headers=signer.headers("GET", PATH, query="a=1"))
    assert response.status_code == 200, response.text
    assert response.json()["key_id"] == issued.client.key_id
    body = '{"查询":"whoami"}'.encode()
    posted = client.post(PATH, content=body, headers=signer.headers("POST", PATH, body=body))
    assert posted.status_code == 200, posted.text


def test_missing_signature_is_401(client: TestClient) -> None:
    response = client.get(PATH)
    assert response.status_code == 401
    assert _code(response) == "CB-AUTH-SIGNATURE"


def test_tampered_body_is_401(client: TestClient, session: Session) -> None:
    signer, _ = _signer(session)
    headers = signer.headers("POST", PATH, body=b'{"amount":100}')
    response = client.post(PATH, content=b'{"amount":999}', headers=headers)
    assert response.status_code == 401
    assert _code(response) == "CB-AUTH-SIGNATURE"


def test_wrong_signature_is_401(client: TestClient, session: Session) -> None:
    signer, _ = _signer(session)
    headers = signer.headers("GET", PATH)
    headers["X-CB-Signature"] = headers["X-CB-Signature"][::-1]
    assert _code(client.get(PATH, headers=headers)) == "CB-AUTH-SIGNATURE"


def test_stale_time_is_401(client: TestClient, session: Session) -> None:
    from datetime import timedelta

    signer, _ = _signer(session)
    headers = signer.headers("GET", PATH, now=utc_now() - timedelta(minutes=6))
    assert _code(client.get(PATH, headers=headers)) == "CB-AUTH-STALE"


def test_replayed_nonce_is_401(client: TestClient, session: Session) -> None:
    signer, _ = _signer(session)
    headers = signer.headers("GET", PATH)
    assert client.get(PATH, headers=headers).status_code == 200
    replay = client.get(PATH, headers=headers)
    assert replay.status_code == 401
    assert _code(replay) == "CB-AUTH-REPLAY"


def test_unknown_key_is_401(client: TestClient) -> None:
    signer = Signer("cb-0000000000000000", secret="guessed")
    assert _code(client.get(PATH, headers=signer.headers("GET", PATH))) == "CB-AUTH-UNKNOWN-KEY"


def test_suspended_client_and_institution_are_401_on_the_next_request(
    client: TestClient, session: Session
) -> None:
    institution = _institution(session)
    signer, issued = _signer(session, institution=institution)
    assert client.get(PATH, headers=signer.headers("GET", PATH)).status_code == 200
    access_service.transition_institution(
        session, CONSOLE, institution_id=institution.id, target="suspended"
    )
    assert _code(client.get(PATH, headers=signer.headers("GET", PATH))) == "CB-AUTH-SUSPENDED"
    access_service.transition_institution(
        session, CONSOLE, institution_id=institution.id, target="approved"
    )
    access_service.set_client_status(
        session, CONSOLE, client_id=issued.client.id, status="suspended"
    )
    assert _code(client.get(PATH, headers=signer.headers("GET", PATH))) == "CB-AUTH-SUSPENDED"


def test_rate_limit_is_429_with_retry_after(client: TestClient, session: Session) -> None:
    signer, _ = _signer(session, rate_limit_per_minute=2)
    for _ in range(2):
        client.get(PATH, headers=signer.headers("GET", PATH))
    limited = client.get(PATH, headers=signer.headers("GET", PATH))
    if limited.status_code == 200:  # the minute turned over between requests; the next one counts
        limited = client.get(PATH, headers=signer.headers("GET", PATH))
        limited = client.get(PATH, headers=signer.headers("GET", PATH))
    assert limited.status_code == 429
    assert _code(limited) == "CB-RATE-LIMITED"
    assert int(limited.headers["Retry-After"]) >= 1


def test_api_routes_do_not_need_csrf_but_pages_do(client: TestClient, session: Session) -> None:
    signer, _ = _signer(session)
    assert client.post(PATH, content=b"", headers=signer.headers("POST", PATH)).status_code == 200


def test_page_login_does_not_open_the_api(client: TestClient, login_as: object) -> None:
    login_as(__import__("creditbridge.core.actors", fromlist=["Role"]).Role.INSTITUTION_OFFICER)  # type: ignore[operator]
    assert client.get(PATH).status_code == 401


def test_documented_client_example_runs_against_the_app(
    client: TestClient, session: Session
) -> None:
    _, issued = _signer(session, "sm2")
    namespace = runpy.run_path(str(DOCS_EXAMPLE))
    answer = namespace["call_whoami"](
        client, key_id=issued.client.key_id, private_key_pem=issued.private_key_pem
    )
    assert answer["key_id"] == issued.client.key_id
    assert isinstance(LoggedIn, type)
