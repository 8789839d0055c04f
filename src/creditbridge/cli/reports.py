"""`creditbridge report`: credit reports: issue and verify; compute the aggregates."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from creditbridge.cli.context import friendly_errors, require_existing_node, transaction
from creditbridge.core.actors import CONSOLE
from creditbridge.core.config import get_settings
from creditbridge.core.errors import ValidationFailed
from creditbridge.presentation.errors import keyed
from creditbridge.reference import uscc as uscc_codes
from creditbridge.reports import analytics, service
from creditbridge.subjects import service as subjects_service

app = typer.Typer(help="信用报告 Credit reports: issue and verify.", no_args_is_help=True)

_CHECK_TEXT = {
    "format": "报告格式：未找到有效的签名数据 no valid seal in the file",
    "digest": "SM3 摘要：报告内容与摘要不符 content does not match its digest",
    "key": "签名密钥：非本平台签发 signed by another key",
    "signature": "SM2 签名无效 signature invalid",
    "registry": "签发登记：本平台无此报告或内容不符 not in this node's register",
    "file": "文件完整性：文件与签发时不一致 file differs from the one issued",
}


@app.command("issue")
@friendly_errors
def issue(
    code: Annotated[str, typer.Argument(help="统一社会信用代码 the enterprise's USCC")],
    out: Annotated[Path, typer.Option("--out", "-o", help="file to write", dir_okay=False)],
    fmt: Annotated[str, typer.Option("--format", "-f", help="html | pdf")] = "pdf",
) -> None:
    """Issue the public standardized credit report of an enterprise. 出具信用报告。"""
    if fmt not in ("html", "pdf"):
        raise keyed(ValidationFailed, "error.cli.report_format")
    checked = uscc_codes.validate(code)
    if not checked.valid:
        raise keyed(
            ValidationFailed,
            "error.cli.uscc_invalid",
            issues=[e.to_issue(field="CODE") for e in checked.errors],
        )
    with transaction() as session:
        subject = subjects_service.get_subject_by_uscc_or_raise(session, checked.code)
        issued = service.issue_report(
            session,
            CONSOLE,
            subject_id=subject.id,
            fmt="pdf" if fmt == "pdf" else "html",
            settings=get_settings(),
        )
        out.write_bytes(issued.data)
    typer.echo(f"报告编号 report no.: {issued.report_no}")
    typer.echo(f"SM3: {issued.content_digest}")
    typer.echo(f"文件 file: {out} ({len(issued.data):,} bytes)")


@app.command("verify")
@friendly_errors
def verify(
    file: Annotated[
        Path, typer.Argument(help="an issued report (HTML or PDF)", exists=True, dir_okay=False)
    ],
) -> None:
    """Check a report file; exit 0 only when genuine and unaltered. 核验信用报告。

    Run it where the node's data lives: it creates no database and no key."""
    require_existing_node()
    with transaction() as session:
        result = service.verify_file(session, file.read_bytes())
        session.rollback()
    for check, passed in result.checks:
        mark = "✓" if passed else ("✗" if passed is False else "·")
        typer.echo(f"  {mark} {check.value}")
    if result.ok:
        typer.echo(f"报告真实有效，未被篡改 genuine and unaltered: {result.report_no}")
        return
    failed = result.failed.value if result.failed else "format"
    typer.echo(f"核验未通过 verification failed [{failed}]: {_CHECK_TEXT[failed]}", err=True)
    raise typer.Exit(1)


@app.command("aggregates")
@friendly_errors
def aggregates() -> None:
    """Recompute the region/industry aggregates (DuckDB over a snapshot). 计算统计快照。"""
    with transaction() as session:
        run = analytics.refresh(session, CONSOLE)
        typer.echo(
            f"企业 enterprises: {run.enterprises:,}; 用时 {run.duration_ms:,} ms; "
            f"纳税统计期 {run.tax_window}"
        )
