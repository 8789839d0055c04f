"""The generated province the database tests share (see conftest.py)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import Connection
from sqlalchemy.orm import Session

from creditbridge.demo import service

SEED = 20260101
AS_OF = date(2026, 10, 31)
ENTERPRISES = 400


@dataclass
class Province:
    connection: Connection
    session: Session
    summary: service.GenerationSummary
