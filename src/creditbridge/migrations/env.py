"""Alembic environment: uses the engine handed over by creditbridge.migrations, or the settings URL."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Engine

from creditbridge.core.config import get_settings
from creditbridge.core.db import make_engine
from creditbridge.models import Base

config = context.config
target_metadata = Base.metadata


def run_migrations_online() -> None:
    engine: Engine | None = config.attributes.get("engine")
    if engine is None:
        engine = make_engine(get_settings().database_url)
    with engine.begin() as connection:
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            # SQLite cannot ALTER most things in place; batch mode rebuilds the table instead.
            render_as_batch=connection.dialect.name == "sqlite",
            compare_type=True,
        )
        context.run_migrations()


run_migrations_online()
