"""A small market for marketplace tests: the bundled list, two banks with published products,
two enterprises, and the actors who work on them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import pytest
from sqlalchemy.orm import Session

from creditbridge.access.models import Institution
from creditbridge.catalog import service as catalog_service
from creditbridge.core.actors import CONSOLE, Actor, ActorKind, Role
from creditbridge.core.clock import FrozenClock
from creditbridge.marketplace import service
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


def make_product(
    session: Session, institution: Institution, code: str, **overrides: object
) -> Product:
    values: dict[str, object] = {
        "institution_id": institution.id,
        "code": code,
        "name": f"{institution.name}{code}",
        "product_type": "inclusive_credit",
        "security_type": "credit",
        "min_amount_fen": 10 * WAN_FEN,
        "max_amount_fen": 300 * WAN_FEN,
        "min_rate_bp": 380,
        "max_rate_bp": 520,
        "min_term_months": 6,
        "max_term_months": 12,
        "status": "published",
        "consent_categories": ["tax"],
        "created_at": service.utc_now(),
    }
    values.update(overrides)
    product = Product(**values)
    session.add(product)
    session.flush()
    return product


@pytest.fixture
def market(session: Session, frozen_clock: FrozenClock) -> Market:
    catalog_service.ensure_default_catalog(session)
    now = frozen_clock.now()
    bank = Institution(
        code="mk-bank-a",
        name="徽商银行",
        kind="bank",
        division_code="340100",
        status="approved",
        created_at=now,
    )
    other = Institution(
        code="mk-bank-b",
        name="芜湖扬子农商银行",
        kind="bank",
        division_code="340200",
        status="approved",
        created_at=now,
    )
    session.add_all([bank, other])
    subjects = [
        Subject(
            uscc=uscc,
            name=name,
            entity_type="91",
            division_code=division,
            city_code=division[:4] + "00",
            industry_code="3911",
            industry_section="C",
            size_class=size,
            registration_date=date(2015, 3, 1),
            status="active",
            created_at=now,
        )
        for uscc, name, division, size in (
            ("91340100MA2M0001XA", "合肥市场测试科技有限公司", "340102", "small"),
            ("91340200MA2M0002XB", "芜湖市场测试制造有限公司", "340202", "medium"),
        )
    ]
    session.add_all(subjects)
    session.flush()
    credit = make_product(session, bank, "mk-credit", min_rate_bp=400)
    mortgage = make_product(
        session,
        bank,
        "mk-mortgage",
        product_type="mortgage_loan",
        security_type="mortgage",
        min_rate_bp=310,
        max_amount_fen=3000 * WAN_FEN,
        max_term_months=36,
    )
    other_credit = make_product(session, other, "mk-other-credit", min_rate_bp=420)

    def officer(inst: Institution, uid: int) -> Actor:
        return Actor(
            kind=ActorKind.USER,
            id=uid,
            name=f"{inst.name}客户经理",
            role=Role.INSTITUTION_OFFICER,
            institution_id=inst.id,
        )

    def owner(subj: Subject, uid: int) -> Actor:
        return Actor(
            kind=ActorKind.USER,
            id=uid,
            name=f"{subj.name}用户",
            role=Role.ENTERPRISE_USER,
            subject_id=subj.id,
        )

    return Market(
        bank=bank,
        other_bank=other,
        subject=subjects[0],
        other_subject=subjects[1],
        credit_product=credit,
        mortgage_product=mortgage,
        other_credit_product=other_credit,
        officer=officer(bank, 901),
        other_officer=officer(other, 902),
        owner=owner(subjects[0], 903),
        other_owner=owner(subjects[1], 904),
        operator=CONSOLE,
    )
