"""Pull connectors: the platform fetches a provider's data instead of waiting for a file.

A :class:`Connector` yields pages of rows (objects keyed by field code or label). The one
implementation, :class:`PagedJsonConnector`, reads a paged HTTP JSON endpoint, either style:

* ``GET url?page=1&page_size=M`` … until a page comes back empty or shorter than ``M``; the body is
  a list of rows or an object with the rows under ``rows``/``items``/``data``;
* an object with a ``next`` link (absolute or relative URL), followed until it is null.

5xx answers and transport errors are retried with exponential backoff; anything else fails the
pull (:class:`ConnectorFailed`) and nothing is delivered. Rows are spooled to a temporary JSON
Lines file (:func:`spool_rows`) so that the batch is digested, validated and applied exactly like
an uploaded file, with memory bounded by one page.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Final, Protocol
from urllib.parse import urljoin

import httpx
import orjson

from creditbridge.core.errors import ExchangeError

ROW_KEYS: Final = ("rows", "items", "data", "records")
MAX_PAGES: Final = 1_000_000


class ConnectorFailed(ExchangeError):
    """Raised when a provider's endpoint cannot be read (after retries) or answers nonsense."""

    code = "CB-INGEST-CONNECTOR"
    title = "数据提供单位接口调用失败"


class Connector(Protocol):
    def pages(self) -> Iterator[list[dict[str, Any]]]:
        """Pages of rows, in the provider's order."""
        ...


class PagedJsonConnector:
    def __init__(
        self,
        url: str,
        *,
        page_size: int = 1000,
        timeout: float = 30.0,
        retries: int = 4,
        backoff: float = 0.5,
        headers: dict[str, str] | None = None,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.url = url
        self.page_size = page_size
        self.retries = retries
        self.backoff = backoff
        self.sleep = sleep
        self.client = httpx.Client(
            timeout=httpx.Timeout(timeout), headers=headers, transport=transport
        )

    def pages(self) -> Iterator[list[dict[str, Any]]]:
        try:
            url: str | None = self.url
            params: dict[str, int] | None = {"page": 1, "page_size": self.page_size}
            for _ in range(MAX_PAGES):
                if url is None:
                    return
                body = self._get(url, params)
                rows, next_link, linked = _rows_of(body)
                if rows:
                    yield rows
                if linked:
                    url = urljoin(url, next_link) if next_link else None
                    params = None  # the link carries its own query
                    continue
                if not rows or len(rows) < self.page_size or params is None:
                    return
                params = {**params, "page": params["page"] + 1}
            raise ConnectorFailed(f"接口分页超过 {MAX_PAGES} 页，已停止")
        finally:
            self.client.close()

    def _get(self, url: str, params: dict[str, int] | None) -> Any:
        attempt = 0
        while True:
            try:
                response = self.client.get(url, params=params)
            except httpx.TransportError as exc:
                problem = f"{type(exc).__name__}: {exc}"
            else:
                if response.status_code < 400:
                    try:
                        return orjson.loads(response.content)
                    except orjson.JSONDecodeError as exc:
                        raise ConnectorFailed(f"{response.url} 返回的不是 JSON：{exc}") from exc
                if response.status_code < 500:
                    raise ConnectorFailed(f"{response.url} 返回 HTTP {response.status_code}")
                problem = f"HTTP {response.status_code}"
            attempt += 1
            if attempt > self.retries:
                raise ConnectorFailed(f"{url} 重试 {self.retries} 次后仍失败（{problem}）")
            self.sleep(self.backoff * 2 ** (attempt - 1))


def _rows_of(body: Any) -> tuple[list[dict[str, Any]], str | None, bool]:
    """(rows, next link, whether the body uses next links)."""
    if isinstance(body, list):
        return body, None, False
    if isinstance(body, dict):
        for key in ROW_KEYS:
            if isinstance(body.get(key), list):
                return body[key], body.get("next"), "next" in body
    raise ConnectorFailed("接口返回格式无法识别：应为行的数组，或含 rows/items/data 数组的对象")


@contextmanager
def spool_rows(connector: Connector) -> Iterator[Path]:
    """Every row the connector yields, written to a temporary ``.jsonl`` file (deleted after)."""
    with tempfile.TemporaryDirectory(prefix="creditbridge-pull-") as folder:
        path = Path(folder) / "pull.jsonl"
        with path.open("wb") as out:
            for page in connector.pages():
                for row in page:
                    out.write(orjson.dumps(row) + b"\n")
        yield path
