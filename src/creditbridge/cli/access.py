"""`creditbridge users|clients|institutions|access …`: accounts, API clients, admission, demo logins.

Commands run as the operator at the server's console (``core.actors.CONSOLE``): whoever holds the
server can already do everything, so the console is where the first admin accounts come from.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Annotated, Any

import orjson
import typer

from creditbridge.access import service
from creditbridge.cli.catalog import _table
from creditbridge.cli.context import fail, friendly_errors, transaction
from creditbridge.core.actors import CONSOLE, Role
from creditbridge.core.config import get_settings
from creditbridge.demo.logins import ensure_demo_logins

users_app = typer.Typer(help="用户 Users and their roles.", no_args_is_help=True)
clients_app = typer.Typer(help="接口客户端 API clients and signing keys.", no_args_is_help=True)
institutions_app = typer.Typer(help="接入机构 Institution admission.", no_args_is_help=True)
access_app = typer.Typer(help="信任层 Trust layer utilities.", no_args_is_help=True)

JsonOption = Annotated[bool, typer.Option("--json", help="print JSON instead of a table")]


def _json(value: Any) -> str:
    return orjson.dumps(value, option=orjson.OPT_INDENT_2).decode()


@users_app.command("create")
@friendly_errors
def users_create(
    username: str,
    role: Annotated[Role, typer.Option(help="the user's one role")],
    display_name: Annotated[str, typer.Option("--name")] = "",
    password: Annotated[
        str, typer.Option(prompt=True, hide_input=True, confirmation_prompt=True)
    ] = "",
    provider_id: Annotated[int | None, typer.Option()] = None,
    division: Annotated[
        str | None,
        typer.Option(
            "--division",
            help="an operator's GB/T 2260 province, city or county code 运营人员所属行政区划; "
            "omit for a node-wide operator",
        ),
    ] = None,
) -> None:
    """Create a staff, provider or admin user. 创建用户（控制台可创建三类管理员）。

    Enterprise users and institution officers are never created here: an enterprise registers
    (or a colleague invites), an institution's officer-administrator invites its officers, and
    its first one comes from `creditbridge institutions invite`."""
    with transaction() as session:
        user = service.create_user(
            session,
            CONSOLE,
            username=username,
            display_name=display_name or username,
            password=password,
            role=role,
            provider_id=provider_id,
            division_code=division,
        )
        where = f" {user.division_code}" if user.division_code else ""
        typer.echo(f"已创建 created user {user.id} {user.username} ({role.value}{where})")


@users_app.command("set-division")
@friendly_errors
def users_set_division(
    username: str,
    division: Annotated[
        str, typer.Option("--division", help="GB/T 2260 code; empty for node-wide 全节点")
    ],
) -> None:
    """Move an operator to another division. 设置运营人员所属行政区划。"""
    with transaction() as session:
        user = service.get_user_by_username(session, username)
        if user is None:
            raise fail(f"用户不存在 no such user: {username}")
        service.set_division(session, CONSOLE, user_id=user.id, division_code=division or None)
    typer.echo(f"已设置 set {username} → {division or '全节点 node-wide'}")


@users_app.command("list")
@friendly_errors
def users_list(json: JsonOption = False) -> None:
    """List users. 列出用户。"""
    with transaction() as session:
        rows = [
            {
                "id": u.id,
                "username": u.username,
                "role": u.role,
                "status": u.status,
                "totp": u.totp_enabled,
                "institution_id": u.institution_id,
                "division_code": u.division_code,
            }
            for u in service.list_users(session, CONSOLE)
        ]
    if json:
        typer.echo(_json(rows))
        return
    typer.echo(
        _table(
            ["id", "username", "role", "status", "totp", "division"],
            [
                [
                    str(r["id"]),
                    str(r["username"]),
                    str(r["role"]),
                    str(r["status"]),
                    "yes" if r["totp"] else "no",
                    str(r["division_code"] or "—"),
                ]
                for r in rows
            ],
        )
    )


@users_app.command("disable")
@friendly_errors
def users_disable(username: str) -> None:
    """Disable a user and end its sessions. 停用用户。"""
    with transaction() as session:
        user = service.get_user_by_username(session, username)
        if user is None:
            raise fail(f"用户不存在 no such user: {username}")
        service.disable_user(session, CONSOLE, user_id=user.id)
    typer.echo(f"已停用 disabled {username}")


@clients_app.command("create")
@friendly_errors
def clients_create(
    name: str,
    owner_kind: Annotated[str, typer.Option("--owner", help="institution | provider | node")],
    algorithm: Annotated[str, typer.Option(help="sm2 | hmac-sm3")] = "sm2",
    institution_id: Annotated[int | None, typer.Option()] = None,
    provider_id: Annotated[int | None, typer.Option()] = None,
    node_code: Annotated[str | None, typer.Option()] = None,
    public_key: Annotated[Path | None, typer.Option(help="the client's SM2 public key PEM")] = None,
    private_key_out: Annotated[
        Path | None, typer.Option(help="where to write a generated SM2 private key")
    ] = None,
    rate_limit: Annotated[int | None, typer.Option(help="requests per minute")] = None,
) -> None:
    """Register an API client; prints the key id and, once, the secret or the key file. 创建接口客户端。"""
    pem = public_key.read_text(encoding="ascii") if public_key else None
    with transaction() as session:
        issued = service.create_client(
            session,
            CONSOLE,
            name=name,
            owner_kind=owner_kind,
            algorithm=algorithm,
            institution_id=institution_id,
            provider_id=provider_id,
            node_code=node_code,
            public_key_pem=pem,
            rate_limit_per_minute=rate_limit,
            settings=get_settings(),
        )
        key_id = issued.client.key_id
    typer.echo(f"key id: {key_id}")
    if issued.secret:
        typer.echo(f"secret (shown once, 仅显示一次): {issued.secret}")
    if issued.private_key_pem:
        target = private_key_out or Path(f"{key_id}.key.pem")
        target.write_text(issued.private_key_pem, encoding="ascii")
        os.chmod(target, stat.S_IRUSR | stat.S_IWUSR)
        typer.echo(f"private key (SM2) written to {target}")


@clients_app.command("list")
@friendly_errors
def clients_list(json: JsonOption = False) -> None:
    """List API clients. 列出接口客户端。"""
    with transaction() as session:
        rows = [
            {
                "id": c.id,
                "key_id": c.key_id,
                "name": c.name,
                "owner": c.owner_kind,
                "algorithm": c.algorithm,
                "status": c.status,
                "rate_limit": c.rate_limit_per_minute,
            }
            for c in service.list_clients(session)
        ]
    if json:
        typer.echo(_json(rows))
        return
    typer.echo(
        _table(
            ["key id", "name", "owner", "algorithm", "status", "rate/min"],
            [
                [
                    str(r["key_id"]),
                    str(r["name"]),
                    str(r["owner"]),
                    str(r["algorithm"]),
                    str(r["status"]),
                    str(r["rate_limit"]),
                ]
                for r in rows
            ],
        )
    )


@clients_app.command("suspend")
@friendly_errors
def clients_suspend(key_id: str) -> None:
    """Suspend an API client at once. 暂停接口客户端。"""
    with transaction() as session:
        client = service.get_client_by_key_id(session, key_id)
        if client is None:
            raise fail(f"接口客户端不存在 no such client: {key_id}")
        service.set_client_status(session, CONSOLE, client_id=client.id, status="suspended")
    typer.echo(f"已暂停 suspended {key_id}")


@clients_app.command("clean")
@friendly_errors
def clients_clean() -> None:
    """Delete nonces past retention, old rate windows and long-expired sessions. 清理过期数据。"""
    with transaction() as session:
        counts = service.clean_expired(session, settings=get_settings())
    typer.echo(" ".join(f"{k}={v}" for k, v in counts.items()))


@institutions_app.command("list")
@friendly_errors
def institutions_list(json: JsonOption = False) -> None:
    """List institutions and their admission status. 列出接入机构。"""
    with transaction() as session:
        rows = [
            {"id": i.id, "code": i.code, "name": i.name, "kind": i.kind, "status": i.status}
            for i in service.list_institutions(session)
        ]
    if json:
        typer.echo(_json(rows))
        return
    typer.echo(
        _table(
            ["id", "code", "name", "kind", "status"],
            [
                [str(r["id"]), str(r["code"]), str(r["name"]), str(r["kind"]), str(r["status"])]
                for r in rows
            ],
        )
    )


def _move(code: str, target: str, reason: str) -> None:
    with transaction() as session:
        institution = service.get_institution_by_code(session, code)
        if institution is None:
            raise fail(f"接入机构不存在 no such institution: {code}")
        service.transition_institution(
            session, CONSOLE, institution_id=institution.id, target=target, reason=reason
        )
    typer.echo(f"{code}: {target}")


ReasonOption = Annotated[str, typer.Option(help="why (kept in the audit trail)")]


@institutions_app.command("invite")
@friendly_errors
def institutions_invite(
    code: str, note: Annotated[str, typer.Option(help="kept with the invitation")] = ""
) -> None:
    """Invite an admitted institution's first officer-administrator; prints the link once.
    机构管理员邀请（仅在机构尚无机构管理员时）。"""
    with transaction() as session:
        institution = service.get_institution_by_code(session, code)
        if institution is None:
            raise fail(f"接入机构不存在 no such institution: {code}")
        issued = service.invite_institution_admin(
            session, CONSOLE, institution_id=institution.id, note=note
        )
        path = issued.path
    link = get_settings().public_base_url.rstrip("/") + path
    typer.echo(f"邀请链接（仅显示一次，7 天内有效）invitation link, shown once: {link}")


@institutions_app.command("admit")
@friendly_errors
def institutions_admit(code: str, reason: ReasonOption = "") -> None:
    """Approve an assessed (or reinstate a suspended) institution. 准入/恢复。"""
    _move(code, "approved", reason)


@institutions_app.command("suspend")
@friendly_errors
def institutions_suspend(code: str, reason: ReasonOption = "") -> None:
    """Suspend an institution: its sessions and clients stop at the next request. 暂停。"""
    _move(code, "suspended", reason)


@institutions_app.command("revoke")
@friendly_errors
def institutions_revoke(code: str, reason: ReasonOption = "") -> None:
    """Revoke an institution for good. 撤销接入。"""
    _move(code, "revoked", reason)


@access_app.command("demo-logins")
@friendly_errors
def demo_logins(json: JsonOption = False) -> None:
    """Create (once) and print one demo login per role. 打印各角色演示账户。"""
    with transaction() as session:
        logins = ensure_demo_logins(session, CONSOLE, settings=get_settings())
    rows = [
        {
            "role": login.role.value,
            "role_zh": login.role.label_zh,
            "username": login.username,
            "password": login.password,
            "totp_secret": login.totp_secret,
            "current_code": login.current_code(),
            "bound_to": login.bound_to,
            "division_code": login.division_code,
        }
        for login in logins
    ]
    if json:
        typer.echo(_json(rows))
        return
    typer.echo(
        _table(
            [
                "角色 role",
                "用户名 username",
                "密码 password",
                "TOTP secret",
                "code now",
                "bound to",
            ],
            [
                [
                    f"{r['role_zh']} {r['role']}",
                    str(r["username"]),
                    str(r["password"]),
                    str(r["totp_secret"] or "—"),
                    str(r["current_code"] or "—"),
                    str(r["bound_to"]),
                ]
                for r in rows
            ],
        )
    )
