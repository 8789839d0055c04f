"""Use cases of scoring: read a score (for the enterprise, an institution under consent, the
operator), and the model lab's steps (snapshot, train, validate, approve, run).

Consent rule for institutions (decided here, documented in docs/scoring.md): the score is
derived from authorized (non-public) data, so an institution reads it only under a consent whose
categories include every non-public category the public model's indicators draw on —
:data:`SCORE_CATEGORIES` (tax, social_insurance, housing_fund, utilities, customs,
self_reported). A score therefore never reveals more than the consent would let the
institution read record by record.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any, Final

import numpy as np
from numpy.typing import NDArray
from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session

from creditbridge.audit import service as audit
from creditbridge.catalog import service as catalog_service
from creditbridge.consent import service as consent_service
from creditbridge.consent.errors import ConsentRefused
from creditbridge.core.actors import Actor, ActorKind, Role
from creditbridge.core.clock import local_today, utc_now
from creditbridge.core.errors import Forbidden, Issue, ValidationFailed
from creditbridge.reference import divisions, industries
from creditbridge.scoring import analytics, domain
from creditbridge.scoring.analytics import IndicatorFrame, Snapshot
from creditbridge.scoring.domain import Card
from creditbridge.scoring.errors import (
    ApprovalRefused,
    ModelNotFound,
    ScoreNotFound,
)
from creditbridge.scoring.models import Score, ScoringModel, ScoringRun
from creditbridge.scoring.schemas import expert_config, grade_config, indicator_config
from creditbridge.subjects import service as subjects_service
from creditbridge.subjects.models import Subject

SCORE_CATEGORIES: Final[tuple[str, ...]] = (
    "customs",
    "housing_fund",
    "self_reported",
    "social_insurance",
    "tax",
    "utilities",
)
"""Catalog categories a consent must cover for an institution to read the public score."""

GRADES: Final[tuple[str, ...]] = ("AAA", "AA", "A", "BBB", "BB", "B", "CCC", "CC", "C")
INSUFFICIENT_REASON_CODE: Final = "INSUFFICIENT_DATA"


@dataclass(frozen=True)
class Reason:
    """Why the score is not higher: the indicator's points lost against its best bin."""

    code: str
    text_zh: str
    text_en: str
    points_lost: int


@dataclass(frozen=True)
class ScoreView:
    subject_id: int
    score: int | None
    grade: str | None  # AAA AA A BBB BB B CCC CC C
    reasons: tuple[Reason, ...]
    model_version: str
    scored_at: datetime
    insufficient_data: bool  # score and grade None, one reason INSUFFICIENT_DATA

    def as_dict(self) -> dict[str, Any]:
        return {
            "subject_id": self.subject_id,
            "score": self.score,
            "grade": self.grade,
            "reasons": [r.__dict__ for r in self.reasons],
            "model_version": self.model_version,
            "scored_at": self.scored_at.isoformat(),
            "insufficient_data": self.insufficient_data,
        }


def _view(row: Score, version: str) -> ScoreView:
    return ScoreView(
        subject_id=row.subject_id,
        score=row.score,
        grade=row.grade,
        reasons=tuple(
            Reason(
                code=str(r["code"]),
                text_zh=str(r["text_zh"]),
                text_en=str(r["text_en"]),
                points_lost=int(r["points_lost"]),
            )
            for r in row.reasons
        ),
        model_version=version,
        scored_at=row.scored_at,
        insufficient_data=row.insufficient_data,
    )


def get_public_model(session: Session) -> ScoringModel | None:
    """The approved model of the public evaluation (at most one is approved at a time)."""
    return session.scalars(
        select(ScoringModel)
        .where(ScoringModel.status == "approved", ScoringModel.purpose == "public")
        .order_by(ScoringModel.approved_at.desc(), ScoringModel.id.desc())
        .limit(1)
    ).first()


def _latest_score(session: Session, subject_id: int) -> tuple[Score, ScoringModel] | None:
    model = get_public_model(session)
    if model is None:
        return None
    row = session.scalars(
        select(Score)
        .where(Score.subject_id == subject_id, Score.model_id == model.id)
        .order_by(Score.scored_at.desc(), Score.id.desc())
        .limit(1)
    ).first()
    return None if row is None else (row, model)


def get_current_score(session: Session, *, subject_id: int) -> ScoreView | None:
    """The latest score of ``subject_id`` by the approved public model, or None when it has
    none. No access check: for other services (eligibility by grade and the like)."""
    found = _latest_score(session, subject_id)
    return None if found is None else _view(found[0], found[1].version)


def _is_institution(actor: Actor) -> bool:
    return actor.role is Role.INSTITUTION_OFFICER or (
        actor.kind is ActorKind.API_CLIENT and actor.institution_id is not None
    )


def read_score(
    session: Session,
    actor: Actor,
    *,
    subject_id: int,
    consent_id: int | None = None,
    purpose: str | None = None,
) -> ScoreView:
    """The current public score of ``subject_id`` as ``actor`` may see it, audited.

    An enterprise user reads its own only; the operator (and the console, jobs) any; an
    institution only under a valid consent covering :data:`SCORE_CATEGORIES` for ``purpose``
    (the cited consent's purpose when ``purpose`` is not given). A refused institution read is
    audited and raises the consent module's :class:`ConsentRefused`; the entry point should
    commit before re-raising so the refusal stays on record. Raises :class:`ScoreNotFound`
    when there is no score yet."""
    if actor.role is Role.ENTERPRISE_USER:
        if actor.subject_id != subject_id:
            raise Forbidden("只能查看本企业的信用评价")
    elif _is_institution(actor):
        if purpose is None:
            if consent_id is None:
                raise ValidationFailed(
                    "查询信用评价须说明用途或出示授权",
                    issues=[Issue("CB-SCORING-PURPOSE", "缺少查询用途", field="purpose")],
                )
            purpose = consent_service.access_consent(session, actor, consent_id).purpose
        try:
            grant = consent_service.require_valid(
                session,
                actor,
                subject_id=subject_id,
                purpose=purpose,
                categories=SCORE_CATEGORIES,
                consent_id=consent_id,
            )
        except ConsentRefused as refusal:
            audit.record(
                session,
                actor,
                action="scoring.read_refused",
                object_type="subject",
                object_id=subject_id,
                subject_id=subject_id,
                detail={"consent_id": consent_id, "purpose": purpose, "reason": refusal.code},
            )
            raise
        found = _latest_score(session, subject_id)
        if found is None:
            raise ScoreNotFound("该企业尚未评分")
        row, model = found
        # Like a read of the records the score is computed from: one use of the consent, the
        # audit event and a line in the enterprise's access log (查询记录).
        consent_service.record_derived_read(
            session,
            actor,
            grant=grant,
            subject_id=subject_id,
            item="credit_score",
            action="scoring.read",
            object_type="scoring_score",
            object_id=row.id,
            detail={"purpose": purpose, "model_version": model.version},
        )
        return _view(row, model.version)
    elif not (actor.role is Role.OPERATOR or actor.kind in (ActorKind.CLI, ActorKind.SYSTEM)):
        raise Forbidden("无权查看企业信用评价")
    found = _latest_score(session, subject_id)
    if found is None:
        raise ScoreNotFound("该企业尚未评分")
    row, model = found
    audit.record(
        session,
        actor,
        action="scoring.read",
        object_type="scoring_score",
        object_id=row.id,
        subject_id=subject_id,
        detail={"model_version": model.version},
    )
    return _view(row, model.version)


def get_score_by_uscc(session: Session, actor: Actor, *, uscc: str) -> ScoreView:
    subject = subjects_service.get_subject_by_uscc_or_raise(session, uscc)
    return read_score(session, actor, subject_id=subject.id)


# ================================================================== the model lab

DEFAULT_ROOT: Final = Path("var/scoring")
INSUFFICIENT = Reason(
    code=INSUFFICIENT_REASON_CODE,
    text_zh="数据不足：平台尚无该企业的有效信用记录，暂不评分",
    text_en="Insufficient data: the platform holds no current record of this enterprise",
    points_lost=0,
)


def snapshot_folder(root: Path) -> Path:
    return root / "snapshot"


def take_snapshot(
    session: Session, actor: Actor, *, root: Path = DEFAULT_ROOT, as_of: date | None = None
) -> Snapshot:
    """Export the store into the analytics snapshot (Parquet) under ``root``."""
    day = as_of or local_today()
    snapshot = analytics.export_snapshot(
        session.connection(),
        snapshot_folder(root),
        as_of=day,
        datasets=catalog_service.bundled_catalog().datasets,
    )
    audit.record(
        session,
        actor,
        action="scoring.snapshot",
        object_type="scoring_snapshot",
        detail={"as_of": day, "rows": sum(snapshot.rows.values())},
    )
    return snapshot


def open_snapshot(root: Path = DEFAULT_ROOT) -> Snapshot:
    return Snapshot.open(snapshot_folder(root))


def is_holdout(subject_ids: NDArray[np.int64], share: float) -> NDArray[np.bool_]:
    """The validation sample: a fixed hash of the subject id, so that train and validate (and
    later runs) agree on it without storing it."""
    hashed = (subject_ids.astype(np.uint64) * np.uint64(2654435761)) % np.uint64(1000)
    return np.asarray(hashed < np.uint64(int(share * 1000)), dtype=np.bool_)


@dataclass(frozen=True)
class Sample:
    """Enterprises with loans and records: their indicator rows and outcome."""

    rows: NDArray[np.int64]  # row numbers in the frame
    bad: NDArray[np.int8]
    holdout: NDArray[np.bool_]


def _sample(frame: IndicatorFrame, snapshot: Snapshot) -> Sample:
    outcomes = analytics.loan_outcomes(snapshot)
    position = np.searchsorted(frame.subject_ids, outcomes.subject_ids)
    position = np.minimum(position, max(len(frame.subject_ids) - 1, 0))
    known = (
        (frame.subject_ids[position] == outcomes.subject_ids)
        if len(frame.subject_ids)
        else np.zeros(0, dtype=bool)
    )
    rows = position[known]
    keep = frame.has_records[rows]
    rows = rows[keep]
    bad = outcomes.bad[known][keep]
    share = grade_config().training.test_share
    return Sample(rows, bad, is_holdout(frame.subject_ids[rows], share))


def _stamp() -> str:
    return utc_now().strftime("%Y%m%d%H%M%S")


def expert_card() -> Card:
    config = expert_config()
    codes = indicator_config().codes
    bins = tuple(
        domain.Bins(code, tuple(spec.splits), tuple(spec.points), spec.missing)
        for code in codes
        if (spec := config.bins.get(code)) is not None
    )
    return Card(config.base, bins, tuple(grade_config().expert_default_cutoffs))


def _calibrate(card: Card, frame: IndicatorFrame, sample: Sample) -> tuple[Card, str]:
    rules = grade_config()
    if int(sample.bad.sum()) < rules.validation.min_bad:
        return card, "default"
    scores = domain.score_matrix(card, frame.select(card.codes)[sample.rows]).score
    cuts = domain.calibrated_cutoffs(scores, sample.bad, rules.pd_ceilings)
    if cuts is None:
        return card, "default"
    return card.with_cutoffs(cuts), "calibrated"


def _new_model(
    session: Session,
    actor: Actor,
    *,
    kind: str,
    purpose: str,
    version: str,
    spec: dict[str, Any],
    metrics: dict[str, Any],
    snapshot: Snapshot,
) -> ScoringModel:
    model = ScoringModel(
        version=version,
        kind=kind,
        purpose=purpose,
        status="draft",
        config_version=indicator_config().version,
        training_from=None,
        training_to=snapshot.as_of,
        spec=spec,
        metrics=metrics,
        created_by=actor.name,
        created_at=utc_now(),
    )
    session.add(model)
    session.flush()
    audit.record(
        session,
        actor,
        action="scoring.model_register",
        object_type="scoring_model",
        object_id=model.id,
        detail={"version": version, "kind": kind, "purpose": purpose},
    )
    return model


def register_expert(session: Session, actor: Actor, *, root: Path = DEFAULT_ROOT) -> ScoringModel:
    """A draft of the expert scorecard from configuration, its grade cut-offs calibrated on the
    snapshot's loan outcomes (or the configured defaults when too few defaults are known)."""
    snapshot = open_snapshot(root)
    frame = analytics.compute_indicators(snapshot, indicator_config())
    sample = _sample(frame, snapshot)
    card, how = _calibrate(expert_card(), frame, sample)
    spec = {"card": card.as_dict(), "cutoffs_from": how, "expert_version": expert_config().version}
    version = f"{expert_config().version}.{_stamp()}"
    return _new_model(
        session, actor, kind="expert", purpose="public", version=version, spec=spec,
        metrics={}, snapshot=snapshot,
    )  # fmt: skip


def train_scorecard(
    session: Session, actor: Actor, *, root: Path = DEFAULT_ROOT
) -> tuple[ScoringModel, ScoringModel]:
    """Train the statistical scorecard and its LightGBM challenger on the loan outcomes of the
    snapshot (training part of the sample); both are registered as drafts. Raises
    :class:`TrainingRefused` with the reason when the outcomes cannot support a fit."""
    from creditbridge.scoring import training

    rules = grade_config()
    snapshot = open_snapshot(root)
    config = indicator_config()
    frame = analytics.compute_indicators(snapshot, config)
    sample = _sample(frame, snapshot)
    training.check_outcomes(sample.bad, rules.training)
    train_rows = sample.rows[~sample.holdout]
    train_bad = sample.bad[~sample.holdout]
    training.check_outcomes(
        train_bad, rules.training.model_copy(update={"min_rows": 1, "min_bad": 1})
    )
    trained = training.fit_scorecard(
        frame.values[train_rows], train_bad, config.codes,
        rules=rules.training, scaling=rules.scaling,
    )  # fmt: skip
    scores = domain.score_matrix(trained.card, frame.select(trained.card.codes)[train_rows]).score
    cuts = domain.calibrated_cutoffs(scores, train_bad, rules.pd_ceilings)
    card = trained.card.with_cutoffs(cuts or _scaling_cutoffs())
    stamp = _stamp()
    spec = {
        "card": card.as_dict(),
        "cutoffs_from": "calibrated" if cuts else "scaling",
        "scaling": rules.scaling.model_dump(),
        "intercept": trained.intercept,
        "coefficients": trained.coefficients,
        "iv": trained.iv_table(),
        "bin_tables": {s.code: s.table() for s in trained.stats if s.code in trained.selected},
        # The binning granularities whose WOE columns entered the fit ("coarse+fine").
        "binning": trained.binning,
        "train_rows": len(train_rows),
        "train_bad": int(train_bad.sum()),
    }
    scorecard = _new_model(
        session, actor, kind="scorecard", purpose="lending", version=f"scorecard.{stamp}",
        spec=spec, metrics={}, snapshot=snapshot,
    )  # fmt: skip
    booster = training.fit_lightgbm(frame.values[train_rows], train_bad, seed=rules.training.seed)
    test_rows = sample.rows[sample.holdout]
    test_bad = sample.bad[sample.holdout]
    risk = booster.predict_proba(frame.values[test_rows])[:, 1]
    challenger_metrics = _rank_metrics(test_bad, risk)
    challenger = _new_model(
        session, actor, kind="lightgbm", purpose="lending", version=f"lightgbm.{stamp}",
        spec={"challenger_of": scorecard.version, "params": booster.get_params()},
        metrics=challenger_metrics, snapshot=snapshot,
    )  # fmt: skip
    challenger.validated_at = utc_now()
    scorecard.spec = {**spec, "challenger": {"version": challenger.version, **challenger_metrics}}
    session.flush()
    return scorecard, challenger


def _scaling_cutoffs() -> tuple[int, ...]:
    """Cut-offs from the PDO scaling alone (the card's own odds), used when calibration fails."""
    s = grade_config().scaling
    factor = s.pdo / math.log(2)
    offset = s.base_score - factor * math.log(s.base_odds)
    return tuple(
        math.ceil(offset + factor * math.log((1 - pd) / pd)) for pd in grade_config().pd_ceilings
    )


def _rank_metrics(bad: NDArray[Any], risk: NDArray[Any]) -> dict[str, Any]:
    value = domain.auc(bad, risk)
    return {
        "auc": None if math.isnan(value) else value,
        "ks": None if math.isnan(k := domain.ks(bad, risk)) else k,
        "gini": None if math.isnan(value) else 2 * value - 1,
        "n": len(bad),
        "n_bad": int(np.sum(bad)),
    }


def get_model_or_raise(session: Session, version: str) -> ScoringModel:
    model = session.scalars(select(ScoringModel).where(ScoringModel.version == version)).first()
    if model is None:
        raise ModelNotFound(f"模型 {version} 不存在")
    return model


def list_models(session: Session) -> list[ScoringModel]:
    return list(session.scalars(select(ScoringModel).order_by(ScoringModel.id.desc())))


def latest_draft(session: Session, kind: str) -> ScoringModel:
    model = session.scalars(
        select(ScoringModel)
        .where(ScoringModel.kind == kind, ScoringModel.status == "draft")
        .order_by(ScoringModel.id.desc())
        .limit(1)
    ).first()
    if model is None:
        raise ModelNotFound(f"没有 {kind} 类型的待批准模型")
    return model


def card_of(model: ScoringModel) -> Card:
    if "card" not in model.spec:
        raise ApprovalRefused(f"模型 {model.version} 不是评分卡，不能评分")
    return Card.from_dict(model.spec["card"])


# ------------------------------------------------------------------ validation


def validate(
    session: Session, actor: Actor, *, version: str, root: Path = DEFAULT_ROOT
) -> ScoringModel:
    """Evaluate a scorecard on the snapshot's validation sample (the hold-out part of the
    enterprises with loans; for the expert card, which learnt nothing, every one of them) and
    store the figures the approval checks and the report shows."""
    model = get_model_or_raise(session, version)
    if model.kind == "lightgbm":
        return model
    rules = grade_config()
    snapshot = open_snapshot(root)
    frame = analytics.compute_indicators(snapshot, indicator_config())
    sample = _sample(frame, snapshot)
    card = card_of(model)
    values = frame.select(card.codes)
    scored_all = domain.score_matrix(card, values)
    use = sample.holdout if model.kind != "expert" else np.ones(len(sample.rows), dtype=bool)
    rows, bad = sample.rows[use], sample.bad[use]
    scores = scored_all.score[rows]
    grades = scored_all.grade[rows]
    metrics = _rank_metrics(bad, -scores)
    metrics["lift"] = domain.lift_table(bad, -scores) if len(bad) else []
    metrics["by_grade"] = domain.rate_by_grade(bad, grades)
    metrics["monotone"] = domain.monotone_rates(metrics["by_grade"])
    metrics["calibration"] = _calibration(scores, bad)
    # Stability: the score distribution of the development part against the validation part
    # of all enterprises with records (same fixed hash as the sample).
    with_records = np.flatnonzero(frame.has_records)
    split = is_holdout(frame.subject_ids[with_records], rules.training.test_share)
    metrics["psi"] = _finite(
        domain.psi(
            scored_all.score[with_records][~split].astype(np.float64),
            scored_all.score[with_records][split].astype(np.float64),
        )
    )
    metrics["iv"] = model.spec.get("iv") or _iv_table(card, frame, sample)
    metrics["bin_tables"] = model.spec.get("bin_tables") or _bin_tables(card, frame, sample)
    metrics["points"] = {b.code: b.as_dict() for b in card.bins}
    metrics["distribution"] = _histogram(scored_all.score[with_records])
    metrics["failures"] = approval_failures(metrics, trained=model.kind != "expert")
    metrics["as_of"] = snapshot.as_of.isoformat()
    if "challenger" in model.spec:
        metrics["challenger"] = model.spec["challenger"]
    model.metrics = metrics
    model.validated_at = utc_now()
    session.flush()
    audit.record(
        session,
        actor,
        action="scoring.model_validate",
        object_type="scoring_model",
        object_id=model.id,
        detail={"version": model.version, "auc": metrics["auc"], "ks": metrics["ks"],
                "passed": not metrics["failures"]},
    )  # fmt: skip
    return model


def _finite(value: float) -> float | None:
    return None if math.isnan(value) else value


def _calibration(scores: NDArray[np.int64], bad: NDArray[Any]) -> list[dict[str, Any]]:
    if int(np.sum(bad)) == 0 or len(bad) < 10:
        return []
    a, b = domain.logistic_fit(scores.astype(np.float64), bad)
    predicted = domain.pd_of_score(scores.astype(np.float64), a, b)
    order = np.argsort(predicted)
    out = []
    for i, part in enumerate(np.array_split(order, 10), 1):
        if len(part):
            out.append(
                {
                    "decile": i,
                    "predicted": float(predicted[part].mean()),
                    "observed": float(np.mean(bad[part])),
                    "count": len(part),
                }
            )
    return out


def _iv_table(card: Card, frame: IndicatorFrame, sample: Sample) -> list[dict[str, Any]]:
    from creditbridge.scoring import training

    rows = []
    for b in card.bins:
        stats = training.bin_stats(b.code, frame.column(b.code)[sample.rows], sample.bad, b.splits)
        rows.append({"code": b.code, "iv": stats.iv, "selected": True})
    return sorted(rows, key=lambda r: -float(r["iv"]))


def _bin_tables(card: Card, frame: IndicatorFrame, sample: Sample) -> dict[str, Any]:
    from creditbridge.scoring import training

    return {
        b.code: training.bin_stats(
            b.code, frame.column(b.code)[sample.rows], sample.bad, b.splits
        ).table()
        for b in card.bins
    }


def _histogram(scores: NDArray[np.int64]) -> dict[str, list[int]]:
    if len(scores) == 0:
        return {"edges": [], "counts": []}
    low, high = int(scores.min()) // 20 * 20, int(scores.max()) // 20 * 20 + 20
    edges = list(range(low, high + 1, 20))
    counts, _ = np.histogram(scores, bins=edges)
    return {"edges": edges, "counts": [int(c) for c in counts]}


def approval_failures(metrics: dict[str, Any], *, trained: bool = True) -> list[str]:
    """Why a model with these validation figures may not be approved (empty: it may).

    A trained model needs ``min_bad`` defaults in its hold-out sample: fewer cannot show that it
    learnt rather than memorised. The expert card learnt nothing from the outcomes, so with
    fewer defaults its AUC and KS (measurable from one default on) are still checked, and the
    report says the figures rest on few defaults."""
    rules = grade_config().validation
    failures = []
    if trained and int(metrics.get("n_bad") or 0) < rules.min_bad:
        failures.append(f"验证样本坏样本 {metrics.get('n_bad')} 个，少于 {rules.min_bad} 个")
    auc_value = metrics.get("auc")
    if auc_value is None or auc_value < rules.min_auc:
        failures.append(f"AUC {_show(auc_value)} 低于阈值 {rules.min_auc}")
    ks_value = metrics.get("ks")
    if ks_value is None or ks_value < rules.min_ks:
        failures.append(f"KS {_show(ks_value)} 低于阈值 {rules.min_ks}")
    psi_value = metrics.get("psi")
    if psi_value is not None and psi_value > rules.max_psi:
        failures.append(f"PSI {_show(psi_value)} 高于阈值 {rules.max_psi}")
    return failures


def _show(value: Any) -> str:
    return "—" if value is None else f"{float(value):.3f}"


# ------------------------------------------------------------------ registry moves


def approve(session: Session, actor: Actor, *, version: str) -> ScoringModel:
    """Approve a validated draft that passes the thresholds; the approved model of the same
    purpose before it is retired. Raises :class:`ApprovalRefused` saying why not."""
    model = get_model_or_raise(session, version)
    if model.status != "draft":
        raise ApprovalRefused(f"模型 {version} 状态为 {model.status}，只能批准草稿")
    if model.kind == "lightgbm":
        raise ApprovalRefused("LightGBM 挑战者模型仅作对比，不能给出原因码，不能批准用于评分")
    if model.validated_at is None or not model.metrics:
        raise ApprovalRefused(f"模型 {version} 尚未验证（先运行 creditbridge scoring validate）")
    failures = approval_failures(model.metrics, trained=model.kind != "expert")
    if failures:
        raise ApprovalRefused(
            f"模型 {version} 未通过验证阈值：" + "；".join(failures),
            issues=[Issue("CB-SCORING-THRESHOLD", f) for f in failures],
        )
    now = utc_now()
    for previous in session.scalars(
        select(ScoringModel).where(
            ScoringModel.status == "approved", ScoringModel.purpose == model.purpose
        )
    ):
        previous.status = "retired"
        previous.retired_at = now
    model.status = "approved"
    model.approved_by = actor.name
    model.approved_at = now
    session.flush()
    audit.record(
        session,
        actor,
        action="scoring.model_approve",
        object_type="scoring_model",
        object_id=model.id,
        detail={"version": version, "auc": model.metrics.get("auc")},
    )
    return model


def retire(session: Session, actor: Actor, *, version: str) -> ScoringModel:
    model = get_model_or_raise(session, version)
    if model.status == "retired":
        raise ApprovalRefused(f"模型 {version} 已停用")
    model.status = "retired"
    model.retired_at = utc_now()
    session.flush()
    audit.record(
        session,
        actor,
        action="scoring.model_retire",
        object_type="scoring_model",
        object_id=model.id,
        detail={"version": version},
    )
    return model


# ------------------------------------------------------------------ batch scoring


@dataclass(frozen=True)
class RunResult:
    run: ScoringRun
    model_version: str
    seconds_scoring: float
    psi_alerts: list[str] = field(default_factory=list)


def _reason_dicts(
    card: Card, scored: domain.Scored, row: int, texts: dict[str, tuple[str, str]]
) -> list[dict[str, Any]]:
    out = []
    for column, lost in zip(scored.reason_index[row], scored.reason_lost[row], strict=True):
        if column < 0:
            continue
        code = card.bins[int(column)].code
        zh, en = texts[code]
        out.append({"code": code.upper(), "text_zh": zh, "text_en": en, "points_lost": int(lost)})
    return out


def run(session: Session, actor: Actor, *, root: Path = DEFAULT_ROOT) -> list[RunResult]:
    """Score every enterprise of the snapshot with every approved model (vectorised), store the
    scores with the run, and compare with the model's previous run (PSI per indicator and of the
    score; an alert above the threshold)."""
    models = list(session.scalars(select(ScoringModel).where(ScoringModel.status == "approved")))
    if not models:
        raise ModelNotFound("没有已批准的模型（先 train、validate、approve）")
    snapshot = open_snapshot(root)
    config = indicator_config()
    frame = analytics.compute_indicators(snapshot, config)
    texts = {spec.code: (spec.reason_zh, spec.reason_en) for spec in config.indicators}
    results = []
    for model in models:
        results.append(_run_model(session, actor, model, frame, texts))
    return results


def _run_model(
    session: Session,
    actor: Actor,
    model: ScoringModel,
    frame: IndicatorFrame,
    texts: dict[str, tuple[str, str]],
) -> RunResult:
    card = card_of(model)
    started = time.perf_counter()
    values = frame.select(card.codes)
    scored = domain.score_matrix(card, values)
    seconds = time.perf_counter() - started
    now = utc_now()
    previous = session.scalars(
        select(ScoringRun)
        .where(ScoringRun.model_id == model.id, ScoringRun.finished_at.is_not(None))
        .order_by(ScoringRun.id.desc())
        .limit(1)
    ).first()
    scoring_run = ScoringRun(
        model_id=model.id, started_at=now, finished_at=None, enterprises=len(frame.subject_ids),
        scored=0, insufficient=0, previous_run_id=previous.id if previous else None, psi={},
        alert=False, started_by=actor.name,
    )  # fmt: skip
    session.add(scoring_run)
    session.flush()
    insufficient_reason = [INSUFFICIENT.__dict__]
    ids = frame.subject_ids.tolist()
    has = frame.has_records.tolist()
    score_list = scored.score.tolist()
    grade_list = scored.grade.tolist()
    batch: list[dict[str, Any]] = []
    for i, subject_id in enumerate(ids):
        if has[i]:
            indicators = {
                code: (None if math.isnan(v) else round(v, 6))
                for code, v in zip(card.codes, values[i].tolist(), strict=True)
            }
            batch.append(
                {"subject_id": subject_id, "model_id": model.id, "run_id": scoring_run.id,
                 "score": score_list[i], "grade": domain.GRADES[grade_list[i]],
                 "insufficient_data": False, "reasons": _reason_dicts(card, scored, i, texts),
                 "indicators": indicators, "scored_at": now}
            )  # fmt: skip
        else:
            batch.append(
                {"subject_id": subject_id, "model_id": model.id, "run_id": scoring_run.id,
                 "score": None, "grade": None, "insufficient_data": True,
                 "reasons": insufficient_reason, "indicators": {}, "scored_at": now}
            )  # fmt: skip
        if len(batch) >= 5000:
            session.execute(insert(Score), batch)
            batch = []
    if batch:
        session.execute(insert(Score), batch)
    n_scored = int(frame.has_records.sum())
    psi_values, alerts = _stability(session, previous, card, scored, values, frame)
    scoring_run.scored = n_scored
    scoring_run.insufficient = len(ids) - n_scored
    scoring_run.psi = psi_values
    scoring_run.alert = bool(alerts)
    scoring_run.finished_at = utc_now()
    session.flush()
    audit.record(
        session,
        actor,
        action="scoring.run",
        object_type="scoring_run",
        object_id=scoring_run.id,
        detail={"model_version": model.version, "scored": n_scored,
                "insufficient": scoring_run.insufficient, "alert": scoring_run.alert},
    )  # fmt: skip
    return RunResult(scoring_run, model.version, seconds, alerts)


def _stability(
    session: Session,
    previous: ScoringRun | None,
    card: Card,
    scored: domain.Scored,
    values: NDArray[np.float64],
    frame: IndicatorFrame,
) -> tuple[dict[str, Any], list[str]]:
    if previous is None:
        return {}, []
    rows = session.execute(
        select(Score.score, Score.indicators).where(
            Score.run_id == previous.id, Score.insufficient_data.is_(False)
        )
    ).all()
    if not rows:
        return {}, []
    threshold = grade_config().psi_alert
    now_scores = scored.score[frame.has_records].astype(np.float64)
    before_scores = np.asarray([r[0] for r in rows], dtype=np.float64)
    result: dict[str, Any] = {"score": _finite(domain.psi(before_scores, now_scores))}
    alerts = []
    if result["score"] is not None and result["score"] > threshold:
        alerts.append(f"score PSI {result['score']:.3f} > {threshold}")
    per: dict[str, float | None] = {}
    for j, b in enumerate(card.bins):
        before = np.asarray(
            [np.nan if (v := r[1].get(b.code)) is None else float(v) for r in rows],
            dtype=np.float64,
        )
        now_bins = b.bin_of(values[frame.has_records, j])
        value = _finite(domain.psi_of_bins(b.bin_of(before), now_bins, len(b.points) + 1))
        per[b.code] = value
        if value is not None and value > threshold:
            alerts.append(f"{b.code} PSI {value:.3f} > {threshold}")
    result["indicators"] = per
    result["threshold"] = threshold
    return result, alerts


# ------------------------------------------------------------------ reading for pages


def list_runs(session: Session, *, limit: int = 20) -> list[ScoringRun]:
    return list(session.scalars(select(ScoringRun).order_by(ScoringRun.id.desc()).limit(limit)))


def model_versions(session: Session, ids: Sequence[int]) -> dict[int, str]:
    query = select(ScoringModel.id, ScoringModel.version).where(ScoringModel.id.in_(list(ids)))
    return {int(i): str(v) for i, v in session.execute(query)}


def _latest_public_run(session: Session) -> ScoringRun | None:
    model = get_public_model(session)
    if model is None:
        return None
    return session.scalars(
        select(ScoringRun)
        .where(ScoringRun.model_id == model.id, ScoringRun.finished_at.is_not(None))
        .order_by(ScoringRun.id.desc())
        .limit(1)
    ).first()


@dataclass(frozen=True)
class GroupRow:
    code: str
    name: str
    count: int
    average: float | None
    grades: dict[str, int]
    insufficient: int


@dataclass(frozen=True)
class Distribution:
    model_version: str | None
    run_id: int | None
    scored_at: datetime | None
    total: dict[str, int]
    by_city: list[GroupRow]
    by_industry: list[GroupRow]
    histogram: dict[str, list[int]]


def distribution(session: Session, actor: Actor) -> Distribution:
    """The operator's view: grades of the latest public run by city and by industry section."""
    if not (actor.role is Role.OPERATOR or actor.kind in (ActorKind.CLI, ActorKind.SYSTEM)):
        raise Forbidden("只有平台运营人员可以查看评分分布")
    scoring_run = _latest_public_run(session)
    if scoring_run is None:
        return Distribution(None, None, None, {}, [], [], {"edges": [], "counts": []})
    version = model_versions(session, [scoring_run.model_id]).get(scoring_run.model_id)

    def grouped(column: Any, namer: Any) -> list[GroupRow]:
        rows = session.execute(
            select(column, Score.grade, func.count(), func.avg(Score.score))
            .join(Subject, Subject.id == Score.subject_id)
            .where(Score.run_id == scoring_run.id)
            .group_by(column, Score.grade)
        ).all()
        table: dict[str, dict[str, Any]] = {}
        for code, grade, count, avg in rows:
            key = code or "-"
            entry = table.setdefault(key, {"grades": {}, "count": 0, "sum": 0.0, "n": 0, "ins": 0})
            entry["count"] += int(count)
            if grade is None:
                entry["ins"] += int(count)
            else:
                entry["grades"][grade] = int(count)
                entry["sum"] += float(avg) * int(count)
                entry["n"] += int(count)
        return [
            GroupRow(
                code=key,
                name=namer(key),
                count=e["count"],
                average=e["sum"] / e["n"] if e["n"] else None,
                grades=e["grades"],
                insufficient=e["ins"],
            )
            for key, e in sorted(table.items())
        ]

    by_city = grouped(Subject.city_code, lambda c: divisions.name(c) or c)
    by_industry = grouped(
        Subject.industry_section,
        lambda c: s.name_zh if (s := industries.section(c)) is not None else c,
    )
    total: dict[str, int] = {}
    for row in by_city:
        for grade, count in row.grades.items():
            total[grade] = total.get(grade, 0) + count
    scores = np.asarray(
        session.scalars(
            select(Score.score).where(Score.run_id == scoring_run.id, Score.score.is_not(None))
        ).all(),
        dtype=np.int64,
    )
    audit.record(
        session, actor, action="scoring.distribution", object_type="scoring_run",
        object_id=scoring_run.id,
    )  # fmt: skip
    return Distribution(
        version, scoring_run.id, scoring_run.finished_at, total, by_city, by_industry,
        _histogram(scores),
    )  # fmt: skip


@dataclass(frozen=True)
class IndicatorLine:
    code: str
    name_zh: str
    unit: str
    value: float | None
    points: int
    best: int


@dataclass(frozen=True)
class Advice:
    code: str
    text_zh: str
    gain: int


@dataclass(frozen=True)
class Explanation:
    """A score with what lies behind it: the indicators and their points, what would raise it
    (信用培育), and the score history."""

    view: ScoreView
    indicators: list[IndicatorLine]
    advice: list[Advice]
    history: list[tuple[datetime, int | None, str | None]]


def _number(value: float) -> str:
    return f"{value:.4g}" if abs(value) < 1e6 else f"{value:,.0f}"


def _advice_text(item: domain.Improvement, name: str, unit: str) -> str:
    if item.direction == "provide":
        return f"补充或更新“{name}”相关信息，最多可提高 {item.gain} 分"
    assert item.target is not None
    if item.direction == "at_least":
        return f"将“{name}”提高到 {_number(item.target)} {unit}以上，可提高 {item.gain} 分"
    if item.target <= 1:
        return f"消除“{name}”相关不良记录（依法修复或移出），可提高 {item.gain} 分"
    return f"将“{name}”降低到 {_number(item.target)} {unit}以下，可提高 {item.gain} 分"


def explain(
    session: Session,
    actor: Actor,
    *,
    subject_id: int,
    consent_id: int | None = None,
    purpose: str | None = None,
) -> Explanation:
    view = read_score(session, actor, subject_id=subject_id, consent_id=consent_id, purpose=purpose)
    found = _latest_score(session, subject_id)
    assert found is not None
    row, model = found
    card = card_of(model)
    config = indicator_config()
    lines: list[IndicatorLine] = []
    advice: list[Advice] = []
    if not row.insufficient_data:
        values = row.indicators
        matrix = np.asarray(
            [[np.nan if values.get(c) is None else float(values[c]) for c in card.codes]],
            dtype=np.float64,
        )
        scored = domain.score_matrix(card, matrix)
        for j, b in enumerate(card.bins):
            spec = config.get(b.code)
            value = values.get(b.code)
            lines.append(
                IndicatorLine(
                    b.code,
                    spec.name_zh,
                    spec.unit,
                    None if value is None else float(value),
                    int(scored.points[0, j]),
                    b.best,
                )
            )
        for item in domain.improvements(card, {c: values.get(c) for c in card.codes})[:5]:
            spec = config.get(item.code)
            advice.append(Advice(item.code, _advice_text(item, spec.name_zh, spec.unit), item.gain))
    history = [
        (r.scored_at, r.score, r.grade)
        for r in session.scalars(
            select(Score)
            .join(ScoringModel, ScoringModel.id == Score.model_id)
            .where(Score.subject_id == subject_id, ScoringModel.purpose == "public")
            .order_by(Score.scored_at)
        )
    ]
    return Explanation(view, lines, advice, history)


# ------------------------------------------------------------------ SQL export


def export_sql(session: Session, *, version: str) -> str:
    """The scorecard as SQL over a table ``indicator`` (one column per indicator code)."""
    model = get_model_or_raise(session, version)
    return domain.card_sql(card_of(model))
