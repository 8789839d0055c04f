"""A small world for report tests: the bundled list, a bank, an enterprise with public, negative
(published, expired, not published, ended) and authorized records, and one with no records."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy.orm import Session

import factories
from creditbridge.access.models import Institution
from creditbridge.catalog import service as catalog_service
from creditbridge.consent import service as consent_service
from creditbridge.consent.models import ConsentGrant
from creditbridge.core.actors import CONSOLE, Actor
from creditbridge.core.clock import FrozenClock
from creditbridge.ingest.models import Batch
from creditbridge.subjects.models import Record, Subject

NOW = datetime(2026, 1, 5, 2, 0, tzinfo=UTC)


@dataclass
class World:
    bank: Institution
    other_bank: Institution
    subject: Subject
    empty_subject: Subject
    officer: Actor
    other_officer: Actor
    owner: Actor
    operator: Actor
    records: dict[str, Record]
    batch: Batch


def add_record(
    session: Session,
    batch: Batch,
    subject: Subject,
    dataset: str,
    key: str,
    data: dict[str, Any],
    event_date: date | None,
) -> Record:
    """A record of ``subject`` whose natural key is ``key`` under the subject's code."""
    return factories.record(
        session,
        subject,
        dataset,
        data,
        batch=batch,
        key=f"{subject.uscc}|{key}",
        event_date=event_date,
    )


def _penalty(no: str, day: date, severity: str, fine: str) -> dict[str, Any]:
    return {
        "decision_no": no,
        "decision_date": day.isoformat(),
        "violation_type": "虚假宣传",
        "violation_facts": "在网站上发布虚假广告",
        "legal_basis": "《广告法》第五十五条",
        "penalty_type": "罚款",
        "fine_amount": fine,
        "procedure": "普通程序",
        "severity": severity,
        "authority": "合肥市市场监督管理局",
    }


@pytest.fixture
def world(session: Session, frozen_clock: FrozenClock) -> World:
    catalog_service.ensure_default_catalog(session)
    now = frozen_clock.now()
    bank = factories.institution(session, code="bank-a", name="徽商银行")
    other = factories.institution(session, code="bank-b", name="合肥科技农商行")
    provider = factories.provider(session, code="dept", name="市场监管局")
    subject = factories.subject(
        session,
        uscc="91340100MA2N0001XG",
        name="合肥样例科技有限公司",
        division_code="340104",
        industry_section="I",
        industry_code="65",
        size_class="small",
        registration_date=date(2015, 3, 1),
        registered_capital_fen=500_000_000,
        legal_representative="王小五",
    )
    empty = factories.subject(
        session, uscc="91340200MA2N0002XN", name="芜湖空白贸易有限公司", division_code="340202"
    )
    batch = factories.batch(session, provider, dataset="penalty", key="b1")
    today = now.date()
    records = {
        "registration": add_record(
            session,
            batch,
            subject,
            "registration",
            "reg",
            {
                "name": subject.name,
                "legal_representative": "王小五",
                "registration_date": "2015-03-01",
                "registered_capital": "500",
                "division_code": "340104",
                "status": "存续",
            },
            date(2015, 3, 1),
        ),
        "penalty_recent": add_record(
            session,
            batch,
            subject,
            "penalty",
            "p1",
            _penalty("合市监罚〔2025〕101号", today - timedelta(days=60), "general", "50000"),
            today - timedelta(days=60),
        ),
        "penalty_expired": add_record(
            session,
            batch,
            subject,
            "penalty",
            "p2",
            _penalty("合市监罚〔2021〕7号", date(2021, 6, 1), "serious", "800000"),
            date(2021, 6, 1),
        ),
        "penalty_minor": add_record(
            session,
            batch,
            subject,
            "penalty",
            "p3",
            _penalty("合市监罚〔2025〕202号", today - timedelta(days=30), "minor", "200"),
            today - timedelta(days=30),
        ),
        "dishonesty": add_record(
            session,
            batch,
            subject,
            "serious_dishonesty",
            "sd1",
            {
                "list_name": "严重违法失信名单",
                "list_authority": "安徽省市场监督管理局",
                "listed_date": (today - timedelta(days=100)).isoformat(),
                "reason": "隐瞒真实情况",
            },
            today - timedelta(days=100),
        ),
        "arrears_cleared": add_record(
            session,
            batch,
            subject,
            "tax_arrears",
            "ta1",
            {
                "tax_type": "增值税",
                "arrears_amount": "3000",
                "arrears_date": (today - timedelta(days=200)).isoformat(),
                "cleared_date": (today - timedelta(days=20)).isoformat(),
                "authority": "税务局",
            },
            today - timedelta(days=200),
        ),
        "honour": add_record(
            session,
            batch,
            subject,
            "honour",
            "h1",
            {
                "honour_name": "守合同重信用企业",
                "level": "省级",
                "authority": "省市场监管局",
                "award_date": "2024-05-01",
            },
            date(2024, 5, 1),
        ),
        "tax": add_record(
            session,
            batch,
            subject,
            "tax_payment",
            "2025-06",
            {"period": "2025-06", "declared": True, "total_tax_paid": "12345.60"},
            date(2025, 6, 30),
        ),
        "identity": add_record(
            session,
            batch,
            subject,
            "legal_rep_identity",
            "id",
            {
                "person_name": "王小五",
                "id_number": "340102198001011234",
                "mobile": "13800138000",
                "effective_date": "2020-01-01",
            },
            date(2020, 1, 1),
        ),
    }

    return World(
        bank=bank,
        other_bank=other,
        subject=subject,
        empty_subject=empty,
        officer=factories.officer(bank, id=101, ip="10.1.1.1"),
        other_officer=factories.officer(other, id=102, ip="10.1.1.1"),
        owner=factories.owner(subject, id=201, name="企业用户"),
        operator=factories.operator(),
        records=records,
        batch=batch,
    )


def grant_consent(
    session: Session, world: World, *, categories: list[str] | None = None
) -> ConsentGrant:
    grant = consent_service.request_consent(
        session,
        world.officer,
        uscc=world.subject.uscc,
        purpose="loan_application",
        categories=categories or ["tax"],
        valid_until=NOW + timedelta(days=90),
        max_uses=5,
    )
    return consent_service.approve(session, world.owner, consent_id=grant.id)


__all__ = ["CONSOLE", "NOW", "World", "add_record", "grant_consent"]
