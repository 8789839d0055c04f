"""Use cases of the synthetic province: generate it, generate it unless present, export the truth.

:func:`generate` writes straight through the store's bulk path (:mod:`.writer`) inside the
caller's transaction and never commits. The work per chunk of subjects (drawing records, JSON,
SM3) is pure and can run in forked worker processes while this process writes the previous
chunk; the output does not depend on the number of workers.
"""

from __future__ import annotations

import csv
import multiprocessing
import os
import time
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, Final

import numpy as np
from numpy.typing import NDArray
from sqlalchemy import Connection, Table, bindparam, func, select, update
from sqlalchemy.orm import Session

from creditbridge.access.models import Institution
from creditbridge.audit import service as audit
from creditbridge.catalog import service as catalog_service
from creditbridge.catalog.schemas import DatasetSpec
from creditbridge.core.actors import Actor
from creditbridge.core.crypto.digest import sm3_new
from creditbridge.core.errors import Conflict, ValidationFailed
from creditbridge.demo import providers as prov
from creditbridge.demo.chunks import ChunkResult, DatasetDef, RecordBlock, RunContext, build_chunk
from creditbridge.demo.deliveries import generate_delivery_history
from creditbridge.demo.lending import (
    LOAN_COLUMNS,
    Lenders,
    build_lenders,
    loan_rows,
    product_rules,
    seed_marketplace,
)
from creditbridge.demo.models import DemoTruth
from creditbridge.demo.population import Population, area_issue, build_population
from creditbridge.demo.timeline import Window, months_of, period_text
from creditbridge.demo.writer import BulkWriter, writer_for
from creditbridge.ingest.models import Batch, Provider, ProviderDataset
from creditbridge.marketplace.models import Loan, Product
from creditbridge.presentation.errors import keyed
from creditbridge.presentation.exports import csv_row
from creditbridge.subjects import service as subjects_service
from creditbridge.subjects.models import Record, Subject

DEFAULT_AS_OF: Final = date(2026, 10, 31)
MAX_ENTERPRISES: Final = 5_000_000

Progress = Callable[[str], None]

# Per-row columns of subject_record; the rest are the same for a whole delivery (constants).
RECORD_COLUMNS: Final = (
    "subject_id", "natural_key", "event_date", "data", "digest", "source_row",
)  # fmt: skip
RECORD_CONSTANTS: Final = (
    "dataset_code", "version", "status", "provider_id", "batch_id", "received_at",
)  # fmt: skip


@dataclass
class GenerationSummary:
    enterprises: int
    seed: int
    as_of: date
    records_by_dataset: dict[str, int]
    loans: int
    batches: int
    providers: int
    institutions: int
    products: int
    rows_total: int
    seconds: float = 0.0
    division: str | None = None
    """The city or county the subjects were drawn in (``--division``); None for the province."""
    stages: dict[str, float] = field(default_factory=dict)

    @property
    def records(self) -> int:
        return sum(self.records_by_dataset.values())

    @property
    def rows_per_second(self) -> float:
        return self.rows_total / self.seconds if self.seconds else 0.0

    def as_json(self) -> dict[str, Any]:
        return {
            "enterprises": self.enterprises,
            "seed": self.seed,
            "as_of": self.as_of.isoformat(),
            "division": self.division,
            "records": self.records,
            "records_by_dataset": self.records_by_dataset,
            "loans": self.loans,
            "batches": self.batches,
            "providers": self.providers,
            "institutions": self.institutions,
            "products": self.products,
            "rows_total": self.rows_total,
            "seconds": round(self.seconds, 3),
            "rows_per_second": round(self.rows_per_second),
            "stages": {k: round(v, 3) for k, v in self.stages.items()},
        }


def count_subjects(session: Session) -> int:
    return subjects_service.count_subjects(session)


def generate(
    session: Session,
    actor: Actor,
    *,
    enterprises: int,
    seed: int,
    as_of: date = DEFAULT_AS_OF,
    workers: int = 0,
    progress: Progress | None = None,
    division: str | None = None,
) -> GenerationSummary:
    """Fill an empty platform with ``enterprises`` synthetic subjects and everything about them.

    Deterministic for (enterprises, seed, as_of): the same rows, codes, names, amounts, digests and
    timestamps on any store, any day, with any ``workers``. Raises :class:`Conflict` when the
    database already holds subjects (mixing two provinces would make neither's truth valid).
    One audit event (``demo.generate``) records the run in the same transaction.

    ``division`` (a GB/T 2260 code of the demo province, a city or a county) draws all
    ``enterprises`` inside it — a city node's demo. Records, loans, marketplace rows and logins
    follow the subjects. The providers, lenders and delivery history stay province-wide on
    purpose: they are the province's reference data, and a city node still receives the
    provincial providers' deliveries and sees every lender's products.
    """
    if not 1 <= enterprises <= MAX_ENTERPRISES:
        raise keyed(ValidationFailed, "error.demo.enterprises", max=MAX_ENTERPRISES, n=enterprises)
    if seed < 0:
        raise keyed(ValidationFailed, "error.demo.seed", seed=seed)
    if division is not None and (issue := area_issue(division)) is not None:
        raise keyed(ValidationFailed, "error.demo.division", issue=issue)
    existing = count_subjects(session)
    if existing:
        raise keyed(Conflict, "error.demo.not_empty", n=existing)
    say = progress or (lambda _message: None)
    started = time.perf_counter()
    clock = _Stages()
    window = Window(as_of)

    catalog_service.ensure_default_catalog(session, actor)
    specs = [
        DatasetSpec.model_validate(row.definition) for row in catalog_service.list_datasets(session)
    ]
    datasets = tuple(DatasetDef.of(spec) for spec in specs)
    connection = session.connection()
    writer = writer_for(connection)
    load_time = _at(window.start_date)

    provider_ids = _ensure_providers(connection, [d.code for d in datasets], load_time)
    lenders = build_lenders(seed)
    institution_ids, product_ids = _ensure_lenders(connection, lenders, load_time)
    clock.lap("reference rows")

    first_id = (connection.execute(select(func.max(Subject.id))).scalar() or 0) + 1
    population = build_population(
        seed, enterprises, window=window, first_id=first_id, area=division
    )
    clock.lap("population")
    say(f"population: {enterprises} subjects")

    batches = _Batches(connection, writer, window, provider_ids)
    registration_provider = prov.code("samr")
    _write_subjects(writer, population, window, registration_provider, seed)
    clock.lap("subjects")

    context = RunContext(seed, window, population, lenders, datasets)
    records: dict[str, int] = {d.code: 0 for d in datasets}
    loans = 0
    record_table = Record.__table__
    assert isinstance(record_table, Table)
    with writer.bulk_load(record_table):
        for result in _chunks(context, workers):
            loans += writer.insert(
                _table(Loan),
                LOAN_COLUMNS,
                loan_rows(
                    result.loans,
                    result.subject_ids,
                    institution_ids,
                    product_ids,
                    writer.timestamp,
                    writer.boolean,
                ),
            )
            for block in result.blocks:
                records[block.dataset] += batches.write(block)
            say(f"chunk {result.index + 1}/{context.chunk_count}: {sum(records.values())} records")
        clock.lap("records")
        say("rebuilding indexes")
    clock.lap("indexes")
    batches.finish()
    for table in (_table(Subject), _table(Batch)):
        writer.after_explicit_ids(table)
    clock.lap("batch digests")
    # Real providers deliver late, partially or not at all; the collection dashboard should show it.
    history = generate_delivery_history(connection, seed=seed, as_of=as_of)
    writer.after_explicit_ids(
        _table(Batch)
    )  # the refused deliveries were written with explicit ids
    clock.lap("delivery history")
    seed_marketplace(
        connection,
        lenders,
        population.ids,
        population.section,
        institution_ids,
        product_ids,
        seed=seed,
        as_of=as_of,
    )
    clock.lap("marketplace")

    reference_rows = (
        len(provider_ids)
        + len(institution_ids)
        + len(product_ids)
        + batches.count
        + history.refused
    )
    summary = GenerationSummary(
        enterprises=enterprises,
        seed=seed,
        as_of=as_of,
        records_by_dataset=dict(records),
        loans=loans,
        batches=batches.count + history.refused,
        providers=len(provider_ids),
        institutions=len(institution_ids),
        products=len(product_ids),
        rows_total=sum(records.values()) + loans + 2 * enterprises + reference_rows,
        seconds=time.perf_counter() - started,
        stages=clock.stages,
        division=division,
    )
    audit.record(
        session,
        actor,
        action="demo.generate",
        object_type="demo_province",
        object_id=seed,
        detail={
            "enterprises": enterprises,
            "seed": seed,
            "as_of": as_of.isoformat(),
            "records": summary.records,
            "loans": loans,
            "batches": batches.count,
            # Only when given, so that a province run's event reads as it always has.
            **({"division": division} if division is not None else {}),
        },
    )
    return summary


def ensure(
    session: Session,
    actor: Actor,
    *,
    enterprises: int,
    seed: int,
    as_of: date = DEFAULT_AS_OF,
    workers: int = 0,
    progress: Progress | None = None,
    division: str | None = None,
) -> tuple[GenerationSummary | None, int]:
    """Generate unless the platform already holds subjects; returns (summary or None, subjects)."""
    existing = count_subjects(session)
    if existing:
        return None, existing
    summary = generate(
        session,
        actor,
        enterprises=enterprises,
        seed=seed,
        as_of=as_of,
        workers=workers,
        progress=progress,
        division=division,
    )
    return summary, enterprises


def export_truth(session: Session, actor: Actor, *, path: Path) -> int:
    """Write ``demo_truth`` with each subject's code to a CSV file for model evaluation; returns
    the number of subjects written, and audits the export (``demo.truth_export``). The truth
    never leaves the platform any other way."""
    rows = session.execute(
        select(
            DemoTruth.subject_id,
            Subject.uscc,
            DemoTruth.risk,
            DemoTruth.true_pd,
            DemoTruth.defaulted,
            DemoTruth.seed,
        )
        .join(Subject, Subject.id == DemoTruth.subject_id)
        .order_by(DemoTruth.subject_id)
        .execution_options(yield_per=10_000)
    )
    written = 0
    with path.open("w", newline="", encoding="utf-8") as handle:
        out = csv.writer(handle)
        out.writerow(["subject_id", "uscc", "risk", "true_pd", "defaulted", "seed"])
        for subject_id, code, risk, pd_true, defaulted, seed in rows:
            out.writerow(
                csv_row([subject_id, code, f"{risk:.6f}", f"{pd_true:.6f}", int(defaulted), seed])
            )
            written += 1
    audit.record(
        session,
        actor,
        action="demo.truth_export",
        object_type="demo_truth",
        detail={"subjects": written, "file": path.name},
    )
    return written


# ---------------------------------------------------------------------------- internals


class _Stages:
    def __init__(self) -> None:
        self.stages: dict[str, float] = {}
        self._last = time.perf_counter()

    def lap(self, name: str) -> None:
        now = time.perf_counter()
        self.stages[name] = self.stages.get(name, 0.0) + now - self._last
        self._last = now


def _table(model: type[Any]) -> Table:
    table = model.__table__
    assert isinstance(table, Table)
    return table


def _at(day: date, hour: int = 1) -> datetime:
    return datetime(day.year, day.month, day.day, hour, tzinfo=UTC)


def _ensure_providers(
    connection: Connection, dataset_codes: list[str], created: datetime
) -> dict[str, int]:
    """Provider rows by code (existing ones kept) and their obligations; returns code → id."""
    specs = prov.all_providers()
    table = _table(Provider)
    existing = dict(connection.execute(select(Provider.code, Provider.id)).all())
    missing = [spec for spec in specs if spec.code not in existing]
    if missing:
        connection.execute(
            table.insert(),
            [
                {
                    "code": s.code,
                    "name": s.name,
                    "kind": s.kind,
                    "division_code": s.division_code,
                    "contact_name": "数据对接专员",
                    "contact_phone": s.phone,
                    "created_at": created,
                }
                for s in missing
            ],
        )
        existing = dict(connection.execute(select(Provider.code, Provider.id)).all())
    owed = set(prov.obligations(dataset_codes))
    present = {
        (code, dataset)
        for code, dataset in connection.execute(
            select(Provider.code, ProviderDataset.dataset_code).join(
                Provider, Provider.id == ProviderDataset.provider_id
            )
        )
    }
    new = sorted(owed - present)
    if new:
        connection.execute(
            _table(ProviderDataset).insert(),
            [{"provider_id": existing[p], "dataset_code": d} for p, d in new],
        )
    return {spec.code: existing[spec.code] for spec in specs}


def _ensure_lenders(
    connection: Connection, lenders: Lenders, created: datetime
) -> tuple[list[int], list[int]]:
    """Institution and product rows (existing codes kept); ids in ``lenders``' order."""
    existing = dict(connection.execute(select(Institution.code, Institution.id)).all())
    missing = [
        (inst, code)
        for inst, code in zip(lenders.institutions, lenders.uscc, strict=True)
        if inst.code not in existing
    ]
    if missing:
        connection.execute(
            _table(Institution).insert(),
            [
                {
                    "code": inst.code,
                    "name": inst.name,
                    "kind": inst.kind,
                    "uscc": code,
                    "division_code": inst.division_code,
                    "status": "approved",
                    "created_at": created,
                }
                for inst, code in missing
            ],
        )
        existing = dict(connection.execute(select(Institution.code, Institution.id)).all())
    institution_ids = [existing[inst.code] for inst in lenders.institutions]

    products = dict(connection.execute(select(Product.code, Product.id)).all())
    new = [p for p in lenders.products if p.code not in products]
    if new:
        connection.execute(
            _table(Product).insert(),
            [
                {
                    "institution_id": institution_ids[p.institution],
                    "code": p.code,
                    "name": p.name,
                    "product_type": p.template.product_type,
                    "security_type": p.template.security_type,
                    "min_amount_fen": p.template.amount_wan[0] * 1_000_000,
                    "max_amount_fen": p.template.amount_wan[1] * 1_000_000,
                    "min_rate_bp": p.template.rate_bp[0],
                    "max_rate_bp": p.template.rate_bp[1],
                    "min_term_months": p.template.term_months[0],
                    "max_term_months": p.template.term_months[1],
                    "status": "published",
                    "created_at": created,
                    **product_rules(lenders, p),
                }
                for p in new
            ],
        )
        products = dict(connection.execute(select(Product.code, Product.id)).all())
    return institution_ids, [products[p.code] for p in lenders.products]


SUBJECT_COLUMNS: Final = (
    "id", "uscc", "name", "entity_type", "division_code", "city_code", "industry_code",
    "industry_section", "size_class", "registration_date", "registered_capital_fen",
    "legal_representative", "status", "needs_registration_check", "created_at",
)  # fmt: skip


def _write_subjects(
    writer: BulkWriter, p: Population, window: Window, registration_provider: str, seed: int
) -> None:
    # A subject appears on the platform with its registration record: the initial load for
    # firms older than the window, the month after registration for younger ones.
    delivery = window.delivery_month(months_of(p.registration_date))
    stamps = {
        int(m): writer.timestamp(window.received_at(registration_provider, "registration", int(m)))
        for m in np.unique(delivery).tolist()
    }
    created = [stamps[int(m)] for m in delivery.tolist()]
    no = writer.boolean(False)
    registration = np.datetime_as_string(p.registration_date, unit="D").tolist()
    capital_fen = (p.capital_wan * 1_000_000).astype(np.int64).tolist()
    writer.insert(
        _table(Subject),
        SUBJECT_COLUMNS,
        zip(
            p.ids.tolist(),
            p.uscc.tolist(),
            p.name.tolist(),
            p.entity_type.tolist(),
            p.county.tolist(),
            p.city.tolist(),
            p.division.tolist(),
            p.section.tolist(),
            p.size_class.tolist(),
            registration,
            capital_fen,
            p.legal_rep.tolist(),
            ["active"] * len(p),
            [no] * len(p),
            created,
            strict=True,
        ),
    )
    writer.insert(
        _table(DemoTruth),
        ("subject_id", "risk", "true_pd", "defaulted", "seed"),
        zip(
            p.ids.tolist(),
            p.risk.tolist(),
            p.true_pd.tolist(),
            [writer.boolean(bool(d)) for d in p.defaulted.tolist()],
            [seed] * len(p),
            strict=True,
        ),
    )


class _Batches:
    """Deliveries (``ingest_batch``): created when their first record arrives, counted and
    digested as records stream in, and completed by :meth:`finish`.

    A batch's ``content_digest`` is the SM3 of its records' digests (hex, in ``source_row``
    order), standing in for the digest of the file a provider would have sent.
    """

    def __init__(
        self,
        connection: Connection,
        writer: BulkWriter,
        window: Window,
        provider_ids: dict[str, int],
    ) -> None:
        self.connection = connection
        self.writer = writer
        self.window = window
        self.provider_ids = provider_ids
        self.ids: dict[tuple[str, str, int], int] = {}
        self.received: dict[int, str] = {}
        self.rows: dict[int, int] = {}
        self.hashes: dict[int, Any] = {}
        self.next_id = (connection.execute(select(func.max(Batch.id))).scalar() or 0) + 1

    @property
    def count(self) -> int:
        return len(self.ids)

    def _batch(self, provider: str, dataset: str, month: int) -> int:
        key = (provider, dataset, month)
        found = self.ids.get(key)
        if found is not None:
            return found
        batch_id = self.next_id
        self.next_id += 1
        received = self.window.received_at(provider, dataset, month)
        self.ids[key] = batch_id
        self.received[batch_id] = self.writer.timestamp(received)
        self.rows[batch_id] = 0
        self.hashes[batch_id] = sm3_new()
        self.writer.insert(
            _table(Batch),
            (
                "id",
                "provider_id",
                "batch_key",
                "dataset_code",
                "channel",
                "status",
                "received_at",
                "rows_total",
                "rows_accepted",
                "rows_rejected",
                "content_digest",
            ),
            [
                (
                    batch_id,
                    self.provider_ids[provider],
                    f"demo-{dataset}-{period_text(month)}",
                    dataset,
                    "demo",
                    "applied",
                    self.received[batch_id],
                    0,
                    0,
                    0,
                    "",
                )
            ],
        )
        return batch_id

    def write(self, block: RecordBlock) -> int:
        if not len(block):
            return 0
        bounds = np.searchsorted(block.delivery_index, np.arange(len(block.deliveries) + 1))
        # Batch rows first: the records refer to them, and on PostgreSQL the records then go in
        # one COPY that no other statement may interrupt.
        for d, (provider, month) in enumerate(block.deliveries):
            if bounds[d] < bounds[d + 1]:  # a delivery emptied by de-duplication makes no batch
                self._batch(provider, block.dataset, month)
        return self.writer.insert_groups(
            _table(Record), RECORD_COLUMNS, RECORD_CONSTANTS, self._groups(block, bounds)
        )

    def _groups(
        self, block: RecordBlock, bounds: NDArray[np.int64]
    ) -> Iterator[tuple[tuple[Any, ...], Iterator[Any]]]:
        """One group per delivery in the block: the rows and what they share."""
        subject_ids = block.subject_ids.tolist()
        for d, (provider, month) in enumerate(block.deliveries):
            start, stop = int(bounds[d]), int(bounds[d + 1])
            if start == stop:
                continue
            batch_id = self.ids[(provider, block.dataset, month)]
            done = self.rows[batch_id]
            self.rows[batch_id] = done + stop - start
            self.hashes[batch_id].update("".join(block.digests[start:stop]).encode())
            rows = zip(
                subject_ids[start:stop],
                block.natural_keys[start:stop],
                block.event_dates[start:stop],
                block.data[start:stop],
                block.digests[start:stop],
                range(done + 1, done + stop - start + 1),
                strict=True,
            )
            shared = (
                block.dataset,
                1,
                "current",
                self.provider_ids[provider],
                batch_id,
                self.received[batch_id],
            )
            yield shared, rows

    def finish(self) -> None:
        if not self.ids:
            return
        table = _table(Batch)
        self.connection.execute(
            update(table)
            .where(table.c.id == bindparam("b_id"))
            .values(
                rows_total=bindparam("b_rows"),
                rows_accepted=bindparam("b_rows"),
                content_digest=bindparam("b_digest"),
            ),
            [
                {"b_id": b, "b_rows": self.rows[b], "b_digest": self.hashes[b].digest().hex()}
                for b in sorted(self.rows)
            ],
        )


# ---------------------------------------------------------------------------- chunk pipeline

_CONTEXT: RunContext | None = None


def _work(index: int) -> ChunkResult:
    assert _CONTEXT is not None, "worker started without a run context"
    return build_chunk(_CONTEXT, index)


def _lower_priority() -> None:
    # The writing process is the one that must never wait: on a machine with fewer cores than
    # processes, workers yield to it and use whatever CPU it leaves.
    os.nice(5)


def _chunks(context: RunContext, workers: int) -> Iterator[ChunkResult]:
    """Chunk results in index order; with workers, built ahead in forked processes while the
    caller writes, at most ``workers + 1`` chunks in flight so memory stays bounded."""
    if workers <= 0:
        for index in range(context.chunk_count):
            yield build_chunk(context, index)
        return
    global _CONTEXT
    _CONTEXT = context
    try:
        # fork: the workers inherit the population instead of unpickling it.
        with ProcessPoolExecutor(
            max_workers=workers,
            mp_context=multiprocessing.get_context("fork"),
            initializer=_lower_priority,
        ) as pool:
            pending: deque[Future[ChunkResult]] = deque()
            upcoming = iter(range(context.chunk_count))
            for index in upcoming:
                pending.append(pool.submit(_work, index))
                if len(pending) > workers:
                    break
            while pending:
                result = pending.popleft().result()
                following = next(upcoming, None)
                if following is not None:
                    pending.append(pool.submit(_work, following))
                yield result
    finally:
        _CONTEXT = None


def default_workers(enterprises: int) -> int:
    """Worker processes for a run: none for small runs (a fork costs more than it saves), else
    one per core up to three. The writer needs about a core and the niced workers fill the rest:
    on 2 cores, 2 workers measured 31–33 s for 100,000 subjects against 35–42 s with 1."""
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    if enterprises < 5_000 or cpus < 2:
        return 0
    return min(cpus, 3)
