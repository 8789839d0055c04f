"""The JSON shapes of the ingest API (its settings are ``Settings.ingest``)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class IssueOut(BaseModel):
    """One line of the reject report."""

    row: int = Field(description="row number as in the delivered file; 0 = the file as a whole")
    field: str = Field(description="field code; empty when the problem is the row's or file's")
    label: str = Field(description="the field's Chinese label")
    value: str
    code: str = Field(description="stable error code, e.g. INGEST-DATE-FORMAT")
    message: str = Field(description="the reason, in Chinese")
    warning: bool = Field(description="true: the row was accepted nevertheless")
    key: str | None = Field(
        default=None,
        description="the reason as a message key (e.g. ingest_issue.date_format), to show it in "
        "another language; null for a line told in Chinese only",
    )
    params: dict[str, Any] | None = Field(
        default=None, description="the values that fill the message key's placeholders"
    )


class BatchOut(BaseModel):
    """A delivery's outcome, as first computed (a replay returns the same)."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    provider_id: int
    dataset_code: str
    batch_key: str
    channel: str
    status: str = Field(description="applied | refused")
    replayed: bool = Field(description="true when this batch id had been delivered before")
    received_at: datetime
    rows_total: int
    rows_accepted: int = Field(description="accepted rows, with warnings and unchanged included")
    rows_warned: int
    rows_rejected: int
    rows_new: int
    rows_updated: int
    rows_unchanged: int
    rows_withdrawn: int
    subjects_created: int
    reject_threshold: float | None
    refusal_code: str | None
    refusal_message: str | None
    source_format: str | None
    encoding: str | None
    notes: list[str]
    content_digest: str
    issues: list[IssueOut] = Field(description="the first problems in row order")
    issues_total: int


class BatchIn(BaseModel):
    """A delivery as JSON: rows keyed by field code or Chinese label."""

    model_config = ConfigDict(extra="forbid")

    provider: int | str = Field(description="provider id or code")
    dataset: str = Field(max_length=64)
    batch_id: str = Field(min_length=1, max_length=128, description="the idempotency key")
    rows: list[dict[str, Any]] = Field(min_length=1, max_length=100_000)
