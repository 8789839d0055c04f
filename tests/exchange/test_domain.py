"""Pure rules of the node network: codes and levels, the peer workflow, the self-assessment's
validation (each error names its field) and the admission checks."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from creditbridge.core.errors import InvalidTransition
from creditbridge.exchange import domain
from creditbridge.exchange.domain import NodeFacts
from creditbridge.exchange.errors import AssessmentInvalid

TODAY = date(2026, 12, 6)
NOW = datetime(2026, 12, 6, 8, 0, tzinfo=UTC)


class TestCodes:
    @pytest.mark.parametrize(
        ("code", "level"),
        [("100000", "national"), ("340000", "province"), ("340100", "city"), ("340102", "county")],
    )
    def test_a_code_of_its_level_is_accepted(self, code: str, level: str) -> None:
        assert domain.code_issue(code, level) is None

    @pytest.mark.parametrize(
        ("code", "level", "reason"),
        [
            ("340100", "province", "level_mismatch"),
            ("100000", "city", "level_mismatch"),
            ("34010", "city", "code_invalid"),
            ("349900", "city", "code_invalid"),  # Anhui is listed in full: no such city
            ("340100", "district", "level_unknown"),
        ],
    )
    def test_a_wrong_code_or_level_is_named(self, code: str, level: str, reason: str) -> None:
        assert domain.code_issue(code, level) == reason

    def test_what_lies_below_what(self) -> None:
        assert domain.is_below("100000", "340000")
        assert domain.is_below("340000", "340100")
        assert domain.is_below("340100", "340102")
        assert not domain.is_below("340000", "320100")  # another province's city
        assert not domain.is_below("340100", "340000")  # the province is above the city
        assert not domain.is_below("340000", "340000")
        assert not domain.is_below("340000", "100000")


class TestWorkflow:
    @pytest.mark.parametrize(
        ("current", "target"),
        [
            (current, target)
            for current, targets in domain.TRANSITIONS.items()
            # Sorted: a set's order differs between processes, and xdist's workers must collect
            # the same tests in the same order.
            for target in sorted(targets)
        ],
    )
    def test_every_allowed_move(self, current: str, target: domain.PeerStatus) -> None:
        assert domain.transition(current, target) == target

    @pytest.mark.parametrize(
        ("current", "target"),
        [
            (current, target)
            for current in domain.PEER_STATUSES
            for target in domain.PEER_STATUSES
            if target not in domain.TRANSITIONS[current]
        ],
    )
    def test_every_other_move_is_refused(self, current: str, target: domain.PeerStatus) -> None:
        with pytest.raises(InvalidTransition) as raised:
            domain.transition(current, target)
        assert raised.value.params == {"current": current, "target": target}

    def test_revocation_and_rejection_are_final(self) -> None:
        assert domain.TRANSITIONS["revoked"] == frozenset()
        assert domain.TRANSITIONS["rejected"] == frozenset()

    def test_only_admitted_peers_exchange(self) -> None:
        assert frozenset({"admitted"}) == domain.EXCHANGING

    def test_admission_from_an_application_passes_through_the_assessment(self) -> None:
        assert domain.path_to_admission("applied") == ["under_assessment", "admitted"]
        assert domain.path_to_admission("suspended") == ["admitted"]
        with pytest.raises(InvalidTransition):
            domain.path_to_admission("revoked")


def _assessment(**changes: Any) -> dict[str, Any]:
    raw: dict[str, Any] = {
        "dengbao_level": 3,
        "dengbao_date": "2026-05-20",
        "separated_administrators": True,
        "audit_retention_months": 12,
        "encryption_at_rest": True,
        "emergency_plan": True,
        "data_management_rules": True,
        "contacts": [{"name": "王敏", "role": "安全管理员", "phone": "0551-12345678"}],
    }
    raw.update(changes)
    return {k: v for k, v in raw.items() if v is not ...}


class TestSelfAssessment:
    def test_a_complete_one_is_parsed_and_meets_the_minimums(self) -> None:
        parsed = domain.parse_assessment(_assessment(), today=TODAY)

        assert parsed.dengbao_level == 3
        assert parsed.dengbao_date == date(2026, 5, 20)
        assert parsed.contacts[0].name == "王敏"
        assert domain.assessment_findings(parsed, today=TODAY) == []
        assert parsed.as_dict()["contacts"][0]["phone"] == "0551-12345678"

    @pytest.mark.parametrize(
        ("changes", "field"),
        [
            ({"dengbao_level": ...}, "dengbao_level"),
            ({"dengbao_level": 7}, "dengbao_level"),
            ({"dengbao_level": True}, "dengbao_level"),
            ({"dengbao_date": "2026-13-01"}, "dengbao_date"),
            ({"dengbao_date": "2027-01-01"}, "dengbao_date"),
            ({"separated_administrators": "yes"}, "separated_administrators"),
            ({"audit_retention_months": -1}, "audit_retention_months"),
            ({"encryption_at_rest": ...}, "encryption_at_rest"),
            ({"contacts": []}, "contacts"),
            ({"contacts": ["王敏"]}, "contacts[0]"),
            ({"contacts": [{"name": "王敏", "role": "", "phone": "1"}]}, "contacts[0].role"),
            (
                {"contacts": [{"name": "王敏", "role": "x", "phone": "call me"}]},
                "contacts[0].phone",
            ),
        ],
    )
    def test_a_bad_field_is_named(self, changes: dict[str, Any], field: str) -> None:
        with pytest.raises(AssessmentInvalid) as raised:
            domain.parse_assessment(_assessment(**changes), today=TODAY)

        assert raised.value.code == "CB-NODE-ASSESSMENT-INVALID"
        assert [issue.field for issue in raised.value.issues] == [field]
        assert raised.value.key is not None
        assert raised.value.key.startswith("error.exchange.assessment.")

    def test_what_falls_short_of_section_11(self) -> None:
        weak = domain.parse_assessment(
            _assessment(
                dengbao_level=2,
                dengbao_date="2025-06-01",
                separated_administrators=False,
                audit_retention_months=3,
                emergency_plan=False,
            ),
            today=TODAY,
        )
        found = {f.reason: f.field for f in domain.assessment_findings(weak, today=TODAY)}

        assert found == {
            "dengbao_level": "dengbao_level",
            "dengbao_stale": "dengbao_date",
            "lacks_separated_administrators": "separated_administrators",
            "lacks_emergency_plan": "emergency_plan",
            "audit_retention": "audit_retention_months",
        }


PROVINCE = NodeFacts("340000", "province", "https://xyd.ah.example")


class TestTechnicalChecks:
    def _found(self, peer: NodeFacts, **kw: Any) -> dict[str, str]:
        values: dict[str, Any] = {
            "relation": "downstream",
            "issued_at": NOW,
            "now": NOW,
            "production": True,
        }
        values.update(kw)
        return {f.reason: f.field for f in domain.technical_findings(PROVINCE, peer, **values)}

    def test_a_city_of_the_province_over_https_passes(self) -> None:
        assert self._found(NodeFacts("340100", "city", "https://xyd.hefei.example")) == {}

    def test_a_city_of_another_province_is_not_below(self) -> None:
        found = self._found(NodeFacts("320100", "city", "https://xyd.nanjing.example"))
        assert found == {"not_below": "code"}

    def test_the_upstream_must_lie_above(self) -> None:
        national = NodeFacts("100000", "national", "https://xyd.gov.example")
        assert self._found(national, relation="upstream") == {}
        city = NodeFacts("340100", "city", "https://xyd.hefei.example")
        assert self._found(city, relation="upstream") == {"not_above": "code"}

    def test_http_is_refused_in_production_only(self) -> None:
        city = NodeFacts("340100", "city", "http://127.0.0.1:8002")
        assert self._found(city) == {"url_not_https": "url"}
        assert self._found(city, production=False) == {}

    def test_a_document_from_the_future_is_clock_skew(self) -> None:
        city = NodeFacts("340100", "city", "https://xyd.hefei.example")
        assert self._found(city, issued_at=NOW + timedelta(minutes=4)) == {}
        assert self._found(city, issued_at=NOW + timedelta(minutes=6)) == {
            "clock_skew": "issued_at"
        }

    def test_a_code_that_does_not_fit_its_level(self) -> None:
        found = self._found(NodeFacts("340100", "province", "https://x.example"))
        assert found == {"level_mismatch": "code"}
