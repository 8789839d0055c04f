"""`creditbridge report`: credit reports: issue and verify."""

from __future__ import annotations

import typer

app = typer.Typer(help="信用报告 Credit reports: issue and verify.", no_args_is_help=True)
