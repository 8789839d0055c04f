"""Every state-changing route × every role answers as the table in docs/operations-security.md
says, and the table has a row for every such route and for nothing else (issue 21).

A new POST/PUT/PATCH/DELETE route fails ``test_every_state_changing_route_has_a_row`` until its
row is written; a changed answer fails its route's test, naming each role that moved. With
``CB_ROLE_MATRIX_WRITE=1`` the tests record instead of comparing and the SQLite run rewrites the
table (notes kept): review every changed cell against the rules of the threat model before
keeping it.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator

import pytest
from sqlalchemy import Engine, text

from creditbridge import migrations
from creditbridge.core.config import Settings
from creditbridge.core.db import make_engine
from creditbridge.web.app import create_app

from . import role_matrix as rm

pytestmark = pytest.mark.security

WRITE = os.environ.get("CB_ROLE_MATRIX_WRITE") == "1"
# The routes do not depend on the database: enumerate them once, at collection.
PROBES = rm.probes(create_app(Settings(database_url="sqlite://")))
_observed: dict[str, dict[str, dict[str, str]]] = {}


@pytest.fixture(scope="module")
def matrix_engine(engine: Engine, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    """A database of the matrix's own, on the same store as ``engine``: 68 routes × 10 callers
    include deliveries whose writer commits on its own connection, so the matrix cannot share
    the suite's database (its seeded enterprise once leaked into tests counting subjects)."""
    if engine.dialect.name == "sqlite":
        built = make_engine(f"sqlite:///{tmp_path_factory.mktemp('matrix')}/matrix.db")
    else:
        url = engine.url.set(database=f"{engine.url.database}_matrix")
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as admin:
            admin.execute(text(f'DROP DATABASE IF EXISTS "{url.database}"'))
            admin.execute(text(f'CREATE DATABASE "{url.database}"'))
        built = make_engine(url.render_as_string(hide_password=False))
    migrations.upgrade(built)
    yield built
    built.dispose()


@pytest.fixture(scope="module")
def matrix_world(matrix_engine: Engine) -> Iterator[rm.World]:
    engine = matrix_engine
    with rm.world(engine) as built:
        yield built
    observed = _observed.get(engine.dialect.name, {})
    if WRITE and engine.dialect.name == "sqlite" and len(observed) == len(PROBES):
        rm.write_table(observed)


@pytest.fixture(scope="module")
def documented() -> rm.Table:
    return rm.read_table()


def test_every_state_changing_route_has_a_row(matrix_world: rm.World, documented: rm.Table) -> None:
    """Every POST/PUT/PATCH/DELETE route of the app has its row in the documented role matrix,
    and every row names a route that exists."""
    routes = {probe.key for probe in rm.probes(matrix_world.app)}
    missing = sorted(routes - documented.rows.keys())
    stale = sorted(documented.rows.keys() - routes)
    if WRITE:
        return
    problems = []
    if missing:
        problems.append(
            "routes without a row in docs/operations-security.md: " + ", ".join(missing)
        )
    if stale:
        problems.append("rows of docs/operations-security.md naming no route: " + ", ".join(stale))
    assert not problems, "; ".join(problems)


@pytest.mark.parametrize("probe", PROBES, ids=lambda probe: probe.key)
def test_route_answers_every_role_as_documented(
    matrix_world: rm.World,
    documented: rm.Table,
    probe: rm.Probe,
    engine: Engine,
    record_property: Callable[[str, object], None],
) -> None:
    """Each role's answer to an empty request on this route is the documented one."""
    observed = rm.observe(matrix_world, probe)
    _observed.setdefault(engine.dialect.name, {})[probe.key] = observed
    expected = documented.rows.get(probe.key)
    record_property("trial", f"role matrix: {probe.key}")
    record_property("expected", rm.summary(expected) if expected else "(no row in the docs)")
    record_property("observed", rm.summary(observed))
    if WRITE:
        return
    assert expected is not None, f"{probe.key} has no row in docs/operations-security.md"
    moved = [
        f"{column}: documented {expected[column]}, observed {observed[column]}"
        for column in rm.COLUMNS
        if expected[column] != observed[column]
    ]
    assert not moved, f"{probe.key}: " + "; ".join(moved)
