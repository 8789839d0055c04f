"""API clients: registration, signed-request authentication, nonces and rate counting."""

from __future__ import annotations

import base64
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Final

from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from creditbridge.access import domain
from creditbridge.access.errors import (
    ClientSuspended,
    RateLimited,
    ReplayedNonce,
    SignatureInvalid,
    StaleRequest,
    UnknownKey,
)
from creditbridge.access.models import ApiClient, ApiNonce, Institution, LoginSession, RateWindow
from creditbridge.access.service import attempts
from creditbridge.access.service._common import audit, decrypt, encrypt, require
from creditbridge.core import crypto
from creditbridge.core.actors import Actor, ActorKind, Role
from creditbridge.core.clock import utc_now
from creditbridge.core.config import Settings
from creditbridge.core.errors import Issue, NotFound, ValidationFailed

CLIENT_OWNER_KINDS: Final = ("institution", "provider", "node")
ALGORITHMS: Final = ("sm2", "hmac-sm3")


@dataclass(frozen=True)
class IssuedClient:
    """A new client and its secret material, shown once: the HMAC secret, or the SM2 private key
    PEM when the platform generated the pair (none when the caller brought its public key)."""

    client: ApiClient
    secret: str | None = None
    private_key_pem: str | None = None


def list_clients(session: Session) -> list[ApiClient]:
    return list(session.scalars(select(ApiClient).order_by(ApiClient.key_id)))


def access_client(session: Session, actor: Actor, client_id: int) -> ApiClient:
    client = session.get(ApiClient, client_id)
    visible = client is not None and (
        actor.has_role(Role.SECURITY_ADMIN) or actor.kind in (ActorKind.CLI, ActorKind.SYSTEM)
    )
    if client is None or not visible:
        raise NotFound("接口客户端不存在")
    return client


def create_client(
    session: Session,
    actor: Actor,
    *,
    name: str,
    owner_kind: str,
    algorithm: str,
    institution_id: int | None = None,
    provider_id: int | None = None,
    node_code: str | None = None,
    public_key_pem: str | None = None,
    rate_limit_per_minute: int | None = None,
    settings: Settings,
) -> IssuedClient:
    """Register a system that will sign its API requests (security admin's job)."""
    require(actor, Role.SECURITY_ADMIN, what="管理接口客户端")
    issues = []
    name = name.strip()
    if not name or len(name) > 200:
        issues.append(Issue("invalid", "名称不能为空且不超过 200 字", field="name"))
    if owner_kind not in CLIENT_OWNER_KINDS:
        issues.append(Issue("invalid", "所属类型不在允许范围内", field="owner_kind"))
    if algorithm not in ALGORITHMS:
        issues.append(Issue("invalid", "签名算法须为 sm2 或 hmac-sm3", field="algorithm"))
    owner = {"institution": institution_id, "provider": provider_id, "node": node_code}
    if owner_kind in owner and not owner[owner_kind]:
        issues.append(Issue("required", "须指定所属单位", field=f"{owner_kind}_id"))
    if (
        owner_kind == "institution"
        and institution_id
        and session.get(Institution, institution_id) is None
    ):
        issues.append(Issue("not_found", "所属机构不存在", field="institution_id"))
    limit = rate_limit_per_minute or settings.api_rate_limit_per_minute
    if limit < 1 or limit > 100_000:
        issues.append(
            Issue("invalid", "限流须在 1–100000 次/分钟之间", field="rate_limit_per_minute")
        )
    public_key = None
    if algorithm == "sm2" and public_key_pem:
        try:
            public_key = crypto.Sm2PublicKey.from_pem(public_key_pem)
        except crypto.CryptoError:
            issues.append(Issue("invalid", "SM2 公钥格式有误（应为 PEM）", field="public_key_pem"))
    if issues:
        raise ValidationFailed("接口客户端信息有误", issues=issues)
    key_id = f"cb-{secrets.token_hex(8)}"
    client = ApiClient(
        key_id=key_id,
        name=name,
        owner_kind=owner_kind,
        institution_id=institution_id if owner_kind == "institution" else None,
        provider_id=provider_id if owner_kind == "provider" else None,
        node_code=node_code if owner_kind == "node" else None,
        algorithm=algorithm,
        status="active",
        rate_limit_per_minute=limit,
        created_at=utc_now(),
    )
    secret = private_pem = None
    if algorithm == "hmac-sm3":
        secret = secrets.token_urlsafe(32)
        client.secret_enc = encrypt(settings, "client", secret, aad=f"access_api_client:{key_id}")
    else:
        if public_key is None:
            private_key = crypto.Sm2PrivateKey.generate()
            private_pem = private_key.to_pem()
            public_key = private_key.public_key
        client.public_key_pem = public_key.to_pem()
    session.add(client)
    try:
        with session.begin_nested():
            session.flush()
    except IntegrityError:
        raise ValidationFailed(
            "接口客户端信息有误", issues=[Issue("not_found", "所属单位不存在", field="owner")]
        ) from None
    audit(
        session,
        actor,
        action="api_client.create",
        object_type="api_client",
        object_id=client.id,
        detail={"key_id": key_id, "owner_kind": owner_kind, "algorithm": algorithm},
    )
    return IssuedClient(client, secret, private_pem)


def set_client_status(session: Session, actor: Actor, *, client_id: int, status: str) -> ApiClient:
    require(actor, Role.SECURITY_ADMIN, what="管理接口客户端")
    client = access_client(session, actor, client_id)
    if status not in ("active", "suspended"):
        raise ValidationFailed(
            "状态有误", issues=[Issue("invalid", "状态须为 active 或 suspended", field="status")]
        )
    previous, client.status = client.status, status
    session.flush()
    audit(
        session,
        actor,
        action=f"api_client.{'suspend' if status == 'suspended' else 'activate'}",
        object_type="api_client",
        object_id=client.id,
        detail={"key_id": client.key_id, "from": previous, "to": status},
    )
    return client


def get_client_by_key_id(session: Session, key_id: str) -> ApiClient | None:
    return session.scalar(select(ApiClient).where(ApiClient.key_id == key_id))


def parse_timestamp(value: str) -> datetime | None:
    """Epoch seconds or RFC 3339 (with a zone); None when it is neither."""
    value = value.strip()
    try:
        if re.fullmatch(r"\d{9,11}", value):
            return datetime.fromtimestamp(int(value), tz=UTC)
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))
    except (ValueError, OverflowError):
        return None
    return parsed if parsed.tzinfo is not None else None


SIGNATURE_HEADERS: Final = (
    "x-cb-key-id",
    "x-cb-timestamp",
    "x-cb-nonce",
    "x-cb-content-sm3",
    "x-cb-signature",
)
_NONCE = re.compile(r"^[A-Za-z0-9_\-.:]{8,128}$")


def authenticate_request(
    session: Session,
    *,
    method: str,
    path: str,
    query: str,
    headers: dict[str, str],
    body: bytes,
    ip: str | None = None,
    settings: Settings,
) -> Actor:
    """The API client that signed this request, or the reason it is refused (see errors).

    The nonce is stored and the rate window counted in ``session``: the caller commits them at
    once, whatever the request's own outcome, so a refused or failed request cannot be replayed.
    """
    missing = [name for name in SIGNATURE_HEADERS if not headers.get(name)]
    if missing:
        raise SignatureInvalid("缺少签名请求头：" + ", ".join(missing))
    key_id = headers["x-cb-key-id"]
    moment = parse_timestamp(headers["x-cb-timestamp"])
    if moment is None:
        raise SignatureInvalid("X-CB-Timestamp 应为 RFC 3339 时间或 Unix 秒数")
    if abs((utc_now() - moment).total_seconds()) > settings.signature_skew_seconds:
        raise StaleRequest(f"请求时间与服务器相差超过 {settings.signature_skew_seconds} 秒")
    nonce = headers["x-cb-nonce"]
    if not _NONCE.fullmatch(nonce):
        raise SignatureInvalid("X-CB-Nonce 应为 8–128 位字母、数字或 _-.:")
    client = get_client_by_key_id(session, key_id[:64])
    if client is None:
        raise UnknownKey("未知的密钥编号")
    body_sm3 = crypto.sm3_hex(body)
    if not crypto.constant_time_equal(
        headers["x-cb-content-sm3"].lower().encode(), body_sm3.encode()
    ):
        raise SignatureInvalid("X-CB-Content-SM3 与请求体不符")
    message = domain.canonical_request(
        method, path, query, headers["x-cb-timestamp"], nonce, body_sm3
    )
    try:
        signature = base64.b64decode(headers["x-cb-signature"], validate=True)
    except ValueError:
        raise SignatureInvalid("X-CB-Signature 应为 base64") from None
    if not _signature_valid(client, message, signature, settings):
        raise SignatureInvalid("签名验证失败")
    if client.status != "active":
        raise ClientSuspended("该接口客户端已暂停")
    institution = session.get(Institution, client.institution_id) if client.institution_id else None
    if institution is not None and institution.status != "approved":
        raise ClientSuspended("所属接入机构已暂停或撤销接入")
    _remember_nonce(session, key_id, nonce)
    _count_request(session, client)
    if (
        institution is not None
        and institution.throttled_until
        and institution.throttled_until > utc_now()
    ):
        wait = int((institution.throttled_until - utc_now()).total_seconds())
        raise RateLimited("该机构的数据查询已被临时限制，请联系平台安全管理员", retry_after=wait)
    return Actor(
        kind=ActorKind.API_CLIENT,
        id=client.id,
        name=client.key_id,
        role=Role.INSTITUTION_OFFICER
        if client.owner_kind == "institution"
        else (Role.PROVIDER_USER if client.owner_kind == "provider" else None),
        institution_id=client.institution_id,
        provider_id=client.provider_id,
        ip=ip,
    )


def _signature_valid(
    client: ApiClient, message: bytes, signature: bytes, settings: Settings
) -> bool:
    if client.algorithm == "hmac-sm3" and client.secret_enc is not None:
        secret = decrypt(
            settings, "client", client.secret_enc, aad=f"access_api_client:{client.key_id}"
        )
        expected = crypto.hmac_sm3(secret.encode(), message)
        return crypto.constant_time_equal(expected, signature)
    if client.algorithm == "sm2" and client.public_key_pem:
        return crypto.verify(
            crypto.Sm2PublicKey.from_pem(client.public_key_pem), message, signature
        )
    return False


def _remember_nonce(session: Session, key_id: str, nonce: str) -> None:
    # The unique (key_id, nonce) constraint decides races between workers: the loser is a replay.
    try:
        with session.begin_nested():
            session.add(ApiNonce(key_id=key_id, nonce=nonce, seen_at=utc_now()))
            session.flush()
    except IntegrityError:
        raise ReplayedNonce("该 nonce 已使用过") from None


def _count_request(session: Session, client: ApiClient) -> None:
    """Fixed one-minute windows counted in the database, so every worker and every server of the
    node shares one count per client (an in-process bucket would multiply the limit by workers)."""
    now = utc_now()
    window = now.replace(second=0, microsecond=0)
    counted = session.execute(
        update(RateWindow)
        .where(RateWindow.client_id == client.id, RateWindow.window_start == window)
        .values(count=RateWindow.count + 1)
    )
    if getattr(counted, "rowcount", 0) == 0:
        try:
            with session.begin_nested():
                session.add(RateWindow(client_id=client.id, window_start=window, count=1))
                session.flush()
        except IntegrityError:  # another worker opened the window first
            session.execute(
                update(RateWindow)
                .where(RateWindow.client_id == client.id, RateWindow.window_start == window)
                .values(count=RateWindow.count + 1)
            )
    count = (
        session.scalar(
            select(RateWindow.count).where(
                RateWindow.client_id == client.id, RateWindow.window_start == window
            )
        )
        or 0
    )
    if count > client.rate_limit_per_minute:
        retry = 60 - now.second
        raise RateLimited(f"每分钟最多 {client.rate_limit_per_minute} 次请求", retry_after=retry)


def clean_expired(session: Session, *, settings: Settings) -> dict[str, int]:
    """Delete nonces older than the retention (which exceeds the skew window, so a deleted nonce's
    timestamp is already stale), rate windows older than an hour, ended sessions, and counted
    login and registration attempts past their window."""
    now = utc_now()
    retention = max(settings.nonce_retention_seconds, 2 * settings.signature_skew_seconds + 60)
    nonces = session.execute(
        delete(ApiNonce).where(ApiNonce.seen_at < now - timedelta(seconds=retention))
    )
    windows = session.execute(
        delete(RateWindow).where(RateWindow.window_start < now - timedelta(hours=1))
    )
    sessions = session.execute(
        delete(LoginSession).where(LoginSession.expires_at < now - timedelta(days=1))
    )
    counted = attempts.clean_attempts(session, settings=settings)
    session.flush()
    return {
        "nonces": getattr(nonces, "rowcount", 0),
        "rate_windows": getattr(windows, "rowcount", 0),
        "sessions": getattr(sessions, "rowcount", 0),
        "attempts": counted,
    }
