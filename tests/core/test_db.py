from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import Engine, inspect, select, text
from sqlalchemy.orm import Session

from creditbridge.core.db import check_connection, make_engine, mask_url
from creditbridge.core.errors import DatabaseUnavailable
from creditbridge.ingest.models import Provider


def test_migrations_create_every_table(engine: Engine) -> None:
    from creditbridge.models import Base

    assert set(Base.metadata.tables) <= set(inspect(engine).get_table_names())


def test_migrations_match_models(engine: Engine) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from creditbridge.models import Base

    with engine.connect() as connection:
        diff = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    assert diff == []


def test_sqlite_runs_in_wal_with_foreign_keys(tmp_path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'x.db'}")
    with engine.connect() as connection:
        assert connection.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert connection.execute(text("PRAGMA foreign_keys")).scalar() == 1


def test_timestamps_come_back_in_utc(session: Session) -> None:
    moment = datetime(2026, 3, 1, 9, 30, tzinfo=timezone(timedelta(hours=8)))
    session.add(
        Provider(
            code="p1", name="省税务局", kind="department", division_code="340000", created_at=moment
        )
    )
    session.flush()
    session.expire_all()
    stored = session.scalars(select(Provider.created_at).where(Provider.code == "p1")).one()
    assert stored == moment
    assert stored.tzinfo is not None
    assert stored.utcoffset() == timedelta(0)
    assert stored == datetime(2026, 3, 1, 1, 30, tzinfo=UTC)


def test_naive_timestamps_are_refused(session: Session) -> None:
    session.add(
        Provider(
            code="p2",
            name="x",
            kind="department",
            division_code="340000",
            created_at=datetime(2026, 1, 1),
        )
    )
    with pytest.raises(Exception, match="naive datetime"):
        session.flush()


def test_unreachable_database_names_url_with_password_masked() -> None:
    url = "postgresql+psycopg://alice:s3cret@127.0.0.1:1/nowhere?connect_timeout=2"
    with pytest.raises(DatabaseUnavailable) as caught:
        check_connection(make_engine(url))
    message = str(caught.value)
    assert "s3cret" not in message
    assert "alice:***@127.0.0.1:1/nowhere" in message
    assert "\n" not in message


def test_mask_url_leaves_passwordless_urls_alone() -> None:
    assert mask_url("sqlite:///var/creditbridge.db") == "sqlite:///var/creditbridge.db"
