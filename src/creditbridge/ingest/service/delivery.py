"""Deliveries (batches): the one use case that receives them, their outcomes and tallies.

:func:`ingest_batch` is the one use case behind the upload page, the CLI, the JSON API and the
pull connector. Its rules (docs/ingest.md has them for providers):

* **Idempotency.** (provider, batch id) is the key. Delivering a key again with the same content
  (same SM3 content digest) is a replay: the first outcome is returned and nothing changes.
  The same key with different content is a conflict (:class:`DuplicateDelivery`, 409): a batch,
  once received, is never silently replaced — the provider sends the correction as a new batch.
* **Atomicity.** Rows are streamed in chunks into a SAVEPOINT inside the caller's transaction.
  When the share of rejected rows passes the dataset's threshold (5 % unless configured), the
  savepoint is rolled back: no record of the batch remains, while the batch row and its reject
  report (spooled to a temporary file meanwhile) are kept. Otherwise all accepted rows land with
  the report, in the caller's single commit.
* **Versions.** A natural key (the dataset's ``natural_key`` values joined by ``|``) names a
  record. A changed row makes a new version and marks the earlier one superseded; an identical
  row (same digest) is counted unchanged and not stored; ``_action = 撤销/withdraw`` marks the
  newest version withdrawn. Nothing is overwritten or deleted.
* **Duplicates within a batch** are applied in file order like separate deliveries: the later row
  wins, the earlier stays as a superseded version of the same batch (or is recognised as the same
  content), and the later row carries the warning ``INGEST-DUPLICATE-KEY`` naming the earlier one.
* **Assignment.** A provider delivers only the datasets the shared-data list assigns it
  (``ingest_provider_dataset``), whoever sends the batch: its users and API clients, an operator
  on the upload page, the console on its behalf, a connector. Anything else is refused with
  :class:`NotAssigned` naming the dataset's providers, and the refusal is audited. The writer
  checks it again (:class:`~.pipeline.Run`): a batch of a provider not assigned the dataset
  supersedes or withdraws no stored record.
* **The list is loaded explicitly** (``creditbridge catalog load``, ``demo ensure``): without
  one, a delivery is refused (:class:`CatalogNotLoaded`), never loaded on the way.
* **Unknown enterprises** get a subject flagged ``needs_registration_check``.
* **Fingerprints.** A version made from a row accepted without any issue keeps a fingerprint of
  the delivered cells (``source_fingerprint``); a re-delivered row with the same fingerprint as its
  key's current version is counted unchanged without being validated again (:class:`~.pipeline.Run`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import Any, Final, NamedTuple

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from creditbridge.audit import service as audit_service
from creditbridge.catalog import service as catalog_service
from creditbridge.catalog.schemas import DatasetSpec
from creditbridge.core.actors import Actor, ActorKind
from creditbridge.core.clock import utc_now
from creditbridge.core.config import IngestSettings
from creditbridge.core.crypto import canonical_json
from creditbridge.core.crypto.digest import sm3_new
from creditbridge.core.errors import DuplicateDelivery, NotFound
from creditbridge.ingest.domain import RowIssue
from creditbridge.ingest.errors import (
    CatalogNotLoaded,
    NotAssigned,
    NotYourProvider,
    ReasonRequired,
)
from creditbridge.ingest.models import Batch, Provider, Reject
from creditbridge.ingest.readers import DeliveryUnreadable, encoding_label
from creditbridge.ingest.service._common import APPLIED, ISSUE_PREVIEW, REFUSED, Source, is_operator
from creditbridge.ingest.service.pipeline import (
    THRESHOLD_KEY,
    Run,
    open_source,
    runs_forked,
    threshold_params,
)
from creditbridge.ingest.service.providers import get_provider_or_raise, list_assigned_providers
from creditbridge.presentation.errors import keyed, keyed_issue

CHANNELS: Final = frozenset({"file", "api", "pull", "cli", "demo"})


class DatasetRows(NamedTuple):
    dataset_code: str
    rows_accepted: int


@dataclass(frozen=True)
class BatchSummary:
    """One delivery as the operator sees it in a list: who sent what, when, and how it went."""

    id: int
    received_at: datetime
    provider_code: str
    provider_name: str
    dataset_code: str
    channel: str
    status: str
    rows_total: int
    rows_accepted: int
    rows_rejected: int


def count_providers(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(Provider)) or 0


def count_batches(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(Batch)) or 0


def count_accepted_rows(session: Session) -> int:
    """Rows accepted over every applied delivery: how much the platform has collected."""
    total = session.scalar(
        select(func.coalesce(func.sum(Batch.rows_accepted), 0)).where(Batch.status == APPLIED)
    )
    return int(total or 0)


def count_accepted_rows_by_dataset(session: Session) -> list[DatasetRows]:
    """Rows accepted per dataset over every applied delivery, most first.

    Summed over batches, not counted over records: a province holds hundreds of millions of
    records, and counting them per dataset scans them all (seconds at 100k enterprises even with
    an index), while batches number in the thousands. It counts every accepted version, so a
    record corrected twice counts three times; the current records per dataset are
    :func:`creditbridge.subjects.service.count_records_by_dataset`.
    """
    rows = func.coalesce(func.sum(Batch.rows_accepted), 0).label("rows")
    result = session.execute(
        select(Batch.dataset_code, rows)
        .where(Batch.status == APPLIED)
        .group_by(Batch.dataset_code)
        .order_by(rows.desc(), Batch.dataset_code)
    )
    return [DatasetRows(code, int(n)) for code, n in result]


def select_batch_summaries() -> Select[*tuple[Any, ...]]:
    """The columns of :class:`BatchSummary`, a batch joined to its provider: the one query behind
    every list of deliveries (latest here, the list page's, a provider's home); callers add the
    conditions, order and limit."""
    return select(
        Batch.id,
        Batch.received_at,
        Provider.code.label("provider_code"),
        Provider.name.label("provider_name"),
        Batch.dataset_code,
        Batch.channel,
        Batch.status,
        Batch.rows_total,
        Batch.rows_accepted,
        Batch.rows_rejected,
    ).join(Provider, Provider.id == Batch.provider_id)


def list_latest_batches(session: Session, *, limit: int = 10) -> list[BatchSummary]:
    """The most recently received deliveries, newest first, with their provider's name."""
    rows = session.execute(
        select_batch_summaries()
        # id breaks ties between batches received in the same instant, newest first.
        .order_by(Batch.received_at.desc(), Batch.id.desc())
        .limit(limit)
    )
    return [BatchSummary(**row._asdict()) for row in rows]


@dataclass
class BatchOutcome:
    """What became of one delivery: counts, status and the first problems in row order."""

    batch_id: int
    provider_id: int
    dataset_code: str
    batch_key: str
    channel: str
    status: str
    replayed: bool
    received_at: datetime
    rows_total: int
    rows_accepted: int
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
    issues: list[RowIssue]
    issues_total: int

    @property
    def applied(self) -> bool:
        return self.status == APPLIED

    @property
    def encoding_label(self) -> str | None:
        return encoding_label(self.encoding) if self.encoding else None

    @property
    def refusal(self) -> RowIssue | None:
        """Why the batch was refused, with its message key where it has one, so that a page
        explains it in its reader's language: the threshold's refusal told again from the
        counts, an unreadable file's from its report line (row 0)."""
        if self.refusal_code is None or self.refusal_message is None:
            return None
        key: str | None = None
        params: dict[str, object] | None = None
        if self.refusal_code == "INGEST-THRESHOLD" and self.reject_threshold is not None:
            key = THRESHOLD_KEY
            params = threshold_params(self.rows_rejected, self.rows_total, self.reject_threshold)
        else:
            line = next((i for i in self.issues if i.row == 0), None)
            if line is not None and line.code == self.refusal_code:
                key, params = line.key, dict(line.params or {})
        return RowIssue(0, "", "", "", self.refusal_code, self.refusal_message, False, key, params)

    def as_json(self) -> dict[str, Any]:
        body = {k: v for k, v in self.__dict__.items() if k != "issues"}
        body["received_at"] = self.received_at.isoformat()
        body["issues"] = [issue.__dict__ for issue in self.issues]
        return body


def check_may_deliver(actor: Actor, provider_id: int) -> None:
    """Operators deliver for any provider; a provider's users and API clients only for their own.
    Whether the provider is assigned the dataset is :func:`check_assigned`."""
    if is_operator(actor):
        return
    if actor.provider_id is not None and actor.provider_id == provider_id:
        return
    raise NotYourProvider("只能为本单位提交数据：所选数据提供单位不是您所在的单位")


def check_assigned(
    session: Session,
    actor: Actor,
    *,
    provider: Provider,
    spec: DatasetSpec,
    channel: str,
    reason: str | None = None,
) -> None:
    """Refuse a delivery of a dataset the list does not assign to ``provider``.

    Raises :class:`NotAssigned` naming the dataset and the providers it is assigned to, after
    auditing the refusal (``ingest.delivery.not_assigned``); the error carries that write as
    ``kept_on_rollback`` so the refusal stays on record when the entry point rolls back."""
    assigned = list_assigned_providers(session, dataset_code=spec.code)
    if any(p.id == provider.id for p in assigned):
        return
    owners = "、".join(f"{p.name}（{p.code}）" for p in assigned)
    refused = keyed(
        NotAssigned,
        "error.ingest.not_assigned" if assigned else "error.ingest.not_assigned_to_anyone",
        dataset=f"{spec.name_zh}（{spec.code}）",
        provider=f"{provider.name}（{provider.code}）",
        owners=owners,
    )
    record = partial(
        _record_not_assigned,
        actor=actor,
        provider_id=provider.id,
        detail={
            "provider": provider.code,
            "dataset": spec.code,
            "assigned": [p.code for p in assigned],
            "channel": channel,
            "reason": reason,
            "code": refused.code,
        },
    )
    record(session)
    refused.kept_on_rollback = record
    raise refused


REASON_MAX: Final = 500


def reason_required(actor: Actor, provider_id: int) -> bool:
    """Whether ``actor`` must state why it delivers for ``provider_id``: a person who is not one
    of the provider's own users (an operator on the upload page). The console demands
    ``--on-behalf-of`` and ``--reason`` itself; programs are not asked — a provider's API client
    delivers only for its own provider, and connectors and jobs run as the system."""
    return actor.kind == ActorKind.USER and actor.provider_id != provider_id


def check_reason(actor: Actor, *, provider: Provider, reason: str | None) -> None:
    """Refuse a delivery on a provider's behalf without a stated reason (issue 21, see
    :func:`reason_required`); the reason is kept in the batch's audit event."""
    if not reason_required(actor, provider.id) or (reason and reason.strip()):
        return
    who = f"{provider.name}（{provider.code}）"
    raise keyed(
        ReasonRequired,
        "error.ingest.reason_required",
        provider=who,
        issues=[
            keyed_issue(
                "INGEST-REASON-REQUIRED",
                "error.ingest.reason_required",
                field="reason",
                provider=who,
            )
        ],
    )


def _record_not_assigned(
    session: Session, *, actor: Actor, provider_id: int, detail: dict[str, Any]
) -> None:
    audit_service.record(
        session,
        actor,
        action="ingest.delivery.not_assigned",
        object_type="ingest_provider",
        object_id=provider_id,
        detail=detail,
    )
    session.flush()


def dataset_spec(session: Session, code: str) -> DatasetSpec:
    """The dataset as the current list defines it.

    Raises :class:`CatalogNotLoaded` before any list is loaded — the operator loads it
    (``creditbridge catalog load``); a delivery never does — and NotFound for an unknown code."""
    if catalog_service.get_current_version(session) is None:
        raise keyed(CatalogNotLoaded, "error.ingest.no_catalog")
    return catalog_service.get_dataset_spec(session, code=code)


def content_digest_of(source: Source) -> tuple[str, Source]:
    """SM3 of what was delivered: the file's bytes, or the canonical JSON of the rows (one line
    per row), streamed. Rows given as an iterator are materialised into a list first."""
    h = sm3_new()
    if isinstance(source, bytes):
        h.update(source)
        return h.digest().hex(), source
    if isinstance(source, Path):
        with source.open("rb") as stream:
            while block := stream.read(1 << 20):
                h.update(block)
        return h.digest().hex(), source
    rows = source if isinstance(source, list) else list(source)
    for row in rows:
        h.update(canonical_json(row) + b"\n")
    return h.digest().hex(), rows


def ingest_batch(
    session: Session,
    actor: Actor,
    *,
    provider_id: int,
    dataset_code: str,
    batch_key: str | None,
    source: Source,
    filename: str | None,
    channel: str,
    settings: IngestSettings,
    sheet: str | None = None,
    threshold: float | None = None,
    reason: str | None = None,
) -> BatchOutcome:
    """Validate and apply one delivery (see the module docstring for the rules).

    Without a ``batch_key`` the content digest is the key (``sm3-`` and its first 32 hex
    digits): sending the same file again is then a replay, and a changed file a new batch.
    ``settings`` (reject thresholds, chunk size, SQLite cache) come from the entry point.
    ``reason``: why an operator delivers on the provider's behalf (the console requires one);
    it is kept in the batch's audit event, or in the refusal's. A person delivering for a
    provider not their own must give one (:func:`check_reason`, ReasonRequired).

    Flushes, never commits. Raises NotFound (provider, dataset), NotYourProvider, NotAssigned
    (audited), CatalogNotLoaded, and DuplicateDelivery for a batch id reused with different
    content; an unreadable file is not raised but refused, with its reason as the report's one
    line.
    """
    provider = get_provider_or_raise(session, provider_id)
    check_may_deliver(actor, provider.id)
    spec = dataset_spec(session, dataset_code)
    check_assigned(session, actor, provider=provider, spec=spec, channel=channel, reason=reason)
    reason = (reason or "").strip()[:REASON_MAX] or None
    check_reason(actor, provider=provider, reason=reason)
    digest, source = content_digest_of(source)
    batch_key = (batch_key or "").strip() or f"sm3-{digest[:32]}"

    earlier = session.scalar(
        select(Batch).where(Batch.provider_id == provider.id, Batch.batch_key == batch_key)
    )
    if earlier is not None:
        if earlier.content_digest != digest or earlier.dataset_code != spec.code:
            raise DuplicateDelivery(
                f"批次号 {batch_key} 已于 {earlier.received_at:%Y-%m-%d %H:%M} 提交过不同的内容"
                f"（{earlier.dataset_code}）：批次一经接收不可替换，请以新的批次号提交更正",
            )
        return outcome_of(session, earlier, replayed=True)

    limit = settings.threshold_for(spec.code) if threshold is None else threshold
    batch = Batch(
        provider_id=provider.id,
        batch_key=batch_key,
        dataset_code=spec.code,
        channel=channel,
        status=REFUSED,
        received_at=utc_now(),
        content_digest=digest,
        reject_threshold=limit,
        filename=filename,
        submitted_by=actor.name,
    )
    session.add(batch)
    session.flush()

    run = Run(
        session,
        batch,
        spec,
        chunk_rows=settings.chunk_rows,
        sqlite_cache_mb=settings.sqlite_cache_mb,
        parallel=runs_forked(source),
    )
    try:
        delivery = open_source(source, spec, filename=filename, sheet=sheet, limits=settings)
    except DeliveryUnreadable as unreadable:
        run.refuse_unreadable(unreadable)
    else:
        batch.source_format = delivery.format
        batch.encoding = delivery.encoding
        batch.notes = list(delivery.notes)
        run.apply(delivery, threshold=limit)
    run.finish()
    audit_service.record(
        session,
        actor,
        action=f"ingest.batch.{batch.status}",
        object_type="ingest_batch",
        object_id=batch.id,
        detail={
            "provider_id": provider.id,
            "dataset": spec.code,
            "batch_key": batch_key,
            "channel": channel,
            "rows_total": batch.rows_total,
            "rows_accepted": batch.rows_accepted,
            "rows_rejected": batch.rows_rejected,
            "content_digest": digest,
            "refusal_code": batch.refusal_code,
            **({"reason": reason} if reason else {}),
        },
    )
    session.flush()
    return outcome_of(session, batch, replayed=False)


# ---------------------------------------------------------------------------- reading batches


def outcome_of(session: Session, batch: Batch, *, replayed: bool) -> BatchOutcome:
    first = session.scalars(
        select(Reject)
        .where(Reject.batch_id == batch.id)
        .order_by(Reject.row, Reject.id)
        .limit(ISSUE_PREVIEW)
    ).all()
    total = (
        session.scalar(select(func.count()).select_from(Reject).where(Reject.batch_id == batch.id))
        or 0
    )
    return BatchOutcome(
        batch_id=batch.id,
        provider_id=batch.provider_id,
        dataset_code=batch.dataset_code,
        batch_key=batch.batch_key,
        channel=batch.channel,
        status=batch.status,
        replayed=replayed,
        received_at=batch.received_at,
        rows_total=batch.rows_total,
        rows_accepted=batch.rows_accepted,
        rows_warned=batch.rows_warned,
        rows_rejected=batch.rows_rejected,
        rows_new=batch.rows_new,
        rows_updated=batch.rows_updated,
        rows_unchanged=batch.rows_unchanged,
        rows_withdrawn=batch.rows_withdrawn,
        subjects_created=batch.subjects_created,
        reject_threshold=batch.reject_threshold,
        refusal_code=batch.refusal_code,
        refusal_message=batch.refusal_message,
        source_format=batch.source_format,
        encoding=batch.encoding,
        notes=list(batch.notes or []),
        content_digest=batch.content_digest,
        issues=[
            RowIssue(
                r.row,
                r.field,
                r.label,
                r.value,
                r.code,
                r.message,
                r.warning,
                r.message_key,
                r.message_params,
            )
            for r in first
        ],
        issues_total=total,
    )


def access_batch(session: Session, actor: Actor, batch_id: int) -> Batch:
    """A batch the actor may see: operators see all, a provider only its own; anything else is
    NotFound, so that another provider's batch ids reveal nothing."""
    batch = session.get(Batch, batch_id)
    if batch is None or not (
        is_operator(actor)
        or (actor.provider_id is not None and actor.provider_id == batch.provider_id)
    ):
        raise NotFound(f"批次 {batch_id} 不存在")
    return batch


def get_batch_outcome(session: Session, actor: Actor, *, batch_id: int) -> BatchOutcome:
    return outcome_of(session, access_batch(session, actor, batch_id), replayed=False)
