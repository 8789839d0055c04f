"""The model registry: models and their runs, approval against the thresholds, retirement."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from creditbridge.audit import service as audit
from creditbridge.core.actors import Actor
from creditbridge.core.clock import utc_now
from creditbridge.core.errors import Issue
from creditbridge.presentation.errors import keyed, keyed_issue
from creditbridge.scoring.analytics import Snapshot
from creditbridge.scoring.domain import Card
from creditbridge.scoring.errors import ApprovalRefused, ModelNotFound
from creditbridge.scoring.models import ScoringModel, ScoringRun
from creditbridge.scoring.schemas import grade_config, indicator_config
from creditbridge.scoring.service.reads import get_public_model


def new_model(
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
    """Register a draft model built by the lab on ``snapshot``, audited."""
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


def get_model_or_raise(session: Session, version: str) -> ScoringModel:
    model = session.scalars(select(ScoringModel).where(ScoringModel.version == version)).first()
    if model is None:
        raise keyed(ModelNotFound, "error.scoring.no_model", version=version)
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
        raise keyed(ModelNotFound, "error.scoring.no_draft", kind=kind)
    return model


def card_of(model: ScoringModel) -> Card:
    if "card" not in model.spec:
        raise keyed(ApprovalRefused, "error.scoring.not_a_card", version=model.version)
    return Card.from_dict(model.spec["card"])


def approval_failures(metrics: dict[str, Any], *, trained: bool = True) -> list[str]:
    """Why a model with these validation figures may not be approved (empty: it may), in
    Chinese; :func:`approval_issues` says the same with message keys."""
    return [issue.message for issue in approval_issues(metrics, trained=trained)]


def approval_issues(metrics: dict[str, Any], *, trained: bool = True) -> list[Issue]:
    """Why a model with these validation figures may not be approved (empty: it may).

    A trained model needs ``min_bad`` defaults in its hold-out sample: fewer cannot show that it
    learnt rather than memorised. The expert card learnt nothing from the outcomes, so with
    fewer defaults its AUC and KS (measurable from one default on) are still checked, and the
    report says the figures rest on few defaults."""
    rules = grade_config().validation
    failures = []
    if trained and int(metrics.get("n_bad") or 0) < rules.min_bad:
        failures.append(
            keyed_issue(
                "CB-SCORING-THRESHOLD",
                "error.scoring.threshold.bad",
                n=str(metrics.get("n_bad")),
                min=rules.min_bad,
            )
        )
    auc_value = metrics.get("auc")
    if auc_value is None or auc_value < rules.min_auc:
        failures.append(
            keyed_issue(
                "CB-SCORING-THRESHOLD",
                "error.scoring.threshold.auc",
                figure=_show(auc_value),
                min=rules.min_auc,
            )
        )
    ks_value = metrics.get("ks")
    if ks_value is None or ks_value < rules.min_ks:
        failures.append(
            keyed_issue(
                "CB-SCORING-THRESHOLD",
                "error.scoring.threshold.ks",
                figure=_show(ks_value),
                min=rules.min_ks,
            )
        )
    psi_value = metrics.get("psi")
    if psi_value is not None and psi_value > rules.max_psi:
        failures.append(
            keyed_issue(
                "CB-SCORING-THRESHOLD",
                "error.scoring.threshold.psi",
                figure=_show(psi_value),
                max=rules.max_psi,
            )
        )
    return failures


def _show(value: Any) -> str:
    return "—" if value is None else f"{float(value):.3f}"


# ------------------------------------------------------------------ registry moves


def approve(session: Session, actor: Actor, *, version: str) -> ScoringModel:
    """Approve a validated draft that passes the thresholds; the approved model of the same
    purpose before it is retired. Raises :class:`ApprovalRefused` saying why not."""
    model = get_model_or_raise(session, version)
    if model.status != "draft":
        raise keyed(
            ApprovalRefused, "error.scoring.not_draft", version=version, status=model.status
        )
    if model.kind == "lightgbm":
        raise keyed(ApprovalRefused, "error.scoring.challenger")
    if model.validated_at is None or not model.metrics:
        raise keyed(ApprovalRefused, "error.scoring.not_validated", version=version)
    failures = approval_issues(model.metrics, trained=model.kind != "expert")
    if failures:
        raise keyed(
            ApprovalRefused,
            "error.scoring.thresholds",
            issues=failures,
            version=version,
            failures="；".join(f.message for f in failures),
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
        raise keyed(ApprovalRefused, "error.scoring.retired", version=version)
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


def list_runs(session: Session, *, limit: int = 20) -> list[ScoringRun]:
    return list(session.scalars(select(ScoringRun).order_by(ScoringRun.id.desc()).limit(limit)))


def model_versions(session: Session, ids: Sequence[int]) -> dict[int, str]:
    query = select(ScoringModel.id, ScoringModel.version).where(ScoringModel.id.in_(list(ids)))
    return {int(i): str(v) for i, v in session.execute(query)}


def latest_public_run(session: Session) -> ScoringRun | None:
    """The last finished run of the approved public model, or None."""
    model = get_public_model(session)
    if model is None:
        return None
    return session.scalars(
        select(ScoringRun)
        .where(ScoringRun.model_id == model.id, ScoringRun.finished_at.is_not(None))
        .order_by(ScoringRun.id.desc())
        .limit(1)
    ).first()
