"""What the exchange's use cases share: who may run the node network."""

from __future__ import annotations

from creditbridge.core.actors import Actor, ActorKind, Role
from creditbridge.core.errors import Forbidden
from creditbridge.presentation.errors import keyed

# The node's identity, keys and peers are the platform's own: its console and jobs, its
# operators (admission reviews) and its system and security administrators (keys).
NODE_ROLES = (Role.OPERATOR, Role.SYSTEM_ADMIN, Role.SECURITY_ADMIN)


def require_node_staff(actor: Actor) -> None:
    if actor.kind in (ActorKind.CLI, ActorKind.SYSTEM) or actor.has_role(*NODE_ROLES):
        return
    raise keyed(Forbidden, "error.exchange.forbidden")
