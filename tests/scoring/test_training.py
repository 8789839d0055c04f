"""The statistical scorecard fit (arrays in, card out): monotone integer points (by construction,
checked by a property test over random tables), IV selection and selection on cross-fitted WOE,
both binning granularities in one penalised fit with positive coefficients, and backward stepwise
down to ``max_features``."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from numpy.typing import NDArray

from creditbridge.scoring import domain, training
from creditbridge.scoring.errors import TrainingRefused
from creditbridge.scoring.schemas import Scaling, TrainingRules

RULES = TrainingRules(min_rows=100, min_bad=10, min_iv=0.02, max_features=5, test_share=0, seed=3)
SCALING = Scaling(base_score=600, base_odds=50, pdo=20)
CODES = ["arrears", "revenue", "age", "noise"]


def sample(n: int = 1500, seed: int = 11) -> tuple[NDArray[np.float64], NDArray[np.int64]]:
    """Risk rises with arrears, falls with revenue; age has a valley; noise is noise; a few
    revenue values are missing."""
    rng = np.random.default_rng(seed)
    arrears = rng.poisson(1.0, n).astype(float)
    revenue = rng.lognormal(3, 1, n)
    age = rng.uniform(1, 30, n)
    noise = rng.normal(size=n)
    logit = -1.5 + 0.8 * arrears - 0.6 * np.log(revenue) + 0.002 * (age - 15) ** 2
    bad = (rng.uniform(size=n) < 1 / (1 + np.exp(-logit))).astype(np.int64)
    revenue[rng.uniform(size=n) < 0.05] = np.nan
    return np.column_stack([arrears, revenue, age, noise]), bad


def test_points_are_integers_and_move_one_way_across_bins() -> None:
    values, bad = sample()
    fitted = training.fit_scorecard(values, bad, CODES, rules=RULES, scaling=SCALING)
    assert {"arrears", "revenue"} <= set(fitted.selected)
    assert "noise" not in fitted.selected
    for bins in fitted.card.bins:
        points = list(bins.points)
        assert all(isinstance(p, int) for p in [*points, bins.missing])
        steps = np.diff(points)
        assert (steps <= 0).all() or (steps >= 0).all(), (bins.code, points)
        assert (steps != 0).all(), (bins.code, points)  # equal neighbours are one bin
    by_code = {b.code: b.points for b in fitted.card.bins}
    assert by_code["arrears"][0] > by_code["arrears"][-1]  # more arrears, fewer points
    assert by_code["revenue"][0] < by_code["revenue"][-1]  # more revenue, more points


def test_card_scores_rank_like_the_logistic_fit() -> None:
    values, bad = sample()
    fitted = training.fit_scorecard(values, bad, CODES, rules=RULES, scaling=SCALING)
    columns = [CODES.index(c) for c in fitted.card.codes]
    scores = domain.score_matrix(fitted.card, values[:, columns]).score.astype(float)
    assert domain.auc(bad, -scores) > 0.7
    factor = SCALING.pdo / math.log(2)
    expected_base = SCALING.base_score - factor * math.log(SCALING.base_odds)
    assert fitted.card.base == round(expected_base - factor * fitted.intercept)


def test_both_granularities_enter_one_fit_and_the_card_cuts_where_they_cut() -> None:
    values, bad = sample()
    fitted = training.fit_scorecard(values, bad, CODES, rules=RULES, scaling=SCALING)
    assert fitted.binning == "coarse+fine"
    assert {key.split(":")[1] for key in fitted.coefficients} <= {"coarse", "fine"}
    assert all(c > 0 for c in fitted.coefficients.values())
    for bins in fitted.card.bins:
        x = values[:, CODES.index(bins.code)]
        cuts = set(training.fit_splits(x, bad, binning=training.COARSE))
        cuts |= set(training.fit_splits(x, bad, binning=training.FINE))
        assert set(bins.splits) <= cuts
    again = training.fit_scorecard(values, bad, CODES, rules=RULES, scaling=SCALING)
    assert again.card == fitted.card


def test_a_single_granularity_gives_its_own_bins() -> None:
    values, bad = sample()
    fitted = training.fit_scorecard(
        values, bad, CODES, rules=RULES, scaling=SCALING, grid=(training.COARSE,)
    )
    assert fitted.binning == "coarse"
    assert {key.split(":")[1] for key in fitted.coefficients} == {"coarse"}
    assert all(len(b.points) <= 6 for b in fitted.card.bins)  # COARSE: at most 6 bins


def test_fine_binning_allows_more_bins_than_coarse() -> None:
    values, bad = sample(n=4000)
    x = values[:, 2]  # the valley-shaped indicator is cut the monotone way either way
    coarse = training.fit_splits(x, bad, binning=training.COARSE)
    fine = training.fit_splits(x, bad, binning=training.FINE)
    assert len(coarse) + 1 <= 6
    assert len(fine) >= len(coarse)


def test_fewer_defaults_than_cross_fit_folds_still_trains() -> None:
    rng = np.random.default_rng(2)
    x = rng.normal(size=(300, 1))
    bad = np.zeros(300, dtype=np.int64)
    bad[[0, 1, 2, 100]] = 1  # four defaults, three of them among the 20 high values
    x[:20, 0] = 9.0
    fitted = training.fit_scorecard(x, bad, ["a"], rules=RULES, scaling=SCALING, check=False)
    assert fitted.selected == ("a",)


def test_backward_stepwise_keeps_the_strongest_indicators() -> None:
    values, bad = sample()
    rules = RULES.model_copy(update={"max_features": 1})
    fitted = training.fit_scorecard(values, bad, CODES, rules=rules, scaling=SCALING)
    assert fitted.selected == ("arrears",)  # the largest effect in ``sample``


def test_ridge_keeps_coefficients_positive_and_shrinks_them() -> None:
    rng = np.random.default_rng(4)
    design = rng.normal(size=(4000, 2))
    logit = -1.0 + 0.8 * design[:, 0] - 0.5 * design[:, 1]  # the second column lowers risk
    y = (rng.uniform(size=4000) < 1 / (1 + np.exp(-logit))).astype(np.int64)
    loose = training.fit_ridge(design, y, 1e6)
    assert loose[1] == pytest.approx(0.8, abs=0.1)
    assert loose[2] == 0.0  # held at the bound instead of turning the points around
    tight = training.fit_ridge(design, y, 1e-3)
    assert 0 < tight[1] < loose[1]


def test_nothing_informative_is_refused_with_a_reason() -> None:
    rng = np.random.default_rng(5)
    values = rng.normal(size=(600, 2))
    bad = (rng.uniform(size=600) < 0.2).astype(np.int64)
    with pytest.raises(TrainingRefused, match="没有指标通过"):
        training.fit_scorecard(
            values, bad, ["a", "b"], rules=RULES.model_copy(update={"min_iv": 0.5}), scaling=SCALING
        )


def _monotone(points: tuple[int, ...]) -> bool:
    steps = np.diff(points)
    return bool((steps >= 0).all() or (steps <= 0).all())


@st.composite
def tables(draw: st.DrawFn) -> tuple[NDArray[np.float64], NDArray[np.int64]]:
    """Random tables of the shapes that break binnings: few distinct values, ties, heavy tails,
    missing values, rare outcomes, a risk that rises then falls, and pure noise."""
    seed = draw(st.integers(0, 2**32 - 1))
    n = draw(st.integers(120, 900))
    bad_rate = draw(st.floats(0.03, 0.5))
    rng = np.random.default_rng(seed)
    columns = []
    logit = np.full(n, math.log(bad_rate / (1 - bad_rate)))
    for kind in draw(st.lists(st.sampled_from(["int", "heavy", "valley", "noise", "binary"]),
                              min_size=1, max_size=4)):  # fmt: skip
        if kind == "int":
            x = rng.integers(0, draw(st.integers(2, 12)), n).astype(float)
        elif kind == "heavy":
            x = rng.lognormal(0, 2, n)
        elif kind == "binary":
            x = (rng.uniform(size=n) < 0.1).astype(float)
        else:
            x = rng.normal(size=n)
        effect = draw(st.floats(-1.5, 1.5))
        logit += (
            effect * (x - np.nanmean(x)) ** 2
            if kind == "valley"
            else effect * np.sign(x - np.median(x))
        )
        x[rng.uniform(size=n) < draw(st.sampled_from([0.0, 0.02, 0.3]))] = np.nan
        columns.append(x)
    bad = (rng.uniform(size=n) < 1 / (1 + np.exp(-logit))).astype(np.int64)
    bad[:2] = [0, 1]  # both outcomes present
    return np.column_stack(columns), bad


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(tables())
def test_points_are_monotone_over_the_bins_of_every_indicator_on_any_table(
    table: tuple[NDArray[np.float64], NDArray[np.int64]],
) -> None:
    values, bad = table
    codes = [f"x{j}" for j in range(values.shape[1])]
    rules = RULES.model_copy(update={"min_iv": 0.0})
    try:
        fitted = training.fit_scorecard(
            values, bad, codes, rules=rules, scaling=SCALING, check=False
        )
    except TrainingRefused:
        return  # nothing informative: no card, nothing to check
    for bins in fitted.card.bins:
        assert _monotone(bins.points), (bins.code, bins.points)


def test_smoothing_never_turns_the_weight_of_evidence_round() -> None:
    # Two bins without a default, one small and one large: the same bad rate (0), but half a count
    # added to each gives the small bin the larger WOE — a fall inside a binning that rises.
    x = np.concatenate([np.zeros(10), np.ones(200), np.full(100, 2.0)])
    y = np.concatenate([np.zeros(210), (np.arange(100) < 60)]).astype(np.int64)
    raw = training.bin_stats("x", x, y, [0.5, 1.5])
    assert raw.woe[0] > raw.woe[1]  # what the smoothing does alone
    fixed = training.bin_stats("x", x, y, [0.5, 1.5], direction=1)
    assert fixed.woe[0] <= fixed.woe[1] <= fixed.woe[2]


def test_bins_follow_the_direction_of_the_bad_rate() -> None:
    values, bad = sample(n=4000)
    splits, direction = training.fit_bins(values[:, 0], bad, binning=training.FINE)
    assert direction == 1
    assert splits
    splits, direction = training.fit_bins(values[:, 1], bad, binning=training.FINE)
    assert direction == -1
    assert splits
    stats = training.bin_stats("revenue", values[:, 1], bad, splits)
    rates = [r["bad_rate"] for r in stats.table()[:-1]]
    assert rates == sorted(rates, reverse=True)
    coarse, _ = training.fit_bins(values[:, 1], bad, binning=training.COARSE)
    counts = [r["count"] for r in training.bin_stats("r", values[:, 1], bad, coarse).table()[:-1]]
    assert len(counts) <= 6
    assert min(counts) >= 0.05 * len(bad)


def test_an_unknown_trend_is_refused() -> None:
    values, bad = sample()
    with pytest.raises(ValueError, match="monotonic trend"):
        training.fit_bins(values[:, 0], bad, trend="peak")
