"""Fitting the trained models of the model lab (模型实验室) — no database here, arrays in, cards out.

* Statistical scorecard: monotonic optimal binning of each indicator (:func:`fit_bins`: tree
  pre-bins, pooled adjacent violators, missing values in a bin of their own) at two granularities,
  coarse and fine (``BINNING_GRID``), both cut in the indicator's one direction; weight of evidence
  of each binning, made monotone in that direction; information value of the card's bins (the
  union of both binnings' splits), indicators below ``min_iv`` dropped. A logistic regression on
  the WOE columns of both binnings, with an L2 penalty (``ridge_c``) and every coefficient ≥ 0, so
  an indicator's points are a positive mix of same-direction monotone step functions: monotone by
  construction. Selection runs that regression on cross-fitted WOE (5 folds of the training data):
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
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from creditbridge.presentation.errors import keyed
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
        key = "error.scoring.no_bad" if n_bad == 0 else "error.scoring.no_good"
        raise keyed(TrainingRefused, key, bad=n_bad, good=n_good)
    if len(y) < rules.min_rows or n_bad < rules.min_bad:
        raise keyed(
            TrainingRefused,
            "error.scoring.too_few_rows",
            n=len(y),
            min_rows=rules.min_rows,
            bad=n_bad,
            min_bad=rules.min_bad,
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


# Coarse: the usual scorecard practice (≤ 6 bins of ≥ 5 %). Fine: 50 pre-bins of ≥ 2 % with no cap
# on the number of bins (the monotone constraint still merges them).
# Both enter the regression and the fit weighs them per indicator, rather than one being chosen
# by inner cross-validation: on 800 rows that choice was a coin toss (docs/benchmarks.md).
COARSE = Binning("coarse", max_n_prebins=20, min_prebin_size=0.05, max_n_bins=6, min_bin_size=0.05)
FINE = Binning("fine", max_n_prebins=50, min_prebin_size=0.02, max_n_bins=None, min_bin_size=None)
BINNING_GRID: tuple[Binning, ...] = (COARSE, FINE)


_TRENDS = {"ascending": (1,), "descending": (-1,), "auto_asc_desc": (1, -1)}


def _grouped(x: F64, y: NDArray[Any]) -> tuple[F64, F64, F64]:
    """The distinct present values of ``x`` in order, with the rows and the bad rows of each."""
    present = ~np.isnan(x)
    values, inverse = np.unique(x[present], return_inverse=True)
    rows = np.bincount(inverse, minlength=values.size).astype(np.float64)
    bad = np.bincount(
        inverse, weights=np.asarray(y, dtype=np.float64)[present], minlength=values.size
    )
    return np.asarray(values, dtype=np.float64), rows, np.asarray(bad, dtype=np.float64)


def _prebin(rows: F64, bad: F64, max_leaves: int, min_leaf: float) -> list[int]:
    """CART pre-binning of grouped values, as optbinning does it (a classification tree on the one
    feature, Gini impurity, best-first up to ``max_leaves`` leaves of ≥ ``min_leaf`` rows each),
    done with cumulative sums instead of a fitted tree. Returns the group indices where a pre-bin
    starts (the first, 0, left out)."""
    cum_rows = np.concatenate([[0.0], np.cumsum(rows)])
    cum_bad = np.concatenate([[0.0], np.cumsum(bad)])

    def best_split(lo: int, hi: int) -> tuple[float, int]:
        if hi - lo < 2:
            return 0.0, -1
        cut = np.arange(lo + 1, hi)
        n_left = cum_rows[cut] - cum_rows[lo]
        n_right = cum_rows[hi] - cum_rows[cut]
        ok = (n_left >= min_leaf) & (n_right >= min_leaf)
        if not ok.any():
            return 0.0, -1
        b_left = cum_bad[cut] - cum_bad[lo]
        b_right = cum_bad[hi] - cum_bad[cut]
        n, b = n_left + n_right, b_left + b_right
        # n·Gini(node) − Σ n_side·Gini(side), Gini·n = 2·b·(n − b)/n
        gain = 2 * (
            b * (n - b) / n
            - b_left * (n_left - b_left) / np.maximum(n_left, 1)
            - b_right * (n_right - b_right) / np.maximum(n_right, 1)
        )
        gain = np.where(ok, gain, -1.0)
        k = int(np.argmax(gain))
        return float(gain[k]), int(cut[k])

    leaves = [(0, rows.size, *best_split(0, rows.size))]
    starts: list[int] = []
    while len(leaves) < max_leaves:
        k = max(range(len(leaves)), key=lambda i: leaves[i][2])
        lo, hi, gain, cut = leaves[k]
        if cut < 0 or gain <= 1e-12:
            break
        starts.append(cut)
        leaves[k : k + 1] = [(lo, cut, *best_split(lo, cut)), (cut, hi, *best_split(cut, hi))]
    return sorted(starts)


def _iv_terms(bad: F64, good: F64, total_bad: float, total_good: float) -> F64:
    b = np.maximum(bad, 0.5) / total_bad
    g = np.maximum(good, 0.5) / total_good
    return np.asarray((b - g) * np.log(b / g), dtype=np.float64)


def _pool(rows: list[float], bad: list[float], direction: int) -> list[int]:
    """Pool adjacent violators: the finest grouping of consecutive pre-bins whose bad rates rise
    (``direction`` +1) or fall (−1) — the isotonic fit of the bad rate, which for a monotone
    binning is also the grouping of largest information value. Returns the sizes of the groups
    in pre-bins."""
    blocks: list[list[float]] = []  # [rows, bad, pre-bins]
    for n, b in zip(rows, bad, strict=True):
        blocks.append([n, b, 1])
        while len(blocks) > 1:
            (n1, b1, _), (n2, b2, _) = blocks[-2], blocks[-1]
            if direction * (b2 * n1 - b1 * n2) > 0 or n1 == 0 or n2 == 0:
                break  # strictly in the direction: keep apart
            blocks[-2:] = [[n1 + n2, b1 + b2, blocks[-2][2] + blocks[-1][2]]]
    return [int(k) for _, _, k in blocks]


def _coarsen(
    rows: F64, bad: F64, sizes: list[int], min_rows: float, max_bins: int | None,
    total_bad: float, total_good: float,
) -> list[int]:  # fmt: skip
    """Merge neighbouring groups until every group has ≥ ``min_rows`` rows and there are at most
    ``max_bins``, each time the merge that loses the least information value (a merge of
    neighbours keeps a monotone sequence of bad rates monotone)."""
    n = [float(v) for v in rows]
    b = [float(v) for v in bad]
    k = list(sizes)
    while len(n) > 1:
        small = [i for i, v in enumerate(n) if v < min_rows]
        if not small and (max_bins is None or len(n) <= max_bins):
            break
        pairs = range(len(n) - 1)
        if small:
            i = min(small, key=lambda j: n[j])
            pairs = range(max(i - 1, 0), min(i, len(n) - 2) + 1)

        def loss(i: int) -> float:
            before = _iv_terms(
                np.array(b[i : i + 2]),
                np.array(n[i : i + 2]) - np.array(b[i : i + 2]),
                total_bad,
                total_good,
            ).sum()
            after = _iv_terms(
                np.array([b[i] + b[i + 1]]),
                np.array([n[i] + n[i + 1] - b[i] - b[i + 1]]),
                total_bad,
                total_good,
            ).sum()
            return float(before - after)

        i = min(pairs, key=loss)
        n[i : i + 2], b[i : i + 2], k[i : i + 2] = (
            [n[i] + n[i + 1]],
            [b[i] + b[i + 1]],
            [k[i] + k[i + 1]],
        )
    return k


def fit_bins(
    x: F64, y: NDArray[Any], *, trend: str = "auto_asc_desc", binning: Binning = COARSE
) -> tuple[tuple[float, ...], int]:
    """Monotonic optimal split points of ``x`` for ``y`` and their direction (+1: the bad rate
    rises with the value, −1: it falls; 0 with no split). CART pre-bins, pooled so that the bad
    rate only rises or only falls (``trend``: ``auto_asc_desc`` takes the direction of larger
    information value), then neighbours merged, least information lost first, down to the
    minimum bin size and the maximum number of bins of ``binning``."""
    if trend not in _TRENDS:
        raise ValueError(f"monotonic trend {trend!r}: use one of {', '.join(_TRENDS)}")
    values, rows, bad = _grouped(x, y)
    if values.size < 2:
        return (), 0
    n = float(len(x))
    starts = _prebin(rows, bad, binning.max_n_prebins, math.ceil(binning.min_prebin_size * n))
    if not starts:
        return (), 0
    edges = [0, *starts, values.size]
    pre_rows = np.add.reduceat(rows, edges[:-1])
    pre_bad = np.add.reduceat(bad, edges[:-1])
    # A pre-bin without a default or without a good row has an infinite WOE: it joins its
    # neighbour first (optbinning's pre-binning refinement does the same).
    pure = (pre_bad == 0) | (pre_bad == pre_rows)
    while pure.any() and len(edges) > 2:
        i = int(np.argmax(pure))
        drop = i + 1 if i + 1 < len(edges) - 1 else i  # the boundary to the next pre-bin
        del edges[drop]
        pre_rows = np.add.reduceat(rows, edges[:-1])
        pre_bad = np.add.reduceat(bad, edges[:-1])
        pure = (pre_bad == 0) | (pre_bad == pre_rows)
    if len(edges) <= 2:
        return (), 0
    total_bad = max(float(np.sum(np.asarray(y) == 1)), 1.0)
    total_good = max(n - total_bad, 1.0)
    best: tuple[float, list[int], int] | None = None
    for direction in _TRENDS[trend]:
        sizes = _pool(pre_rows.tolist(), pre_bad.tolist(), direction)
        grouped_rows = np.add.reduceat(pre_rows, np.cumsum([0, *sizes[:-1]]))
        grouped_bad = np.add.reduceat(pre_bad, np.cumsum([0, *sizes[:-1]]))
        sizes = _coarsen(
            grouped_rows, grouped_bad, sizes,
            (binning.min_bin_size or 0.0) * n, binning.max_n_bins, total_bad, total_good,
        )  # fmt: skip
        starts_of = np.cumsum([0, *sizes[:-1]]).astype(np.int64)
        final_rows = np.add.reduceat(pre_rows, starts_of)
        final_bad = np.add.reduceat(pre_bad, starts_of)
        iv = float(_iv_terms(final_bad, final_rows - final_bad, total_bad, total_good).sum())
        if best is None or iv > best[0] + 1e-12:
            best = (iv, sizes, direction)
    assert best is not None
    _, sizes, direction = best
    cuts = [edges[int(e)] for e in np.cumsum(sizes)[:-1]]
    splits = tuple(float((values[c - 1] + values[c]) / 2) for c in cuts)
    return splits, (direction if splits else 0)


def fit_splits(
    x: F64, y: NDArray[Any], *, trend: str = "auto_asc_desc", binning: Binning = COARSE
) -> tuple[float, ...]:
    """Monotonic optimal split points of ``x`` for ``y`` (:func:`fit_bins` without the
    direction)."""
    return fit_bins(x, y, trend=trend, binning=binning)[0]


def _monotone(values: F64, weights: F64, direction: int) -> F64:
    """The weighted isotonic fit of ``values`` (rising for ``direction`` +1, falling for −1)."""
    v = [float(a) * direction for a in values]
    w = [max(float(a), 1e-9) for a in weights]
    blocks: list[list[float]] = []  # [mean, weight, count]
    for a, b in zip(v, w, strict=True):
        blocks.append([a, b, 1])
        while len(blocks) > 1 and blocks[-2][0] > blocks[-1][0]:
            (m1, w1, k1), (m2, w2, k2) = blocks[-2], blocks[-1]
            blocks[-2:] = [[(m1 * w1 + m2 * w2) / (w1 + w2), w1 + w2, k1 + k2]]
    out = [m * direction for m, _, k in blocks for _ in range(int(k))]
    return np.asarray(out, dtype=np.float64)


def bin_stats(
    code: str, x: F64, y: NDArray[Any], splits: Sequence[float], *, direction: int = 0
) -> BinStats:
    """Counts, WOE and IV of ``x`` in the bins of ``splits`` (and a missing bin). With a
    ``direction`` (the binning's, +1 or −1) the WOE of the value bins is made monotone that way:
    the half-count smoothing of small cells can otherwise turn two near-equal bad rates round."""
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
    if direction:
        woe[:-1] = _monotone(woe[:-1], (bad + good)[:-1].astype(np.float64), direction)
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
    n, k = design.shape
    z = np.column_stack([np.ones(n), design])
    yy = np.asarray(y, dtype=np.float64)
    penalty = np.full(k + 1, 1.0 / c)
    penalty[0] = 0.0

    def loss(beta: F64) -> float:
        eta = z @ beta
        return float(np.sum(np.logaddexp(0.0, eta) - yy * eta) + np.sum(penalty * beta**2) / 2)

    rate = min(max(float(yy.mean()), 1e-6), 1 - 1e-6)
    beta = np.zeros(k + 1)
    beta[0] = math.log(rate / (1 - rate))
    value = loss(beta)
    # Projected Newton (Bertsekas 1982): a Newton step on the coefficients not held at their
    # bound, then back onto β ≥ 0 with a backtracking line search. The problem has a few dozen
    # columns and is strictly convex, so it ends in a handful of steps (scipy's L-BFGS-B took
    # over a hundred and most of the fit's time).
    for _ in range(200):
        eta = z @ beta
        p = np.exp(-np.logaddexp(0.0, -eta))  # sigmoid without overflow
        grad = z.T @ (p - yy) + penalty * beta
        hessian = (z.T * (p * (1 - p))) @ z + np.diag(penalty + 1e-12)
        free = np.ones(k + 1, dtype=bool)
        free[1:] = ~((beta[1:] <= 0.0) & (grad[1:] > 0))
        step = np.zeros(k + 1)
        step[free] = -np.linalg.solve(hessian[np.ix_(free, free)], grad[free])
        t = 1.0
        while True:
            trial = beta + t * step
            trial[1:] = np.maximum(trial[1:], 0.0)
            new_value = loss(trial)
            if new_value <= value + 1e-4 * float(grad @ (trial - beta)) or t < 1e-12:
                break
            t /= 2
        moved = float(np.max(np.abs(trial - beta)))
        beta, previous, value = trial, value, min(new_value, value)
        if moved < 1e-10 or previous - new_value < 1e-12 * max(abs(previous), 1.0):
            break
    return beta


def _penalised_loss(design: F64, y: NDArray[Any], beta: F64, c: float) -> float:
    eta = beta[0] + design @ beta[1:]
    return float(np.sum(np.logaddexp(0.0, eta) - y * eta) + np.sum(beta[1:] ** 2) / (2 * c))


@dataclass(frozen=True)
class _Column:
    """One WOE column of the regression: one indicator binned at one granularity."""

    indicator: int  # column of ``values``
    stats: BinStats
    binning: str
    direction: int  # +1: the bad rate rises with the value; −1: it falls


_TREND_OF = {1: "ascending", -1: "descending"}


def _columns(
    values: F64, y: NDArray[np.int64], codes: Sequence[str], rules: TrainingRules,
    grid: Sequence[Binning],
) -> tuple[list[BinStats], list[_Column]]:  # fmt: skip
    """Bin every indicator at each granularity of ``grid``. Returns each indicator's statistics
    on the union of its splits (the bins a card would show, whose IV decides entry) and the WOE
    columns of the indicators with IV ≥ ``min_iv``.

    The first (coarsest) binning chooses the direction and every other granularity is cut the
    same way, so the step functions the regression mixes all rise or all fall."""
    union: list[BinStats] = []
    columns: list[_Column] = []
    for j, code in enumerate(codes):
        x = values[:, j]
        cuts: list[tuple[float, ...]] = []
        direction = 0
        for binning in grid:
            trend = _TREND_OF[direction] if direction else rules.monotonic_trend
            splits, found = fit_bins(x, y, trend=trend, binning=binning)
            direction = direction or found
            cuts.append(splits)
        union.append(bin_stats(code, x, y, sorted(set().union(*cuts)), direction=direction))
        if not union[-1].splits or union[-1].iv < rules.min_iv:
            continue
        for k, binning in enumerate(grid):
            if not cuts[k] or cuts[k] in cuts[:k]:  # no cut, or the same cuts as a coarser one
                continue
            stats = bin_stats(code, x, y, cuts[k], direction=direction)
            columns.append(_Column(j, stats, binning.name, direction))
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
            trend = _TREND_OF[column.direction]
            cuts = fit_splits(x, y[fit_rows], trend=trend, binning=binnings[column.binning])
            stats = bin_stats(column.stats.code, x, y[fit_rows], cuts, direction=column.direction)
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
        raise keyed(TrainingRefused, "error.scoring.nothing_selected")
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
