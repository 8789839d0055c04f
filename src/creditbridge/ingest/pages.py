"""HTML pages of collection: the upload form, a batch's outcome, and its reject report as CSV.

Provider users deliver and see only for their own provider, operators for any — and either only
the datasets the list assigns to that provider (the service refuses the rest). The uploaded file
is copied to a temporary file (never held in memory) and handed to the one use case."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, File, Form, Path, Query, Request, UploadFile
from fastapi.responses import HTMLResponse, RedirectResponse, StreamingResponse

from creditbridge.catalog import service as catalog_service
from creditbridge.core import types
from creditbridge.core.actors import Actor, Role
from creditbridge.ingest import service
from creditbridge.web.auth import require_roles
from creditbridge.web.deps import ReadSession, WriteSession
from creditbridge.web.templating import language, render

router = APIRouter(prefix="/ingest", include_in_schema=False)

Deliverer = Annotated[Actor, Depends(require_roles(Role.OPERATOR, Role.PROVIDER_USER))]
BatchId = Annotated[types.Id, Path()]


@router.get("/upload", name="ingest:upload")
def upload_form(
    request: Request,
    session: ReadSession,
    actor: Deliverer,
    provider_id: Annotated[types.Id | None, Query()] = None,
) -> HTMLResponse:
    # No list is loaded here (a GET changes nothing): without one the page says who loads it.
    datasets = catalog_service.list_datasets(session)
    providers = service.list_providers_for(session, actor)
    # The datasets offered are those the chosen provider (a provider user's own) is assigned;
    # choosing another provider reloads them (htmx, ?provider_id=).
    chosen = next(
        (p for p in providers if p.id == provider_id), providers[0] if providers else None
    )
    owed = set(chosen.datasets) if chosen else set()
    return render(
        request,
        "ingest/upload.html",
        providers=providers,
        chosen=chosen,
        datasets=[d for d in datasets if d.code in owed],
        reason_required=chosen is not None and service.reason_required(actor, chosen.id),
        no_catalog=not datasets,
    )


@router.post("/upload", name="ingest:upload_submit")
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
) -> RedirectResponse:
    with service.saved_upload(file.file, file.filename) as path:
        outcome = service.ingest_batch(
            session, actor, provider_id=provider_id, dataset_code=dataset,
            batch_key=batch_id or None, source=path, filename=file.filename or "upload.csv",
            channel="file", sheet=sheet or None, settings=request.app.state.settings.ingest,
            reason=reason or None,
        )  # fmt: skip
    target = f"/ingest/batches/{outcome.batch_id}" + ("?replayed=1" if outcome.replayed else "")
    return RedirectResponse(target, status_code=303)


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
