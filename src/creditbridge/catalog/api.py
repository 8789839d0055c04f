"""JSON routes for the shared-data list (信用信息共享清单). Public: the list describes data, it
holds none."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query
from sqlalchemy.orm import Session

from creditbridge.catalog import service
from creditbridge.catalog.schemas import (
    CatalogOverviewOut,
    CatalogVersionOut,
    DatasetDetailOut,
    DatasetSummaryOut,
)
from creditbridge.core import types
from creditbridge.web.deps import get_read_session

router = APIRouter(prefix="/api/v1/catalog", tags=["catalog 共享清单"])

ReadSession = Annotated[Session, Depends(get_read_session)]
VersionQuery = Annotated[
    types.Text | None,
    Query(
        description="catalog version id (清单版本号), e.g. 2021.1; the current version when omitted",
        max_length=32,
    ),
]


@router.get(
    "",
    response_model=CatalogOverviewOut,
    summary="Current list and its categories 当前共享清单及信息类别",
)
def get_catalog(session: ReadSession) -> CatalogOverviewOut:
    """The version in use and its categories with their dataset counts. `version` is null
    before any list has been loaded."""
    current = service.get_current_version(session)
    return CatalogOverviewOut(
        version=CatalogVersionOut.of(current) if current is not None else None,
        categories=service.list_categories(session),
    )


@router.get(
    "/versions",
    response_model=list[CatalogVersionOut],
    summary="Loaded versions 已载入的清单版本",
)
def get_versions(session: ReadSession) -> list[CatalogVersionOut]:
    """Every loaded version of the list, the most recently loaded first."""
    return [CatalogVersionOut.of(row) for row in service.list_versions(session)]


@router.get(
    "/datasets",
    response_model=list[DatasetSummaryOut],
    summary="Datasets of the list 共享清单信息项",
)
def get_datasets(session: ReadSession, version: VersionQuery = None) -> list[DatasetSummaryOut]:
    """The datasets of a version in display order; empty before any list has been loaded.
    404 (`CB-NOT-FOUND`) for an unknown version."""
    return [DatasetSummaryOut.of(row) for row in service.list_datasets(session, version=version)]


@router.get(
    "/datasets/{code}",
    response_model=DatasetDetailOut,
    summary="One dataset with its fields 信息项详情及字段",
)
def get_dataset(
    session: ReadSession,
    code: Annotated[
        types.Text, Path(description="dataset code (信息项代码), e.g. penalty", max_length=64)
    ],
    version: VersionQuery = None,
) -> DatasetDetailOut:
    """A dataset's provider, frequency, keys, disclosure class and fields. 404 (`CB-NOT-FOUND`)
    for an unknown version or dataset code."""
    return DatasetDetailOut.of(service.get_dataset_or_raise(session, code=code, version=version))
