"""Long work of reports run by the platform's worker: the aggregates' recomputation and a PDF
rendered for a user who asked to be told when it is ready.

Reports sits below the jobs layer (the worker calls reports, never the reverse; a domain's pages
may import upward only the web shell), so the pages of reports reach the queue through
:class:`WorkQueue`, a port that :mod:`creditbridge.jobs.service` fills in when it is imported (the
web app and the worker both import it before serving). The
job functions themselves live here, in the caller's transaction: the worker commits them with
the run's ``succeeded`` status.

The requester of a PDF is told how it went by a notice (:class:`Notice`, 站内消息) written in the
same transaction as the run's outcome: :func:`list_notices` is what their home and their report
files page show, :func:`mark_read` what opening them does."""

from __future__ import annotations

import re
import uuid
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Final, Literal, Protocol

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from creditbridge.core.actors import Actor, ActorKind, Role
from creditbridge.core.clock import utc_now
from creditbridge.core.config import Settings
from creditbridge.core.errors import DomainError, NotFound
from creditbridge.presentation.errors import keyed
from creditbridge.presentation.i18n import Language, translate
from creditbridge.reports.models import ReportNotice

AGGREGATES_JOB: Final = "reports.aggregates"
PDF_JOB: Final = "reports.pdf"
PDF_FOLDER: Final = "report-files"
"""Under the node's data folder: PDFs rendered by the worker, kept for their requester to fetch."""


@dataclass(frozen=True)
class Work:
    """A queued run as reports sees it."""

    run_id: int
    job: str
    status: str  # queued | running | retrying | succeeded | failed
    args: dict[str, Any]
    created_at: datetime
    finished_at: datetime | None
    summary: dict[str, Any] | None
    error: str | None

    @property
    def done(self) -> bool:
        return self.status in ("succeeded", "failed")


class WorkQueue(Protocol):
    def enqueue(
        self, session: Session, requester: Actor | str, job: str, args: dict[str, Any]
    ) -> Work: ...

    def get(self, session: Session, run_id: int) -> Work | None: ...

    def recent(
        self, session: Session, job: str, *, limit: int, user_id: int | None = None
    ) -> list[Work]:
        """The newest runs of ``job``; with ``user_id``, only those whose args name that user."""
        ...


_queue: WorkQueue | None = None


def use_queue(queue: WorkQueue) -> None:
    """Called by :mod:`creditbridge.jobs.service` with the worker's queue."""
    global _queue
    _queue = queue


def _the_queue() -> WorkQueue:
    if _queue is None:
        raise RuntimeError("no work queue: import creditbridge.jobs.service before serving")
    return _queue


# --- Aggregates --------------------------------------------------------------------------------


def request_aggregates(session: Session, actor: Actor) -> Work:
    """Queue a recomputation of the aggregates, or return the one already waiting or running:
    pressing the button twice must not run DuckDB over the province twice."""
    pending = latest_aggregates(session)
    if pending is not None and not pending.done:
        return pending
    # Enqueued as the operator: the queue checks the role and audits the request.
    return _the_queue().enqueue(session, actor, AGGREGATES_JOB, {"requested_by": actor.name[:64]})


def latest_aggregates(session: Session) -> Work | None:
    runs = _the_queue().recent(session, AGGREGATES_JOB, limit=1)
    return runs[0] if runs else None


def aggregates_status(session: Session, run_id: int) -> Work:
    work = _the_queue().get(session, run_id)
    if work is None or work.job != AGGREGATES_JOB:
        raise keyed(NotFound, "error.reports.no_job")
    return work


def run_aggregates(session: Session, settings: Settings, args: dict[str, Any]) -> dict[str, Any]:
    """The job: what ``POST /aggregates/refresh`` did in the request, now in the worker."""
    from creditbridge.reports import analytics

    computed = analytics.refresh(
        session,
        _system_for(str(args.get("requested_by") or "system")),
        work_dir=None,
    )
    return {"aggregate_run": computed.id, "enterprises": computed.enterprises}


def aggregates_args(given: Mapping[str, Any]) -> dict[str, Any]:
    unknown = set(given) - {"requested_by"}
    if unknown:
        raise ValueError(f"not an argument of {AGGREGATES_JOB}: {sorted(unknown)[0]}")
    name = given.get("requested_by")
    return {} if name is None else {"requested_by": str(name)[:64]}


def _system_for(requester: str) -> Actor:
    """The worker acting on a person's request: audited as the system, named after the person."""
    return Actor(kind=ActorKind.SYSTEM, id=None, name=requester[:64])


# --- PDF rendered as a job -----------------------------------------------------------------


def actor_args(actor: Actor) -> dict[str, Any]:
    """The requester, as the job re-creates it: the same identity the request had, so the
    report's reading rules, consent use and audit are the synchronous path's."""
    return {
        "user_id": actor.id,
        "name": actor.name,
        "role": None if actor.role is None else actor.role.value,
        "institution_id": actor.institution_id,
        "subject_id": actor.subject_id,
        "division_code": actor.division_code,
    }


def actor_of(args: Mapping[str, Any]) -> Actor:
    return Actor(
        kind=ActorKind.USER,
        id=int(args["user_id"]),
        name=str(args["name"]),
        role=Role(args["role"]) if args.get("role") else None,
        institution_id=args.get("institution_id"),
        subject_id=args.get("subject_id"),
        division_code=args.get("division_code"),
    )


def pdf_args(given: Mapping[str, Any]) -> dict[str, Any]:
    allowed = {
        "user_id",
        "name",
        "role",
        "institution_id",
        "subject_id",
        "division_code",
        "report_subject_id",
        "consent_id",
        "purpose",
        "lang",
        "request_key",
    }
    unknown = set(given) - allowed
    if unknown:
        raise ValueError(f"not an argument of {PDF_JOB}: {sorted(unknown)[0]}")
    for required in ("user_id", "name", "role", "report_subject_id"):
        if given.get(required) is None:
            raise ValueError(f"{PDF_JOB} needs {required}")
    if given.get("lang", "zh") not in ("zh", "en"):
        raise ValueError("lang must be zh or en")
    key = given.get("request_key")
    if key is not None and not (isinstance(key, str) and _REQUEST_KEY.fullmatch(key)):
        raise ValueError("request_key must be 32 hexadecimal digits")
    return {key: given[key] for key in sorted(allowed) if key in given}


_REQUEST_KEY: Final = re.compile(r"[0-9a-f]{32}")


def pdf_path(settings: Settings, report_no: str) -> Path:
    return settings.data_root / PDF_FOLDER / f"{report_no}.pdf"


def request_pdf(
    session: Session,
    actor: Actor,
    *,
    subject_id: int,
    consent_id: int | None,
    purpose: str | None,
    lang: Literal["zh", "en"],
) -> Work:
    """Queue the PDF for ``actor``: the worker issues it (the same issuance, audit and consent
    use as the synchronous path) and tells the requester when it is ready."""
    from creditbridge.audit import service as audit

    if actor.kind is not ActorKind.USER or actor.id is None:
        raise keyed(NotFound, "error.reports.no_job")
    args = {
        **actor_args(actor),
        "report_subject_id": subject_id,
        "consent_id": consent_id,
        "purpose": purpose,
        "lang": lang,
        # The run's own key, for its notice: a run delivered twice must not tell twice.
        "request_key": uuid.uuid4().hex,
    }
    work = _the_queue().enqueue(session, "reports", PDF_JOB, args)
    audit.record(
        session,
        actor,
        action="report.pdf_requested",
        object_type="job_run",
        object_id=work.run_id,
        subject_id=subject_id,
        detail={"consent_id": consent_id, "purpose": purpose},
    )
    return work


def run_pdf(session: Session, settings: Settings, args: dict[str, Any]) -> dict[str, Any]:
    """The job: the report issued as the requester, its file kept for the requester alone, and
    the requester told. A refusal of the issuance (the consent revoked or expired since the
    request, the enterprise gone) is final, not worth a retry: the requester is told it failed
    and the run ends there. Any other failure raises, and the worker tries again."""
    from creditbridge.reports import service

    actor = actor_of(args)
    key = args.get("request_key")
    told = None if key is None else _notice_by_key(session, key)
    if told is not None:
        # Delivered again after its outcome committed: the requester already knows.
        return {"report_no": told.report_no, "user_id": actor.id, "notice": told.id}
    # The notice is written first, its outcome after: the issuance runs in a savepoint, and
    # with SQLite's driver a savepoint that opens a transaction would commit at its release.
    notice = _add_notice(session, args, kind=NOTICE_READY)
    attempt = session.begin_nested()
    try:
        issued = service.issue_report(
            session,
            actor,
            subject_id=int(args["report_subject_id"]),
            consent_id=args.get("consent_id"),
            purpose=args.get("purpose"),
            fmt="pdf",
            lang="en" if args.get("lang") == "en" else "zh",
            settings=settings,
        )
    except DomainError as refusal:
        attempt.rollback()
        keep = getattr(refusal, "kept_on_rollback", None)
        if keep is not None:
            keep(session)  # the refusal's own audit, as a request would keep it
        notice.kind = NOTICE_FAILED
        session.flush()
        return {"refused": refusal.code, "user_id": actor.id, "notice": notice.id}
    attempt.commit()
    path = pdf_path(settings, issued.report_no)
    path.parent.mkdir(parents=True, exist_ok=True)
    # Written before the transaction commits: a file without its issuance (the commit failed) is
    # unreachable, since the download looks the number up in the register first.
    partial = path.with_suffix(".part")
    partial.write_bytes(issued.data)
    partial.replace(path)
    notice.report_no = issued.report_no
    session.flush()
    return {
        "report_no": issued.report_no,
        "bytes": len(issued.data),
        "user_id": actor.id,
        "notice": notice.id,
    }


def pdf_failed(session: Session, args: Mapping[str, Any]) -> None:
    """Tell the requester that their PDF could not be made: for the worker to call, in the
    transaction that marks the run ``failed`` after its last attempt (a failure :func:`run_pdf`
    did not catch rolled back whatever the job wrote, its notice too)."""
    if args.get("request_key") is not None and _notice_by_key(session, args["request_key"]):
        return
    _add_notice(session, args, kind=NOTICE_FAILED)


def list_ready(session: Session, actor: Actor, *, limit: int = 20) -> list[Work]:
    """The PDFs ``actor`` asked the worker for, newest first: the notices of their readiness."""
    if actor.kind is not ActorKind.USER or actor.id is None:
        return []
    return _the_queue().recent(session, PDF_JOB, limit=limit, user_id=actor.id)


# --- Notices ---------------------------------------------------------------------------------

NOTICE_READY: Final = "ready"
NOTICE_FAILED: Final = "failed"


@dataclass(frozen=True)
class Notice:
    """One message of a PDF the worker made, or could not make, for the user reading it."""

    id: int
    kind: str  # ready | failed
    subject_uscc: str
    subject_name: str
    report_no: str | None
    created_at: datetime
    read_at: datetime | None

    @property
    def ready(self) -> bool:
        return self.kind == NOTICE_READY and self.report_no is not None

    @property
    def href(self) -> str:
        """The download when ready; else the report's form, to ask again."""
        if self.ready:
            return f"/{PDF_FOLDER}/{self.report_no}.pdf"
        return f"/reports/{self.subject_uscc}/pdf"

    def text(self, lang: Language = "zh") -> str:
        key = "reports.notice.ready" if self.ready else "reports.notice.failed"
        return translate(lang, key, name=self.subject_name)

    @property
    def message(self) -> str:
        """In Chinese, as the other modules' messages are stored."""
        return self.text("zh")


def _notice_by_key(session: Session, key: str) -> ReportNotice | None:
    found: ReportNotice | None = session.scalars(
        select(ReportNotice).where(ReportNotice.request_key == key)
    ).first()
    return found


def _add_notice(session: Session, args: Mapping[str, Any], *, kind: str) -> ReportNotice:
    notice = ReportNotice(
        request_key=args.get("request_key"),
        user_id=int(args["user_id"]),
        kind=kind,
        subject_id=int(args["report_subject_id"]),
        report_no=None,
        created_at=utc_now(),
        read_at=None,
    )
    session.add(notice)
    session.flush()
    return notice


def list_notices(session: Session, actor: Actor, *, limit: int = 20) -> list[Notice]:
    """The notices of ``actor``'s PDFs, newest first; a person's own, whoever else asked."""
    from creditbridge.subjects import service as subjects_service

    if actor.kind is not ActorKind.USER or actor.id is None:
        return []
    rows = list(
        session.scalars(
            select(ReportNotice)
            .where(ReportNotice.user_id == actor.id)
            .order_by(ReportNotice.created_at.desc(), ReportNotice.id.desc())
            .limit(limit)
        )
    )
    names = subjects_service.subject_names(session, {row.subject_id for row in rows})
    return [
        Notice(
            id=row.id,
            kind=row.kind,
            subject_uscc=names.get(row.subject_id, ("", ""))[0],
            subject_name=names.get(row.subject_id, ("", ""))[1],
            report_no=row.report_no,
            created_at=row.created_at,
            read_at=row.read_at,
        )
        for row in rows
    ]


def count_unread(session: Session, actor: Actor) -> int:
    """How many of ``actor``'s notices wait unread (the count a menu badge shows)."""
    if actor.kind is not ActorKind.USER or actor.id is None:
        return 0
    return int(
        session.scalar(
            select(func.count())
            .select_from(ReportNotice)
            .where(ReportNotice.user_id == actor.id, ReportNotice.read_at.is_(None))
        )
        or 0
    )


def mark_read(
    session: Session,
    actor: Actor,
    *,
    notice_ids: Collection[int] | None = None,
    report_no: str | None = None,
) -> int:
    """Mark ``actor``'s notices read: those of ``notice_ids``, the one of ``report_no`` (its
    PDF was fetched), or all. Another user's notices are left alone, whatever ids are given.
    Not audited: what a person has read of their own messages is no enterprise data."""
    if actor.kind is not ActorKind.USER or actor.id is None:
        return 0
    query = update(ReportNotice).where(
        ReportNotice.user_id == actor.id, ReportNotice.read_at.is_(None)
    )
    if notice_ids is not None:
        query = query.where(ReportNotice.id.in_(list(notice_ids)))
    if report_no is not None:
        query = query.where(ReportNotice.report_no == report_no)
    done = session.execute(
        query.values(read_at=utc_now()).execution_options(synchronize_session=False)
    )
    return int(done.rowcount)  # type: ignore[attr-defined]
