"""The whitelist: candidates by rules or by hand, two-level review, removal, subscriptions."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session

from creditbridge.audit import service as audit
from creditbridge.core.actors import Actor
from creditbridge.core.clock import utc_now
from creditbridge.core.errors import NotFound, ValidationFailed
from creditbridge.marketplace import domain
from creditbridge.marketplace.domain import Level, WhitelistCriteria, WhitelistStatus
from creditbridge.marketplace.models import Demand, WhitelistEntry, WhitelistSubscription
from creditbridge.marketplace.service._common import (
    _institution_of,
    _require_operator,
    current_grade,
)
from creditbridge.marketplace.service.notifications import _notify
from creditbridge.presentation.errors import keyed, keyed_issue
from creditbridge.subjects import service as subjects_service


def propose_whitelist(
    session: Session, actor: Actor, *, criteria: WhitelistCriteria | None = None
) -> list[WhitelistEntry]:
    """The rules propose candidates among enterprises with a live demand or in a policy
    industry, graded at or above the threshold, not already on the way or listed."""
    _require_operator(actor)
    rules = criteria or WhitelistCriteria()
    live = set(
        session.scalars(
            select(Demand.subject_id).where(
                Demand.status.in_([s.value for s in domain.LIVE_DEMAND])
            )
        )
    )
    pending = set(
        session.scalars(
            select(WhitelistEntry.subject_id).where(
                WhitelistEntry.status.notin_(
                    [WhitelistStatus.REJECTED.value, WhitelistStatus.REMOVED.value]
                )
            )
        )
    )
    candidates = set(live)
    candidates |= set(
        subjects_service.list_subject_ids_in_sections(session, rules.policy_sections, limit=5000)
    )
    sections = subjects_service.industry_sections(session, candidates)
    proposed = []
    now = utc_now()
    for subject_id in sorted(candidates - pending):
        grade = current_grade(session, subject_id)
        reasons = domain.whitelist_reasons(
            rules, grade=grade, live_demand=subject_id in live, section=sections.get(subject_id)
        )
        if reasons is None:
            continue
        entry = WhitelistEntry(
            subject_id=subject_id,
            status=WhitelistStatus.PROPOSED.value,
            grade=grade,
            reasons=reasons,
            proposed_at=now,
            status_changed_at=now,
        )
        session.add(entry)
        proposed.append(entry)
    session.flush()
    for entry in proposed:
        audit.record(
            session,
            actor,
            action="market.whitelist.propose",
            object_type="marketplace_whitelist_entry",
            object_id=entry.id,
            subject_id=entry.subject_id,
            detail={"grade": entry.grade, "reasons": list(entry.reasons)},
        )
    return proposed


def add_whitelist_candidate(
    session: Session, actor: Actor, *, subject_id: int, grade: str | None, reasons: list[str]
) -> WhitelistEntry:
    """A candidate put forward by hand (or by the demo) rather than by the rules."""
    _require_operator(actor)
    now = utc_now()
    entry = WhitelistEntry(
        subject_id=subject_id,
        status=WhitelistStatus.PROPOSED.value,
        grade=grade,
        reasons=reasons,
        proposed_at=now,
        status_changed_at=now,
    )
    session.add(entry)
    session.flush()
    audit.record(
        session,
        actor,
        action="market.whitelist.propose",
        object_type="marketplace_whitelist_entry",
        object_id=entry.id,
        subject_id=subject_id,
        detail={"grade": grade, "reasons": reasons},
    )
    return entry


def review_whitelist(
    session: Session, actor: Actor, *, entry_id: int, level: Level, approve: bool, note: str = ""
) -> WhitelistEntry:
    _require_operator(actor)
    entry = session.get(WhitelistEntry, entry_id)
    if entry is None:
        raise keyed(NotFound, "error.marketplace.no_whitelist_entry")
    before = entry.status
    after = domain.review_whitelist(before, level, approve=approve)
    if not approve and not note.strip():
        raise keyed(
            ValidationFailed,
            "error.marketplace.rejection_reason",
            issues=[keyed_issue("CB-MARKET-REASON", "error.marketplace.fill_reason", field="note")],
        )
    entry.status = after.value
    entry.note = note[:500] or entry.note
    entry.status_changed_at = utc_now()
    session.flush()
    audit.record(
        session,
        actor,
        action=f"market.whitelist.{level.value}_{'pass' if approve else 'reject'}",
        object_type="marketplace_whitelist_entry",
        object_id=entry.id,
        subject_id=entry.subject_id,
        detail={"from": before, "to": after.value, "note": note},
    )
    if after is WhitelistStatus.LISTED:
        _push_whitelist(session, entry, "whitelist.listed", "入选白名单")
    return entry


def remove_from_whitelist(
    session: Session, actor: Actor, *, entry_id: int, reason: str
) -> WhitelistEntry:
    """Removal when risk appears (a new enforcement, a penalty, an overdue loan)."""
    _require_operator(actor)
    entry = session.get(WhitelistEntry, entry_id)
    if entry is None:
        raise keyed(NotFound, "error.marketplace.no_whitelist_entry")
    if not reason.strip():
        raise keyed(
            ValidationFailed,
            "error.marketplace.removal_reason",
            issues=[
                keyed_issue("CB-MARKET-REASON", "error.marketplace.fill_reason", field="reason")
            ],
        )
    before = entry.status
    entry.status = domain.remove_whitelist(before).value
    entry.note = reason[:500]
    entry.status_changed_at = utc_now()
    session.flush()
    audit.record(
        session,
        actor,
        action="market.whitelist.remove",
        object_type="marketplace_whitelist_entry",
        object_id=entry.id,
        subject_id=entry.subject_id,
        detail={"from": before, "reason": reason},
    )
    _push_whitelist(session, entry, "whitelist.removed", f"移出白名单（{reason[:100]}）")
    return entry


def _push_whitelist(session: Session, entry: WhitelistEntry, event: str, what: str) -> None:
    name = subjects_service.subject_names(session, [entry.subject_id]).get(entry.subject_id)
    label = name[1] if name else f"#{entry.subject_id}"
    for institution_id in session.scalars(select(WhitelistSubscription.institution_id)):
        _notify(session, "institution", institution_id, event, f"{label} {what}")


def subscribe_whitelist(session: Session, actor: Actor) -> WhitelistSubscription:
    institution_id = _institution_of(actor)
    existing = session.scalar(
        select(WhitelistSubscription).where(WhitelistSubscription.institution_id == institution_id)
    )
    if existing is not None:
        return existing
    row = WhitelistSubscription(institution_id=institution_id, created_at=utc_now())
    session.add(row)
    session.flush()
    audit.record(
        session,
        actor,
        action="market.whitelist.subscribe",
        object_type="marketplace_whitelist_subscription",
        object_id=row.id,
    )
    return row


def is_subscribed(session: Session, actor: Actor) -> bool:
    if actor.institution_id is None:
        return False
    return (
        session.scalar(
            select(WhitelistSubscription.id).where(
                WhitelistSubscription.institution_id == actor.institution_id
            )
        )
        is not None
    )


def list_whitelist(
    session: Session, *, statuses: Iterable[str] | None = None
) -> list[WhitelistEntry]:
    query = select(WhitelistEntry)
    if statuses is not None:
        query = query.where(WhitelistEntry.status.in_(list(statuses)))
    return list(session.scalars(query.order_by(WhitelistEntry.id.desc()).limit(500)))
