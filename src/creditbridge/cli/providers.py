"""`creditbridge providers …`: the register of data providers (数据提供单位)."""

from __future__ import annotations

from typing import Annotated

import orjson
import typer

from creditbridge.cli.catalog import _table
from creditbridge.cli.context import friendly_errors, transaction
from creditbridge.ingest import service

app = typer.Typer(help="数据提供单位 Data providers.", no_args_is_help=True)

KIND_ZH = {"department": "政府部门", "utility": "公用事业单位"}


@app.command("list")
@friendly_errors
def list_providers(
    json: Annotated[bool, typer.Option("--json", help="print JSON instead of a table")] = False,
) -> None:
    """List providers with their region, contact and the datasets they owe. 列出数据提供单位。"""
    with transaction() as session:
        providers = service.list_providers(session)
    if json:
        typer.echo(orjson.dumps([p.as_json() for p in providers], option=orjson.OPT_INDENT_2))
        return
    if not providers:
        typer.echo("尚无数据提供单位 no providers yet (`creditbridge demo generate` adds some)")
        return
    rows = [
        [
            str(p.id),
            p.code,
            p.name,
            KIND_ZH.get(p.kind, p.kind),
            p.region,
            " ".join(filter(None, [p.contact_name, p.contact_phone])) or "—",
            "、".join(p.datasets) or "—",
        ]
        for p in providers
    ]
    typer.echo(_table(["ID", "代码", "名称", "类型", "地区", "联系人", "应报数据项"], rows))
