"""HTML pages of collection: the upload form, the header check before a delivery is applied, a
batch's outcome, its reject report as CSV, and the list of batches.

Provider users deliver and see only for their own provider, operators for any — and either only
the datasets the list assigns to that provider (the service refuses the rest). The uploaded file
is copied to a temporary file (never held in memory) and handed to the one use case.

The page delivers in two steps: the upload is *held* while its header is checked (which columns
feed which fields, which would be dropped, which required ones are missing, the first rows), and
applied when the provider confirms (:func:`upload_confirm`). A form post without ``step=check``
(scripts, the older form) still applies in one step, as the API does."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from typing import Annotated, Final, TypeVar

from fastapi import APIRouter, Depends, File, Form, Path, Query, Request, UploadFile
from fastapi.responses import HTMLResponse, RedirectResponse, Response, StreamingResponse
from sqlalchemy.orm import Session

from creditbridge.catalog import service as catalog_service
from creditbridge.core import types
from creditbridge.core.actors import Actor, Role
from creditbridge.core.clock import SHANGHAI
from creditbridge.core.errors import DomainError, DuplicateDelivery, NotFound
from creditbridge.ingest import service
from creditbridge.ingest.errors import CatalogNotLoaded, NotAssigned, NotYourProvider
from creditbridge.ingest.service.batches import (
    DEFAULT_SORT,
    SORTS,
    BatchFilter,
    count_batches_for,
    iter_batches,
    list_batches,
)
from creditbridge.presentation import exports, listing
from creditbridge.presentation.errors import explain
from creditbridge.presentation.i18n import translate
from creditbridge.web.auth import require_roles
from creditbridge.web.deps import ReadSession, WriteSession
from creditbridge.web.templating import language, render

router = APIRouter(prefix="/ingest", include_in_schema=False)

Deliverer = Annotated[Actor, Depends(require_roles(Role.OPERATOR, Role.PROVIDER_USER))]
BatchId = Annotated[types.Id, Path()]
T = TypeVar("T")

BATCH_FILTERS: Final = ("dataset", "provider_id", "status", "from", "to")


@dataclass
class UploadForm:
    """What the provider chose, kept when the page answers a refusal (the file itself cannot be
    kept: a browser never lets a page fill a file input)."""

    provider_id: int | None = None
    dataset: str = ""
    batch_id: str = ""
    sheet: str = ""
    reason: str = ""
    errors: dict[str, list[str]] = field(default_factory=dict)
    code: str | None = None  # the refusal's stable code (CB-…), shown with the messages


def _owner(actor: Actor) -> str:
    return f"{actor.kind}:{actor.id}"


def _upload_page(
    request: Request,
    session: Session,
    actor: Actor,
    form: UploadForm,
    *,
    status_code: int = 200,
) -> HTMLResponse:
    # No list is loaded here (a GET changes nothing): without one the page says who loads it.
    datasets = catalog_service.list_datasets(session)
    providers = service.list_providers_for(session, actor)
    # The datasets offered are those the chosen provider (a provider user's own) is assigned;
    # choosing another provider reloads them (htmx, ?provider_id=).
    chosen = next(
        (p for p in providers if p.id == form.provider_id), providers[0] if providers else None
    )
    owed = set(chosen.datasets) if chosen else set()
    offered = [d for d in datasets if d.code in owed]
    selected = next((d for d in offered if d.code == form.dataset), offered[0] if offered else None)
    return render(
        request,
        "ingest/upload.html",
        status_code=status_code,
        providers=providers,
        chosen=chosen,
        datasets=offered,
        selected=selected,
        form=form,
        reason_required=chosen is not None and service.reason_required(actor, chosen.id),
        no_catalog=not datasets,
    )


@router.get("/upload", name="ingest:upload")
def upload_form(
    request: Request,
    session: ReadSession,
    actor: Deliverer,
    provider_id: Annotated[types.Id | None, Query()] = None,
    dataset: Annotated[str, Query(max_length=64)] = "",
) -> HTMLResponse:
    return _upload_page(request, session, actor, UploadForm(provider_id, dataset))


# The form field a refusal belongs to; the rest are shown at the file.
_FIELD_OF: Final[tuple[tuple[type[DomainError], str], ...]] = (
    (NotYourProvider, "provider_id"),
    (NotAssigned, "dataset"),
    (CatalogNotLoaded, "dataset"),
    (NotFound, "dataset"),
    (DuplicateDelivery, "batch_id"),
)


def _refused(
    request: Request, session: Session, actor: Actor, form: UploadForm, error: DomainError
) -> HTMLResponse:
    lang = language(request)
    form.code = error.code
    if error.issues:
        for issue in error.issues:
            form.errors.setdefault(issue.field or "file", []).append(explain(lang, issue))
    else:
        where = next((name for kind, name in _FIELD_OF if isinstance(error, kind)), "file")
        form.errors.setdefault(where, []).append(explain(lang, error))
    status = 422 if error.status_code in (400, 404) else error.status_code
    return _upload_page(request, session, actor, form, status_code=status)


def _in_savepoint(session: Session, call: Callable[[], T]) -> T:
    """``call()`` in a savepoint: a refusal undoes whatever it had flushed (the page answers the
    form and the request's transaction still commits), except the writes the refusal asks to
    keep (``kept_on_rollback``: the audit of a delivery the list does not assign)."""
    savepoint = session.begin_nested()
    try:
        result = call()
    except DomainError as error:
        savepoint.rollback()
        keep = getattr(error, "kept_on_rollback", None)
        if keep is not None:
            keep(session)
        raise
    savepoint.commit()
    return result


def _batch_target(outcome: service.BatchOutcome) -> str:
    return f"/ingest/batches/{outcome.batch_id}" + ("?replayed=1" if outcome.replayed else "")


@router.post("/upload", name="ingest:upload_submit", response_model=None)
def upload_submit(
    request: Request,
    session: WriteSession,
    actor: Deliverer,
    provider_id: Annotated[types.Id, Form()],
    dataset: Annotated[str, Form(max_length=64)],
    file: Annotated[UploadFile, File()],
    batch_id: Annotated[str, Form(max_length=128)] = "",
    sheet: Annotated[str, Form(max_length=100)] = "",
    reason: Annotated[str, Form(max_length=service.REASON_MAX)] = "",
    step: Annotated[str, Form(max_length=16)] = "",
) -> Response:
    form = UploadForm(provider_id, dataset, batch_id, sheet, reason)
    if step == "check":
        return _check(request, session, actor, form, file, provider_id=provider_id)
    settings = request.app.state.settings.ingest
    try:
        with service.saved_upload(file.file, file.filename) as path:
            outcome = _in_savepoint(session, lambda: service.ingest_batch(
                session, actor, provider_id=provider_id, dataset_code=dataset,
                batch_key=batch_id or None, source=path, filename=file.filename or "upload.csv",
                channel="file", sheet=sheet or None, settings=settings, reason=reason or None,
            ))  # fmt: skip
    except DomainError as error:
        return _refused(request, session, actor, form, error)
    return RedirectResponse(_batch_target(outcome), status_code=303)


def _check(
    request: Request,
    session: Session,
    actor: Actor,
    form: UploadForm,
    file: UploadFile,
    *,
    provider_id: int,
) -> Response:
    try:
        provider = service.check_may_upload(
            session, actor, provider_id=provider_id, reason=form.reason or None
        )
    except DomainError as error:
        return _refused(request, session, actor, form, error)
    held = service.hold_upload(file.file, file.filename, owner=_owner(actor))
    try:
        check = _in_savepoint(session, lambda: service.check_header(
            session, actor, provider_id=provider_id, dataset_code=form.dataset,
            source=held.path, filename=held.filename, sheet=form.sheet or None,
            settings=request.app.state.settings.ingest,
        ))  # fmt: skip
    except DomainError as error:
        service.release_held_upload(held)
        return _refused(request, session, actor, form, error)
    if check.refusal_code is not None:
        # It would be refused as a whole: nothing to confirm, the provider fixes the file.
        service.release_held_upload(held)
    return render(
        request,
        "ingest/check.html",
        status_code=200 if check.refusal_code is None else 422,
        check=check,
        form=form,
        provider=provider,
        filename=held.filename,
        token=held.token if check.refusal_code is None else None,
    )


@router.post("/upload/confirm", name="ingest:upload_confirm", response_model=None)
def upload_confirm(
    request: Request,
    session: WriteSession,
    actor: Deliverer,
    token: Annotated[str, Form(max_length=64)],
    provider_id: Annotated[types.Id, Form()],
    dataset: Annotated[str, Form(max_length=64)],
    batch_id: Annotated[str, Form(max_length=128)] = "",
    sheet: Annotated[str, Form(max_length=100)] = "",
    reason: Annotated[str, Form(max_length=service.REASON_MAX)] = "",
) -> Response:
    """Apply a held upload after its header check (the same use case as a one-step upload)."""
    form = UploadForm(provider_id, dataset, batch_id, sheet, reason)
    held = service.get_held_upload(token, owner=_owner(actor))
    if held is None:
        form.errors["file"] = [translate(language(request), "ingest.check.expired")]
        return _upload_page(request, session, actor, form, status_code=409)
    try:
        outcome = _in_savepoint(session, lambda: service.ingest_batch(
            session, actor, provider_id=provider_id, dataset_code=dataset,
            batch_key=batch_id or None, source=held.path, filename=held.filename,
            channel="file", sheet=sheet or None, settings=request.app.state.settings.ingest,
            reason=reason or None,
        ))  # fmt: skip
    except DomainError as error:
        return _refused(request, session, actor, form, error)
    finally:
        service.release_held_upload(held)
    return RedirectResponse(_batch_target(outcome), status_code=303)


# ---------------------------------------------------------------- batches list


def _day(text: str | None) -> date | None:
    try:
        return date.fromisoformat(text) if text else None
    except ValueError:
        return None


def _batch_filter(query: listing.ListQuery) -> BatchFilter:
    provider, status = query.filter("provider_id"), query.filter("status")
    return BatchFilter(
        dataset_code=query.filter("dataset"),
        provider_id=int(provider) if provider and provider.isdigit() else None,
        status=status if status in (service.APPLIED, service.REFUSED) else None,
        received_from=_day(query.filter("from")),
        received_to=_day(query.filter("to")),
    )


def _dataset_names(session: Session) -> dict[str, str]:
    return {d.code: d.name_zh for d in catalog_service.list_datasets(session)}


def _list_query(request: Request) -> listing.ListQuery:
    return listing.parse_list_query(
        request.query_params, sortable=SORTS, default_sort=DEFAULT_SORT, filters=BATCH_FILTERS
    )


@router.get("/batches", name="ingest:batches")
def batches_page(request: Request, session: ReadSession, actor: Deliverer) -> HTMLResponse:
    query = _list_query(request)
    where = _batch_filter(query)
    total = count_batches_for(session, actor, where=where)
    query = listing.clamp_page(query, total)
    sort = query.sort or listing.Sort("received_at", descending=True)
    items = list_batches(
        session, actor, where=where, sort=sort.column, descending=sort.descending,
        offset=query.offset, limit=query.size,
    )  # fmt: skip
    providers = service.list_providers_for(session, actor)
    names = _dataset_names(session)
    owed = service.list_overdue_for(session, actor)
    return render(
        request,
        "ingest/batches.html",
        page=listing.Page(items, total, query.page, query.size),
        sort=sort,
        provider_options=[(str(p.id), f"{p.name}（{p.code}）") for p in providers],
        dataset_options=[(code, f"{name}（{code}）") for code, name in names.items()],
        dataset_names=names,
        overdue=owed,
        overdue_keys={(o.provider_id, o.dataset_code) for o in owed},
    )


EXPORT_HEADER: Final = (
    "批次编号", "接收时间", "提供单位代码", "提供单位", "信息项代码", "信息项", "渠道", "状态",
    "总行数", "入库", "拒收",
)  # fmt: skip


@router.get("/batches/export", name="ingest:batches_export")
def batches_export(
    request: Request,
    session: ReadSession,
    actor: Deliverer,
    format: Annotated[str, Query(pattern="^(csv|xlsx)$")] = "xlsx",
) -> Response:
    """The whole filtered list in its order (no page), as CSV or XLSX."""
    query = _list_query(request)
    sort = query.sort or listing.Sort("received_at", descending=True)
    names = _dataset_names(session)
    rows = (
        (
            b.id,
            b.received_at.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M:%S"),
            b.provider_code,
            b.provider_name,
            b.dataset_code,
            names.get(b.dataset_code, ""),
            b.channel,
            "已入库" if b.status == service.APPLIED else "已拒收",
            b.rows_total,
            b.rows_accepted,
            b.rows_rejected,
        )
        for b in iter_batches(
            session,
            actor,
            where=_batch_filter(query),
            sort=sort.column,
            descending=sort.descending,
        )
    )
    download = exports.export_download("batches", format, EXPORT_HEADER, rows)
    return Response(download.content, media_type=download.media_type, headers=download.headers)


# ---------------------------------------------------------------- one batch


@router.get("/batches/{batch_id}", name="ingest:batch")
def batch_page(
    request: Request, session: ReadSession, actor: Deliverer, batch_id: BatchId
) -> HTMLResponse:
    outcome = service.get_batch_outcome(session, actor, batch_id=batch_id)
    provider = service.get_provider_or_raise(session, outcome.provider_id)
    return render(
        request,
        "ingest/batch.html",
        outcome=outcome,
        provider=provider,
        # The dataset by its name, as the list calls it (its code stays in the reject report).
        dataset=next(
            (d for d in catalog_service.list_datasets(session) if d.code == outcome.dataset_code),
            None,
        ),
        replayed=request.query_params.get("replayed") == "1",
    )


@router.get("/batches/{batch_id}/rejects.csv", name="ingest:rejects_csv")
def rejects_csv(
    request: Request, session: ReadSession, actor: Deliverer, batch_id: BatchId
) -> StreamingResponse:
    service.access_batch(session, actor, batch_id)
    # Chinese always; a reader in English also gets the reasons in English (last column).
    english = language(request) == "en"
    return StreamingResponse(
        service.reject_report_csv(session, actor, batch_id=batch_id, english=english),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="rejects-{batch_id}.csv"'},
    )
