"""Loading lists as versions and reading them back, on each store."""

from __future__ import annotations

import copy
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from creditbridge.catalog import service
from creditbridge.catalog.errors import CatalogFileInvalid, CatalogVersionConflict
from creditbridge.catalog.models import CatalogDataset, CatalogField, CatalogVersion
from creditbridge.core.actors import CONSOLE
from creditbridge.core.clock import FrozenClock
from creditbridge.core.crypto import sm3_hex
from creditbridge.core.errors import Conflict, NotFound

ToYaml = Callable[[dict[str, Any]], str]


def count(session: Session, model: type[Any]) -> int:
    return session.scalar(select(func.count()).select_from(model)) or 0


def test_loading_the_bundled_list_stores_a_current_version_with_every_dataset_and_field(
    session: Session, frozen_clock: FrozenClock
) -> None:
    outcome = service.load_catalog(session, CONSOLE, path=service.BUNDLED_CATALOG_PATH)

    bundled = service.bundled_catalog()
    version = outcome.version
    assert outcome.created is True
    assert outcome.dataset_count == len(bundled.datasets)
    assert (version.version, version.basis, version.is_current) == (
        "2021.1",
        "国办发〔2021〕52号",
        True,
    )
    assert version.loaded_at == frozen_clock.now()
    assert version.source_digest == sm3_hex(service.BUNDLED_CATALOG_PATH.read_bytes())
    assert count(session, CatalogDataset) == len(bundled.datasets)
    assert count(session, CatalogField) == sum(len(d.fields) for d in bundled.datasets)
    assert [c["code"] for c in version.categories] == list(bundled.categories)


def test_stored_definition_is_the_dataset_as_the_file_gave_it(session: Session) -> None:
    service.load_catalog(session, CONSOLE, path=service.BUNDLED_CATALOG_PATH)

    penalty = service.get_dataset_or_raise(session, code="penalty")

    assert penalty.definition["severity_field"] == "severity"
    assert penalty.definition["natural_key"] == ["decision_no"]
    assert "masking" not in penalty.definition["fields"][0]  # defaults the file left out stay out
    severity = next(f for f in penalty.fields if f.code == "severity")
    assert severity.enum_values == ["minor", "general", "serious"]
    assert penalty.catalog_version.version == "2021.1"


def test_loading_the_same_file_twice_returns_the_stored_version_unchanged(
    session: Session, frozen_clock: FrozenClock
) -> None:
    first = service.load_catalog(session, CONSOLE, path=service.BUNDLED_CATALOG_PATH)
    loaded_at = first.version.loaded_at
    frozen_clock.advance(datetime(2026, 2, 1, tzinfo=UTC) - frozen_clock.now())

    again = service.load_catalog(
        session, CONSOLE, text=service.BUNDLED_CATALOG_PATH.read_text(encoding="utf-8")
    )

    assert again.created is False
    assert again.version.id == first.version.id
    assert again.version.loaded_at == loaded_at
    assert again.dataset_count == first.dataset_count
    assert count(session, CatalogVersion) == 1


def test_a_second_version_becomes_current_and_keeps_the_first(
    session: Session, small_catalog: dict[str, Any], to_yaml: ToYaml
) -> None:
    service.load_catalog(session, CONSOLE, path=service.BUNDLED_CATALOG_PATH)

    second = service.load_catalog(
        session, CONSOLE, text=to_yaml(small_catalog), source_name="v9.yaml"
    )

    assert second.created is True
    assert service.get_current_version(session) is second.version
    assert [v.version for v in service.list_versions(session)] == ["9.1", "2021.1"]
    assert [v.is_current for v in service.list_versions(session)] == [True, False]
    assert [d.code for d in service.list_datasets(session)] == ["registration", "penalty"]
    assert len(service.list_datasets(session, version="2021.1")) >= 25
    old_penalty = service.get_dataset_or_raise(session, code="tax_payment", version="2021.1")
    assert old_penalty.name_zh == "纳税信息"


def test_reusing_a_version_id_for_other_content_is_a_conflict(
    session: Session, small_catalog: dict[str, Any], to_yaml: ToYaml
) -> None:
    service.load_catalog(session, CONSOLE, text=to_yaml(small_catalog))
    changed = copy.deepcopy(small_catalog)
    changed["title"] = "改过的标题"

    with pytest.raises(CatalogVersionConflict) as exc:
        service.load_catalog(session, CONSOLE, text=to_yaml(changed))

    assert isinstance(exc.value, Conflict)
    assert "9.1" in exc.value.message
    assert "另起版本号" in exc.value.message
    assert count(session, CatalogVersion) == 1


def test_a_malformed_file_stores_nothing(
    session: Session, small_catalog: dict[str, Any], to_yaml: ToYaml
) -> None:
    small_catalog["datasets"][0]["fields"][0]["type"] = "money"

    with pytest.raises(CatalogFileInvalid):
        service.load_catalog(session, CONSOLE, text=to_yaml(small_catalog), source_name="bad.yaml")

    assert count(session, CatalogVersion) == 0


def test_ensure_default_catalog_loads_the_bundled_list_only_when_none_is_loaded(
    session: Session, small_catalog: dict[str, Any], to_yaml: ToYaml
) -> None:
    first = service.ensure_default_catalog(session)
    assert first.version == "2021.1"

    service.load_catalog(session, CONSOLE, text=to_yaml(small_catalog))

    assert service.ensure_default_catalog(session).version == "9.1"
    assert count(session, CatalogVersion) == 2


def test_reads_before_any_list_is_loaded_are_empty(session: Session) -> None:
    assert service.get_current_version(session) is None
    assert service.list_versions(session) == []
    assert service.list_datasets(session) == []
    assert service.list_categories(session) == []
    with pytest.raises(NotFound, match="尚未载入"):
        service.get_dataset_or_raise(session, code="penalty")


def test_unknown_dataset_or_version_is_not_found_in_chinese(session: Session) -> None:
    service.load_catalog(session, CONSOLE, path=service.BUNDLED_CATALOG_PATH)

    with pytest.raises(NotFound, match="没有数据项 loans"):
        service.get_dataset_or_raise(session, code="loans")
    with pytest.raises(NotFound, match=r"没有版本为 1999\.1"):
        service.list_datasets(session, version="1999.1")
    with pytest.raises(NotFound, match=r"没有版本为 1999\.1"):
        service.list_categories(session, version="1999.1")


def test_categories_come_in_file_order_with_their_dataset_counts(session: Session) -> None:
    service.load_catalog(session, CONSOLE, path=service.BUNDLED_CATALOG_PATH)

    categories = service.list_categories(session)

    bundled = service.bundled_catalog()
    assert [c.code for c in categories] == list(bundled.categories)
    assert categories[0].name_zh == "市场主体登记注册"
    assert sum(c.dataset_count for c in categories) == len(bundled.datasets)
    judicial = next(c for c in categories if c.code == "judicial")
    assert judicial.dataset_count == sum(1 for d in bundled.datasets if d.category == "judicial")


def test_datasets_are_listed_in_file_order_with_fields_in_file_order(session: Session) -> None:
    service.load_catalog(session, CONSOLE, path=service.BUNDLED_CATALOG_PATH)

    datasets = service.list_datasets(session)

    bundled = service.bundled_catalog()
    assert [d.code for d in datasets] == bundled.dataset_codes
    for row, spec in zip(datasets, bundled.datasets, strict=True):
        assert [f.code for f in row.fields] == spec.field_codes


def test_loading_a_list_is_audited_with_its_actor(session: Session) -> None:
    """Who changed the shared-data list, and to what, is on record in the same transaction."""
    from creditbridge.audit import service as audit_service
    from creditbridge.audit.service import EventFilter

    outcome = service.load_catalog(session, CONSOLE, path=service.BUNDLED_CATALOG_PATH)
    again = service.load_catalog(session, CONSOLE, path=service.BUNDLED_CATALOG_PATH)

    events = audit_service.list_events(session, flt=EventFilter(action="catalog.load"))
    assert [e.object_id for e in events] == [str(outcome.version.id)] * 2
    details = sorted(e.content["detail"]["created"] for e in events)
    assert details == [False, True]
    assert {e.content["actor"]["name"] for e in events} == {CONSOLE.name}
    assert not again.created
