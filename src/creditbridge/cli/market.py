"""`creditbridge market`: financing marketplace: products, demands, loans and lending outcomes."""

from __future__ import annotations

from typing import Annotated

import orjson
import typer

from creditbridge.cli.context import friendly_errors, transaction
from creditbridge.cli.worker import run_job_now
from creditbridge.core.actors import CONSOLE
from creditbridge.marketplace import analytics, service
from creditbridge.marketplace.domain import WhitelistCriteria

app = typer.Typer(
    help="融资对接 Financing marketplace: products, demands, loans and lending outcomes.",
    no_args_is_help=True,
)


@app.command("sweep")
@friendly_errors
def sweep(
    today: Annotated[
        str | None, typer.Option(help="as if today were this date (YYYY-MM-DD)")
    ] = None,
) -> None:
    """Deadlines: expire unanswered applications, reassign their demands (精准派单) or pool them
    (自由抢单), escalate pool demands nobody took. 响应时限处理。

    Runs the worker's job `marketplace.sweep` here and now, recorded as one of its runs; the
    worker (`creditbridge worker`) also runs it every 5 minutes, so cron is no longer needed."""
    result = run_job_now("marketplace.sweep", {"today": today} if today else {})
    typer.echo(
        f"超时 expired: {result['expired']}  改派 reassigned: {result['reassigned']}  "
        f"转入抢单池 pooled: {result['pooled']}  提交平台协调 escalated: {result['escalated']}"
    )


@app.command("outcomes")
@friendly_errors
def outcomes(
    json: Annotated[bool, typer.Option("--json", help="print JSON")] = False,
    by: Annotated[
        str, typer.Option(help="province | city | institution | industry | size")
    ] = "province",
) -> None:
    """Lending outcomes (融资成效): province totals, or one row per city/institution/…"""
    if by not in analytics.DIMENSIONS:
        typer.echo(f"--by must be one of {', '.join(analytics.DIMENSIONS)}", err=True)
        raise typer.Exit(2)
    with transaction() as session:
        rows = analytics.outcomes(session, by=by)
        if not rows:
            rows = [analytics.province_totals(session)]
    if json:
        body = rows[0].as_dict() if by == "province" else [r.as_dict() for r in rows]
        typer.echo(orjson.dumps(body, option=orjson.OPT_INDENT_2).decode())
        return
    for r in rows:
        share = "—" if r.credit_share is None else f"{float(r.credit_share) * 100:.1f}%"
        platform = (
            "—"
            if r.platform_credit_share is None
            else f"{float(r.platform_credit_share) * 100:.1f}%"
        )
        rate = (
            "—"
            if r.inclusive_avg_rate_bp is None
            else f"{float(r.inclusive_avg_rate_bp) / 100:.2f}%"
        )
        typer.echo(
            f"{r.label}\n"
            f"  融资需求 demands: {r.demands}  申请 applications: {r.applications}  "
            f"审批通过率 approval: {'—' if r.approval_rate is None else f'{float(r.approval_rate) * 100:.1f}%'}\n"
            f"  贷款 loans: {r.loans}  金额 amount: {r.amount_fen / 1_000_000:,.2f} 万元\n"
            f"  信用贷款 credit loans: {r.credit_loans}  占比 share: {share}\n"
            f"  首贷户 first-time borrowers: {r.first_time_borrowers}"
            f"  (信用 credit: {r.first_time_credit_borrowers})\n"
            f"  普惠小微 inclusive micro: {r.inclusive_loans}  "
            f"{r.inclusive_amount_fen / 1_000_000:,.2f} 万元  平均利率 avg rate: {rate}\n"
            f"  平台信用贷款占比 platform share of credit lending: {platform}"
        )


@app.command("whitelist-propose")
@friendly_errors
def whitelist_propose(
    min_grade: Annotated[str, typer.Option(help="grade threshold")] = "A",
) -> None:
    """Let the rules propose whitelist candidates (grade, live demand, policy industries)."""
    with transaction() as session:
        proposed = service.propose_whitelist(
            session, CONSOLE, criteria=WhitelistCriteria(min_grade=min_grade)
        )
    typer.echo(f"白名单候选 proposed: {len(proposed)}")
