"""What the marketplace pages share: the role aliases, redirects and the parsing of typed amounts,
rates and terms into the units the service takes."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Annotated, Any, Final, TypeVar

from fastapi import Depends, Path, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.orm import Session
from starlette.routing import NoMatchFound

from creditbridge.core import types
from creditbridge.core.actors import Actor, Role
from creditbridge.core.config import Settings
from creditbridge.core.errors import Conflict, Issue, ValidationFailed
from creditbridge.core.types import FEN_MAX
from creditbridge.marketplace import domain
from creditbridge.presentation import exports
from creditbridge.presentation.errors import explain, keyed_issue
from creditbridge.presentation.listing import ListQuery, Sort
from creditbridge.web.auth import require_roles
from creditbridge.web.templating import language

Id = Annotated[types.Id, Path()]
Enterprise = Annotated[Actor, Depends(require_roles(Role.ENTERPRISE_USER))]
Officer = Annotated[Actor, Depends(require_roles(Role.INSTITUTION_OFFICER))]
Operator = Annotated[Actor, Depends(require_roles(Role.OPERATOR))]
Anyone = Annotated[
    Actor,
    Depends(require_roles(Role.ENTERPRISE_USER, Role.INSTITUTION_OFFICER, Role.OPERATOR)),
]
Watcher = Annotated[Actor, Depends(require_roles(Role.INSTITUTION_OFFICER, Role.OPERATOR))]
MAX_UPLOAD: Final = 5 * 1024 * 1024


def _redirect(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)


def _response_days(request: Request) -> int:
    """Working days an institution has to answer, as this app is configured."""
    settings: Settings = request.app.state.settings
    return settings.market_response_days


def _path_or_none(request: Request, name: str, **params: str) -> str | None:
    """The route's path, or None while the module that serves it is not installed."""
    try:
        return str(request.app.url_path_for(name, **params))
    except NoMatchFound:
        return None


def _fen(raw: str, name: str, issues: list[Issue]) -> int:
    """万元 as typed → fen."""
    try:
        value = Decimal(raw.strip().replace(",", ""))
        # quantize raises on 1E+30 (more digits than the context holds): keep it in the try.
        fits = value.is_finite() and 0 < value * domain.WAN_FEN <= FEN_MAX
        fits = fits and value == value.quantize(Decimal("0.000001"))
    except ArithmeticError:  # InvalidOperation, and Overflow of 1E+999999 × 10^6
        fits = False
    if not fits:
        issues.append(keyed_issue("CB-FORM-AMOUNT", "error.marketplace.form_amount", field=name))
        return 0
    return int(value * domain.WAN_FEN)


def _bp(raw: str, name: str, issues: list[Issue], *, required: bool = True) -> int | None:
    """A rate typed in % → basis points."""
    if not raw.strip() and not required:
        return None
    try:
        value = Decimal(raw.strip())
        fits = value.is_finite() and 0 < value <= 1000 and value == value.quantize(Decimal("0.01"))
    except ArithmeticError:  # InvalidOperation, and Overflow of 1E+999999 × 10^6
        fits = False
    if not fits:
        issues.append(keyed_issue("CB-FORM-RATE", "error.marketplace.form_rate", field=name))
        return None
    return int(value * 100)


def _months(raw: str, name: str, issues: list[Issue]) -> int:
    text = raw.strip()
    if not text.isdigit() or not 1 <= int(text) <= 360:
        issues.append(keyed_issue("CB-FORM-TERM", "error.marketplace.form_term", field=name))
        return 0
    return int(text)


# --- Lending: refusals on the form, exports, list filters ------------------------------------

T = TypeVar("T")
REFUSALS: Final = (ValidationFailed, Conflict)
"""Refusals a form answers on its own page (422/409) with the user's input kept; NotFound and
Forbidden still answer the error page (there is no form to go back to)."""


def _in_savepoint(session: Session, call: Callable[[], T]) -> T:
    """``call()`` inside a savepoint: when the service refuses, whatever it had already flushed
    is undone before the handler answers the form again — the request's transaction still
    commits (the handler returns normally), and nothing half-written may go with it."""
    savepoint = session.begin_nested()
    try:
        result = call()
    except REFUSALS:
        savepoint.rollback()
        raise
    savepoint.commit()
    return result


def _errors_by_field(issues: Iterable[Issue]) -> dict[str, list[Issue]]:
    """Issues by the form field they belong to ("" for the form as a whole)."""
    out: dict[str, list[Issue]] = {}
    for issue in issues:
        out.setdefault(issue.field or "", []).append(issue)
    return out


def _export(
    name: str, fmt: str, headers: Sequence[str], rows: Iterable[Sequence[object]]
) -> Response:
    """A list as CSV (UTF-8 with BOM, so Excel reads the Chinese) or XLSX, written by
    :mod:`creditbridge.presentation.exports` (every cell made safe: no live formulas)."""
    if fmt == "xlsx":
        body = exports.xlsx_bytes(headers, rows)
        media = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    else:
        fmt, body, media = "csv", exports.csv_bytes(headers, rows), "text/csv; charset=utf-8"
    return Response(
        body,
        media_type=media,
        headers={"Content-Disposition": f'attachment; filename="{name}.{fmt}"'},
    )


def _explain_issues(
    request: Request, errors: dict[str, list[str]], issues: Iterable[Issue]
) -> None:
    """Each issue's message, in the request's language, added under the form field it belongs
    to ("" for the form as a whole): how a refused form keeps the user's input and says what to
    change, field by field."""
    lang = language(request)
    for issue in issues:
        errors.setdefault(issue.field or "", []).append(explain(lang, issue))


@dataclass(frozen=True)
class Criteria:
    """What a lending list is filtered by, read leniently from its query: a value that does not
    parse is ignored (a list link is edited and shared; ?amount_min=abc shows the whole list)."""

    status: str | None = None
    region: str | None = None
    industry: str | None = None
    amount_min_fen: int | None = None
    amount_max_fen: int | None = None
    grade: str | None = None
    date_from: date | None = None
    date_to: date | None = None

    def keeps(
        self,
        *,
        status: str | None = None,
        division_code: str | None = None,
        industry_section: str | None = None,
        amount_fen: int | None = None,
        grade: str | None = None,
        day: date | None = None,
    ) -> bool:
        """Whether a row with these values passes every filter set."""
        checks = [
            self.status is None or status == self.status,
            self.region is None
            or (division_code is not None and domain.in_region(division_code, [self.region])),
            self.industry is None or industry_section == self.industry,
            self.amount_min_fen is None
            or (amount_fen is not None and amount_fen >= self.amount_min_fen),
            self.amount_max_fen is None
            or (amount_fen is not None and amount_fen <= self.amount_max_fen),
            self.grade is None or domain.grade_rank(grade) >= domain.grade_rank(self.grade),
            self.date_from is None or (day is not None and day >= self.date_from),
            self.date_to is None or (day is not None and day <= self.date_to),
        ]
        return all(checks)


CRITERIA: Final = (
    "status",
    "region",
    "industry",
    "amount_min",
    "amount_max",
    "grade",
    "date_from",
    "date_to",
)


def _wan_or_none(raw: str | None) -> int | None:
    if not raw:
        return None
    issues: list[Issue] = []
    fen = _fen(raw, "amount", issues)
    return None if issues else fen


def _day_or_none(raw: str | None) -> date | None:
    try:
        return date.fromisoformat(raw) if raw else None
    except ValueError:
        return None


def _criteria(query: ListQuery) -> Criteria:
    region = query.filter("region")
    grade = query.filter("grade")
    industry = query.filter("industry")
    return Criteria(
        status=query.filter("status"),
        region=region if region and region.isdigit() and len(region) == 6 else None,
        industry=industry if industry in domain.INDUSTRY_SECTIONS else None,
        amount_min_fen=_wan_or_none(query.filter("amount_min")),
        amount_max_fen=_wan_or_none(query.filter("amount_max")),
        grade=grade if grade in domain.GRADES else None,
        date_from=_day_or_none(query.filter("date_from")),
        date_to=_day_or_none(query.filter("date_to")),
    )


def _sorted(rows: list[T], sort: Sort | None, keys: Mapping[str, Callable[[T], Any]]) -> list[T]:
    """``rows`` in the order of a whitelisted sort column; rows without a value go last."""
    if sort is None or sort.column not in keys:
        return rows
    key = keys[sort.column]
    present = [r for r in rows if key(r) is not None]
    missing = [r for r in rows if key(r) is None]
    return sorted(present, key=key, reverse=sort.descending) + missing
