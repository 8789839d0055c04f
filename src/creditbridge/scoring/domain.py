"""Pure rules of scoring: a scorecard as bins and integer points, scored vectorised over a whole
province at once; grades from cut-offs; reason codes (points lost against the best bin); the
cut-offs calibrated to default rates; the validation figures (AUC, KS, Gini, lift, PSI); and the
scorecard written as SQL ``CASE`` expressions that give the same integers.

Points are integers per bin, so a score is an integer sum and the SQL export reproduces it
exactly: no floating rounding happens after the bins are chosen.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

import numpy as np
from numpy.typing import NDArray

GRADES: Final[tuple[str, ...]] = ("AAA", "AA", "A", "BBB", "BB", "B", "CCC", "CC", "C")
MAX_REASONS: Final = 3

F64 = NDArray[np.float64]
I64 = NDArray[np.int64]


@dataclass(frozen=True)
class Bins:
    """One indicator's bins: [-inf, s1), [s1, s2), …, [sn, +inf) with ``points`` each, and the
    points of a missing value."""

    code: str
    splits: tuple[float, ...]
    points: tuple[int, ...]
    missing: int

    @property
    def best(self) -> int:
        return max(*self.points, self.missing)

    def bin_of(self, values: F64) -> I64:
        """Bin index per value; ``len(points)`` stands for missing."""
        index = np.searchsorted(np.asarray(self.splits, dtype=np.float64), values, side="right")
        return np.where(np.isnan(values), len(self.points), index).astype(np.int64)

    def as_dict(self) -> dict[str, Any]:
        return {"splits": list(self.splits), "points": list(self.points), "missing": self.missing}

    @classmethod
    def from_dict(cls, code: str, data: Mapping[str, Any]) -> Bins:
        return cls(
            code,
            tuple(float(s) for s in data["splits"]),
            tuple(int(p) for p in data["points"]),
            int(data["missing"]),
        )


@dataclass(frozen=True)
class Card:
    """A scorecard: ``base`` + the points of each indicator's bin; ``cutoffs`` are the lowest
    scores of AAA, AA, …, CC (eight, decreasing)."""

    base: int
    bins: tuple[Bins, ...]
    cutoffs: tuple[int, ...]

    @property
    def codes(self) -> tuple[str, ...]:
        return tuple(b.code for b in self.bins)

    def as_dict(self) -> dict[str, Any]:
        return {
            "base": self.base,
            "bins": {b.code: b.as_dict() for b in self.bins},
            "cutoffs": list(self.cutoffs),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Card:
        return cls(
            int(data["base"]),
            tuple(Bins.from_dict(code, spec) for code, spec in data["bins"].items()),
            tuple(int(c) for c in data["cutoffs"]),
        )

    def with_cutoffs(self, cutoffs: Sequence[int]) -> Card:
        return Card(self.base, self.bins, tuple(int(c) for c in cutoffs))


@dataclass(frozen=True)
class Scored:
    """A batch scored: per row the score, the grade index into :data:`GRADES`, and up to three
    reasons as (indicator column, points lost), largest loss first; -1 / 0 where fewer."""

    score: I64
    grade: I64
    reason_index: I64  # (n, 3) column of the indicator, -1 for none
    reason_lost: I64  # (n, 3)
    points: I64 = field(repr=False)  # (n, k)


def grade_index(scores: I64, cutoffs: Sequence[int]) -> I64:
    """0 (AAA) … 8 (C): the number of cut-offs above the score."""
    ascending = np.asarray(cutoffs[::-1], dtype=np.int64)
    return (len(cutoffs) - np.searchsorted(ascending, scores, side="right")).astype(np.int64)


def score_matrix(card: Card, values: F64) -> Scored:
    """Score every row of ``values`` (n × k, columns in ``card.codes`` order, NaN = missing).

    Works column by column on a (k × n) layout (no copy when ``values`` is column-major, as
    :class:`~creditbridge.scoring.analytics.IndicatorFrame` keeps it): each bin adds its step in
    points where the value reaches the split, so no per-row Python and no sorting of bins. The
    three largest losses come from three max-reductions over keys ``loss · M + (M − 1 − j)``,
    unique per row, which also break ties towards the earlier indicator."""
    n, k = values.shape
    if k != len(card.bins):
        raise ValueError(f"{k} columns for {len(card.bins)} indicators")
    columns = np.ascontiguousarray(values.T)
    worst = max((b.best - min(*b.points, b.missing) for b in card.bins), default=0)
    slots = 1 << max(k - 1, 1).bit_length()  # a power of two > the largest column number
    small = (worst + 1) * slots < np.iinfo(np.int16).max
    kind: Any = np.int16 if small else np.int32
    points = np.empty((k, n), dtype=kind)
    keys = np.empty((k, n), dtype=kind)
    for j, bins in enumerate(card.bins):
        x = columns[j]
        column: Any = np.full(n, bins.points[0], dtype=kind)
        for split, step in zip(bins.splits, np.diff(bins.points), strict=True):
            if step:
                column += (x >= split).astype(kind) * kind(step)
        column[np.isnan(x)] = bins.missing
        points[j] = column
        keys[j] = (bins.best - column) * kind(slots) + kind(slots - 1 - j)
    score = card.base + points.sum(axis=0, dtype=np.int64)
    top = min(MAX_REASONS, k)
    reason_index = np.full((n, MAX_REASONS), -1, dtype=np.int64)
    reason_lost = np.zeros((n, MAX_REASONS), dtype=np.int64)
    for r in range(top):
        best = keys.max(axis=0)
        lost = best // slots
        has = lost > 0
        reason_lost[:, r] = np.where(has, lost, 0)
        reason_index[:, r] = np.where(has, slots - 1 - best % slots, -1)
        if r + 1 < top:
            keys[keys == best] = -1
    return Scored(
        score=score,
        grade=grade_index(score, card.cutoffs),
        reason_index=reason_index,
        reason_lost=reason_lost,
        points=points.T,
    )


# ------------------------------------------------------------------ calibration


def logistic_fit(x: F64, y: NDArray[Any], iterations: int = 50) -> tuple[float, float]:
    """Maximum-likelihood (a, b) of P(y=1) = 1 / (1 + exp(-(a + b·x))), by Newton's method on
    standardised x (two parameters: no library needed)."""
    mean, sd = float(np.mean(x)), float(np.std(x)) or 1.0
    z = (np.asarray(x, dtype=np.float64) - mean) / sd
    t = np.asarray(y, dtype=np.float64)
    beta = np.array([math.log((t.mean() + 1e-9) / (1 - t.mean() + 1e-9)), 0.0])
    design = np.column_stack([np.ones_like(z), z])
    for _ in range(iterations):
        p = 1 / (1 + np.exp(-(design @ beta)))
        w = p * (1 - p) + 1e-12
        gradient = design.T @ (t - p)
        hessian = design.T @ (design * w[:, None]) + np.eye(2) * 1e-9
        step = np.linalg.solve(hessian, gradient)
        beta += step
        if float(np.max(np.abs(step))) < 1e-10:
            break
    b = float(beta[1] / sd)
    return float(beta[0] - b * mean), b


def calibrated_cutoffs(
    scores: NDArray[Any], bad: NDArray[Any], pd_ceilings: Sequence[float]
) -> tuple[int, ...] | None:
    """The lowest score of each grade but the last: where the PD fitted on (score, outcome)
    falls to the grade's ceiling. None when the fit has the wrong sign (a higher score would
    mean more defaults) and cannot rank."""
    a, b = logistic_fit(np.asarray(scores, dtype=np.float64), bad)
    if not b < 0:
        return None
    cuts = [math.ceil((math.log(pd / (1 - pd)) - a) / b) for pd in pd_ceilings]
    # Strictly decreasing, so that no grade is empty by construction.
    for i in range(1, len(cuts)):
        cuts[i] = min(cuts[i], cuts[i - 1] - 1)
    return tuple(cuts)


def pd_of_score(scores: F64, a: float, b: float) -> F64:
    return np.asarray(1 / (1 + np.exp(-(a + b * scores))), dtype=np.float64)


# ------------------------------------------------------------------ validation figures


def auc(bad: NDArray[Any], risk: NDArray[Any]) -> float:
    """Area under the ROC curve of ``risk`` (higher = riskier) for ``bad`` (1) against good (0),
    by the rank-sum formula with ties averaged."""
    y = np.asarray(bad, dtype=bool)
    n_bad, n_good = int(y.sum()), int((~y).sum())
    if n_bad == 0 or n_good == 0:
        return float("nan")
    order = np.argsort(risk, kind="mergesort")
    sorted_risk = np.asarray(risk)[order]
    ranks = np.empty(len(y), dtype=np.float64)
    # average ranks over ties
    _, first, counts = np.unique(sorted_risk, return_index=True, return_counts=True)
    avg = first + (counts + 1) / 2.0
    ranks[order] = np.repeat(avg, counts)
    return float((ranks[y].sum() - n_bad * (n_bad + 1) / 2) / (n_bad * n_good))


def ks(bad: NDArray[Any], risk: NDArray[Any]) -> float:
    """Largest gap between the cumulative shares of bad and good as the risk threshold moves."""
    y = np.asarray(bad, dtype=bool)
    if y.all() or not y.any():
        return float("nan")
    values = np.asarray(risk, dtype=np.float64)
    thresholds = np.unique(values)
    bad_cdf = np.searchsorted(np.sort(values[y]), thresholds, side="right") / y.sum()
    good_cdf = np.searchsorted(np.sort(values[~y]), thresholds, side="right") / (~y).sum()
    return float(np.max(np.abs(bad_cdf - good_cdf)))


def lift_table(bad: NDArray[Any], risk: NDArray[Any], groups: int = 10) -> list[dict[str, Any]]:
    """Deciles by descending risk: count, bads, bad rate, lift over the mean, cumulative capture."""
    y = np.asarray(bad, dtype=np.float64)
    order = np.argsort(-np.asarray(risk, dtype=np.float64), kind="stable")
    parts = np.array_split(order, groups)
    mean = y.mean() if len(y) else 0.0
    total_bad = y.sum()
    rows, captured = [], 0.0
    for i, part in enumerate(parts, 1):
        bads = float(y[part].sum())
        captured += bads
        rate = bads / len(part) if len(part) else 0.0
        rows.append(
            {
                "decile": i,
                "count": len(part),
                "bad": int(bads),
                "bad_rate": rate,
                "lift": rate / mean if mean else 0.0,
                "cumulative_capture": captured / total_bad if total_bad else 0.0,
            }
        )
    return rows


def psi(
    expected: NDArray[Any], actual: NDArray[Any], edges: Sequence[float] | None = None
) -> float:
    """Population stability index of ``actual`` against ``expected``: Σ (a−e)·ln(a/e) over bins
    (deciles of ``expected`` unless ``edges`` given); shares floored at 1e-4."""
    e = np.asarray(expected, dtype=np.float64)
    a = np.asarray(actual, dtype=np.float64)
    if len(e) == 0 or len(a) == 0:
        return float("nan")
    if edges is None:
        edges = (
            np.unique(np.quantile(e[~np.isnan(e)], np.linspace(0.1, 0.9, 9))).tolist()
            if (~np.isnan(e)).any()
            else []
        )
    cuts = np.asarray(edges, dtype=np.float64)

    def shares(x: F64) -> F64:
        index = np.where(np.isnan(x), len(cuts) + 1, np.searchsorted(cuts, x, side="right"))
        counts = np.bincount(index.astype(np.int64), minlength=len(cuts) + 2)
        return np.maximum(counts / len(x), 1e-4)

    se, sa = shares(e), shares(a)
    return float(np.sum((sa - se) * np.log(sa / se)))


def psi_of_bins(expected: I64, actual: I64, n_bins: int) -> float:
    """PSI over given bin indices (e.g. a scorecard's bins of an indicator, missing included)."""
    if len(expected) == 0 or len(actual) == 0:
        return float("nan")
    se = np.maximum(np.bincount(expected, minlength=n_bins) / len(expected), 1e-4)
    sa = np.maximum(np.bincount(actual, minlength=n_bins) / len(actual), 1e-4)
    return float(np.sum((sa - se) * np.log(sa / se)))


def rate_by_grade(bad: NDArray[Any], grades: I64) -> list[dict[str, Any]]:
    y = np.asarray(bad, dtype=np.float64)
    rows = []
    for i, grade in enumerate(GRADES):
        mask = grades == i
        count = int(mask.sum())
        rows.append(
            {
                "grade": grade,
                "count": count,
                "bad": int(y[mask].sum()),
                "bad_rate": float(y[mask].mean()) if count else None,
            }
        )
    return rows


def monotone_rates(rows: Sequence[Mapping[str, Any]]) -> bool:
    """Whether the observed default rate never falls from a better grade to a worse one
    (grades without rows are skipped)."""
    rates = [r["bad_rate"] for r in rows if r["bad_rate"] is not None]
    return all(b >= a for a, b in itertools.pairwise(rates))


# ------------------------------------------------------------------ credit building (信用培育)


@dataclass(frozen=True)
class Improvement:
    """What would raise one indicator's points: reach ``target`` (``direction`` at_least /
    below / provide) and gain ``gain`` points."""

    code: str
    direction: str
    target: float | None
    gain: int


def _bin(bins: Bins, value: float | None) -> int:
    assert value is not None
    return int(np.searchsorted(np.asarray(bins.splits, dtype=np.float64), value, side="right"))


def improvements(card: Card, row: Mapping[str, float | None]) -> list[Improvement]:
    """For each indicator below its best points, the nearest bin change to the best bin,
    largest gain first."""
    found = []
    for bins in card.bins:
        value = row.get(bins.code)
        missing = value is None or (isinstance(value, float) and math.isnan(value))
        current = bins.missing if missing else bins.points[_bin(bins, value)]
        gain = bins.best - current
        if gain <= 0:
            continue
        best_bin = max(range(len(bins.points)), key=lambda i: (bins.points[i], -i))
        if missing and bins.missing >= max(bins.points):
            continue
        if missing:
            found.append(Improvement(bins.code, "provide", None, gain))
            continue
        here = _bin(bins, value)
        if best_bin > here:
            found.append(Improvement(bins.code, "at_least", bins.splits[best_bin - 1], gain))
        else:
            found.append(Improvement(bins.code, "below", bins.splits[best_bin], gain))
    return sorted(found, key=lambda i: -i.gain)


# ------------------------------------------------------------------ SQL export


def _number(value: float) -> str:
    text = repr(float(value))
    return text if "e" not in text else f"{value:.17g}"


def bins_sql(bins: Bins, column: str) -> str:
    parts = [f"CASE WHEN {column} IS NULL THEN {bins.missing}"]
    for split, points in zip(bins.splits, bins.points, strict=False):
        parts.append(f"WHEN {column} < {_number(split)} THEN {points}")
    parts.append(f"ELSE {bins.points[-1]} END")
    return " ".join(parts)


def score_sql(card: Card, columns: Mapping[str, str] | None = None) -> str:
    """The score as one SQL expression over columns named by indicator code."""
    terms = [str(card.base)] + [
        f"({bins_sql(b, (columns or {}).get(b.code, b.code))})" for b in card.bins
    ]
    return "\n  + ".join(terms)


def grade_sql(card: Card, score: str) -> str:
    parts = ["CASE"]
    for cutoff, grade in zip(card.cutoffs, GRADES, strict=False):
        parts.append(f"WHEN {score} >= {cutoff} THEN '{grade}'")
    parts.append(f"ELSE '{GRADES[-1]}' END")
    return " ".join(parts)


def card_sql(card: Card, table: str = "indicator") -> str:
    """A SELECT giving subject_id, score and grade for every row of ``table``."""
    return (
        f"SELECT subject_id, score, {grade_sql(card, 'score')} AS grade\n"
        f"FROM (SELECT subject_id,\n  {score_sql(card)} AS score\nFROM {table}) scored"
    )
