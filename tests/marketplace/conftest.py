"""A small market for marketplace tests: the bundled list, two banks with published products,
two enterprises, and the actors who work on them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import pytest
from sqlalchemy.orm import Session

import factories
from creditbridge.access.models import Institution
from creditbridge.catalog import service as catalog_service
from creditbridge.core.actors import CONSOLE, Actor
from creditbridge.core.clock import FrozenClock
from creditbridge.marketplace.domain import WAN_FEN
from creditbridge.marketplace.models import Product
from creditbridge.subjects.models import Subject


@dataclass
class Market:
    bank: Institution
    other_bank: Institution
    subject: Subject
    other_subject: Subject
    credit_product: Product
    mortgage_product: Product
    other_credit_product: Product
    officer: Actor
    other_officer: Actor
    owner: Actor
    other_owner: Actor
    operator: Actor


@pytest.fixture
def market(session: Session, frozen_clock: FrozenClock) -> Market:
    catalog_service.ensure_default_catalog(session)
    bank = factories.institution(session, code="mk-bank-a", name="徽商银行")
    other = factories.institution(
        session, code="mk-bank-b", name="芜湖扬子农商银行", division_code="340200"
    )
    subject, other_subject = (
        factories.subject(
            session,
            uscc=uscc,
            name=name,
            division_code=division,
            industry_code="3911",
            industry_section="C",
            size_class=size,
            registration_date=date(2015, 3, 1),
        )
        for uscc, name, division, size in (
            ("91340100MA2M0001XA", "合肥市场测试科技有限公司", "340102", "small"),
            ("91340200MA2M0002XB", "芜湖市场测试制造有限公司", "340202", "medium"),
        )
    )
    officer = factories.officer(bank, id=901)
    other_officer = factories.officer(other, id=902)
    return Market(
        bank=bank,
        other_bank=other,
        subject=subject,
        other_subject=other_subject,
        credit_product=factories.product(
            session, bank, code="mk-credit", by=officer, min_rate_bp=400
        ),
        mortgage_product=factories.product(
            session,
            bank,
            code="mk-mortgage",
            by=officer,
            product_type="mortgage_loan",
            security_type="mortgage",
            min_rate_bp=310,
            max_amount_fen=3000 * WAN_FEN,
            max_term_months=36,
        ),
        other_credit_product=factories.product(
            session, other, code="mk-other-credit", by=other_officer, min_rate_bp=420
        ),
        officer=officer,
        other_officer=other_officer,
        owner=factories.owner(subject, id=903),
        other_owner=factories.owner(other_subject, id=904),
        operator=CONSOLE,
    )
