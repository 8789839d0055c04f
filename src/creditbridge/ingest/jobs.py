"""Jobs of collection, called by the job runner (or the CLI) inside the transaction it opens."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from creditbridge.core.clock import SHANGHAI, utc_now
from creditbridge.core.config import Settings
from creditbridge.ingest import metrics


def compute_collection_metrics(
    session: Session,
    *,
    settings: Settings,
    month: str | None = None,
    as_of: datetime | None = None,
) -> metrics.ComputeOutcome:
    """Compute one month's collection metrics (default: the previous month in Beijing time, the
    month whose deliveries are coming due). Flushes; the runner commits."""
    if month is None:
        today = (as_of or utc_now()).astimezone(SHANGHAI).date()
        month = metrics.month_text(metrics.shift_month(today.replace(day=1), -1))
    return metrics.compute_collection_metrics(session, month=month, settings=settings, as_of=as_of)
