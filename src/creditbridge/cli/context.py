"""What every command shares: the engine from settings, one transaction per command, and errors
printed as one readable line instead of a traceback."""

from __future__ import annotations

import re
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import lru_cache, wraps
from pathlib import Path
from typing import ParamSpec, TypeVar

import typer
from sqlalchemy import Engine, make_url
from sqlalchemy.exc import OperationalError, ProgrammingError
from sqlalchemy.orm import Session

from creditbridge.core.config import get_settings
from creditbridge.core.db import check_connection, make_engine, make_sessionmaker
from creditbridge.core.errors import DomainError, PlatformError

P = ParamSpec("P")
R = TypeVar("R")

_MISSING_SCHEMA = re.compile(
    r"no such (table|column)|relation .* does not exist|column .* does not exist", re.IGNORECASE
)


UPGRADE_HINT = "请先运行 `creditbridge db upgrade` (run `creditbridge db upgrade` first)"


class SchemaNotUpgraded(PlatformError):
    """A command met a database whose schema was never created, or is older than the program
    (a table or column it needs is missing): :func:`friendly_errors` names the command to run."""

    code = "CB-DB-NOT-UPGRADED"


class NodeDataMissing(PlatformError):
    """Raised when a command that only reads (``report verify``) finds no database or signing key
    where the settings point: it creates neither, since a fresh key would call every genuine
    report foreign."""

    code = "CB-NODE-DATA-MISSING"


@lru_cache(maxsize=1)
def engine() -> Engine:
    built = make_engine(get_settings().database_url, echo=get_settings().sql_echo)
    check_connection(built)
    return built


def require_existing_node() -> None:
    """The node's database and signing key must already exist (run from the node's directory,
    or set CREDITBRIDGE_DATABASE_URL / CREDITBRIDGE_DATA_DIR); nothing is created here."""
    settings = get_settings()
    url = make_url(settings.database_url)
    if url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:"):
        database = Path(str(url.database))
        if not database.is_file():
            raise NodeDataMissing(
                f"本节点数据库不存在 no database at {database.resolve()}：请在节点目录下运行，"
                "或设置 CREDITBRIDGE_DATABASE_URL (run from the node's folder or set it)"
            )
    key = settings.signing_key_file
    if not key.is_file():
        raise NodeDataMissing(
            f"本节点签名密钥不存在 no signing key at {key.resolve()}：请在签发报告的节点上核验，"
            "或设置 CREDITBRIDGE_DATA_DIR / CREDITBRIDGE_SIGNING_KEY_PATH"
        )


@contextmanager
def transaction() -> Iterator[Session]:
    """One transaction per command: committed when the block ends, rolled back when it raises.

    An error that must stay on record although the command fails (a refused read's audit event
    and tally, see ``consent.errors.RefusalOnRecord``) carries ``kept_on_rollback``: after the
    rollback it is called in a transaction of its own, which commits only its writes."""
    with make_sessionmaker(engine())() as session:
        try:
            with session.begin():
                yield session
        except BaseException as error:
            write: Callable[[Session], None] | None = getattr(error, "kept_on_rollback", None)
            if write is not None:
                with session.begin():
                    write(session)
            raise


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
        except (OperationalError, ProgrammingError) as exc:
            if not _MISSING_SCHEMA.search(str(exc.orig)):
                raise
            typer.echo(
                f"错误 error [{SchemaNotUpgraded.code}]: 数据库结构与程序版本不符 the schema is "
                f"older than the program ({str(exc.orig).splitlines()[0]})；{UPGRADE_HINT}",
                err=True,
            )
            sys.exit(2)

    return wrapper
