"""The one function marketplace added to consent: the enterprise grants a consent itself."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from creditbridge.audit.models import AuditEvent
from creditbridge.consent import service as consent_service
from creditbridge.core.clock import utc_now
from creditbridge.core.errors import Forbidden, NotFound, ValidationFailed

from .conftest import Market


def test_enterprise_grant_is_active_audited_and_usable(session: Session, market: Market) -> None:
    grant = consent_service.grant(
        session,
        market.owner,
        subject_id=market.subject.id,
        institution_id=market.bank.id,
        purpose="loan_application",
        categories=["tax"],
        valid_until=utc_now() + timedelta(days=30),
        max_uses=3,
    )
    assert grant.status == "active"
    events = session.scalars(
        select(AuditEvent.action).where(AuditEvent.object_id == str(grant.id))
    ).all()
    assert "consent.grant" in events
    found = consent_service.require_valid(
        session,
        market.officer,
        subject_id=market.subject.id,
        purpose="loan_application",
        categories=["tax"],
    )
    assert found.id == grant.id


def test_only_the_enterprise_itself_may_grant(session: Session, market: Market) -> None:
    kwargs = {
        "subject_id": market.subject.id,
        "institution_id": market.bank.id,
        "purpose": "loan_application",
        "categories": ["tax"],
        "valid_until": utc_now() + timedelta(days=30),
        "max_uses": 3,
    }
    with pytest.raises(NotFound):
        consent_service.grant(session, market.other_owner, **kwargs)  # type: ignore[arg-type]
    with pytest.raises(Forbidden):
        consent_service.grant(session, market.officer, **kwargs)  # type: ignore[arg-type]
    with pytest.raises(ValidationFailed):
        consent_service.grant(
            session,
            market.owner,
            **{**kwargs, "categories": ["nope"]},  # type: ignore[arg-type]
        )
