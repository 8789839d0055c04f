"""The audit admin's desk: the trail with filters, its CSV export and the chain check. The audit
admin reads and verifies; nothing here changes the trail (三员分立) — but each look at it is itself
appended to it (``audit.view``, ``audit.export``, ``audit.verify``), so the trail also shows who
watched the watchers. Viewing and exporting are GETs whose only write is that record of the look;
the chain check records its result, so it runs on a POST with the page's CSRF token."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Annotated, Any, Final
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, StreamingResponse
from sqlalchemy.orm import Session

from creditbridge.audit import service
from creditbridge.core.actors import Actor, Role
from creditbridge.core.clock import SHANGHAI
from creditbridge.core.types import Id, clamp_filter_date
from creditbridge.subjects import service as subjects
from creditbridge.web.auth import require_roles
from creditbridge.web.deps import ReadSession, WriteSession
from creditbridge.web.templating import render

router = APIRouter(include_in_schema=False)

AuditAdmin = Annotated[Actor, Depends(require_roles(Role.AUDIT_ADMIN))]
PAGE_SIZE: Final = 50
SUBJECT_MATCH_LIMIT: Final = 50
# The form submits its empty number fields as "": read as text, so an empty box is no filter
# rather than a 422 page.
IdText = Annotated[str, Query(max_length=20, pattern=r"^\s*[0-9]{0,18}\s*$")]


DateText = Annotated[str, Query(max_length=10)]


def _day(value: str) -> date | None:
    try:
        return clamp_filter_date(date.fromisoformat(value.strip())) if value.strip() else None
    except ValueError:
        return None


def _bad_day(value: str) -> bool:
    return bool(value.strip()) and _day(value) is None


def _id(value: str) -> Id | None:
    value = value.strip()
    return int(value) if value else None


def _day_start(day: date | None) -> datetime | None:
    # The form's days are Beijing days; the trail stores UTC.
    return None if day is None else datetime.combine(day, time.min, tzinfo=SHANGHAI)


class Filters:
    """The filter form, read from the query string (the same for the table and the export)."""

    def __init__(
        self,
        since: DateText = "",
        until: DateText = "",
        actor_kind: Annotated[str, Query(max_length=16)] = "",
        actor_id: IdText = "",
        action: Annotated[str, Query(max_length=64)] = "",
        subject_id: IdText = "",
        institution_id: IdText = "",
        subject: Annotated[str, Query(max_length=100)] = "",
    ) -> None:
        # A day the browser's date box cannot send (typed by hand into a link) is marked at
        # its field and not used, rather than failing the whole page.
        self.bad_dates = [name for name, v in (("since", since), ("until", until)) if _bad_day(v)]
        self.since, self.until = _day(since), _day(until)
        self.actor_kind, self.actor_id = actor_kind.strip(), _id(actor_id)
        self.action = action.strip()
        self.subject_id, self.institution_id = _id(subject_id), _id(institution_id)
        self.subject = subject.strip()
        # (uscc, name) by id of the enterprises ``subject`` names, one more than are used so
        # the page can say there were more.
        self.matches: dict[int, tuple[str, str]] = {}

    def resolve(self, session: Session) -> None:
        """Look up the enterprises the ``subject`` text names (by USCC or a piece of the name)."""
        if self.subject:
            self.matches = subjects.search_subjects(
                session, self.subject, limit=SUBJECT_MATCH_LIMIT + 1
            )

    @property
    def matched_ids(self) -> list[int]:
        return list(self.matches)[:SUBJECT_MATCH_LIMIT]

    @property
    def matched_names(self) -> list[str]:
        return [self.matches[id_][1] for id_ in self.matched_ids]

    @property
    def too_many(self) -> bool:
        return len(self.matches) > SUBJECT_MATCH_LIMIT

    @property
    def dates_reversed(self) -> bool:
        return self.since is not None and self.until is not None and self.until < self.since

    def event_filter(self) -> service.EventFilter:
        # A name that matched no enterprise lists nothing, rather than ignoring the filter.
        ids = tuple(self.matched_ids) if self.subject else None
        return service.EventFilter(
            since=_day_start(self.since),
            # "until" is inclusive on the form: events of that whole day are shown.
            until=_day_start(self.until + timedelta(days=1)) if self.until else None,
            actor_kind=self.actor_kind or None,
            actor_id=self.actor_id,
            action=self.action or None,
            subject_id=self.subject_id,
            institution_id=self.institution_id,
            subject_ids=ids,
        )

    def query(self) -> str:
        """The filters as a query string, for the export link and the page links."""
        values = {
            "since": self.since.isoformat() if self.since else "",
            "until": self.until.isoformat() if self.until else "",
            "actor_kind": self.actor_kind,
            "actor_id": self.actor_id or "",
            "action": self.action,
            "subject_id": self.subject_id or "",
            "institution_id": self.institution_id or "",
            "subject": self.subject,
        }
        return urlencode({key: value for key, value in values.items() if value})


FilterForm = Annotated[Filters, Depends()]


@router.get("/audit", name="audit:events")
def events(
    request: Request,
    session: WriteSession,
    actor: AuditAdmin,
    filters: FilterForm,
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
) -> HTMLResponse:
    filters.resolve(session)
    flt = filters.event_filter()
    total = service.count_events(session, flt=flt)
    pages = max(1, -(-total // PAGE_SIZE))
    page = min(page, pages)
    rows = service.list_events(session, flt=flt, limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE)
    service.note_trail_access(
        session, actor, action="audit.view", flt=flt, page=page, result=_searched(filters)
    )
    return render(
        request,
        "audit/events.html",
        filters=filters,
        actions=_action_groups(service.list_actions(session)),
        events=[(event, event.content) for event in rows],
        total=total,
        page=page,
        pages=pages,
        report=None,
    )


def _searched(filters: Filters) -> dict[str, Any] | None:
    # The trail keeps what the auditor typed as well as the ids it resolved to.
    return {"filter_subject": filters.subject} if filters.subject else None


def _action_groups(actions: list[str]) -> list[tuple[str, list[str]]]:
    """The actions by their first segment (consent, market, user…), for the picker's groups."""
    groups: dict[str, list[str]] = {}
    for action in actions:
        groups.setdefault(action.split(".", 1)[0], []).append(action)
    return sorted(groups.items())


@router.get("/audit/export.csv", name="audit:export")
def export(
    session: ReadSession, recording: WriteSession, actor: AuditAdmin, filters: FilterForm
) -> StreamingResponse:
    filters.resolve(session)
    flt = filters.event_filter()
    # Recorded (and committed) before the first byte leaves: the stream reads afterwards.
    service.note_trail_access(
        recording, actor, action="audit.export", flt=flt, result=_searched(filters)
    )
    return StreamingResponse(
        service.export_csv(session, flt=flt),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="audit-events.csv"'},
    )


@router.get("/audit/verify", name="audit:verify_form")
def verify_form(request: Request, actor: AuditAdmin) -> HTMLResponse:
    """The check's page with its button: running it appends ``audit.verify`` to the trail, so
    it is a POST (a cross-site link must not write to the trail)."""
    return render(request, "audit/verify.html", report=None)


@router.post("/audit/verify", name="audit:verify")
def verify(request: Request, session: WriteSession, actor: AuditAdmin) -> HTMLResponse:
    report = service.verify(session)
    service.note_trail_access(
        session,
        actor,
        action="audit.verify",
        result={
            "ok": report.ok,
            "checked": report.checked,
            "broken_sequence": report.broken.sequence if report.broken else None,
        },
    )
    return render(request, "audit/verify.html", report=report)
