"""What the topics of the ingest service share: batch statuses, sources, who is an operator."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, Final

from creditbridge.core.actors import Actor, ActorKind, Role

APPLIED = "applied"
REFUSED = "refused"

ISSUE_PREVIEW: Final = 20
"""Issues kept with a batch's outcome; the whole report is :func:`~.rejects.list_rejects`."""

Source = Path | bytes | Iterable[Mapping[str, Any]]
"""A file (path or bytes, read by its file name) or rows already parsed (the API, a connector)."""


def is_operator(actor: Actor) -> bool:
    return actor.kind in (ActorKind.CLI, ActorKind.SYSTEM) or actor.has_role(Role.OPERATOR)
