"""JSON routes of collection for providers' systems: deliver a batch, read its outcome and its
reject report. Every request is signed (web.auth.SignedClient); a provider's client delivers and
reads only for its own provider (403 ``CB-INGEST-NOT-YOUR-PROVIDER`` / 404)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query, Request, Response
from fastapi.responses import StreamingResponse
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from creditbridge.core import types
from creditbridge.core.errors import Issue
from creditbridge.ingest import service
from creditbridge.ingest.errors import RowsMalformed
from creditbridge.ingest.schemas import BatchIn, BatchOut, IssueOut
from creditbridge.web.auth import SignedClient
from creditbridge.web.deps import ReadSession, WriteSession

router = APIRouter(prefix="/api/v1/ingest", tags=["ingest 归集"])

BatchId = Annotated[types.Id, Path(description="batch id (批次编号)")]


def batch_out(outcome: service.BatchOutcome) -> BatchOut:
    body = outcome.as_json()
    body["id"] = body.pop("batch_id")
    return BatchOut.model_validate(body)


@router.post(
    "/batches",
    response_model=BatchOut,
    status_code=201,
    summary="Deliver a batch 提交批次",
    responses={200: {"description": "a replay: this batch id was delivered before"}},
)
async def post_batch(
    request: Request, response: Response, session: WriteSession, client: SignedClient
) -> BatchOut:
    """Either JSON (`provider`, `dataset`, `batch_id`, `rows`: objects keyed by field code or
    Chinese label) or `multipart/form-data` with `file` (CSV/XLSX/JSON Lines) and the fields
    `provider`, `dataset`, optional `batch_id` and `sheet`.

    201 with the outcome (status `applied` or `refused`, counts, the first issues); 200 with the
    first outcome when the batch id was delivered before with the same content; 409
    `CB-DUPLICATE-DELIVERY` when it was delivered with other content."""
    if request.headers.get("content-type", "").startswith("multipart/form-data"):
        outcome = await _multipart(request, session, client)
    else:
        raw = await request.body()
        outcome = await run_in_threadpool(_deliver_rows, request, session, client, raw)
    if outcome.replayed:
        response.status_code = 200
    return batch_out(outcome)


# The body is read on the event loop (above); its validation and the ingest (pydantic over every
# row, SQLAlchemy, sqlite3, the file) are synchronous and run in a worker thread. On the loop, a
# delivery waiting out SQLite's busy timeout froze every request of the worker, /healthz included.


def _deliver_rows(request: Request, session: Any, client: Any, raw: bytes) -> service.BatchOutcome:
    try:
        body = BatchIn.model_validate_json(raw)
    except ValidationError as exc:
        raise RowsMalformed(
            "请求体不是有效的批次：须含 provider、dataset、batch_id 和 rows",
            issues=[
                Issue(
                    code="INGEST-BODY",
                    message=error["msg"],
                    field=".".join(map(str, error["loc"])),
                )
                for error in exc.errors()[:20]
            ],
        ) from exc
    provider = service.get_provider_or_raise(session, body.provider)
    return service.ingest_batch(
        session, client, provider_id=provider.id, dataset_code=body.dataset,
        batch_key=body.batch_id, source=body.rows, filename=None, channel="api",
        settings=request.app.state.settings.ingest,
    )  # fmt: skip


async def _multipart(request: Request, session: Any, client: Any) -> service.BatchOutcome:
    form = await request.form()
    upload = form.get("file")
    fields = {k: form.get(k) for k in ("provider", "dataset", "batch_id", "sheet")}
    if not isinstance(upload, UploadFile) or not all(
        isinstance(fields[k], str) and fields[k] for k in ("provider", "dataset")
    ):
        raise RowsMalformed("multipart 请求须含 file、provider 和 dataset")
    text = {k: v if isinstance(v, str) and v else None for k, v in fields.items()}
    outcome: service.BatchOutcome = await run_in_threadpool(
        _deliver_file, request, session, client, upload, text
    )
    return outcome


def _deliver_file(
    request: Request, session: Any, client: Any, upload: UploadFile, text: dict[str, str | None]
) -> service.BatchOutcome:
    provider = service.get_provider_or_raise(session, str(text["provider"]))
    with service.saved_upload(upload.file, upload.filename) as path:
        return service.ingest_batch(
            session, client, provider_id=provider.id, dataset_code=str(text["dataset"]),
            batch_key=text["batch_id"], source=path, filename=upload.filename or "upload.csv",
            channel="api", sheet=text["sheet"], settings=request.app.state.settings.ingest,
        )  # fmt: skip


@router.get("/batches/{batch_id}", response_model=BatchOut, summary="A batch's outcome 批次结果")
def get_batch(batch_id: BatchId, session: ReadSession, client: SignedClient) -> BatchOut:
    return batch_out(service.get_batch_outcome(session, client, batch_id=batch_id))


@router.get(
    "/batches/{batch_id}/rejects",
    summary="A batch's reject report 拒收报告",
    response_model=list[IssueOut],
    responses={200: {"content": {"text/csv": {}}}},
)
def get_rejects(
    batch_id: BatchId,
    session: ReadSession,
    client: SignedClient,
    format: Annotated[Literal["json", "csv"], Query()] = "json",
    lang: Annotated[Literal["zh", "en"], Query()] = "zh",
) -> Any:
    """Every line of the report in row order: JSON (each line's `key` and `params` name its
    reason in the message tables), or CSV in UTF-8 with a BOM (`format=csv`; `lang=en` adds the
    reason in English as a last column)."""
    if format == "csv":
        service.access_batch(session, client, batch_id)  # refuse before the stream starts
        return StreamingResponse(
            service.reject_report_csv(session, client, batch_id=batch_id, english=lang == "en"),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="rejects-{batch_id}.csv"'},
        )
    return [
        IssueOut(
            row=r.row,
            field=r.field,
            label=r.label,
            value=r.value,
            code=r.code,
            message=r.message,
            warning=r.warning,
            key=r.message_key,
            params=r.message_params,
        )
        for r in service.list_rejects(session, client, batch_id=batch_id)
    ]
