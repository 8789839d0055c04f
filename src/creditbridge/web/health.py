"""``/healthz``: is this node able to serve? For load balancers, monitoring and operators."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from creditbridge import __version__, migrations
from creditbridge.core.config import Settings
from creditbridge.core.db import check_connection
from creditbridge.core.errors import DatabaseUnavailable

router = APIRouter(tags=["platform 平台"])


class DatabaseHealth(BaseModel):
    reachable: bool
    dialect: str
    revision: str | None = Field(description="the applied migration revision")
    head: str | None = Field(description="the newest revision this version of the software ships")
    error: str | None = None


class Health(BaseModel):
    status: Literal["ok", "unavailable", "migrations_pending"]
    version: str
    node_code: str
    node_level: str
    database: DatabaseHealth


def check(engine: Engine, settings: Settings, head: str | None) -> Health:
    revision: str | None = None
    error: str | None = None
    try:
        check_connection(engine)
        revision = migrations.current(engine)
        reachable = True
    except (DatabaseUnavailable, SQLAlchemyError, OSError) as exc:
        reachable = False
        # The message of DatabaseUnavailable already masks the password; others get only a type.
        error = str(exc) if isinstance(exc, DatabaseUnavailable) else type(exc).__name__
    if not reachable:
        status: Literal["ok", "unavailable", "migrations_pending"] = "unavailable"
    elif revision != head:
        status = "migrations_pending"
    else:
        status = "ok"
    return Health(
        status=status,
        version=__version__,
        node_code=settings.node_code,
        node_level=settings.node_level,
        database=DatabaseHealth(
            reachable=reachable,
            dialect=engine.dialect.name,
            revision=revision,
            head=head,
            error=error,
        ),
    )


@router.get(
    "/healthz",
    response_model=Health,
    responses={503: {"model": Health, "description": "the database is down or not migrated"}},
    summary="Health 运行状态",
)
def healthz(request: Request) -> JSONResponse:
    """200 when the database answers and carries the schema this version expects, else 503."""
    health = check(
        request.app.state.engine, request.app.state.settings, request.app.state.migration_head
    )
    return JSONResponse(
        health.model_dump(mode="json"),
        status_code=200 if health.status == "ok" else 503,
        headers={"Cache-Control": "no-store"},
    )
