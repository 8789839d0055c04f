"""Consent's JSON routes: the published key, the enterprise's access log and receipts."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

import factories
from creditbridge.catalog import service as catalog_service
from creditbridge.consent import service
from creditbridge.core.actors import Role
from creditbridge.core.clock import utc_now
from creditbridge.core.crypto import Sm2PublicKey
from creditbridge.protection.service import signing_public_key
from creditbridge.subjects.models import Subject
from web import conftest as web_fixtures

app = web_fixtures.app
client = web_fixtures.client
login_as = web_fixtures.login_as


def test_the_signing_key_is_published(client: TestClient) -> None:
    pem = client.get("/.well-known/creditbridge/signing-key.pem")
    assert pem.status_code == 200
    assert Sm2PublicKey.from_pem(pem.text) == signing_public_key()
    keys = client.get("/api/v1/keys").json()["keys"]
    assert keys[0]["kid"] == signing_public_key().fingerprint


def test_access_log_and_receipts_need_login(client: TestClient) -> None:
    assert client.get("/api/v1/access-log").status_code == 401
    assert client.get("/api/v1/consents/1/receipt").status_code == 401


def test_the_enterprise_sees_reads_and_downloads_only_its_own_receipts(
    client: TestClient, session: Session, login_as: Callable[..., object]
) -> None:
    catalog_service.ensure_default_catalog(session)
    bank = factories.institution(session, code="api-bank", name="徽商银行")
    officer = factories.officer(bank, id=9, name="客户经理")
    logged = login_as(Role.ENTERPRISE_USER)
    subject_id = logged.user.subject_id  # type: ignore[attr-defined]
    subject = session.get(Subject, subject_id)
    assert subject is not None
    owner = factories.owner(subject, id=logged.user.id, name="企业")  # type: ignore[attr-defined]
    grant = service.request_consent(
        session,
        officer,
        uscc=subject.uscc,
        purpose="loan_application",
        categories=["tax"],
        valid_until=utc_now() + timedelta(days=30),
        max_uses=2,
    )
    service.approve(session, owner, consent_id=grant.id)
    service.read_records(
        session, officer, subject_id=subject_id, purpose="loan_application", categories=["tax"]
    )

    entries = client.get("/api/v1/access-log").json()["entries"]
    assert [(e["institution"], e["purpose"], e["consent_id"]) for e in entries] == [
        ("徽商银行", "loan_application", grant.id)
    ]
    receipt = client.get(f"/api/v1/consents/{grant.id}/receipt")
    assert receipt.status_code == 200
    assert service.verify_receipt(receipt.content).ok
    assert client.get(f"/api/v1/consents/{grant.id + 999}/receipt").status_code == 404
    other = login_as(Role.ENTERPRISE_USER)
    assert other is not None
    assert client.get(f"/api/v1/consents/{grant.id}/receipt").status_code == 404
    assert client.get("/api/v1/access-log").json()["entries"] == []
