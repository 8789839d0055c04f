"""Helpers for catalog tests: a small valid catalog to break one rule at a time."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest
import yaml


def _field(code: str, type_: str = "string", **extra: Any) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "code": code,
        "label_zh": f"{code}中文",
        "label_en": code,
        "type": type_,
        "required": True,
        "classification_level": 1,
    }
    spec.update(extra)
    return spec


SMALL_CATALOG: dict[str, Any] = {
    "version": "9.1",
    "title": "测试清单",
    "basis": "测试依据",
    "effective_date": "2025-01-01",
    "categories": {
        "registration": {"zh": "登记", "en": "Registration"},
        "penalty": {"zh": "处罚", "en": "Penalties"},
    },
    "datasets": [
        {
            "code": "registration",
            "name_zh": "登记信息",
            "name_en": "Registration",
            "category": "registration",
            "provider_kind": "department",
            "provider_name": "市场监管局",
            "update_frequency": "on_change",
            "subject_key": "uscc",
            "natural_key": ["uscc"],
            "event_date_field": "registration_date",
            "disclosure_class": "public",
            "negative": False,
            "fields": [
                _field("uscc", "uscc"),
                _field("name"),
                _field("registration_date", "date"),
                _field("status", "enum", enum=["存续", "注销"]),
            ],
        },
        {
            "code": "penalty",
            "name_zh": "处罚信息",
            "name_en": "Penalties",
            "category": "penalty",
            "provider_kind": "department",
            "provider_name": "执法部门",
            "update_frequency": "daily",
            "subject_key": "uscc",
            "natural_key": ["decision_no"],
            "event_date_field": "decision_date",
            "disclosure_class": "public",
            "negative": True,
            "publication_period_class": "by_severity",
            "severity_field": "severity",
            "fields": [
                _field("uscc", "uscc"),
                _field("decision_no"),
                _field("decision_date", "date"),
                _field("fine_amount", "amount", unit="yuan", required=False),
                _field(
                    "severity",
                    "enum",
                    enum=["minor", "general", "serious"],
                    enum_labels={"minor": "轻微", "general": "一般", "serious": "严重"},
                ),
            ],
        },
    ],
}


@pytest.fixture
def small_catalog() -> dict[str, Any]:
    """A deep copy of a two-dataset catalog that passes every rule; break it in the test."""
    return copy.deepcopy(SMALL_CATALOG)


def _dump(data: dict[str, Any]) -> str:
    return yaml.safe_dump(data, allow_unicode=True, sort_keys=False)


@pytest.fixture
def to_yaml() -> Callable[[dict[str, Any]], str]:
    """Turns a catalog dict into file text, keys in the given order."""
    return _dump
