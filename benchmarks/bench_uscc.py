"""Claim: ``uscc.validate_many`` checks over 1,000,000 codes/s on this machine, far faster than
python-stdnum's ``stdnum.cn.uscc.is_valid`` (the baseline), measured in the same run.

Input: 1,000,000 generated valid codes over Anhui's divisions, 5% of them mutated by one
character substitution. validate_many is timed on the full array (best of 3); the baseline and
our scalar ``validate()`` on the first 100,000 codes, scaled to codes/s.

Run: .venv/bin/python benchmarks/bench_uscc.py [--n 1000000] [--baseline-n 100000]
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import numpy as np
from stdnum.cn import uscc as stdnum_uscc

from creditbridge.reference import divisions, uscc


def best_of(repeats: int, work: Callable[[], object]) -> float:
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        work()
        best = min(best, time.perf_counter() - start)
    return best


def make_codes(n: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    pool = np.array(
        [d.code for d in divisions.all_divisions() if d.code.startswith("34") and d.is_current]
    )
    codes = uscc.generate(rng, n, division_codes=pool).astype("<U18")
    mutate = np.flatnonzero(rng.random(n) < 0.05)
    as_chars = codes.view("<U1").reshape(n, 18)
    positions = rng.integers(0, 18, size=mutate.size)
    charset = np.array(list(uscc.CHARSET))
    as_chars[mutate, positions] = charset[rng.integers(0, 31, size=mutate.size)]
    return codes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=1_000_000)
    parser.add_argument("--baseline-n", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=20260101)
    args = parser.parse_args()

    codes = make_codes(args.n, args.seed)
    subset = codes[: args.baseline_n].tolist()
    uscc.validate_many(codes[:10])  # build the lookup tables outside the timing

    ours = best_of(3, lambda: uscc.validate_many(codes))
    baseline = best_of(3, lambda: [stdnum_uscc.is_valid(c) for c in subset])
    scalar = best_of(1, lambda: [uscc.validate(c).valid for c in subset])

    verdicts = uscc.validate_many(codes)
    sample = np.random.default_rng(1).choice(args.n, size=min(20_000, args.n), replace=False)
    mismatches = sum(uscc.validate(str(codes[i])).valid != bool(verdicts[i]) for i in sample)
    if mismatches:
        raise SystemExit(f"validate_many disagrees with validate on {mismatches} sampled codes")

    ours_rate = args.n / ours
    baseline_rate = len(subset) / baseline
    scalar_rate = len(subset) / scalar
    ratio = ours_rate / baseline_rate
    print(f"codes: {args.n:,} ({(~verdicts).sum():,} invalid after mutation)")
    print(
        f"uscc validate_many: {ours_rate:,.0f} codes/s | python-stdnum: {baseline_rate:,.0f} codes/s"
        f" | ratio {ratio:.1f}x"
    )
    print(f"uscc validate() (scalar, with reasons): {scalar_rate:,.0f} codes/s")
    print(
        f"RESULT uscc_codes_per_s={ours_rate:.0f} baseline_codes_per_s={baseline_rate:.0f}"
        f" ratio={ratio:.1f}"
    )


if __name__ == "__main__":
    main()
