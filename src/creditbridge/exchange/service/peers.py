"""The registry of peers: importing a peer's signed identity document (one upstream at most, any
number downstream), listing them, and this node's status for ``node status``."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from creditbridge.audit import service as audit_service
from creditbridge.core.actors import Actor
from creditbridge.core.clock import utc_now
from creditbridge.exchange import domain, identity
from creditbridge.exchange.errors import IdentityInvalid, PeerConflict, PeerUnknown, refusal
from creditbridge.exchange.models import Node, Peer
from creditbridge.exchange.service._common import require_node_staff
from creditbridge.exchange.service.node import current_key, get_node_or_raise
from creditbridge.subjects import service as subjects_service


def list_peers(session: Session) -> list[Peer]:
    return list(session.scalars(select(Peer).order_by(Peer.relation.desc(), Peer.code)))


def get_peer_or_raise(session: Session, code: str) -> Peer:
    peer = session.scalars(select(Peer).where(Peer.code == code)).first()
    if peer is None:
        raise refusal(PeerUnknown, "error.exchange.peer_unknown", code=code)
    return peer


def add_peer(session: Session, actor: Actor, *, document: Any, relation: str) -> Peer:
    """Register the node whose identity ``document`` (parsed JSON) is, after its signature
    verifies. It starts as ``applied``: nothing is exchanged until it is admitted. Importing a
    newer document of a known peer (after its key rotation) updates its keys and URL instead."""
    require_node_staff(actor)
    this = get_node_or_raise(session)
    if relation not in domain.RELATIONS:
        raise refusal(
            IdentityInvalid,
            "error.exchange.relation",
            field="relation",
            relations=" | ".join(domain.RELATIONS),
        )
    parsed = identity.parse(document)
    if parsed.code == this.code:
        raise refusal(PeerConflict, "error.exchange.peer_self", code=parsed.code)
    now = utc_now()
    existing = session.scalars(select(Peer).where(Peer.code == parsed.code)).first()
    if existing is not None:
        return _refresh(session, actor, existing, parsed, relation=relation, now=now)
    if relation == "upstream":
        upstream = session.scalars(select(Peer.code).where(Peer.relation == "upstream")).first()
        if upstream is not None:
            raise refusal(PeerConflict, "error.exchange.second_upstream", code=upstream)
    peer = Peer(
        code=parsed.code,
        level=parsed.level,
        name=parsed.name,
        url=parsed.url,
        relation=relation,
        status="applied",
        identity=parsed.as_dict(),
        identity_issued_at=parsed.issued_at,
        created_at=now,
        updated_at=now,
    )
    session.add(peer)
    session.flush()
    audit_service.record(
        session,
        actor,
        action="exchange.peer.add",
        object_type="exchange_peer",
        object_id=peer.code,
        detail={
            "code": peer.code,
            "level": peer.level,
            "relation": relation,
            "url": peer.url,
            "keys": [k.key_id for k in parsed.keys],
        },
    )
    return peer


def _refresh(
    session: Session,
    actor: Actor,
    peer: Peer,
    parsed: identity.IdentityDocument,
    *,
    relation: str,
    now: datetime,
) -> Peer:
    if relation != peer.relation:
        raise refusal(
            PeerConflict, "error.exchange.relation_changed", code=peer.code, relation=peer.relation
        )
    # An older document must not roll a peer's keys back to ones it has retired.
    if parsed.issued_at <= peer.identity_issued_at:
        raise refusal(PeerConflict, "error.exchange.identity_stale", code=peer.code)
    if parsed.level != peer.level:
        raise refusal(PeerConflict, "error.exchange.level_changed", code=peer.code)
    peer.name, peer.url = parsed.name, parsed.url
    peer.identity, peer.identity_issued_at, peer.updated_at = (
        parsed.as_dict(),
        parsed.issued_at,
        now,
    )
    session.flush()
    audit_service.record(
        session,
        actor,
        action="exchange.peer.refresh",
        object_type="exchange_peer",
        object_id=peer.code,
        detail={"url": peer.url, "keys": [k.key_id for k in parsed.keys]},
    )
    return peer


def peer_keys(peer: Peer) -> tuple[identity.PublicKey, ...]:
    """The peer's public keys from its stored (already verified) identity document."""
    return identity.parse(peer.identity).keys


@dataclass(frozen=True)
class PeerStatusRow:
    code: str
    relation: str
    status: str
    packages_sent: int
    packages_received: int
    records_received: int
    lag: int | None
    last_sync_at: str | None

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass(frozen=True)
class NodeStatus:
    node: Node
    key_id: str
    records_local: int
    peers: list[PeerStatusRow]

    def as_dict(self) -> dict[str, Any]:
        return {
            "node": {
                "code": self.node.code,
                "level": self.node.level,
                "name": self.node.name,
                "url": self.node.url,
                "key_id": self.key_id,
            },
            "records_local": self.records_local,
            "peers": [p.as_dict() for p in self.peers],
        }


def node_status(session: Session, actor: Actor) -> NodeStatus:
    """This node, its record count and each peer's exchange figures. The package and record
    counts are 0 until the sync writes its exchange log."""
    require_node_staff(actor)
    node = get_node_or_raise(session)
    rows = [
        PeerStatusRow(
            code=p.code,
            relation=p.relation,
            status=p.status,
            packages_sent=0,
            packages_received=0,
            records_received=0,
            lag=p.lag_seconds,
            last_sync_at=None if p.last_sync_at is None else p.last_sync_at.isoformat(),
        )
        for p in list_peers(session)
    ]
    return NodeStatus(
        node=node,
        key_id=current_key(session).key_id,
        records_local=subjects_service.count_records(session),
        peers=rows,
    )
