"""`creditbridge reference …`: check codes and classify enterprises against the national
standards, offline. Touches no database."""

from __future__ import annotations

import json
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any

import typer

from creditbridge.reference import divisions, uscc
from creditbridge.reference import size as size_rules
from creditbridge.reference.errors import ReferenceInputError

app = typer.Typer(
    no_args_is_help=True,
    help="国家标准核验：统一社会信用代码、行政区划、企业划型（离线，不访问数据库）。",
)

_LEVEL_ZH = {"province": "省级", "city": "地级", "county": "县级"}


def _echo_json(payload: dict[str, Any]) -> None:
    typer.echo(json.dumps(payload, ensure_ascii=False))


def _fail(message: str) -> typer.Exit:
    typer.echo(message, err=True)
    return typer.Exit(1)


def _uscc_block(result: uscc.UsccResult) -> list[str]:
    mark = "✓" if result.valid else "✗"
    lines = [f"{mark} {result.code or '（空）'}  {'有效' if result.valid else '无效'}"]
    if result.authority:
        lines.append(f"  登记管理部门：{result.code[0]} {result.authority}")
    if result.entity_type:
        lines.append(f"  机构类别：{result.code[1]} {result.entity_type}")
    if result.division_code:
        chain = " / ".join(d.name for d in divisions.parent_chain(result.division_code))
        if not chain and result.province_name:
            chain = f"{result.province_name}（省级以下未收录，仅核验省级）"
        lines.append(f"  行政区划：{result.division_code} {chain}".rstrip())
    lines += [f"  错误 {issue.code}：{issue.message}" for issue in result.errors]
    lines += [f"  警告 {issue.code}：{issue.message}" for issue in result.warnings]
    return lines


@app.command("uscc")
def check_uscc(
    codes: Annotated[list[str], typer.Argument(help="一个或多个统一社会信用代码")],
    as_json: Annotated[bool, typer.Option("--json", help="每个代码输出一行 JSON")] = False,
) -> None:
    """核验统一社会信用代码（GB 32100-2015），说明每一处错误。全部有效时退出码为 0，否则为 1。"""
    results = [uscc.validate(code) for code in codes]
    for index, result in enumerate(results):
        if as_json:
            _echo_json(result.as_json())
        else:
            if index:
                typer.echo("")
            typer.echo("\n".join(_uscc_block(result)))
    if not all(result.valid for result in results):
        raise typer.Exit(1)


def _amount(value: str | None, option: str) -> Decimal | None:
    if value is None:
        return None
    try:
        amount = Decimal(value.replace(",", "").strip())
    except InvalidOperation:
        raise _fail(f"错误：{option} 应为以元为单位的数字，收到“{value}”") from None
    return amount


@app.command("size")
def classify_size(
    industry: Annotated[
        str,
        typer.Option("--industry", help="行业代码：GB/T 4754-2017 门类字母或大类/中类/小类代码"),
    ],
    employees: Annotated[int | None, typer.Option("--employees", help="从业人员（人）")] = None,
    revenue: Annotated[str | None, typer.Option("--revenue", help="营业收入（元）")] = None,
    assets: Annotated[str | None, typer.Option("--assets", help="资产总额（元）")] = None,
    version: Annotated[
        str | None, typer.Option("--version", help="划型标准版本，默认 2011")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="输出 JSON")] = False,
) -> None:
    """企业划型（工信部联企业〔2011〕300号）：大型、中型、小型、微型。"""
    try:
        result = size_rules.assess(
            industry=industry,
            employees=employees,
            revenue_yuan=_amount(revenue, "--revenue"),
            assets_yuan=_amount(assets, "--assets"),
            version=version,
        )
    except ReferenceInputError as exc:
        raise _fail(f"错误 [{exc.code}]：{exc.message}") from None
    table = size_rules.table(result.version)
    if as_json:
        _echo_json(
            {
                "industry": industry,
                "industry_row": result.row.name,
                "industry_row_id": result.row.id,
                "size_class": result.size_class.value,
                "size_class_zh": result.size_class.label_zh,
                "version": result.version,
            }
        )
        return
    typer.echo(f"企业规模：{result.size_class.label_zh}（{result.size_class.value}）")
    typer.echo(f"划型行业：{result.row.name}")
    typer.echo(f"依据：{table.title}，{table.source}（版本 {result.version}）")


@app.command("division")
def show_division(
    code: Annotated[str, typer.Argument(help="6位行政区划代码（GB/T 2260）")],
    as_json: Annotated[bool, typer.Option("--json", help="输出 JSON")] = False,
) -> None:
    """查询行政区划代码：名称、级别、上级、是否已撤销及承继区划。"""
    found = divisions.get(code)
    province = divisions.province_of(code)
    if found is None and province is None:
        raise _fail(f"错误：“{code}”不是已收录的行政区划代码（全国收录至省级，安徽省收录至县级）")
    if found is None:
        province_name = divisions.name(province) if province else None
        if as_json:
            _echo_json(
                {
                    "code": code,
                    "known": False,
                    "province_code": province,
                    "province_name": province_name,
                }
            )
        else:
            typer.echo(f"{code}：属于 {province} {province_name}；省级以下未收录，无法核验")
        return
    successor = divisions.current_successor(code) if found.valid_until else None
    chain = divisions.parent_chain(code)
    if as_json:
        _echo_json(
            {
                "code": found.code,
                "known": True,
                "name": found.name,
                "level": found.level,
                "parent_chain": [{"code": d.code, "name": d.name} for d in chain],
                "valid_until": found.valid_until,
                "successor_code": found.successor_code,
                "current_successor": successor,
                "former_names": list(found.former_names),
            }
        )
        return
    typer.echo(f"{found.code} {found.name}（{_LEVEL_ZH[found.level]}）")
    typer.echo(f"  隶属：{' / '.join(d.name for d in chain)}")
    if found.former_names:
        typer.echo(f"  曾用名：{'、'.join(found.former_names)}")
    if found.valid_until is None:
        typer.echo("  状态：现行")
    else:
        now = f"{successor} {divisions.name(successor)}" if successor else "无直接承继区划"
        typer.echo(f"  状态：已于{found.valid_until}年撤销；现为 {now}")
    if found.note:
        typer.echo(f"  说明：{found.note}")
