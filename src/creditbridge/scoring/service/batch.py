"""Batch scoring: every enterprise of the snapshot by every approved model, and its stability."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray
from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from creditbridge.audit import service as audit
from creditbridge.core.actors import Actor
from creditbridge.core.clock import utc_now
from creditbridge.presentation.errors import keyed
from creditbridge.scoring import analytics, domain
from creditbridge.scoring.analytics import IndicatorFrame
from creditbridge.scoring.domain import Card
from creditbridge.scoring.errors import ModelNotFound
from creditbridge.scoring.models import Score, ScoringModel, ScoringRun
from creditbridge.scoring.schemas import grade_config, indicator_config
from creditbridge.scoring.service.lab import DEFAULT_ROOT, finite, open_snapshot
from creditbridge.scoring.service.reads import INSUFFICIENT
from creditbridge.scoring.service.registry import card_of


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
        raise keyed(ModelNotFound, "error.scoring.no_approved_model")
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
    result: dict[str, Any] = {"score": finite(domain.psi(before_scores, now_scores))}
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
        value = finite(domain.psi_of_bins(b.bin_of(before), now_bins, len(b.points) + 1))
        per[b.code] = value
        if value is not None and value > threshold:
            alerts.append(f"{b.code} PSI {value:.3f} > {threshold}")
    result["indicators"] = per
    result["threshold"] = threshold
    return result, alerts
