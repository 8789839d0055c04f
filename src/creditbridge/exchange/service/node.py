"""This node: ``init`` (code, level, name, URL and a first SM2 key), key rotation, and the signed
identity document peers import. Private keys are stored sealed (``protection.seal_secret``, the
AAD binding each to its key id), so a database copy alone cannot sign as the node."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from creditbridge.audit import service as audit_service
from creditbridge.core.actors import Actor
from creditbridge.core.clock import utc_now
from creditbridge.core.config import Settings, get_settings
from creditbridge.core.crypto import Sm2PrivateKey, Sm2PublicKey
from creditbridge.exchange import domain, identity
from creditbridge.exchange.errors import (
    IdentityInvalid,
    NodeAlreadyInitialised,
    NodeNotInitialised,
    refusal,
)
from creditbridge.exchange.models import Node, NodeKey
from creditbridge.exchange.service._common import require_node_staff
from creditbridge.protection import service as protection_service


def _purpose(key_id: str) -> str:
    return f"exchange.node_key:{key_id}"


def get_node(session: Session) -> Node | None:
    return session.scalars(select(Node).limit(1)).first()


def get_node_or_raise(session: Session) -> Node:
    node = get_node(session)
    if node is None:
        raise refusal(NodeNotInitialised, "error.exchange.not_initialised")
    return node


def _new_key(session: Session, *, valid_from: datetime) -> NodeKey:
    private = Sm2PrivateKey.generate()
    kid = identity.key_id(private.public_key)
    key = NodeKey(
        key_id=kid,
        public_key=private.public_key.to_pem(),
        private_sealed=protection_service.seal_secret(private.to_pem(), purpose=_purpose(kid)),
        valid_from=valid_from,
    )
    session.add(key)
    return key


def init_node(
    session: Session,
    actor: Actor,
    *,
    code: str,
    level: str,
    name: str,
    url: str,
    settings: Settings | None = None,
) -> Node:
    """Make this deployment a node: its code and level (checked against GB/T 2260), name, public
    URL (https in production) and a first signing key. Once only."""
    require_node_staff(actor)
    settings = settings or get_settings()
    if get_node(session) is not None:
        raise refusal(NodeAlreadyInitialised, "error.exchange.already_initialised")
    code, name, url = code.strip(), name.strip(), url.strip().rstrip("/")
    problem = domain.code_issue(code, level)
    if problem is not None:
        raise refusal(
            IdentityInvalid, f"error.exchange.check.{problem}", field="code", code=code, level=level
        )
    if not name:
        raise refusal(IdentityInvalid, "error.exchange.identity.missing", field="name", name="name")
    for finding in domain.url_findings(url, production=settings.env == "production"):
        raise refusal(
            IdentityInvalid, f"error.exchange.check.{finding.reason}", field="url", url=url
        )
    now = utc_now()
    node = Node(code=code, level=level, name=name, url=url, created_at=now)
    session.add(node)
    key = _new_key(session, valid_from=now)
    session.flush()
    audit_service.record(
        session,
        actor,
        action="exchange.node.init",
        object_type="exchange_node",
        object_id=code,
        detail={"code": code, "level": level, "name": name, "url": url, "key_id": key.key_id},
    )
    return node


def list_keys(session: Session) -> list[NodeKey]:
    return list(session.scalars(select(NodeKey).order_by(NodeKey.valid_from, NodeKey.id)))


def current_key(session: Session) -> NodeKey:
    get_node_or_raise(session)
    keys = [k for k in list_keys(session) if k.valid_until is None]
    if not keys:
        raise refusal(NodeNotInitialised, "error.exchange.not_initialised")
    return keys[-1]


def signing_key(session: Session) -> Sm2PrivateKey:
    """The node's current private key, unsealed for signing (a package, a receipt, a document)."""
    key = current_key(session)
    pem = protection_service.open_secret(key.private_sealed, purpose=_purpose(key.key_id))
    return Sm2PrivateKey.from_pem(pem)


def public_keys(session: Session) -> list[identity.PublicKey]:
    """Every key the node ever signed with, with its validity: what peers verify against."""
    return [
        identity.PublicKey(
            key_id=k.key_id,
            public_key=Sm2PublicKey.from_pem(k.public_key),
            valid_from=k.valid_from,
            valid_until=k.valid_until,
        )
        for k in list_keys(session)
    ]


def rotate_key(session: Session, actor: Actor) -> NodeKey:
    """Retire the current key and make a new one current from now. The retired key's public half
    stays in the identity document with its validity, so older signatures still verify; peers
    must import the new document before they accept what the new key signs."""
    require_node_staff(actor)
    old = current_key(session)
    now = utc_now()
    old.valid_until = now
    new = _new_key(session, valid_from=now)
    session.flush()
    audit_service.record(
        session,
        actor,
        action="exchange.node.rotate_key",
        object_type="exchange_node",
        object_id=get_node_or_raise(session).code,
        detail={"retired": old.key_id, "current": new.key_id},
    )
    return new


def identity_document(session: Session, actor: Actor) -> identity.IdentityDocument:
    """This node's identity document, freshly signed by the current key."""
    require_node_staff(actor)
    node = get_node_or_raise(session)
    document = identity.issue(
        code=node.code,
        level=node.level,
        name=node.name,
        url=node.url,
        keys=public_keys(session),
        signer=signing_key(session),
        issued_at=utc_now(),
    )
    audit_service.record(
        session,
        actor,
        action="exchange.node.identity",
        object_type="exchange_node",
        object_id=node.code,
        detail={"key_id": document.signed_by},
    )
    return document
