"""Same seed, same rows — on every store, in every run, with any number of worker processes."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import Connection, Engine, select
from sqlalchemy.orm import Session, aliased

from creditbridge import migrations
from creditbridge.access.models import Institution
from creditbridge.catalog.service import bundled_catalog
from creditbridge.core.actors import SYSTEM
from creditbridge.core.crypto.digest import sm3_new
from creditbridge.core.db import make_engine
from creditbridge.demo import service
from creditbridge.demo.chunks import DatasetDef, RunContext
from creditbridge.demo.lending import build_lenders
from creditbridge.demo.models import DemoTruth
from creditbridge.demo.population import build_population
from creditbridge.demo.timeline import Window
from creditbridge.ingest.models import Batch, Provider
from creditbridge.marketplace.models import Loan, Product
from creditbridge.subjects.models import Record, Subject

AS_OF = date(2026, 10, 31)
ENTERPRISES = 150


@contextmanager
def _rolled_back(engine: Engine) -> Iterator[Session]:
    connection = engine.connect()
    outer = connection.begin()
    session = Session(bind=connection, join_transaction_mode="create_savepoint")
    try:
        yield session
    finally:
        session.close()
        outer.rollback()
        connection.close()


def _fingerprint(connection: Connection) -> str:
    """SM3 over every generated row in a stable order. Database ids that come from sequences
    (providers, institutions, products, loans) are replaced by codes: a PostgreSQL sequence is
    not rolled back, so those ids differ between runs while the rows do not."""
    h = sm3_new()

    def feed(statement: object) -> None:
        for row in connection.execute(statement):  # type: ignore[call-overload]
            h.update(repr(tuple(row)).encode())

    feed(select(*Subject.__table__.columns).order_by(Subject.id))
    feed(select(*DemoTruth.__table__.columns).order_by(DemoTruth.subject_id))
    feed(
        select(
            Batch.id,
            Provider.code,
            Batch.batch_key,
            Batch.dataset_code,
            Batch.received_at,
            Batch.rows_total,
            Batch.content_digest,
        )
        .join(Provider, Provider.id == Batch.provider_id)
        .order_by(Batch.id)
    )
    feed(
        select(
            Record.subject_id,
            Record.dataset_code,
            Record.natural_key,
            Record.event_date,
            Record.digest,
            Provider.code,
            Record.batch_id,
            Record.source_row,
            Record.received_at,
        )
        .join(Provider, Provider.id == Record.provider_id)
        .order_by(Record.dataset_code, Record.natural_key)
    )
    product = aliased(Product)
    feed(
        select(
            Loan.subject_id,
            Institution.code,
            product.code,
            Loan.amount_fen,
            Loan.credit_line_fen,
            Loan.rate_bp,
            Loan.term_months,
            Loan.security_type,
            Loan.disbursement_date,
            Loan.maturity_date,
            Loan.status,
            Loan.via_platform,
            Loan.created_at,
        )
        .join(Institution, Institution.id == Loan.institution_id)
        .outerjoin(product, product.id == Loan.product_id)
        .order_by(Loan.subject_id, Loan.disbursement_date, Loan.amount_fen)
    )
    return h.digest().hex()


def _generate(engine: Engine, seed: int, *, as_of: date = AS_OF) -> str:
    with _rolled_back(engine) as session:
        service.generate(session, SYSTEM, enterprises=ENTERPRISES, seed=seed, as_of=as_of)
        return _fingerprint(session.connection())


def test_the_same_seed_gives_identical_rows_and_another_seed_does_not(engine: Engine) -> None:
    first = _generate(engine, 7)
    again = _generate(engine, 7)
    other = _generate(engine, 8)

    assert first == again
    assert other != first


def test_a_later_as_of_date_moves_the_province_in_time(engine: Engine) -> None:
    assert _generate(engine, 7) != _generate(engine, 7, as_of=date(2026, 12, 31))


def test_two_databases_hold_identical_rows(engine: Engine, tmp_path: Path) -> None:
    """The rows do not depend on the store: a fresh SQLite file matches the store under test."""
    other = make_engine(f"sqlite:///{tmp_path / 'other.db'}")
    migrations.upgrade(other)
    try:
        assert _generate(other, 11) == _generate(engine, 11)
    finally:
        other.dispose()


def test_rows_do_not_depend_on_the_number_of_worker_processes() -> None:
    window = Window(AS_OF)
    population = build_population(3, 4_500, window=window, first_id=1)
    context = RunContext(
        3,
        window,
        population,
        build_lenders(3),
        tuple(DatasetDef.of(spec) for spec in bundled_catalog().datasets),
    )

    def digests(workers: int) -> list[tuple[int, str, list[str]]]:
        return [
            (result.index, block.dataset, block.digests)
            for result in service._chunks(context, workers)
            for block in result.blocks
        ]

    inline = digests(0)
    forked = digests(1)

    assert context.chunk_count == 3
    assert inline == forked


@pytest.mark.parametrize("enterprises", [0, service.MAX_ENTERPRISES + 1])
def test_generation_refuses_an_impossible_size(engine: Engine, enterprises: int) -> None:
    from creditbridge.core.errors import ValidationFailed

    with _rolled_back(engine) as session, pytest.raises(ValidationFailed):
        service.generate(session, SYSTEM, enterprises=enterprises, seed=1, as_of=AS_OF)
