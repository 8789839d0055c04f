"""Consent moves leave the node through the one outbox: each move writes a ``consent.<event>``
message for the grant's institution in the move's own transaction, with a pending delivery for
each of that institution's active endpoints subscribed to it, and shows on its consent feed."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from creditbridge.consent import service
from creditbridge.core.actors import CONSOLE
from creditbridge.core.config import Settings, WebhookSettings
from creditbridge.delivery import service as delivery_service
from creditbridge.delivery.models import Delivery, OutboxMessage, WebhookEndpoint

from .conftest import World, active, request

SETTINGS = Settings(env="test", webhooks=WebhookSettings(allow_loopback=True))


def _consent_messages(session: Session) -> list[OutboxMessage]:
    return list(
        session.scalars(
            select(OutboxMessage).where(OutboxMessage.topic == "consent").order_by(OutboxMessage.id)
        )
    )


def _endpoint(session: Session, institution_id: int, *events: str) -> WebhookEndpoint:
    return delivery_service.add_endpoint(
        session,
        CONSOLE,
        institution_id=institution_id,
        url=f"http://127.0.0.1:9/{institution_id}/{'-'.join(events)}",
        events=list(events),
        settings=SETTINGS,
    ).endpoint


def _deliveries(session: Session, endpoint: WebhookEndpoint) -> list[tuple[int, str]]:
    return [
        (d.message_id, d.status)
        for d in session.scalars(
            select(Delivery).where(Delivery.endpoint_id == endpoint.id).order_by(Delivery.id)
        )
    ]


def test_each_move_writes_one_message_for_the_grants_institution(
    world: World, session: Session
) -> None:
    grant = active(world, session)
    service.revoke(session, world.owner, consent_id=grant.id)

    messages = _consent_messages(session)
    assert [m.event_type for m in messages] == [
        "consent.request",
        "consent.approve",
        "consent.revoke",
    ]
    assert {(m.institution_id, m.subject_id) for m in messages} == {
        (world.bank.id, world.subject.id)
    }
    assert [m.payload["status"] for m in messages] == ["requested", "active", "revoked"]
    assert all(m.payload["consent_id"] == grant.id for m in messages)
    assert all(m.payload["reference"] == grant.reference for m in messages)
    # Stable, distinct ids: what a receiver drops repeats by.
    assert len({m.message_id for m in messages}) == 3
    assert all(m.message_id.startswith("msg_") for m in messages)


def test_a_subscribed_endpoint_gets_a_pending_delivery_per_move(
    world: World, session: Session
) -> None:
    everything = _endpoint(session, world.bank.id, "consent.*")
    approvals_only = _endpoint(session, world.bank.id, "consent.approve")
    elsewhere = _endpoint(session, world.bank.id, "marketplace.*")
    disabled = _endpoint(session, world.bank.id, "*")
    delivery_service.disable_endpoint(session, CONSOLE, disabled.id, reason="维护")
    other_bank = _endpoint(session, world.other_bank.id, "*")

    active(world, session)

    request_message, approve_message = _consent_messages(session)
    assert _deliveries(session, everything) == [
        (request_message.id, "pending"),
        (approve_message.id, "pending"),
    ]
    assert _deliveries(session, approvals_only) == [(approve_message.id, "pending")]
    assert _deliveries(session, elsewhere) == []
    assert _deliveries(session, disabled) == []
    assert _deliveries(session, other_bank) == []


def test_a_rolled_back_move_writes_no_message_and_no_delivery(
    world: World, session: Session
) -> None:
    endpoint = _endpoint(session, world.bank.id, "consent.*")
    grant = request(world, session)
    before = _consent_messages(session)

    savepoint = session.begin_nested()
    service.approve(session, world.owner, consent_id=grant.id)
    assert len(_consent_messages(session)) == len(before) + 1
    savepoint.rollback()

    assert [m.id for m in _consent_messages(session)] == [m.id for m in before]
    assert [event for event, _ in _deliveries(session, endpoint)] == [before[0].id]


@pytest.mark.security
def test_the_move_shows_on_the_institutions_consent_feed_only(
    world: World, session: Session
) -> None:
    grant = active(world, session)

    ours = delivery_service.read_feed(
        session, world.officer, topic="consent", after=None, settings=SETTINGS
    )
    theirs = delivery_service.read_feed(
        session, world.other_officer, topic="consent", after=None, settings=SETTINGS
    )

    assert [(e["type"], e["data"]["consent_id"]) for e in ours.events] == [
        ("consent.request", grant.id),
        ("consent.approve", grant.id),
    ]
    assert theirs.events == []
