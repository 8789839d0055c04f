"""JSON API of scoring (/api/v1/scoring/…): scores as each caller may see them, the grade
distribution and the model registry."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel
from sqlalchemy.orm import Session

from creditbridge.core.actors import Actor, Role
from creditbridge.core.errors import Forbidden
from creditbridge.core.types import Id, Text
from creditbridge.presentation.errors import keyed
from creditbridge.scoring import service
from creditbridge.subjects import service as subjects_service
from creditbridge.web.auth import CurrentActor, SignedClient
from creditbridge.web.deps import ReadSession, WriteSession

router = APIRouter(prefix="/api/v1", tags=["scoring 信用评价"])


class ReasonOut(BaseModel):
    code: str
    text_zh: str
    text_en: str
    points_lost: int


class ScoreOut(BaseModel):
    uscc: str
    score: int | None
    grade: str | None
    reasons: list[ReasonOut]
    model_version: str
    scored_at: datetime
    insufficient_data: bool


class ModelOut(BaseModel):
    version: str
    kind: str
    purpose: str
    status: str
    auc: float | None
    ks: float | None
    created_at: datetime
    approved_by: str | None
    approved_at: datetime | None


class GroupOut(BaseModel):
    code: str
    name: str
    count: int
    average: float | None
    grades: dict[str, int]
    insufficient: int


class DistributionOut(BaseModel):
    model_version: str | None
    scored_at: datetime | None
    total: dict[str, int]
    by_city: list[GroupOut]
    by_industry: list[GroupOut]


def _score(
    session: Session, actor: Actor, uscc: str, purpose: str | None, consent_id: int | None
) -> ScoreOut:
    subject = subjects_service.get_subject_by_uscc_or_raise(session, uscc)
    view = service.read_score(
        session, actor, subject_id=subject.id, purpose=purpose, consent_id=consent_id
    )
    return ScoreOut(
        uscc=subject.uscc,
        score=view.score,
        grade=view.grade,
        reasons=[ReasonOut(**r.__dict__) for r in view.reasons],
        model_version=view.model_version,
        scored_at=view.scored_at,
        insufficient_data=view.insufficient_data,
    )


@router.get(
    "/scoring/scores/{uscc}",
    summary="An enterprise's credit score 企业信用评价",
    response_model=ScoreOut,
)
def score_for_user(
    uscc: Text,
    actor: CurrentActor,
    session: WriteSession,
    purpose: Annotated[Text | None, Query(max_length=32)] = None,
    consent_id: Annotated[Id | None, Query()] = None,
) -> ScoreOut:
    """The public evaluation's current score, grade (AAA…C) and up to three reasons. An
    enterprise user reads its own; the operator any; an institution officer only under a valid
    consent covering the categories tax, social_insurance, housing_fund, utilities, customs and
    self_reported (403 `CB-CONSENT-*` otherwise). `insufficient_data` is true, with score and
    grade null, when the platform holds no record of the enterprise. Every read is audited."""
    return _score(session, actor, uscc, purpose, consent_id)


@router.get(
    "/scoring/institution/scores/{uscc}",
    summary="Credit score for a signed institution client 机构接口查询信用评价",
    response_model=ScoreOut,
)
def score_for_client(
    uscc: Text,
    client: SignedClient,
    session: WriteSession,
    purpose: Annotated[Text | None, Query(max_length=32)] = None,
    consent_id: Annotated[Id | None, Query()] = None,
) -> ScoreOut:
    """As `/scoring/scores/{uscc}` for an institution's signed API client: a consent is required."""
    return _score(session, client, uscc, purpose, consent_id)


def _operator(actor: Actor) -> None:
    if not actor.has_role(Role.OPERATOR):
        raise keyed(Forbidden, "error.scoring.operator_only")


@router.get(
    "/scoring/models",
    summary="The model registry 模型库",
    response_model=list[ModelOut],
)
def models(actor: CurrentActor, session: ReadSession) -> list[ModelOut]:
    """Every model version with its kind (expert, scorecard, lightgbm), status (draft, approved,
    retired) and validation AUC/KS. Operator only."""
    _operator(actor)
    return [
        ModelOut(
            version=m.version,
            kind=m.kind,
            purpose=m.purpose,
            status=m.status,
            auc=m.metrics.get("auc"),
            ks=m.metrics.get("ks"),
            created_at=m.created_at,
            approved_by=m.approved_by,
            approved_at=m.approved_at,
        )
        for m in service.list_models(session)
    ]


@router.get(
    "/scoring/distribution",
    summary="Grades by city and industry 信用等级分布",
    response_model=DistributionOut,
)
def distribution(actor: CurrentActor, session: WriteSession) -> DistributionOut:
    """Grade counts and average score of the latest public run, by city and by industry
    section. Operator only."""
    result = service.distribution(session, actor)
    return DistributionOut(
        model_version=result.model_version,
        scored_at=result.scored_at,
        total=result.total,
        by_city=[GroupOut(**g.__dict__) for g in result.by_city],
        by_industry=[GroupOut(**g.__dict__) for g in result.by_industry],
    )
