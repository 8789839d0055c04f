"""Verification split between worker processes finds the same breaks as one process."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, delete, func, update
from sqlalchemy.orm import Session

from creditbridge import migrations
from creditbridge.audit import service
from creditbridge.audit.models import AuditEvent
from creditbridge.core.actors import CONSOLE
from creditbridge.core.db import make_engine


@pytest.fixture
def committed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Engine, str]]:
    url = f"sqlite:///{tmp_path / 'audit.db'}"
    engine = make_engine(url)
    migrations.upgrade(engine)
    with Session(engine) as session, session.begin():
        for n in range(40):
            service.record(session, CONSOLE, action="data.read", object_type="subject", object_id=n)
    # Small chunks so that 40 events make several ranges (workers inherit this by fork).
    monkeypatch.setattr(service, "_FETCH_CHUNK", 5)
    yield engine, url
    engine.dispose()


def _both(engine: Engine, url: str) -> tuple[service.VerifyReport, service.VerifyReport]:
    with Session(engine) as session:
        serial = service.verify(session)
    with Session(engine) as session:
        parallel = service.verify(session, workers=3, database_url=url)
    return serial, parallel


def test_parallel_verify_accepts_an_intact_chain(committed: tuple[Engine, str]) -> None:
    serial, parallel = _both(*committed)
    assert serial.ok
    assert parallel.ok
    assert parallel.checked == serial.checked == 40


@pytest.mark.parametrize("sequence", [1, 14, 15, 27, 40])
def test_parallel_verify_names_the_same_edited_row(
    committed: tuple[Engine, str], sequence: int
) -> None:
    engine, url = committed
    with engine.begin() as connection:
        connection.execute(
            update(AuditEvent)
            .where(AuditEvent.sequence == sequence)
            .values(chained=func.replace(AuditEvent.chained, '"v":3', '"v":3,"forged":1'))
        )
    serial, parallel = _both(engine, url)
    assert serial.broken is not None
    assert parallel.broken is not None
    assert (parallel.broken.kind, parallel.broken.sequence) == ("hash", sequence)
    assert (serial.broken.kind, serial.broken.sequence) == ("hash", sequence)
    assert parallel.broken_event_id == serial.broken_event_id is not None


@pytest.mark.parametrize(
    ("sequence", "kind"), [(1, "start"), (14, "gap"), (15, "gap"), (28, "gap"), (40, "tail")]
)
def test_parallel_verify_names_a_deleted_row(
    committed: tuple[Engine, str], sequence: int, kind: str
) -> None:
    engine, url = committed
    with engine.begin() as connection:
        connection.execute(delete(AuditEvent).where(AuditEvent.sequence == sequence))
    serial, parallel = _both(engine, url)
    assert serial.broken is not None
    assert parallel.broken is not None
    assert (serial.broken.kind, serial.broken.sequence) == (kind, sequence)
    assert (parallel.broken.kind, parallel.broken.sequence) == (kind, sequence)
