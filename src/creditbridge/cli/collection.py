"""`creditbridge collection …`: compute, report and export the collection metrics (归集率)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import orjson
import typer

from creditbridge.cli.catalog import _table
from creditbridge.cli.context import fail, friendly_errors, transaction
from creditbridge.cli.worker import run_job_now
from creditbridge.core.config import get_settings
from creditbridge.ingest import metrics

app = typer.Typer(help="归集指标 Collection metrics.", no_args_is_help=True)

Month = Annotated[str, typer.Option("--month", help="YYYY-MM, the month the data are about")]


def _percent(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.1f}%"


@app.command("compute")
@friendly_errors
def compute(
    month: Month,
    last: Annotated[
        int, typer.Option("--last", min=1, max=60, help="also the N-1 months before")
    ] = 1,
    as_of: Annotated[
        str | None,
        typer.Option("--as-of", help="YYYY-MM-DD: count batches received by the end of that day"),
    ] = None,
    keep_snapshot: Annotated[
        bool, typer.Option("--keep-snapshot", help="keep the Parquet snapshot")
    ] = False,
) -> None:
    """Compute a month's metrics from a fresh snapshot (DuckDB over Parquet). 计算归集指标。

    Each month is a run of the worker's job `collection.metrics`, here and now; the worker
    also runs it daily at 02:00 Beijing time for the month before."""
    first = metrics.parse_month(month)
    options: dict[str, Any] = {}
    if as_of:
        options["as_of"] = as_of
    if keep_snapshot:
        options["keep_snapshot"] = True
    for back in range(last - 1, -1, -1):
        text = metrics.month_text(metrics.shift_month(first, -back))
        outcome = run_job_now("collection.metrics", {"month": text, **options})
        folder = outcome["snapshot_folder"]
        where = f" snapshot {folder}" if folder else ""
        typer.echo(
            f"{outcome['month']}: {outcome['rows']} 行指标 metric rows, "
            f"{outcome['batches']} 批次 batches{where}"
        )


@app.command("report")
@friendly_errors
def report(
    month: Month,
    json: Annotated[bool, typer.Option("--json", help="print JSON instead of a table")] = False,
) -> None:
    """Province totals and each dataset's figures for a month. 归集情况报告。"""
    with transaction() as session:
        overview = metrics.get_overview(
            session, month=month, bar=metrics.CollectionBar.from_settings(get_settings().collection)
        )
    if overview.is_empty:
        raise fail(
            f"{month} 尚未计算归集指标 no metrics computed for {month}: "
            f"run `creditbridge collection compute --month {month}`"
        )
    if json:
        typer.echo(orjson.dumps(overview.as_json(), option=orjson.OPT_INDENT_2))
        return
    t = overview.totals
    typer.echo(
        f"{month} 归集率 collection rate {_percent(overview.rate)} "
        f"({overview.met}/{overview.list_size}，目标 target {_percent(overview.target)})"
    )
    typer.echo(
        f"全省 province: 及时率 {_percent(t.timeliness)} · 覆盖率 {_percent(t.coverage)} · "
        f"完整率 {_percent(t.completeness)} · 逾期未报 {t.missing}"
    )
    rows = [
        [
            d.code,
            d.name_zh,
            _percent(d.figures.timeliness),
            _percent(d.figures.coverage),
            _percent(d.figures.completeness),
            "是" if d.meets else "否",
            "、".join(metrics.SHORTFALL_ZH[s] for s in d.shortfalls) or "—",
        ]
        for d in overview.datasets
    ]
    typer.echo(_table(["代码", "数据项", "及时率", "覆盖率", "完整率", "达标", "原因"], rows))


@app.command("export")
@friendly_errors
def export(
    month: Month,
    output: Annotated[Path, typer.Option("--output", "-o", help="the .xlsx file to write")],
) -> None:
    """Write the month's metric rows to an Excel file. 导出归集指标（Excel）。"""
    metrics.parse_month(month)
    with transaction() as session:
        data = metrics.export_xlsx(session, months=[month])
    output.write_bytes(data)
    typer.echo(f"{output} ({len(data)} bytes)")
