"""HTML pages of the shared-data list: the list grouped by category, one page per dataset, and
each dataset's upload templates (CSV and XLSX: Chinese headers, an example row, and in the
workbook what to write in each column). Like the list itself they are public.

Both take ``?version=`` so that an older version of the list can be read as it was; unknown
versions and codes raise NotFound, which the error handler renders with a search box.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.orm import Session

from creditbridge.catalog import service as catalog_service
from creditbridge.catalog.models import CatalogDataset, CatalogVersion
from creditbridge.catalog.schemas import CategoryView
from creditbridge.web.deps import ReadSession
from creditbridge.web.templating import render

router = APIRouter(prefix="/catalog", include_in_schema=False)

VersionParam = Annotated[str | None, Query(max_length=32)]
SearchParam = Annotated[str | None, Query(max_length=100)]


@dataclass(frozen=True)
class CategoryGroup:
    category: CategoryView
    datasets: list[CatalogDataset]


@dataclass(frozen=True)
class CatalogListView:
    version: CatalogVersion | None
    current: CatalogVersion | None
    versions: list[CatalogVersion]
    groups: list[CategoryGroup]
    query: str
    total: int
    shown: int

    @property
    def is_current(self) -> bool:
        return (
            self.version is not None
            and self.current is not None
            and self.version.version == self.current.version
        )

    @property
    def version_query(self) -> str:
        """``?version=…`` for links that must stay on a past version; empty on the current one."""
        if self.version is None or self.is_current:
            return ""
        return "?" + urlencode({"version": self.version.version})


def _matches(dataset: CatalogDataset, needle: str) -> bool:
    haystack = (dataset.code, dataset.name_zh, dataset.name_en, dataset.provider_name)
    return any(needle in text.casefold() for text in haystack)


def build_list_view(session: Session, *, version: str | None, query: str) -> CatalogListView:
    """The list page's data; the search narrows what is shown, not what the list holds."""
    versions = catalog_service.list_versions(session)
    current = catalog_service.get_current_version(session)
    if not versions:
        return CatalogListView(None, None, [], [], query, 0, 0)
    if not version and current is None:
        # Versions exist but none is marked current: show the most recently loaded.
        selected = versions[0]
    else:
        selected = catalog_service.get_version_or_raise(session, version=version or None)
    datasets = catalog_service.list_datasets(session, version=selected.version)
    needle = query.strip().casefold()
    shown = [d for d in datasets if _matches(d, needle)] if needle else datasets
    categories = catalog_service.list_categories(session, version=selected.version)
    known = {category.code for category in categories}
    groups = [
        CategoryGroup(category, [d for d in shown if d.category == category.code])
        for category in categories
    ]
    # A dataset whose category the file did not declare still belongs on the page.
    stray = [d for d in shown if d.category not in known]
    if stray:
        other = CategoryView(
            code="other", name_zh="其他", name_en="Other", dataset_count=len(stray)
        )
        groups.append(CategoryGroup(other, stray))
    return CatalogListView(
        version=selected,
        current=current,
        versions=versions,
        groups=[group for group in groups if group.datasets],
        query=query.strip(),
        total=len(datasets),
        shown=len(shown),
    )


@router.get("", name="catalog:list")
def catalog_list(
    request: Request,
    session: ReadSession,
    version: VersionParam = None,
    q: SearchParam = None,
) -> HTMLResponse:
    view = build_list_view(session, version=version, query=q or "")
    return render(request, "catalog/list.html", view=view)


@dataclass(frozen=True)
class DatasetView:
    dataset: CatalogDataset
    version: CatalogVersion
    current: CatalogVersion | None
    category: CategoryView | None

    @property
    def is_current(self) -> bool:
        return self.current is not None and self.version.version == self.current.version

    @property
    def version_query(self) -> str:
        """``?version=…`` for links that must stay on a past version; empty on the current one."""
        return "" if self.is_current else "?" + urlencode({"version": self.version.version})

    @cached_property
    def aliases(self) -> dict[str, list[str]]:
        """Per field, the other headers a delivery may name it by (``aliases`` in the file)."""
        fields = self.dataset.definition.get("fields") or []
        return {
            str(spec["code"]): [str(a) for a in spec.get("aliases") or []]
            for spec in fields
            if isinstance(spec, dict) and "code" in spec
        }

    @cached_property
    def enum_labels(self) -> dict[str, dict[str, str]]:
        """Per field, the Chinese labels the file gave its enum codes (severity: minor → 轻微)."""
        fields = self.dataset.definition.get("fields") or []
        return {
            str(spec["code"]): {str(k): str(v) for k, v in (spec.get("enum_labels") or {}).items()}
            for spec in fields
            if isinstance(spec, dict) and "code" in spec
        }


def build_dataset_view(session: Session, *, code: str, version: str | None) -> DatasetView:
    selected = catalog_service.get_version_or_raise(session, version=version or None)
    dataset = catalog_service.get_dataset_or_raise(session, code=code, version=selected.version)
    categories = catalog_service.list_categories(session, version=selected.version)
    category = next((c for c in categories if c.code == dataset.category), None)
    return DatasetView(dataset, selected, catalog_service.get_current_version(session), category)


@router.get("/{code}/template.{fmt}", name="catalog:template")
def catalog_template(
    session: ReadSession,
    code: str,
    fmt: Annotated[str, Path(pattern="^(csv|xlsx)$")],
    version: VersionParam = None,
) -> Response:
    template = catalog_service.get_upload_template(session, code=code, fmt=fmt, version=version)
    return Response(template.content, media_type=template.media_type, headers=template.headers)


@router.get("/{code}", name="catalog:dataset")
def catalog_dataset(
    request: Request, session: ReadSession, code: str, version: VersionParam = None
) -> HTMLResponse:
    view = build_dataset_view(session, code=code, version=version)
    return render(request, "catalog/dataset.html", view=view)
