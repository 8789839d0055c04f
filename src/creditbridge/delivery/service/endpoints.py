"""Institutions' webhook endpoints: registering one (URL checked against SSRF, secret sealed),
listing, disabling and enabling, the test ping, and the checks the relay repeats at send time.

Who may: the platform (the console, the system, operators and system admins) for any institution;
an institution's officers see their own institution's endpoints, and only its
officer-administrator — or the institution's own signed API client — changes them. Anyone else
asking for another institution's endpoint is told it does not exist.
"""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

from sqlalchemy import select
from sqlalchemy.orm import Session

from creditbridge.access import service as access_service
from creditbridge.audit import service as audit_service
from creditbridge.core.actors import SYSTEM, Actor, ActorKind, Role
from creditbridge.core.clock import utc_now
from creditbridge.core.config import Settings
from creditbridge.core.errors import (
    Conflict,
    Forbidden,
    InvalidTransition,
    NotFound,
    ValidationFailed,
)
from creditbridge.delivery import domain, signing
from creditbridge.delivery.errors import EndpointDisabled, refusal, url_refused
from creditbridge.delivery.models import OutboxMessage, WebhookEndpoint
from creditbridge.delivery.service.outbox import emit
from creditbridge.protection import service as protection_service

# Platform staff who run the node's deliveries for every institution.
PLATFORM_ROLES = (Role.OPERATOR, Role.SYSTEM_ADMIN)
MAX_DESCRIPTION: int = 200
MAX_REASON: int = 500


@dataclass(frozen=True)
class AddedEndpoint:
    """An endpoint just registered and its signing secret in plain text — shown once, to whoever
    registered it; only the sealed form is stored."""

    endpoint: WebhookEndpoint
    secret: str


# --- who may -------------------------------------------------------------------------------------


def is_platform(actor: Actor) -> bool:
    return actor.kind in (ActorKind.CLI, ActorKind.SYSTEM) or actor.has_role(*PLATFORM_ROLES)


def _officer_of(actor: Actor, institution_id: int) -> bool:
    return actor.has_role(Role.INSTITUTION_OFFICER) and actor.institution_id == institution_id


def require_reader(actor: Actor) -> None:
    if not (is_platform(actor) or actor.has_role(Role.INSTITUTION_OFFICER)):
        raise refusal(Forbidden, "error.delivery.role")


def may_manage(session: Session, actor: Actor, institution_id: int) -> bool:
    """Whether the actor may add, disable, enable, test and replay the institution's endpoints:
    the platform, the institution's officer-administrator, or the institution's own signed API
    client (its systems manage their own endpoints; the client was issued by the security admin)."""
    if is_platform(actor):
        return True
    if not _officer_of(actor, institution_id):
        return False
    if actor.kind is ActorKind.API_CLIENT:
        return True
    # For an institution officer, may_invite is exactly "an active officer-administrator".
    return access_service.may_invite(session, actor)


def require_manager(session: Session, actor: Actor, institution_id: int) -> None:
    if not may_manage(session, actor, institution_id):
        raise refusal(Forbidden, "error.delivery.org_admin_only")


def get_endpoint(session: Session, actor: Actor, endpoint_id: int) -> WebhookEndpoint:
    """The endpoint if the actor may see it; NotFound otherwise, whether or not it exists."""
    require_reader(actor)
    endpoint = session.get(WebhookEndpoint, endpoint_id)
    if endpoint is None or not (is_platform(actor) or _officer_of(actor, endpoint.institution_id)):
        raise refusal(NotFound, "error.delivery.endpoint_not_found")
    return endpoint


def list_endpoints(
    session: Session, actor: Actor, *, institution_id: int | None = None
) -> list[WebhookEndpoint]:
    """The endpoints the actor may see, newest first: an officer's own institution's, or every
    institution's (or ``institution_id``'s) for the platform."""
    require_reader(actor)
    query = select(WebhookEndpoint).order_by(WebhookEndpoint.id.desc())
    if is_platform(actor):
        if institution_id is not None:
            query = query.where(WebhookEndpoint.institution_id == institution_id)
    else:
        if institution_id is not None and institution_id != actor.institution_id:
            # Raises NotFound: an officer may not learn whether another institution exists.
            access_service.access_institution(session, actor, institution_id)
        query = query.where(WebhookEndpoint.institution_id == actor.institution_id)
    return list(session.scalars(query))


# --- the URL -------------------------------------------------------------------------------------


def check_url(url: str, settings: Settings) -> list[str]:
    """Refuse a URL the platform must not call (:class:`EndpointRefused`), and return the
    addresses its host resolves to now.

    The form is checked first (https in production, no credentials), then EVERY address the host
    resolves to: a name with one public and one private address is refused, since the connection
    may go to either. Nothing is cached, so the relay calls this again right before each send
    and a name re-pointed at an inside address after registration (DNS rebinding) is caught then.
    """
    allow_loopback = domain.loopback_allowed(
        env=settings.env, allow_loopback=settings.webhooks.allow_loopback
    )
    reason = domain.url_refusal(url, env=settings.env, allow_loopback=allow_loopback)
    if reason is not None:
        raise url_refused(reason, url=url)
    host = urlsplit(url).hostname or ""
    try:
        found = socket.getaddrinfo(
            host, domain.default_port(url), type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP
        )
    except (socket.gaierror, UnicodeError):
        raise url_refused("unresolvable", host=host) from None
    addresses: list[str] = []
    for _family, _type, _proto, _name, sockaddr in found:
        address = str(sockaddr[0])
        try:
            parsed = ipaddress.ip_address(address)
        except ValueError:
            raise url_refused("reserved", host=host, address=address) from None
        refused = domain.address_refusal(parsed, allow_loopback=allow_loopback)
        if refused is not None:
            raise url_refused(refused, host=host, address=address)
        if address not in addresses:
            addresses.append(address)
    if not addresses:
        raise url_refused("unresolvable", host=host)
    return addresses


# --- changes ---------------------------------------------------------------------------------------


def _purpose(institution_id: int) -> str:
    # The AAD binds a sealed secret to its institution: copied onto another institution's
    # endpoint row, it no longer opens.
    return f"creditbridge:webhook-secret:{institution_id}"


def open_secret(endpoint: WebhookEndpoint) -> str:
    """The endpoint's signing secret, for signing a delivery (never shown again after adding)."""
    return protection_service.open_secret(
        endpoint.secret_sealed, purpose=_purpose(endpoint.institution_id)
    )


def add_endpoint(
    session: Session,
    actor: Actor,
    *,
    institution_id: int,
    url: str,
    events: list[str],
    secret: str | None = None,
    scheme: str = "hmac-sha256",
    description: str = "",
    settings: Settings,
) -> AddedEndpoint:
    """Register where the institution wants its events POSTed. ``secret`` is the institution's
    own (``whsec_`` + base64) or, when None, a fresh one; either is returned once in
    :class:`AddedEndpoint` and stored only sealed. Audited."""
    require_reader(actor)
    institution = access_service.access_institution(session, actor, institution_id)
    require_manager(session, actor, institution_id)
    if institution.status != "approved":
        raise refusal(Conflict, "error.delivery.institution_inactive")
    url = url.strip()
    patterns = domain.validate_patterns(events)
    if scheme not in domain.SCHEMES:
        raise refusal(ValidationFailed, "error.delivery.scheme", field="scheme", scheme=scheme)
    description = description.strip()
    if len(description) > MAX_DESCRIPTION:
        raise refusal(ValidationFailed, "error.delivery.description", field="description")
    generated = secret is None
    if secret is None:
        secret = signing.new_secret()
    elif not signing.is_valid_secret(secret.strip()):
        raise refusal(ValidationFailed, "error.delivery.secret", field="secret")
    secret = secret.strip()
    check_url(url, settings)
    now = utc_now()
    endpoint = WebhookEndpoint(
        institution_id=institution_id,
        url=url,
        event_types=patterns,
        scheme=scheme,
        secret_sealed=protection_service.seal_secret(secret, purpose=_purpose(institution_id)),
        description=description,
        status="active",
        disabled_reason=None,
        created_by=actor.name[:64],
        created_at=now,
        updated_at=now,
    )
    session.add(endpoint)
    session.flush()
    audit_service.record(
        session,
        actor,
        action="webhook.add",
        object_type="webhook_endpoint",
        object_id=endpoint.id,
        detail={
            "institution_id": institution_id,
            "url": url,
            "events": patterns,
            "scheme": scheme,
            "secret": "generated" if generated else "given",
        },
    )
    return AddedEndpoint(endpoint=endpoint, secret=secret)


def _managed(session: Session, actor: Actor, endpoint_id: int) -> WebhookEndpoint:
    endpoint = get_endpoint(session, actor, endpoint_id)
    require_manager(session, actor, endpoint.institution_id)
    return endpoint


def _set_status(
    session: Session, actor: Actor, endpoint: WebhookEndpoint, *, status: str, reason: str | None
) -> WebhookEndpoint:
    previous = endpoint.status
    endpoint.status = status
    endpoint.disabled_reason = reason if status == "disabled" else None
    endpoint.updated_at = utc_now()
    session.flush()
    audit_service.record(
        session,
        actor,
        action="webhook.disable" if status == "disabled" else "webhook.enable",
        object_type="webhook_endpoint",
        object_id=endpoint.id,
        detail={
            "institution_id": endpoint.institution_id,
            "from": previous,
            "to": status,
            "reason": reason,
        },
    )
    return endpoint


def disable_endpoint(
    session: Session, actor: Actor, endpoint_id: int, *, reason: str
) -> WebhookEndpoint:
    """Stop sending to the endpoint. Its deliveries wait (nothing is claimed for a disabled
    endpoint) and go out when it is enabled again. Audited."""
    endpoint = _managed(session, actor, endpoint_id)
    reason = reason.strip()
    if len(reason) > MAX_REASON:
        raise refusal(ValidationFailed, "error.delivery.reason", field="reason")
    if endpoint.status == "disabled":
        raise refusal(InvalidTransition, "error.delivery.already_disabled")
    return _set_status(session, actor, endpoint, status="disabled", reason=reason or None)


def enable_endpoint(session: Session, actor: Actor, endpoint_id: int) -> WebhookEndpoint:
    """Send to the endpoint again; what waited for it goes out, and a replay resends what died
    while it was disabled. Audited."""
    endpoint = _managed(session, actor, endpoint_id)
    if endpoint.status == "active":
        raise refusal(InvalidTransition, "error.delivery.already_active")
    return _set_status(session, actor, endpoint, status="active", reason=None)


def disable_gone(session: Session, endpoint_id: int, *, status_code: int) -> None:
    """The relay's move when a receiver answers 410 Gone: the endpoint no longer exists, so the
    platform stops sending, as the Standard Webhooks contract says. Audited as the system; an
    endpoint already disabled (two deliveries answered 410 in one round) is left as it is."""
    endpoint = session.get(WebhookEndpoint, endpoint_id)
    if endpoint is None or endpoint.status == "disabled":
        return
    _set_status(
        session,
        SYSTEM,
        endpoint,
        status="disabled",
        reason=f"接收方返回 HTTP {status_code}，已自动停用 (receiver answered {status_code} Gone)",
    )


def require_active(endpoint: WebhookEndpoint) -> None:
    """Nothing is sent to a disabled endpoint, so a test, retry or replay asks to enable it first."""
    if endpoint.status != "active":
        raise refusal(EndpointDisabled, "error.delivery.disabled", url=endpoint.url)


def queue_test_event(session: Session, actor: Actor, endpoint_id: int) -> OutboxMessage:
    """Queue a ``webhook.ping`` through the outbox to this endpoint alone: the worker sends it
    like any other message, so the institution sees its receiver and signature check work end to
    end. Audited."""
    endpoint = _managed(session, actor, endpoint_id)
    require_active(endpoint)
    message = emit(
        session,
        event_type=domain.PING_EVENT,
        payload={
            "endpoint_id": endpoint.id,
            "requested_by": actor.name,
            "at": utc_now().isoformat(),
        },
        institution_id=endpoint.institution_id,
        only_endpoint_id=endpoint.id,
    )
    audit_service.record(
        session,
        actor,
        action="webhook.test",
        object_type="webhook_endpoint",
        object_id=endpoint.id,
        detail={"institution_id": endpoint.institution_id, "message_id": message.message_id},
    )
    return message
