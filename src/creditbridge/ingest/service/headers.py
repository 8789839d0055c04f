"""The header check before a delivery is applied: which column feeds which field, which columns
would be dropped, which required fields no column names, and the first rows as read.

Only the header and a few rows are read (the readers stream), so a large file costs no more to
check than a small one; nothing is written and nothing is audited — the delivery itself is, when
the provider confirms it (:func:`~.delivery.ingest_batch`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path
from typing import Final

from sqlalchemy.orm import Session

from creditbridge.core.actors import Actor
from creditbridge.core.config import IngestSettings
from creditbridge.ingest.domain import clean_text
from creditbridge.ingest.models import Provider
from creditbridge.ingest.readers import (
    ACTION_COLUMN,
    ColumnMap,
    DeliveryUnreadable,
    encoding_label,
    missing_columns,
    open_delivery,
)
from creditbridge.ingest.service.delivery import (
    check_assigned,
    check_may_deliver,
    check_reason,
    dataset_spec,
)
from creditbridge.ingest.service.providers import get_provider_or_raise

PREVIEW_ROWS: Final = 5


@dataclass(frozen=True)
class MappedColumn:
    position: int  # 1-based, as a spreadsheet counts
    header: str  # as the file writes it
    field_code: str
    label_zh: str
    unit: str | None  # the unit the header states (注册资本（万元）)


@dataclass(frozen=True)
class MissingField:
    code: str
    label_zh: str


@dataclass
class HeaderCheck:
    """What the header check found; ``refusal`` is set when the delivery would be refused as a
    whole (unreadable file, no known column, a required column missing)."""

    dataset_code: str
    dataset_name: str
    format: str | None
    encoding: str | None
    mapped: list[MappedColumn] = field(default_factory=list)
    dropped: list[str] = field(default_factory=list)
    missing: list[MissingField] = field(default_factory=list)
    optional_absent: list[MissingField] = field(default_factory=list)
    rows: list[tuple[int, list[str]]] = field(default_factory=list)  # (row number, cells)
    notes: list[str] = field(default_factory=list)
    refusal_code: str | None = None
    refusal_message: str | None = None
    refusal_key: str | None = None
    refusal_params: dict[str, object] | None = None

    @property
    def clean(self) -> bool:
        """Nothing to warn about: every column is used and every required field is there."""
        return self.refusal_code is None and not self.dropped and not self.missing

    @property
    def encoding_label(self) -> str | None:
        return encoding_label(self.encoding) if self.encoding else None


def check_may_upload(
    session: Session, actor: Actor, *, provider_id: int, reason: str | None
) -> Provider:
    """The provider an upload is for, after the refusals of a delivery that need no file (another
    provider's upload, no reason given on a provider's behalf): a page asks them before it
    keeps the file for its header check."""
    provider = get_provider_or_raise(session, provider_id)
    check_may_deliver(actor, provider.id)
    check_reason(actor, provider=provider, reason=reason)
    return provider


def check_header(
    session: Session,
    actor: Actor,
    *,
    provider_id: int,
    dataset_code: str,
    source: Path,
    filename: str | None,
    sheet: str | None,
    settings: IngestSettings,
) -> HeaderCheck:
    """Read the header and the first rows of an upload the way :func:`ingest_batch` would.

    The same refusals as a delivery come first (another provider's upload, a dataset the provider
    is not assigned — audited there), so the check reveals nothing a delivery would not."""
    check_may_deliver(actor, provider_id)
    provider = get_provider_or_raise(session, provider_id)
    spec = dataset_spec(session, dataset_code)
    check_assigned(session, actor, provider=provider, spec=spec, channel="file")
    found = HeaderCheck(spec.code, spec.name_zh, None, None)
    columns: ColumnMap | None
    try:
        delivery = open_delivery(
            source, fields=spec.fields, filename=filename, sheet=sheet, limits=settings
        )
    except DeliveryUnreadable as exc:
        found.refusal_code, found.refusal_message = exc.code, exc.message
        found.refusal_key, found.refusal_params = exc.key, exc.params
        columns = exc.columns
    else:
        found.format, found.encoding, found.notes = (
            delivery.format,
            delivery.encoding,
            delivery.notes,
        )
        columns = delivery.columns
        try:
            order = sorted(columns.positions.items())
            for raw in islice(delivery.rows, PREVIEW_ROWS):
                found.rows.append((raw.row, [clean_text(raw.values.get(c)) for _, c in order]))
        except DeliveryUnreadable as exc:
            found.refusal_code, found.refusal_message = exc.code, exc.message
        finally:
            # Closing the stream closes the file (and the workbook) the reader holds open.
            close = getattr(delivery.rows, "close", None)
            if close is not None:
                close()
    if columns is None:
        return found
    labels = {f.code: f.label_zh for f in spec.fields}
    labels[ACTION_COLUMN] = "操作（撤销）"
    for position, code in sorted(columns.positions.items()):
        found.mapped.append(
            MappedColumn(
                position + 1,
                columns.texts.get(position, code),
                code,
                labels.get(code, code),
                columns.units.get(code),
            )
        )
    found.dropped = list(columns.ignored)
    found.missing = [
        MissingField(f.code, f.label_zh) for f in missing_columns(columns, spec.fields)
    ]
    present = set(columns.positions.values())
    found.optional_absent = [
        MissingField(f.code, f.label_zh)
        for f in spec.fields
        if not f.required and f.code not in present
    ]
    return found
