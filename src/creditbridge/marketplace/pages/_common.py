"""What the marketplace pages share: the role aliases, redirects and the parsing of typed amounts,
rates and terms into the units the service takes."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Final

from fastapi import Depends, Path, Request
from fastapi.responses import RedirectResponse
from starlette.routing import NoMatchFound

from creditbridge.core import types
from creditbridge.core.actors import Actor, Role
from creditbridge.core.config import Settings
from creditbridge.core.errors import Issue
from creditbridge.core.types import FEN_MAX
from creditbridge.marketplace import domain
from creditbridge.presentation.errors import keyed_issue
from creditbridge.web.auth import require_roles

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
