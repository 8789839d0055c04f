"""The node network's use cases on a real database: init and key rotation, importing peers,
the self-assessment, admission (checks, review, audit), suspension and revocation."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy.orm import Session

from creditbridge.core.actors import CONSOLE, Actor, ActorKind, Role
from creditbridge.core.clock import utc_now
from creditbridge.core.config import Settings
from creditbridge.core.errors import Forbidden, InvalidTransition
from creditbridge.exchange import identity, service
from creditbridge.exchange.errors import (
    AssessmentInvalid,
    ChecksFailed,
    IdentityInvalid,
    NodeAlreadyInitialised,
    NodeNotInitialised,
    PeerConflict,
)

from .helpers import ASSESSMENT, TEST, audited, peer_document

PRODUCTION = Settings(env="production", secret_key="x" * 40)


class TestNode:
    def test_init_makes_a_node_with_a_sealed_key_and_isaudited(
        self, session: Session, province: str
    ) -> None:
        node = service.get_node_or_raise(session)
        [key] = service.list_keys(session)

        assert (node.code, node.level, node.url) == ("340000", "province", "https://xyd.ah.example")
        assert "PRIVATE" not in str(key.private_sealed)
        assert service.signing_key(session).public_key.to_pem() == key.public_key
        [event] = audited(session, "exchange.node.init", "340000")
        assert event.actor_kind == "cli"

    def test_a_second_init_is_refused(self, session: Session, province: str) -> None:
        with pytest.raises(NodeAlreadyInitialised):
            service.init_node(
                session, CONSOLE, code="340000", level="province", name="x", url="https://x.example"
            )

    def test_a_code_that_is_not_of_its_level_is_refused_naming_the_field(
        self, session: Session
    ) -> None:
        with pytest.raises(IdentityInvalid) as raised:
            service.init_node(
                session, CONSOLE, code="340100", level="province", name="x", url="https://x.example"
            )
        assert raised.value.issues[0].field == "code"

    def test_http_is_refused_in_production(self, session: Session) -> None:
        with pytest.raises(IdentityInvalid) as raised:
            service.init_node(
                session,
                CONSOLE,
                code="340000",
                level="province",
                name="x",
                url="http://xyd.ah.example",
                settings=PRODUCTION,
            )
        assert raised.value.issues[0].field == "url"

    def test_nothing_works_before_init(self, session: Session) -> None:
        with pytest.raises(NodeNotInitialised):
            service.identity_document(session, CONSOLE)

    def test_only_node_staff_manage_the_node(self, session: Session, province: str) -> None:
        officer = Actor(kind=ActorKind.USER, id=9, name="officer", role=Role.INSTITUTION_OFFICER)
        with pytest.raises(Forbidden):
            service.identity_document(session, officer)

    def test_the_identity_document_verifies_and_names_the_current_key(
        self, session: Session, province: str
    ) -> None:
        document = service.identity_document(session, CONSOLE)
        parsed = identity.parse(document.as_dict())

        assert parsed.code == "340000"
        assert parsed.signed_by == service.current_key(session).key_id
        assert audited(session, "exchange.node.identity", "340000")

    def test_rotation_keeps_the_old_key_for_what_it_signed(
        self, session: Session, province: str
    ) -> None:
        before = service.identity_document(session, CONSOLE).as_dict()
        old = service.current_key(session).key_id

        new = service.rotate_key(session, CONSOLE)
        after = service.identity_document(session, CONSOLE).as_dict()

        assert new.key_id != old
        assert identity.parse(before).signed_by == old
        parsed = identity.parse(after)
        assert parsed.signed_by == new.key_id
        assert [k.key_id for k in parsed.keys] == [old, new.key_id]
        assert parsed.keys[0].valid_until is not None
        assert parsed.keys[1].valid_until is None
        [event] = audited(session, "exchange.node.rotate_key", "340000")
        assert event.facts["detail"] == {"retired": old, "current": new.key_id}


class TestPeers:
    def test_a_peer_is_imported_as_applied_andaudited(
        self, session: Session, province: str
    ) -> None:
        peer = service.add_peer(
            session, CONSOLE, document=peer_document("340100", "city"), relation="downstream"
        )

        assert (peer.code, peer.status, peer.relation) == ("340100", "applied", "downstream")
        assert audited(session, "exchange.peer.add", "340100")
        assert not service.may_exchange(session, code="340100")

    def test_a_tampered_document_is_not_imported(self, session: Session, province: str) -> None:
        document = peer_document("340100", "city")
        document["url"] = "https://elsewhere.example"

        with pytest.raises(IdentityInvalid):
            service.add_peer(session, CONSOLE, document=document, relation="downstream")
        assert service.list_peers(session) == []

    def test_one_upstream_at_most(self, session: Session, province: str) -> None:
        service.add_peer(
            session, CONSOLE, document=peer_document("100000", "national"), relation="upstream"
        )
        with pytest.raises(PeerConflict):
            service.add_peer(
                session, CONSOLE, document=peer_document("110000", "province"), relation="upstream"
            )

    def test_this_node_is_not_its_own_peer(self, session: Session, province: str) -> None:
        with pytest.raises(PeerConflict):
            service.add_peer(
                session,
                CONSOLE,
                document=peer_document("340000", "province"),
                relation="downstream",
            )

    def test_a_newer_document_refreshes_the_keys_an_older_one_is_refused(
        self, session: Session, province: str
    ) -> None:
        first = peer_document("340100", "city", issued_at=utc_now() - timedelta(hours=1))
        service.add_peer(session, CONSOLE, document=first, relation="downstream")
        newer = peer_document("340100", "city", url="https://new.hefei.example")
        peer = service.add_peer(session, CONSOLE, document=newer, relation="downstream")

        assert peer.url == "https://new.hefei.example"
        assert service.peer_keys(peer)[0].key_id == newer["keys"][0]["key_id"]
        with pytest.raises(PeerConflict):
            service.add_peer(session, CONSOLE, document=first, relation="downstream")


class TestAdmission:
    def _city(self, session: Session, code: str = "340100", **kw: Any) -> None:
        service.add_peer(
            session, CONSOLE, document=peer_document(code, "city", **kw), relation="downstream"
        )

    def test_assessment_then_admission_is_reviewed_andaudited(
        self, session: Session, province: str
    ) -> None:
        self._city(session)
        peer = service.submit_assessment(session, CONSOLE, code="340100", assessment=ASSESSMENT)
        assert peer.status == "under_assessment"

        review = service.admit(
            session, CONSOLE, code="340100", reason="等保三级，材料齐全", settings=PRODUCTION
        )

        assert (review.from_status, review.to_status) == ("under_assessment", "admitted")
        assert review.findings == []
        assert review.reason == "等保三级，材料齐全"
        assert service.may_exchange(session, code="340100")
        [event] = audited(session, "exchange.peer.admit", "340100")
        assert event.facts["detail"]["to"] == "admitted"
        assert audited(session, "exchange.peer.assessment", "340100")

    def test_a_bad_assessment_names_the_field_and_changes_nothing(
        self, session: Session, province: str
    ) -> None:
        self._city(session)
        with pytest.raises(AssessmentInvalid) as raised:
            service.submit_assessment(
                session, CONSOLE, code="340100", assessment=ASSESSMENT | {"emergency_plan": "有"}
            )
        assert raised.value.issues[0].field == "emergency_plan"
        assert service.get_peer_or_raise(session, "340100").status == "applied"

    def test_production_requires_the_self_assessment(self, session: Session, province: str) -> None:
        self._city(session)
        with pytest.raises(ChecksFailed) as raised:
            service.admit(session, CONSOLE, code="340100", settings=PRODUCTION)

        assert [i.field for i in raised.value.issues] == ["assessment"]
        assert service.get_peer_or_raise(session, "340100").status == "applied"

    def test_outside_production_a_missing_assessment_is_recorded_not_blocking(
        self, session: Session, province: str
    ) -> None:
        self._city(session, url="http://127.0.0.1:8002")
        review = service.admit(session, CONSOLE, code="340100", settings=TEST)

        assert review.to_status == "admitted"
        assert [f["reason"] for f in review.findings] == ["no_assessment"]
        assert review.findings[0]["blocking"] is False

    def test_every_failed_check_is_an_issue(self, session: Session, province: str) -> None:
        # A Jiangsu city over http, with a weak self-assessment.
        service.add_peer(
            session,
            CONSOLE,
            document=peer_document("320100", "city", url="http://xyd.nanjing.example"),
            relation="downstream",
        )
        service.submit_assessment(
            session, CONSOLE, code="320100", assessment=ASSESSMENT | {"dengbao_level": 2}
        )
        with pytest.raises(ChecksFailed) as raised:
            service.admit(session, CONSOLE, code="320100", settings=PRODUCTION)

        assert {(i.code, i.field) for i in raised.value.issues} == {
            ("not_below", "code"),
            ("url_not_https", "url"),
            ("dengbao_level", "dengbao_level"),
        }
        assert raised.value.params["n"] == 3

    def test_a_stored_identity_altered_afterwards_fails_the_checks(
        self, session: Session, province: str
    ) -> None:
        self._city(session, url="http://127.0.0.1:8002")
        peer = service.get_peer_or_raise(session, "340100")
        peer.identity = peer.identity | {"url": "http://127.0.0.1:9999"}
        session.flush()

        with pytest.raises(ChecksFailed) as raised:
            service.admit(session, CONSOLE, code="340100", settings=TEST)
        assert [i.field for i in raised.value.issues] == ["signature"]

    def test_revocation_needs_a_reason_is_final_andaudited(
        self, session: Session, province: str
    ) -> None:
        self._city(session)
        service.admit(session, CONSOLE, code="340100", settings=TEST)
        with pytest.raises(AssessmentInvalid) as raised:
            service.revoke(session, CONSOLE, code="340100", reason="  ")
        assert raised.value.issues[0].field == "reason"

        review = service.revoke(session, CONSOLE, code="340100", reason="违反数据安全管理规定")

        assert (review.from_status, review.to_status) == ("admitted", "revoked")
        assert not service.may_exchange(session, code="340100")
        [event] = audited(session, "exchange.peer.revoke", "340100")
        assert event.facts["detail"]["reason"] == "违反数据安全管理规定"
        with pytest.raises(InvalidTransition):
            service.admit(session, CONSOLE, code="340100", settings=TEST)

    def test_suspension_and_reinstatement(self, session: Session, province: str) -> None:
        self._city(session)
        service.admit(session, CONSOLE, code="340100", settings=TEST)
        service.suspend(session, CONSOLE, code="340100", reason="整改中")
        assert not service.may_exchange(session, code="340100")

        review = service.admit(session, CONSOLE, code="340100", settings=TEST)

        assert (review.decision, review.to_status) == ("reinstate", "admitted")
        decisions = [r.decision for r in service.list_reviews(session, code="340100")]
        assert decisions == ["admit", "suspend", "reinstate"]

    def test_rejecting_an_application(self, session: Session, province: str) -> None:
        self._city(session)
        review = service.reject(session, CONSOLE, code="340100", reason="材料不全")

        assert review.to_status == "rejected"
        assert audited(session, "exchange.peer.reject", "340100")


def test_status_lists_the_node_and_its_peers(session: Session, province: str) -> None:
    service.add_peer(
        session, CONSOLE, document=peer_document("100000", "national"), relation="upstream"
    )
    status = service.node_status(session, CONSOLE).as_dict()

    assert status["node"]["code"] == "340000"
    assert status["records_local"] == 0
    assert status["peers"] == [
        {
            "code": "100000",
            "relation": "upstream",
            "status": "applied",
            "packages_sent": 0,
            "packages_received": 0,
            "records_received": 0,
            "lag": None,
            "last_sync_at": None,
        }
    ]
