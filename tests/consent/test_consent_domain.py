"""The consent state machine and the refusal rules, as pure functions."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from creditbridge.consent import domain
from creditbridge.consent.domain import ConsentStatus, Move, ReadRequest, Refusal, Terms
from creditbridge.core.errors import InvalidTransition

ALL_PAIRS = [(s, m) for s in ConsentStatus for m in Move]


@pytest.mark.parametrize(("status", "move"), ALL_PAIRS)
def test_every_transition_is_legal_or_refused(status: ConsentStatus, move: Move) -> None:
    target = domain.TRANSITIONS.get((status, move))
    if target is None:
        with pytest.raises(InvalidTransition):
            domain.transition(status.value, move)
    else:
        assert domain.transition(status.value, move) is target


def test_final_states_allow_no_move() -> None:
    for final in (ConsentStatus.REVOKED, ConsentStatus.EXPIRED, ConsentStatus.REJECTED):
        assert domain.allowed_moves(final.value) == []


def test_the_lifecycle_of_an_approved_consent() -> None:
    status = ConsentStatus.REQUESTED
    for move, expected in (
        (Move.APPROVE, ConsentStatus.ACTIVE),
        (Move.PAUSE, ConsentStatus.PAUSED),
        (Move.RESUME, ConsentStatus.ACTIVE),
        (Move.REVOKE, ConsentStatus.REVOKED),
    ):
        status = domain.transition(status.value, move)
        assert status is expected


NOW = datetime(2026, 1, 5, tzinfo=UTC)
TERMS = Terms(
    institution_id=1,
    subject_id=2,
    status="active",
    purpose="loan_application",
    categories=frozenset({"tax", "utilities"}),
    data_from=date(2024, 1, 1),
    data_to=date(2025, 12, 31),
    valid_from=NOW - timedelta(days=1),
    valid_until=NOW + timedelta(days=30),
    max_uses=2,
    uses=0,
)
REQUEST = ReadRequest(
    institution_id=1,
    subject_id=2,
    purpose="loan_application",
    categories=frozenset({"tax"}),
    at=NOW,
)


@pytest.mark.parametrize(
    ("changes", "request_changes", "reason"),
    [
        ({}, {}, None),
        ({"institution_id": 9}, {}, Refusal.OTHER_INSTITUTION),
        ({"status": "paused"}, {}, Refusal.PAUSED),
        ({"status": "revoked"}, {}, Refusal.REVOKED),
        ({"status": "rejected"}, {}, Refusal.REJECTED),
        ({"status": "requested"}, {}, Refusal.REQUESTED),
        ({"status": "expired"}, {}, Refusal.EXPIRED),
        ({"valid_until": NOW}, {}, Refusal.EXPIRED),
        ({"valid_from": NOW + timedelta(seconds=1)}, {}, Refusal.EXPIRED),
        ({}, {"purpose": "guarantee_review"}, Refusal.PURPOSE),
        ({}, {"categories": frozenset({"tax", "real_estate"})}, Refusal.SCOPE),
        ({}, {"data_from": date(2023, 12, 31)}, Refusal.DATA_RANGE),
        ({}, {"data_to": date(2026, 1, 1)}, Refusal.DATA_RANGE),
        ({"uses": 2}, {}, Refusal.USES_EXHAUSTED),
    ],
)
def test_refusal_names_the_reason(
    changes: dict, request_changes: dict, reason: Refusal | None
) -> None:
    from dataclasses import replace

    assert domain.refusal(replace(TERMS, **changes), replace(REQUEST, **request_changes)) == reason


@given(
    have_from=st.none() | st.dates(),
    have_to=st.none() | st.dates(),
    want_from=st.none() | st.dates(),
    want_to=st.none() | st.dates(),
)
def test_range_within_means_every_wanted_day_is_consented(
    have_from: date | None, have_to: date | None, want_from: date | None, want_to: date | None
) -> None:
    inside = domain.range_within(want_from, want_to, have_from, have_to)
    if inside:
        assert have_from is None or want_from is None or want_from >= have_from
        assert have_to is None or want_to is None or want_to <= have_to
    else:
        outside_from = have_from is not None and want_from is not None and want_from < have_from
        outside_to = have_to is not None and want_to is not None and want_to > have_to
        reversed_range = want_from is not None and want_to is not None and want_from > want_to
        assert outside_from or outside_to or reversed_range


@given(st.lists(st.sampled_from(list(Refusal)), min_size=1))
def test_closest_reason_is_one_of_those_given(reasons: list[Refusal]) -> None:
    assert domain.closest(reasons) in reasons


def test_effective_status_expires_open_consents_past_their_window() -> None:
    until = NOW
    assert domain.effective_status("active", until, NOW) is ConsentStatus.EXPIRED
    assert domain.effective_status("requested", until, NOW) is ConsentStatus.EXPIRED
    assert domain.effective_status("revoked", until, NOW) is ConsentStatus.REVOKED
    assert (
        domain.effective_status("active", until, NOW - timedelta(seconds=1)) is ConsentStatus.ACTIVE
    )
