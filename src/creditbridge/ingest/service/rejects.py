"""A batch's reject report: its lines in row order, and the same as CSV for Excel.

The CSV is Chinese, always with the same seven columns: providers open it in Excel and their
scripts read it by position. A reader in English gets one more column at the end, the reason in
English (from each line's message key; a line stored before keys were kept repeats its Chinese),
so the first seven never move."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from typing import Final

from sqlalchemy import select
from sqlalchemy.orm import Session

from creditbridge.core.actors import Actor
from creditbridge.ingest.models import Reject
from creditbridge.ingest.service.delivery import access_batch
from creditbridge.presentation.errors import explain
from creditbridge.presentation.exports import csv_row


def list_rejects(session: Session, actor: Actor, *, batch_id: int) -> Iterator[Reject]:
    """The batch's report lines in row order, streamed."""
    access_batch(session, actor, batch_id)
    yield from session.scalars(
        select(Reject)
        .where(Reject.batch_id == batch_id)
        .order_by(Reject.row, Reject.id)
        .execution_options(yield_per=5000)
    )


REPORT_HEADER: Final = ("行号", "字段", "字段名称", "原值", "错误代码", "错误说明", "级别")
ENGLISH_COLUMN: Final = "Reason (English)"


def reject_report_csv(
    session: Session, actor: Actor, *, batch_id: int, english: bool = False
) -> Iterator[bytes]:
    """The reject report as CSV in UTF-8 with a BOM (so Excel opens it as UTF-8), streamed;
    ``english`` adds the reason in English as a last column (see the module docstring)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow((*REPORT_HEADER, ENGLISH_COLUMN) if english else REPORT_HEADER)
    yield b"\xef\xbb\xbf" + buffer.getvalue().encode()
    for reject in list_rejects(session, actor, batch_id=batch_id):
        buffer.seek(0)
        buffer.truncate()
        cells: tuple[object, ...] = (
            reject.row,
            reject.field,
            reject.label,
            reject.value,
            reject.code,
            reject.message,
            "警告" if reject.warning else "错误",
        )
        if english:
            cells = (*cells, explain("en", reject))
        writer.writerow(csv_row(cells))
        yield buffer.getvalue().encode()
