"""Use cases of scoring: read a score (for the enterprise, an institution under consent, the
operator), and the model lab's steps (snapshot, train, validate, approve, run).

Consent rule for institutions (decided here, documented in docs/scoring.md): the score is
derived from authorized (non-public) data, so an institution reads it only under a consent whose
categories include every non-public category the public model's indicators draw on —
:data:`SCORE_CATEGORIES` (tax, social_insurance, housing_fund, utilities, customs,
self_reported). A score therefore never reveals more than the consent would let the
institution read record by record.

One module per topic (reads, lab, registry, batch); this package re-exports their public names,
so callers import ``creditbridge.scoring.service`` as before.
"""

from __future__ import annotations

from creditbridge.scoring.service.batch import RunResult, run
from creditbridge.scoring.service.lab import (
    DEFAULT_ROOT,
    Advice,
    Distribution,
    Explanation,
    GroupRow,
    IndicatorLine,
    Sample,
    distribution,
    expert_card,
    explain,
    export_sql,
    is_holdout,
    open_snapshot,
    register_expert,
    snapshot_folder,
    take_snapshot,
    train_scorecard,
    validate,
)
from creditbridge.scoring.service.reads import (
    GRADES,
    INSUFFICIENT,
    INSUFFICIENT_REASON_CODE,
    SCORE_CATEGORIES,
    Reason,
    ScoreView,
    get_current_score,
    get_public_model,
    get_score_by_uscc,
    read_score,
)
from creditbridge.scoring.service.registry import (
    approval_failures,
    approve,
    card_of,
    get_model_or_raise,
    latest_draft,
    list_models,
    list_runs,
    model_versions,
    retire,
)

__all__ = [
    "DEFAULT_ROOT",
    "GRADES",
    "INSUFFICIENT",
    "INSUFFICIENT_REASON_CODE",
    "SCORE_CATEGORIES",
    "Advice",
    "Distribution",
    "Explanation",
    "GroupRow",
    "IndicatorLine",
    "Reason",
    "RunResult",
    "Sample",
    "ScoreView",
    "approval_failures",
    "approve",
    "card_of",
    "distribution",
    "expert_card",
    "explain",
    "export_sql",
    "get_current_score",
    "get_model_or_raise",
    "get_public_model",
    "get_score_by_uscc",
    "is_holdout",
    "latest_draft",
    "list_models",
    "list_runs",
    "model_versions",
    "open_snapshot",
    "read_score",
    "register_expert",
    "retire",
    "run",
    "snapshot_folder",
    "take_snapshot",
    "train_scorecard",
    "validate",
]
