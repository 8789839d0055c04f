"""The auditor's home (工作台): recent sensitive actions and the chain's state, read cheaply.

The chain is not verified here (a provincial trail holds millions of events): the home shows the
head and the result the last ``audit.verify`` recorded, and links to the page that runs the check.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Final

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from creditbridge.audit.models import AuditEvent
from creditbridge.audit.service import get_head

__all__ = ["SENSITIVE_ACTIONS", "LastCheck", "get_head", "last_check", "list_sensitive"]

# Reads of enterprise data, changes of rights and keys, exports and refusals: what an auditor
# (审计管理员, 等保 2.0 §8.1.4.3) reviews first. Prefixes, so a new "report.*" action is included.
SENSITIVE_ACTIONS: Final = (
    "data.",
    "scoring.read",
    "report.",
    "user.set_role",
    "user.set_division",
    "user.disable",
    "user.create",
    "admin_change.",
    "api_client.",
    "keys.",
    "audit.export",
    "audit.purge",
    "feed.export",
    "demo.truth_export",
    "login.refused",
    "login.throttled",
    "institution.flag",
)


@dataclass(frozen=True)
class LastCheck:
    at: datetime
    ok: bool | None
    checked: int | None
    broken_sequence: int | None


def list_sensitive(session: Session, *, limit: int = 8) -> list[AuditEvent]:
    """The latest sensitive events, newest first."""
    matches = [
        AuditEvent.action.startswith(p) if p.endswith(".") else AuditEvent.action == p
        for p in SENSITIVE_ACTIONS
    ]
    return list(
        session.scalars(
            select(AuditEvent)
            .where(or_(*matches))
            .order_by(AuditEvent.sequence.desc())
            .limit(limit)
        )
    )


def last_check(session: Session) -> LastCheck | None:
    """What the last verification of the chain found, as it recorded it."""
    event = session.scalars(
        select(AuditEvent)
        .where(AuditEvent.action == "audit.verify")
        .order_by(AuditEvent.sequence.desc())
        .limit(1)
    ).first()
    if event is None:
        return None
    detail = event.content.get("detail") or {}
    ok = detail.get("ok")
    checked = detail.get("checked")
    broken = detail.get("broken_sequence")
    return LastCheck(
        at=event.occurred_at,
        ok=ok if isinstance(ok, bool) else None,
        checked=checked if isinstance(checked, int) else None,
        broken_sequence=broken if isinstance(broken, int) else None,
    )
