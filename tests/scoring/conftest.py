"""A generated province per store with the scoring lab run on it once per module (snapshot,
train, validate, approve the expert card, run), inside a transaction rolled back at the end."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from creditbridge.core.actors import CONSOLE, SYSTEM
from creditbridge.demo import service as demo_service
from creditbridge.scoring import service
from creditbridge.scoring.analytics import Snapshot
from creditbridge.scoring.models import ScoringModel, ScoringRun

ENTERPRISES = 2500
SEED = 7
AS_OF = date(2026, 10, 31)


@dataclass
class Lab:
    session: Session
    root: Path
    snapshot: Snapshot
    expert: ScoringModel
    scorecard: ScoringModel
    challenger: ScoringModel
    run: ScoringRun


@pytest.fixture(scope="module")
def lab(engine: Engine, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    connection = engine.connect()
    outer = connection.begin()
    session = Session(bind=connection, join_transaction_mode="create_savepoint")
    root = tmp_path_factory.mktemp("scoring")
    try:
        demo_service.generate(session, SYSTEM, enterprises=ENTERPRISES, seed=SEED, as_of=AS_OF)
        snapshot = service.take_snapshot(session, CONSOLE, root=root, as_of=AS_OF)
        expert = service.register_expert(session, CONSOLE, root=root)
        scorecard, challenger = service.train_scorecard(session, CONSOLE, root=root)
        service.validate(session, CONSOLE, version=expert.version, root=root)
        service.validate(session, CONSOLE, version=scorecard.version, root=root)
        service.approve(session, CONSOLE, version=expert.version)
        (result,) = service.run(session, CONSOLE, root=root)
        yield Lab(session, root, snapshot, expert, scorecard, challenger, result.run)
    finally:
        session.close()
        outer.rollback()
        connection.close()


@pytest.fixture
def nested(lab: Lab) -> Iterator[Session]:
    """The lab's session inside a savepoint rolled back after the test, for tests that change
    the registry or the data."""
    savepoint = lab.session.begin_nested()
    try:
        yield lab.session
    finally:
        savepoint.rollback()


# The page tests reuse the web fixtures (the app bound to the test's transaction, logging in).
from web.conftest import app, client, login_as  # noqa: E402, F401
