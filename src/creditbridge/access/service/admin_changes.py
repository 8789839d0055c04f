"""Changes among the administrators (三员分立, issue 21 finding 2): no administrator disables,
demotes or re-roles another, or makes someone an administrator, alone. One proposes the change
(the system admin a disable, the security admin a change of role); another administrator — not
the proposer, not the account changed — approves it, and only then is it applied. The console
(who holds the server) applies such changes directly, audited. Every step is audited."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from creditbridge.access import domain
from creditbridge.access.errors import SecondAdminRequired
from creditbridge.access.models import AdminChange, User
from creditbridge.access.service._common import audit, require
from creditbridge.access.service.users import access_user, apply_disable, apply_role
from creditbridge.core.actors import Actor, ActorKind, Role
from creditbridge.core.clock import utc_now
from creditbridge.core.errors import (
    Conflict,
    Forbidden,
    InvalidTransition,
    Issue,
    NotFound,
    ValidationFailed,
)

ACTIONS = ("disable", "set_role")
_PROPOSER = {"disable": Role.SYSTEM_ADMIN, "set_role": Role.SECURITY_ADMIN}


def propose_admin_change(
    session: Session,
    actor: Actor,
    *,
    user_id: int,
    action: str,
    role: Role | None = None,
    reason: str = "",
) -> AdminChange:
    """Propose disabling an administrator's account, or a change of role that involves an admin
    role; it waits for another administrator's approval."""
    if action not in ACTIONS:
        raise ValidationFailed(
            "变更类型无效", issues=[Issue("invalid", "变更类型无效", field="action")]
        )
    require(actor, _PROPOSER[action], what="提交管理员账户变更")
    if actor.kind is not ActorKind.USER or actor.id is None:
        raise Forbidden("控制台直接执行变更，无需审批")
    target = access_user(session, actor, user_id)
    if target.id == actor.id:
        raise Forbidden("不能变更自己的账户")
    new_role = role if action == "set_role" else None
    if action == "set_role" and new_role is None:
        raise ValidationFailed("请选择角色", issues=[Issue("required", "请选择角色", field="role")])
    if not domain.needs_second_admin(Role(target.role), new_role):
        raise Conflict("该变更不涉及管理员账户，可直接执行")
    if new_role is not None:
        issues = domain.binding_issues(
            new_role,
            institution_id=target.institution_id,
            provider_id=target.provider_id,
            subject_id=target.subject_id,
        )
        if issues:
            raise ValidationFailed("该用户的绑定关系与角色不符", issues=issues)
    reason = reason.strip()[:500]
    change = AdminChange(
        target_user_id=target.id,
        action=action,
        role=new_role.value if new_role else None,
        reason=reason or None,
        status="pending",
        requested_by_user_id=actor.id,
        requested_by=actor.name[:64],
        requested_at=utc_now(),
    )
    session.add(change)
    session.flush()
    audit(
        session,
        actor,
        action="admin_change.propose",
        object_type="admin_change",
        object_id=change.id,
        detail={
            "target": target.username,
            "action": action,
            "from": target.role,
            "to": change.role,
            "reason": change.reason,
        },
    )
    return change


def list_admin_changes(
    session: Session, actor: Actor, *, status: str | None = "pending"
) -> list[AdminChange]:
    require(actor, *domain.ADMIN_ROLES, what="查看管理员账户变更")
    query = select(AdminChange).order_by(AdminChange.requested_at.desc(), AdminChange.id.desc())
    if status is not None:
        query = query.where(AdminChange.status == status)
    return list(session.scalars(query))


def decide_admin_change(
    session: Session, actor: Actor, *, change_id: int, approve: bool
) -> AdminChange:
    """Another administrator approves (the change is applied) or rejects a proposed change.
    Neither the proposer nor the administrator whose account changes may decide it."""
    require(actor, *domain.ADMIN_ROLES, what="审批管理员账户变更")
    change = session.get(AdminChange, change_id)
    if change is None:
        raise NotFound("变更申请不存在")
    if change.status != "pending":
        raise InvalidTransition("该变更申请已处理")
    if actor.kind is ActorKind.USER and actor.id in (
        change.requested_by_user_id,
        change.target_user_id,
    ):
        raise SecondAdminRequired(
            "变更须由提交人和被变更人以外的另一名管理员批准",
            key="access.second_admin_other",
        )
    target = session.get(User, change.target_user_id)
    if target is None:
        raise NotFound("用户不存在")
    change.status = "approved" if approve else "rejected"
    change.decided_by_user_id = actor.id if actor.kind is ActorKind.USER else None
    change.decided_by = actor.name[:64]
    change.decided_at = utc_now()
    session.flush()
    audit(
        session,
        actor,
        action="admin_change.approve" if approve else "admin_change.reject",
        object_type="admin_change",
        object_id=change.id,
        detail={"target": target.username, "action": change.action, "to": change.role},
    )
    if approve:
        proposed = {"change_id": change.id, "proposed_by": change.requested_by}
        if change.action == "disable":
            apply_disable(session, actor, target, **proposed)
        elif change.role is not None:
            apply_role(session, actor, target, Role(change.role), **proposed)
    return change
