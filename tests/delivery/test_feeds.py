"""Resumable event feeds over the outbox: paging by cursor, who sees what, cursors a node never
issued, retention and its watermarks, the nightly files, and the messages consent and the
marketplace write onto the feeds."""

from __future__ import annotations

import base64
import csv
import io
import json
import os
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, delete, select
from sqlalchemy.orm import Session

import factories
from creditbridge.access.models import Institution
from creditbridge.audit import service as audit_service
from creditbridge.catalog import service as catalog_service
from creditbridge.core.actors import CONSOLE, Actor, ActorKind, Role
from creditbridge.core.clock import FrozenClock
from creditbridge.core.config import Settings, WebhookSettings, WorkerSettings
from creditbridge.core.errors import Busy, DomainError, Forbidden, ValidationFailed
from creditbridge.delivery import service
from creditbridge.delivery.errors import CursorExpired, CursorUnknown, TopicUnknown
from creditbridge.delivery.models import Delivery, DeliveryAttempt, OutboxMessage
from creditbridge.delivery.service import feeds
from creditbridge.marketplace import service as market_service
from creditbridge.marketplace.domain import WAN_FEN

RETENTION_DAYS = 30


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(
        env="test",
        webhooks=WebhookSettings(allow_loopback=True),
        worker=WorkerSettings(
            feed_retention_days=RETENTION_DAYS, feed_files_dir=tmp_path / "feeds"
        ),
    )


class Banks:
    def __init__(self, session: Session) -> None:
        self.a: Institution = factories.institution(session, code="feed-bank-a", name="徽商银行")
        self.b: Institution = factories.institution(session, code="feed-bank-b", name="合肥农商")
        self.officer_a = factories.officer(self.a, id=501)
        self.officer_b = factories.officer(self.b, id=502)
        # The institution's own system, as a signed request makes it.
        self.client_a = Actor(
            kind=ActorKind.API_CLIENT,
            id=77,
            name="cb-client-a",
            role=Role.INSTITUTION_OFFICER,
            institution_id=self.a.id,
        )


@pytest.fixture
def banks(session: Session, frozen_clock: FrozenClock) -> Banks:
    return Banks(session)


def _emit(
    session: Session, event_type: str, institution_id: int | None, **payload: Any
) -> OutboxMessage:
    return service.emit(
        session, event_type=event_type, payload=payload, institution_id=institution_id
    )


def _read(session: Session, actor: Actor, settings: Settings, **kw: Any) -> feeds.FeedPage:
    kw.setdefault("topic", "consent")
    kw.setdefault("after", None)
    return service.read_feed(session, actor, settings=settings, **kw)


def _read_all(
    session: Session, actor: Actor, settings: Settings, *, limit: int, **kw: Any
) -> tuple[list[str], list[int], str]:
    """Every event of the feed, page by page: (message ids, page sizes, last cursor)."""
    seen: list[str] = []
    sizes: list[int] = []
    cursor: str | None = kw.pop("after", None)
    while True:
        page = _read(session, actor, settings, after=cursor, limit=limit, **kw)
        seen += [event["id"] for event in page.events]
        sizes.append(len(page.events))
        cursor = page.next_cursor
        if not page.has_more:
            return seen, sizes, cursor


def _message_ids(session: Session, **where: Any) -> list[str]:
    query = select(OutboxMessage.message_id).order_by(OutboxMessage.id)
    for name, value in where.items():
        query = query.where(getattr(OutboxMessage, name) == value)
    return list(session.scalars(query))


def _problem(error: DomainError) -> dict[str, Any]:
    return error.problem()


# --- paging -------------------------------------------------------------------------------------


def test_paging_with_cursors_returns_every_event_once_in_order(
    session: Session, banks: Banks, settings: Settings
) -> None:
    for n in range(7):
        _emit(session, "consent.approve", banks.a.id, n=n)
        if n % 2:
            _emit(session, "consent.approve", banks.b.id, n=n)
            _emit(session, "marketplace.application.submitted", banks.a.id, n=n)
    ours = _message_ids(session, topic="consent", institution_id=banks.a.id)

    seen, sizes, last = _read_all(session, banks.officer_a, settings, limit=3)

    assert seen == ours
    assert sizes == [3, 3, 1]
    nothing_new = _read(session, banks.officer_a, settings, after=last)
    assert (nothing_new.events, nothing_new.next_cursor, nothing_new.has_more) == ([], last, False)
    later = _emit(session, "consent.revoke", banks.a.id, n=99)
    resumed = _read(session, banks.officer_a, settings, after=last)
    assert [e["id"] for e in resumed.events] == [later.message_id]
    assert resumed.events[0] == {
        "id": later.message_id,
        "type": "consent.revoke",
        "created_at": "2026-01-05T02:00:00Z",
        "data": {"n": 99},
    }


def test_a_page_ends_exactly_at_the_limit(
    session: Session, banks: Banks, settings: Settings
) -> None:
    for n in range(4):
        _emit(session, "consent.approve", banks.a.id, n=n)

    first = _read(session, banks.client_a, settings, limit=4)
    assert (len(first.events), first.has_more) == (4, False)
    second = _read(session, banks.client_a, settings, limit=2)
    assert (len(second.events), second.has_more) == (2, True)


def test_an_empty_feed_starts_with_a_cursor_that_resumes_later(
    session: Session, banks: Banks, settings: Settings
) -> None:
    empty = _read(session, banks.officer_a, settings)
    assert (empty.events, empty.has_more) == ([], False)

    message = _emit(session, "consent.request", banks.a.id)

    page = _read(session, banks.officer_a, settings, after=empty.next_cursor)
    assert [e["id"] for e in page.events] == [message.message_id]


def test_unknown_topics_and_limits_are_refused(
    session: Session, banks: Banks, settings: Settings
) -> None:
    with pytest.raises(TopicUnknown) as unknown:
        _read(session, banks.officer_a, settings, topic="loans")
    assert (unknown.value.status_code, unknown.value.code) == (404, "CB-FEED-TOPIC-UNKNOWN")
    for limit in (0, feeds.MAX_FEED_LIMIT + 1):
        with pytest.raises(ValidationFailed):
            _read(session, banks.officer_a, settings, limit=limit)


# --- audience -----------------------------------------------------------------------------------


@pytest.mark.security
def test_another_institutions_events_never_appear(
    session: Session, banks: Banks, settings: Settings
) -> None:
    for n in range(5):
        _emit(session, "consent.approve", banks.a.id if n % 2 else banks.b.id, n=n)
    _emit(session, "consent.approve", None, n=9)  # addressed to no institution

    ours, _, _ = _read_all(session, banks.client_a, settings, limit=2)
    theirs, _, _ = _read_all(session, banks.officer_b, settings, limit=2)

    assert ours == _message_ids(session, topic="consent", institution_id=banks.a.id)
    assert theirs == _message_ids(session, topic="consent", institution_id=banks.b.id)
    assert not set(ours) & set(theirs)
    everything, _, _ = _read_all(session, factories.operator(), settings, limit=2)
    assert everything == _message_ids(session, topic="consent")
    narrowed, _, _ = _read_all(session, CONSOLE, settings, limit=10, institution_id=banks.a.id)
    assert narrowed == ours


@pytest.mark.security
def test_only_institutions_and_operators_read_feeds(
    session: Session, banks: Banks, settings: Settings
) -> None:
    with pytest.raises(Forbidden):
        _read(session, banks.officer_a, settings, institution_id=banks.b.id)
    provider = Actor(
        kind=ActorKind.USER, id=5, name="税务局", role=Role.PROVIDER_USER, provider_id=1
    )
    enterprise = Actor(
        kind=ActorKind.USER, id=6, name="企业", role=Role.ENTERPRISE_USER, subject_id=1
    )
    auditor = Actor(kind=ActorKind.USER, id=7, name="审计", role=Role.AUDIT_ADMIN)
    for outsider in (provider, enterprise, auditor):
        with pytest.raises(Forbidden):
            _read(session, outsider, settings)


@pytest.mark.security
def test_a_cursor_is_bound_to_its_topic_and_audience(
    session: Session, banks: Banks, settings: Settings
) -> None:
    _emit(session, "consent.approve", banks.a.id)
    _emit(session, "consent.approve", banks.b.id)
    ours = _read(session, banks.officer_a, settings).next_cursor
    everyones = _read(session, CONSOLE, settings).next_cursor

    for actor, cursor, topic in (
        (banks.officer_b, ours, "consent"),  # another institution's
        (banks.officer_a, ours, "marketplace"),  # another topic's
        (banks.officer_a, everyones, "consent"),  # the operator's whole-topic cursor
    ):
        with pytest.raises(CursorUnknown):
            _read(session, actor, settings, topic=topic, after=cursor)


# --- cursors never issued -----------------------------------------------------------------------


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def test_a_cursor_never_issued_is_refused(
    session: Session, banks: Banks, settings: Settings
) -> None:
    for n in range(3):
        _emit(session, "consent.approve", banks.a.id, n=n)
    first = _read(session, banks.officer_a, settings, limit=1).next_cursor
    body, tag = first.split(".")
    last_char = "A" if tag[-1] != "A" else "B"
    other_node = Settings(secret_key="another-node-secret-key-of-at-least-some-length")
    newest = session.scalar(select(OutboxMessage.id).order_by(OutboxMessage.id.desc()).limit(1))
    assert newest is not None
    forged = [
        f"{body}.{tag[:-1]}{last_char}",  # the tag altered
        f"{_b64(b'2')}.{tag}",  # another position under the same tag
        f"{body}.{tag}x",
        f"{body}.",
        body,
        "",
        "not-a-cursor",
        "***.***",
        f"{_b64(b'-1')}.{tag}",
        f"{_b64(b'01')}.{tag}",
        f"{_b64('１'.encode())}.{tag}",  # a full-width digit
        service.feed_cursor(other_node, topic="consent", audience=str(banks.a.id), position=1),
    ]
    for cursor in forged:
        with pytest.raises(CursorUnknown) as refused:
            service.read_feed(
                session, banks.officer_a, topic="consent", after=cursor or "x", settings=settings
            )
        problem = _problem(refused.value)
        assert (problem["status"], problem["code"]) == (400, "CB-FEED-CURSOR-UNKNOWN")
    # Signed by this node but beyond its newest message (a node restored from an older backup).
    beyond = service.feed_cursor(
        settings, topic="consent", audience=str(banks.a.id), position=newest + 10
    )
    with pytest.raises(CursorUnknown):
        _read(session, banks.officer_a, settings, after=beyond)


# --- retention ----------------------------------------------------------------------------------


def _past_retention(clock: FrozenClock) -> None:
    clock.advance(timedelta(days=RETENTION_DAYS, hours=1))


def test_a_cursor_older_than_retention_is_expired_and_resumes_from_the_oldest(
    session: Session, banks: Banks, settings: Settings, frozen_clock: FrozenClock
) -> None:
    old = [_emit(session, "consent.approve", banks.a.id, n=n) for n in range(3)]
    after_first = _read(session, banks.officer_a, settings, limit=1).next_cursor
    after_all = _read(session, banks.officer_a, settings).next_cursor
    _past_retention(frozen_clock)
    new = [_emit(session, "consent.revoke", banks.a.id, n=n) for n in range(2)]

    assert service.purge_expired(session, settings) == 3

    with pytest.raises(CursorExpired) as expired:
        _read(session, banks.officer_a, settings, after=after_first)
    problem = _problem(expired.value)
    assert (problem["status"], problem["code"]) == (410, "CB-FEED-CURSOR-EXPIRED")
    oldest = problem["oldest_cursor"]
    resumed = _read(session, banks.officer_a, settings, after=oldest)
    assert [e["id"] for e in resumed.events] == [m.message_id for m in new]
    # The empty cursor starts at the same place; a reader who had everything misses nothing.
    assert _read(session, banks.officer_a, settings).events == resumed.events
    assert _read(session, banks.officer_a, settings, after=after_all).events == resumed.events
    assert not set(_message_ids(session)) & {m.message_id for m in old}


def test_purge_keeps_messages_whose_deliveries_are_unfinished(
    session: Session, banks: Banks, settings: Settings, frozen_clock: FrozenClock
) -> None:
    endpoint = service.add_endpoint(
        session,
        CONSOLE,
        institution_id=banks.a.id,
        url="http://127.0.0.1:9/hook",
        events=["*"],
        settings=settings,
    ).endpoint
    statuses = ["sent", "dead", "failed", "pending", "sending"]
    messages = {status: _emit(session, "consent.approve", banks.a.id) for status in statuses}
    undelivered = _emit(session, "consent.approve", banks.b.id)  # no endpoint: no delivery
    for status, message in messages.items():
        delivery = session.scalars(select(Delivery).where(Delivery.message_id == message.id)).one()
        delivery.status = status
        session.add(
            DeliveryAttempt(
                delivery_id=delivery.id,
                attempt=1,
                started_at=message.created_at,
                duration_ms=5,
                status_code=200 if status == "sent" else 500,
                worker="test",
            )
        )
    session.flush()
    _past_retention(frozen_clock)
    recent = _emit(session, "consent.approve", banks.a.id)

    assert service.purge_expired(session, settings) == 3

    kept = set(_message_ids(session, topic="consent"))
    assert kept == {
        messages["failed"].message_id,
        messages["pending"].message_id,
        messages["sending"].message_id,
        recent.message_id,
    }
    assert undelivered.message_id not in kept
    remaining = session.execute(
        select(Delivery.status, Delivery.endpoint_id).order_by(Delivery.id)
    ).all()
    assert [tuple(row) for row in remaining] == [
        ("failed", endpoint.id),
        ("pending", endpoint.id),
        ("sending", endpoint.id),
        ("pending", endpoint.id),
    ]
    assert len(session.scalars(select(DeliveryAttempt)).all()) == 3
    events = audit_service.list_events(session, flt=audit_service.EventFilter(action="feed.purge"))
    assert [(e.action, e.content["detail"]["deleted"]) for e in events] == [("feed.purge", 3)]
    # Nothing more is past retention: a second purge deletes and records nothing.
    assert service.purge_expired(session, settings) == 0


def test_an_institution_keeps_its_place_when_only_others_events_were_purged(
    session: Session, banks: Banks, settings: Settings, frozen_clock: FrozenClock
) -> None:
    start = _read(session, banks.officer_a, settings).next_cursor  # nothing for A yet
    for n in range(3):
        _emit(session, "consent.approve", banks.b.id, n=n)
    everyones = _read(session, CONSOLE, settings, limit=1).next_cursor
    frozen_clock.advance(timedelta(days=5))
    ours = _emit(session, "consent.approve", banks.a.id)
    frozen_clock.advance(timedelta(days=RETENTION_DAYS - 4))

    assert service.purge_expired(session, settings) == 3

    page = _read(session, banks.officer_a, settings, after=start)
    assert [e["id"] for e in page.events] == [ours.message_id]
    # The operator's whole-topic feed did lose events after its cursor.
    with pytest.raises(CursorExpired):
        _read(session, CONSOLE, settings, after=everyones)


def test_an_emptied_outbox_never_hands_out_an_old_id_again(
    session: Session, banks: Banks, settings: Settings, frozen_clock: FrozenClock
) -> None:
    old = [_emit(session, "consent.approve", banks.a.id, n=n) for n in range(2)]
    after_first = _read(session, banks.officer_a, settings, limit=1).next_cursor
    after_all = _read(session, banks.officer_a, settings).next_cursor
    _past_retention(frozen_clock)

    assert service.purge_expired(session, settings) == 2

    left = session.scalars(select(OutboxMessage)).all()
    assert [m.event_type for m in left] == [feeds.PURGE_EVENT]
    new = _emit(session, "consent.revoke", banks.a.id)
    assert new.id > old[-1].id
    page = _read(session, banks.officer_a, settings, after=after_all)
    assert [e["id"] for e in page.events] == [new.message_id]
    with pytest.raises(CursorExpired):
        _read(session, banks.officer_a, settings, after=after_first)
    # The operator sees the purge itself on the system feed.
    system = _read(session, CONSOLE, settings, topic="system")
    assert [e["type"] for e in system.events][-1] == feeds.PURGE_EVENT
    assert system.events[-1]["data"]["deleted"] == 2


@pytest.mark.postgres_only
def test_a_reader_never_passes_a_message_still_being_written(
    engine: Engine, session: Session, banks: Banks, settings: Settings
) -> None:
    """Ids are taken at insert and seen at commit: a reader that served a later committed id
    while an earlier one was in flight would skip that one for good."""
    if engine.dialect.name != "postgresql":
        pytest.skip("PostgreSQL's visibility order")
    writer = Session(bind=engine, expire_on_commit=False)
    committed: list[int] = []
    try:
        in_flight = _emit(writer, "consent.approve", banks.a.id, n=1)  # id taken, not committed
        with Session(bind=engine, expire_on_commit=False) as other, other.begin():
            later = _emit(other, "consent.approve", banks.a.id, n=2)
        committed.append(later.id)
        assert later.id > in_flight.id

        with pytest.raises(Busy):
            _read(session, CONSOLE, settings, institution_id=banks.a.id)
        writer.commit()
        committed.append(in_flight.id)

        page = _read(session, CONSOLE, settings, institution_id=banks.a.id)
        assert [e["data"]["n"] for e in page.events] == [1, 2]
    finally:
        writer.rollback()
        writer.close()
        with Session(bind=engine) as cleanup, cleanup.begin():
            cleanup.execute(delete(OutboxMessage).where(OutboxMessage.id.in_(committed)))


# --- nightly files ------------------------------------------------------------------------------

DAY = date(2026, 1, 5)  # Beijing: 2026-01-04T16:00Z … 2026-01-05T16:00Z


def _at(clock: FrozenClock, moment: datetime) -> None:
    clock.current = moment


def _day_of_messages(session: Session, banks: Banks, clock: FrozenClock) -> dict[str, Any]:
    _at(clock, datetime(2026, 1, 4, 15, 59, 59, tzinfo=UTC))  # 23:59:59 the day before
    _emit(session, "consent.approve", banks.a.id, n="before")
    _at(clock, datetime(2026, 1, 4, 16, 0, tzinfo=UTC))  # 00:00 Beijing
    first = _emit(session, "consent.request", banks.a.id, 企业="合肥样例科技有限公司")
    _at(clock, datetime(2026, 1, 5, 9, 0, tzinfo=UTC))
    market = _emit(session, "marketplace.application.submitted", banks.a.id, application_id=3)
    theirs = _emit(session, "consent.request", banks.b.id, n=1)
    _emit(session, "consent.request", None, n="nobody's")
    _at(clock, datetime(2026, 1, 5, 15, 59, 59, tzinfo=UTC))  # 23:59:59 Beijing
    last = _emit(session, "consent.approve", banks.a.id, note='引号" 和,逗号\n换行')
    _at(clock, datetime(2026, 1, 5, 16, 0, tzinfo=UTC))  # the next Beijing day
    _emit(session, "consent.approve", banks.a.id, n="after")
    return {"first": first, "market": market, "theirs": theirs, "last": last}


def test_nightly_jsonl_files_hold_each_institutions_day_by_topic(
    session: Session, banks: Banks, settings: Settings, frozen_clock: FrozenClock
) -> None:
    made = _day_of_messages(session, banks, frozen_clock)

    paths = service.write_feed_files(session, settings, day=DAY)

    root = settings.feed_files_root
    assert sorted(paths) == sorted(
        [
            root / "feed-bank-a" / "consent-2026-01-05.jsonl",
            root / "feed-bank-a" / "marketplace-2026-01-05.jsonl",
            root / "feed-bank-b" / "consent-2026-01-05.jsonl",
        ]
    )
    lines = [
        json.loads(line)
        for line in (root / "feed-bank-a" / "consent-2026-01-05.jsonl").read_text().splitlines()
    ]
    assert [line["id"] for line in lines] == [made["first"].message_id, made["last"].message_id]
    assert lines[0]["data"] == {"企业": "合肥样例科技有限公司"}
    assert lines[1]["created_at"] == "2026-01-05T15:59:59Z"
    assert set(lines[0]) == {"cursor", "id", "type", "created_at", "data"}
    # A line's cursor resumes the API feed right after it.
    resumed = _read(session, banks.officer_a, settings, after=lines[0]["cursor"], limit=1)
    assert [e["id"] for e in resumed.events] == [made["last"].message_id]
    events = audit_service.list_events(session, flt=audit_service.EventFilter(action="feed.export"))
    assert events[0].content["detail"] == {
        "day": "2026-01-05",
        "format": "jsonl",
        "encoding": "utf-8",
        "files": 3,
        "events": 4,
    }


def test_csv_files_have_a_header_and_the_data_as_compact_json(
    session: Session, banks: Banks, settings: Settings, frozen_clock: FrozenClock
) -> None:
    made = _day_of_messages(session, banks, frozen_clock)

    service.write_feed_files(session, settings, day=DAY, fmt="csv")

    raw = (settings.feed_files_root / "feed-bank-a" / "consent-2026-01-05.csv").read_bytes()
    rows = list(csv.reader(io.StringIO(raw.decode("utf-8"), newline="")))
    assert rows[0] == ["cursor", "id", "type", "created_at", "data"]
    assert [row[1] for row in rows[1:]] == [made["first"].message_id, made["last"].message_id]
    assert rows[2][2:4] == ["consent.approve", "2026-01-05T15:59:59Z"]
    assert rows[2][4] == '{"note":"引号\\" 和,逗号\\n换行"}'
    assert json.loads(rows[2][4]) == made["last"].payload
    assert raw.count(b"\r\n") == 3  # one record a line: JSON escapes the newline


def test_gbk_files_and_a_character_gbk_lacks(
    session: Session, banks: Banks, settings: Settings, frozen_clock: FrozenClock
) -> None:
    _day_of_messages(session, banks, frozen_clock)

    service.write_feed_files(session, settings, day=DAY, fmt="csv", encoding="gbk")

    target = settings.feed_files_root / "feed-bank-a" / "consent-2026-01-05.csv"
    raw = target.read_bytes()
    assert "合肥样例科技有限公司".encode("gbk") in raw
    assert "合肥样例".encode() not in raw
    before = raw

    _at(frozen_clock, datetime(2026, 1, 5, 10, 0, tzinfo=UTC))
    _emit(session, "consent.revoke", banks.a.id, 名称="笑脸😀公司")
    with pytest.raises(ValidationFailed) as refused:
        service.write_feed_files(session, settings, day=DAY, fmt="csv", encoding="gbk")

    issue = refused.value.issues[0]
    assert issue.row == 4  # the header, the day's two earlier events (feed order), this one
    assert issue.location == "feed-bank-a/consent-2026-01-05.csv"
    assert issue.value == "😀"
    assert "第4行" in refused.value.message
    assert target.read_bytes() == before
    assert _leftovers(settings) == []


def _leftovers(settings: Settings) -> list[str]:
    return sorted(
        p.name for p in settings.feed_files_root.rglob("*") if p.is_file() and p.name[0] == "."
    )


def test_files_appear_whole_and_rewriting_a_day_gives_the_same_bytes(
    session: Session,
    banks: Banks,
    settings: Settings,
    frozen_clock: FrozenClock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _day_of_messages(session, banks, frozen_clock)
    first = {p: p.read_bytes() for p in service.write_feed_files(session, settings, day=DAY)}

    renamed: list[Path] = []
    real_replace: Callable[..., None] = os.replace

    def replace(source: str | Path, target: str | Path) -> None:
        # Until the rename, a reader of the target still finds the whole previous file, and
        # the new one is already complete under its temporary name.
        assert Path(target).read_bytes() == first[Path(target)]
        assert Path(source).read_bytes() == first[Path(target)]
        assert Path(source).parent == Path(target).parent
        renamed.append(Path(target))
        real_replace(source, target)

    monkeypatch.setattr(feeds.os, "replace", replace)
    again = service.write_feed_files(session, settings, day=DAY)

    assert sorted(renamed) == sorted(first)
    assert {p: p.read_bytes() for p in again} == first
    assert _leftovers(settings) == []


def test_a_refused_run_leaves_every_previous_file_as_it_was(
    session: Session, banks: Banks, settings: Settings, frozen_clock: FrozenClock
) -> None:
    made = _day_of_messages(session, banks, frozen_clock)
    previous = {p: p.read_bytes() for p in service.write_feed_files(session, settings, day=DAY)}
    _at(frozen_clock, datetime(2026, 1, 5, 10, 0, tzinfo=UTC))
    _emit(session, "consent.revoke", banks.a.id, n="new for A")
    _emit(session, "consent.revoke", banks.b.id, 名称="😀")  # B's file is written after A's

    with pytest.raises(ValidationFailed):
        service.write_feed_files(session, settings, day=DAY, encoding="gbk")

    assert {p: p.read_bytes() for p in previous} == previous
    assert _leftovers(settings) == []
    assert (
        made["theirs"].message_id.encode()
        in previous[settings.feed_files_root / "feed-bank-b" / "consent-2026-01-05.jsonl"]
    )


def test_a_day_without_events_writes_nothing(
    session: Session, banks: Banks, settings: Settings
) -> None:
    assert service.write_feed_files(session, settings, day=date(2025, 1, 1)) == []
    assert not settings.feed_files_root.exists()


# --- what the domains write onto the feeds ------------------------------------------------------


def test_a_marketplace_step_for_an_institution_is_on_its_marketplace_feed(
    session: Session, settings: Settings, frozen_clock: FrozenClock
) -> None:
    catalog_service.ensure_default_catalog(session)
    bank = factories.institution(session, code="feed-market-bank", name="徽商银行")
    other = factories.institution(session, code="feed-market-other", name="芜湖农商")
    officer = factories.officer(bank, id=601)
    product = factories.product(session, bank, code="feed-credit", by=officer, min_rate_bp=400)
    subject = factories.subject(
        session,
        uscc="91340100MA2F0001XA",
        name="合肥事件测试科技有限公司",
        division_code="340102",
        industry_code="3911",
        industry_section="C",
        size_class="small",
        registration_date=date(2015, 3, 1),
    )
    owner = factories.owner(subject, id=602)
    demand = market_service.post_demand(
        session, owner, amount_fen=50 * WAN_FEN, term_months=12, purpose="备货"
    )
    before = _read(session, officer, settings, topic="marketplace").next_cursor

    application = market_service.apply(session, owner, demand_id=demand.id, product_id=product.id)

    page = _read(session, officer, settings, topic="marketplace", after=before)
    assert [(e["type"], e["data"]["application_id"]) for e in page.events] == [
        ("marketplace.application.submitted", application.id)
    ]
    assert page.events[0]["data"]["recipient"] == "institution"
    foreign = _read(session, factories.officer(other, id=603), settings, topic="marketplace")
    assert application.id not in [e["data"].get("application_id") for e in foreign.events]
