"""Pure rules of the trust layer: the admission workflow, the password policy, role bindings and
the canonical string of a signed request. No database, no HTTP."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Final

from creditbridge.core.actors import Role
from creditbridge.core.errors import Issue
from creditbridge.reference import divisions

# --- Institution admission -------------------------------------------------------------------

INSTITUTION_KINDS: Final = ("bank", "guarantor", "insurer", "credit_agency", "city_platform")
INSTITUTION_STATES: Final = ("applied", "assessing", "approved", "suspended", "revoked")

# The only moves admission allows. Revocation is final: a revoked institution re-applies as new.
TRANSITIONS: Final[dict[str, frozenset[str]]] = {
    "applied": frozenset({"assessing", "revoked"}),
    "assessing": frozenset({"approved", "revoked"}),
    "approved": frozenset({"suspended", "revoked"}),
    "suspended": frozenset({"approved", "revoked"}),
    "revoked": frozenset(),
}

# What the security assessment checks before admission (等保 2.0 level 3 expectations of a
# party that will receive personal and enterprise financial information).
ASSESSMENT_ITEMS: Final[dict[str, str]] = {
    "licence": "金融许可证或经营资质已核验",
    "mlps_filing": "等级保护（三级）备案与测评报告已提交",
    "crypto_assessment": "商用密码应用安全性评估（GB/T 39786）材料已提交",
    "data_security_policy": "数据安全管理制度与人员保密承诺已提交",
    "network_access": "专线或安全接入方式与出口IP已登记",
    "contact": "安全联系人与应急联系方式已登记",
}


def can_transition(current: str, target: str) -> bool:
    return target in TRANSITIONS.get(current, frozenset())


def missing_assessment_items(assessment: dict[str, dict[str, object]] | None) -> list[str]:
    done = assessment or {}
    return [item for item in ASSESSMENT_ITEMS if not done.get(item, {}).get("checked")]


# --- Roles -----------------------------------------------------------------------------------

ADMIN_ROLES: Final = frozenset({Role.SYSTEM_ADMIN, Role.SECURITY_ADMIN, Role.AUDIT_ADMIN})
# Roles that act for an enterprise or an institution. No administrator creates them: an account is
# bound to an enterprise by the enterprise (verified registration, a colleague's invitation), to an
# institution by its officer-administrator's invitation (issue 21, finding 2).
BUSINESS_ROLES: Final = frozenset({Role.ENTERPRISE_USER, Role.INSTITUTION_OFFICER})
INVITATION_DAYS: Final = 7
# A registration waiting longer than this for the operator's review is marked overdue (issue 23):
# an enterprise that cannot log in cannot consent to a loan application meanwhile.
REGISTRATION_REVIEW_DAYS: Final = 3


def days_waiting(since: datetime, now: datetime) -> int:
    """Whole days from ``since`` to ``now`` (0 on the day itself, never negative)."""
    return max(0, (now - since).days)


def review_overdue(since: datetime, now: datetime) -> bool:
    return days_waiting(since, now) > REGISTRATION_REVIEW_DAYS


# What the administrators' desk creates: the platform's own staff and the providers' clerks, who
# read no enterprise's self-query, consents or reports.
ADMIN_CREATED_ROLES: Final = frozenset({Role.OPERATOR, Role.PROVIDER_USER})
# 等保 2.0 §8.1.4 身份鉴别: two factors for everyone who administers or feeds the platform.
TOTP_REQUIRED: Final = frozenset(
    {
        Role.SYSTEM_ADMIN,
        Role.SECURITY_ADMIN,
        Role.AUDIT_ADMIN,
        Role.OPERATOR,
        Role.PROVIDER_USER,
        Role.INSTITUTION_OFFICER,
    }
)


def binding_issues(
    role: Role, *, institution_id: int | None, provider_id: int | None, subject_id: int | None
) -> list[Issue]:
    """A provider user belongs to a provider, an officer to an institution, an enterprise user to
    a subject; no other role is bound to anything."""
    wanted = {
        Role.PROVIDER_USER: "provider_id",
        Role.INSTITUTION_OFFICER: "institution_id",
        Role.ENTERPRISE_USER: "subject_id",
    }.get(role)
    given = {
        "institution_id": institution_id,
        "provider_id": provider_id,
        "subject_id": subject_id,
    }
    issues = []
    for name, value in given.items():
        if name == wanted and value is None:
            issues.append(Issue("required", f"{role.label_zh}必须绑定所属单位", field=name))
        if name != wanted and value is not None:
            issues.append(Issue("not_allowed", f"{role.label_zh}不能绑定此项", field=name))
    return issues


def division_issues(role: Role, division_code: str | None) -> list[Issue]:
    """Only an operator belongs to a division (issue 23, 逐级把关): a province, city or county
    in GB/T 2260, current. None is a node-wide operator."""
    if division_code is None:
        return []
    if role is not Role.OPERATOR:
        return [Issue("not_allowed", f"{role.label_zh}不归属行政区划", field="division_code")]
    problem = divisions.operator_division_issue(division_code)
    return [Issue("invalid", problem, field="division_code")] if problem else []


def needs_second_admin(current: Role, new: Role | None) -> bool:
    """Whether a change of an account needs a second administrator's approval: it disables
    (``new`` None) or re-roles an administrator, or makes someone an administrator."""
    return current in ADMIN_ROLES or (new is not None and new in ADMIN_ROLES)


def retry_after_seconds(counted: list[float], *, limit: int, window_seconds: int) -> int | None:
    """Seconds until one more attempt is allowed, given the ages in seconds (oldest first) of the
    attempts counted within the window; None when fewer than ``limit`` were counted."""
    if len(counted) < limit:
        return None
    # The attempt whose expiry brings the count below the limit.
    age = counted[len(counted) - limit]
    return max(1, int(window_seconds - age) + 1)


# --- Passwords -------------------------------------------------------------------------------

PASSWORD_MIN_LENGTH: Final = 10
USERNAME_PATTERN: Final = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{2,63}$")


def password_issues(password: str, *, username: str) -> list[Issue]:
    """等保 2.0 §8.1.4 a): 口令具有复杂度要求. Messages are shown to the user as they are."""
    issues = []
    if len(password) < PASSWORD_MIN_LENGTH:
        issues.append(
            Issue("too_short", f"密码长度至少 {PASSWORD_MIN_LENGTH} 位", field="password")
        )
    classes = sum(
        [
            any(c.islower() for c in password),
            any(c.isupper() for c in password),
            any(c.isdigit() for c in password),
            any(not c.isalnum() for c in password),
        ]
    )
    if classes < 3:
        issues.append(
            Issue(
                "too_simple",
                "密码须包含大写字母、小写字母、数字、特殊字符中的至少三类",
                field="password",
            )
        )
    if username and username.lower() in password.lower():
        issues.append(Issue("contains_username", "密码不能包含用户名", field="password"))
    return issues


def username_issues(username: str) -> list[Issue]:
    if not USERNAME_PATTERN.fullmatch(username):
        return [
            Issue(
                "invalid",
                "用户名为 3–64 位字母、数字或 _ . -，以字母或数字开头",
                field="username",
            )
        ]
    return []


# --- Signed requests -------------------------------------------------------------------------


def canonical_request(
    method: str, path: str, query: str, timestamp: str, nonce: str, body_sm3: str
) -> bytes:
    """``METHOD\\nPATH?QUERY\\nTIMESTAMP\\nNONCE\\nBODY_SM3`` — exactly what the client signs.

    The query is taken as sent (not re-sorted), so client and server need no shared normaliser.
    """
    target = f"{path}?{query}" if query else path
    return "\n".join([method.upper(), target, timestamp, nonce, body_sm3.lower()]).encode()
