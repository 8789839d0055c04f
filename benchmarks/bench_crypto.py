"""SM2 sign/verify and record digests: the provider against pure-Python gmssl, in the same run.

Claim: with the Tongsuo engine the provider signs and verifies SM2 an order of magnitude faster than
gmssl, and ``content_digest`` keeps up with the demo generator (hundreds of thousands of records per
second on one core). Baselines: gmssl's own ``sign_with_sm3``/``verify_with_sm3`` (what a project
without Tongsuo would call) and ``json.dumps(sort_keys=True)`` + SM3 for the digest.
"""

from __future__ import annotations

import json
import secrets
import statistics
import time
from collections.abc import Callable
from datetime import UTC, date, datetime
from decimal import Decimal

from gmssl import sm2 as gmssl_sm2

from creditbridge.core import crypto
from creditbridge.core.crypto import Sm2PrivateKey, SoftwareCryptoProvider
from creditbridge.core.crypto.sm2 import SM2P256V1

MESSAGE = "企业信用报告 91340100MA2N0X5F6R 2024-05-01".encode() * 8  # ~400 bytes


def per_op(fn: Callable[[], object], number: int, repeat: int = 5) -> float:
    """Median seconds per call over ``repeat`` runs of ``number`` calls."""
    runs = []
    for _ in range(repeat):
        start = time.perf_counter()
        for _ in range(number):
            fn()
        runs.append((time.perf_counter() - start) / number)
    return statistics.median(runs)


def bench_sm2() -> None:
    d = secrets.randbelow(SM2P256V1.n - 2) + 1
    key = Sm2PrivateKey.from_int(d)
    for engine, number in (("tongsuo", 400), ("gmssl", 20)):
        provider = SoftwareCryptoProvider(sm2_engine=engine)
        signature = provider.sm2_sign(key, MESSAGE)
        sign = per_op(lambda p=provider: p.sm2_sign(key, MESSAGE), number)
        verify = per_op(
            lambda p=provider, s=signature: p.sm2_verify(key.public_key, MESSAGE, s), number
        )
        print(
            f"RESULT sm2 provider[{engine}] sign {sign * 1e3:.3f} ms ({1 / sign:,.0f}/s) "
            f"verify {verify * 1e3:.3f} ms ({1 / verify:,.0f}/s)"
        )

    public = key.public_key
    handle = gmssl_sm2.CryptSM2(f"{d:064x}", "")
    handle.public_key = f"{public.x:064x}{public.y:064x}"
    baseline_signature = handle.sign_with_sm3(MESSAGE, secrets.token_hex(32))
    sign = per_op(lambda: handle.sign_with_sm3(MESSAGE, secrets.token_hex(32)), 20)
    verify = per_op(lambda: handle.verify_with_sm3(baseline_signature, MESSAGE), 20)
    print(
        f"RESULT sm2 baseline gmssl sign_with_sm3 {sign * 1e3:.3f} ms ({1 / sign:,.0f}/s) "
        f"verify_with_sm3 {verify * 1e3:.3f} ms ({1 / verify:,.0f}/s)"
    )


def bench_digest() -> None:
    record = {
        "uscc": "91340100MA2N0X5F6R",
        "name": "合肥市某某科技有限公司",
        "category": "tax",
        "item": "纳税信用等级",
        "value": "A",
        "amount": Decimal("125000.50"),
        "period_start_date": date(2024, 1, 1),
        "period_end_date": date(2024, 12, 31),
        "provider": "国家税务总局安徽省税务局",
        "collected_at": datetime(2025, 3, 1, 8, 30, tzinfo=UTC),
        "sequence": 1234567,
        "note": None,
    }
    ours = per_op(lambda: crypto.content_digest(record), 20_000)

    def stdlib() -> str:
        plain = {
            **record,
            "amount": str(record["amount"]),
            "period_start_date": "2024-01-01",
            "period_end_date": "2024-12-31",
            "collected_at": "2025-03-01T08:30:00Z",
        }
        text = json.dumps(plain, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        return crypto.sm3_hex(text.encode())

    baseline = per_op(stdlib, 20_000)
    print(
        f"RESULT content_digest {ours * 1e6:.2f} us ({1 / ours:,.0f}/s); "
        f"baseline json.dumps+SM3 {baseline * 1e6:.2f} us ({1 / baseline:,.0f}/s)"
    )


if __name__ == "__main__":
    bench_sm2()
    bench_digest()
