"""The generative model's promises, checked statistically on a fixed seed without a database.

Margins are generous on purpose: these assert directions and clear gaps, not exact rates, so a
retuned coefficient does not break them while a broken mechanism does.
"""

from __future__ import annotations

from collections import Counter
from datetime import date
from decimal import Decimal
from functools import cache

import numpy as np
import pytest

from creditbridge.demo import model
from creditbridge.demo.chunks import CHUNK_SUBJECTS
from creditbridge.demo.lending import LoanDraft, build_lenders, generate_loans
from creditbridge.demo.model import stream
from creditbridge.demo.population import SIZE_INDUSTRY, Population, build_population
from creditbridge.demo.records import Chunk
from creditbridge.demo.timeline import Window
from creditbridge.reference import divisions, size

SEED = 424242
N = 20_000
WINDOW = Window(date(2026, 10, 31))


@cache
def population() -> Population:
    return build_population(SEED, N, window=WINDOW, first_id=1)


@cache
def chunks() -> tuple[Chunk, ...]:
    lenders = build_lenders(SEED)
    built = []
    for index in range(N // CHUNK_SUBJECTS):
        part = population().slice(index * CHUNK_SUBJECTS, (index + 1) * CHUNK_SUBJECTS)
        loans = generate_loans(part, lenders, WINDOW, stream(SEED, "loans", index))
        built.append(
            Chunk(
                seed=SEED, index=index, population=part, window=WINDOW, lenders=lenders, loans=loans
            )
        )
    return tuple(built)


def per_subject(dataset: str) -> np.ndarray:
    """Records of ``dataset`` per subject, in population order."""
    counts = [np.bincount(c.draft(dataset).rows, minlength=c.n) for c in chunks()]
    return np.concatenate(counts)


def quintiles() -> tuple[np.ndarray, np.ndarray]:
    risk = population().risk
    low, high = np.quantile(risk, [0.2, 0.8])
    return risk <= low, risk >= high


def test_pd_is_calibrated_and_defaults_follow_risk() -> None:
    p = population()

    assert 0.03 < p.true_pd.mean() < 0.04
    assert 0.025 < p.defaulted.mean() < 0.05
    assert p.risk[p.defaulted].mean() > p.risk[~p.defaulted].mean() + 0.7
    assert abs(p.risk.mean()) < 0.05
    assert abs(p.risk.std() - 1) < 0.05


def test_most_subjects_are_small_or_micro_and_sizes_follow_the_standard() -> None:
    p = population()
    share = Counter(p.size_class.tolist())

    assert (share["micro"] + share["small"]) / N > 0.8
    assert share["medium"] > 0
    for i in range(0, N, 97):
        expected = size.classify(
            industry=SIZE_INDUSTRY.get(str(p.division[i]), str(p.division[i])),
            employees=int(p.employees[i]),
            revenue_yuan=Decimal(str(p.revenue_wan[i])) * 10_000,
            assets_yuan=Decimal(str(p.assets_wan[i])) * 10_000,
        )
        assert p.size_class[i] == expected.value


def test_cities_follow_their_economic_weight() -> None:
    p = population()
    shares = Counter(p.city.tolist())

    for city, weight in divisions.city_weights().items():
        assert abs(shares[city] / N - weight) < 0.01 + 0.15 * weight, city
    assert shares.most_common(1)[0][0] == "340100"  # 合肥


def test_industries_and_entity_types_are_plausible() -> None:
    p = population()
    enterprises = p.section[p.entity_type == "91"]
    top = [s for s, _ in Counter(enterprises.tolist()).most_common(4)]
    kinds = Counter(p.entity_type.tolist())

    assert {"C", "F"} <= set(top)
    assert "J" not in set(p.section.tolist())  # banks are institutions, not borrowers
    assert 0.74 < kinds["91"] / N < 0.82
    assert set(p.section[p.entity_type == "93"].tolist()) <= {"A", "C", "F"}


def test_firms_are_mostly_young_and_risky_firms_younger() -> None:
    p = population()
    age = (np.datetime64(WINDOW.end_date) - p.registration_date).astype(np.int64) / 365.25
    low, high = quintiles()

    assert np.median(age) < age.mean() < 10
    assert np.median(age) < 8
    assert age[high].mean() < age[low].mean()


@pytest.mark.parametrize(
    ("dataset", "factor"),
    [
        ("penalty", 2.0),
        ("enforcement", 3.0),
        ("judgment", 1.8),
        ("tax_arrears", 3.0),
        ("dishonest_debtor", 3.0),
        ("abnormal_operation", 1.5),
    ],
)
def test_high_risk_firms_collect_more_negative_records(dataset: str, factor: float) -> None:
    counts = per_subject(dataset)
    low, high = quintiles()

    assert counts[high].mean() > factor * counts[low].mean()


@pytest.mark.parametrize("dataset", ["honour", "tech_enterprise", "patent"])
def test_low_risk_firms_collect_more_positive_records(dataset: str) -> None:
    counts = per_subject(dataset)
    low, high = quintiles()

    assert counts[low].mean() > 1.3 * counts[high].mean()


def test_serious_dishonesty_is_very_rare_and_concentrated_on_risky_firms() -> None:
    counts = per_subject("serious_dishonesty")
    low, high = quintiles()

    assert 0 < (counts > 0).mean() < 0.03
    assert counts[high].sum() > 4 * counts[low].sum()


def _late_share(dataset: str, field: str, late_value: object) -> tuple[float, float]:
    low, high = quintiles()
    shares = []
    for mask in (low, high):
        late = total = 0
        offset = 0
        for c in chunks():
            draft = c.draft(dataset)
            rows = draft.rows + offset
            values = np.asarray(draft.fields[field])
            chosen = mask[rows]
            late += int((values[chosen] == late_value).sum())
            total += int(chosen.sum())
            offset += c.n
        shares.append(late / total)
    return shares[0], shares[1]


def test_risky_firms_file_and_pay_late_more_often() -> None:
    tax_low, tax_high = _late_share("tax_payment", "declared", False)
    power_low, power_high = _late_share("utility_power", "payment_on_time", False)

    assert tax_high > 3 * tax_low
    assert power_high > 3 * power_low


def test_tax_credit_ratings_follow_risk() -> None:
    a_low, a_high = _late_share("tax_credit_rating", "rating", "A")
    d_low, d_high = _late_share("tax_credit_rating", "rating", "D")

    assert a_low > 3 * a_high
    assert d_high > 5 * max(d_low, 1e-4)


def test_defaulting_firms_decline_before_default() -> None:
    p = population()
    ratios = []
    offset = 0
    for c in chunks():
        draft = c.draft("tax_payment")
        revenue = np.asarray([float(v) for v in draft.fields["taxable_revenue"]])
        period = np.asarray(draft.fields["period"])
        rows = draft.rows
        first, last = min(period.tolist()), max(period.tolist())
        for row in np.unique(rows[p.defaulted[rows + offset]]).tolist():
            mine = rows == row
            start = revenue[mine & (period == first)]
            end = revenue[mine & (period == last)]
            if start.size and end.size and start[0] > 0:
                ratios.append(end[0] / start[0])
        offset += c.n

    assert len(ratios) > 100
    assert np.median(ratios) < 0.9


def test_lenders_book_a_plausible_default_rate_and_price_risk() -> None:
    p = population()
    loans: list[LoanDraft] = [c.loans for c in chunks()]
    rows = np.concatenate([loan.rows + i * CHUNK_SUBJECTS for i, loan in enumerate(loans)])
    rate = np.concatenate([loan.rate_bp for loan in loans])
    borrowers = np.unique(rows)
    credit = np.concatenate([loan.security for loan in loans]) == "credit"

    assert 0.25 < borrowers.size / N < 0.5
    assert 0.01 < p.defaulted[borrowers].mean() < 0.05
    assert p.risk[borrowers].mean() < 0  # lenders pick the better firms
    assert rate[p.risk[rows] > 1].mean() > rate[p.risk[rows] < -1].mean()
    assert 0.22 < credit.mean() < 0.35
    assert p.risk[rows[credit]].mean() < p.risk[rows[~credit]].mean()


def test_calibration_hits_its_target() -> None:
    nodes = np.random.default_rng(1).standard_normal(400_000)

    assert abs(model.true_pd(nodes).mean() - model.TARGET_MEAN_PD) < 0.001
