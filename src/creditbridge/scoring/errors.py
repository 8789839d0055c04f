"""Refusals of scoring, each with a stable code."""

from __future__ import annotations

from creditbridge.core.errors import Conflict, NotFound, ValidationFailed
from creditbridge.presentation.i18n import translate


class ScoreNotFound(NotFound):
    """Raised when the enterprise has not been scored by the approved public model yet."""

    code = "CB-SCORING-NOT-SCORED"
    title = "尚未评分"


class ModelNotFound(NotFound):
    """Raised when no model of that version (or no approved model) is in the registry."""

    code = "CB-SCORING-MODEL-NOT-FOUND"
    title = "模型不存在"


class ApprovalRefused(Conflict):
    """Raised when a model cannot be approved: not validated, failing a validation threshold,
    a challenger, or not a draft."""

    code = "CB-SCORING-APPROVAL-REFUSED"
    title = "模型不能批准"


class TrainingRefused(ValidationFailed):
    """Raised when the training data cannot fit a model: one outcome only, too few rows."""

    code = "CB-SCORING-TRAINING-REFUSED"
    title = "训练数据不足"


class IndicatorSqlError(ValidationFailed):
    """Raised when the SQL of an indicator fails; the message names the indicator."""

    code = "CB-SCORING-INDICATOR-SQL"
    title = "指标计算出错"

    def __init__(self, indicator: str, detail: str) -> None:
        params = {"indicator": indicator, "detail": detail}
        key = "error.scoring.indicator_sql"
        super().__init__(translate("zh", key, **params), key=key, params=params)
        self.indicator = indicator


class SnapshotMissing(NotFound):
    """Raised when a command needs the analytics snapshot and none has been taken."""

    code = "CB-SCORING-SNAPSHOT-MISSING"
    title = "缺少分析快照"


class CardInputInvalid(ValidationFailed):
    """Raised by ``scoring fit`` / ``scoring apply`` when a CSV file or a card file cannot be used:
    empty, a missing or non-binary target column, a column the card needs absent, a value that
    is not a number; the message names the column and row."""

    code = "CB-SCORING-CARD-INPUT"
    title = "评分卡输入有误"
