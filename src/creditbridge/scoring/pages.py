"""HTML pages of scoring: the enterprise's own score with what would raise it (信用培育), the
institution's lookup under consent, the operator's distribution by city and industry with the
model registry, and each model's validation report."""

from __future__ import annotations

import itertools
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Path, Query, Request
from fastapi.responses import HTMLResponse

from creditbridge.catalog import service as catalog_service
from creditbridge.consent import service as consent_service
from creditbridge.consent.domain import Purpose
from creditbridge.core import types
from creditbridge.core.actors import Actor, Role
from creditbridge.scoring import report, service
from creditbridge.scoring.domain import GRADES
from creditbridge.scoring.errors import ScoreNotFound
from creditbridge.scoring.schemas import grade_config
from creditbridge.subjects import service as subjects_service
from creditbridge.web.auth import require_roles
from creditbridge.web.deps import ReadSession, WriteSession
from creditbridge.web.templating import render

router = APIRouter(include_in_schema=False)

Enterprise = Annotated[Actor, Depends(require_roles(Role.ENTERPRISE_USER))]
Officer = Annotated[Actor, Depends(require_roles(Role.INSTITUTION_OFFICER))]
Operator = Annotated[Actor, Depends(require_roles(Role.OPERATOR))]


def _category_names() -> list[str]:
    """The consent categories a score needs, as the catalog names them (Chinese)."""
    known = catalog_service.bundled_catalog().categories
    return [known[c].zh if c in known else c for c in service.SCORE_CATEGORIES]


def _grade_names() -> dict[str, str]:
    return {g.grade: g.zh for g in grade_config().grades}


def _history_chart(explanation: service.Explanation) -> dict[str, Any]:
    points = [(at, score) for at, score, _ in explanation.history if score is not None]
    return {
        "history": {
            "tooltip": {"trigger": "axis"},
            "grid": {"left": 8, "right": 16, "top": 16, "bottom": 8, "containLabel": True},
            "xAxis": {"type": "category", "data": [at.strftime("%Y-%m-%d %H:%M") for at, _ in points]},
            "yAxis": {"type": "value", "scale": True},
            "series": [{"type": "line", "data": [s for _, s in points], "itemStyle": {"color": "#0b4aa2"}}],
        }
    }  # fmt: skip


@router.get("/enterprise/credit-score", name="scoring:mine")
def my_score(request: Request, session: WriteSession, actor: Enterprise) -> HTMLResponse:
    assert actor.subject_id is not None
    try:
        explanation = service.explain(session, actor, subject_id=actor.subject_id)
    except ScoreNotFound:
        explanation = None
    return render(
        request,
        "scoring/mine.html",
        e=explanation,
        grade_names=_grade_names(),
        charts=_history_chart(explanation) if explanation else {},
    )


@router.get("/institution/credit-score", name="scoring:lookup")
def lookup_form(
    request: Request,
    session: ReadSession,
    actor: Officer,
    consent_id: Annotated[types.Id | None, Query()] = None,
) -> HTMLResponse:
    return render(
        request,
        "scoring/lookup.html",
        form={"uscc": "", "purpose": Purpose.LOAN_APPLICATION.value, "consent_id": consent_id},
        purposes=list(Purpose),
        consents=consent_service.list_for_institution(session, actor),
        categories=_category_names(),
        result=None,
        subject=None,
        grade_names=_grade_names(),
    )


@router.post("/institution/credit-score", name="scoring:lookup_submit")
def lookup_submit(
    request: Request,
    session: WriteSession,
    actor: Officer,
    uscc: Annotated[str, Form(max_length=40)],
    purpose: Annotated[str, Form(max_length=32)],
    consent_id: Annotated[str, Form(max_length=20)] = "",
) -> HTMLResponse:
    cited = int(consent_id) if consent_id.strip().isdigit() else None
    subject = subjects_service.get_subject_by_uscc_or_raise(session, uscc.strip().upper())
    result = service.explain(
        session, actor, subject_id=subject.id, consent_id=cited, purpose=purpose
    )
    return render(
        request,
        "scoring/lookup.html",
        form={"uscc": subject.uscc, "purpose": purpose, "consent_id": cited},
        purposes=list(Purpose),
        consents=consent_service.list_for_institution(session, actor),
        categories=_category_names(),
        result=result,
        subject=subject,
        grade_names=_grade_names(),
    )


def _stacked(groups: list[service.GroupRow]) -> dict[str, Any]:
    colors = [
        "#0b4aa2",
        "#1f7ad8",
        "#5b9be6",
        "#13837a",
        "#5fb3a9",
        "#d39b13",
        "#e07b39",
        "#c2410c",
        "#7f1d1d",
    ]
    return {
        "tooltip": {"trigger": "axis", "axisPointer": {"type": "shadow"}},
        "legend": {"data": list(GRADES), "top": 0},
        "grid": {"left": 8, "right": 16, "top": 32, "bottom": 8, "containLabel": True},
        "xAxis": {"type": "value"},
        "yAxis": {"type": "category", "data": [g.name for g in groups][::-1]},
        "series": [
            {"name": grade, "type": "bar", "stack": "grades", "itemStyle": {"color": colors[i]},
             "data": [g.grades.get(grade, 0) for g in groups][::-1]}
            for i, grade in enumerate(GRADES)
        ],
    }  # fmt: skip


@router.get("/operator/scoring", name="scoring:overview")
def overview(request: Request, session: WriteSession, actor: Operator) -> HTMLResponse:
    result = service.distribution(session, actor)
    runs = service.list_runs(session)
    charts: dict[str, Any] = {}
    if result.run_id is not None:
        charts["cities"] = _stacked(result.by_city)
        charts["industries"] = _stacked(result.by_industry)
        edges = result.histogram["edges"]
        charts["histogram"] = {
            "tooltip": {"trigger": "axis"},
            "grid": {"left": 8, "right": 16, "top": 16, "bottom": 8, "containLabel": True},
            "xAxis": {"type": "category", "data": [f"{a}–{b}" for a, b in itertools.pairwise(edges)]},
            "yAxis": {"type": "value"},
            "series": [{"type": "bar", "data": result.histogram["counts"], "itemStyle": {"color": "#0b4aa2"}}],
        }  # fmt: skip
    return render(
        request,
        "scoring/overview.html",
        d=result,
        grades=GRADES,
        grade_names=_grade_names(),
        models=service.list_models(session),
        runs=runs,
        versions=service.model_versions(session, [r.model_id for r in runs]),
        charts=charts,
    )


@router.get("/operator/scoring/models/{version}", name="scoring:model")
def model_report(
    request: Request,
    session: ReadSession,
    actor: Operator,
    version: Annotated[str, Path(max_length=64)],
) -> HTMLResponse:
    model = service.get_model_or_raise(session, version)
    return render(request, "scoring/model.html", **report.report_context(model))
