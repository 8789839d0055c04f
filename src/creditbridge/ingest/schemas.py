"""Settings of collection and the JSON shapes of the ingest API."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class IngestSettings(BaseSettings):
    """``CREDITBRIDGE_INGEST_*``. The reject threshold is the share of rejected rows above which
    a batch is refused whole; per dataset, e.g.
    ``CREDITBRIDGE_INGEST_REJECT_THRESHOLDS='{"penalty": 0.0, "utility_power": 0.1}'``."""

    model_config = SettingsConfigDict(env_prefix="CREDITBRIDGE_INGEST_", extra="ignore")

    reject_threshold: float = Field(default=0.05, ge=0.0, le=1.0)
    reject_thresholds: dict[str, float] = Field(default_factory=dict)
    chunk_rows: int = Field(default=5000, ge=1, le=100_000)
    sqlite_cache_mb: int = Field(
        default=128,
        ge=1,
        le=4096,
        description="SQLite page cache while a batch is applied (the connection default is 2 MB)",
    )

    def threshold_for(self, dataset_code: str) -> float:
        return self.reject_thresholds.get(dataset_code, self.reject_threshold)


class IssueOut(BaseModel):
    """One line of the reject report."""

    row: int = Field(description="row number as in the delivered file; 0 = the file as a whole")
    field: str = Field(description="field code; empty when the problem is the row's or file's")
    label: str = Field(description="the field's Chinese label")
    value: str
    code: str = Field(description="stable error code, e.g. INGEST-DATE-FORMAT")
    message: str = Field(description="the reason, in Chinese")
    warning: bool = Field(description="true: the row was accepted nevertheless")


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
