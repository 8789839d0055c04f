"""`creditbridge demo …`: the synthetic province (演示数据).

``generate`` and ``ensure`` fill an empty, migrated database; ``truth-export`` hands the hidden
truth (risk, true PD, default) to model evaluation as CSV. Nothing else exposes the truth.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Annotated

import orjson
import typer
from alembic.script import ScriptDirectory

from creditbridge import migrations
from creditbridge.catalog import service as catalog_service
from creditbridge.cli.context import engine, fail, friendly_errors, transaction
from creditbridge.core.actors import CONSOLE
from creditbridge.demo import service
from creditbridge.demo.population import area_issue
from creditbridge.demo.writer import tune_for_bulk_load
from creditbridge.reference import divisions

app = typer.Typer(help="演示数据 The synthetic province.", no_args_is_help=True)

Enterprises = Annotated[
    int,
    typer.Option(
        "--enterprises", "-n", min=1, max=service.MAX_ENTERPRISES, help="number of subjects"
    ),
]
Seed = Annotated[int, typer.Option("--seed", min=0, help="random seed; same seed, same rows")]
AsOf = Annotated[
    str,
    typer.Option(
        "--as-of",
        help="reference date YYYY-MM-DD every date and timestamp derives from (not the clock)",
    ),
]
Workers = Annotated[
    int | None,
    typer.Option("--workers", min=0, help="worker processes (default: by CPU count and size)"),
]
Division = Annotated[
    str | None,
    typer.Option(
        "--division",
        help="GB/T 2260 code of a city or county of the demo province (Anhui): draw every "
        "enterprise inside it (a city node's demo); default: the whole province",
    ),
]
Json = Annotated[bool, typer.Option("--json", help="print the summary as JSON")]
Quiet = Annotated[bool, typer.Option("--quiet", "-q", help="no progress lines")]
DEFAULT_AS_OF = service.DEFAULT_AS_OF.isoformat()


def _as_of(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise fail(f"--as-of 须为日期 YYYY-MM-DD，收到 {text!r}") from None


def _area(code: str | None) -> str | None:
    if code is None:
        return None
    issue = area_issue(code.strip())
    if issue is not None:
        raise fail(f"--division: {issue}")
    return code.strip()


def _require_migrated() -> None:
    head = ScriptDirectory.from_config(migrations.alembic_config(engine())).get_current_head()
    current = migrations.current(engine())
    if current is None:
        raise fail("数据库尚未初始化 database not migrated: run `creditbridge db upgrade` first")
    if current != head:
        raise fail(
            f"数据库结构不是最新（{current}，最新 {head}）database schema is behind: "
            "run `creditbridge db upgrade` first"
        )


def _run(
    *,
    enterprises: int,
    seed: int,
    as_of: date,
    workers: int | None,
    quiet: bool,
    division: str | None,
) -> service.GenerationSummary | None:
    """Generate in one transaction with the store tuned for a bulk load; None if subjects exist."""
    chosen = service.default_workers(enterprises) if workers is None else workers

    def progress(message: str) -> None:
        if not quiet:
            typer.echo(f"  … {message}", err=True)

    summary: service.GenerationSummary | None = None
    try:
        with transaction() as session:
            existing = service.count_subjects(session)
            if existing:
                return None
            tune_for_bulk_load(session.connection())
            summary = service.generate(
                session,
                CONSOLE,
                enterprises=enterprises,
                seed=seed,
                as_of=as_of,
                workers=chosen,
                progress=progress,
                division=division,
            )
            progress("committing")
    finally:
        # The connection carried bulk-load pragmas; no pooled connection may keep them.
        engine().dispose()
    return summary


def _print(summary: service.GenerationSummary, *, json: bool) -> None:
    if json:
        typer.echo(orjson.dumps(summary.as_json(), option=orjson.OPT_INDENT_2).decode())
        return
    with transaction() as session:
        names = {d.code: d.name_zh for d in catalog_service.list_datasets(session)}
    typer.echo(
        f"已生成演示省份 generated: {summary.enterprises} 个信用主体 subjects, "
        f"seed {summary.seed}, as of {summary.as_of.isoformat()}"
    )
    if summary.division is not None:
        place = divisions.name(summary.division) or summary.division
        typer.echo(f"  行政区划 division {summary.division} {place}")
    typer.echo(
        f"  机构 institutions {summary.institutions} · 产品 products {summary.products} · "
        f"提供单位 providers {summary.providers} · 批次 batches {summary.batches} · "
        f"贷款 loans {summary.loans}"
    )
    typer.echo(f"  信用记录 records {summary.records}:")
    width = max(len(code) for code in summary.records_by_dataset)
    for code, count in sorted(summary.records_by_dataset.items(), key=lambda kv: -kv[1]):
        typer.echo(f"    {code:<{width}}  {count:>10}  {names.get(code, '')}")
    typer.echo(
        f"  合计 rows total {summary.rows_total} in {summary.seconds:.1f} s "
        f"({summary.rows_per_second:,.0f} rows/s)"
    )


@app.command("generate")
@friendly_errors
def generate(
    enterprises: Enterprises = 20_000,
    seed: Seed = 20260101,
    as_of: AsOf = DEFAULT_AS_OF,
    workers: Workers = None,
    division: Division = None,
    json: Json = False,
    quiet: Quiet = False,
) -> None:
    """Generate the synthetic province into an empty database. 生成演示数据。"""
    area = _area(division)
    _require_migrated()
    day = _as_of(as_of)
    summary = _run(
        enterprises=enterprises,
        seed=seed,
        as_of=day,
        workers=workers,
        quiet=quiet,
        division=area,
    )
    if summary is None:
        with transaction() as session:
            existing = service.count_subjects(session)
        raise fail(
            f"数据库中已有 {existing} 个信用主体，拒绝生成 database already holds {existing} "
            "subjects: use an empty database (or `creditbridge demo ensure`)"
        )
    _print(summary, json=json)


@app.command("ensure")
@friendly_errors
def ensure(
    enterprises: Enterprises = 20_000,
    seed: Seed = 20260101,
    as_of: AsOf = DEFAULT_AS_OF,
    workers: Workers = None,
    division: Division = None,
    json: Json = False,
    quiet: Quiet = False,
) -> None:
    """Generate the synthetic province unless the database already holds subjects. 确保有演示数据。"""
    area = _area(division)
    _require_migrated()
    day = _as_of(as_of)
    summary = _run(
        enterprises=enterprises,
        seed=seed,
        as_of=day,
        workers=workers,
        quiet=quiet,
        division=area,
    )
    if summary is None:
        with transaction() as session:
            existing = service.count_subjects(session)
        if json:
            typer.echo(orjson.dumps({"generated": False, "subjects": existing}).decode())
        else:
            typer.echo(
                f"数据库已有 {existing} 个信用主体，未重新生成 already holds {existing} subjects"
            )
        return
    _print(summary, json=json)


@app.command("truth-export")
@friendly_errors
def truth_export(
    out: Annotated[Path, typer.Option("--out", "-o", help="CSV file to write", dir_okay=False)],
) -> None:
    """Write the hidden truth (risk, true PD, default) as CSV for model evaluation. 导出真值。"""
    _require_migrated()
    if out.suffix.lower() != ".csv":
        raise fail(f"只支持 CSV（.csv）only CSV is supported, got {out.name}")
    with transaction() as session:
        written = service.export_truth(session, CONSOLE, path=out)
    if not written:
        raise fail("数据库中没有演示真值 no demo truth: run `creditbridge demo generate` first")
    typer.echo(f"已导出 {written} 个主体的真值 wrote the truth of {written} subjects to {out}")
