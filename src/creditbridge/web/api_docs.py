"""``/api/v1/docs``: Swagger UI for the OpenAPI document, served from our own static files.

FastAPI's built-in page loads Swagger UI from a CDN and starts it with an inline script, which
our Content-Security-Policy forbids; this page loads the vendored copy and a static start script
that reads the document's address from a ``data-`` attribute.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from creditbridge.web.templating import render

router = APIRouter(include_in_schema=False)


@router.get("/api/v1/docs", name="api:docs")
def api_docs(request: Request) -> HTMLResponse:
    return render(request, "api/docs.html", openapi_url=request.app.openapi_url)
