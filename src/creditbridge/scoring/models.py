"""Tables of scoring: the model registry, the batch runs and the score history."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from creditbridge.core.db import Base, BigId


class ScoringModel(Base):
    """One version of one model in the registry (模型库). ``kind`` is expert (专家评分卡,
    bins and weights from configuration), scorecard (统计评分卡 trained on loan outcomes) or
    lightgbm (the challenger, never approved for scoring: it gives no reason codes). ``purpose``
    public is the province-wide evaluation every enterprise gets; lending the institutions' model.
    ``status`` moves draft → approved → retired; only an approved model scores, and approval
    checks ``metrics`` against the validation thresholds."""

    __tablename__ = "scoring_model"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    version: Mapped[str] = mapped_column(String(64), unique=True)
    kind: Mapped[str] = mapped_column(String(16), doc="expert | scorecard | lightgbm")
    purpose: Mapped[str] = mapped_column(String(16), doc="public | lending")
    status: Mapped[str] = mapped_column(String(16), default="draft", index=True)
    config_version: Mapped[str] = mapped_column(String(32), doc="version of the indicator YAML")
    training_from: Mapped[date | None]
    training_to: Mapped[date | None]
    spec: Mapped[dict[str, Any]] = mapped_column(doc="bins, points, grade cut-offs, scaling")
    metrics: Mapped[dict[str, Any]] = mapped_column(doc="validation figures, {} until validated")
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime]
    validated_at: Mapped[datetime | None]
    approved_by: Mapped[str | None] = mapped_column(String(200))
    approved_at: Mapped[datetime | None]
    retired_at: Mapped[datetime | None]


class ScoringRun(Base):
    """One full-coverage batch run of an approved model, with its stability figures against
    the previous run of the same model (PSI per indicator and of the score)."""

    __tablename__ = "scoring_run"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    model_id: Mapped[int] = mapped_column(ForeignKey("scoring_model.id"), index=True)
    started_at: Mapped[datetime]
    finished_at: Mapped[datetime | None]
    enterprises: Mapped[int] = mapped_column(default=0)
    scored: Mapped[int] = mapped_column(default=0)
    insufficient: Mapped[int] = mapped_column(default=0)
    previous_run_id: Mapped[int | None] = mapped_column(BigId)
    psi: Mapped[dict[str, Any]] = mapped_column(doc="{'score': x, 'indicators': {code: x}}")
    alert: Mapped[bool] = mapped_column(default=False, doc="a PSI above the threshold")
    started_by: Mapped[str] = mapped_column(String(200))


class Score(Base):
    """The score of one enterprise by one model in one run. Rows are never updated: each run
    adds one per enterprise, so the history is the rows of a subject ordered by ``scored_at``."""

    __tablename__ = "scoring_score"
    __table_args__ = (
        Index("ix_scoring_score_subject", "subject_id", "model_id", "scored_at"),
        Index("ix_scoring_score_run", "run_id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    subject_id: Mapped[int] = mapped_column(ForeignKey("subject.id"))
    model_id: Mapped[int] = mapped_column(ForeignKey("scoring_model.id"))
    run_id: Mapped[int] = mapped_column(ForeignKey("scoring_run.id"))
    score: Mapped[int | None]
    grade: Mapped[str | None] = mapped_column(String(3))
    insufficient_data: Mapped[bool] = mapped_column(default=False)
    reasons: Mapped[list[dict[str, Any]]] = mapped_column(
        type_=Base.type_annotation_map[dict[str, Any]],
        doc="[{code, text_zh, text_en, points_lost}] at most three, largest loss first",
    )
    indicators: Mapped[dict[str, Any]] = mapped_column(
        doc="indicator values scored (None = missing), for 信用培育 and PSI"
    )
    scored_at: Mapped[datetime]
