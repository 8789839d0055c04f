"""Webhook endpoints: registering one (the SSRF guard, the sealed secret, the audit event), who
may see and change an institution's endpoints, disabling on 410, and the test ping."""

from __future__ import annotations

import itertools
import socket
from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

import factories
from creditbridge.access.models import Institution
from creditbridge.access.service import actor_for_user, users
from creditbridge.access.service.users import new_user
from creditbridge.audit import service as audit_service
from creditbridge.core.actors import CONSOLE, SYSTEM, Actor, ActorKind, Role
from creditbridge.core.config import Settings, WebhookSettings
from creditbridge.core.crypto import DecryptionFailed
from creditbridge.core.errors import (
    Conflict,
    DomainError,
    Forbidden,
    InvalidTransition,
    NotFound,
    ValidationFailed,
)
from creditbridge.delivery import service
from creditbridge.delivery.errors import EndpointDisabled, EndpointRefused, EventTypesInvalid
from creditbridge.delivery.models import Delivery, OutboxMessage, WebhookEndpoint

PRODUCTION = Settings(env="production", secret_key="s" * 40)
LOOPBACK = Settings(env="test", webhooks=WebhookSettings(allow_loopback=True))
PUBLIC_URL = "https://8.8.8.8/hooks/creditbridge"
LOCAL_URL = "http://127.0.0.1:9/hooks"
_names = itertools.count(1)


@dataclass
class World:
    bank: Institution
    other: Institution
    admin: Actor
    officer: Actor
    outsider: Actor
    client: Actor


def _user(session: Session, institution: Institution, *, org_admin: bool) -> Actor:
    user = new_user(
        session,
        username=f"officer{next(_names)}",
        display_name="客户经理",
        password="Passw0rd!-long",
        role=Role.INSTITUTION_OFFICER,
        institution_id=institution.id,
        org_admin=org_admin,
    )
    return actor_for_user(user)


@pytest.fixture
def world(session: Session, monkeypatch: pytest.MonkeyPatch) -> World:
    # Nobody logs in here: a real password hash would only slow every test down.
    monkeypatch.setattr(users, "hash_password", lambda password: "unused")
    bank = factories.institution(session)
    other = factories.institution(session)
    return World(
        bank=bank,
        other=other,
        admin=_user(session, bank, org_admin=True),
        officer=_user(session, bank, org_admin=False),
        outsider=_user(session, other, org_admin=True),
        client=Actor(
            kind=ActorKind.API_CLIENT,
            id=9001,
            name="bank-system",
            role=Role.INSTITUTION_OFFICER,
            institution_id=bank.id,
        ),
    )


def _add(
    session: Session, actor: Actor, institution: Institution, **kw: Any
) -> service.AddedEndpoint:
    values: dict[str, Any] = {"url": LOCAL_URL, "events": ["consent.*"], "settings": LOOPBACK}
    values.update(kw)
    return service.add_endpoint(session, actor, institution_id=institution.id, **values)


def _audited(session: Session, action: str, endpoint_id: int) -> list[Any]:
    return [
        event
        for event in audit_service.list_events(
            session, flt=audit_service.EventFilter(action=action), limit=100
        )
        if event.object_id == str(endpoint_id)
    ]


# --- the SSRF guard ------------------------------------------------------------------------------


@pytest.mark.security
class TestUrlGuard:
    @pytest.mark.parametrize(
        ("url", "address"),
        [
            ("https://127.0.0.1/hooks", "127.0.0.1"),
            ("https://10.0.0.1/hooks", "10.0.0.1"),
            ("https://169.254.169.254/latest/meta-data/", "169.254.169.254"),
            ("https://[::1]:8443/hooks", "::1"),
            ("https://[::ffff:10.0.0.1]/hooks", "::ffff:10.0.0.1"),
            ("https://0.0.0.0/hooks", "0.0.0.0"),
        ],
    )
    def test_inside_addresses_are_refused_in_production(self, url: str, address: str) -> None:
        with pytest.raises(EndpointRefused) as refused:
            service.check_url(url, PRODUCTION)

        error = refused.value
        assert error.code == "CB-WEBHOOK-URL-REFUSED"
        assert error.status_code == 422
        assert address in error.message
        assert "不允许" in error.message
        assert error.params["address"] == address

    def test_a_name_resolving_to_loopback_is_refused(self) -> None:
        with pytest.raises(EndpointRefused) as refused:
            service.check_url("https://localhost/hooks", PRODUCTION)

        assert refused.value.key == "error.delivery.address.loopback"
        assert "localhost" in refused.value.message
        assert refused.value.params["address"] in ("127.0.0.1", "::1")

    def test_any_inside_address_of_a_name_refuses_it(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """A name with one public and one private address is refused: the connection may go to
        either (and a rebinding name answers differently each time)."""

        def resolve(host: str, port: int, *args: Any, **kw: Any) -> list[Any]:
            assert (host, port) == ("hooks.bank.example", 443)
            return [
                (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("8.8.8.8", port)),
                (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("10.1.2.3", port)),
            ]

        monkeypatch.setattr(socket, "getaddrinfo", resolve)

        with pytest.raises(EndpointRefused, match=r"10\.1\.2\.3"):
            service.check_url("https://hooks.bank.example/in", PRODUCTION)

    def test_nothing_is_cached_between_checks(self, monkeypatch: pytest.MonkeyPatch) -> None:
        answers = iter(["8.8.8.8", "192.168.0.7"])

        def resolve(host: str, port: int, *args: Any, **kw: Any) -> list[Any]:
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (next(answers), port))]

        monkeypatch.setattr(socket, "getaddrinfo", resolve)

        assert service.check_url("https://hooks.bank.example/in", PRODUCTION) == ["8.8.8.8"]
        with pytest.raises(EndpointRefused, match=r"192\.168\.0\.7"):
            service.check_url("https://hooks.bank.example/in", PRODUCTION)

    def test_a_name_that_does_not_resolve_is_refused(self) -> None:
        with pytest.raises(EndpointRefused) as refused:
            service.check_url("https://nothing-here.invalid/hooks", PRODUCTION)

        assert refused.value.key == "error.delivery.url.unresolvable"
        assert "nothing-here.invalid" in refused.value.message

    def test_http_is_refused_in_production(self) -> None:
        with pytest.raises(EndpointRefused) as refused:
            service.check_url("http://8.8.8.8/hooks", PRODUCTION)

        assert refused.value.key == "error.delivery.url.https_required"
        assert "https" in refused.value.message

    def test_the_loopback_setting_does_nothing_in_production(self) -> None:
        production = Settings(
            env="production", secret_key="s" * 40, webhooks=WebhookSettings(allow_loopback=True)
        )

        with pytest.raises(EndpointRefused):
            service.check_url("https://127.0.0.1/hooks", production)
        with pytest.raises(EndpointRefused):
            service.check_url(LOCAL_URL, production)

    @pytest.mark.parametrize("url", [LOCAL_URL, "http://localhost:8080/in", "http://[::1]:9/in"])
    def test_loopback_is_allowed_with_the_setting_outside_production(self, url: str) -> None:
        assert service.check_url(url, LOOPBACK)

    @pytest.mark.parametrize(
        "url", ["http://10.0.0.1/in", "https://169.254.169.254/", "http://192.168.1.20:8080/"]
    )
    def test_the_setting_allows_loopback_only(self, url: str) -> None:
        with pytest.raises(EndpointRefused):
            service.check_url(url, LOOPBACK)

    def test_a_public_address_passes_in_production(self) -> None:
        assert service.check_url(PUBLIC_URL, PRODUCTION) == ["8.8.8.8"]

    def test_credentials_in_the_url_are_refused(self) -> None:
        with pytest.raises(EndpointRefused, match="用户名或密码"):
            service.check_url("https://user:secret@8.8.8.8/in", PRODUCTION)

    def test_a_refused_url_is_not_registered(self, session: Session, world: World) -> None:
        before = session.scalar(select(WebhookEndpoint.id).order_by(WebhookEndpoint.id.desc()))

        with pytest.raises(EndpointRefused, match=r"10\.0\.0\.1"):
            _add(session, CONSOLE, world.bank, url="https://10.0.0.1/in", settings=PRODUCTION)

        after = session.scalar(select(WebhookEndpoint.id).order_by(WebhookEndpoint.id.desc()))
        assert after == before


# --- adding ----------------------------------------------------------------------------------------


class TestAdd:
    def test_a_generated_secret_is_returned_once_and_stored_only_sealed(
        self, session: Session, world: World
    ) -> None:
        added = _add(session, CONSOLE, world.bank, events=["consent.*", "webhook.ping"])

        endpoint = added.endpoint
        assert added.secret.startswith("whsec_")
        assert (endpoint.status, endpoint.scheme) == ("active", "hmac-sha256")
        assert endpoint.event_types == ["consent.*", "webhook.ping"]
        assert added.secret.removeprefix("whsec_") not in str(endpoint.secret_sealed)
        assert set(endpoint.secret_sealed) == {"enc"}
        assert service.open_secret(endpoint) == added.secret

    def test_a_given_secret_is_kept(self, session: Session, world: World) -> None:
        secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSwMfKQ9r8GKYo="

        added = _add(session, CONSOLE, world.bank, secret=secret, scheme="hmac-sm3")

        assert added.secret == secret
        assert service.open_secret(added.endpoint) == secret
        assert added.endpoint.scheme == "hmac-sm3"

    def test_the_sealed_secret_does_not_open_for_another_institution(
        self, session: Session, world: World
    ) -> None:
        added = _add(session, CONSOLE, world.bank)
        added.endpoint.institution_id = world.other.id

        with pytest.raises(DecryptionFailed):
            service.open_secret(added.endpoint)

    def test_adding_is_audited_without_the_secret(self, session: Session, world: World) -> None:
        added = _add(session, world.admin, world.bank)

        [event] = _audited(session, "webhook.add", added.endpoint.id)
        assert event.actor_id == world.admin.id
        assert event.facts["detail"]["url"] == LOCAL_URL
        assert event.facts["detail"]["secret"] == "generated"
        assert added.secret not in str(event.facts["detail"])

    @pytest.mark.parametrize(
        ("change", "error", "field"),
        [
            ({"secret": "whsec_short"}, ValidationFailed, "secret"),
            ({"secret": "plain-password"}, ValidationFailed, "secret"),
            ({"scheme": "rsa-sha1"}, ValidationFailed, "scheme"),
            ({"events": []}, EventTypesInvalid, "events"),
            ({"events": ["loans.*"]}, EventTypesInvalid, "events"),
            ({"description": "长" * 201}, ValidationFailed, "description"),
        ],
    )
    def test_bad_input_is_refused_by_field(
        self,
        session: Session,
        world: World,
        change: dict[str, Any],
        error: type[DomainError],
        field: str,
    ) -> None:
        with pytest.raises(error) as refused:
            _add(session, CONSOLE, world.bank, **change)

        assert [issue.field for issue in refused.value.issues] == [field]
        assert refused.value.key is not None

    def test_an_institution_not_admitted_gets_no_endpoint(self, session: Session) -> None:
        suspended = factories.institution(session, status="suspended")

        with pytest.raises(Conflict, match="尚未准入或已暂停"):
            _add(session, CONSOLE, suspended)

    def test_an_unknown_institution_is_not_found(self, session: Session) -> None:
        with pytest.raises(NotFound):
            service.add_endpoint(
                session,
                CONSOLE,
                institution_id=987654,
                url=LOCAL_URL,
                events=["*"],
                settings=LOOPBACK,
            )


# --- who may ---------------------------------------------------------------------------------------


@pytest.mark.security
class TestScoping:
    def test_the_officer_administrator_manages_its_institution(
        self, session: Session, world: World
    ) -> None:
        added = _add(session, world.admin, world.bank)

        service.disable_endpoint(session, world.admin, added.endpoint.id, reason="维护")
        service.enable_endpoint(session, world.admin, added.endpoint.id)
        assert added.endpoint.status == "active"

    def test_the_institution_s_own_api_client_manages_its_endpoints(
        self, session: Session, world: World
    ) -> None:
        added = _add(session, world.client, world.bank)

        assert [e.id for e in service.list_endpoints(session, world.client)] == [added.endpoint.id]

    def test_another_officer_of_the_institution_only_views(
        self, session: Session, world: World
    ) -> None:
        added = _add(session, world.admin, world.bank)

        assert service.get_endpoint(session, world.officer, added.endpoint.id) is added.endpoint
        assert [e.id for e in service.list_endpoints(session, world.officer)] == [added.endpoint.id]
        with pytest.raises(Forbidden, match="机构管理员"):
            _add(session, world.officer, world.bank)
        with pytest.raises(Forbidden):
            service.disable_endpoint(session, world.officer, added.endpoint.id, reason="")
        with pytest.raises(Forbidden):
            service.queue_test_event(session, world.officer, added.endpoint.id)

    def test_another_institution_s_officers_are_told_nothing_exists(
        self, session: Session, world: World
    ) -> None:
        added = _add(session, world.admin, world.bank)
        endpoint_id = added.endpoint.id

        for call in (
            lambda: service.get_endpoint(session, world.outsider, endpoint_id),
            lambda: service.disable_endpoint(session, world.outsider, endpoint_id, reason=""),
            lambda: service.enable_endpoint(session, world.outsider, endpoint_id),
            lambda: service.queue_test_event(session, world.outsider, endpoint_id),
            lambda: service.list_endpoints(session, world.outsider, institution_id=world.bank.id),
            lambda: _add(session, world.outsider, world.bank),
        ):
            with pytest.raises(NotFound):
                call()
        assert service.list_endpoints(session, world.outsider) == []

    def test_a_missing_and_a_hidden_endpoint_look_the_same(
        self, session: Session, world: World
    ) -> None:
        added = _add(session, world.admin, world.bank)

        with pytest.raises(NotFound) as hidden:
            service.get_endpoint(session, world.outsider, added.endpoint.id)
        with pytest.raises(NotFound) as missing:
            service.get_endpoint(session, world.outsider, added.endpoint.id + 1000)

        assert hidden.value.problem() == missing.value.problem()

    @pytest.mark.parametrize("role", [Role.OPERATOR, Role.SYSTEM_ADMIN])
    def test_platform_staff_see_and_manage_every_institution(
        self, session: Session, world: World, role: Role
    ) -> None:
        staff = Actor(kind=ActorKind.USER, id=77, name="staff", role=role)
        mine = _add(session, staff, world.bank).endpoint
        theirs = _add(session, staff, world.other).endpoint

        seen = {e.id for e in service.list_endpoints(session, staff)}
        assert {mine.id, theirs.id} <= seen
        assert [
            e.id for e in service.list_endpoints(session, staff, institution_id=world.other.id)
        ] == [theirs.id]
        service.disable_endpoint(session, staff, theirs.id, reason="运营停用")

    @pytest.mark.parametrize(
        "role", [Role.ENTERPRISE_USER, Role.PROVIDER_USER, Role.AUDIT_ADMIN, Role.SECURITY_ADMIN]
    )
    def test_other_roles_are_refused(self, session: Session, world: World, role: Role) -> None:
        actor = Actor(kind=ActorKind.USER, id=78, name="someone", role=role)
        added = _add(session, CONSOLE, world.bank)

        with pytest.raises(Forbidden):
            service.list_endpoints(session, actor)
        with pytest.raises(Forbidden):
            service.get_endpoint(session, actor, added.endpoint.id)
        with pytest.raises(Forbidden):
            _add(session, actor, world.bank)

    def test_an_officer_bound_to_no_institution_sees_nothing(
        self, session: Session, world: World
    ) -> None:
        added = _add(session, CONSOLE, world.bank)
        service.queue_test_event(session, CONSOLE, added.endpoint.id)
        stray = Actor(kind=ActorKind.USER, id=79, name="stray", role=Role.INSTITUTION_OFFICER)

        assert service.list_endpoints(session, stray) == []
        assert service.list_deliveries(session, stray) == []
        with pytest.raises(NotFound):
            service.get_endpoint(session, stray, added.endpoint.id)

    def test_an_officer_admin_whose_account_was_disabled_manages_nothing(
        self, session: Session, world: World
    ) -> None:
        from creditbridge.access.models import User

        user = session.get(User, world.admin.id)
        assert user is not None
        user.status = "disabled"
        session.flush()

        with pytest.raises(Forbidden):
            _add(session, world.admin, world.bank)


# --- disabling, enabling, 410 ----------------------------------------------------------------------


class TestStatus:
    def test_disable_and_enable_are_audited(self, session: Session, world: World) -> None:
        endpoint = _add(session, world.admin, world.bank).endpoint

        service.disable_endpoint(session, world.admin, endpoint.id, reason="  系统升级  ")
        assert (endpoint.status, endpoint.disabled_reason) == ("disabled", "系统升级")
        service.enable_endpoint(session, world.admin, endpoint.id)
        assert (endpoint.status, endpoint.disabled_reason) == ("active", None)

        [disabled] = _audited(session, "webhook.disable", endpoint.id)
        [enabled] = _audited(session, "webhook.enable", endpoint.id)
        assert disabled.facts["detail"]["reason"] == "系统升级"
        assert (enabled.facts["detail"]["from"], enabled.facts["detail"]["to"]) == (
            "disabled",
            "active",
        )

    def test_disabling_twice_or_enabling_an_active_one_is_refused(
        self, session: Session, world: World
    ) -> None:
        endpoint = _add(session, CONSOLE, world.bank).endpoint

        with pytest.raises(InvalidTransition, match="启用状态"):
            service.enable_endpoint(session, CONSOLE, endpoint.id)
        service.disable_endpoint(session, CONSOLE, endpoint.id, reason="")
        with pytest.raises(InvalidTransition, match="停用状态"):
            service.disable_endpoint(session, CONSOLE, endpoint.id, reason="")

    def test_a_410_disables_the_endpoint_as_the_system_once(
        self, session: Session, world: World
    ) -> None:
        endpoint = _add(session, CONSOLE, world.bank).endpoint

        service.disable_gone(session, endpoint.id, status_code=410)
        service.disable_gone(session, endpoint.id, status_code=410)

        assert endpoint.status == "disabled"
        assert endpoint.disabled_reason is not None
        assert "410" in endpoint.disabled_reason
        [event] = _audited(session, "webhook.disable", endpoint.id)
        assert event.actor_kind == str(SYSTEM.kind)

    def test_a_disabled_endpoint_gets_no_new_deliveries(
        self, session: Session, world: World
    ) -> None:
        endpoint = _add(session, CONSOLE, world.bank).endpoint
        service.disable_endpoint(session, CONSOLE, endpoint.id, reason="")

        message = service.emit(
            session, event_type="consent.granted", payload={}, institution_id=world.bank.id
        )

        assert _deliveries_of(session, message) == []


# --- the outbox and the test ping ------------------------------------------------------------------


def _deliveries_of(session: Session, message: OutboxMessage) -> list[Delivery]:
    return list(session.scalars(select(Delivery).where(Delivery.message_id == message.id)))


class TestPing:
    def test_the_ping_goes_through_the_outbox_to_this_endpoint_alone(
        self, session: Session, world: World
    ) -> None:
        target = _add(session, world.admin, world.bank, events=["consent.*"]).endpoint
        everything = _add(session, world.admin, world.bank, events=["*"]).endpoint

        message = service.queue_test_event(session, world.admin, target.id)

        assert message.event_type == "webhook.ping"
        assert message.topic == "webhook"
        assert message.message_id.startswith("msg_")
        assert message.institution_id == world.bank.id
        [delivery] = _deliveries_of(session, message)
        assert (delivery.endpoint_id, delivery.status, delivery.attempts) == (
            target.id,
            "pending",
            0,
        )
        assert everything.id != target.id
        [event] = _audited(session, "webhook.test", target.id)
        assert event.facts["detail"]["message_id"] == message.message_id

    def test_no_ping_to_a_disabled_endpoint(self, session: Session, world: World) -> None:
        endpoint = _add(session, CONSOLE, world.bank).endpoint
        service.disable_endpoint(session, CONSOLE, endpoint.id, reason="")

        with pytest.raises(EndpointDisabled, match="请先启用") as refused:
            service.queue_test_event(session, CONSOLE, endpoint.id)

        assert refused.value.status_code == 409
        assert refused.value.code == "CB-WEBHOOK-DISABLED"

    def test_events_reach_the_endpoints_subscribed_to_them(
        self, session: Session, world: World
    ) -> None:
        consent = _add(session, CONSOLE, world.bank, events=["consent.*"]).endpoint
        _add(session, CONSOLE, world.bank, events=["marketplace.*"])
        _add(session, CONSOLE, world.other, events=["*"])

        message = service.emit(
            session, event_type="consent.granted", payload={"x": 1}, institution_id=world.bank.id
        )

        assert [d.endpoint_id for d in _deliveries_of(session, message)] == [consent.id]
