"""Pure rules of collection: reading one delivered value as the catalog field says it should be.

Real deliveries write dates five ways, amounts with thousands separators and in 万元 where the list
wants 元, booleans as 是/否, and full-width digits out of Excel in GBK. Each parser either returns the
value in the field's canonical form (what is stored in a record) or raises :class:`FieldProblem` with a
stable code and a reason: a message key of ``presentation/messages/ingest_issues.py`` with its
parameters, and the Chinese text the reject report stores; :func:`validate_row` applies them to a
whole row.

No I/O: the file readers, the batch service and the API all call these.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from dataclasses import field as dataclass_field
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Any, Final, Protocol

from creditbridge.presentation.i18n import translate
from creditbridge.reference import divisions, industries, uscc


class FieldLike(Protocol):
    """What validation needs of a catalog field (satisfied by catalog.schemas.FieldSpec)."""

    @property
    def code(self) -> str: ...
    @property
    def label_zh(self) -> str: ...
    @property
    def type(self) -> str: ...
    @property
    def unit(self) -> str | None: ...
    @property
    def required(self) -> bool: ...
    @property
    def enum(self) -> list[str] | None: ...
    @property
    def enum_labels(self) -> dict[str, str] | None: ...
    @property
    def max_length(self) -> int | None: ...
    @property
    def pattern(self) -> str | None: ...


class FieldProblem(ValueError):
    """A value that cannot be read as its field requires."""

    def __init__(
        self,
        code: str,
        message: str,
        *,
        warning: bool = False,
        key: str | None = None,
        params: Mapping[str, object] | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.warning = warning
        self.key = key
        self.params: dict[str, object] = dict(params or {})


def _problem(code: str, key: str, /, *, warning: bool = False, **params: object) -> FieldProblem:
    """A :class:`FieldProblem` told by message key, its Chinese text taken from the table."""
    return FieldProblem(
        code, translate("zh", key, **params), warning=warning, key=key, params=params
    )


# ---------------------------------------------------------------- text


_EMPTY: Final = frozenset({"", "-", "--", "—", "/", "无", "null", "NULL", "None", "N/A", "n/a"})


def clean_text(value: Any) -> str:
    """NFKC-normalised, trimmed text: full-width digits and letters from Excel become ASCII."""
    if value is None:
        return ""
    text = unicodedata.normalize("NFKC", str(value))
    return text.replace("\u200b", "").replace("\ufeff", "").strip()


def is_blank(value: Any) -> bool:
    return clean_text(value) in _EMPTY


# ---------------------------------------------------------------- dates

_DATE_PATTERNS: Final = (
    re.compile(r"^(?P<y>\d{4})-(?P<m>\d{1,2})-(?P<d>\d{1,2})$"),
    re.compile(r"^(?P<y>\d{4})/(?P<m>\d{1,2})/(?P<d>\d{1,2})$"),
    re.compile(r"^(?P<y>\d{4})\.(?P<m>\d{1,2})\.(?P<d>\d{1,2})$"),
    re.compile(r"^(?P<y>\d{4})年(?P<m>\d{1,2})月(?P<d>\d{1,2})日$"),
    re.compile(r"^(?P<y>\d{4})(?P<m>\d{2})(?P<d>\d{2})$"),
)
# A timestamp written by a database export: keep the date, ignore the time of day.
_TIME_SUFFIX: Final = re.compile(
    r"^(\S+?)(?:[ T]\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?)$"
)


def parse_date(value: Any) -> date:
    """A date written as 2024-01-02, 2024/1/2, 2024.1.2, 2024年1月2日 or 20240102."""
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    text = clean_text(value)
    timestamp = _TIME_SUFFIX.match(text)
    if timestamp:
        text = timestamp.group(1)
    for pattern in _DATE_PATTERNS:
        match = pattern.match(text)
        if match:
            year, month, day = int(match["y"]), int(match["m"]), int(match["d"])
            try:
                return date(year, month, day)
            except ValueError:
                raise _problem(
                    "INGEST-DATE-INVALID",
                    "ingest_issue.date_invalid",
                    text=text,
                    year=year,
                    month=month,
                    day=day,
                ) from None
    raise _problem("INGEST-DATE-FORMAT", "ingest_issue.date_format", text=text)


_PERIOD_PATTERNS: Final = (
    re.compile(r"^(?P<y>\d{4})-(?P<m>\d{1,2})$"),
    re.compile(r"^(?P<y>\d{4})/(?P<m>\d{1,2})$"),
    re.compile(r"^(?P<y>\d{4})\.(?P<m>\d{1,2})$"),
    re.compile(r"^(?P<y>\d{4})年(?P<m>\d{1,2})月?$"),
    re.compile(r"^(?P<y>\d{4})(?P<m>\d{2})$"),
)


def parse_period(value: Any) -> str:
    """A month written as 2024-01, 2024/1, 2024年1月 or 202401; stored as ``YYYY-MM``."""
    if isinstance(value, date):
        return f"{value.year:04d}-{value.month:02d}"
    text = clean_text(value)
    for pattern in _PERIOD_PATTERNS:
        match = pattern.match(text)
        if match:
            year, month = int(match["y"]), int(match["m"])
            if 1 <= month <= 12:
                return f"{year:04d}-{month:02d}"
            raise _problem("INGEST-PERIOD-INVALID", "ingest_issue.period_invalid", text=text)
    # A full date in a period column: accept the month it falls in.
    try:
        day = parse_date(text)
    except FieldProblem:
        raise _problem("INGEST-PERIOD-FORMAT", "ingest_issue.period_format", text=text) from None
    return f"{day.year:04d}-{day.month:02d}"


# ---------------------------------------------------------------- numbers and amounts

_AMOUNT_UNITS: Final[dict[str, Decimal]] = {
    "元": Decimal(1),
    "万元": Decimal(10_000),
    "万": Decimal(10_000),
    "亿元": Decimal(100_000_000),
    "亿": Decimal(100_000_000),
}
_UNIT_FACTORS: Final[dict[str, Decimal]] = {"yuan": Decimal(1), "wan_yuan": Decimal(10_000)}
_NUMBER: Final = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)$")
_GROUPED: Final = re.compile(r"^[+-]?\d{1,3}(,\d{3})+(\.\d*)?$")


# The messages of a badly written number, by what the number is: (wrongly grouped, not a number).
_NUMBER_PROBLEMS: Final[dict[str, tuple[str, str]]] = {
    "amount": ("ingest_issue.amount.grouping", "ingest_issue.amount.not_a_number"),
    "integer": ("ingest_issue.integer.grouping", "ingest_issue.integer.not_a_number"),
    "decimal": ("ingest_issue.decimal.grouping", "ingest_issue.decimal.not_a_number"),
}


def _number(text: str, what: str) -> Decimal:
    grouping, not_a_number = _NUMBER_PROBLEMS[what]
    raw = text.replace(" ", "")
    if "," in raw:
        if not _GROUPED.match(raw):
            raise _problem("INGEST-NUMBER-FORMAT", grouping, text=text)
        raw = raw.replace(",", "")
    if not _NUMBER.match(raw):
        raise _problem("INGEST-NUMBER-FORMAT", not_a_number, text=text)
    try:
        return Decimal(raw)
    except InvalidOperation:  # pragma: no cover - the pattern already guarantees a number
        raise _problem("INGEST-NUMBER-FORMAT", not_a_number, text=text) from None


def split_unit(text: str) -> tuple[str, str | None]:
    """``"1,234.5万元"`` → ``("1,234.5", "万元")``; a value with no unit keeps ``None``."""
    for unit in sorted(_AMOUNT_UNITS, key=len, reverse=True):
        if text.endswith(unit):
            return text[: -len(unit)].strip(), unit
    return text, None


def parse_amount(value: Any, *, unit: str, column_unit: str | None = None) -> Decimal:
    """An amount converted into the field's ``unit`` (``yuan`` or ``wan_yuan``).

    The unit is read from the value itself (``12.5万元``), else from the column header
    (``注册资本(万元)``, passed as ``column_unit``), else the field's own unit is assumed.
    """
    if isinstance(value, bool):
        raise _problem("INGEST-AMOUNT-FORMAT", "ingest_issue.amount.not_a_number", text=value)
    if isinstance(value, int | float | Decimal):
        number = Decimal(str(value))
        written_unit = column_unit
    else:
        text = clean_text(value).replace("￥", "").replace("¥", "").replace("，", ",")
        body, written_unit = split_unit(text)
        written_unit = written_unit or column_unit
        number = _number(body, "amount")
    if not number.is_finite():
        raise _problem("INGEST-AMOUNT-FORMAT", "ingest_issue.amount.not_finite", text=value)
    if number < 0:
        raise _problem(
            "INGEST-AMOUNT-NEGATIVE", "ingest_issue.amount.negative", text=clean_text(value)
        )
    target = _UNIT_FACTORS.get(unit)
    if target is None:
        raise _problem("INGEST-UNIT-UNKNOWN", "ingest_issue.amount.unit_unknown", unit=unit)
    factor = _AMOUNT_UNITS[written_unit] if written_unit else target
    converted = number * factor / target
    # Amounts are kept to the fen in 元 and to the yuan's fen in 万元 (6 places).
    places = Decimal("0.01") if unit == "yuan" else Decimal("0.000001")
    quantized = converted.quantize(places)
    if quantized != converted:
        raise _problem(
            "INGEST-AMOUNT-PRECISION",
            "ingest_issue.amount.precision_fen"
            if unit == "yuan"
            else "ingest_issue.amount.precision_wan_yuan",
            text=clean_text(value),
        )
    return quantized.quantize(Decimal(1)) if quantized == quantized.to_integral() else quantized


def parse_integer(value: Any) -> int:
    if isinstance(value, bool):
        raise _problem("INGEST-INTEGER-FORMAT", "ingest_issue.integer.not_whole", text=value)
    if isinstance(value, int):
        return value
    number = (
        Decimal(str(value))
        if isinstance(value, float | Decimal)
        else _number(clean_text(value), "integer")
    )
    if number != number.to_integral_value():
        raise _problem(
            "INGEST-INTEGER-FORMAT", "ingest_issue.integer.not_whole", text=clean_text(value)
        )
    return int(number)


def parse_decimal(value: Any) -> Decimal:
    if isinstance(value, bool):
        raise _problem("INGEST-NUMBER-FORMAT", "ingest_issue.not_a_number", text=value)
    if isinstance(value, int | float | Decimal):
        return Decimal(str(value))
    return _number(clean_text(value), "decimal")


_TRUE: Final = frozenset({"是", "有", "y", "yes", "true", "t", "1", "√", "✓"})
_FALSE: Final = frozenset({"否", "无", "n", "no", "false", "f", "0", "×", "✗"})


def parse_boolean(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = clean_text(value).lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise _problem("INGEST-BOOLEAN-FORMAT", "ingest_issue.boolean", text=clean_text(value))


# ---------------------------------------------------------------- whole values by field type


@dataclass(frozen=True)
class Parsed:
    """A value in its stored form, and any warning it raised."""

    value: Any
    warnings: tuple[FieldProblem, ...] = ()


def parse_value(spec: FieldLike, raw: Any, *, column_unit: str | None = None) -> Parsed:
    """Read ``raw`` as ``spec`` requires; raise :class:`FieldProblem` when it cannot be read.

    Stored forms: dates ISO ``YYYY-MM-DD``, periods ``YYYY-MM``, amounts and decimals as strings of
    Decimal (JSON has no decimal type and float would lose fen), integers as int, booleans as bool.
    """
    kind = spec.type
    if kind in ("string", "text"):
        text = clean_text(raw)
        if spec.max_length is not None and len(text) > spec.max_length:
            raise _problem(
                "INGEST-TOO-LONG", "ingest_issue.too_long", length=len(text), limit=spec.max_length
            )
        if spec.pattern and not re.fullmatch(spec.pattern, text):
            raise _problem("INGEST-PATTERN", "ingest_issue.pattern", text=text)
        return Parsed(text)
    if kind == "date":
        return Parsed(parse_date(raw).isoformat())
    if kind == "period":
        return Parsed(parse_period(raw))
    if kind == "amount":
        return Parsed(str(parse_amount(raw, unit=spec.unit or "yuan", column_unit=column_unit)))
    if kind == "integer":
        return Parsed(parse_integer(raw))
    if kind == "decimal":
        return Parsed(str(parse_decimal(raw)))
    if kind == "boolean":
        return Parsed(parse_boolean(raw))
    if kind == "enum":
        return Parsed(_parse_enum(spec, raw))
    if kind == "uscc":
        return _parse_uscc(raw)
    if kind == "division_code":
        return _parse_division(raw)
    if kind == "industry_code":
        code = clean_text(raw).upper()
        # Registration data carries 3- and 4-digit codes; we hold the 97 divisions, so a deeper code
        # is accepted when it sits under a known division.
        digits = code[1:] if len(code) > 1 and code[0].isalpha() else code
        plausible = industries.is_valid(code) or (
            industries.is_plausible(digits)
            and (digits == code or industries.section_of(digits) == code[0])
        )
        if not plausible:
            raise _problem("INGEST-INDUSTRY", "ingest_issue.industry", code=code)
        return Parsed(code)
    raise _problem("INGEST-TYPE-UNKNOWN", "ingest_issue.type_unknown", kind=kind)


def _parse_enum(spec: FieldLike, raw: Any) -> str:
    text = clean_text(raw)
    allowed = spec.enum or []
    if text in allowed:
        return text
    # Providers often send the Chinese label where the list stores a code, or the reverse.
    for value, label in (spec.enum_labels or {}).items():
        if text == label and value in allowed:
            return value
    shown = "、".join(allowed[:12]) + ("…" if len(allowed) > 12 else "")
    raise _problem("INGEST-ENUM", "ingest_issue.enum", text=text, allowed=shown)


def _parse_uscc(raw: Any) -> Parsed:
    code = clean_text(raw).upper()
    result = uscc.validate(code)
    if not result.valid:
        reasons = "；".join(issue.message for issue in result.errors)
        raise _problem("INGEST-USCC", "ingest_issue.uscc", code=code, reasons=reasons)
    warnings = tuple(
        FieldProblem(f"INGEST-{issue.code}", issue.message, warning=True)
        for issue in result.warnings
    )
    return Parsed(code, warnings)


def _parse_division(raw: Any) -> Parsed:
    code = clean_text(raw)
    # Anhui is held in full; elsewhere GB/T 2260 is checked at province level only.
    known = divisions.is_known(code, include_historical=True)
    if not known and not (code.isdigit() and len(code) == 6 and divisions.province_of(code)):
        raise _problem("INGEST-DIVISION", "ingest_issue.division", code=code)
    successor = divisions.current_successor(code)
    if successor and successor != code:
        return Parsed(
            code,
            (
                _problem(
                    "INGEST-DIVISION-HISTORICAL",
                    "ingest_issue.division_historical",
                    warning=True,
                    code=code,
                    successor=successor,
                ),
            ),
        )
    return Parsed(code)


# ---------------------------------------------------------------- rows


_REQUIRED_MESSAGE: Final = translate("zh", "ingest_issue.required")


class RowStatus(StrEnum):
    ACCEPTED = "accepted"
    WARNED = "accepted_with_warnings"
    REJECTED = "rejected"


@dataclass(frozen=True)
class RowIssue:
    """One problem with one field of one delivered row, as the reject report lists it."""

    row: int
    field: str
    label: str
    value: str
    code: str
    message: str
    warning: bool = False
    # The message as a key of the message tables with its parameters, so that an English page can
    # show the report in English; None for a line told in Chinese only.
    key: str | None = None
    params: Mapping[str, object] | None = dataclass_field(default=None, hash=False)


@dataclass
class RowOutcome:
    row: int
    values: dict[str, Any] = field(default_factory=dict)
    issues: list[RowIssue] = field(default_factory=list)

    @property
    def status(self) -> RowStatus:
        if any(not issue.warning for issue in self.issues):
            return RowStatus.REJECTED
        return RowStatus.WARNED if self.issues else RowStatus.ACCEPTED


def validate_row(
    fields: Sequence[FieldLike],
    raw: Mapping[str, Any],
    *,
    row: int,
    column_units: Mapping[str, str] | None = None,
) -> RowOutcome:
    """Read every field of one delivered row (already keyed by field code).

    Every field is checked, not just the first bad one, so a provider fixes a row in one go.
    """
    outcome = RowOutcome(row=row)
    units = column_units or {}
    for spec in fields:
        value = raw.get(spec.code)
        if is_blank(value):
            if spec.required:
                outcome.issues.append(
                    RowIssue(
                        row,
                        spec.code,
                        spec.label_zh,
                        "",
                        "INGEST-REQUIRED",
                        _REQUIRED_MESSAGE,
                        key="ingest_issue.required",
                        params={},
                    )
                )
            continue
        try:
            parsed = parse_value(spec, value, column_unit=units.get(spec.code))
        except FieldProblem as problem:
            outcome.issues.append(
                RowIssue(
                    row,
                    spec.code,
                    spec.label_zh,
                    clean_text(value),
                    problem.code,
                    problem.message,
                    key=problem.key,
                    params=problem.params,
                )
            )
            continue
        outcome.values[spec.code] = parsed.value
        outcome.issues.extend(
            RowIssue(
                row,
                spec.code,
                spec.label_zh,
                clean_text(value),
                w.code,
                w.message,
                warning=True,
                key=w.key,
                params=w.params,
            )
            for w in parsed.warnings
        )
    return outcome


# ---------------------------------------------------------------- the fast path

_PLAIN_INT: Final = re.compile(r"^(0|[1-9]\d{0,17})$")
# Values of repeating kinds (codes, periods, dates, enums) are remembered per validator; the
# caches stop growing at this size so that memory stays bounded on any file.
_CACHE_LIMIT: Final = 1 << 20
_MISS: Final = object()
_CACHED_TYPES: Final = frozenset(
    {"uscc", "date", "period", "boolean", "enum", "division_code", "industry_code"}
)


class RowValidator:
    """:func:`validate_row` for one dataset, compiled once per batch and fast on clean rows.

    Most delivered rows are clean, and most of their values repeat (the same codes, periods and
    dates thousands of times). For each field a cheap reader handles the common clean form —
    a plain amount in the field's own unit, a cached code or date — and gives up on anything
    else; a row any reader gives up on goes through :func:`validate_row` as a whole. So every
    outcome equals :func:`validate_row`'s (a test holds the two to it), and the fast path only
    decides how quickly a clean row gets there.
    """

    def __init__(
        self, fields: Sequence[FieldLike], column_units: Mapping[str, str] | None = None
    ) -> None:
        self.fields = list(fields)
        self.column_units = dict(column_units or {})
        self._plan = [(spec.code, spec.required, self._reader(spec)) for spec in self.fields]
        self._columns = [
            (code, _column_reader(spec, required, read, self.column_units.get(spec.code)))
            for spec, (code, required, read) in zip(self.fields, self._plan, strict=True)
        ]

    def _reader(self, spec: FieldLike) -> Any:
        kind = spec.type
        unit = self.column_units.get(spec.code)
        if kind in ("string", "text"):
            if spec.max_length is None and spec.pattern is None:
                return clean_text
            return self._cached(spec, unit, cache=False)
        if kind == "amount" and unit is None and spec.unit == "yuan":
            return _fast_yuan(spec)
        if kind == "integer":
            return _fast_integer(spec)
        if kind in _CACHED_TYPES:
            return self._cached(spec, unit, cache=True)
        return self._cached(spec, unit, cache=False)

    @staticmethod
    def _cached(spec: FieldLike, unit: str | None, *, cache: bool) -> _MemoReader:
        return _MemoReader(spec, unit, cache=cache)

    def prime(self, raws: Sequence[Mapping[str, Any]]) -> None:
        """Check a chunk's new unified social credit codes in one vectorised pass, so that the
        clean ones are known before the rows are read one by one (a scalar check per new
        enterprise costs more than the rest of its row)."""
        for code, _, read in self._plan:
            if not isinstance(read, _MemoReader) or read.spec.type != "uscc":
                continue
            memo = read.memo
            new = list(
                {value for raw in raws if type(value := raw.get(code)) is str and value not in memo}
            )
            if not new or len(memo) + len(new) > _CACHE_LIMIT:
                continue
            for value, clean in zip(new, uscc.clean_many(new), strict=True):
                if clean:
                    memo[value] = value

    def __call__(self, raw: Mapping[str, Any], *, row: int) -> RowOutcome:
        values: dict[str, Any] = {}
        get = raw.get
        for code, required, read in self._plan:
            value = get(code)
            if value is None or value == "":
                if required:
                    return validate_row(self.fields, raw, row=row, column_units=self.column_units)
                continue
            parsed = read(value)
            if parsed is _MISS or parsed in _EMPTY:
                # A blank-looking text ("-", "无") or a value the reader gave up on: the full
                # rules decide (required or not, and the exact message).
                return validate_row(self.fields, raw, row=row, column_units=self.column_units)
            values[code] = parsed
        return RowOutcome(row=row, values=values)

    def key_reader(self, key_fields: Sequence[str]) -> Callable[[Mapping[str, Any]], str | None]:
        """The natural key (``|``-joined) a raw row will have once validated, read from its key
        fields alone; ``None`` when a key field is blank or not in its plain clean form (only
        the full rules can say what such a row is)."""
        readers = {code: read for code, _, read in self._plan}
        # A remembered value is looked up straight in its reader's memo (this runs per row).
        plan = [
            (code, read, read.memo if isinstance(read, _MemoReader) and read.cache else {})
            for code in key_fields
            for read in [readers[code]]
        ]

        def key(raw: Mapping[str, Any]) -> str | None:
            parts = []
            for code, read, memo in plan:
                value = raw.get(code)
                if value is None or value == "":
                    return None
                parsed = memo.get(value, _MISS) if type(value) is str else _MISS
                if parsed is _MISS:
                    parsed = read(value)
                    if parsed is _MISS:
                        return None
                if parsed in _EMPTY:
                    return None
                parts.append(str(parsed))
            return "|".join(parts)

        return key

    def read_columns(self, raws: Sequence[Mapping[str, Any]]) -> list[list[Any]] | None:
        """Each field's column read at once (a memo lookup in C for repeating values, a
        vectorised check for plain amounts); ``None`` when a value cannot be (an unhashable
        value, such as a list in a JSON row)."""
        try:
            return [read([raw.get(code) for raw in raws]) for code, read in self._columns]
        except TypeError:
            return None

    def clean_values(self, columns: list[list[Any]]) -> list[dict[str, Any]] | None:
        """The stored values of every row, when the fast readers read every value of every row
        and none was left blank (the usual chunk); otherwise ``None`` — use :meth:`many`."""
        if any(_MISS in column or _ABSENT in column for column in columns):
            return None  # list.__contains__ runs in C
        codes = [code for code, _ in self._columns]
        return [dict(zip(codes, values, strict=True)) for values in zip(*columns, strict=True)]

    def many(
        self,
        raws: Sequence[Mapping[str, Any]],
        rows: Sequence[int],
        columns: list[list[Any]] | None = None,
    ) -> list[RowOutcome]:
        """The outcomes of ``self(raw, row=…)`` for a whole chunk, read column by column
        (:meth:`read_columns`, or ``columns`` already read); a row whose column reader gave up
        on any value goes through :func:`validate_row`, exactly as the per-row path sends it."""
        if not raws:
            return []
        if columns is None:
            columns = self.read_columns(raws)
        if columns is None:
            return [self(raw, row=row) for raw, row in zip(raws, rows, strict=True)]
        codes = [code for code, _ in self._columns]
        fields, units = self.fields, self.column_units
        outcomes: list[RowOutcome] = []
        append = outcomes.append
        for raw, row, values in zip(raws, rows, zip(*columns, strict=True), strict=True):
            if _MISS in values:
                append(validate_row(fields, raw, row=row, column_units=units))
            elif _ABSENT in values:
                append(
                    RowOutcome(
                        row, {c: v for c, v in zip(codes, values, strict=True) if v is not _ABSENT}
                    )
                )
            else:
                append(RowOutcome(row, dict(zip(codes, values, strict=True))))
        return outcomes


class _MemoReader:
    """The reader of a field whose values repeat (codes, periods, dates): each distinct text is
    read once by the full rules; what they made of it (or ``_MISS``) is remembered."""

    def __init__(self, spec: FieldLike, unit: str | None, *, cache: bool) -> None:
        self.spec = spec
        self.unit = unit
        self.cache = cache
        self.memo: dict[Any, Any] = {}

    def __call__(self, raw: Any) -> Any:
        key = raw if isinstance(raw, str) else None
        memo = self.memo
        if key is not None and self.cache:
            found = memo.get(key, _MISS)
            if found is not _MISS:
                return found
        try:
            parsed = parse_value(self.spec, raw, column_unit=self.unit)
        except FieldProblem:
            return _MISS
        value = _MISS if parsed.warnings else parsed.value
        if key is not None and self.cache and len(memo) < _CACHE_LIMIT:
            memo[key] = value
        return value


_ABSENT: Final = object()


def _column_reader(spec: FieldLike, required: bool, read: Any, unit: str | None) -> Any:
    """A reader of a whole column for :meth:`RowValidator.many`: per value, what
    ``RowValidator.__call__`` makes of it — the stored value, ``_ABSENT`` (blank, not required:
    left out) or ``_MISS`` (the row goes to :func:`validate_row`)."""
    blank = _MISS if required else _ABSENT

    def one(raw: Any) -> Any:
        if raw is None or raw == "":
            return blank
        parsed = read(raw)
        if parsed is _MISS or parsed in _EMPTY:
            return _MISS
        return parsed

    if spec.type in _CACHED_TYPES:
        memo: dict[Any, Any] = {None: blank, "": blank}
        memo_get = memo.get

        def cached(column: list[Any]) -> list[Any]:
            out = list(map(memo_get, column))
            if None in out:
                for i, parsed in enumerate(out):
                    if parsed is None:
                        raw = column[i]
                        out[i] = value = one(raw)
                        if type(raw) is str and len(memo) < _CACHE_LIMIT:
                            memo[raw] = value
            return out

        return cached

    def generic(column: list[Any]) -> list[Any]:
        return [one(v) for v in column]

    return generic


def _fast_yuan(spec: FieldLike) -> Any:
    def read(raw: Any) -> Any:
        # String methods, not a regex: this runs for every amount of every row.
        if type(raw) is not str or not raw.isascii():
            return _MISS
        whole, dot, fraction = raw.partition(".")
        if not whole.isdigit() or len(whole) > 18 or (whole[0] == "0" and len(whole) > 1):
            return _MISS
        if not dot:
            return whole
        if not fraction.isdigit() or len(fraction) > 2:
            return _MISS
        # What parse_amount makes of it: fen kept, a whole amount without decimals.
        if fraction.strip("0") == "":
            return whole
        return f"{whole}.{fraction:0<2}"

    return read


def _fast_integer(spec: FieldLike) -> Any:
    def read(raw: Any) -> Any:
        if type(raw) is int:
            return raw
        if type(raw) is not str or _PLAIN_INT.match(raw) is None:
            return _MISS
        return int(raw)

    return read
