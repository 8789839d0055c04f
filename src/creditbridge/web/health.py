"""``/healthz``: is this node able to serve? For load balancers, monitoring and operators.

The public learns only ``ok`` or ``unavailable``: the version, the database's dialect and the
migration revision tell an attacker which published flaw to try. Signed-in operators see them,
and so does every caller where ``CREDITBRIDGE_HEALTH_DETAILS`` is set (an internal port).
"""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from sqlalchemy import Engine, create_engine
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.pool import NullPool

from creditbridge import __version__, migrations
from creditbridge.core.actors import Role
from creditbridge.core.config import Settings
from creditbridge.core.db import check_connection
from creditbridge.core.errors import DatabaseUnavailable
from creditbridge.web import auth

router = APIRouter(tags=["platform 平台"])


class DatabaseHealth(BaseModel):
    reachable: bool
    dialect: str
    revision: str | None = Field(description="the applied migration revision")
    head: str | None = Field(description="the newest revision this version of the software ships")
    error: str | None = None


class PublicHealth(BaseModel):
    """What any caller learns."""

    status: Literal["ok", "unavailable"]


class Health(BaseModel):
    """What operators learn."""

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


OPERATORS = (Role.OPERATOR, Role.SYSTEM_ADMIN)


def probe_engine(app_engine: Engine) -> Engine:
    """The engine ``/healthz`` checks the database with: one of its own, outside the pool the
    requests share, so that a pool exhausted by a burst of requests (answered 503 ``CB-BUSY``)
    is not reported as a database that is down. An in-memory SQLite database exists only in the
    app's own connections, so it is probed through them."""
    url = app_engine.url
    if url.get_backend_name() == "sqlite" and url.database in (None, "", ":memory:"):
        return app_engine
    return create_engine(url, poolclass=NullPool)


def _probe(request: Request) -> Engine:
    state = request.app.state
    probe: Engine | None = getattr(state, "health_engine", None)
    if probe is None:
        probe = state.health_engine = probe_engine(state.engine)
    return probe


def _shows_details(request: Request) -> bool:
    settings: Settings = request.app.state.settings
    if settings.health_details:
        return True
    try:
        actor = auth.get_actor(request)
    except (DatabaseUnavailable, SQLAlchemyError, OSError):
        return False  # the session cannot be checked while the database is down
    return actor is not None and actor.has_role(*OPERATORS)


@router.get(
    "/healthz",
    response_model=PublicHealth | Health,
    responses={
        503: {
            "model": PublicHealth | Health,
            "description": "the database is down or not migrated",
        }
    },
    summary="Health 运行状态",
)
def healthz(request: Request) -> JSONResponse:
    """200 when the database answers and carries the schema this version expects, else 503.
    Only `status` (`ok` or `unavailable`) unless the caller is a signed-in operator."""
    health = check(_probe(request), request.app.state.settings, request.app.state.migration_head)
    status_code = 200 if health.status == "ok" else 503
    if _shows_details(request):
        body = health.model_dump(mode="json")
    else:
        body = PublicHealth(status="ok" if health.status == "ok" else "unavailable").model_dump()
    return JSONResponse(body, status_code=status_code, headers={"Cache-Control": "no-store"})
