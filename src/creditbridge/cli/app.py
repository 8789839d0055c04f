"""The ``creditbridge`` command."""

from __future__ import annotations

import typer

import creditbridge.analytics  # noqa: F401  (registers every snapshot table)
from creditbridge.cli import (
    access,
    audit,
    catalog,
    collection,
    consent,
    db,
    demo,
    feeds,
    ingest,
    jobs,
    market,
    node,
    providers,
    reference,
    reports,
    scoring,
    serve,
    webhooks,
    worker,
)

app = typer.Typer(
    help="CreditBridge 融资信用服务平台 — operator command line.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.add_typer(db.app, name="db")
app.add_typer(reference.app, name="reference")
app.add_typer(catalog.app, name="catalog")
app.add_typer(demo.app, name="demo")
app.add_typer(access.users_app, name="users")
app.add_typer(access.clients_app, name="clients")
app.add_typer(access.institutions_app, name="institutions")
app.add_typer(access.access_app, name="access")
app.add_typer(audit.app, name="audit")
app.add_typer(consent.app, name="consent")
app.add_typer(consent.keys_app, name="keys")
app.add_typer(providers.app, name="providers")
app.add_typer(collection.app, name="collection")
app.add_typer(reports.app, name="report")
app.add_typer(scoring.app, name="scoring")
app.add_typer(market.app, name="market")
app.add_typer(jobs.app, name="jobs")
app.add_typer(webhooks.app, name="webhooks")
app.add_typer(feeds.app, name="feeds")
app.add_typer(node.app, name="node")
app.command("ingest")(ingest.ingest)
app.command("worker")(worker.worker)
app.command("serve")(serve.serve)


def main() -> None:
    app()
