"""Reading a delivered file, whatever the provider saved: CSV (UTF-8, UTF-8 with BOM, GBK, GB18030),
XLSX and JSON Lines, with columns named by field code, by the list's Chinese label or by one of the
field's aliases (``aliases`` in the list file).

Rows are streamed: a reader holds one row at a time, so a file of ten million rows needs no more memory
than a file of ten. Row numbers are the ones the provider sees — the line in the CSV or JSON Lines file,
the row in the spreadsheet — so a reject report can be read next to the original.
"""

from __future__ import annotations

import codecs
import csv
import io
import re
import zipfile
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from operator import itemgetter
from pathlib import Path
from typing import IO, Any, Final, NamedTuple

import orjson
from charset_normalizer import from_bytes

from creditbridge.catalog.domain import FieldLike, header_key
from creditbridge.core.config import IngestSettings
from creditbridge.ingest.domain import clean_text, split_unit
from creditbridge.presentation.i18n import translate

SAMPLE_BYTES: Final = 1 << 20
HEADER_SEARCH_ROWS: Final = 10
ACTION_COLUMN: Final = "_action"
"""The pseudo-field of a row's action: empty (deliver) or a withdrawal (撤销), see docs/ingest.md."""
ACTION_HEADERS: Final = frozenset({"_action", "action", "操作", "操作类型", "撤销标志"})
# A column header may carry its unit: 注册资本（万元）, 实缴税额(元).
_HEADER_UNIT: Final = re.compile(r"^(?P<label>.+?)\s*[（(]\s*(?P<unit>[^）)]+?)\s*[）)]$")


class DeliveryUnreadable(ValueError):
    """The file as a whole cannot be read: empty, undecodable, no recognisable header.

    ``message`` is the Chinese reason the reject report stores; ``key`` and ``params`` name it in
    the message tables (``presentation/messages/ingest_issues.py``) for an English page."""

    def __init__(
        self,
        code: str,
        message: str,
        *,
        key: str | None = None,
        params: Mapping[str, object] | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.key = key
        self.params: dict[str, object] | None = None if params is None else dict(params)
        # The header as far as it was matched, when the header was the problem (a header check
        # shows it next to the reason).
        self.columns: ColumnMap | None = None


def unreadable(code: str, key: str, /, **params: object) -> DeliveryUnreadable:
    """A :class:`DeliveryUnreadable` told by message key, its Chinese text taken from the table."""
    return DeliveryUnreadable(code, translate("zh", key, **params), key=key, params=params)


class ReadProblem(NamedTuple):
    """A problem that belongs to a row, not to one value: found while reading it."""

    field: str  # "" for the row as a whole
    code: str
    message: str  # Chinese
    key: str | None = None
    params: Mapping[str, object] | None = None


def read_problem(field: str, code: str, key: str, /, **params: object) -> ReadProblem:
    return ReadProblem(field, code, translate("zh", key, **params), key, params)


@dataclass(slots=True)
class RawRow:
    """One delivered row keyed by field code, with the problems found while reading it."""

    row: int
    values: dict[str, Any]
    read_problems: tuple[ReadProblem, ...] = ()


@dataclass
class ColumnMap:
    """How the file's columns map onto the dataset's fields."""

    positions: dict[int, str] = field(default_factory=dict)
    units: dict[str, str] = field(default_factory=dict)
    ignored: list[str] = field(default_factory=list)
    texts: dict[int, str] = field(default_factory=dict)
    """Each non-empty header cell as written, by position (matched or ignored)."""

    def row(self, cells: Sequence[Any]) -> dict[str, Any]:
        return {code: cells[i] for i, code in self.positions.items() if i < len(cells)}


@dataclass
class Delivery:
    """An opened delivery: what was detected, and the stream of its rows."""

    format: str
    encoding: str | None
    columns: ColumnMap
    rows: Iterator[RawRow]
    notes: list[str] = field(default_factory=list)


# ---------------------------------------------------------------- headers


def _names(fields: Sequence[FieldLike]) -> dict[str, str]:
    by_name: dict[str, str] = {header_key(name): ACTION_COLUMN for name in ACTION_HEADERS}
    for spec in fields:
        # Aliases first: the list file refuses an alias that is another field's code or label,
        # and a code or label must win should an older list have let one through.
        for alias in getattr(spec, "aliases", None) or ():
            by_name[header_key(alias)] = spec.code
    for spec in fields:
        by_name[header_key(spec.code)] = spec.code
        by_name[header_key(spec.label_zh)] = spec.code
    return by_name


def map_columns(header: Sequence[Any], fields: Sequence[FieldLike]) -> ColumnMap:
    """Match each header cell to a field by code, Chinese label, or label with a unit suffix."""
    by_name = _names(fields)
    mapping = ColumnMap()
    for position, cell in enumerate(header):
        text = clean_text(cell)
        if not text:
            continue
        mapping.texts[position] = text
        code = by_name.get(header_key(text))
        unit = None
        if code is None:
            match = _HEADER_UNIT.match(text)
            if match:
                code = by_name.get(header_key(match["label"]))
                unit = match["unit"]
        if code is None:
            mapping.ignored.append(text)
            continue
        if code in mapping.positions.values():
            raise unreadable(
                "INGEST-HEADER-DUPLICATE",
                "ingest_issue.header.duplicate",
                column=position + 1,
                text=text,
                code=code,
            )
        mapping.positions[position] = code
        if unit:
            mapping.units[code] = unit
    return mapping


def check_columns(mapping: ColumnMap, fields: Sequence[FieldLike]) -> None:
    try:
        _check_columns(mapping, fields)
    except DeliveryUnreadable as exc:
        exc.columns = mapping
        raise


def missing_columns(mapping: ColumnMap, fields: Sequence[FieldLike]) -> list[FieldLike]:
    """Required fields no column names (none when an action column is there, see below)."""
    present = set(mapping.positions.values())
    if ACTION_COLUMN in present:
        return []
    return [spec for spec in fields if spec.required and spec.code not in present]


def _check_columns(mapping: ColumnMap, fields: Sequence[FieldLike]) -> None:
    if not set(mapping.positions.values()) - {ACTION_COLUMN}:
        raise unreadable(
            "INGEST-HEADER-UNKNOWN",
            "ingest_issue.header.unknown",
            examples="、".join(f"{spec.label_zh}({spec.code})" for spec in list(fields)[:4]),
        )
    present = set(mapping.positions.values())
    if ACTION_COLUMN in present:
        # A file with an action column may hold only withdrawals, which name just the record's
        # key: required fields are then checked row by row, for the rows that deliver data.
        return
    missing = [spec for spec in fields if spec.required and spec.code not in present]
    if missing:
        raise unreadable(
            "INGEST-HEADER-MISSING",
            "ingest_issue.header.missing",
            columns="、".join(f"{spec.label_zh}({spec.code})" for spec in missing),
        )


def _header_score(cells: Sequence[Any], fields: Sequence[FieldLike]) -> int:
    try:
        return len(set(map_columns(cells, fields).positions.values()) - {ACTION_COLUMN})
    except DeliveryUnreadable:
        return 0


# ---------------------------------------------------------------- encodings


def _looks_utf8(line: bytes) -> bool:
    # Decoding with replacement and looking for U+FFFD costs a fifth of a raised and caught
    # UnicodeDecodeError, and this runs on every non-ASCII line of a GBK file. A line that
    # really holds U+FFFD gets the exact check.
    if "\ufffd" not in line.decode("utf-8", "replace"):
        return True
    try:
        line.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def detect_encoding(sample: bytes) -> str:
    """The encoding most of the file is in: UTF-8 (with or without BOM), else GB18030 (a superset
    of GBK), else charset-normalizer's best guess; an undecodable sample is refused.

    Decided line by line over the sample, by majority of the lines that are not plain ASCII: one
    GBK line pasted into a UTF-8 file must not make the whole file read as GBK (every UTF-8
    Chinese character would then turn into two wrong ones), and the reverse."""
    if not sample.strip():
        raise unreadable("INGEST-EMPTY", "ingest_issue.file.empty")
    if sample.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    lines = sample.split(b"\n")
    if len(sample) >= SAMPLE_BYTES and len(lines) > 1:
        lines = lines[:-1]  # the sample may end mid-line, even mid-character
    wide = [line for line in lines if not line.isascii()]
    if not wide:
        return "utf-8"
    utf8 = sum(1 for line in wide if _looks_utf8(line))
    if utf8 * 2 >= len(wide):
        return "utf-8"
    gb = 0
    for line in wide:
        try:
            line.decode("gb18030")
            gb += 1
        except UnicodeDecodeError:
            pass
    if gb * 2 >= len(wide):
        return "gb18030"
    best = from_bytes(sample).best()
    if best is None:
        raise unreadable("INGEST-ENCODING", "ingest_issue.file.encoding")
    return str(best.encoding)


_ENCODING_NAMES: Final = {"utf-8": "UTF-8", "utf-8-sig": "UTF-8 (BOM)", "gb18030": "GBK/GB18030"}


def encoding_label(encoding: str) -> str:
    return _ENCODING_NAMES.get(encoding, encoding.upper())


class _DecodedLines:
    """Physical lines decoded one by one; a line in another encoding than the file's is kept
    (decoded with replacement characters) and remembered, so its row is rejected instead of the
    whole file.

    In a GB18030 file, a non-ASCII line that is valid UTF-8 is such a line too: GB18030 decodes
    almost any byte pair, so UTF-8 text would otherwise pass as nonsense characters, while GBK
    Chinese text is practically never valid UTF-8."""

    def __init__(self, stream: IO[bytes], encoding: str) -> None:
        self.stream = stream
        self.encoding = "utf-8" if encoding == "utf-8-sig" else encoding
        self.strip_bom = encoding == "utf-8-sig"
        self.check_utf8 = self.encoding == "gb18030"
        self.bad_lines = 0

    def __iter__(self) -> Iterator[str]:
        """Lines in file order. The file is read in blocks of whole lines, and a block that
        decodes as a whole is decoded in one call; a block that does not is taken line by
        line, so a bad line costs only its own row. (A line feed never occurs inside a UTF-8 or
        GB18030 character, so the block's text splits into the same lines as its bytes.)"""
        carry = b""
        first = True
        while block := self.stream.read(BLOCK_BYTES):
            block = carry + block
            cut = block.rfind(b"\n") + 1
            carry, block = block[cut:], block[:cut]
            if first and block:
                first = False
                if self.strip_bom:
                    block = block.removeprefix(codecs.BOM_UTF8)
            if block:
                yield from self._block(block)
        if carry:
            if first and self.strip_bom:
                carry = carry.removeprefix(codecs.BOM_UTF8)
            yield from self._lines([carry])

    def _block(self, block: bytes) -> Iterator[str]:
        raws = block.split(b"\n")
        raws.pop()  # the block ends with a line feed: an empty last piece
        if block.isascii():
            for text in block.decode("ascii").split("\n")[:-1]:
                yield text + "\n"
            return
        try:
            texts = block.decode(self.encoding).split("\n")
        except UnicodeDecodeError:
            yield from self._lines([raw + b"\n" for raw in raws])
            return
        if not self.check_utf8:
            for text in texts[:-1]:
                yield text + "\n"
            return
        for raw, text in zip(raws, texts, strict=False):
            if not raw.isascii() and _looks_utf8(raw):
                self.bad_lines += 1
            yield text + "\n"

    def _lines(self, raws: Iterable[bytes]) -> Iterator[str]:
        """Line by line: each decoded on its own, a line in another encoding remembered."""
        encoding = self.encoding
        check_utf8 = self.check_utf8
        for raw in raws:
            if raw.isascii():
                yield raw.decode("ascii")
                continue
            try:
                text = raw.decode(encoding)
            except UnicodeDecodeError:
                self.bad_lines += 1
                yield raw.decode(encoding, errors="replace")
                continue
            if check_utf8 and _looks_utf8(raw):
                self.bad_lines += 1
            yield text


BLOCK_BYTES: Final = 1 << 20


# ---------------------------------------------------------------- formats


def open_delivery(
    source: Path | bytes,
    *,
    fields: Sequence[FieldLike],
    filename: str | None = None,
    sheet: str | None = None,
    limits: IngestSettings | None = None,
) -> Delivery:
    """Open a delivery by its file name's extension (``.csv``, ``.xlsx``, ``.jsonl``/``.ndjson``).
    ``limits``: the XLSX guard's (``Settings.ingest``); their defaults when not given."""
    name = (filename or (source.name if isinstance(source, Path) else "")).lower()
    if name.endswith((".xlsx", ".xlsm")):
        check_xlsx_size(source, name=filename or name, limits=limits)
        return _open_xlsx(source, fields=fields, sheet=sheet)
    if name.endswith((".jsonl", ".ndjson", ".json")):
        return _open_jsonl(_binary(source), fields=fields)
    if name.endswith((".csv", ".txt")) or not name:
        return _open_csv(_binary(source), fields=fields)
    raise unreadable("INGEST-FORMAT", "ingest_issue.file.format", suffix=Path(name).suffix or name)


def open_rows(rows: Iterable[Mapping[str, Any]], *, fields: Sequence[FieldLike]) -> Delivery:
    """Rows given as objects (the JSON API, a pull connector), keyed by field code or label;
    numbered from 1 in the order given."""
    by_name = _names(fields)

    def stream() -> Iterator[RawRow]:
        for number, obj in enumerate(rows, start=1):
            if not isinstance(obj, Mapping):
                yield RawRow(number, {}, (_NOT_AN_OBJECT,))
                continue
            yield RawRow(number, _keyed(obj, by_name, amounts))

    amounts = frozenset(spec.code for spec in fields if spec.type == "amount")
    return Delivery("rows", None, ColumnMap(), stream())


def _keyed(
    obj: Mapping[str, Any], by_name: Mapping[str, str], amounts: frozenset[str] = frozenset()
) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for key, value in obj.items():
        code = by_name.get(header_key(str(key)))
        if code is None:
            match = _HEADER_UNIT.match(str(key))
            code = by_name.get(header_key(match["label"])) if match else None
            # A key with a unit (实缴税额合计（万元）) says what the amount is in, for this
            # value alone: objects need not share keys the way a file's rows share a header.
            if code in amounts and match and value is not None and not isinstance(value, bool):
                text = clean_text(value)
                if text and split_unit(text)[1] is None:
                    value = text + match["unit"]
        if code is not None:
            values[code] = value
    return values


def _binary(source: Path | bytes) -> IO[bytes]:
    return io.BytesIO(source) if isinstance(source, bytes) else source.open("rb")


def _open_csv(stream: IO[bytes], *, fields: Sequence[FieldLike]) -> Delivery:
    try:
        sample = stream.read(SAMPLE_BYTES)
        encoding = detect_encoding(sample)
        stream.seek(0)
        lines = _DecodedLines(stream, encoding)
        reader = csv.reader(iter(lines))
        header: list[str] | None = None
        for cells in _csv_rows(reader):
            if any(clean_text(cell) for cell in cells):
                header = cells
                break
        if header is None:
            raise unreadable("INGEST-EMPTY", "ingest_issue.file.no_header")
        columns = map_columns(header, fields)
        check_columns(columns, fields)
    except BaseException:
        stream.close()
        raise
    header_width = len(header)
    # A badly encoded header line is the file's problem, not the first data row's.
    bad_before = lines.bad_lines
    positions = list(columns.positions.items())
    label = encoding_label(encoding)
    # A row as wide as the columns it maps is keyed by one C call instead of a dict loop.
    codes = [code for _, code in positions]
    reach = max(i for i, _ in positions) + 1
    pick = itemgetter(*[i for i, _ in positions]) if len(positions) > 1 else None

    def rows() -> Iterator[RawRow]:
        seen_bad = bad_before
        try:
            # The reader itself, not _csv_rows: one generator less per row on the hot path;
            # its refusals are turned into DeliveryUnreadable below all the same.
            for cells in reader:
                row_no = reader.line_num
                width = len(cells)
                if pick is not None and width >= reach:
                    values = dict(zip(codes, pick(cells), strict=True))
                else:
                    values = {code: cells[i] for i, code in positions if i < width}
                if lines.bad_lines == seen_bad and width <= header_width:
                    if any(values.values()) or any(c.strip() for c in cells):
                        yield RawRow(row_no, values)
                    continue
                if not any(clean_text(cell) for cell in cells):
                    seen_bad = lines.bad_lines
                    continue
                problems: list[ReadProblem] = []
                if lines.bad_lines > seen_bad:
                    seen_bad = lines.bad_lines
                    problems.append(
                        read_problem(
                            "", "INGEST-ENCODING", "ingest_issue.row.encoding", encoding=label
                        )
                    )
                if width > header_width:
                    problems.append(
                        read_problem(
                            "",
                            "INGEST-ROW-WIDTH",
                            "ingest_issue.row.width",
                            width=width,
                            header=header_width,
                        )
                    )
                yield RawRow(row_no, values, tuple(problems))
        except csv.Error as exc:
            raise _unreadable_csv(reader, exc) from exc
        finally:
            stream.close()

    return Delivery("csv", encoding, columns, rows(), _column_notes(columns))


def _csv_rows(reader: Any) -> Iterator[list[str]]:
    """The csv module's rows; its own refusals (a NUL byte, a field over the size limit, an
    unclosed quote) make the file unreadable from that line on."""
    try:
        yield from reader
    except csv.Error as exc:
        raise _unreadable_csv(reader, exc) from exc


def _unreadable_csv(reader: Any, exc: csv.Error) -> DeliveryUnreadable:
    return unreadable("INGEST-CSV", "ingest_issue.file.csv", line=reader.line_num, error=str(exc))


def _open_jsonl(stream: IO[bytes], *, fields: Sequence[FieldLike]) -> Delivery:
    by_name = _names(fields)
    amounts = frozenset(spec.code for spec in fields if spec.type == "amount")
    columns = ColumnMap()
    peek = stream.read(SAMPLE_BYTES)
    stream.seek(0)
    if not peek.strip():
        stream.close()
        raise unreadable("INGEST-EMPTY", "ingest_issue.file.empty")

    def rows() -> Iterator[RawRow]:
        try:
            for line_no, raw in enumerate(stream, start=1):
                if not raw.strip():
                    continue
                try:
                    obj = orjson.loads(raw)
                except orjson.JSONDecodeError as exc:
                    problem = read_problem(
                        "", "INGEST-JSON", "ingest_issue.row.json_invalid", error=str(exc)
                    )
                    yield RawRow(line_no, {}, (problem,))
                    continue
                if not isinstance(obj, dict):
                    yield RawRow(line_no, {}, (_NOT_AN_OBJECT,))
                    continue
                yield RawRow(line_no, _keyed(obj, by_name, amounts))
        finally:
            stream.close()

    return Delivery("jsonl", "utf-8", columns, rows())


_NOT_AN_OBJECT: Final = read_problem("", "INGEST-JSON", "ingest_issue.row.not_an_object")

FORMULA_CODE: Final = "INGEST-FORMULA"
XLSX_TOO_LARGE: Final = "INGEST-XLSX-TOO-LARGE"
_CONTENT_TYPES: Final = "[Content_Types].xml"
_CONTENT_TYPES_MAX: Final = 1 << 20
_WORKSHEET_TYPE: Final = "application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"


def check_xlsx_size(
    source: Path | bytes, *, name: str, limits: IngestSettings | None = None
) -> None:
    """Refuse a workbook that would expand past the configured limits: a decompression bomb (a
    1.2 MB file whose shared strings expand to 331 MB once cost 977 MB and 20 s).

    The sizes are those the zip declares, read without inflating anything; zipfile never
    inflates a part past its declared size, so a lying header only truncates the part. openpyxl
    streams the worksheets row by row but reads every other part (the shared strings first)
    whole, so those have a lower limit of their own. ``limits``: ``Settings.ingest`` (its
    defaults when not given).
    """
    settings = limits or IngestSettings.model_construct()
    try:
        with zipfile.ZipFile(
            io.BytesIO(source) if isinstance(source, bytes) else source
        ) as archive:
            parts = archive.infolist()
            streamed = _worksheet_parts(archive, name)
    except (KeyError, OSError, ValueError, zipfile.BadZipFile) as exc:
        raise unreadable(
            "INGEST-XLSX", "ingest_issue.xlsx.open", name=name, error=str(exc)
        ) from exc
    total = sum(part.file_size for part in parts)
    if total > settings.xlsx_max_uncompressed_bytes:
        raise unreadable(
            XLSX_TOO_LARGE,
            "ingest_issue.xlsx.too_large_total",
            name=name,
            size=f"{total:,}",
            limit=f"{settings.xlsx_max_uncompressed_bytes:,}",
        )
    for part in parts:
        if part.filename not in streamed and part.file_size > settings.xlsx_max_part_bytes:
            raise _too_large(name, part.filename, part.file_size, settings.xlsx_max_part_bytes)


def _worksheet_parts(archive: zipfile.ZipFile, name: str) -> set[str]:
    """The parts the content types declare as worksheets (openpyxl finds parts by type, not by
    path, so a path proves nothing)."""
    from xml.etree import ElementTree

    manifest = archive.getinfo(_CONTENT_TYPES)
    if manifest.file_size > _CONTENT_TYPES_MAX:
        raise _too_large(name, _CONTENT_TYPES, manifest.file_size, _CONTENT_TYPES_MAX)
    root = ElementTree.fromstring(archive.read(manifest))  # noqa: S314 - size checked above
    return {
        str(item.get("PartName", "")).lstrip("/")
        for item in root
        if item.tag.endswith("}Override") and item.get("ContentType") == _WORKSHEET_TYPE
    }


def _too_large(name: str, part: str, size: int, limit: int) -> DeliveryUnreadable:
    return unreadable(
        XLSX_TOO_LARGE,
        "ingest_issue.xlsx.too_large",
        name=name,
        part=part,
        size=f"{size:,}",
        limit=f"{limit:,}",
    )


def _open_xlsx(source: Path | bytes, *, fields: Sequence[FieldLike], sheet: str | None) -> Delivery:
    from openpyxl import load_workbook
    from openpyxl.utils.exceptions import InvalidFileException

    def load(data_only: bool) -> Any:
        try:
            return load_workbook(
                io.BytesIO(source) if isinstance(source, bytes) else source,
                read_only=True,
                data_only=data_only,
            )
        except (InvalidFileException, KeyError, OSError, ValueError, zipfile.BadZipFile) as exc:
            raise unreadable("INGEST-XLSX", "ingest_issue.xlsx.unreadable", error=str(exc)) from exc

    # data_only: a formula cell gives the value Excel last calculated, not the formula text.
    workbook = load(True)
    if sheet is not None:
        if sheet not in workbook.sheetnames:
            workbook.close()
            raise unreadable(
                "INGEST-SHEET",
                "ingest_issue.xlsx.sheet_missing",
                sheet=sheet,
                sheets="、".join(workbook.sheetnames),
            )
        title = sheet
    else:
        title = workbook.sheetnames[0]
    worksheet = workbook[title]
    if not hasattr(worksheet, "iter_rows"):
        workbook.close()
        raise unreadable("INGEST-SHEET", "ingest_issue.xlsx.chart_sheet", title=title)
    iterator = worksheet.iter_rows(values_only=True)
    # Title rows and merged banner cells often sit above the real header: take the first of the
    # top rows that names the most fields.
    top: list[tuple[int, tuple[Any, ...]]] = []
    for number, cells in enumerate(iterator, start=1):
        top.append((number, cells))
        if len(top) >= HEADER_SEARCH_ROWS:
            break
    if not any(any(clean_text(c) for c in cells) for _, cells in top):
        workbook.close()
        raise unreadable("INGEST-EMPTY", "ingest_issue.xlsx.sheet_empty", title=worksheet.title)
    scores = [(_header_score(cells, fields), number) for number, cells in top]
    best_score, header_row = max(scores, key=lambda pair: (pair[0], -pair[1]))
    try:
        header = next(cells for number, cells in top if number == header_row)
        columns = map_columns(header if best_score else top[0][1], fields)
        check_columns(columns, fields)
    except DeliveryUnreadable:
        workbook.close()
        raise
    notes = _column_notes(columns)
    if header_row > 1:
        notes.append(f"表头位于第{header_row}行，上方{header_row - 1}行（标题）已跳过")
    positions = list(columns.positions.items())

    def cells_after_header() -> Iterator[tuple[int, tuple[Any, ...]]]:
        yield from ((n, c) for n, c in top if n > header_row)
        yield from enumerate(iterator, start=len(top) + 1)

    def rows() -> Iterator[RawRow]:
        # A cell that holds a formula Excel never calculated (a file written by a program, not
        # saved by Excel) reads as empty with data_only; the same sheet read a second time, in
        # step, without data_only tells such a cell from a really empty one.
        formulas = load(False)
        # Both reads enumerate the same sheet from its first row (gaps filled with empty rows),
        # so they stay in step by count.
        formula_rows = formulas[title].iter_rows(values_only=True)
        for _ in range(header_row):
            next(formula_rows, ())
        try:
            for number, cells in cells_after_header():
                formula_cells: tuple[Any, ...] = next(formula_rows, ())
                width = len(cells)
                values = {code: cells[i] for i, code in positions if i < width}
                problems = tuple(
                    read_problem(
                        code, FORMULA_CODE, "ingest_issue.xlsx.formula", formula=formula_cells[i]
                    )
                    for i, code in positions
                    if (i >= width or cells[i] is None)
                    and i < len(formula_cells)
                    and isinstance(formula_cells[i], str)
                    and formula_cells[i].startswith("=")
                )
                if not problems and not any(clean_text(c) for c in cells):
                    continue
                yield RawRow(number, values, problems)
        finally:
            workbook.close()
            formulas.close()

    return Delivery("xlsx", None, columns, rows(), notes)


def _column_notes(columns: ColumnMap) -> list[str]:
    if not columns.ignored:
        return []
    return ["未识别的列已忽略：" + "、".join(columns.ignored)]
