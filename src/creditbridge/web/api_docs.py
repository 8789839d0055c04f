"""The API's documentation: ``/api/v1/docs`` (Swagger UI from our own static files) and the
refusals every route can answer, added to the OpenAPI document.

FastAPI's built-in page loads Swagger UI from a CDN and starts it with an inline script, which
our Content-Security-Policy forbids; this page loads the vendored copy and a static start script
that reads the document's address from a ``data-`` attribute.

FastAPI documents only what a handler returns (and its own 422 as plain JSON); the refusals come
from dependencies, middleware and the error handlers, all as ``application/problem+json``
(RFC 9457, :mod:`creditbridge.web.errors`), so :func:`install` adds them to each API operation.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final

from fastapi import APIRouter, FastAPI, Request
from fastapi.dependencies.models import Dependant
from fastapi.responses import HTMLResponse
from fastapi.routing import APIRoute, iter_route_contexts

from creditbridge.web import auth
from creditbridge.web.errors import PROBLEM_JSON
from creditbridge.web.templating import render

router = APIRouter(include_in_schema=False)

API_PREFIX: Final = "/api/v1/"
PROBLEM_REF: Final = {"$ref": "#/components/schemas/Problem"}
PROBLEM_SCHEMA: Final[dict[str, Any]] = {
    "title": "Problem",
    "description": "RFC 9457 Problem Details; `code` is stable, `detail` is for people.",
    "type": "object",
    "required": ["type", "title", "status", "code"],
    "properties": {
        "type": {"type": "string", "examples": ["urn:creditbridge:error:CB-AUTH-SIGNATURE"]},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "code": {"type": "string", "examples": ["CB-AUTH-SIGNATURE"]},
        "instance": {"type": "string", "description": "the path that was asked"},
        "reason": {"type": "string", "description": "why a consent does not cover a read"},
        "errors": {
            "type": "array",
            "description": "one entry per field or row at fault",
            "items": {
                "type": "object",
                "properties": {
                    "code": {"type": "string"},
                    "message": {"type": "string"},
                    "field": {"type": "string"},
                    "row": {"type": "integer"},
                    "value": {"type": "string"},
                    "location": {"type": "string"},
                },
            },
        },
    },
}
IDENTIFIED: Final = {
    "401": "未认证：签名缺失、有误、过期或重放，或未登录 (`CB-AUTH-*`)",
    "403": "无权访问：角色、授权或所属机构不允许 (`CB-FORBIDDEN`, `CB-CONSENT-*`)",
    "429": "请求过于频繁，`Retry-After` 秒后再试 (`CB-RATE-LIMITED`)",
}
NOT_FOUND: Final = "不存在，或调用方无权知道它存在 (`CB-NOT-FOUND`)"
TOO_LARGE: Final = "请求体超过此地址的上限 (`CB-BODY-TOO-LARGE`)"
INVALID: Final = "请求参数有误，`errors` 逐项说明 (`CB-VALIDATION`)"
_BODY_METHODS: Final = frozenset({"post", "put", "patch"})


@router.get("/api/v1/docs", name="api:docs")
def api_docs(request: Request) -> HTMLResponse:
    return render(request, "api/docs.html", openapi_url=request.app.openapi_url)


def _identifies_caller(dependant: Dependant) -> bool:
    for dependency in dependant.dependencies:
        call = dependency.call
        if call in (auth.require_signed_client, auth.require_login) or getattr(
            call, "__qualname__", ""
        ).startswith(auth.require_roles.__qualname__ + "."):
            return True
        if _identifies_caller(dependency):
            return True
    return False


def _problem(description: str) -> dict[str, Any]:
    return {"description": description, "content": {PROBLEM_JSON: {"schema": PROBLEM_REF}}}


def document_problems(app: FastAPI, document: dict[str, Any]) -> dict[str, Any]:
    """Add to each API operation of ``document`` the refusals it can answer."""
    # Included routers are kept apart and resolved lazily: their routes and prefixes are
    # reached through the route contexts, as FastAPI's own document builder reaches them.
    identified = {
        (context.path_format, method.lower())
        for context in iter_route_contexts(app.routes)
        if isinstance(route := context.original_route, APIRoute)
        and _identifies_caller(route.dependant)
        for method in route.methods or ()
    }
    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    schemas["Problem"] = PROBLEM_SCHEMA
    for path, item in document.get("paths", {}).items():
        if not path.startswith(API_PREFIX):
            continue
        for method, operation in item.items():
            responses: dict[str, Any] = operation.setdefault("responses", {})
            wanted: dict[str, str] = {}
            if (path, method) in identified:
                wanted.update(IDENTIFIED)
            if "{" in path or (path, method) in identified:
                wanted["404"] = NOT_FOUND
            if method in _BODY_METHODS:
                wanted["413"] = TOO_LARGE
            if "422" in responses:
                # FastAPI's own model says plain JSON; the error handler answers problem+json.
                responses["422"] = _problem(INVALID)
            for status, description in wanted.items():
                response = responses.setdefault(status, {"description": description})
                response.setdefault("content", {})[PROBLEM_JSON] = {"schema": PROBLEM_REF}
    return document


def install(app: FastAPI) -> None:
    """Serve the OpenAPI document with the refusals added (built once, on first request)."""
    build: Callable[[], dict[str, Any]] = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = document_problems(app, build())
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
