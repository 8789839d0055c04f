"""Refusals of the node network. Each has a stable code so that another node's system can tell a
forged identity from a wrong relation without reading the message.

::

    DomainError
    ├── NotFound
    │   ├── NodeNotInitialised   404 CB-NODE-NOT-INITIALISED   `creditbridge node init` was never run
    │   └── PeerUnknown          404 CB-NODE-PEER-UNKNOWN      no peer registered under this code
    ├── ValidationFailed
    │   ├── IdentityInvalid      422 CB-NODE-IDENTITY-INVALID  a malformed or badly signed identity
    │   │                                                      document (names the field)
    │   ├── AssessmentInvalid    422 CB-NODE-ASSESSMENT-INVALID a self-assessment missing or with a
    │   │                                                      bad field (names it)
    │   └── ChecksFailed         422 CB-NODE-CHECKS-FAILED     the automated admission checks found
    │                                                      problems (one issue each)
    └── Conflict
        ├── NodeAlreadyInitialised 409 CB-NODE-ALREADY-INITIALISED
        ├── PeerConflict          409 CB-NODE-PEER-CONFLICT   a second upstream, a peer twice, a
        │                                                     peer with this node's own code
        └── InvalidTransition     409 CB-INVALID-TRANSITION   (core) a move the peer workflow refuses
"""

from __future__ import annotations

from typing import TypeVar

from creditbridge.core.errors import Conflict, DomainError, Issue, NotFound, ValidationFailed
from creditbridge.presentation.errors import keyed
from creditbridge.presentation.i18n import translate


class NodeNotInitialised(NotFound):
    code = "CB-NODE-NOT-INITIALISED"
    title = "本节点尚未初始化"


class NodeAlreadyInitialised(Conflict):
    """Raised by a second ``node init``: a node's code and keys are what its peers know it by, so
    they are never replaced silently (rotate the key instead)."""

    code = "CB-NODE-ALREADY-INITIALISED"
    title = "本节点已初始化"


class PeerUnknown(NotFound):
    code = "CB-NODE-PEER-UNKNOWN"
    title = "未登记该节点"


class PeerConflict(Conflict):
    code = "CB-NODE-PEER-CONFLICT"
    title = "节点登记冲突"


class IdentityInvalid(ValidationFailed):
    """Raised for an identity document that is malformed, or whose signature does not verify with
    the key it names: it is never imported, so a forged node cannot enter the registry."""

    code = "CB-NODE-IDENTITY-INVALID"
    title = "节点身份文件无效"


class AssessmentInvalid(ValidationFailed):
    code = "CB-NODE-ASSESSMENT-INVALID"
    title = "接入评估材料有误"


class ChecksFailed(ValidationFailed):
    """Raised when the automated technical checks of an admission fail; each failure is one
    issue, so the operator sees them all at once."""

    code = "CB-NODE-CHECKS-FAILED"
    title = "接入技术检查未通过"


E = TypeVar("E", bound=DomainError)


def refusal(error: type[E], key: str, /, *, field: str | None = None, **params: object) -> E:
    """``error`` keyed by ``key`` (presentation/messages/exchange.py); with ``field``, one issue
    placing it on that field, so a bad input names what to fix."""
    issues: list[Issue] | None = None
    if field is not None:
        issues = [
            Issue("invalid", translate("zh", key, **params), field=field, key=key, params=params)
        ]
    return keyed(error, key, issues=issues, **params)


def identity_invalid(reason: str, *, field: str, **params: object) -> IdentityInvalid:
    return refusal(IdentityInvalid, f"error.exchange.identity.{reason}", field=field, **params)


def assessment_invalid(reason: str, *, field: str, **params: object) -> AssessmentInvalid:
    return refusal(AssessmentInvalid, f"error.exchange.assessment.{reason}", field=field, **params)
