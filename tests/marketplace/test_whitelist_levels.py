"""The whitelist reviewed level by level (逐级把关) by operators of those levels: a county's
operator passes the county stage of its county's enterprises, a city's the city stage, the
province the last; none acts for another level or region, and each sees only its division."""

from __future__ import annotations

from dataclasses import replace

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from creditbridge.audit.models import AuditEvent
from creditbridge.core.actors import CONSOLE, Actor
from creditbridge.core.errors import Forbidden, NotFound, ValidationFailed
from creditbridge.marketplace import domain, service
from creditbridge.marketplace.domain import Level
from creditbridge.marketplace.models import WhitelistEntry
from creditbridge.marketplace.service import whitelist as whitelist_service

from .conftest import Market

YAOHAI = replace(CONSOLE, name="瑶海区运营", division_code="340102")  # county of market.subject
JINGHU = replace(CONSOLE, name="镜湖区运营", division_code="340202")  # county of other_subject
HEFEI = replace(CONSOLE, name="合肥市运营", division_code="340100")
WUHU = replace(CONSOLE, name="芜湖市运营", division_code="340200")
ANHUI = replace(CONSOLE, name="安徽省运营", division_code="340000")


def _entry(session: Session, subject_id: int) -> WhitelistEntry:
    return service.add_whitelist_candidate(
        session, CONSOLE, subject_id=subject_id, grade="AA", reasons=["grade"]
    )


def _review(session: Session, actor: Actor, entry: WhitelistEntry, level: Level) -> None:
    service.review_whitelist(session, actor, entry_id=entry.id, level=level, approve=True)


def test_each_level_is_passed_by_its_own_operator(session: Session, market: Market) -> None:
    entry = _entry(session, market.subject.id)
    with pytest.raises(Forbidden):
        _review(session, HEFEI, entry, Level.COUNTY)  # a city cannot pass the county stage
    with pytest.raises(NotFound):
        _review(session, JINGHU, entry, Level.COUNTY)  # another county's enterprise
    _review(session, YAOHAI, entry, Level.COUNTY)
    with pytest.raises(Forbidden):
        _review(session, YAOHAI, entry, Level.CITY)  # nor a county the city stage
    with pytest.raises(NotFound):
        _review(session, WUHU, entry, Level.CITY)
    _review(session, HEFEI, entry, Level.CITY)
    with pytest.raises(Forbidden):
        _review(session, HEFEI, entry, Level.PROVINCE)
    _review(session, ANHUI, entry, Level.PROVINCE)
    assert entry.status == "listed"
    trail = session.execute(
        select(AuditEvent.action, AuditEvent.chained)
        .where(AuditEvent.object_type == "marketplace_whitelist_entry")
        .where(AuditEvent.object_id == str(entry.id))
        .order_by(AuditEvent.id)
    ).all()
    passes = [(action, chained) for action, chained in trail][1:]
    assert [action for action, _ in passes] == [
        "market.whitelist.county_pass",
        "market.whitelist.city_pass",
        "market.whitelist.province_pass",
    ]
    # Each stage is on the trail under the operator of that level.
    for (_, chained), actor in zip(passes, (YAOHAI, HEFEI, ANHUI), strict=True):
        assert actor.name in chained


def test_a_node_wide_operator_keeps_reviewing_every_stage(session: Session, market: Market) -> None:
    entry = _entry(session, market.subject.id)
    for level in (Level.COUNTY, Level.CITY, Level.PROVINCE):
        _review(session, CONSOLE, entry, level)
    assert entry.status == "listed"


def test_a_rejection_needs_a_reason_and_changes_nothing_without_one(
    session: Session, market: Market
) -> None:
    entry = _entry(session, market.subject.id)
    with pytest.raises(ValidationFailed) as refused:
        service.review_whitelist(
            session, YAOHAI, entry_id=entry.id, level=Level.COUNTY, approve=False, note=""
        )
    assert refused.value.issues[0].field == "note"
    assert entry.status == "proposed"


def test_lists_are_limited_to_the_operators_division_and_mark_what_it_may_review(
    session: Session, market: Market
) -> None:
    mine = _entry(session, market.subject.id)
    theirs = _entry(session, market.other_subject.id)
    rows = whitelist_service.list_whitelist_rows(session, YAOHAI)
    assert [r.entry.id for r in rows] == [mine.id]
    assert rows[0].can_review
    assert rows[0].stage is Level.COUNTY
    city_rows = whitelist_service.list_whitelist_rows(session, HEFEI)
    assert [(r.entry.id, r.can_review) for r in city_rows] == [(mine.id, False)]
    province = {r.entry.id for r in whitelist_service.list_whitelist_rows(session, ANHUI)}
    assert province == {mine.id, theirs.id}
    by_region = whitelist_service.list_whitelist_rows(session, CONSOLE, region="340200")
    assert [r.entry.id for r in by_region] == [theirs.id]
    with pytest.raises(NotFound):
        service.remove_from_whitelist(session, YAOHAI, entry_id=theirs.id, reason="风险")


def test_lists_filter_by_grade_and_status_sort_and_mark_overdue(
    session: Session, market: Market
) -> None:
    high = _entry(session, market.subject.id)
    low = service.add_whitelist_candidate(
        session, CONSOLE, subject_id=market.other_subject.id, grade="BBB", reasons=["grade"]
    )
    _review(session, CONSOLE, high, Level.COUNTY)
    graded = whitelist_service.list_whitelist_rows(session, CONSOLE, grade="A")
    assert [r.entry.id for r in graded] == [high.id]
    waiting_city = whitelist_service.list_whitelist_rows(session, CONSOLE, status="county_passed")
    assert [r.entry.id for r in waiting_city] == [high.id]
    by_grade = whitelist_service.list_whitelist_rows(
        session, CONSOLE, sort="grade", descending=False
    )
    assert [r.entry.id for r in by_grade] == [low.id, high.id]
    later = low.proposed_at.date().replace(year=low.proposed_at.year + 1)
    rows = whitelist_service.list_whitelist_rows(session, CONSOLE, today=later)
    assert all(r.overdue for r in rows)
    assert not any(r.overdue for r in whitelist_service.list_whitelist_rows(session, CONSOLE))


@pytest.mark.parametrize(
    ("division", "level", "stage", "where", "allowed"),
    [
        (None, None, Level.CITY, "340102", True),
        ("340102", "county", Level.COUNTY, "340102", True),
        ("340102", "county", Level.COUNTY, "340103", False),
        ("340100", "city", Level.CITY, "340102", True),
        ("340100", "city", Level.COUNTY, "340102", False),
        ("340100", "city", Level.CITY, "340202", False),
        ("340000", "province", Level.PROVINCE, "340202", True),
        ("340000", "province", Level.CITY, "340202", False),
    ],
)
def test_who_may_review_which_stage(
    division: str | None, level: str | None, stage: Level, where: str, allowed: bool
) -> None:
    assert (
        domain.may_review_whitelist(
            operator_division=division,
            operator_level=level,
            stage=stage,
            subject_division=where,
        )
        is allowed
    )
