"""Consent use cases on a real database: the lifecycle, every refusal reason, the read path with
its access log and audit events, receipts, and ids that are not the actor's."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from creditbridge.audit import service as audit_service
from creditbridge.audit.models import AuditEvent
from creditbridge.consent import errors, service
from creditbridge.consent.domain import ConsentStatus, Move
from creditbridge.consent.models import AccessLogEntry, ConsentNotification
from creditbridge.core.clock import FrozenClock
from creditbridge.core.config import Settings
from creditbridge.core.crypto import Sm2PrivateKey
from creditbridge.core.errors import (
    ConsentRequired,
    Forbidden,
    InvalidTransition,
    NotFound,
    ValidationFailed,
)
from creditbridge.delivery.models import OutboxMessage

from .conftest import World, active, request


def _read(world: World, session: Session, **overrides: object) -> service.ReadResult:
    args: dict[str, object] = {
        "subject_id": world.subject.id,
        "purpose": "loan_application",
        "categories": ["tax"],
    }
    args.update(overrides)
    actor = args.pop("actor", world.officer)
    return service.read_records(session, actor, **args)  # type: ignore[arg-type]


def _audit_actions(session: Session) -> list[str]:
    return list(session.scalars(select(AuditEvent.action).order_by(AuditEvent.sequence)))


# --- lifecycle ------------------------------------------------------------------------------


def test_request_then_approve_is_audited_and_notified_to_both_sides(
    world: World, session: Session
) -> None:
    setup = _audit_actions(session)  # the world's institutions passed admission
    grant = request(world, session)
    assert grant.status == "requested"
    assert grant.reference.startswith("CB")
    service.approve(session, world.owner, consent_id=grant.id)
    assert grant.status == "active"
    assert grant.decided_by == world.owner.name
    assert _audit_actions(session) == [*setup, "consent.request", "consent.approve"]
    notes = session.scalars(
        select(ConsentNotification).where(ConsentNotification.consent_id == grant.id)
    ).all()
    assert {(n.recipient_kind, n.event) for n in notes} == {
        ("subject", "request"),
        ("institution", "request"),
        ("subject", "approve"),
        ("institution", "approve"),
    }
    assert [n.event for n in service.list_notifications(session, world.owner)] == [
        "approve",
        "request",
    ]
    assert [n.event for n in service.list_notifications(session, world.officer)] == [
        "approve",
        "request",
    ]
    assert service.list_notifications(session, world.other_owner) == []
    # Each move also leaves the node as one message of the bank's consent feed.
    assert session.scalars(
        select(OutboxMessage.event_type)
        .where(OutboxMessage.institution_id == world.bank.id)
        .order_by(OutboxMessage.id)
    ).all() == ["consent.request", "consent.approve"]
    assert audit_service.verify(session).ok


@pytest.mark.parametrize("move", [Move.APPROVE, Move.REJECT, Move.PAUSE, Move.RESUME, Move.REVOKE])
def test_moves_from_revoked_are_refused(world: World, session: Session, move: Move) -> None:
    grant = active(world, session)
    service.revoke(session, world.owner, consent_id=grant.id)
    with pytest.raises(InvalidTransition):
        service.decide(session, world.owner, consent_id=grant.id, move=move)


def test_pause_and_resume(world: World, session: Session) -> None:
    grant = active(world, session)
    service.pause(session, world.owner, consent_id=grant.id)
    assert grant.status == "paused"
    with pytest.raises(InvalidTransition):
        service.pause(session, world.owner, consent_id=grant.id)
    service.resume(session, world.owner, consent_id=grant.id)
    assert grant.status == "active"


def test_only_the_enterprise_decides(world: World, session: Session) -> None:
    grant = request(world, session)
    with pytest.raises(Forbidden):
        service.approve(session, world.officer, consent_id=grant.id)
    with pytest.raises(Forbidden):
        service.approve(session, world.operator, consent_id=grant.id)
    with pytest.raises(Forbidden):
        service.decide(session, world.owner, consent_id=grant.id, move=Move.EXPIRE)


def test_another_enterprise_cannot_see_or_decide_the_consent(
    world: World, session: Session
) -> None:
    grant = request(world, session)
    with pytest.raises(NotFound):
        service.approve(session, world.other_owner, consent_id=grant.id)
    with pytest.raises(NotFound):
        service.access_consent(session, world.other_officer, grant.id)
    with pytest.raises(NotFound):
        service.access_consent(session, world.owner, grant.id + 1000)
    with pytest.raises(NotFound):
        service.receipt(session, world.other_owner, consent_id=grant.id, settings=Settings())


def test_expire_due_moves_open_consents(
    world: World, session: Session, frozen_clock: FrozenClock
) -> None:
    grant = active(world, session)
    pending = request(world, session)
    frozen_clock.advance(timedelta(days=91))
    assert service.expire_due(session) == 2
    assert grant.status == pending.status == "expired"


def test_request_validation_names_fields(
    world: World, session: Session, frozen_clock: FrozenClock
) -> None:
    with pytest.raises(ValidationFailed) as caught:
        request(
            world,
            session,
            purpose="marketing",
            categories=["tax", "nonexistent"],
            valid_until=frozen_clock.now() - timedelta(days=1),
            max_uses=0,
            data_from=date(2025, 1, 1),
            data_to=date(2024, 1, 1),
        )
    fields = {issue.field for issue in caught.value.issues}
    assert fields == {"purpose", "categories", "valid_until", "max_uses", "data_from"}


def test_request_by_non_institution_is_forbidden(world: World, session: Session) -> None:
    with pytest.raises(Forbidden):
        request(world, session, actor=world.owner)


def test_unknown_uscc_is_not_found(world: World, session: Session) -> None:
    with pytest.raises(NotFound):
        request(world, session, uscc="91340100MA2N9999XX")


@pytest.mark.parametrize(
    "evil",
    ["'; DROP TABLE consent_grant; --", "<script>alert(1)</script>", '" OR 1=1 --'],
)
def test_injection_strings_are_stored_as_text(world: World, session: Session, evil: str) -> None:
    grant = request(world, session, note=evil)
    assert grant.note == evil
    with pytest.raises(NotFound):
        request(world, session, uscc=evil)
    assert service.list_for_institution(session, world.officer)[0].note == evil


# --- the read path --------------------------------------------------------------------------


def test_authorized_read_returns_masked_records_logs_and_counts_a_use(
    world: World, session: Session
) -> None:
    grant = active(world, session)
    result = _read(world, session, categories=["tax", "registration"])
    codes = sorted(v.dataset_code for v in result.records)
    # tax 2023-01 is outside the consent's data range; the identity record is verification_only.
    assert codes == ["registration", "tax_payment"]
    assert result.withheld == ["legal_rep_identity"]
    tax = next(v for v in result.records if v.dataset_code == "tax_payment")
    assert tax.data["total_tax_paid"] == "12345.60"
    registration = next(v for v in result.records if v.dataset_code == "registration")
    assert registration.data["legal_representative"] == "王*"
    assert grant.uses == 1
    (entry,) = service.list_access_log(session, world.owner)
    assert entry.consent_id == grant.id
    assert entry.purpose == "loan_application"
    assert entry.institution_id == world.bank.id
    assert entry.record_count == 2
    event = session.scalar(select(AuditEvent).where(AuditEvent.sequence == entry.audit_sequence))
    assert event is not None
    assert event.action == "data.read"
    assert event.content["detail"]["consent_reference"] == grant.reference


def test_public_data_needs_no_consent(world: World, session: Session) -> None:
    result = _read(world, session, categories=["registration"])
    assert [v.dataset_code for v in result.records] == ["registration"]
    assert result.consent is None
    (entry,) = service.list_access_log(session, world.owner)
    assert entry.consent_id is None


def test_no_consent_is_refused_with_the_base_code(world: World, session: Session) -> None:
    with pytest.raises(ConsentRequired) as caught:
        _read(world, session)
    assert caught.value.code == "CB-CONSENT-REQUIRED"
    assert caught.value.problem()["reason"] == "none"
    assert caught.value.status_code == 403


def _assert_refused(world: World, session: Session, code: str, **read: object) -> None:
    with pytest.raises(ConsentRequired) as caught:
        _read(world, session, **read)
    assert caught.value.code == code, caught.value.message
    assert caught.value.message  # a Chinese reason for the screen


def test_another_institutions_consent_is_refused(world: World, session: Session) -> None:
    grant = active(world, session)
    _assert_refused(world, session, "CB-CONSENT-REQUIRED", actor=world.other_officer)
    # Citing it answers exactly as a consent that does not exist (no probing of ids).
    _assert_refused(
        world,
        session,
        "CB-CONSENT-REQUIRED",
        actor=world.other_officer,
        consent_id=grant.id,
    )


def test_expired_consent_is_refused(
    world: World, session: Session, frozen_clock: FrozenClock
) -> None:
    active(world, session)
    frozen_clock.advance(timedelta(days=90))
    _assert_refused(world, session, "CB-CONSENT-EXPIRED")


def test_revoked_consent_is_refused(world: World, session: Session) -> None:
    grant = active(world, session)
    service.revoke(session, world.owner, consent_id=grant.id)
    _assert_refused(world, session, "CB-CONSENT-REVOKED")


def test_paused_consent_is_refused(world: World, session: Session) -> None:
    grant = active(world, session)
    service.pause(session, world.owner, consent_id=grant.id)
    _assert_refused(world, session, "CB-CONSENT-PAUSED")


def test_rejected_and_pending_consents_are_refused(world: World, session: Session) -> None:
    grant = request(world, session)
    _assert_refused(world, session, "CB-CONSENT-PENDING")
    service.reject(session, world.owner, consent_id=grant.id, reason="不需要")
    _assert_refused(world, session, "CB-CONSENT-REJECTED")


def test_purpose_outside_the_consent_is_refused(world: World, session: Session) -> None:
    active(world, session)
    _assert_refused(world, session, "CB-CONSENT-PURPOSE", purpose="guarantee_review")
    _assert_refused(world, session, "CB-CONSENT-PURPOSE", purpose="marketing")


def test_scope_outside_the_consent_is_refused(world: World, session: Session) -> None:
    active(world, session)
    _assert_refused(world, session, "CB-CONSENT-SCOPE", categories=["tax", "utilities"])


def test_data_range_outside_the_consent_is_refused(world: World, session: Session) -> None:
    active(world, session)
    _assert_refused(world, session, "CB-CONSENT-DATA-RANGE", data_from=date(2022, 1, 1))


def test_uses_are_exhausted_after_max_uses(world: World, session: Session) -> None:
    grant = active(world, session, max_uses=2)
    _read(world, session)
    _read(world, session)
    assert grant.uses == 2
    _assert_refused(world, session, "CB-CONSENT-USES-EXHAUSTED")


def test_a_refused_read_is_audited(world: World, session: Session) -> None:
    with pytest.raises(errors.ConsentRefused):
        _read(world, session)
    assert _audit_actions(session)[-1] == "data.read_refused"
    assert service.list_access_log(session, world.owner) == []


def test_other_subjects_records_are_never_returned(world: World, session: Session) -> None:
    active(world, session)
    result = _read(world, session)
    assert all(v.data["uscc"] == world.subject.uscc for v in result.records)


def test_require_valid_at_a_given_moment(
    world: World, session: Session, frozen_clock: FrozenClock
) -> None:
    grant = active(world, session)
    found = service.require_valid(
        session,
        world.officer,
        subject_id=world.subject.id,
        purpose="loan_application",
        categories=["tax"],
    )
    assert found.id == grant.id
    with pytest.raises(errors.ConsentExpired):
        service.require_valid(
            session,
            world.officer,
            subject_id=world.subject.id,
            purpose="loan_application",
            categories=["tax"],
            at=frozen_clock.now() + timedelta(days=365),
        )


def test_a_failing_use_case_leaves_neither_change_nor_audit_event(
    world: World, session: Session
) -> None:
    grant = active(world, session)
    before = _audit_actions(session)
    savepoint = session.begin_nested()
    try:
        service.revoke(session, world.owner, consent_id=grant.id)
        raise RuntimeError("the request failed after the service returned")
    except RuntimeError:
        savepoint.rollback()
    session.expire_all()
    assert service.access_consent(session, world.owner, grant.id).status == "active"
    assert _audit_actions(session) == before
    assert audit_service.verify(session).ok


def test_access_log_is_the_enterprises_own(world: World, session: Session) -> None:
    active(world, session)
    _read(world, session)
    assert len(service.list_access_log(session, world.owner)) == 1
    assert service.list_access_log(session, world.other_owner) == []
    with pytest.raises(NotFound):
        service.list_access_log(session, world.other_owner, subject_id=world.subject.id)
    with pytest.raises(Forbidden):
        service.list_access_log(session, world.officer, subject_id=world.subject.id)
    assert session.scalar(select(func.count()).select_from(AccessLogEntry)) == 1


# --- receipts -------------------------------------------------------------------------------


def test_receipt_verifies_and_detects_alteration_and_wrong_key(
    world: World, session: Session
) -> None:
    grant = active(world, session)
    raw = service.receipt(session, world.owner, consent_id=grant.id, settings=Settings())
    good = service.verify_receipt(raw)
    assert good.ok
    assert good.artefact is not None
    assert good.artefact["reference"] == grant.reference
    assert good.artefact["subject"]["uscc"] == world.subject.uscc
    altered = raw.replace(b'"max_uses": 3', b'"max_uses": 300')
    assert altered != raw
    check = service.verify_receipt(altered)
    assert not check.ok
    assert check.failed_check == "signature"
    other_key = Sm2PrivateKey.generate().public_key
    wrong = service.verify_receipt(raw, other_key)
    assert not wrong.ok
    assert wrong.failed_check == "key"
    garbage = service.verify_receipt(b"not json")
    assert not garbage.ok
    assert garbage.failed_check == "format"


def test_no_receipt_for_a_pending_request(world: World, session: Session) -> None:
    grant = request(world, session)
    with pytest.raises(ValidationFailed):
        service.receipt(session, world.owner, consent_id=grant.id, settings=Settings())


def test_statuses_listed_for_each_side(world: World, session: Session) -> None:
    grant = active(world, session)
    assert [g.id for g in service.list_for_subject(session, world.owner)] == [grant.id]
    assert [g.id for g in service.list_for_institution(session, world.officer)] == [grant.id]
    assert service.list_for_institution(session, world.other_officer) == []
    assert ConsentStatus(grant.status) is ConsentStatus.ACTIVE
