"""Login and sessions: password and TOTP factors, lockout, session lookup and end, password change."""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from datetime import timedelta
from typing import Final

import pyotp
from sqlalchemy import select
from sqlalchemy.orm import Session

from creditbridge.access import domain
from creditbridge.access.errors import LoginFailed, PasswordChangeRefused
from creditbridge.access.models import Institution, LoginSession, User
from creditbridge.access.service import attempts
from creditbridge.access.service._common import audit, decrypt, encrypt, end_sessions_of
from creditbridge.access.service.users import (
    actor_for_user,
    get_user_by_username,
    hash_password,
    password_matches,
)
from creditbridge.core import crypto
from creditbridge.core.actors import Actor, ActorKind, Role
from creditbridge.core.clock import utc_now
from creditbridge.core.config import Settings
from creditbridge.core.errors import Forbidden, Issue, ValidationFailed

# Verified when the account does not exist, so a wrong username takes as long as a wrong password.
_DUMMY_HASH: Final = hash_password("creditbridge-dummy-password")

LOGIN_FAILED_MESSAGE: Final = "用户名或密码错误；连续多次失败后账户将被暂时锁定。"
TOTP_FAILED_MESSAGE: Final = "动态口令错误或已使用过；连续多次失败后账户将被暂时锁定。"
PENDING_MESSAGE: Final = "账户尚待企业现有用户或平台运营方批准，批准后方可登录。"


@dataclass(frozen=True)
class NewSession:
    """A login session just opened: the cookie token (shown once, never stored) and its row."""

    token: str
    row: LoginSession


def _token_hash(token: str) -> str:
    return crypto.sm3_hex(token.encode())


def _note_failure(user: User, settings: Settings) -> None:
    user.failed_logins += 1
    if user.failed_logins >= settings.login_max_failures:
        # 等保 2.0 §8.1.4 b): 限制非法登录次数, 登录失败处理.
        user.locked_until = utc_now() + timedelta(minutes=settings.login_lockout_minutes)
        user.failed_logins = 0


def _is_locked(user: User) -> bool:
    return user.locked_until is not None and user.locked_until > utc_now()


def login_with_password(
    session: Session, *, username: str, password: str, ip: str | None = None, settings: Settings
) -> NewSession:
    """First factor. Opens a session that is *pending* until the second factor when the user
    has or needs TOTP. Every failure looks the same to the caller (LoginFailed).

    Besides each account's own lockout, failures are counted per client address across all
    accounts (password spraying); past the limit the address gets TooManyAttempts (429)."""
    limits = attempts.login_limits(ip=ip, settings=settings)
    anonymous = Actor(kind=ActorKind.SYSTEM, id=None, name="login", ip=ip)
    attempts.ensure_allowed(
        session, limits, actor=anonymous, action="login.throttled", settings=settings
    )
    user = get_user_by_username(session, username.strip())
    if user is None:
        password_matches(_DUMMY_HASH, password)
        attempts.count_failure(session, limits)
        raise LoginFailed(LOGIN_FAILED_MESSAGE)
    actor = actor_for_user(user, ip=ip)
    if _is_locked(user) or user.status == "disabled":
        password_matches(_DUMMY_HASH, password)
        attempts.count_failure(session, limits)
        audit(
            session,
            actor,
            action="login.refused",
            object_type="user",
            object_id=user.id,
            detail={"reason": "locked" if _is_locked(user) else "disabled"},
        )
        raise LoginFailed(LOGIN_FAILED_MESSAGE)
    if not password_matches(user.password_hash, password):
        _note_failure(user, settings)
        attempts.count_failure(session, limits)
        session.flush()
        audit(
            session,
            actor,
            action="login.failed",
            object_type="user",
            object_id=user.id,
            detail={"factor": "password"},
        )
        raise LoginFailed(LOGIN_FAILED_MESSAGE)
    if user.status != "active":
        # Told only to whoever knows the password: a registration still waiting for approval.
        audit(
            session,
            actor,
            action="login.refused",
            object_type="user",
            object_id=user.id,
            detail={"reason": user.status},
        )
        raise LoginFailed(PENDING_MESSAGE, key="access.login_pending")
    needs_second = user.totp_enabled or Role(user.role) in domain.TOTP_REQUIRED
    opened = _open_session(session, user, ip=ip, mfa_passed=not needs_second, settings=settings)
    if not needs_second:
        _complete_login(session, user, actor)
    else:
        session.flush()
    return opened


def _open_session(
    session: Session, user: User, *, ip: str | None, mfa_passed: bool, settings: Settings
) -> NewSession:
    now = utc_now()
    token = secrets.token_urlsafe(32)
    # A session waiting for its second factor lives only minutes.
    lifetime = (
        timedelta(hours=settings.session_absolute_hours) if mfa_passed else timedelta(minutes=10)
    )
    row = LoginSession(
        token_hash=_token_hash(token),
        user_id=user.id,
        csrf_token=secrets.token_urlsafe(32),
        mfa_passed=mfa_passed,
        created_at=now,
        last_seen_at=now,
        expires_at=now + lifetime,
        ip=ip,
    )
    session.add(row)
    session.flush()
    return NewSession(token, row)


def _complete_login(session: Session, user: User, actor: Actor) -> None:
    user.failed_logins = 0
    user.locked_until = None
    user.last_login_at = utc_now()
    session.flush()
    audit(session, actor, action="login.succeeded", object_type="user", object_id=user.id)


def pending_user(
    session: Session, token: str, *, settings: Settings
) -> tuple[LoginSession, User] | None:
    """The session waiting for its second factor, and its user."""
    found = _session_and_user(session, token, settings)
    if found is None or found[0].mfa_passed:
        return None
    return found


def totp_secret_of(user: User, *, settings: Settings) -> str | None:
    if user.totp_secret_enc is None:
        return None
    return decrypt(settings, "totp", user.totp_secret_enc, aad=f"access_user:{user.id}:totp")


def start_totp_enrolment(session: Session, user: User, *, settings: Settings) -> str:
    """A fresh secret for a user who has none enabled yet (kept until confirmed with a code)."""
    if user.totp_enabled:
        raise Forbidden("动态口令已绑定，如需更换请联系安全管理员")
    secret = totp_secret_of(user, settings=settings)
    if secret is None:
        secret = pyotp.random_base32()
        user.totp_secret_enc = encrypt(settings, "totp", secret, aad=f"access_user:{user.id}:totp")
        session.flush()
    return secret


def totp_uri(user: User, secret: str, *, issuer: str) -> str:
    return pyotp.TOTP(secret).provisioning_uri(name=user.username, issuer_name=issuer)


def _matching_step(secret: str, code: str, last_step: int | None) -> int | None:
    """The time step ``code`` belongs to (±1 step of drift), if it is newer than the last used."""
    code = code.strip().replace(" ", "")
    if not re.fullmatch(r"\d{6}", code):
        return None
    totp = pyotp.TOTP(secret)
    now_step = int(utc_now().timestamp()) // totp.interval
    for step in (now_step - 1, now_step, now_step + 1):
        if last_step is not None and step <= last_step:
            continue  # a code is valid once: replaying an observed code must fail
        if crypto.constant_time_equal(totp.at(step * totp.interval).encode(), code.encode()):
            return step
    return None


def verify_second_factor(
    session: Session, *, token: str, code: str, ip: str | None = None, settings: Settings
) -> NewSession:
    """Second factor for a pending session; on success the session is replaced by a new one
    (new token, new CSRF token) so a token seen before login is worthless after it."""
    found = pending_user(session, token, settings=settings)
    if found is None:
        raise LoginFailed("登录已过期，请重新登录")
    pending, user = found
    actor = actor_for_user(user, ip=ip)
    secret = totp_secret_of(user, settings=settings)
    step = (
        None
        if secret is None or _is_locked(user)
        else _matching_step(secret, code, user.totp_last_step)
    )
    if step is None:
        _note_failure(user, settings)
        session.flush()
        audit(
            session,
            actor,
            action="login.failed",
            object_type="user",
            object_id=user.id,
            detail={"factor": "totp"},
        )
        raise LoginFailed(TOTP_FAILED_MESSAGE)
    user.totp_last_step = step
    if not user.totp_enabled:
        user.totp_enabled = True
        audit(session, actor, action="totp.enrol", object_type="user", object_id=user.id)
    pending.ended_at = utc_now()
    opened = _open_session(session, user, ip=ip, mfa_passed=True, settings=settings)
    _complete_login(session, user, actor)
    return opened


def _session_and_user(
    session: Session, token: str, settings: Settings
) -> tuple[LoginSession, User] | None:
    if not token or len(token) > 200:
        return None
    row = session.scalar(select(LoginSession).where(LoginSession.token_hash == _token_hash(token)))
    if row is None or row.ended_at is not None:
        return None
    now = utc_now()
    if now >= row.expires_at or now - row.last_seen_at >= timedelta(
        minutes=settings.session_idle_minutes
    ):
        return None
    user = session.get(User, row.user_id)
    if user is None or user.status != "active":
        return None
    return row, user


@dataclass(frozen=True)
class ActiveSession:
    actor: Actor
    csrf_token: str
    display_name: str


def resolve_session(
    session: Session, *, token: str, ip: str | None = None, settings: Settings
) -> ActiveSession | None:
    """The logged-in actor behind a session cookie, checked afresh on every request: expiry (idle
    30 min, absolute 12 h — 等保 2.0 §8.1.4 b) 连接超时自动退出), the user's status and, for an
    officer, the institution's status, so a suspension bites on the very next request."""
    found = _session_and_user(session, token, settings)
    if found is None or not found[0].mfa_passed:
        return None
    row, user = found
    if user.institution_id is not None:
        status = session.scalar(
            select(Institution.status).where(Institution.id == user.institution_id)
        )
        if status != "approved":
            return None
    now = utc_now()
    # Written at most once a minute: enough for a 30-minute idle limit, and most requests write nothing.
    if now - row.last_seen_at >= timedelta(minutes=1):
        row.last_seen_at = now
        session.flush()
    return ActiveSession(actor_for_user(user, ip=ip), row.csrf_token, user.display_name)


def end_session(session: Session, *, token: str, ip: str | None = None, settings: Settings) -> None:
    found = _session_and_user(session, token, settings)
    if found is None:
        return
    row, user = found
    row.ended_at = utc_now()
    session.flush()
    if row.mfa_passed:
        audit(
            session,
            actor_for_user(user, ip=ip),
            action="logout",
            object_type="user",
            object_id=user.id,
        )


def change_password(
    session: Session, actor: Actor, *, current: str, new: str, settings: Settings
) -> User:
    """A signed-in user replaces its own password: the current one is checked (a wrong one
    counts towards the lockout like a failed login, and is audited), the new one must meet the
    policy and differ from it. Every session of the user then ends, so a stolen session does not
    outlive the change; the user logs in again.

    Raises PasswordChangeRefused for a wrong current password (or a locked account): its failure
    count and audit event are kept when the entry point's unit of work rolls the request back;
    ValidationFailed for a new password that breaks the policy."""
    if actor.kind is not ActorKind.USER or actor.id is None:
        raise Forbidden("只有登录用户可以修改自己的密码")
    user = session.get(User, actor.id)
    if user is None or user.status != "active":
        raise Forbidden("账户不可用")
    if _is_locked(user) or not password_matches(user.password_hash, current):
        user_id = user.id

        def record(into: Session) -> None:
            _refuse_password_change(into, actor, user_id=user_id, settings=settings)

        record(session)
        refused = PasswordChangeRefused(
            "当前密码不正确",
            issues=[Issue("wrong_password", "当前密码不正确", field="current_password")],
        )
        refused.kept_on_rollback = record
        raise refused
    issues = domain.password_issues(new, username=user.username)
    if new == current:
        issues.append(Issue("unchanged", "新密码不能与当前密码相同", field="password"))
    if issues:
        raise ValidationFailed("新密码不符合要求", issues=issues)
    user.password_hash = hash_password(new)
    user.failed_logins = 0
    end_sessions_of(session, user.id)
    session.flush()
    audit(session, actor, action="password.change", object_type="user", object_id=user.id)
    return user


def _refuse_password_change(
    session: Session, actor: Actor, *, user_id: int, settings: Settings
) -> None:
    """Count a wrong current password towards the lockout (unless already locked), and audit it."""
    user = session.get(User, user_id)
    if user is None:
        return
    if not _is_locked(user):
        _note_failure(user, settings)
    session.flush()
    audit(
        session,
        actor,
        action="password.change_refused",
        object_type="user",
        object_id=user.id,
        detail={"reason": "locked" if _is_locked(user) else "wrong_password"},
    )
