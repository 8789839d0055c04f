"""Pure rules of the node network: node levels and codes, which code lies below which, the peer
workflow (申请 → 评估中 → 已接入 → 暂停 | 取消接入资格), and the admission assessment (接入评估,
plan §11): the shape of a city node's security self-assessment and the checks it must pass."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any, Final, Literal
from urllib.parse import urlsplit

from creditbridge.core.errors import InvalidTransition
from creditbridge.exchange.errors import assessment_invalid
from creditbridge.presentation.errors import keyed
from creditbridge.reference.divisions import (
    division_covers,
    division_level,
    operator_division_issue,
)

NodeLevel = Literal["national", "province", "city", "county"]
LEVELS: Final[tuple[NodeLevel, ...]] = ("national", "province", "city", "county")
NATIONAL_CODE: Final = "100000"
"""The national node's code: not a GB/T 2260 unit, the number the national platform is known by."""

Relation = Literal["upstream", "downstream"]
RELATIONS: Final[tuple[Relation, ...]] = ("upstream", "downstream")

# --- Node codes ----------------------------------------------------------------------------------


def level_of_code(code: str) -> NodeLevel | None:
    """The level a node's code names: ``100000`` the national node, else the GB/T 2260 level."""
    if code == NATIONAL_CODE:
        return "national"
    return division_level(code)


def code_issue(code: str, level: str) -> str | None:
    """Why ``code`` cannot be the code of a node of ``level`` (a message key's last part), or None."""
    if level not in LEVELS:
        return "level_unknown"
    if code == NATIONAL_CODE:
        return None if level == "national" else "level_mismatch"
    if operator_division_issue(code) is not None:
        return "code_invalid"
    return None if level_of_code(code) == level else "level_mismatch"


def is_below(upper: str, lower: str) -> bool:
    """Whether node ``lower`` lies inside node ``upper``'s area (strictly): every division lies
    below the national node; a city below its province; a county below its city and province."""
    if upper == lower or lower == NATIONAL_CODE:
        return False
    if upper == NATIONAL_CODE:
        return level_of_code(lower) is not None
    return division_covers(upper, lower)


# --- The peer workflow -----------------------------------------------------------------------------

PeerStatus = Literal["applied", "under_assessment", "admitted", "rejected", "suspended", "revoked"]
PEER_STATUSES: Final[tuple[PeerStatus, ...]] = (
    "applied",
    "under_assessment",
    "admitted",
    "rejected",
    "suspended",
    "revoked",
)

TRANSITIONS: Final[Mapping[PeerStatus, frozenset[PeerStatus]]] = {
    "applied": frozenset({"under_assessment", "rejected"}),
    "under_assessment": frozenset({"admitted", "rejected"}),
    # A suspension is temporary (a fault being fixed); a revocation is final: a revoked node
    # applies again as a new peer after a new assessment (§11).
    "admitted": frozenset({"suspended", "revoked"}),
    "suspended": frozenset({"admitted", "revoked"}),
    "rejected": frozenset(),
    "revoked": frozenset(),
}

EXCHANGING: Final = frozenset({"admitted"})
"""The statuses with which a peer's packages are accepted: a revoked or suspended node is refused
on its very next request, whatever its key."""


def transition(current: str, target: PeerStatus) -> PeerStatus:
    """``target`` when the workflow allows the move from ``current``; raises InvalidTransition."""
    allowed = TRANSITIONS.get(current, frozenset())  # type: ignore[call-overload]
    if target not in allowed:
        raise keyed(InvalidTransition, "error.exchange.transition", current=current, target=target)
    return target


def path_to_admission(current: str) -> list[PeerStatus]:
    """The moves that take a peer from ``current`` to admitted (``node admit`` from applied opens
    and closes the assessment in one act); raises InvalidTransition when there is none."""
    if current == "applied":
        return ["under_assessment", "admitted"]
    transition(current, "admitted")
    return ["admitted"]


# --- The security self-assessment (§11) -------------------------------------------------------------

ASSESSMENT_FIELDS: Final = (
    "dengbao_level",
    "dengbao_date",
    "separated_administrators",
    "audit_retention_months",
    "encryption_at_rest",
    "emergency_plan",
    "data_management_rules",
    "contacts",
)
MIN_DENGBAO_LEVEL: Final = 3
"""等保三级: what a platform holding enterprises' credit data is graded at."""
DENGBAO_VALID: Final = timedelta(days=366)
"""A level-3 system is assessed every year (GB/T 22239-2019 and the MPS rules)."""
MIN_AUDIT_RETENTION_MONTHS: Final = 6
"""网络安全法 art. 21: network logs kept for at least six months."""
_PHONE = re.compile(r"\+?[0-9][0-9 -]{5,19}")


@dataclass(frozen=True)
class Contact:
    name: str
    role: str
    phone: str
    email: str = ""


@dataclass(frozen=True)
class SelfAssessment:
    """A city node's security self-assessment, as the applicant declares it."""

    dengbao_level: int
    dengbao_date: date
    separated_administrators: bool
    audit_retention_months: int
    encryption_at_rest: bool
    emergency_plan: bool
    data_management_rules: bool
    contacts: tuple[Contact, ...] = field(default=())

    def as_dict(self) -> dict[str, Any]:
        return {
            "dengbao_level": self.dengbao_level,
            "dengbao_date": self.dengbao_date.isoformat(),
            "separated_administrators": self.separated_administrators,
            "audit_retention_months": self.audit_retention_months,
            "encryption_at_rest": self.encryption_at_rest,
            "emergency_plan": self.emergency_plan,
            "data_management_rules": self.data_management_rules,
            "contacts": [
                {"name": c.name, "role": c.role, "phone": c.phone, "email": c.email}
                for c in self.contacts
            ],
        }


def _flag(raw: Mapping[str, Any], name: str) -> bool:
    value = raw.get(name)
    if not isinstance(value, bool):
        raise assessment_invalid("not_boolean", field=name, name=name)
    return value


def _whole(raw: Mapping[str, Any], name: str, low: int, high: int) -> int:
    value = raw.get(name)
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise assessment_invalid("out_of_range", field=name, name=name, low=low, high=high)
    return value


def parse_assessment(raw: Mapping[str, Any], *, today: date) -> SelfAssessment:
    """The self-assessment in ``raw`` (parsed JSON), or AssessmentInvalid naming the first field
    that is missing or malformed. Whether it is *good enough* is :func:`assessment_findings`."""
    for name in ASSESSMENT_FIELDS:
        if name not in raw:
            raise assessment_invalid("missing", field=name, name=name)
    level = _whole(raw, "dengbao_level", 1, 5)
    text = raw["dengbao_date"]
    try:
        assessed = date.fromisoformat(text) if isinstance(text, str) else None
    except ValueError:
        assessed = None
    if assessed is None:
        raise assessment_invalid("not_date", field="dengbao_date", name="dengbao_date")
    if assessed > today:
        raise assessment_invalid("future_date", field="dengbao_date", name="dengbao_date")
    contacts_raw = raw["contacts"]
    if not isinstance(contacts_raw, list) or not contacts_raw:
        raise assessment_invalid("no_contacts", field="contacts")
    contacts: list[Contact] = []
    for index, item in enumerate(contacts_raw):
        where = f"contacts[{index}]"
        if not isinstance(item, Mapping):
            raise assessment_invalid("contact_shape", field=where)
        name, role, phone = (str(item.get(k) or "").strip() for k in ("name", "role", "phone"))
        if not name:
            raise assessment_invalid("missing", field=f"{where}.name", name=f"{where}.name")
        if not role:
            raise assessment_invalid("missing", field=f"{where}.role", name=f"{where}.role")
        if not _PHONE.fullmatch(phone):
            raise assessment_invalid("phone", field=f"{where}.phone", name=f"{where}.phone")
        contacts.append(Contact(name, role, phone, str(item.get("email") or "").strip()))
    return SelfAssessment(
        dengbao_level=level,
        dengbao_date=assessed,
        separated_administrators=_flag(raw, "separated_administrators"),
        audit_retention_months=_whole(raw, "audit_retention_months", 0, 1200),
        encryption_at_rest=_flag(raw, "encryption_at_rest"),
        emergency_plan=_flag(raw, "emergency_plan"),
        data_management_rules=_flag(raw, "data_management_rules"),
        contacts=tuple(contacts),
    )


@dataclass(frozen=True)
class Finding:
    """One failed admission check: a message key's last part, the field it concerns, parameters."""

    reason: str
    field: str
    params: Mapping[str, object] = dataclasses.field(default_factory=dict)


def assessment_findings(assessment: SelfAssessment, *, today: date) -> list[Finding]:
    """What a declared self-assessment lacks for admission; empty when it meets §11's minimums."""
    found: list[Finding] = []
    if assessment.dengbao_level < MIN_DENGBAO_LEVEL:
        found.append(Finding("dengbao_level", "dengbao_level", {"minimum": MIN_DENGBAO_LEVEL}))
    if today - assessment.dengbao_date > DENGBAO_VALID:
        found.append(Finding("dengbao_stale", "dengbao_date", {"date": assessment.dengbao_date}))
    for name in ("separated_administrators", "encryption_at_rest", "emergency_plan"):
        if not getattr(assessment, name):
            found.append(Finding(f"lacks_{name}", name))
    if not assessment.data_management_rules:
        found.append(Finding("lacks_data_management_rules", "data_management_rules"))
    if assessment.audit_retention_months < MIN_AUDIT_RETENTION_MONTHS:
        found.append(
            Finding(
                "audit_retention",
                "audit_retention_months",
                {"minimum": MIN_AUDIT_RETENTION_MONTHS},
            )
        )
    return found


# --- The automated technical checks ------------------------------------------------------------------

MAX_CLOCK_SKEW: Final = timedelta(minutes=5)


@dataclass(frozen=True)
class NodeFacts:
    """What the checks need of a node: its code, level and base URL."""

    code: str
    level: str
    url: str


def technical_findings(
    this: NodeFacts,
    peer: NodeFacts,
    *,
    relation: str,
    issued_at: datetime,
    now: datetime,
    production: bool,
) -> list[Finding]:
    """The checks an admission runs by itself: the peer's code is a code of its level and lies
    below this node (a downstream) or above it (the upstream); its URL is https in production;
    its identity document was not issued in the future beyond the clock-skew limit. The
    signature itself is verified when the document is imported (``exchange.identity``)."""
    found: list[Finding] = []
    issue = code_issue(peer.code, peer.level)
    if issue is not None:
        found.append(Finding(issue, "code", {"code": peer.code, "level": peer.level}))
    elif relation == "downstream" and not is_below(this.code, peer.code):
        found.append(Finding("not_below", "code", {"code": peer.code, "this": this.code}))
    elif relation == "upstream" and not is_below(peer.code, this.code):
        found.append(Finding("not_above", "code", {"code": peer.code, "this": this.code}))
    found.extend(url_findings(peer.url, production=production))
    if issued_at - now > MAX_CLOCK_SKEW:
        found.append(Finding("clock_skew", "issued_at", {"issued_at": issued_at}))
    return found


def url_findings(url: str, *, production: bool) -> list[Finding]:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return [Finding("url_invalid", "url", {"url": url})]
    if production and parts.scheme != "https":
        return [Finding("url_not_https", "url", {"url": url})]
    return []
