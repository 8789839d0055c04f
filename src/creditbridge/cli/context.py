"""What every command shares: the engine from settings, one transaction per command, and errors
printed as one readable line instead of a traceback."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import lru_cache, wraps
from typing import ParamSpec, TypeVar

import typer
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from creditbridge.core.config import get_settings
from creditbridge.core.db import check_connection, make_engine, make_sessionmaker, session_scope
from creditbridge.core.errors import DomainError, PlatformError

P = ParamSpec("P")
R = TypeVar("R")


@lru_cache(maxsize=1)
def engine() -> Engine:
    built = make_engine(get_settings().database_url, echo=get_settings().sql_echo)
    check_connection(built)
    return built


@contextmanager
def transaction() -> Iterator[Session]:
    with session_scope(make_sessionmaker(engine())) as session:
        yield session


def fail(message: str, code: int = 1) -> typer.Exit:
    typer.echo(message, err=True)
    return typer.Exit(code)


def friendly_errors(func: Callable[P, R]) -> Callable[P, R]:
    """Turn platform and domain errors into one line on stderr and a non-zero exit."""

    @wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return func(*args, **kwargs)
        except PlatformError as exc:
            typer.echo(f"错误 error [{exc.code}]: {exc}", err=True)
            sys.exit(2)
        except DomainError as exc:
            typer.echo(f"错误 error [{exc.code}]: {exc.message}", err=True)
            for issue in exc.issues:
                typer.echo(f"  - {issue}", err=True)
            sys.exit(1)

    return wrapper
