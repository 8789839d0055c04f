"""What the node pages read: this node with its current key, one page of its peers (filtered and
sorted in SQL), and one peer with its keys and admission reviews. Reads of the platform's own
configuration, not of enterprise data: they are not audited; every change they lead to is (the
admission functions)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from creditbridge.core.actors import Actor
from creditbridge.core.crypto import Sm2PublicKey
from creditbridge.exchange import domain, identity
from creditbridge.exchange.models import AdmissionReview, Node, NodeKey, Peer
from creditbridge.exchange.service._common import require_node_staff
from creditbridge.exchange.service.admission import list_reviews
from creditbridge.exchange.service.node import get_node, list_keys
from creditbridge.exchange.service.peers import get_peer_or_raise, peer_keys

PEER_SORTS: Final = {
    "code": Peer.code,
    "status": Peer.status,
    "last_contact_at": Peer.last_contact_at,
    "lag": Peer.lag_seconds,
}


@dataclass(frozen=True)
class NodeOverview:
    """This node, or None before ``node init``; its current key and that key's full SM3
    fingerprint (what an operator reads out to a peer's operator to confirm an import)."""

    node: Node | None
    key: NodeKey | None
    fingerprint: str | None
    keys: Sequence[NodeKey]


def node_overview(session: Session, actor: Actor) -> NodeOverview:
    require_node_staff(actor)
    node = get_node(session)
    if node is None:
        return NodeOverview(None, None, None, [])
    keys = list_keys(session)
    current = [k for k in keys if k.valid_until is None]
    key = current[-1] if current else None
    fingerprint = None if key is None else Sm2PublicKey.from_pem(key.public_key).fingerprint
    return NodeOverview(node, key, fingerprint, keys)


def search_peers(
    session: Session,
    actor: Actor,
    *,
    status: str | None = None,
    relation: str | None = None,
    sort: str = "code",
    descending: bool = False,
    offset: int = 0,
    limit: int = 20,
) -> tuple[list[Peer], int]:
    """One page of the registry and how many peers match; upstream first, then by ``sort``."""
    require_node_staff(actor)
    query = select(Peer)
    if status in domain.PEER_STATUSES:
        query = query.where(Peer.status == status)
    if relation in domain.RELATIONS:
        query = query.where(Peer.relation == relation)
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    column = PEER_SORTS.get(sort, Peer.code)
    order = column.desc().nulls_last() if descending else column.asc().nulls_last()
    rows = session.scalars(
        query.order_by(Peer.relation.desc(), order, Peer.id).offset(offset).limit(limit)
    )
    return list(rows), total


@dataclass(frozen=True)
class PeerView:
    peer: Peer
    keys: tuple[identity.PublicKey, ...]
    reviews: list[AdmissionReview]


def peer_view(session: Session, actor: Actor, code: str) -> PeerView:
    """A peer with the keys of its stored identity document and its reviews, oldest first."""
    require_node_staff(actor)
    peer = get_peer_or_raise(session, code)
    return PeerView(peer, peer_keys(peer), list_reviews(session, code=code))
