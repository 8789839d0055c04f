"""Fitting the trained models of the model lab (模型实验室) — no database here, arrays in, cards out.

* Statistical scorecard: monotonic optimal binning of each indicator (optbinning, missing values
  in a bin of their own) at two granularities, coarse and fine (``BINNING_GRID``); weight of
  evidence of each binning; information value of the card's bins (the union of both binnings'
  splits), indicators below ``min_iv`` dropped. A logistic regression on the WOE columns of both
  binnings, with an L2 penalty (``ridge_c``) and every coefficient ≥ 0, so an indicator's points
  are a positive mix of two same-direction monotone step functions and move the way its bad rate
  does. Selection runs that regression on cross-fitted WOE (5 folds of the training data):
  indicators whose coefficients all sit at 0 leave, and above ``max_features`` a backward
  stepwise elimination by penalised likelihood; the kept indicators are then fitted on the WOE of
  all the rows. Points scaled by PDO: ``score = offset + factor · ln(odds good:bad)`` with
  ``factor = PDO / ln 2`` and ``offset = base_score − factor · ln(base_odds)``. Points are rounded
  per bin, so the card is integers and its SQL export is exact.
* Challenger: LightGBM on the raw indicators (missing values native), for comparison only.

This file sits outside the module's usual vocabulary because it is neither pure rules (it calls
numerical libraries that fit) nor I/O; keeping it apart keeps those imports out of the pages.
"""

from __future__ import annotations

import itertools
import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from creditbridge.scoring.domain import Bins, Card
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
# pre-bins of ≥ 2 % with no cap on the number of bins (the monotone constraint still merges them).
# Both enter the regression and the fit weighs them per indicator, rather than one being chosen
# by inner cross-validation: on 800 rows that choice was a coin toss (docs/benchmarks.md).
COARSE = Binning("coarse", max_n_prebins=20, min_prebin_size=0.05, max_n_bins=6, min_bin_size=0.05)
FINE = Binning("fine", max_n_prebins=50, min_prebin_size=0.02, max_n_bins=None, min_bin_size=None)
BINNING_GRID: tuple[Binning, ...] = (COARSE, FINE)


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


# A coefficient this small is the solver sitting on its bound of 0: the column is out of the fit.
_ZERO = 1e-9
CROSS_FIT_FOLDS = 5


def fit_ridge(design: F64, y: NDArray[Any], c: float) -> F64:
    """Intercept and coefficients of the logistic regression of ``y`` on ``design`` that minimise
    the negative log-likelihood plus ``Σ β² / (2c)``, every coefficient ≥ 0 (the intercept is
    free and not penalised).

    The penalty is a normal prior N(0, c) on each coefficient. The columns are weights of
    evidence, already log-odds, so a coefficient of 1 takes the bins at their word; with c = 1
    the data can move it by about that much. On a small sample, stepwise selection by AIC takes
    a weak indicator in or out whole; the penalty keeps it with a shrunken weight instead. The
    bound keeps every indicator's points moving the way its bad rate does."""
    from scipy.optimize import minimize  # type: ignore[import-untyped]

    n, k = design.shape
    z = np.column_stack([np.ones(n), design])
    yy = np.asarray(y, dtype=np.float64)

    def loss(beta: F64) -> tuple[float, F64]:
        eta = z @ beta
        value = np.sum(np.logaddexp(0.0, eta) - yy * eta) + np.sum(beta[1:] ** 2) / (2 * c)
        grad = z.T @ (np.exp(-np.logaddexp(0.0, -eta)) - yy)  # sigmoid without overflow
        grad[1:] += beta[1:] / c
        return float(value), grad

    rate = min(max(float(yy.mean()), 1e-6), 1 - 1e-6)
    start = np.zeros(k + 1)
    start[0] = math.log(rate / (1 - rate))
    result = minimize(
        loss, start, jac=True, method="L-BFGS-B", bounds=[(None, None)] + [(0.0, None)] * k,
        options={"maxiter": 1000, "ftol": 1e-12, "gtol": 1e-8},
    )  # fmt: skip
    return np.asarray(result.x, dtype=np.float64)


def _penalised_loss(design: F64, y: NDArray[Any], beta: F64, c: float) -> float:
    eta = beta[0] + design @ beta[1:]
    return float(np.sum(np.logaddexp(0.0, eta) - y * eta) + np.sum(beta[1:] ** 2) / (2 * c))


@dataclass(frozen=True)
class _Column:
    """One WOE column of the regression: one indicator binned at one granularity."""

    indicator: int  # column of ``values``
    stats: BinStats
    binning: str


def _direction(stats: BinStats) -> int:
    """+1 if the bad rate rises with the value, −1 if it falls (the missing bin has no order)."""
    woe = stats.woe[:-1]
    return 1 if woe[-1] > woe[0] else -1


def _columns(
    values: F64, y: NDArray[np.int64], codes: Sequence[str], rules: TrainingRules,
    grid: Sequence[Binning],
) -> tuple[list[BinStats], list[_Column]]:  # fmt: skip
    """Bin every indicator at each granularity of ``grid``. Returns each indicator's statistics
    on the union of its splits (the bins a card would show, whose IV decides entry) and the WOE
    columns of the indicators with IV ≥ ``min_iv``."""
    splits = [
        [fit_splits(values[:, j], y, trend=rules.monotonic_trend, binning=b) for b in grid]
        for j in range(len(codes))
    ]
    union: list[BinStats] = []
    columns: list[_Column] = []
    for j, code in enumerate(codes):
        x = values[:, j]
        union.append(bin_stats(code, x, y, sorted(set().union(*splits[j]))))
        if not union[-1].splits or union[-1].iv < rules.min_iv:
            continue
        trend = 0
        for k, (binning, cuts) in enumerate(zip(grid, splits[j], strict=True)):
            if not cuts or cuts in splits[j][:k]:  # no cut, or the same cuts as a coarser one
                continue
            stats = bin_stats(code, x, y, cuts)
            # Binnings that disagree on which way the bad rate goes would mix into points that
            # rise then fall; the first (coarsest) binning's direction wins.
            if trend and _direction(stats) != trend:
                continue
            trend = _direction(stats)
            columns.append(_Column(j, stats, binning.name))
    return union, columns


def _fit_columns(
    columns: Sequence[_Column], woe: F64, y: NDArray[np.int64], rules: TrainingRules
) -> tuple[float, list[tuple[_Column, float]]]:
    """Fit the penalised regression on ``columns``; an indicator whose coefficients all sit at 0
    leaves and the rest are refitted; while more than ``max_features`` indicators remain, the
    one whose removal costs the least penalised likelihood goes (backward stepwise)."""
    active = sorted({c.indicator for c in columns})

    def fit(indicators: Sequence[int]) -> tuple[list[int], F64]:
        keep = [i for i, c in enumerate(columns) if c.indicator in indicators]
        return keep, fit_ridge(woe[:, keep], y, rules.ridge_c)

    def loss_without(j: int, indicators: Sequence[int]) -> float:
        keep, beta = fit([i for i in indicators if i != j])
        return _penalised_loss(woe[:, keep], y, beta, rules.ridge_c)

    while True:
        keep, beta = fit(active)
        positive = sorted(
            {columns[i].indicator for i, b in zip(keep, beta[1:], strict=True) if b > _ZERO}
        )
        if positive != active:
            active = positive
            continue
        if len(active) <= rules.max_features:
            break
        losses = {j: loss_without(j, active) for j in active}
        active.remove(min(active, key=losses.__getitem__))
    fitted = [(columns[i], float(b)) for i, b in zip(keep, beta[1:], strict=True) if b > _ZERO]
    return float(beta[0]), fitted


def _cross_fitted_woe(
    values: F64, y: NDArray[np.int64], columns: Sequence[_Column], rules: TrainingRules,
    grid: Sequence[Binning],
) -> F64:  # fmt: skip
    """The WOE columns as the rows of each of ``CROSS_FIT_FOLDS`` stratified folds get them from
    bins cut and weighed on the other folds only. A WOE is a target encoding: on its own rows it
    looks predictive even for noise, so the selection looks at these out-of-fold columns."""
    from sklearn.model_selection import StratifiedKFold  # type: ignore[import-untyped]

    binnings = {b.name: b for b in grid}
    woe = np.empty((len(y), len(columns)))
    folds = StratifiedKFold(n_splits=CROSS_FIT_FOLDS, shuffle=True, random_state=rules.seed)
    for fit_rows, held_rows in folds.split(values, y):
        for i, column in enumerate(columns):
            x = values[fit_rows, column.indicator]
            cuts = fit_splits(
                x, y[fit_rows], trend=rules.monotonic_trend, binning=binnings[column.binning]
            )
            stats = bin_stats(column.stats.code, x, y[fit_rows], cuts)
            woe[held_rows, i] = woe_column(stats, values[held_rows, column.indicator])
    return woe


def _card_bins(code: str, parts: Sequence[tuple[_Column, float]], factor: float) -> Bins:
    """One indicator's bins on the union of its binnings' splits, with integer points
    ``−factor · Σ β·WOE`` per bin; neighbours that round to the same points are merged (same
    scores, fewer bins to explain)."""
    cuts = sorted(set().union(*(column.stats.splits for column, _ in parts)))
    lows = np.asarray([-math.inf, *cuts])
    raw = np.zeros(len(lows))
    raw_missing = 0.0
    for column, coef in parts:
        woe = np.asarray(column.stats.woe)
        raw -= factor * coef * woe[np.searchsorted(np.asarray(column.stats.splits), lows, "right")]
        raw_missing -= factor * coef * woe[-1]
    points = [round(float(p)) for p in raw]
    splits, kept = [], [points[0]]
    for cut, p in zip(cuts, points[1:], strict=True):
        if p != kept[-1]:
            splits.append(cut)
            kept.append(p)
    stats = parts[0][0].stats
    # No missing value in training: score one as the worst bin (the cautious choice).
    missing = round(raw_missing) if stats.good[-1] + stats.bad[-1] > 0 else min(kept)
    return Bins(code, tuple(splits), tuple(kept), missing)


@dataclass(frozen=True)
class TrainedScorecard:
    card: Card  # cut-offs not set yet (calibrated by the caller)
    # every indicator considered: the card's bins if selected, else the union of its binnings
    stats: tuple[BinStats, ...]
    selected: tuple[str, ...]
    intercept: float
    coefficients: dict[str, float]  # per WOE column, "code:binning" (e.g. "tax_paid_12m:fine")
    binning: str  # the granularities combined, e.g. "coarse+fine"

    def iv_table(self) -> list[dict[str, Any]]:
        return [
            {"code": s.code, "iv": s.iv, "selected": s.code in self.selected}
            for s in sorted(self.stats, key=lambda s: -s.iv)
        ]


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
    """Bin at every granularity of ``grid``, keep IV ≥ ``min_iv``, select the indicators on
    cross-fitted WOE, fit the penalised regression with positive coefficients on their WOE, and
    scale the points by ``scaling``."""
    y = np.asarray(bad, dtype=np.int64)
    if check:
        check_outcomes(y, rules)
    if not grid:
        raise ValueError("no binning granularity given")
    stats, columns = _columns(values, y, codes, rules, grid)
    n_bad = int(y.sum())
    if columns and min(n_bad, len(y) - n_bad) >= CROSS_FIT_FOLDS:
        # Which indicators: those that earn a positive weight out of fold. How much: the fit on
        # the WOE of all the rows, whose bins the card will carry (the out-of-fold columns are
        # noisier, cut on fewer rows, and would underweight the finer bins).
        _, chosen = _fit_columns(
            columns, _cross_fitted_woe(values, y, columns, rules, grid), y, rules
        )
        kept = {c.indicator for c, _ in chosen}
        columns = [c for c in columns if c.indicator in kept]
    fitted: list[tuple[_Column, float]] = []
    intercept = 0.0
    if columns:
        woe = np.column_stack([woe_column(c.stats, values[:, c.indicator]) for c in columns])
        intercept, fitted = _fit_columns(columns, woe, y, rules)
    factor = scaling.pdo / math.log(2)
    offset = scaling.base_score - factor * math.log(scaling.base_odds)
    # ln(odds good:bad) = -(b0 + Σ b_j·woe_j); score = offset + factor · ln(odds).
    base = round(offset - factor * intercept)
    bins = []
    # Card order = IV order: reason codes break ties towards the earlier indicator.
    for j in sorted({c.indicator for c, _ in fitted}, key=lambda j: -stats[j].iv):
        card_bins = _card_bins(codes[j], [(c, b) for c, b in fitted if c.indicator == j], factor)
        if not card_bins.splits and card_bins.missing == card_bins.points[0]:
            # Rounds to one value everywhere: it ranks no one, the base carries it.
            base += card_bins.points[0]
            fitted = [(c, b) for c, b in fitted if c.indicator != j]
            continue
        stats[j] = bin_stats(codes[j], values[:, j], y, card_bins.splits)
        bins.append(card_bins)
    if not bins:
        raise TrainingRefused("没有指标通过信息值与逐步回归筛选，无法形成评分卡")
    return TrainedScorecard(
        card=Card(base, tuple(bins), ()),
        stats=tuple(stats),
        selected=tuple(b.code for b in bins),
        intercept=intercept,
        coefficients={f"{codes[c.indicator]}:{c.binning}": b for c, b in fitted},
        binning="+".join(b.name for b in grid),
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
