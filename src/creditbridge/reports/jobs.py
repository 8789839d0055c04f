"""Long work of reports run by the platform's worker: the aggregates' recomputation and a PDF
rendered for a user who asked to be told when it is ready.

Reports sits below the jobs layer (the worker calls reports, never the reverse; a domain's pages
may import upward only the web shell), so the pages of reports reach the queue through
:class:`WorkQueue`, a port that :mod:`creditbridge.jobs.service` fills in when it is imported (the
web app and the worker both import it before serving). The
job functions themselves live here, in the caller's transaction: the worker commits them with
the run's ``succeeded`` status."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Final, Literal, Protocol

from sqlalchemy.orm import Session

from creditbridge.core.actors import Actor, ActorKind, Role
from creditbridge.core.config import Settings
from creditbridge.core.errors import NotFound
from creditbridge.presentation.errors import keyed

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
    }
    unknown = set(given) - allowed
    if unknown:
        raise ValueError(f"not an argument of {PDF_JOB}: {sorted(unknown)[0]}")
    for required in ("user_id", "name", "role", "report_subject_id"):
        if given.get(required) is None:
            raise ValueError(f"{PDF_JOB} needs {required}")
    if given.get("lang", "zh") not in ("zh", "en"):
        raise ValueError("lang must be zh or en")
    return {key: given[key] for key in sorted(allowed) if key in given}


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
    """The job: the report issued as the requester, its file kept for the requester alone."""
    from creditbridge.reports import service

    actor = actor_of(args)
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
    path = pdf_path(settings, issued.report_no)
    path.parent.mkdir(parents=True, exist_ok=True)
    # Written before the transaction commits: a file without its issuance (the commit failed) is
    # unreachable, since the download looks the number up in the register first.
    partial = path.with_suffix(".part")
    partial.write_bytes(issued.data)
    partial.replace(path)
    return {"report_no": issued.report_no, "bytes": len(issued.data), "user_id": actor.id}


def list_ready(session: Session, actor: Actor, *, limit: int = 20) -> list[Work]:
    """The PDFs ``actor`` asked the worker for, newest first: the notices of their readiness."""
    if actor.kind is not ActorKind.USER or actor.id is None:
        return []
    return _the_queue().recent(session, PDF_JOB, limit=limit, user_id=actor.id)
