"""Reads of a score — the enterprise its own, an institution under consent, the operator any."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from sqlalchemy import select
from sqlalchemy.orm import Session

from creditbridge.audit import service as audit
from creditbridge.consent import service as consent_service
from creditbridge.core.actors import Actor, ActorKind, Role
from creditbridge.core.errors import Forbidden, ValidationFailed
from creditbridge.presentation.errors import keyed, keyed_issue
from creditbridge.scoring.errors import ScoreNotFound
from creditbridge.scoring.models import Score, ScoringModel
from creditbridge.subjects import service as subjects_service

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


def latest_score(session: Session, subject_id: int) -> tuple[Score, ScoringModel] | None:
    """The latest score of ``subject_id`` by the approved public model, with that model."""
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
    found = latest_score(session, subject_id)
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
    institution only as :func:`creditbridge.consent.service.authorize_read` allows — not
    throttled, under a valid consent covering :data:`SCORE_CATEGORIES` for ``purpose`` (the
    cited consent's purpose when ``purpose`` is not given) — and its refusal raises as that
    function says, on record. Like a read of the records the score is computed from, an
    institution's read spends one use of the consent and shows in the enterprise's access log
    (查询记录). Raises :class:`ScoreNotFound` when there is no score yet."""
    if actor.role is Role.ENTERPRISE_USER:
        if actor.subject_id != subject_id:
            raise keyed(Forbidden, "error.scoring.own_score_only")
    elif _is_institution(actor):
        if purpose is None:
            if consent_id is None:
                raise keyed(
                    ValidationFailed,
                    "error.scoring.purpose_required",
                    issues=[
                        keyed_issue(
                            "CB-SCORING-PURPOSE", "error.scoring.purpose_missing", field="purpose"
                        )
                    ],
                )
            purpose = consent_service.access_consent(session, actor, consent_id).purpose
        grant = consent_service.authorize_read(
            session,
            actor,
            subject_id=subject_id,
            purpose=purpose,
            categories=SCORE_CATEGORIES,
            what={"item": "credit_score"},
            consent_id=consent_id,
        )
        assert grant is not None  # the score's categories are never public
        found = latest_score(session, subject_id)
        if found is None:
            raise keyed(ScoreNotFound, "error.scoring.not_scored")
        row, model = found
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
        raise keyed(Forbidden, "error.scoring.no_right")
    found = latest_score(session, subject_id)
    if found is None:
        raise keyed(ScoreNotFound, "error.scoring.not_scored")
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


INSUFFICIENT = Reason(
    code=INSUFFICIENT_REASON_CODE,
    text_zh="数据不足：平台尚无该企业的有效信用记录，暂不评分",
    text_en="Insufficient data: the platform holds no current record of this enterprise",
    points_lost=0,
)
"""The one reason of an enterprise the platform holds no current record of (not scored)."""
