"""One place that turns failures into responses.

API requests (``/api/…``) get RFC 9457 Problem Details (``application/problem+json``, the body of
:meth:`DomainError.problem`); pages get an HTML error page in the reader's language, its detail
and issues too when the error names them by message key (else their Chinese message). Request
validation (422) and routing errors (404, 405) take the same path, so a client sees one shape.
Unexpected exceptions are logged with their traceback and answered with a 500 page that shows none.
"""

from __future__ import annotations

import logging
from typing import Any, Final

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from sqlalchemy.exc import OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException

from creditbridge.core.errors import DomainError, Issue, NotFound, ValidationFailed
from creditbridge.presentation import i18n
from creditbridge.presentation.errors import explain, keyed
from creditbridge.web.security import BodyLimitExceeded
from creditbridge.web.templating import language, render

logger = logging.getLogger(__name__)

PROBLEM_JSON: Final = "application/problem+json"


def is_api_request(request: Request) -> bool:
    return request.url.path.startswith("/api/")


def problem_response(
    request: Request, body: dict[str, Any], status_code: int, headers: dict[str, str] | None = None
) -> JSONResponse:
    body = {**body, "instance": request.url.path}
    return JSONResponse(body, status_code=status_code, media_type=PROBLEM_JSON, headers=headers)


def _title(lang: i18n.Language, code: str, error: DomainError | None) -> str:
    if f"error.{code}" in i18n.MESSAGES:
        return i18n.translate(lang, f"error.{code}")
    if error is not None:
        if lang == "zh":
            return error.title
        # A class without a title in the tables (a test enforces one for every class in src): use
        # its nearest ancestor's rather than fail the error page.
        for cls in type(error).__mro__:
            if issubclass(cls, DomainError) and cls.title_key() in i18n.MESSAGES:
                return i18n.translate(lang, cls.title_key())
    return i18n.translate(lang, "error.CB-HTTP")


def _error_page(
    request: Request,
    *,
    status_code: int,
    code: str,
    detail: str,
    issues: list[Issue] | None = None,
    headers: dict[str, str] | None = None,
    error: DomainError | None = None,
) -> Response:
    lang = language(request)
    title_key = f"error.{code}"
    title = _title(lang, code, error)
    body_key = f"{title_key}.body"
    explanation = i18n.translate(lang, body_key) if body_key in i18n.MESSAGES else ""
    # The search box helps where the reader followed a stale link or mistyped a code.
    search = status_code == 404
    query = str(request.path_params.get("code", "")) if search else ""
    return render(
        request,
        "errors/error.html",
        status_code=status_code,
        headers=headers,
        error_status=status_code,
        error_code=code,
        error_title=title,
        error_explanation=explanation,
        error_detail=detail,
        error_issues=issues or [],
        show_search=search,
        search_query=query,
    )


def domain_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, DomainError)
    # Some refusals say when to come back (Retry-After on 429).
    headers: dict[str, str] | None = getattr(exc, "headers", None)
    if is_api_request(request):
        return problem_response(request, exc.problem(), exc.status_code, headers)
    return _error_page(
        request,
        status_code=exc.status_code,
        code=exc.code,
        detail=explain(language(request), exc),
        issues=exc.issues,
        headers=headers,
        error=exc,
    )


def validation_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    issues = [
        Issue(
            code=str(error.get("type", "invalid")),
            message=str(error.get("msg", "")),
            location=str(error["loc"][0]) if error.get("loc") else None,
            field=".".join(str(part) for part in error.get("loc", ())[1:]) or None,
        )
        for error in exc.errors()
    ]
    # The Chinese-and-English detail is what API clients have always read; pages show the key's.
    failure = ValidationFailed(
        "请求参数有误 invalid request parameters", key="error.request_invalid", issues=issues
    )
    return domain_error(request, failure)


def body_too_large(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, BodyLimitExceeded)
    return domain_error(request, exc.error)


def http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    if request.url.path.startswith("/static/"):
        # A missing asset is not worth a themed page (which would itself load assets).
        return PlainTextResponse(str(exc.detail), status_code=exc.status_code, headers=exc.headers)
    if exc.status_code == 404:
        return domain_error(request, keyed(NotFound, "error.page_missing", path=request.url.path))
    code = "CB-METHOD-NOT-ALLOWED" if exc.status_code == 405 else "CB-HTTP"
    headers = dict(exc.headers or {})
    if is_api_request(request):
        body = {
            "type": f"urn:creditbridge:error:{code}",
            "title": i18n.translate("zh", f"error.{code}"),
            "status": exc.status_code,
            "detail": str(exc.detail),
            "code": code,
        }
        return problem_response(request, body, exc.status_code, headers)
    return _error_page(
        request, status_code=exc.status_code, code=code, detail=str(exc.detail), headers=headers
    )


def database_error(request: Request, exc: Exception) -> Response:
    # The database went away after start-up (restart, lost network, a lock held too long): the
    # request may succeed if retried, so 503 rather than a generic 500.
    logger.error("database unavailable while serving %s: %s", request.url.path, exc)
    detail = "数据库暂时不可用，请稍后重试。 The database is unavailable; try again later."
    if is_api_request(request):
        body = {
            "type": "urn:creditbridge:error:CB-DATABASE-UNAVAILABLE",
            "title": "数据库暂时不可用",
            "status": 503,
            "detail": detail,
            "code": "CB-DATABASE-UNAVAILABLE",
        }
        return problem_response(request, body, 503, {"Retry-After": "30"})
    return _error_page(
        request,
        status_code=503,
        code="CB-DATABASE-UNAVAILABLE",
        detail="",
        headers={"Retry-After": "30"},
    )


def unexpected_error(request: Request, exc: Exception) -> Response:
    # Called by Starlette outside the except block, so the exception is passed explicitly.
    logger.error("unhandled error serving %s %s", request.method, request.url.path, exc_info=exc)
    if is_api_request(request):
        body = {
            "type": "urn:creditbridge:error:CB-INTERNAL",
            "title": "系统内部错误",
            "status": 500,
            "detail": "internal error; the platform has logged it",
            "code": "CB-INTERNAL",
        }
        return problem_response(request, body, 500)
    try:
        return _error_page(request, status_code=500, code="CB-INTERNAL", detail="")
    except Exception:  # the error page itself failed; answer with something rather than nothing
        logger.exception("error page failed to render")
        return PlainTextResponse("系统内部错误 Internal error", status_code=500)


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(DomainError, domain_error)
    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_exception_handler(StarletteHTTPException, http_error)
    app.add_exception_handler(BodyLimitExceeded, body_too_large)
    app.add_exception_handler(OperationalError, database_error)
    app.add_exception_handler(Exception, unexpected_error)
