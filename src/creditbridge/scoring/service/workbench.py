"""The enterprise's own score and its history, for its home (工作台).

An enterprise reads its own score without consent (it is its own data, as on 我的信用评价); no
one else gets it here. The read is not audited: the home is opened on every login, and the detailed
page (:func:`creditbridge.scoring.service.explain`), which shows the reasons, records its read.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from creditbridge.core.actors import Actor, Role
from creditbridge.core.errors import Forbidden
from creditbridge.presentation.errors import keyed
from creditbridge.scoring.models import Score, ScoringModel
from creditbridge.scoring.service.reads import latest_score

HISTORY_POINTS = 24


@dataclass(frozen=True)
class ScorePoint:
    scored_at: datetime
    score: int | None
    grade: str | None


@dataclass(frozen=True)
class MyScore:
    current: ScorePoint | None
    history: list[ScorePoint]
    """Oldest first, at most :data:`HISTORY_POINTS`, by the public model(s)."""


def my_score(session: Session, actor: Actor) -> MyScore:
    """The latest public score of the actor's own enterprise and the ones before it."""
    if actor.role is not Role.ENTERPRISE_USER or actor.subject_id is None:
        raise keyed(Forbidden, "error.scoring.own_score_only")
    found = latest_score(session, actor.subject_id)
    current = (
        None if found is None else ScorePoint(found[0].scored_at, found[0].score, found[0].grade)
    )
    rows = session.execute(
        select(Score.scored_at, Score.score, Score.grade)
        .join(ScoringModel, ScoringModel.id == Score.model_id)
        .where(Score.subject_id == actor.subject_id, ScoringModel.purpose == "public")
        .order_by(Score.scored_at.desc(), Score.id.desc())
        .limit(HISTORY_POINTS)
    ).all()
    history = [ScorePoint(at, score, grade) for at, score, grade in reversed(rows)]
    return MyScore(current, history)
