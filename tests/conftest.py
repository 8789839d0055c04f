"""Shared fixtures: the stores under test, a session rolled back after each test, a frozen clock.

Every test that takes ``engine`` or ``session`` runs once on SQLite and, when
``CREDITBRIDGE_TEST_DATABASE_URL`` is set (CI sets it), once more on PostgreSQL.
``CREDITBRIDGE_REQUIRE_POSTGRES=1`` turns a missing PostgreSQL into a failure instead of one store.
Tests marked ``postgres_only`` run only on PostgreSQL: without it they are skipped, or fail when
PostgreSQL is required.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

import creditbridge.analytics  # noqa: F401  (registers every snapshot table)
from creditbridge import migrations
from creditbridge.core import clock
from creditbridge.core.db import check_connection, make_engine

PG_URL = os.environ.get("CREDITBRIDGE_TEST_DATABASE_URL", "").strip()
STORES = ["sqlite"] + (["postgresql"] if PG_URL else [])


def pytest_sessionstart(session: pytest.Session) -> None:
    if os.environ.get("CREDITBRIDGE_REQUIRE_POSTGRES") == "1" and not PG_URL:
        raise pytest.UsageError(
            "CREDITBRIDGE_REQUIRE_POSTGRES=1 but CREDITBRIDGE_TEST_DATABASE_URL is not set"
        )


def pytest_runtest_setup(item: pytest.Item) -> None:
    # With CREDITBRIDGE_REQUIRE_POSTGRES=1 the session never starts without PG_URL, and an
    # unreachable server fails the test's first connection: a skip here is never silent in CI.
    if item.get_closest_marker("postgres_only") is not None and not PG_URL:
        pytest.skip("needs PostgreSQL (set CREDITBRIDGE_TEST_DATABASE_URL)")


def _reset_postgres(engine: Engine) -> None:
    with engine.begin() as connection:
        connection.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
        connection.execute(text("CREATE SCHEMA public"))


@pytest.fixture(scope="session", params=STORES)
def engine(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Engine]:
    """A migrated, empty database of each store."""
    if request.param == "sqlite":
        path = Path(tmp_path_factory.mktemp("db")) / "test.db"
        built = make_engine(f"sqlite:///{path}")
    else:
        built = make_engine(PG_URL)
        check_connection(built)
        _reset_postgres(built)
    migrations.upgrade(built)
    yield built
    built.dispose()


@pytest.fixture
def session(engine: Engine) -> Iterator[Session]:
    """A session inside a transaction that is rolled back after the test, so tests never see
    each other's rows. Services may flush and even commit savepoints; nothing survives."""
    connection = engine.connect()
    outer = connection.begin()
    db = Session(bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False)
    try:
        yield db
    finally:
        db.close()
        outer.rollback()
        connection.close()


@pytest.fixture
def frozen_clock() -> Iterator[clock.FrozenClock]:
    fixed = clock.FrozenClock()
    previous = clock.set_clock(fixed)
    yield fixed
    clock.set_clock(previous)
