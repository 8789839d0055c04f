"""The ingest and collection settings are groups of the one Settings, read from the environment
variables they always had."""

from __future__ import annotations

from pathlib import Path

import pytest

from creditbridge.core.config import IngestSettings, Settings
from creditbridge.ingest.metrics import CollectionBar


def test_groups_keep_their_environment_names(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CREDITBRIDGE_INGEST_SQLITE_CACHE_MB", "7")
    monkeypatch.setenv("CREDITBRIDGE_INGEST_CHUNK_ROWS", "3")
    monkeypatch.setenv("CREDITBRIDGE_INGEST_REJECT_THRESHOLDS", '{"penalty": 0.0}')
    monkeypatch.setenv("CREDITBRIDGE_COLLECTION_BAR_COVERAGE", "0.5")
    monkeypatch.setenv("CREDITBRIDGE_COLLECTION_FRESHNESS_MONTHS", "6")
    monkeypatch.setenv("CREDITBRIDGE_COLLECTION_PANEL_MONTHS", "24")
    settings = Settings()
    assert (settings.ingest.sqlite_cache_mb, settings.ingest.chunk_rows) == (7, 3)
    assert settings.ingest.threshold_for("penalty") == 0.0
    assert settings.ingest.threshold_for("tax_payment") == 0.05
    assert settings.collection.panel_months == 24
    bar = CollectionBar.from_settings(settings.collection)
    assert (bar.coverage, bar.freshness_months, bar.timeliness) == (0.5, 6, 0.95)


def test_snapshots_live_beside_the_sqlite_file_unless_configured(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("CREDITBRIDGE_ANALYTICS_DIR", raising=False)
    monkeypatch.delenv("CREDITBRIDGE_DATA_DIR", raising=False)
    beside = Settings(database_url=f"sqlite:///{tmp_path}/node.db")
    assert beside.analytics_root == tmp_path / "analytics"
    assert Settings(database_url="postgresql+psycopg://cb@db/cb").analytics_root == Path(
        "var/analytics"
    )
    monkeypatch.setenv("CREDITBRIDGE_ANALYTICS_DIR", str(tmp_path / "elsewhere"))
    assert Settings().analytics_root == tmp_path / "elsewhere"


def test_the_xlsx_limits_are_ingest_settings_read_by_their_new_and_old_names(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("CREDITBRIDGE_XLSX_MAX_PART_BYTES", "1000")  # the name before the group
    monkeypatch.setenv("CREDITBRIDGE_XLSX_MAX_UNCOMPRESSED_BYTES", "3000")
    assert (
        Settings().ingest.xlsx_max_part_bytes,
        Settings().ingest.xlsx_max_uncompressed_bytes,
    ) == (
        1000,
        3000,
    )
    monkeypatch.setenv("CREDITBRIDGE_INGEST_XLSX_MAX_PART_BYTES", "2000")  # the group's wins
    assert Settings().ingest.xlsx_max_part_bytes == 2000
    assert not hasattr(Settings(), "xlsx_max_part_bytes")
    assert IngestSettings(xlsx_max_part_bytes=5).xlsx_max_part_bytes == 5
