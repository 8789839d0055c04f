"""Fixtures for collection: the bundled list loaded, a tax provider, and files to deliver."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

import factories
from creditbridge.catalog import service as catalog_service
from creditbridge.ingest.models import Provider, ProviderDataset
from creditbridge.reference import uscc
from creditbridge.subjects.models import Record

TAX_HEADER_ZH = ("统一社会信用代码", "所属期", "是否按期申报", "应税销售收入", "增值税实缴税额",
                 "企业所得税实缴税额", "实缴税额合计")  # fmt: skip


def codes(n: int, seed: int = 1) -> list[str]:
    """Valid codes registered in Hefei's districts (no warnings from the validator)."""
    rng = np.random.default_rng(seed)
    return [str(c) for c in uscc.generate(rng, n, division_codes=["340102", "340103", "340104"])]


@pytest.fixture
def catalog(session: Session) -> None:
    catalog_service.ensure_default_catalog(session)


@pytest.fixture
def provider(session: Session, catalog: None) -> Provider:
    return factories.provider(
        session, code="tax-ah", name="国家税务总局安徽省税务局", datasets=["tax_payment"],
        contact_name="张三", contact_phone="0551-1234567",
    )  # fmt: skip


@pytest.fixture
def other_provider(session: Session, catalog: None) -> Provider:
    return factories.provider(session, code="amr-ah", name="安徽省市场监督管理局")


def assign(session: Session, provider_id: int, *datasets: str) -> None:
    """Assign ``datasets`` of the list to the provider, as the list's obligations do."""
    session.add_all(ProviderDataset(provider_id=provider_id, dataset_code=d) for d in datasets)
    session.flush()


def tax_rows(
    usccs: Sequence[str], period: str = "2026-09", revenue: str = "1000.5"
) -> list[tuple[str, ...]]:
    return [(code, period, "是", revenue, "10", "20", "30") for code in usccs]


def csv_bytes(
    rows: Sequence[Sequence[str]],
    header: Sequence[str] = TAX_HEADER_ZH,
    encoding: str = "utf-8",
) -> bytes:
    lines = [",".join(header)] + [",".join(row) for row in rows]
    return ("\n".join(lines) + "\n").encode(encoding)


def record_state(session: Session, dataset: str = "tax_payment") -> list[tuple[str, int, str, str]]:
    """(natural key, version, status, digest) of every version, sorted: the store's final state."""
    rows = session.execute(
        select(Record.natural_key, Record.version, Record.status, Record.digest).where(
            Record.dataset_code == dataset
        )
    )
    return sorted(tuple(row) for row in rows)  # type: ignore[misc]


WriteFile = Callable[[str, bytes], Path]


@pytest.fixture
def write_file(tmp_path: Path) -> WriteFile:
    def write(name: str, data: bytes) -> Path:
        path = tmp_path / name
        path.write_bytes(data)
        return path

    return write


# The page and API tests reuse the web tests' application around the rolled-back session.
from web.conftest import app, client, login_as  # noqa: E402, F401
