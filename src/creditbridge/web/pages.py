"""The home of each role, the public landing, the operator's dashboard and the three area pages."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse

from creditbridge.core.actors import Actor, Role
from creditbridge.web.areas import AREAS_BY_KEY, AreaKey, area_figures
from creditbridge.web.auth import get_actor, require_roles
from creditbridge.web.dashboard import build_dashboard
from creditbridge.web.deps import ReadSession
from creditbridge.web.homes import build_home, build_landing
from creditbridge.web.templating import language, render

router = APIRouter(include_in_schema=False)

Operator = Annotated[Actor, Depends(require_roles(Role.OPERATOR))]


@router.get("/", name="home:dashboard")
def home(request: Request, session: ReadSession) -> HTMLResponse:
    """The signed-in user's home (工作台); a visitor gets the public landing page."""
    actor = get_actor(request)
    if actor is None:
        return render(request, "home/landing.html", landing=build_landing(session))
    home = build_home(session, actor, settings=request.app.state.settings)
    return render(request, home.template, role=actor.role.value if actor.role else "", **home.data)


@router.get("/operator/dashboard", name="home:operator_dashboard")
def operator_dashboard(request: Request, session: ReadSession, actor: Operator) -> HTMLResponse:
    board = build_dashboard(session, settings=request.app.state.settings)
    return render(
        request, "home/dashboard.html", board=board, charts=board.charts(language(request))
    )


def _area_page(request: Request, session: ReadSession, key: AreaKey) -> HTMLResponse:
    return render(
        request,
        "home/area.html",
        area=AREAS_BY_KEY[key],
        figures=area_figures(session, key),
    )


@router.get("/operator", name="area:operator")
def operator_area(request: Request, session: ReadSession) -> HTMLResponse:
    return _area_page(request, session, "operator")


@router.get("/institution", name="area:institution")
def institution_area(request: Request, session: ReadSession) -> HTMLResponse:
    return _area_page(request, session, "institution")


@router.get("/enterprise", name="area:enterprise")
def enterprise_area(request: Request, session: ReadSession) -> HTMLResponse:
    return _area_page(request, session, "enterprise")
