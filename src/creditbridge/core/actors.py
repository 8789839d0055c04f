"""Who is acting: the one value every service receives after ``session`` to decide what is allowed
and to write into the audit trail.

Built by the web layer from a login session or a signed API request, by the CLI for the operator at
the console, and by jobs for the system itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Role(StrEnum):
    """Roles are separate by design (三员分立): no role includes another's powers."""

    SYSTEM_ADMIN = (
        "system_admin"  # 系统管理员: configuration, users' accounts; never the audit trail
    )
    SECURITY_ADMIN = "security_admin"  # 安全管理员: roles, API clients, keys, abuse flags
    AUDIT_ADMIN = "audit_admin"  # 审计管理员: reads and verifies the audit trail; changes nothing
    OPERATOR = "operator"  # 平台运营方
    PROVIDER_USER = "provider_user"  # 数据提供单位用户
    INSTITUTION_OFFICER = "institution_officer"  # 金融机构客户经理
    ENTERPRISE_USER = "enterprise_user"  # 企业用户, bound to one subject

    @property
    def label_zh(self) -> str:
        return _ROLE_LABELS[self]


_ROLE_LABELS = {
    Role.SYSTEM_ADMIN: "系统管理员",
    Role.SECURITY_ADMIN: "安全管理员",
    Role.AUDIT_ADMIN: "审计管理员",
    Role.OPERATOR: "平台运营人员",
    Role.PROVIDER_USER: "数据提供单位用户",
    Role.INSTITUTION_OFFICER: "金融机构用户",
    Role.ENTERPRISE_USER: "企业用户",
}


class ActorKind(StrEnum):
    USER = "user"  # a person logged in to the pages
    API_CLIENT = "api_client"  # a signed API request from an institution, provider or node
    CLI = "cli"  # an operator at the server's console
    SYSTEM = "system"  # a job of the platform itself


@dataclass(frozen=True)
class Actor:
    kind: ActorKind
    id: int | None
    name: str
    role: Role | None = None
    institution_id: int | None = None
    provider_id: int | None = None
    subject_id: int | None = None
    ip: str | None = None
    # The GB/T 2260 division an operator works for (province, city or county): lists, dashboards
    # and exports are limited to it, and it sets the level at which the operator reviews the
    # whitelist (逐级把关). None for other roles and for a node-wide operator.
    division_code: str | None = None

    def has_role(self, *roles: Role) -> bool:
        return self.role in roles


SYSTEM = Actor(kind=ActorKind.SYSTEM, id=None, name="system")
CONSOLE = Actor(kind=ActorKind.CLI, id=None, name="console", role=Role.OPERATOR)
