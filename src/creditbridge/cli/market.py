"""`creditbridge market`: financing marketplace: products, demands, loans and lending outcomes."""

from __future__ import annotations

import typer

app = typer.Typer(
    help="融资对接 Financing marketplace: products, demands, loans and lending outcomes.",
    no_args_is_help=True,
)
