"""The model lab: the snapshot, the sample, training, validation, explanations, the distribution."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any, Final

import numpy as np
from numpy.typing import NDArray
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from creditbridge.audit import service as audit
from creditbridge.catalog import service as catalog_service
from creditbridge.core.actors import Actor, ActorKind, Role
from creditbridge.core.clock import local_today, utc_now
from creditbridge.core.errors import Forbidden
from creditbridge.presentation.errors import keyed
from creditbridge.reference import divisions, industries
from creditbridge.scoring import analytics, domain
from creditbridge.scoring.analytics import IndicatorFrame, Snapshot
from creditbridge.scoring.domain import Card
from creditbridge.scoring.models import Score, ScoringModel
from creditbridge.scoring.schemas import expert_config, grade_config, indicator_config
from creditbridge.scoring.service.reads import ScoreView, latest_score, read_score
from creditbridge.scoring.service.registry import (
    approval_failures,
    card_of,
    get_model_or_raise,
    latest_public_run,
    model_versions,
    new_model,
)
from creditbridge.subjects import service as subjects_service

DEFAULT_ROOT: Final = Path("var/scoring")


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


def register_expert(session: Session, actor: Actor, *, root: Path = DEFAULT_ROOT) -> ScoringModel:
    """A draft of the expert scorecard from configuration, its grade cut-offs calibrated on the
    snapshot's loan outcomes (or the configured defaults when too few defaults are known)."""
    snapshot = open_snapshot(root)
    frame = analytics.compute_indicators(snapshot, indicator_config())
    sample = _sample(frame, snapshot)
    card, how = _calibrate(expert_card(), frame, sample)
    spec = {"card": card.as_dict(), "cutoffs_from": how, "expert_version": expert_config().version}
    version = f"{expert_config().version}.{_stamp()}"
    return new_model(
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
    scorecard = new_model(
        session, actor, kind="scorecard", purpose="lending", version=f"scorecard.{stamp}",
        spec=spec, metrics={}, snapshot=snapshot,
    )  # fmt: skip
    booster = training.fit_lightgbm(frame.values[train_rows], train_bad, seed=rules.training.seed)
    test_rows = sample.rows[sample.holdout]
    test_bad = sample.bad[sample.holdout]
    risk = booster.predict_proba(frame.values[test_rows])[:, 1]
    challenger_metrics = _rank_metrics(test_bad, risk)
    challenger = new_model(
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
    metrics["psi"] = finite(
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


def finite(value: float) -> float | None:
    """A figure as stored in metrics: None for NaN (JSON has no NaN)."""
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
        raise keyed(Forbidden, "error.scoring.distribution_operator_only")
    scoring_run = latest_public_run(session)
    if scoring_run is None:
        return Distribution(None, None, None, {}, [], [], {"edges": [], "counts": []})
    version = model_versions(session, [scoring_run.model_id]).get(scoring_run.model_id)

    dims = subjects_service.subject_dimensions()

    def grouped(column: Any, namer: Any) -> list[GroupRow]:
        rows = session.execute(
            select(column, Score.grade, func.count(), func.avg(Score.score))
            .join(dims, dims.c.id == Score.subject_id)
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

    by_city = grouped(dims.c.city_code, lambda c: divisions.name(c) or c)
    by_industry = grouped(
        dims.c.industry_section,
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
    found = latest_score(session, subject_id)
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
