"""HTML pages of the collection metrics (归集率): the dashboard, the drill-down (list → dataset →
city → provider → batch), the overdue list per provider and the Excel export. Operators only;
the pages read the stored metrics and never compute them (``creditbridge collection compute``)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import HTMLResponse, Response

from creditbridge.core.actors import Actor, Role
from creditbridge.ingest import metrics
from creditbridge.reference import divisions
from creditbridge.web.auth import require_roles
from creditbridge.web.deps import ReadSession
from creditbridge.web.templating import render

router = APIRouter(prefix="/collection", include_in_schema=False)

Operator = Annotated[Actor, Depends(require_roles(Role.OPERATOR))]
MonthParam = Annotated[str | None, Query(pattern=r"^[0-9]{4}-(0[1-9]|1[0-2])$")]
DatasetCode = Annotated[str, Path(pattern=r"^[a-z][a-z0-9_]*$", max_length=64)]
CityCode = Annotated[str, Path(pattern=r"^[0-9]{6}$")]


def _month(session: ReadSession, month: str | None) -> tuple[str | None, list[str]]:
    months = metrics.list_months(session)
    return (month or (months[0] if months else None)), months


def _pct(value: float | None) -> float | None:
    return None if value is None else round(value * 100, 1)


def _charts(overview: metrics.Overview, trend: list[tuple[str, float]]) -> dict[str, Any]:
    measured = [d for d in overview.datasets if d.figures.rows]
    return {
        "datasets": {
            "names": [d.name_zh for d in measured],
            "values": [_pct(d.figures.timeliness) for d in measured],
            "coverage": [_pct(d.figures.coverage) for d in measured],
            "completeness": [_pct(d.figures.completeness) for d in measured],
            "seriesName": "及时率 %",
        },
        "cities": {
            "names": [c.name for c in overview.cities],
            "values": [_pct(c.rate) for c in overview.cities],
            "seriesName": "归集率 %",
        },
        "trend": {
            "names": [m for m, _ in trend],
            "values": [_pct(r) for _, r in trend],
            "seriesName": "归集率 %",
            "target": 100,
        },
    }


def _bar(request: Request) -> metrics.CollectionBar:
    return metrics.CollectionBar.from_settings(request.app.state.settings.collection)


@router.get("", name="collection:dashboard")
def dashboard(
    request: Request, session: ReadSession, actor: Operator, month: MonthParam = None
) -> HTMLResponse:
    chosen, months = _month(session, month)
    bar = _bar(request)
    region = actor.division_code
    overview = (
        metrics.get_overview(session, month=chosen, bar=bar, division_code=region)
        if chosen
        else None
    )
    trend = (
        metrics.get_trend(session, bar=bar, division_code=region)
        if overview and not overview.is_empty
        else []
    )
    return render(
        request,
        "collection/dashboard.html",
        month=chosen,
        months=months,
        overview=overview,
        charts=_charts(overview, trend) if overview and not overview.is_empty else {},
        shortfall_zh=metrics.SHORTFALL_ZH,
        region=_region(actor),
    )


def _region(actor: Actor) -> dict[str, Any] | None:
    """What the page says about the operator's division: its name, and whether the figures are
    its city's (a county operator; metrics are per city)."""
    if actor.division_code is None:
        return None
    return {
        "code": actor.division_code,
        "name": divisions.name(actor.division_code) or actor.division_code,
        "city_wide": divisions.division_level(actor.division_code) == "county",
    }


@router.get("/datasets/{code}", name="collection:dataset")
def dataset_page(
    request: Request, session: ReadSession, actor: Operator, code: DatasetCode,
    month: MonthParam = None,
) -> HTMLResponse:  # fmt: skip
    chosen, months = _month(session, month)
    bar = _bar(request)
    dataset, cities = metrics.get_dataset_by_city(
        session, month=chosen or "", dataset_code=code, bar=bar, division_code=actor.division_code
    )
    return render(
        request, "collection/dataset.html", month=chosen, months=months, dataset=dataset,
        cities=cities, bar=bar, region=_region(actor),
    )  # fmt: skip


@router.get("/datasets/{code}/cities/{city}", name="collection:city")
def city_page(
    request: Request, session: ReadSession, actor: Operator, code: DatasetCode, city: CityCode,
    month: MonthParam = None,
) -> HTMLResponse:  # fmt: skip
    chosen, months = _month(session, month)
    lines = metrics.get_city_providers(
        session, month=chosen or "", dataset_code=code, city_code=city,
        division_code=actor.division_code,
    )  # fmt: skip
    batches = {
        line.provider_id: metrics.list_month_batches(
            session, month=chosen or "", dataset_code=code, provider_id=line.provider_id
        )
        for line in lines
    }
    return render(
        request, "collection/city.html", month=chosen, months=months, code=code, city=city,
        city_name=metrics.city_name(city), lines=lines, batches=batches,
    )  # fmt: skip


@router.get("/overdue", name="collection:overdue")
def overdue_page(
    request: Request, session: ReadSession, actor: Operator, month: MonthParam = None
) -> HTMLResponse:
    chosen, months = _month(session, month)
    providers = (
        metrics.list_overdue(session, month=chosen, division_code=actor.division_code)
        if chosen
        else []
    )
    return render(
        request, "collection/overdue.html", month=chosen, months=months, providers=providers,
        region=_region(actor),
    )  # fmt: skip


@router.get("/export.xlsx", name="collection:export")
def export_xlsx(session: ReadSession, actor: Operator, month: MonthParam = None) -> Response:
    chosen, _ = _month(session, month)
    data = metrics.export_xlsx(
        session, months=[chosen] if chosen else [], division_code=actor.division_code
    )
    return Response(
        data,
        media_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        headers={
            "Content-Disposition": f'attachment; filename="collection-{chosen or "empty"}.xlsx"'
        },
    )
