"""A generated province per store, shared by a module's tests and rolled back afterwards."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from creditbridge.core.actors import SYSTEM
from creditbridge.demo import service
from demo.province import AS_OF, ENTERPRISES, SEED, Province


@pytest.fixture(scope="module")
def province(engine: Engine) -> Iterator[Province]:
    """``ENTERPRISES`` subjects generated inside a transaction that is rolled back at the end of
    the module, so the shared test database stays empty for everyone else."""
    connection = engine.connect()
    outer = connection.begin()
    session = Session(bind=connection, join_transaction_mode="create_savepoint")
    try:
        summary = service.generate(session, SYSTEM, enterprises=ENTERPRISES, seed=SEED, as_of=AS_OF)
        yield Province(connection, session, summary)
    finally:
        session.close()
        outer.rollback()
        connection.close()
