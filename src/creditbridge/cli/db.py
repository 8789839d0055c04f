"""`creditbridge db …`: schema migrations."""

from __future__ import annotations

import typer

from creditbridge import migrations
from creditbridge.cli.context import engine, friendly_errors
from creditbridge.core.config import get_settings
from creditbridge.core.db import mask_url

app = typer.Typer(help="数据库 Database schema.", no_args_is_help=True)


@app.command("upgrade")
@friendly_errors
def upgrade(revision: str = typer.Argument("head", help="target revision")) -> None:
    """Apply migrations up to REVISION (default: the newest). 升级数据库结构。"""
    migrations.upgrade(engine(), revision)
    typer.echo(
        f"database at {migrations.current(engine())}: {mask_url(get_settings().database_url)}"
    )


@app.command("current")
@friendly_errors
def current() -> None:
    """Print the applied revision."""
    typer.echo(migrations.current(engine()) or "(empty)")
