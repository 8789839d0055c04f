"""Who binds an account to an enterprise or an institution (issue 21, finding 2; 三员分立).

An enterprise binds its accounts itself: a verified registration (``registration``), or an
invitation from one of its active users. When the enterprise already has users, a registration
waits as ``pending`` until one of them — or the operator, with the evidence recorded — approves.

An institution binds its officers through its officer-administrator (``User.org_admin``), who
invites them. Its first officer-administrator is invited by the operator who admitted it, and only
while it has none; the institution accepts the invitation.

The administrators never take part: none of them can issue, accept or approve a binding. Whenever
an account is bound, or waits for approval, the organisation's active users get a notice, so a
binding they did not expect is seen at once. Every step is audited.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import exists, select
from sqlalchemy.orm import Session

from creditbridge.access import domain
from creditbridge.access.errors import BindingRefused
from creditbridge.access.models import Institution, Invitation, Notification, User
from creditbridge.access.service._common import audit, require
from creditbridge.access.service.users import check_new_account, new_user
from creditbridge.core import crypto
from creditbridge.core.actors import Actor, ActorKind, Role
from creditbridge.core.clock import utc_now
from creditbridge.core.errors import Conflict, Issue, NotFound, ValidationFailed
from creditbridge.presentation.errors import keyed
from creditbridge.reference import divisions
from creditbridge.subjects import service as subjects_service


@dataclass(frozen=True)
class IssuedInvitation:
    """An invitation just made: its token (shown once to the inviter, never stored) and its row."""

    token: str
    row: Invitation

    @property
    def path(self) -> str:
        return f"/invitations/{self.token}"


def _token_hash(token: str) -> str:
    return crypto.sm3_hex(token.encode())


# --- Notices ---------------------------------------------------------------------------------


def members_of(
    session: Session, *, subject_id: int | None = None, institution_id: int | None = None
) -> list[User]:
    """The active users bound to the enterprise or the institution."""
    query = select(User).where(User.status == "active").order_by(User.id)
    if subject_id is not None:
        query = query.where(User.subject_id == subject_id)
    elif institution_id is not None:
        query = query.where(User.institution_id == institution_id)
    else:
        return []
    return list(session.scalars(query))


def _notify_members(
    session: Session, newcomer: User, *, kind: str, detail: dict[str, Any]
) -> list[int]:
    """A notice to each active user of the newcomer's organisation; their ids."""
    now = utc_now()
    told = [
        member
        for member in members_of(
            session, subject_id=newcomer.subject_id, institution_id=newcomer.institution_id
        )
        if member.id != newcomer.id
    ]
    body = {"user_id": newcomer.id, "username": newcomer.username, **detail}
    session.add_all(
        Notification(user_id=member.id, kind=kind, detail=body, created_at=now) for member in told
    )
    session.flush()
    return [member.id for member in told]


def notify_bound(session: Session, newcomer: User, *, via: str, by: str) -> None:
    _notify_members(
        session,
        newcomer,
        kind="member_bound",
        detail={"display_name": newcomer.display_name, "via": via, "by": by},
    )


def notify_pending(session: Session, newcomer: User) -> list[int]:
    return _notify_members(
        session,
        newcomer,
        kind="member_pending",
        detail={"display_name": newcomer.display_name, "via": "registration", "by": ""},
    )


def list_notifications(session: Session, actor: Actor, *, limit: int = 20) -> list[Notification]:
    """The actor's own notices, newest first."""
    if actor.kind is not ActorKind.USER or actor.id is None:
        return []
    return list(
        session.scalars(
            select(Notification)
            .where(Notification.user_id == actor.id)
            .order_by(Notification.created_at.desc(), Notification.id.desc())
            .limit(limit)
        )
    )


# --- Invitations -----------------------------------------------------------------------------


def _issue(
    session: Session,
    actor: Actor,
    *,
    role: Role,
    subject_id: int | None,
    institution_id: int | None,
    org_admin: bool,
    note: str,
) -> IssuedInvitation:
    note = note.strip()
    if len(note) > 500:
        raise ValidationFailed(
            "说明过长", issues=[Issue("too_long", "说明不超过 500 字", field="note")]
        )
    token = secrets.token_urlsafe(32)
    now = utc_now()
    row = Invitation(
        token_hash=_token_hash(token),
        role=role.value,
        subject_id=subject_id,
        institution_id=institution_id,
        org_admin=org_admin,
        invited_by_user_id=actor.id if actor.kind is ActorKind.USER else None,
        invited_by=actor.name[:64],
        note=note or None,
        status="pending",
        created_at=now,
        expires_at=now + timedelta(days=domain.INVITATION_DAYS),
    )
    session.add(row)
    session.flush()
    audit(
        session,
        actor,
        action="invitation.issue",
        object_type="invitation",
        object_id=row.id,
        subject_id=subject_id,
        detail={
            "role": role.value,
            "institution_id": institution_id,
            "org_admin": org_admin,
        },
    )
    return IssuedInvitation(token, row)


def invite_member(
    session: Session, actor: Actor, *, org_admin: bool = False, note: str = ""
) -> IssuedInvitation:
    """An invitation to the actor's own organisation: any active user of an enterprise invites a
    colleague; an institution's officer-administrator invites an officer (who may be made an
    officer-administrator too). Nobody else invites."""
    require(actor, Role.ENTERPRISE_USER, Role.INSTITUTION_OFFICER, what="邀请同事")
    if actor.kind is not ActorKind.USER or actor.id is None:
        raise BindingRefused("只有企业或机构自己的用户可以邀请同事")
    inviter = session.get(User, actor.id)
    if inviter is None or inviter.status != "active":
        raise BindingRefused("账户不可用")
    if actor.has_role(Role.ENTERPRISE_USER) and inviter.subject_id is not None:
        return _issue(
            session,
            actor,
            role=Role.ENTERPRISE_USER,
            subject_id=inviter.subject_id,
            institution_id=None,
            org_admin=False,
            note=note,
        )
    if actor.has_role(Role.INSTITUTION_OFFICER) and inviter.institution_id is not None:
        if not inviter.org_admin:
            raise BindingRefused(
                "只有本机构的机构管理员可以邀请机构用户", key="access.org_admin_only"
            )
        return _issue(
            session,
            actor,
            role=Role.INSTITUTION_OFFICER,
            subject_id=None,
            institution_id=inviter.institution_id,
            org_admin=org_admin,
            note=note,
        )
    raise BindingRefused("账户未绑定企业或机构")


def has_org_admin(session: Session, institution_id: int) -> bool:
    return bool(
        session.scalar(
            select(
                exists().where(
                    User.institution_id == institution_id,
                    User.org_admin.is_(True),
                    User.status == "active",
                )
            )
        )
    )


def invite_institution_admin(
    session: Session, actor: Actor, *, institution_id: int, note: str = ""
) -> IssuedInvitation:
    """The operator's invitation for an admitted institution's first officer-administrator,
    handed to the institution's registered contact. Refused once the institution has an active
    officer-administrator: from then on only the institution binds its officers."""
    require(actor, Role.OPERATOR, what="邀请机构管理员")
    institution = session.get(Institution, institution_id)
    if institution is None:
        raise NotFound("接入机构不存在")
    if institution.status != "approved":
        raise Conflict("接入机构尚未准入或已暂停，不能邀请其用户")
    if has_org_admin(session, institution_id):
        raise BindingRefused(
            "该机构已有机构管理员：机构用户只能由其机构管理员邀请",
            key="access.institution_has_admin",
        )
    return _issue(
        session,
        actor,
        role=Role.INSTITUTION_OFFICER,
        subject_id=None,
        institution_id=institution_id,
        org_admin=True,
        note=note,
    )


def get_open_invitation(session: Session, token: str) -> Invitation | None:
    """The pending, unexpired invitation behind ``token``, or None."""
    if not token or len(token) > 200:
        return None
    row = session.scalar(select(Invitation).where(Invitation.token_hash == _token_hash(token)))
    if row is None or row.status != "pending" or row.expires_at <= utc_now():
        return None
    return row


def accept_invitation(
    session: Session,
    *,
    token: str,
    username: str,
    display_name: str,
    password: str,
    ip: str | None = None,
) -> User:
    """Make the invited account, bound as the invitation says, and tell the organisation."""
    invitation = get_open_invitation(session, token)
    if invitation is None:
        raise NotFound("邀请不存在、已使用或已过期", key="access.invitation_invalid")
    if invitation.institution_id is not None:
        status = session.scalar(
            select(Institution.status).where(Institution.id == invitation.institution_id)
        )
        if status != "approved":
            raise Conflict("接入机构尚未准入或已暂停，不能接受邀请")
    username, display_name = username.strip(), display_name.strip()
    check_new_account(session, username=username, display_name=display_name, password=password)
    user = new_user(
        session,
        username=username,
        display_name=display_name,
        password=password,
        role=Role(invitation.role),
        subject_id=invitation.subject_id,
        institution_id=invitation.institution_id,
        org_admin=invitation.org_admin,
    )
    invitation.status = "accepted"
    invitation.accepted_at = utc_now()
    invitation.accepted_user_id = user.id
    session.flush()
    newcomer = Actor(
        kind=ActorKind.USER,
        id=user.id,
        name=user.username,
        role=Role(user.role),
        institution_id=user.institution_id,
        subject_id=user.subject_id,
        ip=ip,
    )
    audit(
        session,
        newcomer,
        action="user.bind",
        object_type="user",
        object_id=user.id,
        subject_id=user.subject_id,
        detail={
            "via": "invitation",
            "invitation_id": invitation.id,
            "invited_by": invitation.invited_by,
            "institution_id": user.institution_id,
            "org_admin": user.org_admin,
        },
    )
    notify_bound(session, user, via="invitation", by=invitation.invited_by)
    return user


# --- Registrations awaiting approval ---------------------------------------------------------


def list_pending_members(session: Session, actor: Actor) -> list[User]:
    """Registrations to the actor's enterprise that wait for its approval."""
    if not actor.has_role(Role.ENTERPRISE_USER) or actor.subject_id is None:
        return []
    return list(
        session.scalars(
            select(User)
            .where(User.subject_id == actor.subject_id, User.status == "pending")
            .order_by(User.created_at)
        )
    )


def list_pending_registrations(session: Session, actor: Actor) -> list[User]:
    """Registrations waiting for approval, oldest first: the operator's review queue, limited to
    the enterprises in its division (issue 23; a node-wide operator sees them all)."""
    require(actor, Role.OPERATOR, what="审核企业注册")
    return list(
        session.scalars(
            select(User)
            .where(
                User.status == "pending",
                subjects_service.subject_in_division(User.subject_id, actor.division_code),
            )
            .order_by(User.created_at)
        )
    )


def _pending(session: Session, actor: Actor, user_id: int) -> User:
    """The waiting registration, if it is to an enterprise in the operator's division; NotFound
    otherwise, so another region's registrations are neither seen nor decided."""
    user = session.get(User, user_id)
    if user is None or user.status != "pending" or not _in_division_of(session, actor, user):
        raise keyed(NotFound, "error.access.no_pending_registration")
    return user


def _in_division_of(session: Session, actor: Actor, user: User) -> bool:
    if actor.division_code is None:
        return True
    if user.subject_id is None:
        return False
    subject = subjects_service.get_subject_or_raise(session, user.subject_id)
    return divisions.division_covers(actor.division_code, subject.division_code)


def decide_member(session: Session, actor: Actor, *, user_id: int, approve: bool) -> User:
    """An active user of the enterprise approves (or rejects) a registration to it."""
    require(actor, Role.ENTERPRISE_USER, what="批准企业用户")
    user = session.get(User, user_id)
    approver = session.get(User, actor.id) if actor.id is not None else None
    if (
        user is None
        or user.status != "pending"
        or actor.subject_id is None
        or user.subject_id != actor.subject_id
        or approver is None
        or approver.status != "active"
    ):
        raise keyed(NotFound, "error.access.no_pending_registration")
    return _decide(session, actor, user, approve=approve, via="member", evidence=None)


def review_registration(
    session: Session, actor: Actor, *, user_id: int, approve: bool, evidence: str
) -> User:
    """The operator decides a waiting registration on evidence it records (e.g. the business
    licence and the legal representative's written authorisation were checked)."""
    require(actor, Role.OPERATOR, what="审核企业注册")
    evidence = evidence.strip()
    if not evidence or len(evidence) > 500:
        raise ValidationFailed(
            "请说明审核依据",
            issues=[Issue("required", "审核依据必填，不超过 500 字", field="evidence")],
        )
    user = _pending(session, actor, user_id)
    return _decide(session, actor, user, approve=approve, via="operator", evidence=evidence)


def _decide(
    session: Session,
    actor: Actor,
    user: User,
    *,
    approve: bool,
    via: str,
    evidence: str | None,
) -> User:
    user.status = "active" if approve else "disabled"
    session.flush()
    audit(
        session,
        actor,
        action="user.approve" if approve else "user.reject",
        object_type="user",
        object_id=user.id,
        subject_id=user.subject_id,
        detail={"via": via, "evidence": evidence},
    )
    if approve:
        notify_bound(session, user, via=f"registration+{via}", by=actor.name)
    return user


def may_invite(session: Session, actor: Actor) -> bool:
    """Whether :func:`invite_member` would let the actor invite: an active enterprise user, or
    an institution's officer-administrator."""
    if actor.kind is not ActorKind.USER or actor.id is None:
        return False
    user = session.get(User, actor.id)
    if user is None or user.status != "active":
        return False
    if actor.has_role(Role.ENTERPRISE_USER):
        return user.subject_id is not None
    return actor.has_role(Role.INSTITUTION_OFFICER) and user.org_admin
