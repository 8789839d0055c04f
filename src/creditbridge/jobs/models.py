"""Tables of the worker: one row per run of a job (a periodic slot or a queued one-off) and one row
per attempt at it."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from creditbridge.core.db import Base, BigId


class JobRun(Base):
    """One run of a job. A periodic job's run is keyed by its ``slot`` (the schedule's fire time):
    the unique (job, slot) pair is what makes two workers never run the same slot twice, whatever
    the store. A queued one-off run has no slot. A worker owns a run while its lease lasts; a run
    whose lease expired (its worker was killed) is claimed again and counts an attempt."""

    __tablename__ = "job_run"
    __table_args__ = (
        UniqueConstraint("job", "slot", name="uq_job_run_job_slot"),
        Index("ix_job_run_due", "status", "run_after"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    job: Mapped[str] = mapped_column(String(64), index=True)
    slot: Mapped[datetime | None] = mapped_column(default=None)
    args: Mapped[dict[str, Any]]
    status: Mapped[str] = mapped_column(
        String(16), doc="queued | running | retrying | succeeded | failed"
    )
    attempts: Mapped[int] = mapped_column(default=0)
    max_attempts: Mapped[int]
    run_after: Mapped[datetime]
    lease_owner: Mapped[str | None] = mapped_column(String(64), default=None)
    lease_until: Mapped[datetime | None] = mapped_column(default=None)
    requested_by: Mapped[str] = mapped_column(String(64), doc="schedule | a user | the CLI")
    created_at: Mapped[datetime]
    finished_at: Mapped[datetime | None] = mapped_column(default=None)
    last_error: Mapped[str | None] = mapped_column(String(2000), default=None)
    summary: Mapped[dict[str, Any] | None] = mapped_column(default=None)


class JobAttempt(Base):
    """One attempt at a run: who ran it, when, and how it ended. An attempt whose worker died has
    no ``finished_at`` until the run is claimed again; it is then closed as ``lost``."""

    __tablename__ = "job_attempt"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("job_run.id"), index=True)
    attempt: Mapped[int]
    worker: Mapped[str] = mapped_column(String(64))
    started_at: Mapped[datetime] = mapped_column(index=True)
    finished_at: Mapped[datetime | None] = mapped_column(default=None)
    outcome: Mapped[str | None] = mapped_column(
        String(16), default=None, doc="succeeded | failed | lost"
    )
    error: Mapped[str | None] = mapped_column(String(2000), default=None)
