"""The lab on a generated province: every enterprise scored with grade and reasons, reads by
role and consent, the registry's rules, the SQL export, stability between runs, bad input."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import duckdb
import numpy as np
import pytest
from sqlalchemy import func, select, update

from creditbridge.access.errors import RateLimited
from creditbridge.access.models import Institution, ReadTally
from creditbridge.audit.models import AuditEvent
from creditbridge.consent import service as consent_service
from creditbridge.consent.errors import ConsentRefused
from creditbridge.core.actors import CONSOLE, Actor, ActorKind, Role
from creditbridge.core.errors import Forbidden
from creditbridge.marketplace import service as marketplace_service
from creditbridge.marketplace.models import Application, Loan, Product
from creditbridge.scoring import analytics, domain, service
from creditbridge.scoring.errors import ApprovalRefused, ScoreNotFound, TrainingRefused
from creditbridge.scoring.models import Score
from creditbridge.scoring.schemas import indicator_config
from creditbridge.subjects.models import Subject

from .conftest import ENTERPRISES, Lab


def _subject(lab: Lab, offset: int = 0) -> Subject:
    return lab.session.scalars(select(Subject).order_by(Subject.id).offset(offset).limit(1)).one()


def test_every_enterprise_gets_a_score_grade_and_reasons(lab: Lab) -> None:
    rows = lab.session.scalars(select(Score).where(Score.run_id == lab.run.id)).all()
    assert len(rows) == ENTERPRISES == lab.run.enterprises
    scored = [r for r in rows if not r.insufficient_data]
    assert len(scored) == lab.run.scored > 0
    assert all(r.score is not None and r.grade in domain.GRADES for r in scored)
    assert all(1 <= len(r.reasons) <= 3 for r in scored if r.score < 900)
    for r in scored[:50]:
        losses = [reason["points_lost"] for reason in r.reasons]
        assert losses == sorted(losses, reverse=True)
        assert all(p > 0 for p in losses)
        assert all(reason["text_zh"] for reason in r.reasons)


def test_current_score_is_the_latest_of_the_approved_public_model(lab: Lab) -> None:
    subject = _subject(lab, 3)
    view = service.get_current_score(lab.session, subject_id=subject.id)
    assert view is not None
    assert view.model_version == lab.expert.version
    stored = lab.session.scalars(
        select(Score).where(Score.subject_id == subject.id, Score.run_id == lab.run.id)
    ).one()
    assert (view.score, view.grade) == (stored.score, stored.grade)
    assert len(view.reasons) == len(stored.reasons)


def test_enterprise_reads_its_own_score_only(lab: Lab) -> None:
    own, other = _subject(lab, 1), _subject(lab, 2)
    actor = Actor(ActorKind.USER, 9001, "企业用户", Role.ENTERPRISE_USER, subject_id=own.id)
    assert service.read_score(lab.session, actor, subject_id=own.id).subject_id == own.id
    with pytest.raises(Forbidden):
        service.read_score(lab.session, actor, subject_id=other.id)


def test_institution_needs_a_consent_covering_the_score_categories(lab: Lab, nested) -> None:  # type: ignore[no-untyped-def]
    session = nested
    subject = _subject(lab, 4)
    bank = session.scalars(select(Institution).order_by(Institution.id).limit(1)).one()
    officer = Actor(
        ActorKind.USER, 9002, "客户经理", Role.INSTITUTION_OFFICER, institution_id=bank.id
    )
    owner = Actor(ActorKind.USER, 9003, "企业", Role.ENTERPRISE_USER, subject_id=subject.id)

    def refused_events() -> int:
        return (
            session.scalar(
                select(func.count())
                .select_from(AuditEvent)
                .where(AuditEvent.action == "data.read_refused")
            )
            or 0
        )

    before = refused_events()
    with pytest.raises(ConsentRefused):
        service.read_score(session, officer, subject_id=subject.id, purpose="loan_application")
    assert refused_events() == before + 1

    narrow = consent_service.request_consent(
        session, officer, uscc=subject.uscc, purpose="loan_application", categories=["tax"],
        valid_until=datetime.now(UTC) + timedelta(days=30), max_uses=5,
    )  # fmt: skip
    consent_service.approve(session, owner, consent_id=narrow.id)
    with pytest.raises(ConsentRefused):
        service.read_score(session, officer, subject_id=subject.id, consent_id=narrow.id)

    full = consent_service.request_consent(
        session, officer, uscc=subject.uscc, purpose="loan_application",
        categories=list(service.SCORE_CATEGORIES),
        valid_until=datetime.now(UTC) + timedelta(days=30), max_uses=5,
    )  # fmt: skip
    consent_service.approve(session, owner, consent_id=full.id)
    view = service.read_score(session, officer, subject_id=subject.id, consent_id=full.id)
    assert view.subject_id == subject.id
    event = session.scalars(
        select(AuditEvent)
        .where(AuditEvent.action == "scoring.read")
        .order_by(AuditEvent.id.desc())
        .limit(1)
    ).one()
    assert event.subject_id == subject.id

    # The read spends one use of the consent and shows in the enterprise's access log (查询记录).
    session.refresh(full)
    assert full.uses == 1
    log = consent_service.list_access_log(session, owner)
    assert log[0].consent_id == full.id
    assert log[0].datasets == ["credit_score"]
    assert log[0].institution_id == bank.id
    # When the uses run out the score is refused like any other read.
    for _ in range(full.max_uses - full.uses):
        service.read_score(session, officer, subject_id=subject.id, consent_id=full.id)
    with pytest.raises(ConsentRefused):
        service.read_score(session, officer, subject_id=subject.id, consent_id=full.id)


def test_a_throttled_institution_is_refused_the_score_and_the_refusal_is_on_record(
    lab: Lab,
    nested,  # type: ignore[no-untyped-def]
) -> None:
    """Regression: ``read_score`` once checked the consent alone, so an institution throttled by
    abuse detection kept reading scores — directly and through an application in the
    marketplace — and its refusals were neither counted nor the same audit event as others."""
    session = nested
    subject = _subject(lab, 6)
    bank = session.scalars(select(Institution).order_by(Institution.id).limit(1)).one()
    officer = Actor(
        ActorKind.USER, 9012, "客户经理", Role.INSTITUTION_OFFICER, institution_id=bank.id
    )
    owner = Actor(ActorKind.USER, 9013, "企业", Role.ENTERPRISE_USER, subject_id=subject.id)
    full = consent_service.request_consent(
        session, officer, uscc=subject.uscc, purpose="loan_application",
        categories=list(service.SCORE_CATEGORIES),
        valid_until=datetime.now(UTC) + timedelta(days=30), max_uses=5,
    )  # fmt: skip
    consent_service.approve(session, owner, consent_id=full.id)
    product = session.scalars(select(Product).order_by(Product.id).limit(1)).one()
    now = datetime.now(UTC)
    application = Application(
        subject_id=subject.id, product_id=product.id, institution_id=bank.id,
        consent_id=full.id, amount_fen=1_000_000, term_months=12, channel="apply",
        status="submitted", created_at=now, status_changed_at=now,
    )  # fmt: skip
    session.add(application)
    session.flush()
    service.read_score(session, officer, subject_id=subject.id, consent_id=full.id)

    session.execute(
        update(Institution)
        .where(Institution.id == bank.id)
        .values(throttled_until=now + timedelta(hours=1))
    )

    def refused_reads() -> list[AuditEvent]:
        return list(
            session.scalars(
                select(AuditEvent)
                .where(
                    AuditEvent.action == "data.read_refused", AuditEvent.subject_id == subject.id
                )
                .order_by(AuditEvent.id)
            )
        )

    def refusals_counted() -> int:
        return int(
            session.scalar(
                select(func.coalesce(func.sum(ReadTally.refusals), 0)).where(
                    ReadTally.institution_id == bank.id
                )
            )
            or 0
        )

    counted = refusals_counted()
    with pytest.raises(RateLimited) as direct:
        service.read_score(session, officer, subject_id=subject.id, consent_id=full.id)
    with pytest.raises(RateLimited) as through_marketplace:
        marketplace_service.read_score_for_application(
            session, officer, application_id=application.id
        )

    for raised in (direct.value, through_marketplace.value):
        assert raised.code == "CB-RATE-LIMITED"
        assert raised.headers["Retry-After"]
        # What the unit of work writes again after rolling the request back.
        assert getattr(raised, "kept_on_rollback", None) is not None
    events = refused_reads()
    assert len(events) == 2
    assert all(e.content["detail"]["item"] == "credit_score" for e in events)
    assert all(e.content["detail"]["reason"] == "throttled" for e in events)
    assert refusals_counted() == counted + 2
    session.refresh(full)
    assert full.uses == 1  # only the read before the throttle


def test_operator_reads_any_and_sees_the_distribution(lab: Lab) -> None:
    operator = Actor(ActorKind.USER, 9004, "运营", Role.OPERATOR)
    subject = _subject(lab, 5)
    assert service.read_score(lab.session, operator, subject_id=subject.id).score is not None
    result = service.distribution(lab.session, operator)
    assert sum(g.count for g in result.by_city) == ENTERPRISES
    assert sum(g.count for g in result.by_industry) == ENTERPRISES
    assert sum(result.total.values()) == lab.run.scored
    assert all(g.name for g in result.by_city)


def test_enterprise_without_records_gets_insufficient_data(lab: Lab, nested) -> None:  # type: ignore[no-untyped-def]
    session = nested
    empty = Subject(
        uscc="91340100MA2NOREC1X", name="无记录企业", entity_type="91", division_code="340102",
        city_code="340100", created_at=datetime.now(UTC),
    )  # fmt: skip
    session.add(empty)
    session.flush()
    service.take_snapshot(session, CONSOLE, root=lab.root / "empty", as_of=lab.snapshot.as_of)
    service.run(session, CONSOLE, root=lab.root / "empty")
    view = service.get_current_score(session, subject_id=empty.id)
    assert view is not None
    assert view.insufficient_data
    assert view.score is None
    assert view.grade is None
    assert [r.code for r in view.reasons] == [service.INSUFFICIENT_REASON_CODE]
    assert "数据不足" in view.reasons[0].text_zh


def test_unscored_enterprise_is_not_found(lab: Lab, nested) -> None:  # type: ignore[no-untyped-def]
    session = nested
    late = Subject(
        uscc="91340100MA2NLATE1X", name="新设企业", entity_type="91", division_code="340102",
        city_code="340100", created_at=datetime.now(UTC),
    )  # fmt: skip
    session.add(late)
    session.flush()
    assert service.get_current_score(session, subject_id=late.id) is None
    with pytest.raises(ScoreNotFound):
        service.read_score(session, CONSOLE, subject_id=late.id)


def test_expert_card_validates_and_grades_rank_defaults(lab: Lab) -> None:
    metrics = lab.expert.metrics
    assert metrics["auc"] > 0.7
    assert metrics["ks"] > 0.3
    assert abs(metrics["gini"] - (2 * metrics["auc"] - 1)) < 1e-12
    assert len(metrics["lift"]) == 10
    assert metrics["lift"][0]["lift"] > 1
    assert [g["grade"] for g in metrics["by_grade"]] == list(domain.GRADES)
    assert metrics["iv"]
    assert metrics["bin_tables"]
    assert lab.expert.status == "approved"


def test_trained_scorecard_selects_by_iv_and_has_a_challenger(lab: Lab) -> None:
    spec = lab.scorecard.spec
    selected = [r for r in spec["iv"] if r["selected"]]
    assert selected
    assert all(r["iv"] >= 0.02 for r in selected)
    assert all(c > 0 for c in spec["coefficients"].values())
    assert spec["scaling"] == {"base_score": 600, "base_odds": 50, "pdo": 20}
    assert lab.challenger.kind == "lightgbm"
    assert lab.challenger.metrics["auc"] is not None
    assert spec["challenger"]["version"] == lab.challenger.version


def test_challenger_and_unvalidated_and_failing_models_cannot_be_approved(lab: Lab, nested) -> None:  # type: ignore[no-untyped-def]
    session = nested
    with pytest.raises(ApprovalRefused, match="LightGBM"):
        service.approve(session, CONSOLE, version=lab.challenger.version)
    fresh = service.register_expert(session, CONSOLE, root=lab.root)
    with pytest.raises(ApprovalRefused, match="尚未验证"):
        service.approve(session, CONSOLE, version=fresh.version)
    fresh.metrics = {**lab.expert.metrics, "auc": 0.55, "ks": 0.05}
    fresh.validated_at = datetime.now(UTC)
    session.flush()
    with pytest.raises(ApprovalRefused) as refused:
        service.approve(session, CONSOLE, version=fresh.version)
    assert "AUC" in refused.value.message
    assert "KS" in refused.value.message
    with pytest.raises(ApprovalRefused, match="只能批准草稿"):
        service.approve(session, CONSOLE, version=lab.expert.version)


def test_approving_a_new_public_model_retires_the_old_one(lab: Lab, nested) -> None:  # type: ignore[no-untyped-def]
    session = nested
    fresh = service.register_expert(session, CONSOLE, root=lab.root)
    service.validate(session, CONSOLE, version=fresh.version, root=lab.root)
    service.approve(session, CONSOLE, version=fresh.version)
    session.refresh(lab.expert)
    assert lab.expert.status == "retired"
    assert service.get_public_model(session).version == fresh.version  # type: ignore[union-attr]


def test_training_without_both_outcomes_is_refused_with_a_reason(lab: Lab, nested) -> None:  # type: ignore[no-untyped-def]
    session = nested
    session.execute(update(Loan).values(status="repaid"))
    root = lab.root / "all-good"
    service.take_snapshot(session, CONSOLE, root=root, as_of=lab.snapshot.as_of)
    with pytest.raises(TrainingRefused, match="只有一种结果"):
        service.train_scorecard(session, CONSOLE, root=root)


def test_sql_export_reproduces_the_python_scores_exactly(lab: Lab) -> None:
    config = indicator_config()
    frame = analytics.compute_indicators(lab.snapshot, config)
    for model in (lab.expert, lab.scorecard):
        card = service.card_of(model)
        python = domain.score_matrix(card, frame.select(card.codes))
        con = duckdb.connect()
        columns = {code: frame.column(code) for code in card.codes}
        columns["subject_id"] = frame.subject_ids.astype(np.float64)
        con.register("indicator_frame", __import__("pandas").DataFrame(columns))
        con.execute("CREATE TABLE indicator AS SELECT * FROM indicator_frame")
        rows = con.execute(
            service.export_sql(lab.session, version=model.version) + " ORDER BY subject_id"
        ).fetchall()
        assert [int(r[1]) for r in rows] == python.score.tolist()
        assert [r[2] for r in rows] == [domain.GRADES[g] for g in python.grade]


def test_second_run_compares_stability_without_alert_on_same_data(lab: Lab, nested) -> None:  # type: ignore[no-untyped-def]
    session = nested
    (result,) = service.run(session, CONSOLE, root=lab.root)
    assert result.run.previous_run_id == lab.run.id
    assert result.run.psi["score"] == pytest.approx(0.0, abs=1e-9)
    assert set(result.run.psi["indicators"]) == set(service.card_of(lab.expert).codes)
    assert not result.run.alert
    history = service.explain(session, CONSOLE, subject_id=_subject(lab, 6).id).history
    assert len(history) == 2


def test_explanation_says_what_would_raise_the_score(lab: Lab) -> None:
    rows = lab.session.scalars(
        select(Score)
        .where(Score.run_id == lab.run.id, Score.insufficient_data.is_(False))
        .limit(20)
    ).all()
    low = min(rows, key=lambda r: r.score or 0)
    explanation = service.explain(lab.session, CONSOLE, subject_id=low.subject_id)
    assert explanation.advice
    assert all(a.gain > 0 for a in explanation.advice)
    assert all("提高" in a.text_zh for a in explanation.advice)
    assert (
        sum(i.points for i in explanation.indicators) + service.card_of(lab.expert).base
        == low.score
    )


def test_a_shift_between_runs_raises_a_psi_alert(lab: Lab, nested) -> None:  # type: ignore[no-untyped-def]
    session = nested
    # Make the stored previous run look very different: scores 150 points lower, no tax paid.
    session.execute(update(Score).where(Score.run_id == lab.run.id).values(score=Score.score - 150))
    for row in session.scalars(select(Score).where(Score.run_id == lab.run.id)):
        row.indicators = {**row.indicators, "tax_paid_12m": None}
    session.flush()
    (result,) = service.run(session, CONSOLE, root=lab.root)
    assert result.run.alert
    assert result.run.psi["score"] > 0.25
    assert result.run.psi["indicators"]["tax_paid_12m"] > 0.25
    assert any("tax_paid_12m" in alert for alert in result.psi_alerts)
