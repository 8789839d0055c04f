"""The generative model of the synthetic province — what a scoring model is judged against.

Everything is drawn from ``numpy.random.Generator`` streams keyed by the seed and by *what* is
drawn (see :func:`stream`), never by wall-clock time, so one seed gives identical rows.

1. The latent risk
------------------
Every subject *i* gets ``risk_i ~ N(0, 1)``, drawn first and independently. It is the single
hidden cause: everything below that depends on risk depends on nothing else that is hidden.

2. Truth: probability of default and the outcome
------------------------------------------------
``true_pd_i = logistic(alpha + BETA_PD * risk_i)`` with ``BETA_PD = 1.3`` and ``alpha`` solved
(Gauss–Hermite quadrature, :func:`calibrated_alpha`) so that the population mean equals
``TARGET_MEAN_PD = 3.5 %``; lenders select the better firms (§5), so their books show ≈2–3 %.
``defaulted_i ~ Bernoulli(true_pd_i)`` is the outcome over the twelve months that end with the
last delivered month. Both go to ``demo_truth`` and nowhere else. A perfect model knowing
``risk`` reaches an AUC of about 0.80; models see it only through the noisy channels of §3–4.

3. Observable attributes (drawn conditionally on risk)
------------------------------------------------------
* entity type: 78 % enterprises (USCC ``91``), 18 % 个体工商户 (``92``), 4 % 合作社 (``93``);
* city by :func:`creditbridge.reference.divisions.city_weights` (economic size), county within
  the city with urban districts weighted ×2;
* industry: section by entity type (:data:`SECTION_WEIGHTS`; manufacturing, trade,
  construction and services dominate), division within the section by :data:`DIVISIONS`;
* employees: log-normal, median 9 (enterprises) / 2 (个体户) / 5 (合作社), shifted by
  ``-0.15·risk`` in logs; revenue = employees × revenue-per-head of the section × log-normal
  noise; assets = revenue × an asset ratio; size class by the rule of ``reference.size``
  (applied vectorised to its thresholds; a test checks it equals ``classify``);
* age: Gamma(shape 1.2, scale ``6.5·exp(-0.25·risk)`` years), so risky firms are younger and most
  firms are young; registered capital log-normal around a size-dependent median, rounded to
  common amounts;
* growth: ``g_i = 0.04 - 0.10·risk_i + N(0, 0.08)`` a year, applied to every monthly series;
  a defaulted firm defaults in one of the window's last nine months and declines up to 35 %
  over the six months before it ("distress", which also makes it pay late more often).

4. Records (what the platform sees)
-----------------------------------
Monthly series over the last 12 delivered months (tax, social insurance, housing fund, power,
water, gas, customs) follow revenue/headcount × seasonality × growth × noise; the chance of a
late or partial payment in a month is ``logistic(a + b·risk + c·distress)`` (:data:`LATE`).
Event datasets are Poisson counts over a 36-month window with rate
``base · exp(gamma·risk − gamma²/2)`` — the correction keeps ``base`` the population mean — and,
for the ones a default causes (court cases, enforcement, tax arrears), a multiplier for
defaulted firms (:data:`EVENTS`). Dishonest-debtor and consumption-restriction records are drawn
among enforcement cases, abnormal-operation listings mostly from missed annual reports, serious
dishonesty from all of these. Ratings are thresholds on ``-risk`` plus normal noise: tax credit
A/B/C/D with sd 1.0 (M for firms new in the year), customs and environmental ratings with sd 0.6.
Positive signals (honours, patents, certifications, policy support) have negative gammas.
Self-reported growth adds ``0.05·max(risk, 0)``: firms in trouble talk themselves up. Record
counts by dataset are in :mod:`creditbridge.demo.records`.

Besides risk, records depend on age, size and industry (exposure, amounts per head) and —
deliberately, as on a real platform where the data and the defaults overlap in time — on the
outcome itself: distress before the default month, and more bank lawsuits, enforcement and tax
arrears for firms that default. A model can therefore beat the risk-only AUC on ``defaulted``;
judge how well it ranks risk against ``true_pd`` (e.g. rank correlation), and how well it
spots defaults against ``defaulted``.

5. Loans
--------
A subject borrowed in the last three years with probability
``logistic(c_type + 0.35·ln(1+employees) − 0.45·risk)``; 1 + Poisson(0.6) loans, the latest
disbursed within the last 24 months. Security type: credit ≈ 27 %, guarantee, mortgage, pledge;
credit loans go more to low-risk firms. Rate = the product's band + 0.25 pp per unit of risk,
clipped to 3.0–6.5 %. The latest loan of a defaulted borrower is ``defaulted`` (70 %) or
``overdue`` (30 %); every other loan is ``repaid`` when matured, else ``current``.
"""

from __future__ import annotations

import zlib
from functools import cache
from typing import Final

import numpy as np
from numpy.typing import NDArray

F64 = NDArray[np.float64]

BETA_PD: Final = 1.3
TARGET_MEAN_PD: Final = 0.035

ENTITY_TYPES: Final = ("91", "92", "93")
ENTITY_MIX: Final = (0.78, 0.18, 0.04)

SECTION_WEIGHTS: Final[dict[str, dict[str, float]]] = {
    "91": {
        "A": 3, "B": 0.4, "C": 21, "D": 0.6, "E": 9, "F": 27, "G": 4, "H": 3, "I": 4, "K": 2,
        "L": 11, "M": 7, "N": 1, "O": 3, "P": 0.5, "Q": 0.5, "R": 2.5,
    },
    "92": {"A": 3, "C": 4, "E": 2, "F": 45, "G": 5, "H": 20, "I": 2, "L": 3, "O": 14, "R": 2},
    "93": {"A": 92, "C": 4, "F": 4},
}  # fmt: skip

# Divisions (大类) used per section with relative weights; finance (66–69) is left out on purpose:
# banks are institutions here, not borrowers.
DIVISIONS: Final[dict[str, dict[str, float]]] = {
    "A": {"01": 5, "02": 1, "03": 3, "04": 1.5, "05": 1},
    "B": {"08": 1, "10": 2},
    "C": {
        "13": 5, "14": 3, "15": 2, "17": 3, "18": 4, "19": 1, "20": 2, "21": 2, "22": 1.5,
        "23": 2, "24": 1, "26": 4, "27": 2, "29": 4, "30": 5, "31": 1, "32": 1.5, "33": 6,
        "34": 6, "35": 4, "36": 4, "38": 5, "39": 5, "40": 1, "41": 1, "42": 1, "43": 0.5,
    },
    "D": {"44": 3, "45": 1, "46": 1},
    "E": {"47": 4, "48": 3, "49": 2, "50": 3},
    "F": {"51": 4, "52": 6},
    "G": {"54": 6, "58": 2, "59": 1.5, "60": 1},
    "H": {"61": 1, "62": 4},
    "I": {"63": 1, "64": 2, "65": 4},
    "K": {"70": 1},
    "L": {"71": 1, "72": 4},
    "M": {"73": 1, "74": 2, "75": 3},
    "N": {"77": 1, "78": 2},
    "O": {"80": 2, "81": 3, "82": 1},
    "P": {"83": 1},
    "Q": {"84": 2, "85": 1},
    "R": {"86": 2, "87": 1, "88": 1, "89": 1, "90": 1},
}  # fmt: skip

# Annual revenue per employee (万元) by section: the scale of every money series.
REVENUE_PER_HEAD: Final[dict[str, float]] = {
    "A": 18, "B": 60, "C": 55, "D": 150, "E": 45, "F": 110, "G": 40, "H": 14, "I": 45, "K": 180,
    "L": 35, "M": 30, "N": 28, "O": 12, "P": 14, "Q": 20, "R": 18,
}  # fmt: skip

# Assets as a multiple of revenue by section (real estate and utilities are asset-heavy).
ASSET_RATIO: Final[dict[str, float]] = {
    "A": 1.2, "B": 1.5, "C": 0.9, "D": 2.5, "E": 0.8, "F": 0.4, "G": 0.9, "H": 0.7, "I": 0.6,
    "K": 4.0, "L": 0.8, "M": 0.7, "N": 1.2, "O": 0.5, "P": 0.8, "Q": 0.9, "R": 0.9,
}  # fmt: skip

# (log-median employees, sigma) by entity type.
EMPLOYEES: Final[dict[str, tuple[float, float]]] = {
    "91": (float(np.log(9.0)), 1.05),
    "92": (float(np.log(2.0)), 0.6),
    "93": (float(np.log(5.0)), 0.7),
}
EMPLOYEES_RISK_SHIFT: Final = -0.15

AGE_SHAPE: Final = 1.2
AGE_SCALE_YEARS: Final = 6.5
AGE_RISK: Final = -0.25
MAX_AGE_YEARS: Final = 36.0

GROWTH_MEAN: Final = 0.04
GROWTH_RISK: Final = -0.10
GROWTH_NOISE: Final = 0.08
DISTRESS_DROP: Final = 0.35
DISTRESS_MONTHS: Final = 6

# Late or partial payment in a month: logistic(a + b·risk + c·distress).
LATE: Final[dict[str, tuple[float, float, float]]] = {
    "tax_declaration": (-4.3, 1.0, 1.5),
    "social_insurance": (-4.6, 1.2, 2.2),
    "housing_fund": (-4.8, 1.1, 2.2),
    "utility": (-3.9, 1.1, 2.0),
}


class EventRate:
    """Poisson rate per subject-year of an event dataset: ``base`` is the population mean,
    ``gamma`` the log-rate per unit of risk, ``default_boost`` the factor for defaulted firms."""

    __slots__ = ("base", "default_boost", "gamma")

    def __init__(self, base: float, gamma: float, default_boost: float = 1.0) -> None:
        self.base, self.gamma, self.default_boost = base, gamma, default_boost

    def rate(self, risk: F64, defaulted: NDArray[np.bool_]) -> F64:
        scale = np.exp(self.gamma * risk - self.gamma**2 / 2)
        return np.asarray(
            self.base * scale * np.where(defaulted, self.default_boost, 1.0), dtype=np.float64
        )


EVENTS: Final[dict[str, EventRate]] = {
    "penalty": EventRate(0.045, 0.9),
    "judgment": EventRate(0.045, 0.7, 3.0),
    "enforcement": EventRate(0.018, 1.1, 4.0),
    "tax_arrears": EventRate(0.025, 1.2, 3.0),
    "serious_dishonesty": EventRate(0.0012, 1.6, 3.0),
    "unreachable": EventRate(0.004, 1.2, 2.0),
    "honour": EventRate(0.03, -0.6),
    "policy_support": EventRate(0.06, -0.3),
    "licence": EventRate(0.12, 0.0),
    "self_reported": EventRate(0.05, 0.0),
    "credit_commitment": EventRate(0.08, -0.2),
}

HISTORY_MONTHS: Final = 36
MONTHLY_MONTHS: Final = 12


def logistic(x: F64) -> F64:
    return np.asarray(1.0 / (1.0 + np.exp(-x)), dtype=np.float64)


@cache
def calibrated_alpha(beta: float = BETA_PD, target: float = TARGET_MEAN_PD) -> float:
    """The intercept that makes ``E[logistic(alpha + beta·Z)] = target`` for ``Z ~ N(0, 1)``."""
    nodes, weights = np.polynomial.hermite_e.hermegauss(80)
    weights = weights / weights.sum()
    low, high = -15.0, 5.0
    for _ in range(100):
        mid = (low + high) / 2
        mean = float(np.sum(weights / (1.0 + np.exp(-(mid + beta * nodes)))))
        low, high = (mid, high) if mean < target else (low, mid)
    return (low + high) / 2


def true_pd(risk: F64) -> F64:
    return logistic(calibrated_alpha() + BETA_PD * risk)


def stable_key(text: str) -> int:
    """A process-independent integer for a name (``hash()`` of a str changes every run)."""
    return zlib.crc32(text.encode("utf-8"))


def stream(seed: int, *key: int | str) -> np.random.Generator:
    """An independent random stream for ``key`` under ``seed``: the same key always gives the
    same numbers, whatever was drawn before or in which process."""
    spawn = tuple(stable_key(k) if isinstance(k, str) else int(k) for k in key)
    return np.random.default_rng(np.random.SeedSequence(seed, spawn_key=spawn))


def weighted_choice(
    rng: np.random.Generator, weights: dict[str, float], n: int
) -> NDArray[np.str_]:
    """``n`` keys of ``weights`` drawn with probability proportional to their weight."""
    keys = np.asarray(list(weights))
    p = np.asarray(list(weights.values()), dtype=np.float64)
    return np.asarray(keys[rng.choice(len(keys), size=n, p=p / p.sum())], dtype=np.str_)
