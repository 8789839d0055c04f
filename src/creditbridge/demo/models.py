"""The hidden truth behind the synthetic province, kept apart from everything the platform shows.

Later scoring is judged against ``true_pd``; no page, API or report reads this table.
"""

from __future__ import annotations

from sqlalchemy import Float, ForeignKey, Integer
from sqlalchemy.orm import Mapped, mapped_column

from creditbridge.core.db import Base, BigId


class DemoTruth(Base):
    __tablename__ = "demo_truth"

    subject_id: Mapped[int] = mapped_column(BigId, ForeignKey("subject.id"), primary_key=True)
    risk: Mapped[float] = mapped_column(Float, doc="latent risk, standard normal")
    true_pd: Mapped[float] = mapped_column(Float, doc="true 12-month probability of default")
    defaulted: Mapped[bool]
    seed: Mapped[int] = mapped_column(Integer)
