"""Fitting the trained models of the model lab (模型实验室) — no database here, arrays in, cards out.

* Statistical scorecard: monotonic optimal binning of each indicator (optbinning, missing values
  in a bin of their own) at a granularity chosen by inner cross-validation on the training
  data (coarse or fine, ``BINNING_GRID``), weight of evidence, information value, selection by
  IV then forward stepwise logistic regression (statsmodels, AIC, coefficients required positive
  so every indicator's points move the way its bad rate does), and points scaled by PDO:
  ``score = offset + factor · ln(odds good:bad)`` with ``factor = PDO / ln 2`` and
  ``offset = base_score − factor · ln(base_odds)``. Points are rounded per bin, so the card is
  integers and its SQL export is exact.
* Challenger: LightGBM on the raw indicators (missing values native), for comparison only.

This file sits outside the module's usual vocabulary because it is neither pure rules (it calls
numerical libraries that fit) nor I/O; keeping it apart keeps those imports out of the pages.
"""

from __future__ import annotations

import itertools
import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from creditbridge.scoring.domain import Bins, Card, auc
from creditbridge.scoring.errors import TrainingRefused
from creditbridge.scoring.schemas import Scaling, TrainingRules

F64 = NDArray[np.float64]


@dataclass(frozen=True)
class BinStats:
    """One indicator's bins on the training data: counts of good and bad per bin (the last
    entry is the missing bin), weight of evidence ln(bad% / good%) and information value."""

    code: str
    splits: tuple[float, ...]
    good: tuple[int, ...]
    bad: tuple[int, ...]
    woe: tuple[float, ...]
    iv: float

    def table(self) -> list[dict[str, Any]]:
        labels = []
        edges = (-math.inf, *self.splits, math.inf)
        for low, high in itertools.pairwise(edges):
            labels.append(f"[{_fmt(low)}, {_fmt(high)})")
        labels.append("缺失 missing")
        rows = []
        for label, g, b, w in zip(labels, self.good, self.bad, self.woe, strict=True):
            n = g + b
            rows.append(
                {"bin": label, "count": n, "bad": b, "bad_rate": b / n if n else None, "woe": w}
            )
        return rows


def _fmt(value: float) -> str:
    if math.isinf(value):
        return "-inf" if value < 0 else "+inf"
    return f"{value:.4g}"


def check_outcomes(bad: NDArray[Any], rules: TrainingRules) -> None:
    """Refuse training data that cannot fit a model, saying why."""
    y = np.asarray(bad)
    n_bad = int((y == 1).sum())
    n_good = int((y == 0).sum())
    if n_bad == 0 or n_good == 0:
        which = "违约（坏）" if n_bad == 0 else "正常（好）"
        raise TrainingRefused(
            f"训练数据只有一种结果：没有{which}样本，无法训练评分卡（坏 {n_bad} / 好 {n_good}）"
        )
    if len(y) < rules.min_rows or n_bad < rules.min_bad:
        raise TrainingRefused(
            f"训练样本不足：共 {len(y)} 个（至少 {rules.min_rows}），"
            f"坏样本 {n_bad} 个（至少 {rules.min_bad}）"
        )


@dataclass(frozen=True)
class Binning:
    """How finely the optimal binning may cut an indicator: the pre-binning (CART) gives at most
    ``max_n_prebins`` candidate intervals of at least ``min_prebin_size`` of the rows each, from
    which the solver keeps the monotone grouping of best IV, with at most ``max_n_bins`` bins of at
    least ``min_bin_size`` of the rows (``None``: no limit beyond the pre-bins)."""

    name: str
    max_n_prebins: int
    min_prebin_size: float
    max_n_bins: int | None
    min_bin_size: float | None


# Coarse: the usual scorecard practice (≤ 6 bins of ≥ 5 %). Fine: optbinning's solver over 50
# pre-bins of ≥ 2 % with no cap on the number of bins (the monotone constraint still merges
# them). Which one a data set supports is chosen on the training data by inner cross-validation.
COARSE = Binning("coarse", max_n_prebins=20, min_prebin_size=0.05, max_n_bins=6, min_bin_size=0.05)
FINE = Binning("fine", max_n_prebins=50, min_prebin_size=0.02, max_n_bins=None, min_bin_size=None)
BINNING_GRID: tuple[Binning, ...] = (COARSE, FINE)
INNER_FOLDS = 5
INNER_REPEATS = 1  # inner k-fold repeated with other shuffles (lower-variance choice)


def fit_splits(
    x: F64, y: NDArray[Any], *, trend: str = "auto_asc_desc", binning: Binning = COARSE
) -> tuple[float, ...]:
    """Monotonic optimal split points of ``x`` for ``y`` (optbinning, CP solver)."""
    from optbinning import OptimalBinning  # type: ignore[import-untyped]

    present = ~np.isnan(x)
    if present.sum() < 2 or np.unique(x[present]).size < 2:
        return ()
    optimal = OptimalBinning(
        name="x",
        dtype="numerical",
        solver="cp",
        monotonic_trend=trend,
        max_n_prebins=binning.max_n_prebins,
        min_prebin_size=binning.min_prebin_size,
        max_n_bins=binning.max_n_bins,
        min_bin_size=binning.min_bin_size,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        optimal.fit(x, y)
    return tuple(float(s) for s in optimal.splits)


def bin_stats(code: str, x: F64, y: NDArray[Any], splits: Sequence[float]) -> BinStats:
    index = np.searchsorted(np.asarray(splits, dtype=np.float64), x, side="right")
    index = np.where(np.isnan(x), len(splits) + 1, index)
    n_bins = len(splits) + 2
    yy = np.asarray(y, dtype=np.int64)
    bad = np.bincount(index[yy == 1], minlength=n_bins)
    good = np.bincount(index[yy == 0], minlength=n_bins)
    total_bad, total_good = max(int(bad.sum()), 1), max(int(good.sum()), 1)
    # Half a count added to empty cells keeps the log finite (the usual Laplace-style fix).
    bad_share = (bad + 0.5) / total_bad
    good_share = (good + 0.5) / total_good
    woe = np.log(bad_share / good_share)
    present = (bad + good) > 0
    iv = float(np.sum(((bad / total_bad) - (good / total_good))[present] * woe[present]))
    return BinStats(
        code,
        tuple(float(s) for s in splits),
        tuple(int(v) for v in good),
        tuple(int(v) for v in bad),
        tuple(float(w) for w in woe),
        iv,
    )


def woe_column(stats: BinStats, x: F64) -> F64:
    index = np.searchsorted(np.asarray(stats.splits, dtype=np.float64), x, side="right")
    index = np.where(np.isnan(x), len(stats.splits) + 1, index)
    return np.asarray(stats.woe, dtype=np.float64)[index]


def _logit(design: F64, y: NDArray[Any]) -> Any:
    import statsmodels.api as sm  # type: ignore[import-untyped]

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return sm.Logit(y, sm.add_constant(design, has_constant="add")).fit(disp=0, maxiter=100)


def stepwise(woe: F64, y: NDArray[Any], candidates: Sequence[int], max_features: int) -> list[int]:
    """Forward selection by AIC among ``candidates`` (columns of ``woe``), keeping only models
    whose coefficients are all positive (risk rises with WOE, as the bins say it should)."""
    chosen: list[int] = []
    best_aic = float(_logit(np.zeros((len(y), 0)), y).aic)
    while len(chosen) < max_features:
        best: tuple[float, int] | None = None
        for j in candidates:
            if j in chosen:
                continue
            try:
                fit = _logit(woe[:, [*chosen, j]], y)
            except (np.linalg.LinAlgError, ValueError):
                continue
            if np.any(np.asarray(fit.params)[1:] <= 0):
                continue
            if fit.aic < best_aic - 1e-6 and (best is None or fit.aic < best[0]):
                best = (float(fit.aic), j)
        if best is None:
            break
        best_aic = best[0]
        chosen.append(best[1])
    return chosen


@dataclass(frozen=True)
class TrainedScorecard:
    card: Card  # cut-offs not set yet (calibrated by the caller)
    stats: tuple[BinStats, ...]  # every indicator considered, selected or not
    selected: tuple[str, ...]
    intercept: float
    coefficients: dict[str, float]
    binning: str = COARSE.name  # the granularity used (see BINNING_GRID)
    # mean inner cross-validated AUC per granularity tried; empty when there was no choice
    binning_auc: dict[str, float] = field(default_factory=dict)

    def iv_table(self) -> list[dict[str, Any]]:
        return [
            {"code": s.code, "iv": s.iv, "selected": s.code in self.selected}
            for s in sorted(self.stats, key=lambda s: -s.iv)
        ]


@dataclass(frozen=True)
class _Fit:
    stats: list[BinStats]
    chosen: list[int]
    intercept: float
    coefs: F64


def _fit(
    values: F64, y: NDArray[np.int64], codes: Sequence[str], rules: TrainingRules, binning: Binning
) -> _Fit:
    """Bin every indicator, keep IV ≥ ``min_iv``, stepwise, final logistic fit."""
    stats = [
        bin_stats(
            code,
            values[:, j],
            y,
            fit_splits(values[:, j], y, trend=rules.monotonic_trend, binning=binning),
        )
        for j, code in enumerate(codes)
    ]
    woe = np.column_stack([woe_column(s, values[:, j]) for j, s in enumerate(stats)])
    candidates = [j for j, s in enumerate(stats) if s.iv >= rules.min_iv and len(s.splits) > 0]
    candidates.sort(key=lambda j: -stats[j].iv)
    chosen = stepwise(woe, y, candidates, rules.max_features)
    if not chosen:
        raise TrainingRefused("没有指标通过信息值与逐步回归筛选，无法形成评分卡")
    params = np.asarray(_logit(woe[:, chosen], y).params, dtype=np.float64)
    return _Fit(stats, chosen, float(params[0]), params[1:])


def _inner_auc(
    values: F64, y: NDArray[np.int64], codes: Sequence[str], rules: TrainingRules, binning: Binning
) -> float:
    """Mean AUC of the whole pipeline (binning included) over stratified inner folds of the
    training data; a fold where nothing survives selection counts as 0.5."""
    from sklearn.model_selection import RepeatedStratifiedKFold  # type: ignore[import-untyped]

    folds = RepeatedStratifiedKFold(
        n_splits=INNER_FOLDS, n_repeats=INNER_REPEATS, random_state=rules.seed
    )
    aucs = []
    for fit_rows, check_rows in folds.split(values, y):
        try:
            fitted = _fit(values[fit_rows], y[fit_rows], codes, rules, binning)
        except TrainingRefused:
            aucs.append(0.5)
            continue
        held = values[check_rows]
        risk = fitted.intercept + sum(
            (
                c * woe_column(fitted.stats[j], held[:, j])
                for c, j in zip(fitted.coefs, fitted.chosen, strict=True)
            ),
            np.zeros(len(check_rows)),
        )
        aucs.append(auc(y[check_rows], risk))
    return float(np.mean(aucs))


def choose_binning(
    values: F64,
    y: NDArray[np.int64],
    codes: Sequence[str],
    rules: TrainingRules,
    grid: Sequence[Binning],
) -> tuple[Binning, dict[str, float]]:
    """The granularity of ``grid`` with the best inner cross-validated AUC (ties: the earlier,
    coarser one). Only the training data is used, so a test sample stays untouched."""
    n_bad = int(y.sum())
    if len(grid) < 2 or min(n_bad, len(y) - n_bad) < INNER_FOLDS:
        return grid[0], {}
    scores = {b.name: _inner_auc(values, y, codes, rules, b) for b in grid}
    best = max(grid, key=lambda b: (scores[b.name], -grid.index(b)))
    return best, scores


def fit_scorecard(
    values: F64,
    bad: NDArray[Any],
    codes: Sequence[str],
    *,
    rules: TrainingRules,
    scaling: Scaling,
    check: bool = True,
    grid: Sequence[Binning] = BINNING_GRID,
) -> TrainedScorecard:
    """Choose the binning granularity (inner CV), bin, select and fit; points scaled by
    ``scaling``."""
    y = np.asarray(bad, dtype=np.int64)
    if check:
        check_outcomes(y, rules)
    binning, binning_auc = choose_binning(values, y, codes, rules, grid)
    fitted = _fit(values, y, codes, rules, binning)
    stats = fitted.stats
    chosen, intercept, coefs = fitted.chosen, fitted.intercept, fitted.coefs
    factor = scaling.pdo / math.log(2)
    offset = scaling.base_score - factor * math.log(scaling.base_odds)
    # ln(odds good:bad) = -(b0 + Σ b_j·woe_j); score = offset + factor · ln(odds).
    base = round(offset - factor * intercept)
    bins = []
    for coef, j in zip(coefs, chosen, strict=True):
        s = stats[j]
        points = [round(-factor * coef * w) for w in s.woe]
        n_missing = s.good[-1] + s.bad[-1]
        # No missing value in training: score one as the worst bin (the cautious choice).
        missing = points[-1] if n_missing > 0 else min(points[:-1])
        bins.append(Bins(s.code, s.splits, tuple(points[:-1]), missing))
    return TrainedScorecard(
        card=Card(base, tuple(bins), ()),
        stats=tuple(stats),
        selected=tuple(stats[j].code for j in chosen),
        intercept=intercept,
        coefficients={stats[j].code: float(c) for j, c in zip(chosen, coefs, strict=True)},
        binning=binning.name,
        binning_auc=binning_auc,
    )


def fit_lightgbm(values: F64, bad: NDArray[Any], *, seed: int) -> Any:
    from lightgbm import LGBMClassifier

    model = LGBMClassifier(
        n_estimators=300,
        learning_rate=0.03,
        num_leaves=15,
        min_child_samples=20,
        subsample=0.8,
        subsample_freq=1,
        colsample_bytree=0.8,
        reg_lambda=1.0,
        random_state=seed,
        n_jobs=1,
        verbose=-1,
    )
    model.fit(values, np.asarray(bad, dtype=np.int64))
    return model


def stratified_split(
    bad: NDArray[Any], share: float, seed: int
) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """Train and test row indices with the bad share kept in both."""
    rng = np.random.default_rng(seed)
    y = np.asarray(bad)
    test: list[NDArray[np.int64]] = []
    train: list[NDArray[np.int64]] = []
    for label in (0, 1):
        rows = np.flatnonzero(y == label)
        rng.shuffle(rows)
        cut = round(len(rows) * share)
        test.append(rows[:cut])
        train.append(rows[cut:])
    return np.sort(np.concatenate(train)), np.sort(np.concatenate(test))
