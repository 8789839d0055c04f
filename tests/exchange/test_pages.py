"""The operator's node pages (节点互联): this node and its peers, one peer with its reviews, and the
admission decisions through their pages — admit via its confirmation, a revocation without a
reason refused at the field with nothing changed, other roles refused, every decision audited."""

from __future__ import annotations

import json
import re
from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from creditbridge.core.actors import CONSOLE, Role
from creditbridge.exchange import identity, service
from creditbridge.exchange.models import AdmissionReview, Peer
from web import conftest as web_fixtures
from web.conftest import LoggedIn

from .helpers import ASSESSMENT, TEST, audited, peer_document

app = web_fixtures.app
client = web_fixtures.client
login_as = web_fixtures.login_as

CITY = "340100"


@pytest.fixture
def city(session: Session, province: str) -> Peer:
    peer = service.add_peer(
        session, CONSOLE, document=peer_document(CITY, "city"), relation="downstream"
    )
    service.submit_assessment(session, CONSOLE, code=CITY, assessment=ASSESSMENT)
    return peer


def _page(client: TestClient, url: str, status: int = 200) -> str:
    response = client.get(url)
    assert response.status_code == status, response.text[:2000]
    return response.text


class TestNodePage:
    def test_shows_this_node_and_its_peers(
        self, client: TestClient, login_as: Callable[..., LoggedIn], session: Session, city: Peer
    ) -> None:
        login_as(Role.OPERATOR)
        page = _page(client, "/operator/node")
        key = service.current_key(session)
        assert 'data-testid="node-code"><code>340000</code>' in page
        assert "省级节点" in page
        assert key.key_id in page
        row = re.search(r'data-testid="peer-row" data-code="340100".*?</tr>', page, re.DOTALL)
        assert row, page
        assert 'data-status="under_assessment"' in row.group(0)
        assert "评估中" in row.group(0)
        assert "/operator/node/peers/340100" in row.group(0)

    def test_filters_peers_by_status(
        self, client: TestClient, login_as: Callable[..., LoggedIn], city: Peer
    ) -> None:
        login_as(Role.OPERATOR)
        assert 'data-code="340100"' not in _page(client, "/operator/node?status=admitted")
        assert 'data-code="340100"' in _page(client, "/operator/node?status=under_assessment")

    def test_says_how_to_initialise_a_node(
        self, client: TestClient, login_as: Callable[..., LoggedIn]
    ) -> None:
        login_as(Role.OPERATOR)
        page = _page(client, "/operator/node")
        assert "本节点尚未初始化" in page
        assert "creditbridge node init" in page

    def test_the_identity_document_downloads_signed_andaudited(
        self,
        client: TestClient,
        login_as: Callable[..., LoggedIn],
        session: Session,
        province: str,
    ) -> None:
        who = login_as(Role.OPERATOR)
        response = client.post("/operator/node/identity", data={"csrf_token": who.csrf})
        assert response.status_code == 200
        assert "attachment" in response.headers["content-disposition"]
        parsed = identity.parse(json.loads(response.text))  # the signature verifies
        assert parsed.code == province
        assert audited(session, "exchange.node.identity", province)

    @pytest.mark.parametrize("role", [Role.INSTITUTION_OFFICER, Role.ENTERPRISE_USER])
    def test_other_roles_are_refused(
        self,
        client: TestClient,
        login_as: Callable[..., LoggedIn],
        session: Session,
        city: Peer,
        role: Role,
    ) -> None:
        who = login_as(role)
        assert client.get("/operator/node").status_code == 403
        assert client.get(f"/operator/node/peers/{CITY}").status_code == 403
        response = client.post(f"/operator/node/peers/{CITY}/admit", data={"csrf_token": who.csrf})
        assert response.status_code == 403
        session.refresh(city)
        assert city.status == "under_assessment"


class TestPeerPage:
    def test_shows_identity_assessment_checks_and_moves(
        self, client: TestClient, login_as: Callable[..., LoggedIn], city: Peer
    ) -> None:
        who = login_as(Role.OPERATOR)
        page = _page(client, f"/operator/node/peers/{CITY}")
        assert f"节点 {CITY}" in page
        assert "王敏" in page
        assert 'data-testid="admit-form"' in page
        assert 'data-testid="reject-form"' in page
        assert 'data-testid="revoke-form"' not in page  # not offered before admission
        checked = client.post(f"/operator/node/peers/{CITY}/checks", data={"csrf_token": who.csrf})
        assert checked.status_code == 200
        assert 'data-testid="checks-pass"' in checked.text

    def test_unknown_peer_is_404(
        self, client: TestClient, login_as: Callable[..., LoggedIn], province: str
    ) -> None:
        login_as(Role.OPERATOR)
        assert client.get("/operator/node/peers/340200").status_code == 404


class TestDecisions:
    def test_admit_through_its_confirmation(
        self,
        client: TestClient,
        login_as: Callable[..., LoggedIn],
        session: Session,
        city: Peer,
    ) -> None:
        login_as(Role.OPERATOR)
        confirm = _page(client, f"/operator/node/peers/{CITY}/admit/confirm")
        assert 'data-move="admit"' in confirm
        assert "下一次请求" in confirm
        session.refresh(city)
        assert city.status == "under_assessment"  # the confirmation changes nothing
        token = re.search(r'name="csrf_token" value="([^"]+)"', confirm).group(1)  # type: ignore[union-attr]
        done = client.post(
            f"/operator/node/peers/{CITY}/admit",
            data={"csrf_token": token, "reason": "评估材料齐全"},
            follow_redirects=False,
        )
        assert done.status_code == 303
        assert done.headers["location"] == f"/operator/node/peers/{CITY}?done=admit"
        session.refresh(city)
        assert city.status == "admitted"
        assert service.may_exchange(session, code=CITY)
        events = audited(session, "exchange.peer.admit", CITY)
        assert len(events) == 1
        assert events[0].actor_role == Role.OPERATOR.value
        review = session.query(AdmissionReview).filter_by(peer_id=city.id).one()
        assert (review.decision, review.reason) == ("admit", "评估材料齐全")
        page = _page(client, done.headers["location"])
        assert "已准予接入" in page
        assert 'data-decision="admit"' in page
        assert 'data-testid="revoke-form"' in page

    def test_revoke_without_a_reason_is_refused_at_the_field(
        self,
        client: TestClient,
        login_as: Callable[..., LoggedIn],
        session: Session,
        city: Peer,
    ) -> None:
        service.admit(session, CONSOLE, code=CITY, settings=TEST)
        login_as(Role.OPERATOR)
        confirm = _page(client, f"/operator/node/peers/{CITY}/revoke/confirm")
        token = re.search(r'name="csrf_token" value="([^"]+)"', confirm).group(1)  # type: ignore[union-attr]
        refused = client.post(
            f"/operator/node/peers/{CITY}/revoke", data={"csrf_token": token, "reason": "  "}
        )
        assert refused.status_code == 422
        field = re.search(r'data-testid="error-reason">([^<]+)<', refused.text)
        assert field
        assert field.group(1) == "请填写理由"
        assert 'data-move="revoke"' in refused.text  # the same confirmation, again
        session.refresh(city)
        assert city.status == "admitted"
        assert not audited(session, "exchange.peer.revoke", CITY)
        reviews = session.query(AdmissionReview).filter_by(peer_id=city.id).all()
        assert [r.decision for r in reviews] == ["admit"]

        done = client.post(
            f"/operator/node/peers/{CITY}/revoke",
            data={"csrf_token": token, "reason": "违反安全管理规定"},
            follow_redirects=False,
        )
        assert done.status_code == 303
        session.refresh(city)
        assert city.status == "revoked"
        assert not service.may_exchange(session, code=CITY)
        assert audited(session, "exchange.peer.revoke", CITY)

    def test_suspend_keeps_the_typed_reason_when_refused_and_reinstates(
        self,
        client: TestClient,
        login_as: Callable[..., LoggedIn],
        session: Session,
        city: Peer,
    ) -> None:
        service.admit(session, CONSOLE, code=CITY, settings=TEST)
        who = login_as(Role.OPERATOR)
        refused = client.post(
            f"/operator/node/peers/{CITY}/suspend", data={"csrf_token": who.csrf, "reason": ""}
        )
        assert refused.status_code == 422
        assert 'data-testid="error-reason"' in refused.text
        done = client.post(
            f"/operator/node/peers/{CITY}/suspend",
            data={"csrf_token": who.csrf, "reason": "整改中"},
            follow_redirects=False,
        )
        assert done.status_code == 303
        session.refresh(city)
        assert city.status == "suspended"
        back = client.post(
            f"/operator/node/peers/{CITY}/reinstate",
            data={"csrf_token": who.csrf},
            follow_redirects=False,
        )
        assert back.status_code == 303
        session.refresh(city)
        assert city.status == "admitted"
        assert audited(session, "exchange.peer.reinstate", CITY)

    def test_a_move_the_status_does_not_allow_is_refused(
        self,
        client: TestClient,
        login_as: Callable[..., LoggedIn],
        session: Session,
        city: Peer,
    ) -> None:
        who = login_as(Role.OPERATOR)
        refused = client.post(
            f"/operator/node/peers/{CITY}/suspend",
            data={"csrf_token": who.csrf, "reason": "整改中"},
        )
        assert refused.status_code == 409
        assert 'data-testid="refusal"' in refused.text
        session.refresh(city)
        assert city.status == "under_assessment"

    def test_posts_without_the_form_token_are_refused(
        self,
        client: TestClient,
        login_as: Callable[..., LoggedIn],
        session: Session,
        city: Peer,
    ) -> None:
        login_as(Role.OPERATOR)
        response = client.post(f"/operator/node/peers/{CITY}/admit", data={"reason": "x"})
        assert response.status_code in (400, 403)
        session.refresh(city)
        assert city.status == "under_assessment"
