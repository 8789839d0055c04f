"""The enterprise starts a consent to an institution it chooses, prints it as a 授权书 (PDF with
the receipt's digest and QR) and anyone checks a receipt on /verify — by the file or the QR link."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any

import orjson
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

import factories
from creditbridge.audit.models import AuditEvent
from creditbridge.consent import domain, service
from creditbridge.consent.models import ConsentGrant, ConsentNotification
from creditbridge.core.actors import Role
from creditbridge.core.config import Settings
from creditbridge.core.errors import Forbidden, ValidationFailed
from creditbridge.delivery.models import OutboxMessage
from web import conftest as web_fixtures
from web.conftest import LoggedIn
from web.helpers import csrf_from

from .conftest import World, active, request
from .test_pages import _login_owner

app = web_fixtures.app
client = web_fixtures.client
login_as = web_fixtures.login_as
Login = Callable[..., LoggedIn]

NOW = datetime(2026, 1, 5, 2, 0, tzinfo=UTC)
SETTINGS = Settings(node_code="340000", node_name="安徽省融资信用服务平台")


def _events(session: Session, action: str) -> int:
    return session.scalar(select(func.count()).where(AuditEvent.action == action)) or 0


def _give(world: World, session: Session, **overrides: Any) -> ConsentGrant:
    args: dict[str, Any] = {
        "institution_id": world.bank.id,
        "purpose": "loan_application",
        "categories": ["tax", "social_insurance"],
        "valid_until": NOW + timedelta(days=60),
        "max_uses": 3,
    }
    args.update(overrides)
    return service.grant_to_institution(session, world.owner, **args)


def _post_grant(client: TestClient, csrf: str, **fields: Any) -> Any:
    """The enterprise's consent form sent with ``fields``; a field given as None is left out."""
    data = {"csrf_token": csrf, "purpose": "loan_application", "categories": ["tax"], **fields}
    return client.post(
        "/enterprise/consents",
        data={k: v for k, v in data.items() if v is not None},
        follow_redirects=False,
    )


def _grants(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(ConsentGrant)) or 0


# --- the service ------------------------------------------------------------------------------


class TestGrantToInstitution:
    def test_consent_is_born_active_audited_and_heard_by_the_institution(
        self, session: Session, world: World
    ) -> None:
        grant = _give(world, session, data_from=date(2024, 1, 1))

        assert grant.status == "active"
        assert grant.subject_id == world.subject.id
        assert grant.institution_id == world.bank.id
        assert grant.categories == ["social_insurance", "tax"]
        assert grant.data_from == date(2024, 1, 1)
        assert grant.decided_by == world.owner.name
        assert _events(session, "consent.grant") == 1
        told = session.scalars(
            select(ConsentNotification).where(
                ConsentNotification.consent_id == grant.id,
                ConsentNotification.recipient_kind == "institution",
            )
        ).all()
        assert [n.recipient_id for n in told] == [world.bank.id]
        outbox = session.scalars(
            select(OutboxMessage).where(OutboxMessage.event_type == "consent.grant")
        ).all()
        assert [m.institution_id for m in outbox] == [world.bank.id]

    def test_the_institution_may_read_under_it_at_once(
        self, session: Session, world: World
    ) -> None:
        grant = _give(world, session, categories=["tax"])

        result = service.read_records(
            session,
            world.officer,
            subject_id=world.subject.id,
            purpose="loan_application",
            categories=["tax"],
        )

        assert result.consent is not None
        assert result.consent.id == grant.id

    @pytest.mark.parametrize(
        ("kind", "status"), [("bank", "suspended"), ("city_platform", "approved")]
    )
    def test_only_admitted_lending_institutions_may_be_chosen(
        self, session: Session, world: World, kind: str, status: str
    ) -> None:
        other = factories.institution(session, kind=kind, status=status)

        with pytest.raises(ValidationFailed) as refused:
            _give(world, session, institution_id=other.id)

        assert [i.field for i in refused.value.issues] == ["institution_id"]
        assert _grants(session) == 0
        assert other.id not in {i for i, _, _ in service.grantable_institutions(session)}
        assert world.bank.id in {i for i, _, _ in service.grantable_institutions(session)}

    def test_every_wrong_term_is_reported_at_its_field_and_nothing_written(
        self, session: Session, world: World
    ) -> None:
        with pytest.raises(ValidationFailed) as refused:
            _give(
                world,
                session,
                institution_id=987654,
                purpose="marketing",
                categories=[],
                valid_until=NOW + timedelta(days=400),
                max_uses=0,
            )

        fields = {i.field: i.code for i in refused.value.issues}
        assert fields == {
            "institution_id": "CB-CONSENT-INSTITUTION",
            "purpose": "CB-CONSENT-PURPOSE-UNKNOWN",
            "categories": "CB-CONSENT-SCOPE-EMPTY",
            "valid_until": "CB-CONSENT-VALIDITY",
            "max_uses": "CB-CONSENT-USES",
        }
        assert _events(session, "consent.grant") == 0

    def test_only_an_enterprise_user_starts_one(self, session: Session, world: World) -> None:
        with pytest.raises(Forbidden):
            service.grant_to_institution(
                session,
                world.officer,
                institution_id=world.bank.id,
                purpose="loan_application",
                categories=["tax"],
                valid_until=NOW + timedelta(days=30),
                max_uses=1,
            )


# --- the terms digest ---------------------------------------------------------------------------


class TestTermsDigest:
    def test_a_receipt_file_and_the_register_give_the_same_digest(
        self, session: Session, world: World
    ) -> None:
        grant = _give(world, session)
        artefact = service.receipt_artefact(session, grant, settings=SETTINGS)
        raw = service.receipt(session, world.owner, consent_id=grant.id, settings=SETTINGS)
        from_file = orjson.loads(raw)["artefact"]

        assert domain.terms_digest(from_file) == domain.terms_digest(artefact)

    def test_the_state_and_time_of_issue_do_not_change_it_but_the_terms_do(
        self, session: Session, world: World
    ) -> None:
        grant = _give(world, session)
        artefact = service.receipt_artefact(session, grant, settings=SETTINGS)
        digest = domain.terms_digest(artefact)

        later = {**artefact, "status": "revoked", "issued_at": NOW + timedelta(days=3)}
        wider = {**artefact, "categories": [*artefact["categories"], "utilities"]}
        longer = {**artefact, "max_uses": artefact["max_uses"] + 1}

        assert domain.terms_digest(later) == digest
        assert domain.terms_digest(wider) != digest
        assert domain.terms_digest(longer) != digest
        assert re.fullmatch(r"[0-9a-f]{64}", digest)


# --- the pages ----------------------------------------------------------------------------------


class TestGrantPages:
    def test_the_form_explains_and_offers_only_admitted_institutions_and_private_categories(
        self, client: TestClient, session: Session, world: World
    ) -> None:
        suspended = factories.institution(session, name="暂停服务银行", status="suspended")
        _login_owner(client, session, world)

        page = client.get("/enterprise/consents/new")

        assert page.status_code == 200
        assert "徽商银行" in page.text
        assert suspended.name not in page.text
        assert "机构审查您的贷款申请时查询" in page.text  # each purpose explained
        assert 'value="tax"' in page.text
        assert 'value="registration"' not in page.text  # public: needs no consent
        mine = client.get("/enterprise/consents").text
        assert re.search(r'href="/enterprise/consents/new" data-testid="grant-start"', mine)

    def test_a_refused_form_keeps_the_input_with_messages_at_the_fields(
        self, client: TestClient, session: Session, world: World
    ) -> None:
        csrf = _login_owner(client, session, world)

        page = _post_grant(
            client,
            csrf,
            institution_id=str(world.bank.id),
            purpose="post_loan_monitoring",
            valid_until="2028-01-01",
            max_uses="7",
            note="贷后跟踪",
        )

        assert page.status_code == 422
        assert 'data-testid="error-valid_until"' in page.text
        assert "授权有效期不得超过一年" in page.text
        assert re.search(rf'<option value="{world.bank.id}"\s+selected', page.text)
        assert re.search(r'value="post_loan_monitoring"[^>]*checked', page.text)
        assert re.search(r'value="tax"[^>]*checked', page.text)
        assert 'value="7"' in page.text
        assert "贷后跟踪" in page.text
        assert _grants(session) == 0

    def test_no_institution_chosen_is_a_message_at_the_field(
        self, client: TestClient, session: Session, world: World
    ) -> None:
        csrf = _login_owner(client, session, world)

        page = _post_grant(client, csrf, valid_until="2026-02-01", max_uses="3")

        assert page.status_code == 422
        assert 'data-testid="error-institution_id"' in page.text

    def test_a_valid_form_creates_the_active_consent_and_shows_it(
        self, client: TestClient, session: Session, world: World
    ) -> None:
        csrf = _login_owner(client, session, world)

        done = _post_grant(
            client,
            csrf,
            institution_id=str(world.bank.id),
            categories=["tax", "utilities"],
            valid_until="2026-03-31",
            max_uses="2",
        )

        assert done.status_code == 303
        grant = session.scalars(select(ConsentGrant)).one()
        assert done.headers["location"] == f"/consents/{grant.id}"
        assert (grant.status, grant.max_uses) == ("active", 2)
        assert grant.categories == ["tax", "utilities"]
        detail = client.get(done.headers["location"])
        assert 'data-testid="letter"' in detail.text

    def test_an_officer_may_neither_open_nor_post_the_enterprise_form(
        self, client: TestClient, session: Session, world: World, login_as: Login
    ) -> None:
        officer = login_as(Role.INSTITUTION_OFFICER, institution_id=world.bank.id)

        form = client.get("/enterprise/consents/new")
        posted = _post_grant(
            client,
            officer.csrf,
            institution_id=str(world.bank.id),
            valid_until="2026-03-01",
            max_uses="1",
        )

        assert form.status_code == 403
        assert posted.status_code == 403
        assert _grants(session) == 0


class TestLetter:
    def test_the_letter_is_a_pdf_audited_with_the_receipts_digest(
        self, client: TestClient, session: Session, world: World
    ) -> None:
        grant = active(world, session)
        csrf = _login_owner(client, session, world)

        pdf = client.post(f"/enterprise/consents/{grant.id}/letter", data={"csrf_token": csrf})

        assert pdf.status_code == 200, pdf.text[:500]
        assert pdf.headers["content-type"] == "application/pdf"
        assert pdf.content.startswith(b"%PDF")
        assert "attachment" in pdf.headers["content-disposition"]
        assert _events(session, "consent.letter") == 1
        event = session.scalars(
            select(AuditEvent).where(AuditEvent.action == "consent.letter")
        ).one()
        assert grant.reference in str(event.content)

    def test_another_enterprises_letter_is_not_found(
        self, client: TestClient, session: Session, world: World
    ) -> None:
        asked = request(world, session, uscc=world.other_subject.uscc)
        theirs = service.approve(session, world.other_owner, consent_id=asked.id)
        csrf = _login_owner(client, session, world)

        refused = client.post(f"/enterprise/consents/{theirs.id}/letter", data={"csrf_token": csrf})

        assert refused.status_code == 404
        assert _events(session, "consent.letter") == 0


class TestVerifyReceipt:
    def _receipt(
        self, client: TestClient, session: Session, world: World
    ) -> tuple[ConsentGrant, bytes]:
        grant = active(world, session)
        csrf = _login_owner(client, session, world)
        raw = client.post(f"/consents/{grant.id}/receipt", data={"csrf_token": csrf}).content
        client.cookies.clear()  # the check needs no login
        return grant, raw

    def _upload(self, client: TestClient, raw: bytes) -> Any:
        """The receipt file sent to /verify, with the form's token, as anyone would."""
        form = client.get("/verify")
        return client.post(
            "/verify",
            files={"file": ("receipt.json", raw, "application/json")},
            data={"csrf_token": csrf_from(form.text)},
        )

    def test_an_uploaded_receipt_is_valid_with_its_terms(
        self, client: TestClient, session: Session, world: World
    ) -> None:
        grant, raw = self._receipt(client, session, world)

        page = self._upload(client, raw)

        assert page.status_code == 200
        assert 'data-testid="receipt-result" data-ok="true"' in page.text
        assert grant.reference in page.text
        assert world.subject.name in page.text
        assert "徽商银行" in page.text
        assert "纳税" in page.text  # categories named, not coded

    @pytest.mark.parametrize(
        ("tamper", "failed"),
        [
            (lambda r: r.replace(b'"max_uses": 3', b'"max_uses": 300'), "signature"),
            (lambda r: b'{"format": "something else"}', "format"),
        ],
    )
    def test_a_tampered_receipt_is_invalid_with_the_reason(
        self, client: TestClient, session: Session, world: World, tamper: Any, failed: str
    ) -> None:
        _, raw = self._receipt(client, session, world)
        altered = tamper(raw)
        assert altered != raw

        page = self._upload(client, altered)

        assert page.status_code == 200
        assert f'data-ok="false" data-failed="{failed}"' in page.text
        assert "无效" in page.text
        assert world.subject.name not in page.text

    def test_the_qr_link_shows_only_parties_purpose_period_and_state(
        self, client: TestClient, session: Session, world: World
    ) -> None:
        grant = active(world, session, categories=["tax"])
        digest = domain.terms_digest(service.receipt_artefact(session, grant, settings=SETTINGS))
        client.cookies.clear()

        page = client.get(service.verification_path(grant.reference, digest))

        assert page.status_code == 200
        assert 'data-testid="receipt-result" data-ok="true"' in page.text
        assert world.subject.name in page.text
        assert "徽商银行" in page.text
        assert "贷款申请审查" in page.text
        assert 'data-in-force="true"' in page.text
        assert world.subject.uscc not in page.text
        assert "纳税" not in page.text  # the scope stays with the receipt's holder

    def test_a_revoked_consent_still_matches_but_is_no_longer_in_force(
        self, client: TestClient, session: Session, world: World
    ) -> None:
        grant = active(world, session)
        digest = domain.terms_digest(service.receipt_artefact(session, grant, settings=SETTINGS))
        service.revoke(session, world.owner, consent_id=grant.id)

        page = client.get(service.verification_path(grant.reference, digest))

        assert 'data-ok="true"' in page.text
        assert 'data-in-force="false"' in page.text

    def test_a_wrong_digest_or_number_is_invalid(
        self, client: TestClient, session: Session, world: World
    ) -> None:
        grant = active(world, session)

        wrong = client.get(service.verification_path(grant.reference, "0" * 64))
        unknown = client.get(service.verification_path("CB0000000000000000", "0" * 64))

        assert wrong.status_code == 200
        assert 'data-failed="digest"' in wrong.text
        assert world.subject.name not in wrong.text
        assert unknown.status_code == 404
        assert 'data-failed="unknown"' in unknown.text

    def test_report_verification_still_answers(self, client: TestClient) -> None:
        form = client.get("/verify")
        empty = client.post("/verify", data={"csrf_token": csrf_from(form.text), "source": ""})

        assert form.status_code == 200
        assert empty.status_code == 422
        assert 'data-testid="receipt-result"' not in empty.text
        assert client.get("/verify/R-NOPE").status_code == 404
