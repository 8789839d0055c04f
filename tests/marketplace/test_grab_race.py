"""100 officers of 20 institutions grab one demand at the same moment, each in its own session,
connection and transaction: exactly one wins, the other 99 are told the demand is taken.

Committed rows cannot live in the rolled-back test transaction, so the race runs on PostgreSQL in
a schema of its own (dropped afterwards) and on SQLite in a file of its own."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, func, select, text
from sqlalchemy.orm import Session

import factories
from creditbridge import migrations
from creditbridge.catalog import service as catalog_service
from creditbridge.core.actors import Actor
from creditbridge.core.db import make_engine
from creditbridge.marketplace import service
from creditbridge.marketplace.domain import WAN_FEN
from creditbridge.marketplace.errors import DemandTaken
from creditbridge.marketplace.models import Application, Demand

SCHEMA = "market_race"
GRABBERS = 100
INSTITUTIONS = 20


@pytest.fixture
def race_engine(engine: Engine, tmp_path: Path) -> Iterator[Engine]:
    if engine.dialect.name == "sqlite":
        # SQLite: a file of its own (one writer at a time; the busy timeout queues the rest).
        local = make_engine(f"sqlite:///{tmp_path / 'race.db'}")
        migrations.upgrade(local)
        yield local
        local.dispose()
        return
    with engine.begin() as connection:
        connection.execute(text(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE"))
        connection.execute(text(f"CREATE SCHEMA {SCHEMA}"))
    isolated = create_engine(
        engine.url,
        connect_args={"options": f"-csearch_path={SCHEMA}"},
        pool_size=30,
        max_overflow=0,
        pool_timeout=120,
    )
    migrations.upgrade(isolated)
    yield isolated
    isolated.dispose()
    with engine.begin() as connection:
        connection.execute(text(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE"))


def test_hundred_concurrent_grabs_have_exactly_one_winner(race_engine: Engine) -> None:
    with Session(race_engine) as session, session.begin():
        catalog_service.ensure_default_catalog(session)
        institutions = [
            factories.institution(session, code=f"race-{i}", name=f"抢单银行{i}")
            for i in range(INSTITUTIONS)
        ]
        subject = factories.subject(
            session,
            uscc="91340100MA2R0001XA",
            name="抢单测试企业",
            industry_section="C",
            size_class="small",
            registration_date=date(2015, 1, 1),
        )
        for inst in institutions:
            factories.product(
                session,
                inst,
                code=f"race-p-{inst.id}",
                name="抢单信用贷",
                product_type="credit_loan",
                min_amount_fen=WAN_FEN,
                max_amount_fen=500 * WAN_FEN,
                min_rate_bp=400,
                max_rate_bp=500,
                min_term_months=3,
                max_term_months=24,
            )
        owner = factories.owner(subject, id=1, name="企业")
        demand = service.post_demand(
            session, owner, amount_fen=50 * WAN_FEN, term_months=12, purpose="备货", mode="pool"
        )
        demand_id = demand.id
        officers = [
            factories.officer(institutions[n % INSTITUTIONS], id=100 + n, name=f"客户经理{n}")
            for n in range(GRABBERS)
        ]

    start = threading.Barrier(GRABBERS)

    def attempt(officer: Actor) -> str:
        start.wait()
        with Session(race_engine) as session:
            try:
                with session.begin():
                    service.grab(session, officer, demand_id=demand_id)
            except DemandTaken:
                return "taken"
        return "won"

    with ThreadPoolExecutor(max_workers=GRABBERS) as pool:
        outcomes = list(pool.map(attempt, officers))

    assert outcomes.count("won") == 1
    assert outcomes.count("taken") == GRABBERS - 1
    with Session(race_engine) as session:
        claimed = session.get(Demand, demand_id)
        assert claimed is not None
        assert claimed.status == "claimed"
        apps = session.scalars(select(Application).where(Application.demand_id == demand_id)).all()
        assert len(apps) == 1
        assert apps[0].institution_id == claimed.claimed_institution_id
        assert session.scalar(select(func.count()).select_from(Application)) == 1
