"""Signed API requests, attack by attack, at the service (the web tests repeat them over HTTP)."""

from __future__ import annotations

import base64
from datetime import timedelta

import pytest
from sqlalchemy.orm import Session

from creditbridge.access import service
from creditbridge.access.client import Signer
from creditbridge.access.errors import (
    ClientSuspended,
    RateLimited,
    ReplayedNonce,
    SignatureInvalid,
    StaleRequest,
    UnknownKey,
)
from creditbridge.core import crypto
from creditbridge.core.actors import CONSOLE, ActorKind
from creditbridge.core.clock import FrozenClock, utc_now

from .conftest import SETTINGS, make_institution

PATH = "/api/v1/whoami"


class ClockedSigner(Signer):
    """Signs with the platform's clock, so the frozen clock of a test applies to both sides."""

    def headers(self, method: str, path: str, **kw: object) -> dict[str, str]:  # type: ignore[override]
        kw.setdefault("now", utc_now())
        return super().headers(method, path, **kw)  # type: ignore[arg-type]


def _client(
    session: Session, algorithm: str = "hmac-sm3", **kw: object
) -> tuple[service.IssuedClient, Signer]:
    institution = kw.pop("institution", None) or make_institution(session)
    issued = service.create_client(
        session,
        CONSOLE,
        name="信贷系统",
        owner_kind="institution",
        algorithm=algorithm,
        institution_id=institution.id,
        settings=SETTINGS,
        **kw,  # type: ignore[arg-type]
    )
    signer = ClockedSigner(
        issued.client.key_id, secret=issued.secret, private_key_pem=issued.private_key_pem
    )
    return issued, signer


def _auth(
    session: Session,
    headers: dict[str, str],
    *,
    body: bytes = b"",
    method: str = "GET",
    query: str = "",
) -> object:
    return service.authenticate_request(
        session,
        method=method,
        path=PATH,
        query=query,
        headers={k.lower(): v for k, v in headers.items()},
        body=body,
        settings=SETTINGS,
    )


@pytest.mark.parametrize("algorithm", ["hmac-sm3", "sm2"])
def test_valid_signature_identifies_the_client(session: Session, algorithm: str) -> None:
    issued, signer = _client(session, algorithm)
    body = b'{"hello": "\xe4\xb8\x96\xe7\x95\x8c"}'
    actor = _auth(
        session,
        signer.headers("POST", PATH, query="a=1&b=2", body=body, now=utc_now()),
        body=body,
        method="POST",
        query="a=1&b=2",
    )
    assert actor.kind is ActorKind.API_CLIENT
    assert actor.institution_id == issued.client.institution_id


def test_hmac_secret_is_stored_encrypted(session: Session) -> None:
    issued, _ = _client(session)
    assert issued.secret is not None
    assert issued.secret.encode() not in (issued.client.secret_enc or b"")


@pytest.mark.parametrize(
    "missing", ["X-CB-Key-Id", "X-CB-Timestamp", "X-CB-Nonce", "X-CB-Content-SM3", "X-CB-Signature"]
)
def test_missing_header_is_refused(session: Session, missing: str) -> None:
    _, signer = _client(session)
    headers = signer.headers("GET", PATH)
    del headers[missing]
    with pytest.raises(SignatureInvalid):
        _auth(session, headers)


@pytest.mark.parametrize("algorithm", ["hmac-sm3", "sm2"])
def test_wrong_or_tampered_signature_is_refused(session: Session, algorithm: str) -> None:
    _, signer = _client(session, algorithm)
    headers = signer.headers("POST", PATH, body=b"amount=100")
    tampered = dict(headers, **{"X-CB-Content-SM3": crypto.sm3_hex(b"amount=999")})
    with pytest.raises(SignatureInvalid):  # body changed after signing, digest recomputed
        _auth(session, tampered, body=b"amount=999", method="POST")
    with pytest.raises(SignatureInvalid):  # body changed, digest left as signed
        _auth(
            session,
            signer.headers("POST", PATH, body=b"amount=100"),
            body=b"amount=999",
            method="POST",
        )
    with pytest.raises(SignatureInvalid):  # path/query changed
        _auth(session, signer.headers("GET", PATH, query="id=1"), query="id=2")
    with pytest.raises(SignatureInvalid):  # garbage signature
        _auth(
            session,
            dict(
                signer.headers("GET", PATH),
                **{"X-CB-Signature": base64.b64encode(b"x" * 64).decode()},
            ),
        )
    with pytest.raises(SignatureInvalid):  # not base64
        _auth(session, dict(signer.headers("GET", PATH), **{"X-CB-Signature": "***"}))


def test_signature_by_another_clients_key_is_refused(session: Session) -> None:
    _, mine = _client(session)
    _, other = _client(session)
    forged = other.headers("GET", PATH)
    forged["X-CB-Key-Id"] = mine.key_id
    with pytest.raises(SignatureInvalid):
        _auth(session, forged)


def test_stale_and_future_timestamps_are_refused(
    session: Session, frozen_clock: FrozenClock
) -> None:
    _, signer = _client(session)
    with pytest.raises(StaleRequest):
        _auth(session, signer.headers("GET", PATH, now=utc_now() - timedelta(minutes=5, seconds=2)))
    with pytest.raises(StaleRequest):
        _auth(session, signer.headers("GET", PATH, now=utc_now() + timedelta(minutes=5, seconds=2)))
    assert _auth(
        session, signer.headers("GET", PATH, now=utc_now() - timedelta(minutes=4, seconds=50))
    )


def test_rfc3339_timestamp_is_accepted(session: Session, frozen_clock: FrozenClock) -> None:
    assert service.parse_timestamp("2026-01-05T10:00:00+08:00") == utc_now()
    assert service.parse_timestamp("2026-01-05T02:00:00Z") == utc_now()
    assert service.parse_timestamp("2026-01-05T02:00:00") is None  # no zone names no instant


def test_replayed_nonce_is_refused(session: Session) -> None:
    _, signer = _client(session)
    headers = signer.headers("GET", PATH)
    _auth(session, headers)
    with pytest.raises(ReplayedNonce):
        _auth(session, headers)


def test_unknown_key_is_refused(session: Session) -> None:
    signer = Signer("cb-doesnotexist00", secret="whatever-secret")
    with pytest.raises(UnknownKey):
        _auth(session, signer.headers("GET", PATH))


def test_suspended_client_and_suspended_institution_are_refused(session: Session) -> None:
    institution = make_institution(session)
    issued, signer = _client(session, institution=institution)
    service.set_client_status(session, CONSOLE, client_id=issued.client.id, status="suspended")
    with pytest.raises(ClientSuspended):
        _auth(session, signer.headers("GET", PATH))
    service.set_client_status(session, CONSOLE, client_id=issued.client.id, status="active")
    _auth(session, signer.headers("GET", PATH))
    service.transition_institution(
        session, CONSOLE, institution_id=institution.id, target="revoked"
    )
    with pytest.raises(ClientSuspended):
        _auth(session, signer.headers("GET", PATH))


def test_rate_limit_per_client_per_minute(session: Session, frozen_clock: FrozenClock) -> None:
    _, signer = _client(session, rate_limit_per_minute=3)
    for _ in range(3):
        _auth(session, signer.headers("GET", PATH))
    with pytest.raises(RateLimited) as limited:
        _auth(session, signer.headers("GET", PATH))
    assert limited.value.status_code == 429
    assert int(limited.value.headers["Retry-After"]) > 0
    frozen_clock.advance(timedelta(minutes=1))
    _auth(session, signer.headers("GET", PATH))


def test_old_nonces_are_cleaned_but_never_inside_the_skew_window(
    session: Session, frozen_clock: FrozenClock
) -> None:
    _, signer = _client(session)
    headers = signer.headers("GET", PATH)
    _auth(session, headers)
    assert service.clean_expired(session, settings=SETTINGS)["nonces"] == 0
    frozen_clock.advance(timedelta(hours=2))
    assert service.clean_expired(session, settings=SETTINGS)["nonces"] == 1
    with pytest.raises(StaleRequest):  # the cleaned nonce's timestamp is long stale
        _auth(session, headers)
