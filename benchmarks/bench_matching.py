"""Matching one financing demand against 10,000 products (issue 7): ≤ 20 ms at p99.

Our figure: :class:`creditbridge.marketplace.domain.ProductMatrix` — the products as columns, one
applicant tested against all of them with a dozen NumPy operations, then ranked (fitting products
by lowest rate, then the closest misses). Baseline, in the same run over the same products and
applicants: a straightforward per-product Python loop over the same rules
(:func:`creditbridge.marketplace.domain.check`) followed by the same ranking with ``sorted``. Both
must agree on every product's failed rules; the script checks that before timing.

    .venv/bin/python benchmarks/bench_matching.py [--products 10000] [--demands 1000]
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import time

from creditbridge.marketplace.domain import (
    GRADES,
    INDUSTRY_SECTIONS,
    SECURITY_TYPES,
    SIZE_CLASSES,
    TAGS,
    WAN_FEN,
    Applicant,
    ProductMatrix,
    ProductRules,
    check,
)

CITIES = ("340100", "340200", "340300", "340400", "340500", "340600", "340700", "340800")


def products(n: int, rng: random.Random) -> list[ProductRules]:
    out = []
    for i in range(n):
        low = rng.choice((5, 10, 20, 50, 100))
        rate = rng.randint(300, 500)
        term = rng.choice((3, 6, 12))
        out.append(
            ProductRules(
                id=i + 1,
                security_type=rng.choice(SECURITY_TYPES),
                min_amount_fen=low * WAN_FEN,
                max_amount_fen=low * rng.choice((10, 20, 50)) * WAN_FEN,
                min_rate_bp=rate,
                max_rate_bp=rate + rng.randint(50, 200),
                min_term_months=term,
                max_term_months=term * rng.choice((1, 2, 3)),
                regions=tuple(rng.sample(CITIES, rng.choice((0, 0, 1, 2)))),
                industry_sections=tuple(rng.sample(INDUSTRY_SECTIONS, rng.choice((0, 0, 2, 4)))),
                size_classes=tuple(rng.sample(SIZE_CLASSES, rng.choice((0, 2, 3)))),
                min_years=rng.choice((0, 0, 1, 2, 3)),
                min_grade=rng.choice((None, None, "BBB", "A")),
                required_tags=tuple(rng.sample(tuple(TAGS), rng.choice((0, 0, 0, 1)))),
            )
        )
    return out


def applicants(n: int, rng: random.Random) -> list[Applicant]:
    return [
        Applicant(
            amount_fen=rng.choice((10, 30, 50, 100, 300, 800)) * WAN_FEN,
            term_months=rng.choice((6, 12, 24)),
            division_code=rng.choice(CITIES)[:4] + rng.choice(("02", "03", "21")),
            industry_section=rng.choice(INDUSTRY_SECTIONS),
            size_class=rng.choice(SIZE_CLASSES),
            years_in_business=rng.randint(0, 15),
            grade=rng.choice((None, *GRADES)),
            tags=frozenset(rng.sample(tuple(TAGS), rng.choice((0, 1)))),
            security_types=frozenset(rng.sample(SECURITY_TYPES, rng.choice((1, 2, 4)))),
            max_rate_bp=rng.choice((None, 450, 600)),
        )
        for _ in range(n)
    ]


def loop_rank(items: list[ProductRules], who: Applicant) -> list[tuple[int, int]]:
    """The baseline: every product checked in Python, then sorted."""
    scored = []
    for p in items:
        failed = check(p, who)
        mask = 0
        for rule in failed:
            mask |= 1 << rule.value
        scored.append((len(failed), p.min_rate_bp, p.id, mask))
    scored.sort()
    fits = [(pid, mask) for n, _, pid, mask in scored if n == 0][:10]
    rest = [(pid, mask) for n, _, pid, mask in scored if n > 0][:5]
    return fits + rest


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--products", type=int, default=10_000)
    parser.add_argument("--demands", type=int, default=1_000)
    parser.add_argument("--baseline-demands", type=int, default=100)
    args = parser.parse_args()
    rng = random.Random(7)
    items = products(args.products, rng)
    who = applicants(args.demands, rng)
    loads = "/".join(f"{x:.1f}" for x in os.getloadavg())

    started = time.perf_counter()
    matrix = ProductMatrix.build(items)
    build_ms = (time.perf_counter() - started) * 1000

    # Same answers first: every product's failed rules, and the same top of the ranking.
    for applicant in who[:50]:
        masks = matrix.reasons(applicant).tolist()
        for p, mask in zip(items, masks, strict=True):
            assert mask == sum(1 << r.value for r in check(p, applicant)), (p, applicant)
        assert matrix.rank(applicant) == loop_rank(items, applicant)

    ours = []
    for applicant in who:
        t0 = time.perf_counter()
        matrix.rank(applicant)
        ours.append((time.perf_counter() - t0) * 1000)
    base = []
    for applicant in who[: args.baseline_demands]:
        t0 = time.perf_counter()
        loop_rank(items, applicant)
        base.append((time.perf_counter() - t0) * 1000)

    our_p99, base_p99 = percentile(ours, 0.99), percentile(base, 0.99)
    print(
        f"products: {len(items)}; demands: {len(ours)} (baseline {len(base)}); load average {loads}"
    )
    print(f"matrix build (once per product set): {build_ms:.1f} ms")
    print(
        f"vectorised  p50 {statistics.median(ours):.3f} ms  p99 {our_p99:.3f} ms  "
        f"max {max(ours):.3f} ms"
    )
    print(
        f"python loop p50 {statistics.median(base):.3f} ms  p99 {base_p99:.3f} ms  "
        f"max {max(base):.3f} ms"
    )
    print(
        f"speed-up at p99: {base_p99 / our_p99:.1f}x; target p99 ≤ 20 ms: {'met' if our_p99 <= 20 else 'NOT met'}"
    )
    print(
        f"RESULT matching_p99_ms={our_p99:.3f} baseline_p99_ms={base_p99:.3f} "
        f"ratio={base_p99 / our_p99:.1f} products={len(items)} demands={len(ours)} "
        f"load={loads.split('/')[0]}"
    )


if __name__ == "__main__":
    main()
