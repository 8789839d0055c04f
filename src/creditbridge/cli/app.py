"""The ``creditbridge`` command."""

from __future__ import annotations

import typer

from creditbridge.cli import catalog, db, demo, reference, serve

app = typer.Typer(
    help="CreditBridge 融资信用服务平台 — operator command line.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.add_typer(db.app, name="db")
app.add_typer(reference.app, name="reference")
app.add_typer(catalog.app, name="catalog")
app.add_typer(demo.app, name="demo")
app.command("serve")(serve.serve)


def main() -> None:
    app()
