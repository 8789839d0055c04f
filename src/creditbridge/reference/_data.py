"""Read the data files shipped in ``creditbridge/reference/data``."""

from __future__ import annotations

import csv
import io
from importlib import resources
from typing import Any

import yaml


def read_text(name: str) -> str:
    return resources.files("creditbridge.reference").joinpath("data", name).read_text("utf-8")


def read_csv(name: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(read_text(name))))


def read_yaml(name: str) -> Any:
    return yaml.safe_load(read_text(name))
