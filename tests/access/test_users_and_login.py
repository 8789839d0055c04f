"""Users, passwords, second factor, lockout, sessions and the separation of admin roles."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy.orm import Session

from creditbridge.access import domain, service
from creditbridge.access.errors import LoginFailed, SecondAdminRequired
from creditbridge.core.actors import CONSOLE, Role
from creditbridge.core.clock import FrozenClock
from creditbridge.core.errors import Forbidden, NotFound, ValidationFailed

from .conftest import (
    PASSWORD,
    SETTINGS,
    code_now,
    full_login,
    make_institution,
    make_subject,
    make_user,
)


@pytest.mark.parametrize(
    ("password", "code"),
    [
        ("Short-1a", "too_short"),
        ("alllowercaseletters", "too_simple"),
        ("Alice-Secret-99", "contains_username"),
    ],
)
def test_password_policy_names_the_rule_in_chinese(password: str, code: str) -> None:
    issues = domain.password_issues(password, username="alice")
    assert code in [issue.code for issue in issues]
    assert all(any("\u4e00" <= ch <= "\u9fff" for ch in issue.message) for issue in issues)


def test_good_password_passes() -> None:
    assert domain.password_issues("Correct-Horse-42", username="alice") == []


def test_password_is_stored_as_argon2(session: Session) -> None:
    user, _ = make_user(session, Role.OPERATOR)
    assert user.password_hash.startswith("$argon2id$")
    assert PASSWORD not in user.password_hash


def test_login_with_password_and_totp(session: Session) -> None:
    user, secret = make_user(session, Role.INSTITUTION_OFFICER)
    opened = service.login_with_password(
        session, username=user.username, password=PASSWORD, settings=SETTINGS
    )
    assert not opened.row.mfa_passed
    assert (
        service.resolve_session(session, token=opened.token, settings=SETTINGS) is None
    )  # not logged in yet
    done = service.verify_second_factor(
        session, token=opened.token, code=code_now(secret or ""), settings=SETTINGS
    )
    active = service.resolve_session(session, token=done.token, settings=SETTINGS)
    assert active is not None
    assert active.actor.role is Role.INSTITUTION_OFFICER
    # The pre-login token is worthless after the second factor (no session fixation).
    assert service.resolve_session(session, token=opened.token, settings=SETTINGS) is None
    # Only the token's SM3 is stored.
    assert done.row.token_hash != done.token
    assert len(done.row.token_hash) == 64


def test_wrong_totp_code_is_refused(session: Session) -> None:
    user, _ = make_user(session, Role.OPERATOR)
    opened = service.login_with_password(
        session, username=user.username, password=PASSWORD, settings=SETTINGS
    )
    with pytest.raises(LoginFailed):
        service.verify_second_factor(session, token=opened.token, code="000000", settings=SETTINGS)


def test_a_totp_code_is_accepted_only_once(session: Session, frozen_clock: FrozenClock) -> None:
    user, secret = make_user(session, Role.OPERATOR)
    code = code_now(secret or "")
    first = service.login_with_password(
        session, username=user.username, password=PASSWORD, settings=SETTINGS
    )
    service.verify_second_factor(session, token=first.token, code=code, settings=SETTINGS)
    second = service.login_with_password(
        session, username=user.username, password=PASSWORD, settings=SETTINGS
    )
    with pytest.raises(LoginFailed):
        service.verify_second_factor(session, token=second.token, code=code, settings=SETTINGS)


def test_enterprise_user_without_totp_logs_in_with_password(session: Session) -> None:
    user, _ = make_user(session, Role.ENTERPRISE_USER, enrol_totp=False)
    opened = service.login_with_password(
        session, username=user.username, password=PASSWORD, settings=SETTINGS
    )
    assert opened.row.mfa_passed


def test_admin_roles_must_pass_totp_even_before_enrolment(session: Session) -> None:
    user, _ = make_user(session, Role.SYSTEM_ADMIN, enrol_totp=False)
    opened = service.login_with_password(
        session, username=user.username, password=PASSWORD, settings=SETTINGS
    )
    assert not opened.row.mfa_passed


def test_password_guessing_locks_the_account_without_saying_so(
    session: Session, frozen_clock: FrozenClock
) -> None:
    user, secret = make_user(session, Role.OPERATOR)
    messages = set()
    for _ in range(5):
        with pytest.raises(LoginFailed) as failure:
            service.login_with_password(
                session, username=user.username, password="Wrong-Pass-1", settings=SETTINGS
            )
        messages.add(failure.value.message)
    # Locked: even the right password is refused, with the same message as an unknown account.
    with pytest.raises(LoginFailed) as locked:
        service.login_with_password(
            session, username=user.username, password=PASSWORD, settings=SETTINGS
        )
    with pytest.raises(LoginFailed) as unknown:
        service.login_with_password(
            session, username="nobody-here", password=PASSWORD, settings=SETTINGS
        )
    messages |= {locked.value.message, unknown.value.message}
    assert len(messages) == 1
    frozen_clock.advance(timedelta(minutes=15, seconds=1))
    assert full_login(session, user, secret)


def test_idle_session_expires_after_30_minutes(session: Session, frozen_clock: FrozenClock) -> None:
    user, secret = make_user(session, Role.OPERATOR)
    opened = full_login(session, user, secret)
    frozen_clock.advance(timedelta(minutes=29))
    assert service.resolve_session(session, token=opened.token, settings=SETTINGS) is not None
    frozen_clock.advance(timedelta(minutes=29))  # active 29 minutes ago: still fine
    assert service.resolve_session(session, token=opened.token, settings=SETTINGS) is not None
    frozen_clock.advance(timedelta(minutes=30))
    assert service.resolve_session(session, token=opened.token, settings=SETTINGS) is None


def test_absolute_session_expiry_after_12_hours(
    session: Session, frozen_clock: FrozenClock
) -> None:
    user, secret = make_user(session, Role.OPERATOR)
    opened = full_login(session, user, secret)
    for _ in range(30):  # busy all day, never idle
        frozen_clock.advance(timedelta(minutes=28))
        if service.resolve_session(session, token=opened.token, settings=SETTINGS) is None:
            break
    elapsed = frozen_clock.current - opened.row.created_at
    assert timedelta(hours=12) <= elapsed < timedelta(hours=12, minutes=28)
    assert service.resolve_session(session, token=opened.token, settings=SETTINGS) is None


def test_suspended_institution_loses_open_sessions_at_once(session: Session) -> None:
    institution = make_institution(session)
    user, secret = make_user(session, Role.INSTITUTION_OFFICER, institution=institution)
    opened = full_login(session, user, secret)
    assert service.resolve_session(session, token=opened.token, settings=SETTINGS) is not None
    service.transition_institution(
        session, CONSOLE, institution_id=institution.id, target="suspended"
    )
    assert service.resolve_session(session, token=opened.token, settings=SETTINGS) is None
    service.transition_institution(
        session, CONSOLE, institution_id=institution.id, target="approved"
    )
    assert service.resolve_session(session, token=opened.token, settings=SETTINGS) is not None


def test_disabled_user_loses_sessions(session: Session) -> None:
    admin, _ = make_user(session, Role.SYSTEM_ADMIN)
    user, secret = make_user(session, Role.OPERATOR)
    opened = full_login(session, user, secret)
    service.disable_user(session, service.actor_for_user(admin), user_id=user.id)
    assert service.resolve_session(session, token=opened.token, settings=SETTINGS) is None


# --- 三员分立 ---------------------------------------------------------------------------------


def test_system_admin_creates_users_but_not_admins_and_cannot_grant_roles(session: Session) -> None:
    admin, _ = make_user(session, Role.SYSTEM_ADMIN)
    actor = service.actor_for_user(admin)
    created = service.create_user(
        session,
        actor,
        username="op-new",
        display_name="运营",
        password=PASSWORD,
        role=Role.OPERATOR,
    )
    with pytest.raises(Forbidden):
        service.create_user(
            session,
            actor,
            username="sec-new",
            display_name="安全",
            password=PASSWORD,
            role=Role.SECURITY_ADMIN,
        )
    with pytest.raises(Forbidden):
        service.set_role(session, actor, user_id=created.id, role=Role.AUDIT_ADMIN)
    with pytest.raises(Forbidden):
        service.set_role(session, actor, user_id=admin.id, role=Role.SECURITY_ADMIN)


def test_security_admin_grants_roles_but_not_to_itself_and_manages_no_accounts(
    session: Session,
) -> None:
    security, _ = make_user(session, Role.SECURITY_ADMIN)
    actor = service.actor_for_user(security)
    other, _ = make_user(session, Role.OPERATOR)
    # Making someone an administrator takes a second administrator's approval (issue 21).
    with pytest.raises(SecondAdminRequired):
        service.set_role(session, actor, user_id=other.id, role=Role.AUDIT_ADMIN)
    change = service.propose_admin_change(
        session, actor, user_id=other.id, action="set_role", role=Role.AUDIT_ADMIN
    )
    auditor, _ = make_user(session, Role.AUDIT_ADMIN)
    service.decide_admin_change(
        session, service.actor_for_user(auditor), change_id=change.id, approve=True
    )
    assert other.role == "audit_admin"
    with pytest.raises(Forbidden):
        service.set_role(session, actor, user_id=security.id, role=Role.SYSTEM_ADMIN)
    with pytest.raises(Forbidden):
        service.disable_user(session, actor, user_id=other.id)
    with pytest.raises(Forbidden):
        service.create_user(
            session,
            actor,
            username="x-new",
            display_name="x",
            password=PASSWORD,
            role=Role.OPERATOR,
        )


def test_audit_admin_can_do_none_of_the_others_jobs(session: Session) -> None:
    auditor, _ = make_user(session, Role.AUDIT_ADMIN)
    actor = service.actor_for_user(auditor)
    other, _ = make_user(session, Role.OPERATOR)
    for attempt in (
        lambda: service.create_user(
            session,
            actor,
            username="y-new",
            display_name="y",
            password=PASSWORD,
            role=Role.OPERATOR,
        ),
        lambda: service.disable_user(session, actor, user_id=other.id),
        lambda: service.set_role(session, actor, user_id=other.id, role=Role.OPERATOR),
        lambda: service.create_client(
            session,
            actor,
            name="c",
            owner_kind="node",
            algorithm="sm2",
            node_code="340100",
            settings=SETTINGS,
        ),
        lambda: service.list_flags(session, actor),
    ):
        with pytest.raises((Forbidden, NotFound)):
            attempt()


def test_user_binding_follows_the_role(session: Session) -> None:
    with pytest.raises(ValidationFailed):
        service.create_user(
            session,
            CONSOLE,
            username="provider-x",
            display_name="x",
            password=PASSWORD,
            role=Role.PROVIDER_USER,
        )


def test_officer_sees_colleagues_but_not_other_institutions_users(session: Session) -> None:
    mine, theirs = make_institution(session), make_institution(session)
    me, _ = make_user(session, Role.INSTITUTION_OFFICER, institution=mine)
    colleague, _ = make_user(session, Role.INSTITUTION_OFFICER, institution=mine)
    stranger, _ = make_user(session, Role.INSTITUTION_OFFICER, institution=theirs)
    actor = service.actor_for_user(me)
    assert service.access_user(session, actor, colleague.id) is colleague
    with pytest.raises(NotFound):
        service.access_user(session, actor, stranger.id)
    assert stranger not in service.list_users(session, actor)


# --- Enterprise registration -----------------------------------------------------------------


def test_enterprise_registers_after_legal_representative_check(session: Session) -> None:
    subject = make_subject(session, legal_rep="李四", id_number="34010219800101123X")
    user = service.register_enterprise_user(
        session,
        uscc=subject.uscc,
        legal_rep_name="李四",
        id_tail="01123x",
        username="qiye-li",
        display_name="李四",
        password=PASSWORD,
        settings=SETTINGS,
    )
    assert user.subject_id == subject.id
    assert user.role == Role.ENTERPRISE_USER.value


@pytest.mark.parametrize(("name", "tail"), [("王五", "01123X"), ("李四", "000000"), ("李四", "")])
def test_registration_refused_when_the_representative_does_not_match(
    session: Session, name: str, tail: str
) -> None:
    subject = make_subject(session, legal_rep="李四", id_number="34010219800101123X")
    with pytest.raises(ValidationFailed, match="法定代表人核验未通过"):
        service.register_enterprise_user(
            session,
            uscc=subject.uscc,
            legal_rep_name=name,
            id_tail=tail,
            username="qiye-x",
            display_name="x",
            password=PASSWORD,
            settings=SETTINGS,
        )
