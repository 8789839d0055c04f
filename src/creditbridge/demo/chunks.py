"""One chunk of subjects → loans and record rows ready for the store.

A chunk is a fixed slice of the population (:data:`CHUNK_SUBJECTS` subjects, the same on every
store and for every worker count, so that output depends only on the seed). Its records are fitted
to the loaded catalog — fields the catalog lacks are dropped, required fields a generator does
not know get a typed placeholder, a dataset without a generator gets generic records — and then
serialised: canonical JSON (sorted keys, as :func:`creditbridge.core.crypto.canonical_json`
writes it) and its SM3 digest.

``natural_key`` is the record's natural-key field values, in the catalog's order, joined by ``|``
(``91340100MA2T00015G|2026-09``). Rows come sorted by delivery (provider, month) so that each
batch's rows are contiguous.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from typing import Any, Final

import numpy as np
import orjson
from numpy.typing import NDArray

from creditbridge.catalog.schemas import DatasetSpec
from creditbridge.core.crypto.digest import sm3_new
from creditbridge.demo import providers as prov
from creditbridge.demo.lending import Lenders, LoanDraft, generate_loans
from creditbridge.demo.model import stream
from creditbridge.demo.population import Population
from creditbridge.demo.records import GENERATORS, Chunk, Draft, _k_of, seal_at_rest
from creditbridge.demo.timeline import Window, iso, months_of, period_text, uniform_days

CHUNK_SUBJECTS: Final = 2_000
_JSON_OPTIONS: Final = orjson.OPT_SORT_KEYS


@dataclass(frozen=True)
class FieldDef:
    code: str
    type: str
    required: bool
    enum: tuple[str, ...] | None


@dataclass(frozen=True)
class DatasetDef:
    """What the generator needs of one dataset of the loaded list."""

    code: str
    natural_key: tuple[str, ...]
    event_date_field: str
    event_date_is_period: bool
    fields: tuple[FieldDef, ...]
    encrypted: tuple[str, ...] = ()
    """Level-4+ fields, stored SM4-GCM encrypted (:func:`records.seal_at_rest`)."""

    @classmethod
    def of(cls, spec: DatasetSpec) -> DatasetDef:
        fields = tuple(
            FieldDef(f.code, f.type, f.required, tuple(f.enum) if f.enum else None)
            for f in spec.fields
        )
        event = spec.field(spec.event_date_field)
        return cls(
            code=spec.code,
            natural_key=tuple(spec.natural_key),
            event_date_field=spec.event_date_field,
            event_date_is_period=event.type == "period",
            fields=fields,
            encrypted=tuple(f.code for f in spec.fields if f.classification_level >= 4),
        )


@dataclass(frozen=True)
class RunContext:
    """Everything a chunk needs; built once per run and shared (inherited) by workers."""

    seed: int
    window: Window
    population: Population
    lenders: Lenders
    datasets: tuple[DatasetDef, ...]

    @property
    def chunk_count(self) -> int:
        return -(-len(self.population) // CHUNK_SUBJECTS)


@dataclass
class RecordBlock:
    """Serialised records of one dataset in one chunk, sorted by delivery."""

    dataset: str
    subject_ids: NDArray[np.int64]
    natural_keys: list[str]
    event_dates: list[str]
    data: list[str]
    digests: list[str]
    deliveries: list[tuple[str, int]]  # (provider code, delivery month), in row order
    delivery_index: NDArray[np.int64]  # per row, index into ``deliveries``; non-decreasing

    def __len__(self) -> int:
        return len(self.data)


@dataclass
class ChunkResult:
    index: int
    loans: LoanDraft
    subject_ids: NDArray[np.int64]
    blocks: list[RecordBlock]


def build_chunk(ctx: RunContext, index: int) -> ChunkResult:
    start = index * CHUNK_SUBJECTS
    population = ctx.population.slice(start, start + CHUNK_SUBJECTS)
    loans = generate_loans(population, ctx.lenders, ctx.window, stream(ctx.seed, "loans", index))
    chunk = Chunk(
        seed=ctx.seed,
        index=index,
        population=population,
        window=ctx.window,
        lenders=ctx.lenders,
        loans=loans,
    )
    blocks = []
    for dataset in ctx.datasets:
        draft = (
            chunk.draft(dataset.code) if dataset.code in GENERATORS else _generic(chunk, dataset)
        )
        block = serialise(chunk, dataset, draft)
        if len(block):
            blocks.append(block)
    return ChunkResult(index, loans, population.ids, blocks)


def serialise(chunk: Chunk, dataset: DatasetDef, draft: Draft) -> RecordBlock:
    m = len(draft)
    rng = stream(chunk.seed, "placeholders", dataset.code, chunk.index)
    columns: dict[str, list[Any]] = {}
    for field in dataset.fields:
        values = draft.fields.get(field.code)
        if values is None:
            if not field.required:
                continue
            columns[field.code] = _placeholder(chunk, dataset, field, draft, rng)
        else:
            columns[field.code] = (
                values.tolist() if isinstance(values, np.ndarray) else list(values)
            )
        if field.type in _TEXT_TYPES and field.code in columns:
            columns[field.code] = _nfkc(columns[field.code])

    event_column = columns[dataset.event_date_field]
    # One shared str per distinct date: monthly data repeat the same dozen dates, and shared
    # objects pickle once per block on their way from a worker.
    shared: dict[str, str] = {}
    if dataset.event_date_is_period:
        event_dates = [shared.get(v) or shared.setdefault(v, f"{v}-01") for v in event_column]
    else:
        event_dates = [shared.setdefault(v, v) for v in event_column]
    months = months_of(np.asarray(event_dates, dtype="datetime64[D]"))
    delivery_month = chunk.w.delivery_month(months)
    provider_codes, provider_index = np.unique(draft.provider, return_inverse=True)
    key = provider_index.astype(np.int64) * 1_000_000 + delivery_month
    keys, inverse = np.unique(key, return_inverse=True)
    inverse = inverse.astype(np.int64)
    order: NDArray[np.int64] | None = None
    if m > 1 and np.any(np.diff(inverse) < 0):
        order = np.argsort(inverse, kind="stable").astype(np.int64)
    deliveries = [(str(provider_codes[k // 1_000_000]), int(k % 1_000_000)) for k in keys.tolist()]

    rows = draft.rows
    if order is not None:
        idx = order.tolist()
        columns = {name: [col[i] for i in idx] for name, col in columns.items()}
        event_dates = [event_dates[i] for i in idx]
        rows = rows[order]
        inverse = inverse[order]
    subject_ids = chunk.p.ids[rows]

    key_columns = [columns[name] for name in dataset.natural_key]
    if len(key_columns) == 1:
        natural_keys = [str(v) for v in key_columns[0]]
    elif len(key_columns) == 2 and all(isinstance(c[0], str) for c in key_columns if c):
        natural_keys = [a + "|" + b for a, b in zip(key_columns[0], key_columns[1], strict=True)]
    else:
        natural_keys = ["|".join(map(str, values)) for values in zip(*key_columns, strict=True)]
    # Generators keep natural keys unique; a rare collision (two events of one subject on one
    # day) keeps the first record, as a provider's delivery would.
    if len(set(natural_keys)) != m:
        seen: set[str] = set()
        keep = []
        for i, value in enumerate(natural_keys):
            if value not in seen:
                seen.add(value)
                keep.append(i)
        columns = {name: [col[i] for i in keep] for name, col in columns.items()}
        event_dates = [event_dates[i] for i in keep]
        natural_keys = [natural_keys[i] for i in keep]
        kept = np.asarray(keep, dtype=np.int64)
        subject_ids = subject_ids[kept]
        inverse = inverse[kept]

    template = _template(dataset, columns)
    data, digests = _to_json_fast(template, columns) if template else _to_json(columns)
    if dataset.encrypted:
        data, digests = seal_at_rest(dataset.code, dataset.encrypted, data)
    return RecordBlock(
        dataset=dataset.code,
        subject_ids=subject_ids,
        natural_keys=natural_keys,
        event_dates=event_dates,
        data=data,
        digests=digests,
        deliveries=deliveries,
        delivery_index=inverse,
    )


_TEXT_TYPES: Final = frozenset({"string", "text"})


def _nfkc(values: list[Any]) -> list[Any]:
    """Text as ingest stores it (NFKC: full-width （）；， become ASCII), so that a demo record
    equals what the platform would have made of the same delivery. Values repeat a lot
    (authorities, courts), hence the cache."""
    cache: dict[str, str] = {}
    out = []
    for value in values:
        if value is None or value.isascii():
            out.append(value)
            continue
        normal = cache.get(value)
        if normal is None:
            normal = cache[value] = unicodedata.normalize("NFKC", value)
        out.append(normal)
    return out


# Field types whose values the generator writes as JSON-safe text (digits, dashes, dots, code
# characters): they can be dropped between quotes without escaping.
_PLAIN_TEXT_TYPES: Final = frozenset(
    {"amount", "decimal", "period", "date", "uscc", "division_code", "industry_code"}
)
_UNSAFE_CHARS: Final = frozenset('"\\') | frozenset(chr(i) for i in range(32))


def _template(dataset: DatasetDef, columns: dict[str, list[Any]]) -> str | None:
    """A %-template writing a row of ``columns`` exactly as canonical JSON would, when every
    value is known to need no escaping (the dense monthly datasets); None otherwise.

    Canonical JSON sorts keys by code point, writes non-ASCII text as itself, integers in decimal
    and booleans as true/false — so for such values a template is the same text, at half the
    cost of building a dict and serialising it. The tests compare every record's digest with
    :func:`creditbridge.core.crypto.content_digest` of its data."""
    types = {f.code: f for f in dataset.fields}
    parts = []
    for name in sorted(columns):
        values = columns[name]
        kinds = set(map(type, values))
        field = types[name]
        if kinds == {bool}:
            parts.append(f'"{name}":%s')
        elif kinds == {int}:
            parts.append(f'"{name}":%d')
        elif kinds == {str} and (
            field.type in _PLAIN_TEXT_TYPES or (field.type == "enum" and _plain(set(values)))
        ):
            parts.append(f'"{name}":"%s"')
        else:
            return None
    return "{" + ",".join(parts) + "}"


def _plain(values: set[str]) -> bool:
    return not any(_UNSAFE_CHARS.intersection(value) for value in values)


_JSON_BOOL: Final = {True: "true", False: "false"}


def _to_json_fast(template: str, columns: dict[str, list[Any]]) -> tuple[list[str], list[str]]:
    values = [
        list(map(_JSON_BOOL.__getitem__, col)) if col and type(col[0]) is bool else col
        for _, col in sorted(columns.items())
    ]
    new = sm3_new
    data: list[str] = []
    digests: list[str] = []
    append_data, append_digest = data.append, digests.append
    for row in zip(*values, strict=True):
        text = template % row
        h = new()
        h.update(text.encode())
        append_digest(h.digest().hex())
        append_data(text)
    return data, digests


def _to_json(columns: dict[str, list[Any]]) -> tuple[list[str], list[str]]:
    """Canonical JSON text and SM3 hex digest of every row; ``None`` values are left out."""
    names = list(columns)
    values = list(columns.values())
    dumps = orjson.dumps
    new = sm3_new
    data: list[str] = []
    digests: list[str] = []
    append_data, append_digest = data.append, digests.append
    if not any(None in col for col in values):
        rows = (dict(zip(names, row, strict=True)) for row in zip(*values, strict=True))
    else:
        rows = (
            {k: v for k, v in zip(names, row, strict=True) if v is not None}
            for row in zip(*values, strict=True)
        )
    for row in rows:
        raw = dumps(row, option=_JSON_OPTIONS)
        h = new()
        h.update(raw)
        append_digest(h.digest().hex())
        append_data(raw.decode())
    return data, digests


def _placeholder(
    chunk: Chunk, dataset: DatasetDef, field: FieldDef, draft: Draft, rng: np.random.Generator
) -> list[Any]:
    """Typed values for a required field no generator knows, so records still conform."""
    rows = draft.rows
    m = rows.size
    p = chunk.p
    kind = field.type
    if kind == "uscc":
        return p.uscc[rows].tolist()  # type: ignore[no-any-return]
    if kind == "division_code":
        return p.county[rows].tolist()  # type: ignore[no-any-return]
    if kind == "industry_code":
        return p.division[rows].tolist()  # type: ignore[no-any-return]
    if kind == "date":
        return iso(uniform_days(rng, chunk.age_start[rows], chunk.end, m))
    if kind == "period":
        months = rng.integers(chunk.w.first_monthly, chunk.w.last_month + 1, m)
        return [period_text(int(v)) for v in months.tolist()]
    if kind == "enum" and field.enum:
        return [field.enum[int(i)] for i in rng.integers(0, len(field.enum), m).tolist()]
    if kind == "boolean":
        return (rng.random(m) < 0.5).tolist()  # type: ignore[no-any-return]
    if kind == "integer":
        return rng.integers(1, 100, m).tolist()  # type: ignore[no-any-return]
    if kind in {"decimal", "amount"}:
        return np.round(rng.uniform(1, 10_000, m), 2).tolist()  # type: ignore[no-any-return]
    # Strings may be part of the natural key: make them unique per subject and record.
    return [f"DEMO-{dataset.code}-{int(p.ids[r])}-{i}" for i, r in enumerate(rows.tolist())]


def _generic(chunk: Chunk, dataset: DatasetDef) -> Draft:
    """Records for a dataset the demo has no generator for: about one subject in ten, once."""
    rng = stream(chunk.seed, "generic", dataset.code, chunk.index)
    counts = rng.poisson(0.1, chunk.n).astype(np.int64)
    if counts.sum() == 0:
        counts[0] = 1
    rows, _ = _k_of(counts)
    draft = Draft(rows, {}, np.full(rows.size, prov.code(prov.FALLBACK), dtype="<U32"))
    fields: dict[str, Any] = {}
    for field in dataset.fields:
        fields[field.code] = _placeholder(chunk, dataset, field, draft, rng)
    draft.fields = fields
    return draft
