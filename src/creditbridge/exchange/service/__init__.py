"""The node network's use cases, one module per topic (node, peers, admission); this package
re-exports them so callers import ``creditbridge.exchange.service``."""

from creditbridge.exchange.service.admission import (
    Check,
    admit,
    list_reviews,
    may_exchange,
    reject,
    revoke,
    run_checks,
    submit_assessment,
    suspend,
)
from creditbridge.exchange.service.node import (
    current_key,
    get_node,
    get_node_or_raise,
    identity_document,
    init_node,
    list_keys,
    public_keys,
    rotate_key,
    signing_key,
)
from creditbridge.exchange.service.peers import (
    NodeStatus,
    PeerStatusRow,
    add_peer,
    get_peer_or_raise,
    list_peers,
    node_status,
    peer_keys,
)
from creditbridge.exchange.service.views import node_overview, peer_view, search_peers

__all__ = [
    "Check",
    "NodeStatus",
    "PeerStatusRow",
    "add_peer",
    "admit",
    "current_key",
    "get_node",
    "get_node_or_raise",
    "get_peer_or_raise",
    "identity_document",
    "init_node",
    "list_keys",
    "list_peers",
    "list_reviews",
    "may_exchange",
    "node_overview",
    "node_status",
    "peer_keys",
    "peer_view",
    "public_keys",
    "reject",
    "revoke",
    "rotate_key",
    "run_checks",
    "search_peers",
    "signing_key",
    "submit_assessment",
    "suspend",
]
