"""Use cases of the trust layer: institution admission, users and their login, sessions, API
clients and signed requests, and abuse detection over data reads.

Services flush, never commit; every change and every login is written to the audit trail in the
same transaction (等保 2.0 §8.1.4 安全审计). Lookups by id go through ``access_*`` functions that
raise NotFound rather than reveal that something exists to an actor who may not see it.
"""

from __future__ import annotations

import base64
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Any, Final

import pyotp
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import Insert, Integer, bindparam, func, select, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from creditbridge.access import domain
from creditbridge.access.errors import (
    ClientSuspended,
    LoginFailed,
    RateLimited,
    ReplayedNonce,
    SignatureInvalid,
    StaleRequest,
    UnknownKey,
)
from creditbridge.access.models import (
    AbuseFlag,
    ApiClient,
    ApiNonce,
    Institution,
    LoginSession,
    RateWindow,
    ReadTally,
    User,
)
from creditbridge.core import crypto
from creditbridge.core.actors import Actor, ActorKind, Role
from creditbridge.core.clock import utc_now
from creditbridge.core.config import Settings, get_settings
from creditbridge.core.errors import (
    Forbidden,
    InvalidTransition,
    Issue,
    NotFound,
    ValidationFailed,
)
from creditbridge.protection import service as protection

# --- Keys and audit --------------------------------------------------------------------------


def _settings() -> Settings:
    return get_settings()


def _sm4_key(purpose: str) -> bytes:
    """A 128-bit SM4 key for one purpose, derived from the master secret with HMAC-SM3, so
    TOTP seeds and client secrets are encrypted at rest (GB/T 39786 §8.4 e) under separate keys."""
    return crypto.hmac_sm3(_settings().secret_key_bytes(), f"sm4:{purpose}".encode())[:16]


def _encrypt(purpose: str, plaintext: str, *, aad: str) -> bytes:
    return crypto.sm4_gcm_encrypt(_sm4_key(purpose), plaintext.encode(), aad=aad.encode())


def _decrypt(purpose: str, token: bytes, *, aad: str) -> str:
    return crypto.sm4_gcm_decrypt(_sm4_key(purpose), token, aad=aad.encode()).decode()


def _audit(
    session: Session,
    actor: Actor,
    *,
    action: str,
    object_type: str,
    object_id: str | int | None = None,
    subject_id: int | None = None,
    detail: dict[str, Any] | None = None,
) -> None:
    # Imported here: the audit module depends on access (for actors' names) in some paths.
    from creditbridge.audit import service as audit_service

    audit_service.record(
        session,
        actor,
        action=action,
        object_type=object_type,
        object_id=object_id,
        subject_id=subject_id,
        detail=detail,
    )


# --- Institutions ----------------------------------------------------------------------------


def count_institutions(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(Institution)) or 0


def list_institutions(session: Session, *, status: str | None = None) -> list[Institution]:
    query = select(Institution).order_by(Institution.code)
    if status:
        query = query.where(Institution.status == status)
    return list(session.scalars(query))


def get_institution_by_code(session: Session, code: str) -> Institution | None:
    return session.scalar(select(Institution).where(Institution.code == code))


def access_institution(session: Session, actor: Actor, institution_id: int) -> Institution:
    """The institution if the actor may see it: operators and admins see all, an officer its own."""
    institution = session.get(Institution, institution_id)
    visible = institution is not None and (
        actor.has_role(Role.OPERATOR, Role.SECURITY_ADMIN, Role.SYSTEM_ADMIN, Role.AUDIT_ADMIN)
        or actor.kind in (ActorKind.CLI, ActorKind.SYSTEM)
        or actor.institution_id == institution_id
    )
    if institution is None or not visible:
        raise NotFound("接入机构不存在")
    return institution


def apply_institution(
    session: Session,
    actor: Actor,
    *,
    code: str,
    name: str,
    kind: str,
    division_code: str,
    uscc: str | None = None,
) -> Institution:
    """An institution's application for admission (state ``applied``)."""
    issues = []
    code, name = code.strip(), name.strip()
    if not re.fullmatch(r"[A-Za-z0-9_.-]{2,64}", code):
        issues.append(Issue("invalid", "机构代码为 2–64 位字母、数字或 _ . -", field="code"))
    if not name or len(name) > 200:
        issues.append(Issue("invalid", "机构名称不能为空且不超过 200 字", field="name"))
    if kind not in domain.INSTITUTION_KINDS:
        issues.append(Issue("invalid", "机构类型不在允许范围内", field="kind", value=kind))
    if not re.fullmatch(r"\d{6}", division_code):
        issues.append(Issue("invalid", "行政区划代码为 6 位数字", field="division_code"))
    if issues:
        raise ValidationFailed("机构申请信息有误", issues=issues)
    if get_institution_by_code(session, code) is not None:
        raise ValidationFailed(
            "机构代码已存在", issues=[Issue("duplicate", "机构代码已存在", field="code")]
        )
    now = utc_now()
    institution = Institution(
        code=code,
        name=name,
        kind=kind,
        uscc=uscc or None,
        division_code=division_code,
        status="applied",
        assessment={},
        status_changed_at=now,
        created_at=now,
    )
    session.add(institution)
    session.flush()
    _audit(
        session,
        actor,
        action="institution.apply",
        object_type="institution",
        object_id=institution.id,
        detail={"code": code, "kind": kind},
    )
    return institution


def check_assessment_item(
    session: Session, actor: Actor, *, institution_id: int, item: str, checked: bool, note: str
) -> Institution:
    """Record one item of the security assessment (only while ``assessing``)."""
    institution = access_institution(session, actor, institution_id)
    if item not in domain.ASSESSMENT_ITEMS:
        raise ValidationFailed(
            "评估项不存在", issues=[Issue("invalid", "评估项不存在", field="item")]
        )
    if institution.status != "assessing":
        raise InvalidTransition("只有评估中的机构可以记录安全评估结果")
    if len(note) > 500:
        raise ValidationFailed(
            "说明过长", issues=[Issue("too_long", "说明不超过 500 字", field="note")]
        )
    assessment = dict(institution.assessment or {})
    assessment[item] = {
        "checked": checked,
        "note": note,
        "by": actor.name,
        "at": utc_now().isoformat(),
    }
    # A new dict, so the JSON column is seen as changed.
    institution.assessment = assessment
    session.flush()
    _audit(
        session,
        actor,
        action="institution.assess",
        object_type="institution",
        object_id=institution.id,
        detail={"item": item, "checked": checked, "note": note},
    )
    return institution


def transition_institution(
    session: Session, actor: Actor, *, institution_id: int, target: str, reason: str = ""
) -> Institution:
    """Move an institution along the admission workflow (:data:`domain.TRANSITIONS`).

    Suspension and revocation bite on the very next request: sessions and API clients check the
    institution's status on every request (see :func:`resolve_session`, :func:`authenticate_request`).
    """
    institution = access_institution(session, actor, institution_id)
    if not domain.can_transition(institution.status, target):
        raise InvalidTransition(f"接入机构不能从“{institution.status}”变为“{target}”")
    if target == "approved" and institution.status == "assessing":
        missing = domain.missing_assessment_items(institution.assessment)
        if missing:
            raise InvalidTransition(
                "安全评估尚未完成：" + "、".join(domain.ASSESSMENT_ITEMS[i] for i in missing)
            )
    if len(reason) > 500:
        raise ValidationFailed(
            "原因过长", issues=[Issue("too_long", "原因不超过 500 字", field="reason")]
        )
    previous = institution.status
    institution.status = target
    institution.status_reason = reason or None
    institution.status_changed_at = utc_now()
    session.flush()
    _audit(
        session,
        actor,
        action=f"institution.{target}",
        object_type="institution",
        object_id=institution.id,
        detail={"from": previous, "to": target, "reason": reason},
    )
    return institution


# --- Users and passwords ---------------------------------------------------------------------

_hasher = PasswordHasher()
# Verified when the account does not exist, so a wrong username takes as long as a wrong password.
_DUMMY_HASH: Final = _hasher.hash("creditbridge-dummy-password")


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def _password_matches(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def get_user_by_username(session: Session, username: str) -> User | None:
    return session.scalar(select(User).where(User.username == username))


def list_users(session: Session, actor: Actor) -> list[User]:
    query = select(User).order_by(User.username)
    if actor.has_role(Role.INSTITUTION_OFFICER):
        query = query.where(User.institution_id == actor.institution_id)
    elif not (
        actor.has_role(Role.SYSTEM_ADMIN, Role.SECURITY_ADMIN)
        or actor.kind in (ActorKind.CLI, ActorKind.SYSTEM)
    ):
        raise Forbidden("无权查看用户")
    return list(session.scalars(query))


def access_user(session: Session, actor: Actor, user_id: int) -> User:
    """The user if the actor may see it: system and security admins all, an officer colleagues."""
    user = session.get(User, user_id)
    visible = user is not None and (
        actor.has_role(Role.SYSTEM_ADMIN, Role.SECURITY_ADMIN)
        or actor.kind in (ActorKind.CLI, ActorKind.SYSTEM)
        or (
            actor.has_role(Role.INSTITUTION_OFFICER)
            and actor.institution_id is not None
            and user.institution_id == actor.institution_id
        )
    )
    if user is None or not visible:
        raise NotFound("用户不存在")
    return user


def _require(actor: Actor, *roles: Role, what: str) -> None:
    """Console operators (who hold the server) may do everything; users only their role's job."""
    if actor.kind in (ActorKind.CLI, ActorKind.SYSTEM):
        return
    if not actor.has_role(*roles):
        raise Forbidden(f"当前角色无权{what}")


def create_user(
    session: Session,
    actor: Actor,
    *,
    username: str,
    display_name: str,
    password: str,
    role: Role,
    institution_id: int | None = None,
    provider_id: int | None = None,
    subject_id: int | None = None,
) -> User:
    """An account with one role. The system admin creates accounts but never admin accounts: the
    three admin roles are granted only by the security admin (:func:`set_role`) or at the console
    (三员分立, 等保 2.0 §8.1.4 访问控制 c)."""
    _require(actor, Role.SYSTEM_ADMIN, what="创建用户")
    if role in domain.ADMIN_ROLES and actor.kind is ActorKind.USER:
        raise Forbidden("管理员账户只能由安全管理员授予或在服务器控制台创建")
    username = username.strip()
    display_name = display_name.strip()
    issues = domain.username_issues(username)
    issues += domain.password_issues(password, username=username)
    issues += domain.binding_issues(
        role, institution_id=institution_id, provider_id=provider_id, subject_id=subject_id
    )
    if not display_name or len(display_name) > 100:
        issues.append(Issue("invalid", "姓名不能为空且不超过 100 字", field="display_name"))
    if institution_id is not None and session.get(Institution, institution_id) is None:
        issues.append(Issue("not_found", "所属机构不存在", field="institution_id"))
    if issues:
        raise ValidationFailed("用户信息有误", issues=issues)
    if get_user_by_username(session, username) is not None:
        raise ValidationFailed(
            "用户名已被使用", issues=[Issue("duplicate", "用户名已被使用", field="username")]
        )
    user = User(
        username=username,
        display_name=display_name,
        role=role.value,
        institution_id=institution_id,
        provider_id=provider_id,
        subject_id=subject_id,
        status="active",
        password_hash=hash_password(password),
        totp_enabled=False,
        failed_logins=0,
        created_at=utc_now(),
    )
    session.add(user)
    try:
        with session.begin_nested():
            session.flush()
    except IntegrityError:
        raise ValidationFailed(
            "用户信息有误",
            issues=[Issue("not_found", "所属单位或企业不存在", field="binding")],
        ) from None
    _audit(
        session,
        actor,
        action="user.create",
        object_type="user",
        object_id=user.id,
        detail={"username": username, "role": role.value},
    )
    return user


def disable_user(session: Session, actor: Actor, *, user_id: int) -> User:
    _require(actor, Role.SYSTEM_ADMIN, what="停用用户")
    user = access_user(session, actor, user_id)
    if actor.kind is ActorKind.USER and user.id == actor.id:
        raise Forbidden("不能停用自己的账户")
    user.status = "disabled"
    _end_sessions_of(session, user.id)
    session.flush()
    _audit(session, actor, action="user.disable", object_type="user", object_id=user.id)
    return user


def set_role(session: Session, actor: Actor, *, user_id: int, role: Role) -> User:
    """Grant a user its one role. Only the security admin, never to itself; the user's sessions
    end so the new rights apply from the next login."""
    _require(actor, Role.SECURITY_ADMIN, what="分配角色")
    user = access_user(session, actor, user_id)
    if actor.kind is ActorKind.USER and user.id == actor.id:
        raise Forbidden("不能修改自己的角色")
    issues = domain.binding_issues(
        role,
        institution_id=user.institution_id,
        provider_id=user.provider_id,
        subject_id=user.subject_id,
    )
    if issues:
        raise ValidationFailed("该用户的绑定关系与角色不符", issues=issues)
    previous = user.role
    user.role = role.value
    _end_sessions_of(session, user.id)
    session.flush()
    _audit(
        session,
        actor,
        action="user.set_role",
        object_type="user",
        object_id=user.id,
        detail={"from": previous, "to": role.value},
    )
    return user


def actor_for_user(user: User, *, ip: str | None = None) -> Actor:
    return Actor(
        kind=ActorKind.USER,
        id=user.id,
        name=user.username,
        role=Role(user.role),
        institution_id=user.institution_id,
        provider_id=user.provider_id,
        subject_id=user.subject_id,
        ip=ip,
    )


# --- Enterprise registration -----------------------------------------------------------------


def verify_legal_representative(
    session: Session, *, uscc: str, name: str, id_tail: str
) -> int | None:
    """The subject's id when ``name`` is its legal representative and ``id_tail`` the last six
    characters of that person's identity number, per the registration records; else None.

    Reads the subject and its ``legal_rep_identity`` record directly: registration happens before
    the enterprise has any actor that subjects' consent-filtered reads would accept.
    """
    from creditbridge.subjects import service as subjects_service

    subject = subjects_service.find_subject_by_uscc(session, uscc)
    if subject is None or not name.strip() or len(id_tail.strip()) != 6:
        return None
    records = subjects_service.list_current_records(
        session,
        subject_id=subject.id,
        public_datasets=(),
        restricted_datasets=["legal_rep_identity"],
    )
    for record in records:
        # The identity number is stored SM4-GCM encrypted (level 4): compare the plaintext.
        data = protection.reveal_record(record.dataset_code, record.data or {})
        number = str(data.get("id_number") or "")
        if (
            str(data.get("person_name") or "") == name.strip()
            and len(number) >= 6
            and crypto.constant_time_equal(
                number[-6:].upper().encode(), id_tail.strip().upper().encode()
            )
        ):
            return subject.id
    return None


def register_enterprise_user(
    session: Session,
    *,
    uscc: str,
    legal_rep_name: str,
    id_tail: str,
    username: str,
    display_name: str,
    password: str,
    ip: str | None = None,
) -> User:
    """Self-registration of an enterprise: the legal representative is confirmed first."""
    subject_id = verify_legal_representative(
        session, uscc=uscc, name=legal_rep_name, id_tail=id_tail
    )
    if subject_id is None:
        raise ValidationFailed(
            "法定代表人核验未通过",
            issues=[
                Issue(
                    "unverified",
                    "统一社会信用代码、法定代表人姓名或证件号后六位不匹配",
                    field="uscc",
                )
            ],
        )
    registrar = Actor(kind=ActorKind.SYSTEM, id=None, name="registration", ip=ip)
    user = User(
        username=username.strip(),
        display_name=display_name.strip(),
        role=Role.ENTERPRISE_USER.value,
        subject_id=subject_id,
        status="active",
        password_hash="",
        totp_enabled=False,
        failed_logins=0,
        created_at=utc_now(),
    )
    issues = domain.username_issues(user.username) + domain.password_issues(
        password, username=user.username
    )
    if not user.display_name or len(user.display_name) > 100:
        issues.append(Issue("invalid", "姓名不能为空且不超过 100 字", field="display_name"))
    if issues:
        raise ValidationFailed("注册信息有误", issues=issues)
    if get_user_by_username(session, user.username) is not None:
        raise ValidationFailed(
            "用户名已被使用", issues=[Issue("duplicate", "用户名已被使用", field="username")]
        )
    user.password_hash = hash_password(password)
    session.add(user)
    session.flush()
    _audit(
        session,
        registrar,
        action="user.register",
        object_type="user",
        object_id=user.id,
        subject_id=subject_id,
        detail={"username": user.username},
    )
    return user


# --- Login -----------------------------------------------------------------------------------

LOGIN_FAILED_MESSAGE: Final = "用户名或密码错误；连续多次失败后账户将被暂时锁定。"
TOTP_FAILED_MESSAGE: Final = "动态口令错误或已使用过；连续多次失败后账户将被暂时锁定。"


@dataclass(frozen=True)
class NewSession:
    """A login session just opened: the cookie token (shown once, never stored) and its row."""

    token: str
    row: LoginSession


def _token_hash(token: str) -> str:
    return crypto.sm3_hex(token.encode())


def _note_failure(user: User) -> None:
    settings = _settings()
    user.failed_logins += 1
    if user.failed_logins >= settings.login_max_failures:
        # 等保 2.0 §8.1.4 b): 限制非法登录次数, 登录失败处理.
        user.locked_until = utc_now() + timedelta(minutes=settings.login_lockout_minutes)
        user.failed_logins = 0


def _is_locked(user: User) -> bool:
    return user.locked_until is not None and user.locked_until > utc_now()


def login_with_password(
    session: Session, *, username: str, password: str, ip: str | None = None
) -> NewSession:
    """First factor. Opens a session that is *pending* until the second factor when the user
    has or needs TOTP. Every failure looks the same to the caller (LoginFailed)."""
    user = get_user_by_username(session, username.strip())
    if user is None:
        _password_matches(_DUMMY_HASH, password)
        raise LoginFailed(LOGIN_FAILED_MESSAGE)
    actor = actor_for_user(user, ip=ip)
    if _is_locked(user) or user.status != "active":
        _password_matches(_DUMMY_HASH, password)
        _audit(
            session,
            actor,
            action="login.refused",
            object_type="user",
            object_id=user.id,
            detail={"reason": "locked" if _is_locked(user) else "disabled"},
        )
        raise LoginFailed(LOGIN_FAILED_MESSAGE)
    if not _password_matches(user.password_hash, password):
        _note_failure(user)
        session.flush()
        _audit(
            session,
            actor,
            action="login.failed",
            object_type="user",
            object_id=user.id,
            detail={"factor": "password"},
        )
        raise LoginFailed(LOGIN_FAILED_MESSAGE)
    needs_second = user.totp_enabled or Role(user.role) in domain.TOTP_REQUIRED
    opened = _open_session(session, user, ip=ip, mfa_passed=not needs_second)
    if not needs_second:
        _complete_login(session, user, actor)
    else:
        session.flush()
    return opened


def _open_session(session: Session, user: User, *, ip: str | None, mfa_passed: bool) -> NewSession:
    settings = _settings()
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
    _audit(session, actor, action="login.succeeded", object_type="user", object_id=user.id)


def pending_user(session: Session, token: str) -> tuple[LoginSession, User] | None:
    """The session waiting for its second factor, and its user."""
    found = _session_and_user(session, token)
    if found is None or found[0].mfa_passed:
        return None
    return found


def totp_secret_of(user: User) -> str | None:
    if user.totp_secret_enc is None:
        return None
    return _decrypt("totp", user.totp_secret_enc, aad=f"access_user:{user.id}:totp")


def start_totp_enrolment(session: Session, user: User) -> str:
    """A fresh secret for a user who has none enabled yet (kept until confirmed with a code)."""
    if user.totp_enabled:
        raise Forbidden("动态口令已绑定，如需更换请联系安全管理员")
    secret = totp_secret_of(user)
    if secret is None:
        secret = pyotp.random_base32()
        user.totp_secret_enc = _encrypt("totp", secret, aad=f"access_user:{user.id}:totp")
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
    session: Session, *, token: str, code: str, ip: str | None = None
) -> NewSession:
    """Second factor for a pending session; on success the session is replaced by a new one
    (new token, new CSRF token) so a token seen before login is worthless after it."""
    found = pending_user(session, token)
    if found is None:
        raise LoginFailed("登录已过期，请重新登录")
    pending, user = found
    actor = actor_for_user(user, ip=ip)
    secret = totp_secret_of(user)
    step = (
        None
        if secret is None or _is_locked(user)
        else _matching_step(secret, code, user.totp_last_step)
    )
    if step is None:
        _note_failure(user)
        session.flush()
        _audit(
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
        _audit(session, actor, action="totp.enrol", object_type="user", object_id=user.id)
    pending.ended_at = utc_now()
    opened = _open_session(session, user, ip=ip, mfa_passed=True)
    _complete_login(session, user, actor)
    return opened


def _session_and_user(session: Session, token: str) -> tuple[LoginSession, User] | None:
    if not token or len(token) > 200:
        return None
    row = session.scalar(select(LoginSession).where(LoginSession.token_hash == _token_hash(token)))
    if row is None or row.ended_at is not None:
        return None
    now = utc_now()
    settings = _settings()
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


def resolve_session(session: Session, *, token: str, ip: str | None = None) -> ActiveSession | None:
    """The logged-in actor behind a session cookie, checked afresh on every request: expiry (idle
    30 min, absolute 12 h — 等保 2.0 §8.1.4 b) 连接超时自动退出), the user's status and, for an
    officer, the institution's status, so a suspension bites on the very next request."""
    found = _session_and_user(session, token)
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


def end_session(session: Session, *, token: str, ip: str | None = None) -> None:
    found = _session_and_user(session, token)
    if found is None:
        return
    row, user = found
    row.ended_at = utc_now()
    session.flush()
    if row.mfa_passed:
        _audit(
            session,
            actor_for_user(user, ip=ip),
            action="logout",
            object_type="user",
            object_id=user.id,
        )


def change_password(session: Session, actor: Actor, *, current: str, new: str) -> User:
    """A signed-in user replaces its own password: the current one is checked (a wrong one
    counts towards the lockout like a failed login, and is audited), the new one must meet the
    policy and differ from it. Every session of the user then ends, so a stolen session does not
    outlive the change; the user logs in again. Raises ValidationFailed; the caller commits the
    failure count before reporting it."""
    if actor.kind is not ActorKind.USER or actor.id is None:
        raise Forbidden("只有登录用户可以修改自己的密码")
    user = session.get(User, actor.id)
    if user is None or user.status != "active":
        raise Forbidden("账户不可用")
    if _is_locked(user) or not _password_matches(user.password_hash, current):
        if not _is_locked(user):
            _note_failure(user)
        session.flush()
        _audit(
            session,
            actor,
            action="password.change_refused",
            object_type="user",
            object_id=user.id,
            detail={"reason": "locked" if _is_locked(user) else "wrong_password"},
        )
        raise ValidationFailed(
            "当前密码不正确",
            issues=[Issue("wrong_password", "当前密码不正确", field="current_password")],
        )
    issues = domain.password_issues(new, username=user.username)
    if new == current:
        issues.append(Issue("unchanged", "新密码不能与当前密码相同", field="password"))
    if issues:
        raise ValidationFailed("新密码不符合要求", issues=issues)
    user.password_hash = hash_password(new)
    user.failed_logins = 0
    _end_sessions_of(session, user.id)
    session.flush()
    _audit(session, actor, action="password.change", object_type="user", object_id=user.id)
    return user


def _end_sessions_of(session: Session, user_id: int) -> None:
    session.execute(
        update(LoginSession)
        .where(LoginSession.user_id == user_id, LoginSession.ended_at.is_(None))
        .values(ended_at=utc_now())
    )


# --- API clients -----------------------------------------------------------------------------

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
) -> IssuedClient:
    """Register a system that will sign its API requests (security admin's job)."""
    _require(actor, Role.SECURITY_ADMIN, what="管理接口客户端")
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
    limit = rate_limit_per_minute or _settings().api_rate_limit_per_minute
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
        client.secret_enc = _encrypt("client", secret, aad=f"access_api_client:{key_id}")
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
    _audit(
        session,
        actor,
        action="api_client.create",
        object_type="api_client",
        object_id=client.id,
        detail={"key_id": key_id, "owner_kind": owner_kind, "algorithm": algorithm},
    )
    return IssuedClient(client, secret, private_pem)


def set_client_status(session: Session, actor: Actor, *, client_id: int, status: str) -> ApiClient:
    _require(actor, Role.SECURITY_ADMIN, what="管理接口客户端")
    client = access_client(session, actor, client_id)
    if status not in ("active", "suspended"):
        raise ValidationFailed(
            "状态有误", issues=[Issue("invalid", "状态须为 active 或 suspended", field="status")]
        )
    previous, client.status = client.status, status
    session.flush()
    _audit(
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
) -> Actor:
    """The API client that signed this request, or the reason it is refused (see errors).

    The nonce is stored and the rate window counted in ``session``: the caller commits them at
    once, whatever the request's own outcome, so a refused or failed request cannot be replayed.
    """
    settings = _settings()
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
    if not _signature_valid(client, message, signature):
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


def _signature_valid(client: ApiClient, message: bytes, signature: bytes) -> bool:
    if client.algorithm == "hmac-sm3" and client.secret_enc is not None:
        secret = _decrypt("client", client.secret_enc, aad=f"access_api_client:{client.key_id}")
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


def clean_expired(session: Session) -> dict[str, int]:
    """Delete nonces older than the retention (which exceeds the skew window, so a deleted nonce's
    timestamp is already stale), rate windows older than an hour, and ended sessions."""
    from sqlalchemy import delete

    settings = _settings()
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
    session.flush()
    return {
        "nonces": getattr(nonces, "rowcount", 0),
        "rate_windows": getattr(windows, "rowcount", 0),
        "sessions": getattr(sessions, "rowcount", 0),
    }


# --- Abuse detection -------------------------------------------------------------------------


def ensure_not_throttled(session: Session, actor: Actor) -> None:
    """Raise RateLimited when the actor's institution is throttled by abuse detection."""
    if actor.institution_id is None:
        return
    until = session.scalar(
        select(Institution.throttled_until).where(Institution.id == actor.institution_id)
    )
    now = utc_now()
    if until is not None and until > now:
        raise RateLimited(
            "该机构的数据查询已被临时限制，请联系平台安全管理员",
            retry_after=int((until - now).total_seconds()),
        )


def note_data_read(session: Session, actor: Actor, *, subject_id: int, refused: bool) -> None:
    """Count one read of an enterprise's data by an institution (``refused``: it had no valid
    consent). Flags the institution to the security admin, and throttles it, when in one hour it
    is refused more than ``abuse_refusals_per_hour`` times, or reads more than
    ``abuse_volume_factor`` times its usual hourly volume (and at least ``abuse_volume_floor``).

    Counters are per institution and hour (one row upserted), never per read: the audit trail
    already holds every read; this only needs the rates. The tally row is written with core SQL,
    so an ORM-loaded ReadTally in the same session is not refreshed by it. A caller that wants
    the upsert in the same round trip as its own writes uses :func:`tally_statement` and
    :func:`check_tally` instead.
    """
    tally = tally_statement(session, actor, refused=refused)
    if tally is None:
        return
    statement, values = tally
    reads, refusals = session.connection().execute(statement, values).one()
    check_tally(session, actor, reads=reads, refusals=refusals)


@lru_cache(maxsize=2)
def _tally_upsert(dialect: str) -> Insert:
    """The atomic UPSERT of an hour's counters, built once per store (bound parameters)."""
    build = postgresql_insert if dialect == "postgresql" else sqlite_insert
    refusal = bindparam("tally_refusal", type_=Integer())
    upsert = build(ReadTally).values(
        institution_id=bindparam("tally_institution"),
        hour_start=bindparam("tally_hour"),
        reads=1,
        refusals=refusal,
    )
    return upsert.on_conflict_do_update(
        index_elements=[ReadTally.institution_id, ReadTally.hour_start],
        set_={"reads": ReadTally.reads + 1, "refusals": ReadTally.refusals + refusal},
    ).returning(ReadTally.reads, ReadTally.refusals)


def tally_statement(
    session: Session, actor: Actor, *, refused: bool
) -> tuple[Insert, dict[str, Any]] | None:
    """The atomic UPSERT of this hour's counters, returning ``(reads, refusals)`` after it, and
    its parameters; None for an actor of no institution. Concurrent reads cannot lose an
    increment."""
    if actor.institution_id is None:
        return None
    return _tally_upsert(session.get_bind().dialect.name), {
        "tally_institution": actor.institution_id,
        "tally_hour": utc_now().replace(minute=0, second=0, microsecond=0),
        "tally_refusal": 1 if refused else 0,
    }


def check_tally(session: Session, actor: Actor, *, reads: int, refusals: int) -> None:
    """Flag and throttle on this hour's counters (see :func:`note_data_read`)."""
    if actor.institution_id is None:
        return
    settings = _settings()
    hour = utc_now().replace(minute=0, second=0, microsecond=0)
    if refusals >= settings.abuse_refusals_per_hour:
        _flag(
            session,
            actor.institution_id,
            "refusals",
            hour,
            refusals,
            settings.abuse_refusals_per_hour,
        )
    # The volume threshold is never below the floor, so under it the 7-day sum (a range scan
    # on every read otherwise) cannot change the outcome and is not queried.
    if reads <= settings.abuse_volume_floor:
        return
    past = (
        session.scalar(
            select(func.coalesce(func.sum(ReadTally.reads), 0)).where(
                ReadTally.institution_id == actor.institution_id,
                ReadTally.hour_start >= hour - timedelta(days=7),
                ReadTally.hour_start < hour,
            )
        )
        or 0
    )
    usual = int(past) / (7 * 24)
    threshold = max(settings.abuse_volume_floor, int(settings.abuse_volume_factor * usual))
    if reads > threshold:
        _flag(session, actor.institution_id, "volume", hour, reads, threshold)


def _flag(
    session: Session, institution_id: int, kind: str, hour: datetime, observed: int, threshold: int
) -> None:
    exists = session.scalar(
        select(AbuseFlag.id).where(
            AbuseFlag.institution_id == institution_id,
            AbuseFlag.kind == kind,
            AbuseFlag.hour_start == hour,
        )
    )
    if exists is not None:
        return
    now = utc_now()
    flag = AbuseFlag(
        institution_id=institution_id,
        kind=kind,
        hour_start=hour,
        observed=observed,
        threshold=threshold,
        status="open",
        created_at=now,
    )
    session.add(flag)
    institution = session.get(Institution, institution_id)
    if institution is not None:
        institution.throttled_until = now + timedelta(minutes=_settings().abuse_throttle_minutes)
    session.flush()
    system = Actor(kind=ActorKind.SYSTEM, id=None, name="abuse-detection")
    _audit(
        session,
        system,
        action="institution.flag",
        object_type="institution",
        object_id=institution_id,
        detail={"kind": kind, "observed": observed, "threshold": threshold},
    )


def list_flags(session: Session, actor: Actor, *, status: str | None = "open") -> list[AbuseFlag]:
    _require(actor, Role.SECURITY_ADMIN, what="查看异常标记")
    query = select(AbuseFlag).order_by(AbuseFlag.created_at.desc())
    if status:
        query = query.where(AbuseFlag.status == status)
    return list(session.scalars(query))


def resolve_flag(
    session: Session, actor: Actor, *, flag_id: int, note: str, lift: bool
) -> AbuseFlag:
    """The security admin closes a flag; ``lift`` ends the institution's throttle now."""
    _require(actor, Role.SECURITY_ADMIN, what="处理异常标记")
    flag = session.get(AbuseFlag, flag_id)
    if flag is None:
        raise NotFound("异常标记不存在")
    if flag.status != "open":
        raise InvalidTransition("该标记已处理")
    if len(note) > 500:
        raise ValidationFailed(
            "说明过长", issues=[Issue("too_long", "说明不超过 500 字", field="note")]
        )
    flag.status = "resolved"
    flag.note = note
    flag.resolved_by = actor.name
    flag.resolved_at = utc_now()
    if lift:
        institution = session.get(Institution, flag.institution_id)
        if institution is not None:
            institution.throttled_until = None
    session.flush()
    _audit(
        session,
        actor,
        action="institution.flag_resolve",
        object_type="abuse_flag",
        object_id=flag.id,
        detail={"note": note, "lift": lift},
    )
    return flag


# --- Demo logins -----------------------------------------------------------------------------

# Printed by `creditbridge access demo-logins`, which refuses to run in production.
DEMO_PASSWORD: Final = "Demo-Login-2026"  # noqa: S105
DEMO_USERS: Final[tuple[tuple[Role, str, str], ...]] = (
    (Role.SYSTEM_ADMIN, "demo-sysadmin", "演示系统管理员"),
    (Role.SECURITY_ADMIN, "demo-secadmin", "演示安全管理员"),
    (Role.AUDIT_ADMIN, "demo-auditor", "演示审计管理员"),
    (Role.OPERATOR, "demo-operator", "演示运营人员"),
    (Role.PROVIDER_USER, "demo-provider", "演示数据提供单位用户"),
    (Role.INSTITUTION_OFFICER, "demo-bank", "演示银行客户经理"),
    (Role.ENTERPRISE_USER, "demo-enterprise", "演示企业用户"),
)


@dataclass(frozen=True)
class DemoLogin:
    role: Role
    username: str
    password: str
    totp_secret: str | None
    bound_to: str

    def current_code(self) -> str | None:
        if self.totp_secret is None:
            return None
        return pyotp.TOTP(self.totp_secret).at(utc_now())


def ensure_demo_logins(session: Session, actor: Actor) -> list[DemoLogin]:
    """One user per role, bound to the first approved bank, provider and subject of the database;
    created once, then reported as they are. TOTP secrets are made at creation and kept
    (encrypted) in the database, so they differ between databases and stay put in one."""
    from creditbridge.ingest.models import Provider
    from creditbridge.subjects import service as subjects_service

    if _settings().env == "production":
        raise Forbidden("生产环境不能创建演示账户 (demo logins are refused in production)")
    bank = session.scalar(
        select(Institution)
        .where(Institution.status == "approved", Institution.kind == "bank")
        .order_by(Institution.id)
        .limit(1)
    )
    provider = session.scalar(select(Provider).order_by(Provider.id).limit(1))
    subject = subjects_service.first_subject(session)
    logins = []
    for role, username, display_name in DEMO_USERS:
        binding: dict[str, int | None] = {}
        bound_to = ""
        if role is Role.INSTITUTION_OFFICER:
            if bank is None:
                continue
            binding["institution_id"], bound_to = bank.id, bank.name
        if role is Role.PROVIDER_USER:
            if provider is None:
                continue
            binding["provider_id"], bound_to = provider.id, provider.name
        if role is Role.ENTERPRISE_USER:
            if subject is None:
                continue
            binding["subject_id"], bound_to = subject.id, f"{subject.name} {subject.uscc}"
        user = get_user_by_username(session, username)
        if user is None:
            user = create_user(
                session,
                actor,
                username=username,
                display_name=display_name,
                password=DEMO_PASSWORD,
                role=role,
                **binding,
            )
        secret = totp_secret_of(user)
        if role in domain.TOTP_REQUIRED and secret is None:
            secret = start_totp_enrolment(session, user)
            user.totp_enabled = True
            session.flush()
        logins.append(
            DemoLogin(
                role, username, DEMO_PASSWORD, secret if user.totp_enabled else None, bound_to
            )
        )
    return logins
