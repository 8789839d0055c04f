"""The snapshot and the indicator SQL: typed Parquet per dataset, the same SQL on a second engine
(SQLite) gives the same values, and an SQL error names its indicator."""

from __future__ import annotations

import re
import sqlite3

import numpy as np
import pyarrow.parquet as pq
import pytest

from creditbridge.catalog import service as catalog_service
from creditbridge.scoring import analytics, service
from creditbridge.scoring.errors import IndicatorSqlError
from creditbridge.scoring.schemas import IndicatorConfig, expert_config, indicator_config

from .conftest import ENTERPRISES, Lab


def test_snapshot_has_typed_columns_and_current_records_only(lab: Lab) -> None:
    tax = pq.read_table(lab.snapshot.path("tax_payment"))
    assert tax.schema.field("total_tax_paid").type == "double"
    assert tax.schema.field("period_seq").type == "int32"
    assert tax.schema.field("declared").type == "int32"
    assert {"subject_id", "event_day", "event_seq"} <= set(tax.column_names)
    penalty = pq.read_table(lab.snapshot.path("penalty"))
    assert "violation_facts" not in penalty.column_names  # free text is left out
    assert penalty.schema.field("decision_date").type == "int32"
    assert lab.snapshot.rows["subject"] == ENTERPRISES
    assert analytics.Snapshot.open(lab.snapshot.folder).as_of == lab.snapshot.as_of


def test_indicator_sql_gives_the_same_values_on_sqlite(lab: Lab) -> None:
    config = indicator_config()
    duck = analytics.compute_indicators(lab.snapshot, config)
    connection = sqlite3.connect(":memory:")
    analytics.load_into_sqlite(lab.snapshot, connection)
    lite = analytics.compute_indicators_sqlite(connection, config)
    assert np.array_equal(duck.subject_ids, lite.subject_ids)
    assert np.array_equal(duck.has_records, lite.has_records)
    for j, code in enumerate(config.codes):
        a, b = duck.values[:, j], lite.values[:, j]
        assert np.array_equal(np.isnan(a), np.isnan(b)), code
        assert np.allclose(a[~np.isnan(a)], b[~np.isnan(b)], rtol=1e-9, atol=1e-12), code


def test_missing_values_follow_each_indicators_absent_rule(lab: Lab) -> None:
    config = indicator_config()
    frame = analytics.compute_indicators(lab.snapshot, config)
    for spec in config.indicators:
        column = frame.column(spec.code)
        if spec.absent is None:
            assert np.isnan(column).any() or spec.code in (
                "years_in_business",
                "registered_capital",
            )
        else:
            assert not np.isnan(column).all()
    assert np.isnan(frame.column("tax_paid_12m")).any()
    assert (frame.column("penalty_points_36m") == 0).sum() > ENTERPRISES // 2


def test_an_sql_error_names_the_indicator(lab: Lab) -> None:
    broken = IndicatorConfig.model_validate(
        {
            "version": "broken",
            "indicators": [
                {**indicator_config().indicators[0].model_dump()},
                {**indicator_config().indicators[1].model_dump(), "code": "capital_typo",
                 "sql": "SELECT subject_id, no_such_column AS value FROM subject"},
            ],
        }
    )  # fmt: skip
    with pytest.raises(IndicatorSqlError, match="capital_typo") as error:
        analytics.compute_indicators(lab.snapshot, broken)
    assert error.value.indicator == "capital_typo"


def test_expert_card_covers_configured_indicators_only() -> None:
    assert set(expert_config().bins) <= set(indicator_config().codes)
    assert expert_config().indicators_version == indicator_config().version


def test_consent_categories_cover_every_authorized_dataset_the_indicators_read() -> None:
    datasets = {d.code: d for d in catalog_service.bundled_catalog().datasets}
    read = {
        code
        for spec in indicator_config().indicators
        for code in datasets
        if re.search(rf"\b{code}\b", spec.sql)
    }
    authorized = {datasets[c].category for c in read if datasets[c].disclosure_class != "public"}
    assert authorized <= set(service.SCORE_CATEGORIES)
