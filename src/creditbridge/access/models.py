"""Institutions that connect to the platform (接入机构)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from creditbridge.core.db import Base, BigId


class Institution(Base):
    __tablename__ = "access_institution"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(
        String(24), doc="bank | guarantor | insurer | credit_agency | city_platform"
    )
    uscc: Mapped[str | None] = mapped_column(String(18))
    division_code: Mapped[str] = mapped_column(String(6), index=True)
    status: Mapped[str] = mapped_column(String(16), default="approved")
    created_at: Mapped[datetime]
