"""The whitelist: candidates by rules or by hand, review county → city → province (逐级把关) by the
operators of those levels, removal, subscriptions, and the operator's list limited to its
division."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from typing import Final

from sqlalchemy import select
from sqlalchemy.orm import Session

from creditbridge.audit import service as audit
from creditbridge.core.actors import Actor
from creditbridge.core.clock import local_today, utc_now
from creditbridge.core.errors import Forbidden, NotFound, ValidationFailed
from creditbridge.marketplace import domain
from creditbridge.marketplace.domain import Level, WhitelistCriteria, WhitelistStatus
from creditbridge.marketplace.models import Demand, WhitelistEntry, WhitelistSubscription
from creditbridge.marketplace.service._common import (
    _institution_of,
    _require_operator,
    current_grade,
    deadline,
)
from creditbridge.marketplace.service.notifications import _notify
from creditbridge.presentation.errors import keyed, keyed_issue
from creditbridge.reference import divisions
from creditbridge.subjects import service as subjects_service

WHITELIST_REVIEW_DAYS: Final = 5
"""Working days a level has to review an entry that reached it before the list marks it overdue."""


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
    entry = _access_entry(session, actor, entry_id)
    if not may_review(session, actor, entry, level):
        raise keyed(Forbidden, "error.marketplace.whitelist_not_your_level", level=level.value)
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
    entry = _access_entry(session, actor, entry_id)
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


# --- by division -----------------------------------------------------------------------------


def _division_of_subject(session: Session, subject_id: int) -> str:
    return subjects_service.get_subject_or_raise(session, subject_id).division_code


def _access_entry(session: Session, actor: Actor, entry_id: int) -> WhitelistEntry:
    """The entry, if it concerns an enterprise in the operator's division; NotFound otherwise
    (another region's candidates are not this operator's to see)."""
    entry = session.get(WhitelistEntry, entry_id)
    if entry is None or (
        actor.division_code is not None
        and not domain.in_division(
            _division_of_subject(session, entry.subject_id), actor.division_code
        )
    ):
        raise keyed(NotFound, "error.marketplace.no_whitelist_entry")
    return entry


def operator_level(actor: Actor) -> str | None:
    """The level (province, city, county) of the operator's division; None for a node-wide one."""
    if actor.division_code is None:
        return None
    division = divisions.get(actor.division_code)
    return division.level if division is not None else None


def may_review(session: Session, actor: Actor, entry: WhitelistEntry, level: Level) -> bool:
    """Whether ``actor`` may decide ``level``'s stage of ``entry`` (see
    :func:`domain.may_review_whitelist`)."""
    if actor.division_code is None:
        return True
    return _may_review_in(actor, level, _division_of_subject(session, entry.subject_id))


def _may_review_in(actor: Actor, level: Level, subject_division: str) -> bool:
    return domain.may_review_whitelist(
        operator_division=actor.division_code,
        operator_level=operator_level(actor),
        stage=level,
        subject_division=subject_division,
    )


@dataclass(frozen=True)
class WhitelistRow:
    """One line of the operator's whitelist: the entry with its enterprise, and what this
    operator may do with it."""

    entry: WhitelistEntry
    uscc: str
    name: str
    division_code: str
    industry_section: str | None
    stage: Level | None
    """The level whose review the entry waits for; None when it waits for none."""
    can_review: bool
    due_date: date | None
    overdue: bool


_WAITING: Final = {before.value: level for level, (before, _) in domain.REVIEW_STAGE.items()}
WHITELIST_SORTS: Final = ("proposed_at", "status_changed_at", "grade", "name", "status")


def list_whitelist_rows(
    session: Session,
    actor: Actor,
    *,
    status: str | None = None,
    grade: str | None = None,
    region: str | None = None,
    industry: str | None = None,
    date_from: date | None = None,
    date_to: date | None = None,
    sort: str = "status_changed_at",
    descending: bool = True,
    today: date | None = None,
    limit: int = 5000,
) -> list[WhitelistRow]:
    """The whitelist as the operator works it: limited to its division, filtered by status,
    minimum grade, region, industry section and proposal date, sorted by one of
    WHITELIST_SORTS, overdue reviews marked."""
    _require_operator(actor)
    query = select(WhitelistEntry)
    if status:
        query = query.where(WhitelistEntry.status == status)
    entries = list(session.scalars(query.order_by(WhitelistEntry.id.desc()).limit(limit)))
    names = subjects_service.subject_names(session, {e.subject_id for e in entries})
    sections = subjects_service.industry_sections(session, {e.subject_id for e in entries})
    day = today or local_today()
    rows = []
    for entry in entries:
        proposed = entry.proposed_at.date()
        if (date_from and proposed < date_from) or (date_to and proposed > date_to):
            continue
        if grade and domain.grade_rank(entry.grade) < domain.grade_rank(grade):
            continue
        if industry and sections.get(entry.subject_id) != industry:
            continue
        # One subject query per entry: subjects.service offers no bulk division lookup yet.
        where = _division_of_subject(session, entry.subject_id)
        if actor.division_code is not None and not domain.in_division(where, actor.division_code):
            continue
        if region and not domain.in_division(where, region):
            continue
        stage = _WAITING.get(entry.status)
        due = (
            deadline(entry.status_changed_at.date(), response_days=WHITELIST_REVIEW_DAYS)
            if stage is not None
            else None
        )
        uscc, name = names.get(entry.subject_id, ("", ""))
        rows.append(
            WhitelistRow(
                entry=entry,
                uscc=uscc,
                name=name,
                division_code=where,
                industry_section=sections.get(entry.subject_id),
                stage=stage,
                can_review=stage is not None and _may_review_in(actor, stage, where),
                due_date=due,
                overdue=due is not None and day > due,
            )
        )
    column = sort if sort in WHITELIST_SORTS else "status_changed_at"

    def key(row: WhitelistRow) -> tuple[object, int]:
        if column == "grade":
            return (domain.grade_rank(row.entry.grade), row.entry.id)
        if column == "name":
            return (row.name, row.entry.id)
        return (getattr(row.entry, column), row.entry.id)

    return sorted(rows, key=key, reverse=descending)


def note_export(session: Session, actor: Actor, *, rows: int, filters: dict[str, str]) -> None:
    """Record that the operator took the (filtered) whitelist out as a file."""
    _require_operator(actor)
    audit.record(
        session,
        actor,
        action="market.whitelist.export",
        object_type="marketplace_whitelist_entry",
        detail={"rows": rows, "filters": filters, "division": actor.division_code},
    )
