"""The audit trail: appends in the caller's transaction, a verifiable SM3 chain, filters,
export and retention."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import orjson
import pytest
from sqlalchemy import delete, func, select, text, update
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from creditbridge.audit import service
from creditbridge.audit.domain import GENESIS_HASH, chain_hash
from creditbridge.audit.models import AuditChainHead, AuditEvent
from creditbridge.core.actors import Actor, ActorKind, Role
from creditbridge.core.clock import FrozenClock
from creditbridge.core.crypto import canonical_json
from creditbridge.core.errors import Conflict, ValidationFailed

OFFICER = Actor(
    kind=ActorKind.USER,
    id=7,
    name="李四",
    role=Role.INSTITUTION_OFFICER,
    institution_id=3,
    ip="10.0.0.8",
)


def _forge(session: Session, event: AuditEvent, old: str, new: str) -> None:
    """Edit the stored event text in place, as someone with write access to the table could."""
    session.execute(
        update(AuditEvent)
        .where(AuditEvent.id == event.id)
        .values(chained=func.replace(AuditEvent.chained, old, new))
    )
    session.expire_all()


def _append(session: Session, n: int, **kwargs: object) -> list[AuditEvent]:
    return [
        service.record(
            session,
            OFFICER,
            action=str(kwargs.get("action", "data.read")),
            object_type="consent_grant",
            object_id=i,
            subject_id=100 + i % 3,
            detail={"i": i, "note": "授权查询"},
        )
        for i in range(n)
    ]


def test_record_chains_events_with_sm3(session: Session, frozen_clock: FrozenClock) -> None:
    first, second = _append(session, 2)
    assert (first.sequence, second.sequence) == (1, 2)
    assert first.prev_hash == GENESIS_HASH
    assert first.hash == chain_hash(GENESIS_HASH, first.line)
    assert first.chained == GENESIS_HASH + first.line
    assert second.prev_hash == first.hash
    assert first.content["actor"] == {
        "kind": "user",
        "id": 7,
        "name": "李四",
        "role": "institution_officer",
        "institution_id": 3,
    }
    assert first.content["ip"] == "10.0.0.8"
    assert first.content["occurred_at"] == "2026-01-05T02:00:00Z"
    head = service.get_head(session)
    assert head is not None
    assert (head.last_sequence, head.last_hash) == (2, second.hash)


def test_the_stored_text_is_what_was_hashed_and_the_columns_come_from_it(
    session: Session,
) -> None:
    (event,) = _append(session, 1)
    rest = {k: event.content[k] for k in ("ip", "detail")} | {"actor_name": "李四"}
    assert canonical_json(rest).decode() == event.body
    session.expire_all()
    stored = session.get(AuditEvent, event.id)
    assert stored is not None
    assert stored.hash == chain_hash(stored.prev_hash, stored.line)
    assert stored.line == canonical_json(orjson.loads(stored.line)).decode()
    # The generated columns say what the hashed text says.
    assert (stored.actor_kind, stored.actor_id, stored.actor_role) == (
        "user",
        7,
        "institution_officer",
    )
    assert (stored.actor_institution_id, stored.action, stored.object_type) == (
        3,
        "data.read",
        "consent_grant",
    )
    assert (stored.object_id, stored.subject_id, stored.prev_hash) == ("0", 100, GENESIS_HASH)
    assert stored.content == event.content


@pytest.mark.parametrize(
    ("column", "value"),
    [("subject_id", 999), ("action", "x"), ("prev_hash", "0" * 64), ("object_id", "-")],
)
def test_filter_columns_cannot_be_written_on_their_own(
    session: Session, column: str, value: object
) -> None:
    (event,) = _append(session, 1)
    savepoint = session.begin_nested()
    with pytest.raises(DBAPIError):
        session.execute(
            text(f"UPDATE audit_event SET {column} = :value WHERE id = :id"),
            {"value": value, "id": event.id},
        )
    savepoint.rollback()
    assert service.verify(session).ok


def test_verify_accepts_events_with_null_columns(session: Session) -> None:
    system = Actor(kind=ActorKind.SYSTEM, id=None, name="定时任务")
    service.record(session, system, action="consent.expire", object_type="consent_grant")
    service.record(session, OFFICER, action="data.read", object_type="s|1:x", object_id="")
    report = service.verify(session)
    assert report.ok, report.message()


def test_verify_accepts_an_intact_chain(session: Session) -> None:
    _append(session, 30)
    report = service.verify(session)
    assert report.ok, report.message()
    assert report.checked == 30
    assert report.last_sequence == 30


def test_verify_of_an_empty_trail_is_ok(session: Session) -> None:
    report = service.verify(session)
    assert report.ok
    assert report.checked == 0


def test_verify_names_an_edited_row(session: Session) -> None:
    events = _append(session, 10)
    victim = events[4]
    _forge(session, victim, "授权查询", "无")
    report = service.verify(session)
    assert not report.ok
    assert report.broken is not None
    assert report.broken.kind == "hash"
    assert report.broken.sequence == 5
    assert report.broken.position == 4
    assert report.broken_event_id == victim.id
    assert f"事件ID event id {victim.id}" in report.message()


def test_verify_names_an_edited_row_whose_hash_was_recomputed(session: Session) -> None:
    events = _append(session, 6)
    victim = events[2]
    forged = victim.chained.replace("授权查询", "无")
    session.execute(
        update(AuditEvent)
        .where(AuditEvent.id == victim.id)
        .values(chained=forged, hash=chain_hash(forged[:64], forged[64:]))
    )
    report = service.verify(session)
    assert not report.ok
    assert report.broken is not None
    # The forger's new hash no longer matches what the next event links to.
    assert report.broken.kind == "prev_hash"
    assert report.broken.sequence == 4


def test_verify_names_a_deleted_row(session: Session) -> None:
    _append(session, 8)
    session.execute(delete(AuditEvent).where(AuditEvent.sequence == 6))
    report = service.verify(session)
    assert report.broken is not None
    assert report.broken.kind == "gap"
    assert report.broken.sequence == 6


def test_verify_detects_a_truncated_tail(session: Session) -> None:
    _append(session, 8)
    session.execute(delete(AuditEvent).where(AuditEvent.sequence >= 7))
    report = service.verify(session)
    assert report.broken is not None
    assert report.broken.kind == "tail"
    assert report.broken.sequence == 7


def test_verify_detects_a_deleted_first_row(session: Session) -> None:
    _append(session, 3)
    session.execute(delete(AuditEvent).where(AuditEvent.sequence == 1))
    report = service.verify(session)
    assert report.broken is not None
    assert report.broken.kind == "start"


def test_verify_detects_an_edited_subject(session: Session) -> None:
    events = _append(session, 5)
    _forge(session, events[3], '"subj":100', '"subj":999')
    assert session.get(AuditEvent, events[3].id).subject_id == 999  # type: ignore[union-attr]
    report = service.verify(session)
    assert report.broken is not None
    assert report.broken.kind == "hash"
    assert report.broken.sequence == 4
    assert report.broken_event_id == events[3].id


def test_verify_detects_an_edited_action(session: Session) -> None:
    events = _append(session, 3)
    _forge(session, events[1], '"act":"data.read"', '"act":"consent.pause"')
    report = service.verify(session)
    assert report.broken is not None
    assert (report.broken.kind, report.broken.sequence) == ("hash", 2)


def test_verify_detects_a_null_set_to_text(session: Session) -> None:
    system = Actor(kind=ActorKind.SYSTEM, id=None, name="定时任务")
    event = service.record(session, system, action="consent.expire", object_type="consent_grant")
    _forge(session, event, '"obj":null', '"obj":"-"')
    report = service.verify(session)
    assert report.broken is not None
    assert report.broken.kind == "hash"


def test_verify_detects_a_moved_timestamp(session: Session) -> None:
    events = _append(session, 3)
    original = events[1].occurred_at
    stamp = original.strftime("%Y-%m-%d")
    earlier = (original - timedelta(days=1)).strftime("%Y-%m-%d")
    _forge(session, events[1], f'"at":"{stamp}', f'"at":"{earlier}')
    moved = session.get(AuditEvent, events[1].id)
    assert moved is not None
    assert moved.occurred_at == original - timedelta(days=1)
    report = service.verify(session)
    assert report.broken is not None
    assert (report.broken.kind, report.broken.sequence) == ("hash", 2)


def test_a_failing_use_case_leaves_neither_change_nor_event(session: Session) -> None:
    _append(session, 2)

    def failing_use_case() -> None:
        service.record(session, OFFICER, action="consent.approve", object_type="consent_grant")
        raise RuntimeError("the act fails after its event was written")

    savepoint = session.begin_nested()
    with pytest.raises(RuntimeError):
        failing_use_case()
    savepoint.rollback()
    session.expire_all()
    assert session.scalars(select(AuditEvent.action)).all() == ["data.read", "data.read"]
    head = session.get(AuditChainHead, 1)
    assert head is not None
    assert head.last_sequence == 2
    # The next event reuses sequence 3: no gap was left by the failed one.
    (event,) = _append(session, 1)
    assert event.sequence == 3
    assert service.verify(session).ok


def test_filters_and_count(session: Session, frozen_clock: FrozenClock) -> None:
    _append(session, 4)
    frozen_clock.advance(timedelta(hours=2))
    service.record(
        session, OFFICER, action="consent.approve", object_type="consent_grant", subject_id=101
    )
    flt = service.EventFilter(action="consent.")
    assert [e.action for e in service.list_events(session, flt=flt)] == ["consent.approve"]
    assert service.count_events(session, flt=service.EventFilter(subject_id=101)) == 2
    since = frozen_clock.now() - timedelta(hours=1)
    assert service.count_events(session, flt=service.EventFilter(since=since)) == 1
    assert service.count_events(session, flt=service.EventFilter(actor_id=7)) == 5
    assert service.count_events(session, flt=service.EventFilter(institution_id=4)) == 0
    assert service.count_events(session, flt=service.EventFilter(action="x' OR '1'='1")) == 0


def test_export_is_utf8_with_bom_and_defuses_formulas(session: Session) -> None:
    service.record(
        session,
        OFFICER,
        action="data.read",
        object_type="subject",
        detail={"q": '=HYPERLINK("http://evil")'},
    )
    exported = "".join(service.export_csv(session))
    assert exported.startswith("\ufeff序号,")
    assert "李四" in exported
    assert "'{" not in exported  # detail is a JSON object, not a formula
    lines = exported.splitlines()
    assert len(lines) == 2


def test_purge_refuses_anything_younger_than_180_days(
    session: Session, frozen_clock: FrozenClock
) -> None:
    _append(session, 2)
    with pytest.raises(ValidationFailed):
        service.purge(session, OFFICER, before=frozen_clock.now() - timedelta(days=179))


def test_purge_keeps_the_remaining_chain_verifiable(
    session: Session, frozen_clock: FrozenClock
) -> None:
    _append(session, 3)
    frozen_clock.advance(timedelta(days=200))
    _append(session, 2)
    deleted = service.purge(session, OFFICER, before=frozen_clock.now() - timedelta(days=180))
    assert deleted == 3
    actions = session.scalars(select(AuditEvent.action).order_by(AuditEvent.sequence)).all()
    assert actions == ["data.read", "data.read", "audit.purge"]
    report = service.verify(session)
    assert report.ok, report.message()
    assert report.first_sequence == 4
    assert report.last_sequence == 6


def test_purge_never_empties_the_trail(session: Session, frozen_clock: FrozenClock) -> None:
    _append(session, 2)
    frozen_clock.advance(timedelta(days=200))
    with pytest.raises(Conflict):
        service.purge(session, OFFICER, before=frozen_clock.now() - timedelta(days=180))


def test_occurred_at_round_trips_as_utc(session: Session, frozen_clock: FrozenClock) -> None:
    frozen_clock.current = datetime(2026, 3, 1, 8, 30, 15, 123456, tzinfo=UTC)
    (event,) = _append(session, 1)
    session.expire_all()
    stored = session.get(AuditEvent, event.id)
    assert stored is not None
    assert stored.occurred_at == frozen_clock.current
    assert service.verify(session).ok


@pytest.mark.parametrize(("deleted", "kind", "at"), [((9, 10, 11, 12), "gap", 9), ((4,), "gap", 4)])
def test_verify_reads_in_slices_and_still_names_a_gap(
    session: Session, monkeypatch: pytest.MonkeyPatch, deleted: tuple[int, ...], kind: str, at: int
) -> None:
    monkeypatch.setattr(service, "_FETCH_CHUNK", 4)
    _append(session, 20)
    assert service.verify(session).ok
    session.execute(delete(AuditEvent).where(AuditEvent.sequence.in_(deleted)))
    report = service.verify(session)
    assert report.broken is not None
    assert (report.broken.kind, report.broken.sequence) == (kind, at)


def test_verify_reads_in_slices_and_names_an_edited_row(
    session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(service, "_FETCH_CHUNK", 4)
    events = _append(session, 20)
    _forge(session, events[13], "授权查询", "无")
    report = service.verify(session)
    assert report.broken is not None
    assert (report.broken.kind, report.broken.sequence, report.broken.position) == ("hash", 14, 13)
    assert report.broken_event_id == events[13].id
