"""Abuse detection: many refused reads, or far more reads than usual, throttle and flag."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from creditbridge.access import service
from creditbridge.access.errors import RateLimited
from creditbridge.access.models import AbuseFlag, ReadTally
from creditbridge.core.actors import Actor, ActorKind, Role
from creditbridge.core.clock import FrozenClock
from creditbridge.core.config import get_settings
from creditbridge.core.errors import Forbidden

from .conftest import make_institution, make_user


def _officer(institution_id: int) -> Actor:
    return Actor(
        kind=ActorKind.USER,
        id=1,
        name="o",
        role=Role.INSTITUTION_OFFICER,
        institution_id=institution_id,
    )


def test_many_refused_reads_throttle_and_flag(session: Session, frozen_clock: FrozenClock) -> None:
    institution = make_institution(session)
    actor = _officer(institution.id)
    limit = get_settings().abuse_refusals_per_hour
    for n in range(limit - 1):
        service.note_data_read(session, actor, subject_id=n + 1, refused=True)
    service.ensure_not_throttled(session, actor)
    service.note_data_read(session, actor, subject_id=limit, refused=True)
    with pytest.raises(RateLimited):
        service.ensure_not_throttled(session, actor)
    security, _ = make_user(session, Role.SECURITY_ADMIN)
    flags = service.list_flags(session, service.actor_for_user(security))
    assert [(f.institution_id, f.kind) for f in flags] == [(institution.id, "refusals")]
    service.resolve_flag(
        session, service.actor_for_user(security), flag_id=flags[0].id, note="已核实", lift=True
    )
    service.ensure_not_throttled(session, actor)


def test_consented_reads_at_usual_volume_are_not_flagged(
    session: Session, frozen_clock: FrozenClock
) -> None:
    institution = make_institution(session)
    actor = _officer(institution.id)
    for n in range(100):
        service.note_data_read(session, actor, subject_id=n, refused=False)
    service.ensure_not_throttled(session, actor)


def test_volume_far_above_usual_is_flagged(session: Session, frozen_clock: FrozenClock) -> None:
    institution = make_institution(session)
    actor = _officer(institution.id)
    floor = get_settings().abuse_volume_floor
    for n in range(floor + 1):
        service.note_data_read(session, actor, subject_id=n, refused=False)
    with pytest.raises(RateLimited):
        service.ensure_not_throttled(session, actor)
    frozen_clock.advance(timedelta(hours=2))
    service.ensure_not_throttled(session, actor)  # the throttle ends by itself


def test_only_the_security_admin_sees_flags(session: Session) -> None:
    operator, _ = make_user(session, Role.OPERATOR)
    with pytest.raises(Forbidden):
        service.list_flags(session, service.actor_for_user(operator))


def test_reads_by_non_institutions_are_not_counted(session: Session) -> None:
    enterprise = Actor(kind=ActorKind.USER, id=5, name="e", role=Role.ENTERPRISE_USER, subject_id=1)
    # More refusals than would throttle an institution: none is tallied, flagged or throttled.
    for _ in range(get_settings().abuse_refusals_per_hour + 1):
        service.note_data_read(session, enterprise, subject_id=1, refused=True)
    assert session.scalar(select(func.count()).select_from(ReadTally)) == 0
    assert session.scalar(select(func.count()).select_from(AbuseFlag)) == 0
    service.ensure_not_throttled(session, enterprise)
