"""What the access topics share: the audit helper, the role check, at-rest encryption of secrets."""

from __future__ import annotations

from typing import Any

from sqlalchemy import update
from sqlalchemy.orm import Session

from creditbridge.access.models import LoginSession
from creditbridge.audit import service as audit_service
from creditbridge.core import crypto
from creditbridge.core.actors import Actor, ActorKind, Role
from creditbridge.core.clock import utc_now
from creditbridge.core.config import Settings
from creditbridge.core.errors import Forbidden


def _sm4_key(settings: Settings, purpose: str) -> bytes:
    """A 128-bit SM4 key for one purpose, derived from the master secret with HMAC-SM3, so
    TOTP seeds and client secrets are encrypted at rest (GB/T 39786 §8.4 e) under separate keys."""
    return crypto.hmac_sm3(settings.secret_key_bytes(), f"sm4:{purpose}".encode())[:16]


def encrypt(settings: Settings, purpose: str, plaintext: str, *, aad: str) -> bytes:
    return crypto.sm4_gcm_encrypt(_sm4_key(settings, purpose), plaintext.encode(), aad=aad.encode())


def decrypt(settings: Settings, purpose: str, token: bytes, *, aad: str) -> str:
    return crypto.sm4_gcm_decrypt(_sm4_key(settings, purpose), token, aad=aad.encode()).decode()


def audit(
    session: Session,
    actor: Actor,
    *,
    action: str,
    object_type: str,
    object_id: str | int | None = None,
    subject_id: int | None = None,
    detail: dict[str, Any] | None = None,
) -> None:
    audit_service.record(
        session,
        actor,
        action=action,
        object_type=object_type,
        object_id=object_id,
        subject_id=subject_id,
        detail=detail,
    )


def require(actor: Actor, *roles: Role, what: str) -> None:
    """Console operators (who hold the server) may do everything; users only their role's job."""
    if actor.kind in (ActorKind.CLI, ActorKind.SYSTEM):
        return
    if not actor.has_role(*roles):
        raise Forbidden(f"当前角色无权{what}")


def end_sessions_of(session: Session, user_id: int) -> None:
    """End every open session of a user, so a change of rights or password bites at once."""
    session.execute(
        update(LoginSession)
        .where(LoginSession.user_id == user_id, LoginSession.ended_at.is_(None))
        .values(ended_at=utc_now())
    )
