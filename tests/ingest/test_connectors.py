"""The paged HTTP JSON connector: against a real local fake provider, and the edge cases over
httpx.MockTransport (retries on 5xx, next links, refusals)."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import orjson
import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from typer.testing import CliRunner

from creditbridge.cli.app import app as cli_app
from creditbridge.ingest.connectors import ConnectorFailed, PagedJsonConnector, spool_rows

from .conftest import codes
from .test_cli import database  # noqa: F401 - fixture

USCCS = codes(25)
ROWS = [
    {"统一社会信用代码": c, "所属期": "2026-09", "是否按期申报": "是", "应税销售收入": "1,000",
     "增值税实缴税额": "1", "企业所得税实缴税额": "1", "实缴税额合计": "2"}
    for c in USCCS
]  # fmt: skip


def fake_provider(request: Request) -> JSONResponse:
    page = int(request.query_params["page"])
    size = int(request.query_params["page_size"])
    return JSONResponse({"rows": ROWS[(page - 1) * size : page * size]})


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    config = uvicorn.Config(
        Starlette(routes=[Route("/tax", fake_provider)]), host="127.0.0.1", port=port,
        log_level="warning",
    )  # fmt: skip
    running = uvicorn.Server(config)
    thread = threading.Thread(target=running.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not running.started and time.monotonic() < deadline:
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}/tax"
    running.should_exit = True
    thread.join(timeout=5)


def test_pages_from_a_real_server(server: str) -> None:
    pages = list(PagedJsonConnector(server, page_size=10).pages())
    assert [len(p) for p in pages] == [10, 10, 5]


def test_pull_command_delivers_the_rows(server: str, database: str) -> None:  # noqa: F811
    args = ["ingest", "pull", "--connector-url", server, "--page-size", "7", "--dataset",
            "tax_payment", "--on-behalf-of", "tax", "--reason", "税务局接口", "--json"]  # fmt: skip
    result = CliRunner().invoke(cli_app, args)
    assert result.exit_code == 0, result.output
    body = orjson.loads(result.stdout)
    assert (body["channel"], body["rows_new"], body["source_format"]) == ("pull", 25, "jsonl")
    again = CliRunner().invoke(cli_app, args)
    assert orjson.loads(again.stdout)["replayed"] is True


def test_retries_5xx_with_backoff_then_follows_next_links() -> None:
    calls: list[str] = []
    waits: list[float] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(str(request.url))
        if len(calls) <= 2:
            return httpx.Response(503)
        if request.url.path == "/start":
            return httpx.Response(200, json={"items": ROWS[:2], "next": "/more?cursor=x"})
        return httpx.Response(200, json={"items": ROWS[2:3], "next": None})

    connector = PagedJsonConnector(
        "http://provider.test/start", transport=httpx.MockTransport(handler), sleep=waits.append
    )
    assert [len(p) for p in connector.pages()] == [2, 1]
    assert waits == [0.5, 1.0]
    assert calls[-1] == "http://provider.test/more?cursor=x"


def test_gives_up_after_retries_and_on_4xx() -> None:
    always_down = httpx.MockTransport(lambda request: httpx.Response(502))
    with pytest.raises(ConnectorFailed, match="重试 2 次"):
        list(PagedJsonConnector("http://p.test/", retries=2, transport=always_down,
                                sleep=lambda s: None).pages())  # fmt: skip
    forbidden = httpx.MockTransport(lambda request: httpx.Response(403))
    with pytest.raises(ConnectorFailed, match="HTTP 403"):
        list(PagedJsonConnector("http://p.test/", transport=forbidden).pages())


def test_timeouts_are_retried_like_5xx() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("slow", request=request)

    with pytest.raises(ConnectorFailed, match="ReadTimeout"):
        list(PagedJsonConnector("http://p.test/", retries=1, transport=httpx.MockTransport(handler),
                                sleep=lambda s: None).pages())  # fmt: skip


def test_rows_are_spooled_to_json_lines(tmp_path: Path) -> None:
    transport = httpx.MockTransport(lambda request: httpx.Response(200, json=ROWS[:3]))
    with spool_rows(
        PagedJsonConnector("http://p.test/", page_size=10, transport=transport)
    ) as path:
        lines = path.read_bytes().splitlines()
    assert [orjson.loads(line)["统一社会信用代码"] for line in lines] == USCCS[:3]
