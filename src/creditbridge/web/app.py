"""The application factory: ``uvicorn --factory creditbridge.web.app:create_app``.

It wires the shells together and holds no feature of its own: pages and API routers come from
the domain modules, rendering from :mod:`~creditbridge.web.templating`, errors from
:mod:`~creditbridge.web.errors`.
"""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Final

from alembic.script import ScriptDirectory
from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from sqlalchemy import Engine
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.middleware.trustedhost import TrustedHostMiddleware
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

import creditbridge.analytics  # noqa: F401  (registers every snapshot table)
from creditbridge import __version__, migrations
from creditbridge.access import api as access_api
from creditbridge.access import pages as access_pages
from creditbridge.audit import pages as audit_pages
from creditbridge.catalog import api as catalog_api
from creditbridge.catalog import pages as catalog_pages
from creditbridge.consent import api as consent_api
from creditbridge.consent import pages as consent_pages
from creditbridge.core.config import Settings, get_settings
from creditbridge.core.db import check_connection, make_engine, make_sessionmaker
from creditbridge.core.errors import PlatformError
from creditbridge.delivery import api as delivery_api
from creditbridge.delivery import pages as delivery_pages
from creditbridge.exchange import pages as exchange_pages
from creditbridge.ingest import api as ingest_api
from creditbridge.ingest import collection_pages
from creditbridge.ingest import pages as ingest_pages
from creditbridge.jobs import pages as jobs_pages
from creditbridge.marketplace import api as marketplace_api
from creditbridge.marketplace import pages as marketplace_pages
from creditbridge.presentation.templating import STATIC_DIR
from creditbridge.reports import api as reports_api
from creditbridge.reports import pages as reports_pages
from creditbridge.reports import rendering
from creditbridge.scoring import api as scoring_api
from creditbridge.scoring import pages as scoring_pages
from creditbridge.web import admission, api_docs, auth, health, pages
from creditbridge.web.errors import install_error_handlers
from creditbridge.web.i18n import LanguageMiddleware
from creditbridge.web.security import (
    BodyLimitMiddleware,
    SecurityHeadersMiddleware,
    allowed_hosts,
    public_origin,
    trusted_proxies,
)

VENDOR_DIR: Final = STATIC_DIR / "vendor"
# What scripts/vendor-assets.mjs copies from the npm packages; the pages cannot work without them.
VENDOR_FILES: Final = (
    "bootstrap.min.css",
    "bootstrap.bundle.min.js",
    "echarts.min.js",
    "htmx.min.js",
    "swagger-ui/swagger-ui.css",
    "swagger-ui/swagger-ui-bundle.js",
)

API_PREFIX: Final = "/api/v1"
# A multipart form carries, besides its file, boundaries, part headers and small fields.
_FORM_OVERHEAD: Final = 1024 * 1024

DESCRIPTION: Final = """\
融资信用服务平台接口：供接入机构、数据提供单位和上下级节点调用。
所有数据均由本节点提供，未经企业授权不提供公开信息以外的数据。

The API of a financing credit service platform node, for institutions, data providers and other
nodes. Errors follow RFC 9457 (`application/problem+json`) with a stable `code` (`CB-…`).
"""


class AssetsMissing(PlatformError):
    """Raised at start-up when the front-end files from the npm packages were never copied in."""

    code = "CB-ASSETS-MISSING"


def check_assets(vendor_dir: Path = VENDOR_DIR) -> None:
    missing = [name for name in VENDOR_FILES if not (vendor_dir / name).is_file()]
    if missing:
        raise AssetsMissing(
            f"前端资源缺失 front-end assets missing in {vendor_dir}: {', '.join(missing)}; "
            "run `make assets`"
        )


def _migration_head(engine: Engine) -> str | None:
    return ScriptDirectory.from_config(migrations.alembic_config(engine)).get_current_head()


def body_limits(settings: Settings) -> dict[str, int]:
    """The routes that take more than ``max_body_bytes``: batch uploads, and the report files
    the verification routes accept (their handlers' own limit, plus the form around it)."""
    document = max(
        settings.max_body_bytes,
        max(reports_api.MAX_UPLOAD, reports_pages.MAX_UPLOAD) + _FORM_OVERHEAD,
    )
    return {
        f"{API_PREFIX}/ingest/batches": settings.max_upload_bytes,
        "/ingest/upload": settings.max_upload_bytes,
        f"{API_PREFIX}/reports/verify": document,
        "/verify": document,
    }


@asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    yield
    # The renderer processes go with the worker (a forkserver child also dies with its parent).
    rendering.shutdown_renderers()


def create_app(settings: Settings | None = None, *, engine: Engine | None = None) -> FastAPI:
    """Build the web application for one node.

    Without ``engine`` one is built from ``settings.database_url`` and must answer at once, so a
    wrong URL stops the server at start-up with one readable line. A given engine is trusted as
    is: tests pass broken ones on purpose to see ``/healthz`` answer 503.
    """
    settings = settings or get_settings()
    check_assets()
    public_origin(settings)  # a malformed or, in production, missing public address stops here
    if engine is None:
        engine = make_engine(
            settings.database_url,
            echo=settings.sql_echo,
            pool_timeout=settings.pool_timeout_seconds,
        )
        check_connection(engine)

    app = FastAPI(
        title="CreditBridge 融资信用服务平台 API",
        description=DESCRIPTION,
        version=__version__,
        openapi_url=f"{API_PREFIX}/openapi.json",
        # FastAPI's own docs pages load Swagger UI from a CDN and run inline scripts; ours
        # (api_docs) serve the same UI from our static folder.
        docs_url=None,
        redoc_url=None,
        license_info={"name": "Apache-2.0", "identifier": "Apache-2.0"},
        # CSRF is checked on every unsafe request of every page route (等保 2.0 §8.1.4).
        dependencies=[auth.CSRF_DEPENDENCY],
        lifespan=_lifespan,
    )
    app.state.settings = settings
    app.state.engine = engine
    app.state.sessionmaker = make_sessionmaker(engine)
    app.state.migration_head = _migration_head(engine)
    app.state.pdf_slots = threading.BoundedSemaphore(settings.max_pdf_renders)
    rendering.configure_renderers(workers=settings.pdf_workers, in_process=settings.pdf_in_process)

    # The last added runs first. From the outside in: the client's address and scheme (from a
    # trusted proxy only), the security headers on every response, refusals included, the host
    # check, the cap on requests in flight, the body limit, the language (chosen before anything
    # renders) and the cookies.
    auth.install(app)
    app.add_middleware(LanguageMiddleware, default=settings.default_language)
    app.add_middleware(
        BodyLimitMiddleware, default=settings.max_body_bytes, routes=body_limits(settings)
    )
    app.add_middleware(admission.InFlightLimitMiddleware, limit=settings.max_in_flight)
    hosts = allowed_hosts(settings)
    if hosts is not None:
        app.add_middleware(TrustedHostMiddleware, allowed_hosts=hosts, www_redirect=False)
    app.add_middleware(SecurityHeadersMiddleware)
    proxies = trusted_proxies(settings)
    if proxies:
        app.add_middleware(ProxyHeadersMiddleware, trusted_hosts=proxies)

    install_error_handlers(app)
    app.add_exception_handler(PoolTimeout, admission.pool_exhausted)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    app.include_router(health.router)
    app.include_router(api_docs.router)
    app.include_router(pages.router)
    app.include_router(catalog_pages.router)
    app.include_router(catalog_api.router)
    app.include_router(consent_api.router)
    app.include_router(consent_pages.router)
    app.include_router(audit_pages.router)
    app.include_router(access_pages.router)
    app.include_router(access_api.router)
    app.include_router(ingest_pages.router)
    app.include_router(ingest_api.router)
    app.include_router(collection_pages.router)
    app.include_router(reports_pages.router)
    app.include_router(reports_api.router)
    app.include_router(scoring_pages.router)
    app.include_router(scoring_api.router)
    app.include_router(marketplace_pages.router)
    app.include_router(marketplace_api.router)
    app.include_router(delivery_pages.router)
    app.include_router(delivery_api.router)
    app.include_router(jobs_pages.router)
    app.include_router(exchange_pages.router)
    api_docs.install(app)
    return app
