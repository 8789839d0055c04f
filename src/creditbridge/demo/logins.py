"""Demo logins: one account per role on a demo database, printed by `creditbridge access demo-logins`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

import pyotp
from sqlalchemy import select
from sqlalchemy.orm import Session

from creditbridge.access import domain as access_domain
from creditbridge.access import service as access_service
from creditbridge.access.models import Institution, User
from creditbridge.core.actors import Actor, Role
from creditbridge.core.clock import utc_now
from creditbridge.core.config import Settings
from creditbridge.core.errors import Forbidden
from creditbridge.ingest.models import Provider
from creditbridge.presentation.errors import keyed
from creditbridge.protection import service as protection
from creditbridge.reference import divisions
from creditbridge.subjects import service as subjects_service

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
# Operators by region (issue 23): one per level, so that the whitelist's county → city →
# province review (逐级把关) is walked by three accounts. demo-operator above stays node-wide.
# Their divisions follow the demo enterprise's county (see ``_region_codes``).
DEMO_REGION_OPERATORS: Final[tuple[tuple[str, str, str], ...]] = (
    ("province", "demo-operator-province", "演示省级运营人员"),
    ("city", "demo-operator-city", "演示市级运营人员"),
    ("county", "demo-operator-county", "演示县级运营人员"),
)
# Used when the database has no subject in a listed county: Hefei's 蜀山区.
FALLBACK_COUNTY: Final = "340104"


@dataclass(frozen=True)
class DemoLogin:
    role: Role
    username: str
    password: str
    totp_secret: str | None
    bound_to: str
    division_code: str | None = None

    def current_code(self) -> str | None:
        if self.totp_secret is None:
            return None
        return pyotp.TOTP(self.totp_secret).at(utc_now())


def ensure_demo_logins(session: Session, actor: Actor, *, settings: Settings) -> list[DemoLogin]:
    """One user per role, bound to the first approved bank, provider and subject of the database;
    created once, then reported as they are. TOTP secrets are made at creation and kept
    (encrypted) in the database, so they differ between databases and stay put in one."""
    if settings.env == "production":
        raise keyed(Forbidden, "error.demo.production")
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
        user = access_service.get_user_by_username(session, username)
        if user is None:
            user = _make(session, actor, role, username, display_name, binding, settings)
        if user is None:
            continue
        logins.append(
            DemoLogin(role, username, DEMO_PASSWORD, _totp(session, user, settings), bound_to)
        )
    regions = _region_codes(subject.division_code if subject is not None else None)
    regional: list[DemoLogin] = []
    for level, username, display_name in DEMO_REGION_OPERATORS:
        division_code = regions[level]
        user = access_service.get_user_by_username(session, username)
        if user is None:
            user = access_service.create_user(
                session,
                actor,
                username=username,
                display_name=display_name,
                password=DEMO_PASSWORD,
                role=Role.OPERATOR,
                division_code=division_code,
            )
        regional.append(
            DemoLogin(
                Role.OPERATOR,
                username,
                DEMO_PASSWORD,
                _totp(session, user, settings),
                divisions.name(user.division_code or "") or (user.division_code or ""),
                user.division_code,
            )
        )
    # Listed just before the node-wide demo-operator, so that whoever reads the list keyed by
    # role (as the browser tests do) still finds the node-wide one under "operator".
    at = next((i for i, login in enumerate(logins) if login.role is Role.OPERATOR), len(logins))
    return logins[:at] + regional + logins[at:]


def _totp(session: Session, user: User, settings: Settings) -> str | None:
    """The account's TOTP secret, enrolled first when its role requires one and it has none;
    None while its TOTP is off."""
    secret = access_service.totp_secret_of(user, settings=settings)
    if Role(user.role) in access_domain.TOTP_REQUIRED and secret is None:
        secret = access_service.start_totp_enrolment(session, user, settings=settings)
        user.totp_enabled = True
        session.flush()
    return secret if user.totp_enabled else None


def _region_codes(subject_division: str | None) -> dict[str, str]:
    """The province, city and county of the demo enterprise, when its county is a current one the
    reference data lists; else those of :data:`FALLBACK_COUNTY`."""
    county = subject_division or ""
    division = divisions.get(county)
    if division is None or division.level != "county" or not division.is_current:
        county = FALLBACK_COUNTY
    city = divisions.city_of(county) or FALLBACK_COUNTY[:4] + "00"
    province = divisions.province_of(county) or FALLBACK_COUNTY[:2] + "0000"
    return {"province": province, "city": city, "county": county}


def _make(
    session: Session,
    actor: Actor,
    role: Role,
    username: str,
    display_name: str,
    binding: dict[str, int | None],
    settings: Settings,
) -> User | None:
    """A demo account made the way a real one is (issue 21, finding 2): staff by the console; the
    bank's officer by accepting the operator's invitation for its first officer-administrator;
    the enterprise's user by registering with its legal representative's identity (which the
    synthetic province generated). None when the way is closed (the bank already has an
    officer-administrator, the enterprise no identity record)."""
    if role is Role.INSTITUTION_OFFICER:
        institution_id = binding["institution_id"]
        assert institution_id is not None
        if access_service.has_org_admin(session, institution_id):
            return None
        issued = access_service.invite_institution_admin(
            session, actor, institution_id=institution_id, note="演示账户 demo login"
        )
        return access_service.accept_invitation(
            session,
            token=issued.token,
            username=username,
            display_name=display_name,
            password=DEMO_PASSWORD,
        )
    if role is Role.ENTERPRISE_USER:
        subject_id = binding["subject_id"]
        assert subject_id is not None
        identity = _legal_rep(session, subject_id)
        if identity is None:
            return None
        subject = subjects_service.get_subject_or_raise(session, subject_id)
        user = access_service.register_enterprise_user(
            session,
            uscc=subject.uscc,
            legal_rep_name=identity[0],
            id_tail=identity[1],
            username=username,
            display_name=display_name,
            password=DEMO_PASSWORD,
            settings=settings,
        )
        if user.status == "pending":
            access_service.review_registration(
                session, actor, user_id=user.id, approve=True, evidence="演示数据 demo data"
            )
        return user
    return access_service.create_user(
        session,
        actor,
        username=username,
        display_name=display_name,
        password=DEMO_PASSWORD,
        role=role,
        provider_id=binding.get("provider_id"),
    )


def _legal_rep(session: Session, subject_id: int) -> tuple[str, str] | None:
    """(name, last six characters of the identity number) of the subject's legal representative."""
    records = subjects_service.list_current_records(
        session,
        subject_id=subject_id,
        public_datasets=(),
        restricted_datasets=["legal_rep_identity"],
    )
    for record in records:
        data = protection.reveal_record(record.dataset_code, record.data or {})
        name, number = str(data.get("person_name") or ""), str(data.get("id_number") or "")
        if name and len(number) >= 6:
            return name, number[-6:]
    return None
