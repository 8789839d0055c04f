"""`creditbridge serve`: run the web platform."""

from __future__ import annotations

import typer
import uvicorn

from creditbridge.cli.context import engine, friendly_errors
from creditbridge.ingest import service as ingest_service
from creditbridge.web import server


@friendly_errors
def serve(
    host: str = typer.Option("127.0.0.1", help="address to listen on"),
    port: int = typer.Option(8000, help="port to listen on"),
    workers: int = typer.Option(1, help="worker processes"),
) -> None:
    """Serve the platform's pages and API. 启动平台网站与接口。"""
    engine()  # fail early, with one line, when the database is unreachable
    server.prepare_process()
    ingest_service.sweep_stale_uploads()  # left by a server killed mid-delivery
    typer.echo(f"CreditBridge 融资信用服务平台: http://{host}:{port}/")
    uvicorn.run(
        "creditbridge.web.app:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level="warning",
        **server.uvicorn_options(),
    )
