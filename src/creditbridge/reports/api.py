"""JSON API of reports (/api/v1): region/industry aggregates and report verification."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Request
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from creditbridge.core.actors import Actor, Role
from creditbridge.core.errors import NotFound
from creditbridge.presentation.errors import keyed
from creditbridge.reports import analytics, service
from creditbridge.web.auth import require_roles
from creditbridge.web.deps import ReadSession

router = APIRouter(prefix="/api/v1", tags=["reports 信用报告与统计"])

FigureReader = Annotated[Actor, Depends(require_roles(Role.OPERATOR, Role.INSTITUTION_OFFICER))]
MAX_UPLOAD = 20 * 1024 * 1024


class Cell(BaseModel):
    key: str = Field(
        description="GB/T 2260 code, GB/T 4754 section/division, size class or tax band"
    )
    label: str = Field(description="名称 (Chinese)")
    suppressed: bool = Field(
        description=f"fewer than {analytics.MIN_CELL} enterprises: figures withheld"
    )
    enterprises: int | None
    penalties: int | None
    penalty_per_1000: float | None = Field(description="行政处罚数 per 1,000 enterprises")
    penalised_bp: int | None = Field(
        description="share of enterprises with a penalty, basis points"
    )
    dishonest_bp: int | None = Field(
        description="share on the serious dishonesty list, basis points"
    )
    enforced_bp: int | None = Field(description="share with an open enforcement case, basis points")


class AggregateTable(BaseModel):
    dimension: str
    computed_at: datetime
    enterprises: int
    tax_window: str
    min_cell: int
    cells: list[Cell]


def _table(run: Any, dimension: str) -> AggregateTable:
    return AggregateTable(
        dimension=dimension,
        computed_at=run.computed_at,
        enterprises=run.enterprises,
        tax_window=run.tax_window,
        min_cell=analytics.MIN_CELL,
        cells=[
            Cell(label=analytics.label_zh(dimension, c["key"]), **c)
            for c in run.tables.get(dimension, [])
        ],
    )


@router.get(
    "/aggregates",
    summary="All aggregate tables 全部统计表",
    response_model=list[AggregateTable],
)
def all_aggregates(session: ReadSession, actor: FigureReader) -> list[AggregateTable]:
    """Every dimension of the latest aggregates run (operators and institutions)."""
    run = analytics.latest(session)
    if run is None:
        raise keyed(NotFound, "error.reports.no_aggregates")
    return [_table(run, d) for d in (*analytics.DIMENSION_CODES, "total")]


@router.get(
    "/aggregates/{dimension}",
    summary="One aggregate table 单项统计表",
    response_model=AggregateTable,
)
def one_aggregate(
    session: ReadSession,
    actor: FigureReader,
    dimension: Annotated[str, Path(pattern="^(city|county|section|division|size|tax_band|total)$")],
) -> AggregateTable:
    """Enterprises, penalties per 1,000, and shares on the dishonesty list and under
    enforcement, by ``city``, ``county``, ``section`` (GB/T 4754 门类), ``division`` (大类),
    ``size`` or ``tax_band`` (tax paid over the last 12 months)."""
    run = analytics.latest(session)
    if run is None:
        raise keyed(NotFound, "error.reports.no_aggregates")
    return _table(run, dimension)


class CheckResult(BaseModel):
    check: str
    passed: bool | None = Field(description="null: not reached because an earlier check failed")


class VerifyResult(BaseModel):
    genuine: bool
    failed_check: str | None
    report_no: str | None
    format: str | None
    checks: list[CheckResult]


@router.post(
    "/reports/verify",
    summary="Verify a report file 核验信用报告文件",
    response_model=VerifyResult,
    openapi_extra={
        "requestBody": {
            "content": {"application/pdf": {}, "text/html": {}},
            "required": True,
        }
    },
)
async def verify_report(request: Request, session: ReadSession) -> VerifyResult:
    """Send the bytes of an issued HTML or PDF report as the request body. ``genuine`` is true
    only when every check passes; ``failed_check`` names the first that failed: ``format``,
    ``digest``, ``key``, ``signature``, ``registry`` or ``file``. No login needed."""
    raw = (await request.body())[:MAX_UPLOAD]
    # Hashing the file, checking its signature and reading the register are synchronous.
    result = await run_in_threadpool(service.verify_file, session, raw)
    return VerifyResult(
        genuine=result.ok,
        failed_check=result.failed.value if result.failed else None,
        report_no=result.report_no,
        format=result.file_format,
        checks=[CheckResult(check=c.value, passed=p) for c, p in result.checks],
    )
