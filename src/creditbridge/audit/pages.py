"""The audit admin's desk: the trail with filters, its CSV export and the chain check. The audit
admin reads and verifies; nothing here changes the trail (三员分立) — but each look at it is itself
appended to it (``audit.view``, ``audit.export``, ``audit.verify``), so the trail also shows who
watched the watchers. Viewing and exporting are GETs whose only write is that record of the look;
the chain check records its result, so it runs on a POST with the page's CSRF token."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Annotated, Final
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, StreamingResponse

from creditbridge.audit import service
from creditbridge.core.actors import Actor, Role
from creditbridge.core.clock import SHANGHAI
from creditbridge.core.types import FilterDate, Id
from creditbridge.web.auth import require_roles
from creditbridge.web.deps import ReadSession, WriteSession
from creditbridge.web.templating import render

router = APIRouter(include_in_schema=False)

AuditAdmin = Annotated[Actor, Depends(require_roles(Role.AUDIT_ADMIN))]
PAGE_SIZE: Final = 50
OptionalId = Annotated[Id | None, Query()]


def _day_start(day: date | None) -> datetime | None:
    # The form's days are Beijing days; the trail stores UTC.
    return None if day is None else datetime.combine(day, time.min, tzinfo=SHANGHAI)


class Filters:
    """The filter form, read from the query string (the same for the table and the export)."""

    def __init__(
        self,
        since: Annotated[FilterDate | None, Query()] = None,
        until: Annotated[FilterDate | None, Query()] = None,
        actor_kind: Annotated[str, Query(max_length=16)] = "",
        actor_id: OptionalId = None,
        action: Annotated[str, Query(max_length=64)] = "",
        subject_id: OptionalId = None,
        institution_id: OptionalId = None,
    ) -> None:
        self.since, self.until = since, until
        self.actor_kind, self.actor_id = actor_kind.strip(), actor_id
        self.action = action.strip()
        self.subject_id, self.institution_id = subject_id, institution_id

    def event_filter(self) -> service.EventFilter:
        return service.EventFilter(
            since=_day_start(self.since),
            # "until" is inclusive on the form: events of that whole day are shown.
            until=_day_start(self.until + timedelta(days=1)) if self.until else None,
            actor_kind=self.actor_kind or None,
            actor_id=self.actor_id,
            action=self.action or None,
            subject_id=self.subject_id,
            institution_id=self.institution_id,
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
    flt = filters.event_filter()
    total = service.count_events(session, flt=flt)
    rows = service.list_events(session, flt=flt, limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE)
    service.note_trail_access(session, actor, action="audit.view", flt=flt, page=page)
    return render(
        request,
        "audit/events.html",
        filters=filters,
        events=[(event, event.content) for event in rows],
        total=total,
        page=page,
        pages=max(1, -(-total // PAGE_SIZE)),
        report=None,
    )


@router.get("/audit/export.csv", name="audit:export")
def export(
    session: ReadSession, recording: WriteSession, actor: AuditAdmin, filters: FilterForm
) -> StreamingResponse:
    flt = filters.event_filter()
    # Recorded (and committed) before the first byte leaves: the stream reads afterwards.
    service.note_trail_access(recording, actor, action="audit.export", flt=flt)
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
