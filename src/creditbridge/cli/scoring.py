"""`creditbridge scoring`: credit evaluation: snapshot, train, validate, approve, run, show."""

from __future__ import annotations

import typer

app = typer.Typer(
    help="信用评价 Credit evaluation: snapshot, train, validate, approve, run, show.", no_args_is_help=True
)
