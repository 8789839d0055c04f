"""Issue 21, finding 2: no one mints a business identity (三员分立).

An account is bound to an enterprise only by the enterprise (verified registration, a colleague's
invitation), to an institution only through its officer-administrator (or the operator's invitation
for its first one); the organisation's users are told; administrators change each other only with
a second administrator's approval. Everything audited."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session
from typer.testing import CliRunner

import factories
from creditbridge.access import service
from creditbridge.access.errors import BindingRefused, LoginFailed, SecondAdminRequired
from creditbridge.access.models import Notification, User
from creditbridge.audit.models import AuditEvent
from creditbridge.cli.app import app
from creditbridge.cli.context import transaction
from creditbridge.core.actors import CONSOLE, Actor, Role
from creditbridge.core.clock import FrozenClock
from creditbridge.core.errors import (
    Conflict,
    Forbidden,
    InvalidTransition,
    NotFound,
    ValidationFailed,
)

from .conftest import (
    PASSWORD,
    SETTINGS,
    full_login,
    make_institution,
    make_officer,
    make_provider,
    make_subject,
    make_user,
)
from .test_demo_logins import _reset_cli_caches as reset_cli_caches

# Regression trials of issue 21 (attack trial): `make audit-security` runs them.
pytestmark = pytest.mark.security


def _actions(session: Session, *, object_type: str, object_id: int) -> list[str]:
    return list(
        session.scalars(
            select(AuditEvent.action)
            .where(AuditEvent.object_type == object_type, AuditEvent.object_id == str(object_id))
            .order_by(AuditEvent.sequence)
        )
    )


def _notices(session: Session, user: User) -> list[Notification]:
    return list(session.scalars(select(Notification).where(Notification.user_id == user.id)))


def _owner(session: Session) -> tuple[User, Actor]:
    owner, _ = make_user(session, Role.ENTERPRISE_USER, enrol_totp=False)
    return owner, service.actor_for_user(owner)


# --- Administrators create no business account -----------------------------------------------


@pytest.mark.parametrize("role", [Role.ENTERPRISE_USER, Role.INSTITUTION_OFFICER])
@pytest.mark.parametrize("who", ["system_admin", "console"])
def test_no_administrator_and_not_the_console_creates_an_enterprise_user_or_officer(
    session: Session, role: Role, who: str
) -> None:
    actor = CONSOLE
    if who == "system_admin":
        admin, _ = make_user(session, Role.SYSTEM_ADMIN)
        actor = service.actor_for_user(admin)
    before = session.scalars(select(User.id)).all()
    with pytest.raises(BindingRefused) as refused:
        service.create_user(
            session,
            actor,
            username="forged-account",
            display_name="冒名",
            password=PASSWORD,
            role=role,
        )
    assert refused.value.code == "CB-BINDING-REFUSED"
    assert session.scalars(select(User.id)).all() == before


def test_system_admin_still_creates_operators_and_provider_users(session: Session) -> None:
    admin, _ = make_user(session, Role.SYSTEM_ADMIN)
    actor = service.actor_for_user(admin)
    operator = service.create_user(
        session, actor, username="op-x", display_name="运营", password=PASSWORD, role=Role.OPERATOR
    )
    clerk = service.create_user(
        session,
        actor,
        username="clerk-x",
        display_name="填报员",
        password=PASSWORD,
        role=Role.PROVIDER_USER,
        provider_id=make_provider(session).id,
    )
    assert (operator.role, clerk.role) == ("operator", "provider_user")


# --- Enterprises bind their own accounts ----------------------------------------------------


def test_an_enterprise_user_invites_a_colleague_and_the_enterprise_is_told(
    session: Session,
) -> None:
    owner, actor = _owner(session)
    issued = service.invite_member(session, actor, note="财务")
    assert issued.path.startswith("/invitations/")
    colleague = service.accept_invitation(
        session, token=issued.token, username="cw-li", display_name="李会计", password=PASSWORD
    )
    assert (colleague.role, colleague.subject_id, colleague.status) == (
        "enterprise_user",
        owner.subject_id,
        "active",
    )
    [notice] = _notices(session, owner)
    assert notice.kind == "member_bound"
    assert notice.detail["username"] == "cw-li"
    assert notice.detail["by"] == owner.username
    assert _actions(session, object_type="invitation", object_id=issued.row.id) == [
        "invitation.issue"
    ]
    assert "user.bind" in _actions(session, object_type="user", object_id=colleague.id)
    # Only the link's holder can use it, and only once.
    assert service.get_open_invitation(session, issued.token) is None
    with pytest.raises(NotFound):
        service.accept_invitation(
            session, token=issued.token, username="cw-wang", display_name="王", password=PASSWORD
        )


def test_an_invitation_expires_after_seven_days(
    session: Session, frozen_clock: FrozenClock
) -> None:
    _, actor = _owner(session)
    issued = service.invite_member(session, actor)
    frozen_clock.advance(timedelta(days=7, seconds=1))
    with pytest.raises(NotFound):
        service.accept_invitation(
            session, token=issued.token, username="late-x", display_name="迟", password=PASSWORD
        )


@pytest.mark.parametrize("role", [Role.SYSTEM_ADMIN, Role.SECURITY_ADMIN, Role.OPERATOR])
def test_no_one_outside_the_organisation_issues_an_invitation(session: Session, role: Role) -> None:
    outsider, _ = make_user(session, role)
    with pytest.raises(Forbidden):
        service.invite_member(session, service.actor_for_user(outsider))


# --- Institutions bind their officers through their officer-administrator -------------------


def test_the_operator_invites_only_an_institutions_first_officer_administrator(
    session: Session,
) -> None:
    bank = make_institution(session)
    first = make_officer(session, bank, username="bank-admin")
    assert first.org_admin
    with pytest.raises(BindingRefused):
        service.invite_institution_admin(session, CONSOLE, institution_id=bank.id)
    admin, _ = make_user(session, Role.SYSTEM_ADMIN)
    other_bank = make_institution(session)
    with pytest.raises(Forbidden):
        service.invite_institution_admin(
            session, service.actor_for_user(admin), institution_id=other_bank.id
        )


def test_an_officer_administrator_invites_officers_and_the_institution_is_told(
    session: Session,
) -> None:
    bank = make_institution(session)
    admin = make_officer(session, bank, username="bank-admin")
    issued = service.invite_member(session, service.actor_for_user(admin))
    officer = service.accept_invitation(
        session, token=issued.token, username="bank-kj", display_name="客户经理", password=PASSWORD
    )
    assert (officer.institution_id, officer.org_admin) == (bank.id, False)
    assert [n.kind for n in _notices(session, admin)] == ["member_bound"]
    # An officer who is not its institution's administrator invites nobody.
    with pytest.raises(BindingRefused):
        service.invite_member(session, service.actor_for_user(officer))


def test_an_invitation_to_a_suspended_institution_cannot_be_accepted(session: Session) -> None:
    bank = make_institution(session)
    issued = service.invite_institution_admin(session, CONSOLE, institution_id=bank.id)
    service.transition_institution(session, CONSOLE, institution_id=bank.id, target="suspended")
    with pytest.raises(Conflict):
        service.accept_invitation(
            session, token=issued.token, username="bank-late", display_name="x", password=PASSWORD
        )


# --- Registration to an enterprise that has users waits for them ----------------------------


def _register(session: Session, uscc: str, username: str) -> User:
    return service.register_enterprise_user(
        session,
        uscc=uscc,
        legal_rep_name="张三",
        id_tail="01123X",
        username=username,
        display_name="新用户",
        password=PASSWORD,
        settings=SETTINGS,
    )


def test_a_second_registration_waits_for_the_enterprises_approval(session: Session) -> None:
    subject = make_subject(session)
    owner = _register(session, subject.uscc, "first-owner")
    assert owner.status == "active"
    newcomer = _register(session, subject.uscc, "second-comer")
    assert newcomer.status == "pending"
    [notice] = _notices(session, owner)
    assert (notice.kind, notice.detail["username"]) == ("member_pending", "second-comer")
    # It cannot log in, let alone act for the enterprise, until approved.
    with pytest.raises(LoginFailed, match="尚待"):
        service.login_with_password(
            session, username="second-comer", password=PASSWORD, settings=SETTINGS
        )
    owner_actor = service.actor_for_user(owner)
    assert [u.id for u in service.list_pending_members(session, owner_actor)] == [newcomer.id]
    service.decide_member(session, owner_actor, user_id=newcomer.id, approve=True)
    assert newcomer.status == "active"
    assert full_login(session, newcomer, None).row.mfa_passed
    assert "user.approve" in _actions(session, object_type="user", object_id=newcomer.id)


def test_another_enterprise_cannot_approve_a_waiting_registration(session: Session) -> None:
    subject = make_subject(session)
    _register(session, subject.uscc, "first-owner")
    newcomer = _register(session, subject.uscc, "second-comer")
    _, stranger = _owner(session)
    with pytest.raises(NotFound):
        service.decide_member(session, stranger, user_id=newcomer.id, approve=True)
    assert newcomer.status == "pending"


def test_the_operator_approves_a_waiting_registration_only_with_evidence(
    session: Session,
) -> None:
    subject = make_subject(session)
    _register(session, subject.uscc, "first-owner")
    newcomer = _register(session, subject.uscc, "second-comer")
    operator, _ = make_user(session, Role.OPERATOR)
    actor = service.actor_for_user(operator)
    assert newcomer in service.list_pending_registrations(session, actor)
    with pytest.raises(ValidationFailed):
        service.review_registration(session, actor, user_id=newcomer.id, approve=True, evidence="")
    service.review_registration(
        session, actor, user_id=newcomer.id, approve=True, evidence="营业执照及法定代表人授权书已核"
    )
    assert newcomer.status == "active"
    event = session.scalars(
        select(AuditEvent).where(
            AuditEvent.action == "user.approve", AuditEvent.object_id == str(newcomer.id)
        )
    ).one()
    assert event.facts["detail"]["evidence"] == "营业执照及法定代表人授权书已核"


# --- Administrators change each other only with a second administrator ----------------------


def _admins(session: Session) -> tuple[User, User, User]:
    return (
        make_user(session, Role.SYSTEM_ADMIN)[0],
        make_user(session, Role.SECURITY_ADMIN)[0],
        make_user(session, Role.AUDIT_ADMIN)[0],
    )


def test_administrators_cannot_disable_demote_or_re_role_each_other_alone(
    session: Session,
) -> None:
    system, security, auditor = _admins(session)
    with pytest.raises(SecondAdminRequired):
        service.disable_user(session, service.actor_for_user(system), user_id=security.id)
    with pytest.raises(SecondAdminRequired):
        service.disable_user(session, service.actor_for_user(system), user_id=auditor.id)
    with pytest.raises(SecondAdminRequired):
        service.set_role(
            session, service.actor_for_user(security), user_id=system.id, role=Role.OPERATOR
        )
    with pytest.raises(SecondAdminRequired):
        service.set_role(
            session, service.actor_for_user(security), user_id=auditor.id, role=Role.SYSTEM_ADMIN
        )
    assert (security.status, auditor.status, system.role, auditor.role) == (
        "active",
        "active",
        "system_admin",
        "audit_admin",
    )


def test_a_change_among_administrators_applies_when_another_approves(session: Session) -> None:
    system, security, auditor = _admins(session)
    opened = full_login(session, security, service.totp_secret_of(security, settings=SETTINGS))
    change = service.propose_admin_change(
        session,
        service.actor_for_user(system),
        user_id=security.id,
        action="disable",
        reason="离职",
    )
    assert security.status == "active"
    # Neither the proposer nor the administrator concerned decides it.
    for who in (system, security):
        with pytest.raises(SecondAdminRequired):
            service.decide_admin_change(
                session, service.actor_for_user(who), change_id=change.id, approve=True
            )
    service.decide_admin_change(
        session, service.actor_for_user(auditor), change_id=change.id, approve=True
    )
    assert (change.status, change.decided_by, security.status) == (
        "approved",
        auditor.username,
        "disabled",
    )
    assert service.resolve_session(session, token=opened.token, settings=SETTINGS) is None
    assert _actions(session, object_type="admin_change", object_id=change.id) == [
        "admin_change.propose",
        "admin_change.approve",
    ]
    assert "user.disable" in _actions(session, object_type="user", object_id=security.id)
    with pytest.raises(InvalidTransition):
        service.decide_admin_change(
            session, service.actor_for_user(auditor), change_id=change.id, approve=False
        )


def test_a_rejected_change_changes_nothing(session: Session) -> None:
    system, security, auditor = _admins(session)
    change = service.propose_admin_change(
        session,
        service.actor_for_user(security),
        user_id=system.id,
        action="set_role",
        role=Role.OPERATOR,
    )
    service.decide_admin_change(
        session, service.actor_for_user(auditor), change_id=change.id, approve=False
    )
    assert (change.status, system.role) == ("rejected", "system_admin")


def test_only_the_system_admin_proposes_a_disable_and_the_security_admin_a_role(
    session: Session,
) -> None:
    system, security, auditor = _admins(session)
    with pytest.raises(Forbidden):
        service.propose_admin_change(
            session, service.actor_for_user(security), user_id=auditor.id, action="disable"
        )
    with pytest.raises(Forbidden):
        service.propose_admin_change(
            session,
            service.actor_for_user(auditor),
            user_id=system.id,
            action="set_role",
            role=Role.OPERATOR,
        )


def test_the_console_changes_an_administrator_directly_and_on_record(session: Session) -> None:
    _, security, _ = _admins(session)
    service.disable_user(session, CONSOLE, user_id=security.id)
    assert security.status == "disabled"
    assert "user.disable" in _actions(session, object_type="user", object_id=security.id)


# --- The console -----------------------------------------------------------------------------


def test_the_console_creates_no_enterprise_user_and_invites_a_banks_first_administrator(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CREDITBRIDGE_DATABASE_URL", f"sqlite:///{tmp_path / 'cli.db'}")
    reset_cli_caches()
    try:
        runner = CliRunner()
        assert runner.invoke(app, ["db", "upgrade"]).exit_code == 0
        forged = runner.invoke(
            app,
            ["users", "create", "forged", "--role", "enterprise_user", "--password", PASSWORD],
        )
        with transaction() as session:
            factories.institution(session, code="bank-cli")
        invited = runner.invoke(app, ["institutions", "invite", "bank-cli"])
        again = runner.invoke(app, ["institutions", "invite", "bank-cli"])
    finally:
        reset_cli_caches()
    assert forged.exit_code != 0
    assert "CB-BINDING-REFUSED" in forged.output or "管理员不能创建" in forged.output
    assert invited.exit_code == 0, invited.output
    assert "/invitations/" in invited.output
    # Pending, not yet accepted: a second one may be issued until the institution has an admin.
    assert again.exit_code == 0
