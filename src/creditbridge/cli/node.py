"""`creditbridge node …`: this node's identity and keys, the registry of peers, admission and
revocation, at the console (``core.actors.CONSOLE``).

The command names and the JSON keys of ``node status --json`` are a contract the checks and the
demo network use (issue 14): keep them."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import orjson
import typer

from creditbridge.cli.context import fail, friendly_errors, transaction
from creditbridge.core.actors import CONSOLE
from creditbridge.core.config import get_settings
from creditbridge.exchange import service

app = typer.Typer(
    help="节点互联 This node, its peers, admission and revocation.", no_args_is_help=True
)
peers_app = typer.Typer(help="对端节点 The registry of peer nodes.", no_args_is_help=True)
app.add_typer(peers_app, name="peers")

JsonOption = Annotated[bool, typer.Option("--json", help="print JSON instead of text")]


def _json(value: Any) -> str:
    return orjson.dumps(value, option=orjson.OPT_INDENT_2).decode()


def _read_json(path: Path) -> Any:
    try:
        return orjson.loads(path.read_bytes())
    except FileNotFoundError:
        raise fail(f"文件不存在 no such file: {path}") from None
    except orjson.JSONDecodeError as exc:
        raise fail(f"文件不是有效的 JSON (not JSON): {path}: {exc}") from None


@app.command("init")
@friendly_errors
def init(
    code: Annotated[str, typer.Option("--code", help="division code (GB/T 2260); national 100000")],
    level: Annotated[str, typer.Option("--level", help="national | province | city | county")],
    name: Annotated[str, typer.Option("--name", help="the platform's name")],
    url: Annotated[str, typer.Option("--url", help="public base URL peers call")],
    json: JsonOption = False,
) -> None:
    """Make this deployment a node, with a first SM2 signing key. 初始化本节点。"""
    with transaction() as session:
        node = service.init_node(
            session, CONSOLE, code=code, level=level, name=name, url=url, settings=get_settings()
        )
        row = {
            "code": node.code,
            "level": node.level,
            "name": node.name,
            "url": node.url,
            "key_id": service.current_key(session).key_id,
        }
    if json:
        typer.echo(_json(row))
        return
    typer.echo(f"已初始化 node {row['code']} ({row['level']}) {row['name']} — key {row['key_id']}")


@app.command("identity")
@friendly_errors
def identity(
    out: Annotated[Path, typer.Option("--out", help="where to write the identity document")],
) -> None:
    """Write this node's signed identity document for peers to import. 导出节点身份文件。"""
    with transaction() as session:
        document = service.identity_document(session, CONSOLE).as_dict()
    out.write_bytes(orjson.dumps(document, option=orjson.OPT_INDENT_2) + b"\n")
    typer.echo(
        f"已写出 wrote {out} (node {document['code']}, signed by {document['signature']['key_id']})"
    )


@app.command("rotate-key")
@friendly_errors
def rotate_key() -> None:
    """Retire the signing key and make a new one; export and send the identity again. 轮换密钥。"""
    with transaction() as session:
        key = service.rotate_key(session, CONSOLE)
        key_id = key.key_id
    typer.echo(f"已轮换 new signing key {key_id}; 请重新导出身份文件 (run `node identity` again)")


@peers_app.command("add")
@friendly_errors
def peers_add(
    file: Annotated[Path, typer.Argument(help="the peer's identity document (JSON)")],
    relation: Annotated[str, typer.Option("--relation", help="upstream | downstream")],
    json: JsonOption = False,
) -> None:
    """Import a peer's identity document; it starts as applied. 登记对端节点。"""
    document = _read_json(file)
    with transaction() as session:
        peer = service.add_peer(session, CONSOLE, document=document, relation=relation)
        row = {
            "code": peer.code,
            "name": peer.name,
            "relation": peer.relation,
            "status": peer.status,
        }
    if json:
        typer.echo(_json(row))
        return
    typer.echo(f"已登记 peer {row['code']} {row['name']} ({row['relation']}, {row['status']})")


@peers_app.command("list")
@friendly_errors
def peers_list(json: JsonOption = False) -> None:
    """List the peers. 列出对端节点。"""
    with transaction() as session:
        rows = [
            {
                "code": p.code,
                "level": p.level,
                "name": p.name,
                "url": p.url,
                "relation": p.relation,
                "status": p.status,
                "reason": p.status_reason,
            }
            for p in service.list_peers(session)
        ]
    if json:
        typer.echo(_json(rows))
        return
    for r in rows:
        typer.echo(f"{r['code']}  {r['relation']:<10} {r['status']:<16} {r['name']}  {r['url']}")


@app.command("assess")
@friendly_errors
def assess(
    code: Annotated[str, typer.Argument(help="the downstream node's code")],
    file: Annotated[Path, typer.Option("--file", help="its security self-assessment (JSON)")],
) -> None:
    """Record a downstream node's security self-assessment. 提交接入安全自评估。"""
    assessment = _read_json(file)
    if not isinstance(assessment, dict):
        raise fail("自评估文件应为 JSON 对象 (the self-assessment must be a JSON object)")
    with transaction() as session:
        peer = service.submit_assessment(session, CONSOLE, code=code, assessment=assessment)
        status = peer.status
    typer.echo(f"已记录 assessment of {code} ({status})")


@app.command("checks")
@friendly_errors
def checks(code: Annotated[str, typer.Argument()], json: JsonOption = False) -> None:
    """Run the automated admission checks without deciding. 运行接入检查。"""
    with transaction() as session:
        found = [
            c.as_dict()
            for c in service.run_checks(
                session, service.get_peer_or_raise(session, code), settings=get_settings()
            )
        ]
    if json:
        typer.echo(_json(found))
        return
    if not found:
        typer.echo(f"{code}: 全部检查通过 all checks pass")
    for c in found:
        mark = "✗" if c["blocking"] else "!"
        typer.echo(f"{mark} {c['field']}: {c['message']}")


@app.command("admit")
@friendly_errors
def admit(
    code: Annotated[str, typer.Argument(help="the peer's code")],
    reason: Annotated[str, typer.Option("--reason", help="the review's reasons")] = "",
) -> None:
    """Admit a peer after its checks pass. 准予接入。"""
    with transaction() as session:
        review = service.admit(session, CONSOLE, code=code, reason=reason, settings=get_settings())
        line = f"已接入 admitted {code} ({review.from_status} → {review.to_status})"
        warnings = [f["message"] for f in review.findings]
    typer.echo(line)
    for warning in warnings:
        typer.echo(f"  ! {warning}")


@app.command("reject")
@friendly_errors
def reject(
    code: Annotated[str, typer.Argument()],
    reason: Annotated[str, typer.Option("--reason", help="why (the applicant is told)")],
) -> None:
    """Refuse an application. 不予接入。"""
    with transaction() as session:
        service.reject(session, CONSOLE, code=code, reason=reason)
    typer.echo(f"已拒绝 rejected {code}")


@app.command("suspend")
@friendly_errors
def suspend(
    code: Annotated[str, typer.Argument()],
    reason: Annotated[str, typer.Option("--reason")],
) -> None:
    """Suspend an admitted peer; `node admit` reinstates it. 暂停接入。"""
    with transaction() as session:
        service.suspend(session, CONSOLE, code=code, reason=reason)
    typer.echo(f"已暂停 suspended {code}")


@app.command("revoke")
@friendly_errors
def revoke(
    code: Annotated[str, typer.Argument(help="the peer's code")],
    reason: Annotated[str, typer.Option("--reason", help="why (recorded and audited)")],
) -> None:
    """Revoke a peer's admission: refused from its next request on. 取消接入资格。"""
    with transaction() as session:
        service.revoke(session, CONSOLE, code=code, reason=reason)
    typer.echo(f"已取消接入资格 revoked {code}")


@app.command("status")
@friendly_errors
def status(json: JsonOption = False) -> None:
    """This node, its record count and its peers. 节点状态。"""
    with transaction() as session:
        body = service.node_status(session, CONSOLE).as_dict()
    if json:
        typer.echo(_json(body))
        return
    node = body["node"]
    typer.echo(
        f"{node['code']} {node['level']} {node['name']} {node['url']} (key {node['key_id']})"
    )
    typer.echo(f"records_local: {body['records_local']}")
    for p in body["peers"]:
        typer.echo(f"  {p['code']}  {p['relation']:<10} {p['status']:<16} lag={p['lag']}")
