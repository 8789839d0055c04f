"""`creditbridge ingest FILE …` and `creditbridge ingest pull …`: deliver a batch from the console.

Acts as the console operator (core.actors.CONSOLE), in one transaction. The console is not a
provider: the operator states on whose behalf it delivers (``--on-behalf-of PROVIDER``) and why
(``--reason TEXT``, kept in the batch's audit event), and that provider must be assigned the
dataset like any other delivery (``CB-INGEST-NOT-ASSIGNED``, audited). Exit status: 0 applied,
1 refused (too many rejected rows) or refused by a rule (no reason stated, a dataset not
assigned, a batch id reused for other content), 2 unreadable (the file as a whole: empty,
unknown headers, wrong format, connector failure).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import orjson
import typer

from creditbridge.cli.context import fail, friendly_errors, transaction
from creditbridge.core.actors import CONSOLE
from creditbridge.core.config import get_settings
from creditbridge.ingest import connectors, service

PULL = "pull"
EXIT_APPLIED, EXIT_REFUSED, EXIT_UNREADABLE = 0, 1, 2


def ingest(
    target: Annotated[
        str, typer.Argument(metavar="FILE|pull", help="a CSV/XLSX/JSONL file, or `pull`")
    ],
    dataset: Annotated[str, typer.Option("--dataset", help="dataset code, e.g. tax_payment")],
    provider: Annotated[
        str | None,
        typer.Option(
            "--on-behalf-of",
            "--provider",
            metavar="PROVIDER",
            help="id or code of the provider this delivery is made for (代报单位)",
        ),
    ] = None,
    reason: Annotated[
        str | None,
        typer.Option("--reason", help="why the console delivers for the provider (audited)"),
    ] = None,
    batch_id: Annotated[
        str | None,
        typer.Option("--batch-id", help="idempotency key; the file's SM3 digest by default"),
    ] = None,
    sheet: Annotated[str | None, typer.Option("--sheet", help="XLSX sheet name")] = None,
    connector_url: Annotated[
        str | None,
        typer.Option("--connector-url", help="with `pull`: the provider's paged JSON endpoint"),
    ] = None,
    page_size: Annotated[int, typer.Option("--page-size", min=1, max=10_000)] = 1000,
    json: Annotated[bool, typer.Option("--json", help="print the outcome as JSON")] = False,
) -> None:
    """Deliver a batch: validate, store accepted rows, report rejects. 提交一个批次。"""
    raise typer.Exit(
        _run(target, dataset, provider, reason, batch_id, sheet, connector_url, page_size, json)
    )


@friendly_errors
def _run(
    target: str,
    dataset: str,
    provider: str | None,
    reason: str | None,
    batch_id: str | None,
    sheet: str | None,
    connector_url: str | None,
    page_size: int,
    json: bool,
) -> int:
    reason = (reason or "").strip()
    if not provider or not reason:
        raise fail(
            "错误 error: 控制台不是数据提供单位：请用 --on-behalf-of 写明代哪个"
            "数据提供单位提交，并用 --reason 写明理由（记入审计日志） the console delivers only "
            "on behalf of a provider: state --on-behalf-of PROVIDER and --reason TEXT (audited)",
            EXIT_REFUSED,
        )
    if target == PULL:
        if not connector_url:
            raise fail("`ingest pull` 需要 --connector-url", EXIT_UNREADABLE)
        connector = connectors.PagedJsonConnector(connector_url, page_size=page_size)
        try:
            with connectors.spool_rows(connector) as path, transaction() as session:
                found = service.get_provider_or_raise(session, provider)
                outcome = service.ingest_batch(
                    session, CONSOLE, provider_id=found.id, dataset_code=dataset,
                    batch_key=batch_id, source=path, filename=path.name, channel="pull",
                    settings=get_settings().ingest, reason=reason,
                )  # fmt: skip
        except connectors.ConnectorFailed as exc:
            typer.echo(f"错误 error [{exc.code}]: {exc}", err=True)
            return EXIT_UNREADABLE
    else:
        path = Path(target)
        if not path.is_file():
            raise fail(f"文件不存在 no such file: {path}", EXIT_UNREADABLE)
        with transaction() as session:
            found = service.get_provider_or_raise(session, provider)
            outcome = service.ingest_batch(
                session, CONSOLE, provider_id=found.id, dataset_code=dataset,
                batch_key=batch_id, source=path, filename=path.name, channel="cli", sheet=sheet,
                settings=get_settings().ingest, reason=reason,
            )  # fmt: skip
    if json:
        typer.echo(orjson.dumps(outcome.as_json(), option=orjson.OPT_INDENT_2))
    else:
        _print(outcome)
    if outcome.applied:
        return EXIT_APPLIED
    return EXIT_REFUSED if outcome.refusal_code == "INGEST-THRESHOLD" else EXIT_UNREADABLE


STATUS_ZH = {"applied": "已入库 applied", "refused": "已退回 refused"}


def _print(o: service.BatchOutcome) -> None:
    lines = [
        f"批次 batch {o.batch_id}（{o.batch_key}）{STATUS_ZH.get(o.status, o.status)}"
        + ("，重复提交，返回首次结果 (replay)" if o.replayed else ""),
        f"  共 {o.rows_total} 行：接收 {o.rows_accepted}（含警告 {o.rows_warned}）、"
        f"拒收 {o.rows_rejected}",
        f"  新增 {o.rows_new}、更新 {o.rows_updated}、未变 {o.rows_unchanged}、"
        f"撤销 {o.rows_withdrawn}；新建待核实主体 {o.subjects_created}",
    ]
    if o.encoding_label:
        lines.append(f"  编码 encoding: {o.encoding_label}")
    lines.extend(f"  说明: {note}" for note in o.notes)
    if o.refusal_message:
        lines.append(f"  退回原因 [{o.refusal_code}]: {o.refusal_message}")
    for issue in o.issues:
        where = f"第{issue.row}行" + (f" {issue.label or issue.field}" if issue.field else "")
        level = "警告" if issue.warning else "错误"
        lines.append(f"  - {where} {level} [{issue.code}] {issue.message}")
    if o.issues_total > len(o.issues):
        lines.append(f"  …共 {o.issues_total} 条问题，完整拒收报告见批次页面或 API")
    typer.echo("\n".join(lines))
