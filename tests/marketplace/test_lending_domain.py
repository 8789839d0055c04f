"""Pure rules of the lending pages: where an application stands in its stepper, how a demand
that ended in a loan reads, and what is late."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from creditbridge.marketplace import domain
from creditbridge.marketplace.domain import APP_STAGES, AppStatus, app_stage


def _states(status: str, *, accepted: bool = False) -> list[str]:
    stage = app_stage(status, accepted=accepted)
    return [stage.state(i) for i in range(len(APP_STAGES))]


@pytest.mark.parametrize(
    ("status", "states"),
    [
        ("submitted", ["current", "todo", "todo", "todo", "todo"]),
        ("accepted", ["done", "current", "todo", "todo", "todo"]),
        ("under_review", ["done", "done", "current", "todo", "todo"]),
        ("approved", ["done", "done", "done", "current", "todo"]),
        ("disbursed", ["done"] * 5),
        ("repaid", ["done"] * 5),
        ("declined", ["done", "stopped", "todo", "todo", "todo"]),
        ("expired", ["done", "stopped", "todo", "todo", "todo"]),
        ("rejected", ["done", "done", "done", "stopped", "todo"]),
    ],
)
def test_the_stepper_shows_the_steps_done_and_where_it_stands(
    status: str, states: list[str]
) -> None:
    assert _states(status) == states


def test_a_withdrawal_stops_where_the_institution_had_got_to() -> None:
    assert _states("withdrawn") == ["done", "stopped", "todo", "todo", "todo"]
    assert _states("withdrawn", accepted=True) == ["done", "done", "stopped", "todo", "todo"]


@given(st.sampled_from(list(AppStatus)), st.booleans())
def test_every_status_has_one_place_and_at_most_one_current_step(
    status: AppStatus, accepted: bool
) -> None:
    states = _states(status.value, accepted=accepted)
    assert len(states) == len(APP_STAGES)
    assert states.count("current") + states.count("stopped") <= 1
    # Steps are done up to a point, never after one still to do.
    first_todo = states.index("todo") if "todo" in states else len(states)
    assert all(s == "todo" for s in states[first_todo:])


def test_a_closed_demand_reads_lent_only_when_it_ended_in_a_loan() -> None:
    assert domain.demand_outcome("closed", lent=True) == "lent"
    assert domain.demand_outcome("closed", lent=False) == "closed"
    assert domain.demand_outcome("claimed", lent=True) == "claimed"


def test_late_answers_and_overdue_loans() -> None:
    today = date(2026, 3, 10)
    assert domain.is_late(date(2026, 3, 9), today)
    assert not domain.is_late(date(2026, 3, 10), today)
    assert not domain.is_late(None, today)
    assert domain.loan_is_overdue("overdue", date(2027, 1, 1), today)
    assert domain.loan_is_overdue("current", date(2026, 3, 9), today)
    assert not domain.loan_is_overdue("current", date(2026, 3, 10), today)
    assert not domain.loan_is_overdue("repaid", date(2025, 1, 1), today)
