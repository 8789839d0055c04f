"""The home dashboard and the landing pages of the three areas."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from creditbridge.web.areas import AREAS_BY_KEY, AreaKey, area_figures
from creditbridge.web.dashboard import build_dashboard
from creditbridge.web.deps import ReadSession
from creditbridge.web.templating import language, render

router = APIRouter(include_in_schema=False)


@router.get("/", name="home:dashboard")
def dashboard(request: Request, session: ReadSession) -> HTMLResponse:
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
