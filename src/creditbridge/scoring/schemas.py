"""The versioned configuration of scoring (``scoring/data/*.yaml``), read and checked once."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Final, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, model_validator

DATA_DIR: Final = Path(__file__).parent / "data"
INDICATORS_FILE: Final = DATA_DIR / "indicators-v1.yaml"
EXPERT_FILE: Final = DATA_DIR / "expert-v1.yaml"
GRADES_FILE: Final = DATA_DIR / "grades-v1.yaml"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class IndicatorSpec(_Strict):
    code: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    name_zh: str
    name_en: str
    unit: str
    absent: float | None
    reason_zh: str
    reason_en: str
    sql: str


class IndicatorConfig(_Strict):
    version: str
    indicators: list[IndicatorSpec]

    @model_validator(mode="after")
    def _unique(self) -> IndicatorConfig:
        codes = [i.code for i in self.indicators]
        if len(set(codes)) != len(codes):
            raise ValueError("indicator codes must be unique")
        return self

    @property
    def codes(self) -> tuple[str, ...]:
        return tuple(i.code for i in self.indicators)

    def get(self, code: str) -> IndicatorSpec:
        for spec in self.indicators:
            if spec.code == code:
                return spec
        raise KeyError(code)


class BinSpec(_Strict):
    splits: list[float]
    points: list[int]
    missing: int

    @model_validator(mode="after")
    def _shape(self) -> BinSpec:
        if len(self.points) != len(self.splits) + 1:
            raise ValueError("points must have one more entry than splits")
        if any(b <= a for a, b in zip(self.splits, self.splits[1:], strict=False)):
            raise ValueError("splits must increase")
        return self


class ExpertConfig(_Strict):
    version: str
    indicators_version: str
    base: int
    bins: dict[str, BinSpec]


class GradeSpec(_Strict):
    grade: str
    pd_max: float | None
    zh: str


class Scaling(_Strict):
    base_score: float = 600
    base_odds: float = 50
    pdo: float = 20


class ValidationRules(_Strict):
    min_auc: float
    min_ks: float
    max_psi: float
    min_bad: int


class TrainingRules(_Strict):
    min_rows: int
    min_bad: int
    min_iv: float
    max_features: int
    test_share: float
    seed: int
    # The direction training.fit_bins bins every indicator in: the bad rate (and so the points)
    # only rises or only falls with the value, which the advice to enterprises relies on.
    # auto_asc_desc takes, per indicator, the direction of larger information value; ascending
    # and descending impose one. No peak or valley is ever allowed.
    monotonic_trend: Literal["auto_asc_desc", "ascending", "descending"] = "auto_asc_desc"
    # Inverse strength of the L2 penalty on the WOE coefficients (a normal prior N(0, ridge_c)):
    # 1 lets the data move a weight by about the size of "the bins at their word" (see training).
    ridge_c: float = Field(default=1.0, gt=0)


class GradeConfig(_Strict):
    version: str
    grades: list[GradeSpec]
    expert_default_cutoffs: list[int]
    scaling: Scaling
    validation: ValidationRules
    training: TrainingRules
    psi_alert: float

    @model_validator(mode="after")
    def _nine(self) -> GradeConfig:
        if len(self.grades) != 9 or len(self.expert_default_cutoffs) != 8:
            raise ValueError("nine grades and eight cut-offs")
        return self

    @property
    def pd_ceilings(self) -> tuple[float, ...]:
        return tuple(g.pd_max for g in self.grades if g.pd_max is not None)


def _load(path: Path) -> object:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


@lru_cache(maxsize=1)
def indicator_config() -> IndicatorConfig:
    return IndicatorConfig.model_validate(_load(INDICATORS_FILE))


@lru_cache(maxsize=1)
def expert_config() -> ExpertConfig:
    config = ExpertConfig.model_validate(_load(EXPERT_FILE))
    unknown = set(config.bins) - set(indicator_config().codes)
    if unknown:
        raise ValueError(f"expert scorecard names unknown indicators: {sorted(unknown)}")
    return config


@lru_cache(maxsize=1)
def grade_config() -> GradeConfig:
    return GradeConfig.model_validate(_load(GRADES_FILE))
