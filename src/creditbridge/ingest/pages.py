"""HTML pages of collection: the upload form, a batch's outcome, and its reject report as CSV.

Provider users deliver and see only for their own provider; operators for any. The uploaded file
is copied to a temporary file (never held in memory) and handed to the one use case."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path as FilePath
from typing import Annotated

from fastapi import APIRouter, Depends, File, Form, Path, Request, UploadFile
from fastapi.responses import HTMLResponse, RedirectResponse, StreamingResponse

from creditbridge.catalog import service as catalog_service
from creditbridge.core.actors import Actor, Role
from creditbridge.ingest import service
from creditbridge.web.auth import require_roles
from creditbridge.web.deps import ReadSession, WriteSession
from creditbridge.web.templating import render

router = APIRouter(prefix="/ingest", include_in_schema=False)

Deliverer = Annotated[Actor, Depends(require_roles(Role.OPERATOR, Role.PROVIDER_USER))]
BatchId = Annotated[int, Path(ge=1, le=2**62)]


@router.get("/upload", name="ingest:upload")
def upload_form(request: Request, session: ReadSession, actor: Deliverer) -> HTMLResponse:
    catalog_service.ensure_default_catalog(session)
    return render(
        request,
        "ingest/upload.html",
        providers=service.list_providers_for(session, actor),
        datasets=catalog_service.list_datasets(session),
    )


@router.post("/upload", name="ingest:upload_submit")
def upload_submit(
    session: WriteSession,
    actor: Deliverer,
    provider_id: Annotated[int, Form(ge=1, le=2**62)],
    dataset: Annotated[str, Form(max_length=64)],
    file: Annotated[UploadFile, File()],
    batch_id: Annotated[str, Form(max_length=128)] = "",
    sheet: Annotated[str, Form(max_length=100)] = "",
) -> RedirectResponse:
    with tempfile.TemporaryDirectory(prefix="creditbridge-upload-") as folder:
        path = FilePath(folder) / "upload"
        with path.open("wb") as out:
            shutil.copyfileobj(file.file, out, length=1 << 20)
        outcome = service.ingest_batch(
            session, actor, provider_id=provider_id, dataset_code=dataset,
            batch_key=batch_id or None, source=path, filename=file.filename or "upload.csv",
            channel="file", sheet=sheet or None,
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
def rejects_csv(session: ReadSession, actor: Deliverer, batch_id: BatchId) -> StreamingResponse:
    service.access_batch(session, actor, batch_id)
    return StreamingResponse(
        service.reject_report_csv(session, actor, batch_id=batch_id),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="rejects-{batch_id}.csv"'},
    )
