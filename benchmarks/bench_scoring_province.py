"""The synthetic province with known true probability of default: does the trained scorecard rank
as well as the truth, and do its grades order the defaults?

Claim (issue 6): scorecard AUC ≥ 0.97 × the AUC of the true PD (the generator's `true_pd`, read
from `demo_truth`); observed default rate monotone across grades.

The province is generated in-process into a fresh SQLite file under /tmp (deleted after), then
the real path runs: snapshot → indicators (DuckDB) → loan outcomes → the statistical scorecard
trained on the development part of the borrowers (fixed hash split), evaluated on the hold-out
part. The truth is scored on exactly the same rows and outcome. A second check uses every
enterprise and the generator's own 12-month default flag (`demo_truth.defaulted`).

    .venv/bin/python benchmarks/bench_scoring_province.py [--enterprises 20000]
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time
from datetime import date
from pathlib import Path

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

import creditbridge.analytics  # noqa: F401  (registers every snapshot table)
from creditbridge import migrations
from creditbridge.core.actors import SYSTEM
from creditbridge.core.db import make_engine
from creditbridge.demo import service as demo_service
from creditbridge.demo.models import DemoTruth
from creditbridge.scoring import analytics, domain, service, training
from creditbridge.scoring.schemas import grade_config, indicator_config

AS_OF = date(2026, 10, 31)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--enterprises", type=int, default=20000)
    parser.add_argument("--seed", type=int, default=20260101)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-scoring-province-", dir="/tmp"))
    load_before = os.getloadavg()[0]
    try:
        engine = make_engine(f"sqlite:///{work / 'province.db'}")
        migrations.upgrade(engine)
        with Session(engine) as session, session.begin():
            started = time.perf_counter()
            demo_service.generate(
                session, SYSTEM, enterprises=args.enterprises, seed=args.seed, as_of=AS_OF
            )
            generated = time.perf_counter() - started
        with Session(engine) as session, session.begin():
            snapshot = service.take_snapshot(session, SYSTEM, root=work, as_of=AS_OF)
            truth = dict(session.execute(select(DemoTruth.subject_id, DemoTruth.true_pd)).all())
            defaulted = dict(
                session.execute(select(DemoTruth.subject_id, DemoTruth.defaulted)).all()
            )
        frame = analytics.compute_indicators(snapshot, indicator_config())
        outcomes = analytics.loan_outcomes(snapshot)
        rules = grade_config()
        rows = np.searchsorted(frame.subject_ids, outcomes.subject_ids)
        bad = outcomes.bad.astype(int)
        holdout = service.is_holdout(outcomes.subject_ids, rules.training.test_share)
        started = time.perf_counter()
        fitted = training.fit_scorecard(
            frame.values[rows[~holdout]], bad[~holdout], frame.codes, rules=rules.training, scaling=rules.scaling
        )  # fmt: skip
        fit_seconds = time.perf_counter() - started
        card = fitted.card
        train_scores = domain.score_matrix(card, frame.select(card.codes)[rows[~holdout]]).score
        cuts = domain.calibrated_cutoffs(train_scores, bad[~holdout], rules.pd_ceilings)
        card = card.with_cutoffs(cuts or rules.expert_default_cutoffs)
        scored = domain.score_matrix(card, frame.select(card.codes))
        expert_card = service.expert_card()
        expert_dev = domain.score_matrix(
            expert_card, frame.select(expert_card.codes)[rows[~holdout]]
        ).score
        expert_cuts = domain.calibrated_cutoffs(expert_dev, bad[~holdout], rules.pd_ceilings)
        expert_card = expert_card.with_cutoffs(expert_cuts or rules.expert_default_cutoffs)
        expert = domain.score_matrix(expert_card, frame.select(expert_card.codes))
        true_pd = np.asarray([truth[int(s)] for s in frame.subject_ids])
        flag = np.asarray([int(defaulted[int(s)]) for s in frame.subject_ids])

        test_rows = rows[holdout]
        auc_card = domain.auc(bad[holdout], -scored.score[test_rows])
        auc_truth = domain.auc(bad[holdout], true_pd[test_rows])
        auc_expert = domain.auc(bad[holdout], -expert.score[test_rows])
        all_card = domain.auc(flag, -scored.score)
        all_truth = domain.auc(flag, true_pd)
        by_grade_all = domain.rate_by_grade(flag, scored.grade)
        by_grade_test = domain.rate_by_grade(bad[holdout], scored.grade[test_rows])
        load_after = os.getloadavg()[0]

        print(f"province: {args.enterprises} enterprises (seed {args.seed}, generated in {generated:.1f} s); "
              f"borrowers {len(bad)} ({int(bad.sum())} bad), hold-out {int(holdout.sum())} ({int(bad[holdout].sum())} bad)")  # fmt: skip
        print(
            f"scorecard: {len(card.bins)} indicators ({', '.join(card.codes)}), fit {fit_seconds:.1f} s"
        )
        print(f"hold-out borrowers, loan outcome: scorecard AUC {auc_card:.4f} | true PD AUC {auc_truth:.4f} | "
              f"ratio {auc_card / auc_truth:.3f} (target ≥ 0.97) | expert card AUC {auc_expert:.4f}")  # fmt: skip
        print(f"all enterprises, generator's default flag: scorecard AUC {all_card:.4f} | true PD AUC {all_truth:.4f} | "
              f"ratio {all_card / all_truth:.3f}")  # fmt: skip
        print("default rate by grade (all enterprises, generator's flag):")
        for row in by_grade_all:
            rate = "—" if row["bad_rate"] is None else f"{row['bad_rate'] * 100:.2f}%"
            print(f"  {row['grade']:4s} {row['count']:7d} {row['bad']:6d} {rate}")
        expert_by_grade = domain.rate_by_grade(flag, expert.grade)
        rates = " ".join(
            f"{r['grade']} " + ("—" if r["bad_rate"] is None else f"{r['bad_rate'] * 100:.2f}%")
            for r in expert_by_grade
        )
        print(
            f"expert card, same check: {rates} — monotone {domain.monotone_rates(expert_by_grade)}"
        )
        monotone_all = domain.monotone_rates(by_grade_all)
        monotone_test = domain.monotone_rates(by_grade_test)
        print(f"monotone by grade: all enterprises {monotone_all}; hold-out borrowers {monotone_test} "
              f"(load average {load_before:.1f} before, {load_after:.1f} after)")  # fmt: skip
        met = auc_card >= 0.97 * auc_truth and monotone_all
        print(
            f"RESULT province_auc={auc_card:.4f} true_pd_auc={auc_truth:.4f} ratio={auc_card / auc_truth:.3f} "
            f"all_auc={all_card:.4f} all_true_auc={all_truth:.4f} monotone_all={monotone_all} "
            f"monotone_holdout={monotone_test} met={met}"
        )  # fmt: skip
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
