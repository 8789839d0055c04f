"""`creditbridge scoring`: credit evaluation: snapshot, train, validate, approve, run, show."""

from __future__ import annotations

import time
from datetime import date
from pathlib import Path
from typing import Annotated

import orjson
import typer

from creditbridge.cli import scorecard
from creditbridge.cli.context import fail, friendly_errors, transaction
from creditbridge.core.actors import CONSOLE
from creditbridge.core.config import get_settings
from creditbridge.scoring import service
from creditbridge.scoring.errors import TrainingRefused

app = typer.Typer(
    help="信用评价 Credit evaluation: snapshot, train, validate, approve, run, show.",
    no_args_is_help=True,
)

RootOption = Annotated[
    Path | None,
    typer.Option(
        "--dir",
        help="folder of the analytics snapshot and reports "
        "[default: <data dir>/analytics/scoring, beside the SQLite file]",
    ),
]


def lab_folder(root: Path | None) -> Path:
    """``--dir``, or the node's own: under its data directory, never the working directory."""
    return root or get_settings().analytics_root / "scoring"


@app.command("snapshot")
@friendly_errors
def snapshot(
    root: RootOption = None,
    as_of: Annotated[
        str | None, typer.Option("--as-of", help="as-of day YYYY-MM-DD (default today)")
    ] = None,
) -> None:
    """Export the store to the Parquet snapshot the indicators read. 导出分析快照。"""
    day = date.fromisoformat(as_of) if as_of else None
    started = time.perf_counter()
    with transaction() as session:
        snap = service.take_snapshot(session, CONSOLE, root=lab_folder(root), as_of=day)
    typer.echo(
        f"快照 snapshot {snap.folder} as of {snap.as_of}: {snap.rows.get('subject', 0)} 企业, "
        f"{sum(v for k, v in snap.rows.items() if k not in ('subject', 'loan', 'param', 'coverage'))}"
        f" 条记录, {snap.rows.get('loan', 0)} 笔贷款 in {time.perf_counter() - started:.1f} s"
    )


@app.command("train")
@friendly_errors
def train(
    root: RootOption = None,
    kind: Annotated[
        str, typer.Option("--kind", help="all | expert | scorecard (scorecard adds LightGBM)")
    ] = "all",
) -> None:
    """Register the expert scorecard and train the statistical scorecard and LightGBM
    challenger on loan outcomes, as drafts. 训练模型。"""
    if kind not in ("all", "expert", "scorecard"):
        raise fail("--kind must be all, expert or scorecard", 2)
    started = time.perf_counter()
    if kind in ("all", "expert"):
        with transaction() as session:
            model = service.register_expert(session, CONSOLE, root=lab_folder(root))
            typer.echo(
                f"专家评分卡 expert draft {model.version} (cut-offs {model.spec['cutoffs_from']})"
            )
    if kind in ("all", "scorecard"):
        try:
            with transaction() as session:
                card, challenger = service.train_scorecard(session, CONSOLE, root=lab_folder(root))
                selected = [r["code"] for r in card.spec["iv"] if r["selected"]]
                typer.echo(
                    f"统计评分卡 scorecard draft {card.version}: {len(selected)} 个指标 "
                    f"({', '.join(selected)}); {card.spec['train_rows']} 样本 / "
                    f"{card.spec['train_bad']} 坏"
                )
                typer.echo(
                    f"挑战者 challenger {challenger.version}: hold-out AUC "
                    f"{_fmt(challenger.metrics.get('auc'))} KS {_fmt(challenger.metrics.get('ks'))}"
                )
        except TrainingRefused as exc:
            typer.echo(f"拒绝训练 training refused [{exc.code}]: {exc.message}", err=True)
            raise typer.Exit(1) from exc
    typer.echo(f"完成 done in {time.perf_counter() - started:.1f} s")


def _fmt(value: object) -> str:
    return "—" if value is None else f"{float(value):.3f}"  # type: ignore[arg-type]


@app.command("validate")
@friendly_errors
def validate(
    version: Annotated[
        str | None, typer.Argument(help="model version; every draft when omitted")
    ] = None,
    root: RootOption = None,
    report: Annotated[
        bool, typer.Option("--report/--no-report", help="write the HTML validation report")
    ] = True,
) -> None:
    """Validate scorecards on the snapshot's hold-out sample and write the HTML report (AUC, KS,
    Gini, lift, grades, calibration, PSI, IV, bins). 模型验证。"""
    from creditbridge.scoring import report as report_module

    with transaction() as session:
        if version:
            models = [service.get_model_or_raise(session, version)]
        else:
            models = [
                m
                for m in service.list_models(session)
                if m.status == "draft" and m.kind != "lightgbm"
            ]
        if not models:
            raise fail("没有待验证的模型 no draft to validate (run creditbridge scoring train)")
        for model in models:
            model = service.validate(session, CONSOLE, version=model.version, root=lab_folder(root))
            m = model.metrics
            verdict = (
                "通过 passed"
                if not m.get("failures")
                else "未通过 failed: " + "；".join(m["failures"])
            )
            typer.echo(
                f"{model.version}: AUC {_fmt(m.get('auc'))} KS {_fmt(m.get('ks'))} "
                f"Gini {_fmt(m.get('gini'))} PSI {_fmt(m.get('psi'))} "
                f"n={m.get('n')} bad={m.get('n_bad')} — {verdict}"
            )
            if report:
                path = lab_folder(root) / "reports" / f"{model.version}.html"
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(report_module.render_report(model, standalone=True), "utf-8")
                typer.echo(f"  报告 report: {path}")


@app.command("approve")
@friendly_errors
def approve(
    version: Annotated[str | None, typer.Argument(help="model version")] = None,
    kind: Annotated[
        str | None, typer.Option("--kind", help="approve the latest draft of this kind")
    ] = None,
) -> None:
    """Approve a validated model that passes the thresholds (retires the one it replaces). 批准模型。"""
    with transaction() as session:
        if version is None:
            if kind is None:
                raise fail("give a VERSION or --kind expert|scorecard", 2)
            version = service.latest_draft(session, kind).version
        model = service.approve(session, CONSOLE, version=version)
        typer.echo(f"已批准 approved {model.version} ({model.kind}, {model.purpose})")


@app.command("retire")
@friendly_errors
def retire(version: Annotated[str, typer.Argument(help="model version")]) -> None:
    """Retire a model: it scores no more. 停用模型。"""
    with transaction() as session:
        model = service.retire(session, CONSOLE, version=version)
        typer.echo(f"已停用 retired {model.version}")


@app.command("run")
@friendly_errors
def run(root: RootOption = None) -> None:
    """Score every enterprise with every approved model and store the scores. 批量评分。"""
    started = time.perf_counter()
    with transaction() as session:
        results = service.run(session, CONSOLE, root=lab_folder(root))
        for result in results:
            r = result.run
            psi = r.psi.get("score") if r.psi else None
            typer.echo(
                f"{result.model_version}: run {r.id} — {r.scored} 评分 scored, {r.insufficient} "
                f"数据不足 insufficient; scoring {result.seconds_scoring * 1000:.0f} ms; "
                f"score PSI {_fmt(psi)}"
            )
            for alert in result.psi_alerts:
                typer.echo(f"  ⚠ 稳定性预警 PSI alert: {alert}")
    typer.echo(f"完成 done in {time.perf_counter() - started:.1f} s")


@app.command("models")
@friendly_errors
def models() -> None:
    """List the model registry. 模型库。"""
    with transaction() as session:
        for m in service.list_models(session):
            typer.echo(
                f"{m.version:40s} {m.kind:9s} {m.purpose:7s} {m.status:8s} "
                f"AUC {_fmt(m.metrics.get('auc'))} KS {_fmt(m.metrics.get('ks'))}"
            )


@app.command("export-sql")
@friendly_errors
def export_sql(version: Annotated[str, typer.Argument(help="model version")]) -> None:
    """Print the scorecard as SQL CASE expressions over a table `indicator`. 导出评分卡 SQL。"""
    with transaction() as session:
        typer.echo(service.export_sql(session, version=version))


@app.command("show")
@friendly_errors
def show(
    code: Annotated[str, typer.Argument(help="unified social credit code (USCC)")],
    as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False,
) -> None:
    """Show an enterprise's current score, grade and reasons. 查看企业信用评价。"""
    with transaction() as session:
        view = service.get_score_by_uscc(session, CONSOLE, uscc=code.strip().upper())
    if as_json:
        typer.echo(orjson.dumps(view.as_dict(), option=orjson.OPT_INDENT_2).decode())
        return
    if view.insufficient_data:
        typer.echo(f"{code}: 数据不足 insufficient data ({view.model_version})")
    else:
        typer.echo(f"{code}: {view.score} 分 {view.grade} ({view.model_version})")
    for reason in view.reasons:
        typer.echo(f"  - [{reason.code}] {reason.text_zh} (-{reason.points_lost})")


# The scorecard as a tool on the analyst's own table (no database): cli/scorecard.py.
app.command("fit")(scorecard.fit)
app.command("apply")(scorecard.apply)
