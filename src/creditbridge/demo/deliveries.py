"""Imperfect deliveries for the demo, so the collection dashboard shows a realistic picture: some
batches arrive late, some are partial (rows rejected, below the refusal threshold), and some first
deliveries are refused whole and delivered again.

Run after the records and batches have been generated, inside the same transaction. It reads what
exists and only adjusts it: late batches move (with their records' ``received_at``) to a later
working day, never past ``as_of``; partial batches gain rejected rows in their counts; a refused
delivery is a new batch without records, received before the accepted one. Deterministic for a
seed and the same generated data.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Final

import numpy as np
from sqlalchemy import Connection, func, insert, select, update

from creditbridge.core.crypto import sm3_hex
from creditbridge.ingest.metrics import add_working_days
from creditbridge.ingest.models import Batch
from creditbridge.subjects.models import Record

LATE_SHARE: Final = 0.06
PARTIAL_SHARE: Final = 0.05
REFUSED_SHARE: Final = 0.03
REJECT_THRESHOLD: Final = 0.05


@dataclass(frozen=True)
class DeliveryHistory:
    late: int
    partial: int
    refused: int


def _month_start(day: date, back: int) -> date:
    index = day.year * 12 + day.month - 1 - back
    return date(index // 12, index % 12 + 1, 1)


def generate_delivery_history(
    connection: Connection, *, seed: int, as_of: date, months: int = 6
) -> DeliveryHistory:
    """Make the demo's deliveries of the last ``months`` months before ``as_of`` imperfect."""
    rng = np.random.default_rng([seed, 3_1415])
    start = datetime.combine(_month_start(as_of, months), datetime.min.time(), tzinfo=UTC)
    cut = datetime.combine(as_of, datetime.max.time(), tzinfo=UTC)
    rows = connection.execute(
        select(
            Batch.id, Batch.provider_id, Batch.batch_key, Batch.dataset_code, Batch.received_at,
            Batch.rows_total,
        )
        .where(
            Batch.status == "applied", Batch.channel == "demo",
            Batch.received_at >= start, Batch.received_at <= cut,
        )
        .order_by(Batch.id)
    ).all()  # fmt: skip
    if not rows:
        return DeliveryHistory(0, 0, 0)
    draw = rng.random((len(rows), 3))
    shift = rng.integers(12, 25, size=len(rows))
    late = partial = refused = 0
    next_id = (connection.execute(select(func.max(Batch.id))).scalar() or 0) + 1
    for i, (batch_id, provider_id, key, dataset, received, total) in enumerate(rows):
        received = received if received.tzinfo else received.replace(tzinfo=UTC)
        if draw[i, 0] < LATE_SHARE:
            moved_day = add_working_days(received.date(), int(shift[i]))
            moved = datetime.combine(moved_day, received.timetz())
            if moved <= cut:
                connection.execute(
                    update(Batch).where(Batch.id == batch_id).values(received_at=moved)
                )
                connection.execute(
                    update(Record).where(Record.batch_id == batch_id).values(received_at=moved)
                )
                received = moved
                late += 1
        # A partial delivery stays under the refusal threshold: at least one reject needs 20 rows.
        if draw[i, 1] < PARTIAL_SHARE and total * REJECT_THRESHOLD >= 1:
            rejected = max(1, int(total * REJECT_THRESHOLD * draw[i, 1] / PARTIAL_SHARE * 0.9))
            connection.execute(
                update(Batch)
                .where(Batch.id == batch_id)
                .values(
                    rows_total=total + rejected,
                    rows_rejected=rejected,
                    reject_threshold=REJECT_THRESHOLD,
                )
            )
            partial += 1
        if draw[i, 2] < REFUSED_SHARE:
            before = received - timedelta(days=2, hours=3)
            rejected = max(2, int(total * 0.3))
            connection.execute(
                insert(Batch).values(
                    id=next_id,
                    provider_id=provider_id,
                    batch_key=f"{key}-refused",
                    dataset_code=dataset,
                    channel="demo",
                    status="refused",
                    received_at=before,
                    rows_total=total + rejected,
                    rows_accepted=0,
                    rows_rejected=rejected,
                    content_digest=sm3_hex(f"{key}-refused".encode()),
                    reject_threshold=REJECT_THRESHOLD,
                    refusal_code="CB-INGEST-REJECTS",
                    refusal_message="拒收行比例超过阈值，整批退回",
                )
            )
            next_id += 1
            refused += 1
    return DeliveryHistory(late, partial, refused)
