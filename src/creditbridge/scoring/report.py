"""The validation report of a model (模型验证报告): the figures stored by ``validate`` drawn as
ECharts options (built here, so the page's script only hands them to ECharts) and tables.

The same body serves the page (/scoring/models/{version}) and the standalone HTML file the CLI
writes, which inlines ECharts so it opens without the server.
"""

from __future__ import annotations

import itertools
from functools import partial
from typing import Any, Final

from creditbridge.presentation import i18n
from creditbridge.presentation.templating import STATIC_DIR, environment
from creditbridge.scoring.models import ScoringModel
from creditbridge.scoring.schemas import grade_config, indicator_config

STATIC: Final = STATIC_DIR
BLUE, TEAL, GOLD, RED = "#0b4aa2", "#13837a", "#d39b13", "#c2410c"


def _axis(name: str, data: list[Any] | None = None) -> dict[str, Any]:
    axis: dict[str, Any] = {"type": "category" if data is not None else "value", "name": name}
    if data is not None:
        axis["data"] = data
    return axis


def chart_options(metrics: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """ECharts options per chart id."""
    charts: dict[str, dict[str, Any]] = {}
    grades = metrics.get("by_grade") or []
    if grades:
        charts["grades"] = {
            "tooltip": {"trigger": "axis"},
            "legend": {"data": ["企业数 count", "违约率 default rate"]},
            "xAxis": _axis("等级", [g["grade"] for g in grades]),
            "yAxis": [_axis("企业数"), {"type": "value", "name": "违约率", "axisLabel": {}}],
            "series": [
                {"name": "企业数 count", "type": "bar", "data": [g["count"] for g in grades],
                 "itemStyle": {"color": BLUE}},
                {"name": "违约率 default rate", "type": "line", "yAxisIndex": 1,
                 "data": [None if g["bad_rate"] is None else round(g["bad_rate"], 4) for g in grades],
                 "itemStyle": {"color": RED}},
            ],
        }  # fmt: skip
    lift = metrics.get("lift") or []
    if lift:
        charts["lift"] = {
            "tooltip": {"trigger": "axis"},
            "legend": {"data": ["提升度 lift", "累计捕获率 capture"]},
            "xAxis": _axis("十分位（风险由高到低）", [r["decile"] for r in lift]),
            "yAxis": [_axis("提升度"), {"type": "value", "name": "捕获率", "max": 1}],
            "series": [
                {"name": "提升度 lift", "type": "bar", "data": [round(r["lift"], 3) for r in lift],
                 "itemStyle": {"color": TEAL}},
                {"name": "累计捕获率 capture", "type": "line", "yAxisIndex": 1,
                 "data": [round(r["cumulative_capture"], 3) for r in lift],
                 "itemStyle": {"color": GOLD}},
            ],
        }  # fmt: skip
    calibration = metrics.get("calibration") or []
    if calibration:
        charts["calibration"] = {
            "tooltip": {"trigger": "axis"},
            "legend": {"data": ["预测 predicted", "实际 observed"]},
            "xAxis": _axis("十分位", [r["decile"] for r in calibration]),
            "yAxis": _axis("违约率"),
            "series": [
                {"name": "预测 predicted", "type": "line",
                 "data": [round(r["predicted"], 4) for r in calibration], "itemStyle": {"color": BLUE}},
                {"name": "实际 observed", "type": "line",
                 "data": [round(r["observed"], 4) for r in calibration], "itemStyle": {"color": RED}},
            ],
        }  # fmt: skip
    distribution = metrics.get("distribution") or {}
    if distribution.get("counts"):
        edges = distribution["edges"]
        charts["distribution"] = {
            "tooltip": {"trigger": "axis"},
            "xAxis": _axis("分数", [f"{a}–{b}" for a, b in itertools.pairwise(edges)]),
            "yAxis": _axis("企业数"),
            "series": [
                {"type": "bar", "data": distribution["counts"], "itemStyle": {"color": BLUE}}
            ],
        }
    iv = metrics.get("iv") or []
    if iv:
        names = {s.code: s.name_zh for s in indicator_config().indicators}
        ordered = list(reversed(iv))
        charts["iv"] = {
            "tooltip": {"trigger": "axis"},
            "grid": {"left": 8, "right": 32, "containLabel": True},
            "xAxis": _axis("IV"),
            "yAxis": _axis("", [names.get(r["code"], r["code"]) for r in ordered]),
            "series": [
                {"type": "bar", "data": [round(float(r["iv"]), 4) for r in ordered],
                 "itemStyle": {"color": TEAL}},
            ],
        }  # fmt: skip
    return charts


# What a report shows when a figure was not computed (a challenger stores rank figures only).
_EMPTY: Final[dict[str, Any]] = {
    "as_of": None, "n": None, "n_bad": None, "auc": None, "ks": None, "gini": None, "psi": None,
    "monotone": None, "failures": [], "challenger": None, "by_grade": [], "lift": [],
    "calibration": [], "iv": [], "bin_tables": {}, "points": {}, "distribution": {},
}  # fmt: skip


def report_context(model: ScoringModel) -> dict[str, Any]:
    names = {s.code: s.name_zh for s in indicator_config().indicators}
    return {
        "model": model,
        "m": {**_EMPTY, **model.metrics} if model.metrics else {},
        "rules": grade_config().validation,
        "names": names,
        "charts": chart_options(model.metrics),
    }


def render_report(model: ScoringModel, *, standalone: bool, lang: str = "zh") -> str:
    """The report as a complete HTML document (``standalone``: ECharts inlined, no server)."""

    context = report_context(model)
    context.update(
        lang=lang,
        t=partial(i18n.translate, lang),  # type: ignore[arg-type]
        pick=partial(i18n.pick, lang),  # type: ignore[arg-type]
        echarts_js=(STATIC / "vendor" / "echarts.min.js").read_text(encoding="utf-8")
        if standalone
        else "",
        scoring_js=(STATIC / "js" / "scoring.js").read_text(encoding="utf-8") if standalone else "",
        bootstrap_css=(STATIC / "vendor" / "bootstrap.min.css").read_text(encoding="utf-8")
        if standalone
        else "",
    )
    return environment.get_template("scoring/report_standalone.html").render(context)
