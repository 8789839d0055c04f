"""Pages and JSON API: the enterprise's own score and advice, the institution's lookup under
consent, the operator's distribution and the validation report."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

import factories
from creditbridge.access import service as access_service
from creditbridge.access.client import Signer
from creditbridge.access.models import User
from creditbridge.catalog import service as catalog_service
from creditbridge.consent import service as consent_service
from creditbridge.core.actors import CONSOLE, Actor, ActorKind, Role
from creditbridge.core.config import Settings
from creditbridge.scoring import service
from creditbridge.scoring.models import Score, ScoringModel, ScoringRun
from creditbridge.subjects.models import Subject

NOW = datetime(2026, 11, 1, 2, 0, tzinfo=UTC)


def _scored(session: Session, subject_id: int, *, insufficient: bool = False) -> ScoringModel:
    """An approved public model with one run and a score for ``subject_id``."""
    card = service.expert_card()
    model = ScoringModel(
        version=f"expert-test.{subject_id}", kind="expert", purpose="public", status="approved",
        config_version="t", training_from=None, training_to=None, spec={"card": card.as_dict()},
        metrics={"auc": 0.8, "ks": 0.5, "n": 100, "n_bad": 20, "failures": []},
        created_by="t", created_at=NOW, approved_by="运营", approved_at=NOW,
    )  # fmt: skip
    session.add(model)
    session.flush()
    run = ScoringRun(
        model_id=model.id, started_at=NOW, finished_at=NOW, enterprises=1, scored=1,
        insufficient=0, previous_run_id=None, psi={}, alert=False, started_by="t",
    )  # fmt: skip
    session.add(run)
    session.flush()
    indicators = dict.fromkeys(card.codes) | {"tax_paid_12m": 0.5, "dishonesty_listed": 1.0}
    session.add(
        Score(
            subject_id=subject_id, model_id=model.id, run_id=run.id,
            score=None if insufficient else 612, grade=None if insufficient else "B",
            insufficient_data=insufficient,
            reasons=[service.INSUFFICIENT.__dict__] if insufficient else [
                {"code": "DISHONESTY_LISTED", "text_zh": "被列入失信被执行人、限制高消费或严重失信主体名单",
                 "text_en": "Listed", "points_lost": 40},
                {"code": "TAX_PAID_12M", "text_zh": "近12个月纳税额偏低或无纳税记录",
                 "text_en": "Low tax", "points_lost": 45},
            ],
            indicators={} if insufficient else indicators, scored_at=NOW,
        )
    )  # fmt: skip
    session.flush()
    return model


def test_enterprise_sees_its_score_reasons_and_what_would_raise_it(
    client: TestClient,
    login_as,
    session: Session,  # type: ignore[no-untyped-def]
) -> None:
    logged = login_as(Role.ENTERPRISE_USER)
    _scored(session, logged.user.subject_id)
    page = client.get("/enterprise/credit-score")
    assert page.status_code == 200
    assert 'data-testid="score-value">612<' in page.text
    assert 'data-testid="score-grade">B<' in page.text
    assert "被列入失信被执行人" in page.text
    assert "信用培育" in page.text
    assert "可提高" in page.text


def test_enterprise_without_a_score_sees_an_empty_state(client: TestClient, login_as) -> None:  # type: ignore[no-untyped-def]
    login_as(Role.ENTERPRISE_USER)
    page = client.get("/enterprise/credit-score")
    assert page.status_code == 200
    assert "尚未评分" in page.text


def test_insufficient_data_is_shown_as_such(client: TestClient, login_as, session: Session) -> None:  # type: ignore[no-untyped-def]
    logged = login_as(Role.ENTERPRISE_USER)
    _scored(session, logged.user.subject_id, insufficient=True)
    page = client.get("/enterprise/credit-score")
    assert 'data-testid="score-insufficient"' in page.text
    assert "数据不足" in page.text
    body = client.get(f"/api/v1/scoring/scores/{_uscc(session, logged.user)}").json()
    assert body["insufficient_data"] is True
    assert body["score"] is None
    assert body["grade"] is None
    assert body["reasons"][0]["code"] == "INSUFFICIENT_DATA"


def _uscc(session: Session, user: User) -> str:
    return session.scalars(select(Subject.uscc).where(Subject.id == user.subject_id)).one()


def test_api_returns_score_grade_reasons_and_version(
    client: TestClient, login_as, session: Session
) -> None:  # type: ignore[no-untyped-def]
    logged = login_as(Role.ENTERPRISE_USER)
    model = _scored(session, logged.user.subject_id)
    body = client.get(f"/api/v1/scoring/scores/{_uscc(session, logged.user)}").json()
    assert (body["score"], body["grade"], body["model_version"]) == (612, "B", model.version)
    assert [r["code"] for r in body["reasons"]] == ["DISHONESTY_LISTED", "TAX_PAID_12M"]


def test_institution_lookup_needs_consent(client: TestClient, login_as, session: Session) -> None:  # type: ignore[no-untyped-def]
    catalog_service.ensure_default_catalog(session)
    officer_login = login_as(Role.INSTITUTION_OFFICER)
    subject = factories.subject(
        session, uscc="91340100MA2NPAGE1X", name="页面测试企业", created_at=NOW
    )
    _scored(session, subject.id)
    form = client.get("/institution/credit-score")
    assert form.status_code == 200
    assert "score-lookup-form" in form.text
    refused = client.post(
        "/institution/credit-score",
        data={"uscc": subject.uscc, "purpose": "loan_application", "consent_id": "",
              "csrf_token": officer_login.csrf},
    )  # fmt: skip
    assert refused.status_code == 403
    api = client.get(
        f"/api/v1/scoring/scores/{subject.uscc}", params={"purpose": "loan_application"}
    )
    assert api.status_code == 403
    assert api.json()["code"].startswith("CB-CONSENT")

    officer = Actor(
        ActorKind.USER, officer_login.user.id, "经理", Role.INSTITUTION_OFFICER,
        institution_id=officer_login.user.institution_id,
    )  # fmt: skip
    owner = Actor(ActorKind.USER, 1, "企业", Role.ENTERPRISE_USER, subject_id=subject.id)
    grant = consent_service.request_consent(
        session, officer, uscc=subject.uscc, purpose="loan_application",
        categories=list(service.SCORE_CATEGORIES),
        valid_until=datetime.now(UTC) + timedelta(days=30), max_uses=5,
    )  # fmt: skip
    consent_service.approve(session, owner, consent_id=grant.id)
    shown = client.post(
        "/institution/credit-score",
        data={"uscc": subject.uscc, "purpose": "loan_application", "consent_id": str(grant.id),
              "csrf_token": officer_login.csrf},
    )  # fmt: skip
    assert shown.status_code == 200, shown.text
    assert "score-lookup-result" in shown.text
    assert ">612<" in shown.text


def test_operator_sees_distribution_registry_and_report(
    client: TestClient, login_as, session: Session
) -> None:  # type: ignore[no-untyped-def]
    login_as(Role.OPERATOR)
    subject = factories.subject(
        session, uscc="91340100MA2NDIST1X", name="分布测试企业", industry_section="C",
        created_at=NOW,
    )  # fmt: skip
    model = _scored(session, subject.id)
    page = client.get("/operator/scoring")
    assert page.status_code == 200
    assert 'data-testid="by-city"' in page.text
    assert "合肥市" in page.text
    assert 'data-testid="by-industry"' in page.text
    assert "制造业" in page.text
    assert model.version in page.text
    report = client.get(f"/operator/scoring/models/{model.version}")
    assert report.status_code == 200
    assert 'data-testid="validation-report"' in report.text
    assert client.get("/api/v1/scoring/distribution").json()["total"] == {"B": 1}
    assert any(m["version"] == model.version for m in client.get("/api/v1/scoring/models").json())


def test_roles_are_kept_to_their_pages(client: TestClient, login_as) -> None:  # type: ignore[no-untyped-def]
    login_as(Role.ENTERPRISE_USER)
    assert client.get("/operator/scoring").status_code == 403
    assert client.get("/api/v1/scoring/models").status_code == 403


def test_signed_institution_client_reads_the_score_under_consent(
    client: TestClient,
    session: Session,  # type: ignore[no-untyped-def]
) -> None:
    catalog_service.ensure_default_catalog(session)
    bank = factories.institution(session, code="score-api-bank", name="评分接口银行")
    subject = factories.subject(
        session, uscc="91340100MA2NSIGN1X", name="接口测试企业", created_at=NOW
    )
    _scored(session, subject.id)
    issued = access_service.create_client(
        session, CONSOLE, name="信贷系统", owner_kind="institution", algorithm="hmac-sm3",
        institution_id=bank.id, settings=Settings(),
    )  # fmt: skip
    signer = Signer(
        issued.client.key_id, secret=issued.secret, private_key_pem=issued.private_key_pem
    )
    path = f"/api/v1/scoring/institution/scores/{subject.uscc}"
    query = "purpose=loan_application"
    refused = client.get(f"{path}?{query}", headers=signer.headers("GET", path, query=query))
    assert refused.status_code == 403

    officer = Actor(ActorKind.API_CLIENT, issued.client.id, "信贷系统", institution_id=bank.id)
    owner = Actor(ActorKind.USER, 1, "企业", Role.ENTERPRISE_USER, subject_id=subject.id)
    grant = consent_service.request_consent(
        session, officer, uscc=subject.uscc, purpose="loan_application",
        categories=list(service.SCORE_CATEGORIES),
        valid_until=datetime.now(UTC) + timedelta(days=30), max_uses=5,
    )  # fmt: skip
    consent_service.approve(session, owner, consent_id=grant.id)
    query = f"purpose=loan_application&consent_id={grant.id}"
    shown = client.get(f"{path}?{query}", headers=signer.headers("GET", path, query=query))
    assert shown.status_code == 200, shown.text
    assert shown.json()["grade"] == "B"
