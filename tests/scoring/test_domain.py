"""Pure rules: bins and points, grades, reasons, calibration, validation figures, SQL export."""

from __future__ import annotations

import math

import duckdb
import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.metrics import roc_auc_score

from creditbridge.scoring import domain
from creditbridge.scoring.domain import Bins, Card

CARD = Card(
    base=300,
    bins=(
        Bins("a", (1.0, 5.0), (0, 20, 40), missing=10),
        Bins("b", (0.5,), (30, 0), missing=30),
        Bins("c", (-0.1, 0.1), (0, 10, 15), missing=5),
        Bins("d", (2.0, 3.0, 10.0), (0, 5, 8, 12), missing=0),
    ),
    cutoffs=(390, 380, 370, 360, 350, 340, 330, 320),
)


def _naive(card: Card, row: list[float]) -> tuple[int, list[tuple[int, int]]]:
    total, lost = card.base, []
    for j, b in enumerate(card.bins):
        x = row[j]
        if math.isnan(x):
            points = b.missing
        else:
            index = sum(1 for s in b.splits if x >= s)
            points = b.points[index]
        total += points
        lost.append((b.best - points, j))
    return total, lost


values = st.floats(min_value=-20, max_value=20, allow_nan=False) | st.just(float("nan"))


@settings(max_examples=200, deadline=None)
@given(st.lists(st.lists(values, min_size=4, max_size=4), min_size=1, max_size=30))
def test_vectorised_scores_and_reasons_equal_a_row_by_row_loop(rows: list[list[float]]) -> None:
    scored = domain.score_matrix(CARD, np.asarray(rows, dtype=np.float64))
    for i, row in enumerate(rows):
        total, lost = _naive(CARD, row)
        assert scored.score[i] == total
        expected = sorted((loss for loss in lost if loss[0] > 0), key=lambda t: -t[0])[:3]
        got = [
            (int(lo), int(ix))
            for lo, ix in zip(scored.reason_lost[i], scored.reason_index[i], strict=True)
            if ix >= 0
        ]
        assert [g[0] for g in got] == [e[0] for e in expected]
        assert all(CARD.bins[ix].best - scored.points[i, ix] == lo for lo, ix in got)


def test_grade_boundaries() -> None:
    scores = np.array([400, 390, 389, 380, 331, 330, 329, 320, 319, 0])
    grades = [domain.GRADES[g] for g in domain.grade_index(scores, CARD.cutoffs)]
    assert grades == ["AAA", "AAA", "AA", "AA", "CCC", "CCC", "CC", "CC", "C", "C"]


def test_value_on_a_split_falls_in_the_upper_bin() -> None:
    scored = domain.score_matrix(CARD, np.array([[1.0, 0.5, 0.1, 10.0]]))
    assert scored.points[0].tolist() == [20, 0, 15, 12]


def test_auc_and_ks_agree_with_known_values() -> None:
    rng = np.random.default_rng(1)
    risk = rng.normal(size=2000)
    bad = (rng.random(2000) < 1 / (1 + np.exp(-(risk * 1.5 - 2)))).astype(int)
    assert domain.auc(bad, risk) == pytest.approx(roc_auc_score(bad, risk), abs=1e-12)
    # KS of a perfect separation is 1, of identical distributions near 0
    assert domain.ks(np.array([0, 0, 1, 1]), np.array([0.1, 0.2, 0.8, 0.9])) == 1.0
    assert math.isnan(domain.auc(np.zeros(5), np.arange(5)))


def test_psi_is_zero_for_the_same_distribution_and_grows_with_a_shift() -> None:
    rng = np.random.default_rng(2)
    base = rng.normal(size=5000)
    assert domain.psi(base, base) == pytest.approx(0.0, abs=1e-12)
    assert domain.psi(base, base + 1.0) > 0.25


def test_calibrated_cutoffs_decrease_and_follow_the_pd_ceilings() -> None:
    rng = np.random.default_rng(3)
    score = rng.normal(600, 50, size=20000)
    pd_true = 1 / (1 + np.exp(-(-3.5 - (score - 600) / 30)))
    bad = (rng.random(20000) < pd_true).astype(int)
    ceilings = (0.0025, 0.005, 0.01, 0.02, 0.035, 0.06, 0.10, 0.20)
    cuts = domain.calibrated_cutoffs(score, bad, ceilings)
    assert cuts is not None
    assert list(cuts) == sorted(cuts, reverse=True)
    _a, b = domain.logistic_fit(score, bad)
    assert b == pytest.approx(-1 / 30, rel=0.15)
    assert domain.calibrated_cutoffs(score, 1 - bad, ceilings) is None


def test_improvements_point_to_the_best_bin() -> None:
    found = domain.improvements(CARD, {"a": 2.0, "b": 1.0, "c": None, "d": 12.0})
    by_code = {i.code: i for i in found}
    assert by_code["a"].direction == "at_least"
    assert by_code["a"].target == 5.0
    assert by_code["a"].gain == 20
    assert by_code["b"].direction == "below"
    assert by_code["b"].target == 0.5
    assert by_code["b"].gain == 30
    assert by_code["c"].direction == "provide"
    assert by_code["c"].gain == 10
    assert "d" not in by_code
    assert [i.gain for i in found] == sorted((i.gain for i in found), reverse=True)


def test_rates_by_grade_and_monotonicity() -> None:
    grades = np.array([0, 0, 1, 1, 8, 8])
    rows = domain.rate_by_grade(np.array([0, 0, 0, 1, 1, 1]), grades)
    assert rows[0]["bad_rate"] == 0
    assert rows[1]["bad_rate"] == 0.5
    assert rows[2]["bad_rate"] is None
    assert domain.monotone_rates(rows)
    assert not domain.monotone_rates([{"bad_rate": 0.2}, {"bad_rate": 0.1}])


@settings(max_examples=50, deadline=None)
@given(st.lists(st.lists(values, min_size=4, max_size=4), min_size=1, max_size=40))
def test_sql_case_export_gives_the_same_scores_and_grades(rows: list[list[float]]) -> None:
    matrix = np.asarray(rows, dtype=np.float64)
    scored = domain.score_matrix(CARD, matrix)
    frame = pd.DataFrame({code: matrix[:, j] for j, code in enumerate(CARD.codes)})
    frame["subject_id"] = np.arange(len(rows))
    con = duckdb.connect()
    con.register("indicator", frame)
    got = con.execute(domain.card_sql(CARD) + " ORDER BY subject_id").fetchall()
    assert [r[1] for r in got] == scored.score.tolist()
    assert [r[2] for r in got] == [domain.GRADES[g] for g in scored.grade]


def test_card_round_trips_through_its_stored_form() -> None:
    assert Card.from_dict(CARD.as_dict()) == CARD
