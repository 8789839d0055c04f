"""Users: accounts, their one role, password hashing, and the actor a user acts as."""

from __future__ import annotations

from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from creditbridge.access import domain
from creditbridge.access.errors import BindingRefused, SecondAdminRequired
from creditbridge.access.models import User
from creditbridge.access.service._common import audit, end_sessions_of, require
from creditbridge.core.actors import Actor, ActorKind, Role
from creditbridge.core.clock import utc_now
from creditbridge.core.errors import Forbidden, Issue, NotFound, ValidationFailed

_hasher = PasswordHasher()


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def password_matches(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def get_user_by_username(session: Session, username: str) -> User | None:
    return session.scalar(select(User).where(User.username == username))


def _users_query(
    actor: Actor, query: Any, *, role: str | None, status: str | None, search: str | None
) -> Any:
    if actor.has_role(Role.INSTITUTION_OFFICER):
        query = query.where(User.institution_id == actor.institution_id)
    elif not (
        actor.has_role(Role.SYSTEM_ADMIN, Role.SECURITY_ADMIN)
        or actor.kind in (ActorKind.CLI, ActorKind.SYSTEM)
    ):
        raise Forbidden("无权查看用户")
    if role:
        query = query.where(User.role == role)
    if status:
        query = query.where(User.status == status)
    search = (search or "").strip()
    if search:
        pattern = f"%{_like_escaped(search)}%"
        query = query.where(
            or_(
                User.username.ilike(pattern, escape="\\"),
                User.display_name.ilike(pattern, escape="\\"),
            )
        )
    return query


def _like_escaped(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def list_users(
    session: Session,
    actor: Actor,
    *,
    role: str | None = None,
    status: str | None = None,
    search: str | None = None,
    limit: int | None = None,
    offset: int = 0,
) -> list[User]:
    """Accounts the actor may see, by username; filtered by role, status and a piece of the
    username or name."""
    query = _users_query(actor, select(User), role=role, status=status, search=search)
    query = query.order_by(User.username).offset(offset)
    if limit is not None:
        query = query.limit(limit)
    return list(session.scalars(query))


def count_users(
    session: Session,
    actor: Actor,
    *,
    role: str | None = None,
    status: str | None = None,
    search: str | None = None,
) -> int:
    query = _users_query(
        actor, select(func.count()).select_from(User), role=role, status=status, search=search
    )
    return int(session.scalar(query) or 0)


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


def check_new_account(session: Session, *, username: str, display_name: str, password: str) -> None:
    """Refuse a new account's username, name or password (ValidationFailed naming each field)."""
    issues = domain.username_issues(username) + domain.password_issues(password, username=username)
    if not display_name or len(display_name) > 100:
        issues.append(Issue("invalid", "姓名不能为空且不超过 100 字", field="display_name"))
    if issues:
        raise ValidationFailed("用户信息有误", issues=issues)
    if get_user_by_username(session, username) is not None:
        raise ValidationFailed(
            "用户名已被使用", issues=[Issue("duplicate", "用户名已被使用", field="username")]
        )


def new_user(
    session: Session,
    *,
    username: str,
    display_name: str,
    password: str,
    role: Role,
    status: str = "active",
    institution_id: int | None = None,
    provider_id: int | None = None,
    subject_id: int | None = None,
    org_admin: bool = False,
    division_code: str | None = None,
) -> User:
    """Insert an account already checked by :func:`check_new_account` (and its binding by the
    caller's own rule); a binding to a missing row is a ValidationFailed."""
    user = User(
        username=username,
        display_name=display_name,
        role=role.value,
        institution_id=institution_id,
        provider_id=provider_id,
        subject_id=subject_id,
        status=status,
        org_admin=org_admin,
        division_code=division_code,
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
    return user


def create_user(
    session: Session,
    actor: Actor,
    *,
    username: str,
    display_name: str,
    password: str,
    role: Role,
    provider_id: int | None = None,
    division_code: str | None = None,
) -> User:
    """An account of the platform's staff or of a provider. The system admin creates them but
    never admin accounts: the three admin roles come from the console, or from a change another
    administrator approves (三员分立, 等保 2.0 §8.1.4 访问控制 c).

    No one — not the system admin, not the console — creates an enterprise user or an
    institution officer here (BindingRefused): those accounts are bound by the organisation
    itself, through registration or an invitation (see ``access.service.binding``)."""
    require(actor, Role.SYSTEM_ADMIN, what="创建用户")
    if role in domain.BUSINESS_ROLES:
        raise BindingRefused(
            f"{role.label_zh}只能由企业或机构自行注册或邀请，管理员不能创建",
            key="access.binding_refused",
            params={"role": role.value},
        )
    if role in domain.ADMIN_ROLES and actor.kind is ActorKind.USER:
        raise Forbidden("管理员账户只能在服务器控制台创建，或由另一名管理员批准授予")
    username = username.strip()
    display_name = display_name.strip()
    division_code = (division_code or "").strip() or None
    binding = domain.binding_issues(
        role, institution_id=None, provider_id=provider_id, subject_id=None
    ) + domain.division_issues(role, division_code)
    if binding:
        raise ValidationFailed("用户信息有误", issues=binding)
    check_new_account(session, username=username, display_name=display_name, password=password)
    user = new_user(
        session,
        username=username,
        display_name=display_name,
        password=password,
        role=role,
        provider_id=provider_id,
        division_code=division_code,
    )
    detail: dict[str, object] = {"username": username, "role": role.value}
    if division_code:
        detail["division_code"] = division_code
    audit(
        session,
        actor,
        action="user.create",
        object_type="user",
        object_id=user.id,
        detail=detail,
    )
    return user


def set_division(
    session: Session, actor: Actor, *, user_id: int, division_code: str | None
) -> User:
    """Move an operator to another division, or make it node-wide (None). The system admin's
    decision, audited; the operator's sessions end so its lists narrow or widen from its next
    login rather than halfway through a page it is reading."""
    require(actor, Role.SYSTEM_ADMIN, what="设置所属行政区划")
    user = access_user(session, actor, user_id)
    division_code = (division_code or "").strip() or None
    issues = domain.division_issues(Role(user.role), division_code)
    if issues:
        raise ValidationFailed("所属行政区划有误", issues=issues)
    previous = user.division_code
    if previous == division_code:
        return user
    user.division_code = division_code
    end_sessions_of(session, user.id)
    session.flush()
    audit(
        session,
        actor,
        action="user.set_division",
        object_type="user",
        object_id=user.id,
        detail={"from": previous, "to": division_code},
    )
    return user


def _refuse_admin_change_alone(actor: Actor, user: User, new: Role | None) -> None:
    if actor.kind is ActorKind.USER and domain.needs_second_admin(Role(user.role), new):
        raise SecondAdminRequired(
            "管理员账户的停用或角色变更须提交申请，由另一名管理员批准",
            key="access.second_admin_required",
        )


def disable_user(session: Session, actor: Actor, *, user_id: int) -> User:
    """Disable an account and end its sessions. An administrator's account is disabled only
    through a change another administrator approves (``propose_admin_change``)."""
    require(actor, Role.SYSTEM_ADMIN, what="停用用户")
    user = access_user(session, actor, user_id)
    if actor.kind is ActorKind.USER and user.id == actor.id:
        raise Forbidden("不能停用自己的账户")
    _refuse_admin_change_alone(actor, user, None)
    apply_disable(session, actor, user)
    return user


def apply_disable(session: Session, actor: Actor, user: User, **detail: object) -> None:
    user.status = "disabled"
    end_sessions_of(session, user.id)
    session.flush()
    audit(
        session,
        actor,
        action="user.disable",
        object_type="user",
        object_id=user.id,
        detail=dict(detail) or None,
    )


def set_role(session: Session, actor: Actor, *, user_id: int, role: Role) -> User:
    """Grant a user its one role. Only the security admin, never to itself; the user's sessions
    end so the new rights apply from the next login. Re-roling an administrator, or making
    someone one, goes through a change another administrator approves."""
    require(actor, Role.SECURITY_ADMIN, what="分配角色")
    user = access_user(session, actor, user_id)
    if actor.kind is ActorKind.USER and user.id == actor.id:
        raise Forbidden("不能修改自己的角色")
    _refuse_admin_change_alone(actor, user, role)
    apply_role(session, actor, user, role)
    return user


def apply_role(session: Session, actor: Actor, user: User, role: Role, **detail: object) -> None:
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
    end_sessions_of(session, user.id)
    session.flush()
    audit(
        session,
        actor,
        action="user.set_role",
        object_type="user",
        object_id=user.id,
        detail={"from": previous, "to": role.value, **detail},
    )


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
        # Only operators carry one (domain.division_issues); a re-roled account keeps none.
        division_code=user.division_code if user.role == Role.OPERATOR.value else None,
    )
