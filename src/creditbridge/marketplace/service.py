"""Use cases over products and loans.

So far only the counts the dashboard shows; demands, matching, applications and loan reporting
come with the marketplace issues.
"""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from creditbridge.marketplace.models import Loan, Product


def count_products(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(Product)) or 0


def count_loans(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(Loan)) or 0
