"""Why a read of enterprise data is refused: one class per reason, each with a stable code.

::

    ConsentRequired (403)
    └── ConsentRefused              no valid consent; one subclass per Refusal, below
    RateLimited (429)
    └── ReadThrottled               the institution is throttled by abuse detection

The consent reasons are :class:`~creditbridge.core.errors.ConsentRequired` (403); their Problem
Details body also carries ``reason`` (the :class:`~creditbridge.consent.domain.Refusal` value).
Every one of them is a :class:`RefusalOnRecord`: it stays in the audit trail and the tally
although the request that provoked it fails.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, ClassVar

from creditbridge.access.errors import RateLimited
from creditbridge.consent.domain import Refusal
from creditbridge.core.errors import ConsentRequired
from creditbridge.presentation.i18n import translate

if TYPE_CHECKING:
    from sqlalchemy.orm import Session


class RefusalOnRecord:
    """A refused read whose audit event and refusal tally must outlive the failed request.

    :func:`creditbridge.consent.service.authorize_read` writes them in the request's transaction
    and sets :attr:`kept_on_rollback` to a function that writes them again. The unit of work of
    every entry point (``web.deps.get_write_session``, ``cli.context.transaction``) rolls the
    request back, then calls it and commits: the rest of the request is undone, the refusal
    stays. A caller that catches the refusal and carries on simply commits the first writes.
    """

    kept_on_rollback: Callable[[Session], None] | None = None

    @property
    def reason_code(self) -> str:
        """Why, as the refusal's audit event records it."""
        raise NotImplementedError


class ConsentRefused(RefusalOnRecord, ConsentRequired):
    """Base of the reasons; raised as such only for :attr:`Refusal.NONE`."""

    reason: ClassVar[Refusal] = Refusal.NONE
    default_key: ClassVar[str] = "error.consent.refused.none"

    def __init__(self, message: str | None = None, *, consent_id: int | None = None) -> None:
        if message is None:
            super().__init__(translate("zh", self.default_key), key=self.default_key)
        else:
            super().__init__(message)
        self.consent_id = consent_id

    @property
    def reason_code(self) -> str:
        return self.reason.value

    def problem(self) -> dict[str, Any]:
        body = super().problem()
        body["reason"] = self.reason.value
        return body


class ConsentPending(ConsentRefused):
    code = "CB-CONSENT-PENDING"
    reason = Refusal.REQUESTED
    default_key = "error.consent.refused.requested"


class ConsentExpired(ConsentRefused):
    code = "CB-CONSENT-EXPIRED"
    reason = Refusal.EXPIRED
    default_key = "error.consent.refused.expired"


class ConsentRevoked(ConsentRefused):
    code = "CB-CONSENT-REVOKED"
    reason = Refusal.REVOKED
    default_key = "error.consent.refused.revoked"


class ConsentPaused(ConsentRefused):
    code = "CB-CONSENT-PAUSED"
    reason = Refusal.PAUSED
    default_key = "error.consent.refused.paused"


class ConsentRejected(ConsentRefused):
    code = "CB-CONSENT-REJECTED"
    reason = Refusal.REJECTED
    default_key = "error.consent.refused.rejected"


class ConsentPurposeMismatch(ConsentRefused):
    code = "CB-CONSENT-PURPOSE"
    reason = Refusal.PURPOSE
    default_key = "error.consent.refused.purpose"


class ConsentScopeMismatch(ConsentRefused):
    code = "CB-CONSENT-SCOPE"
    reason = Refusal.SCOPE
    default_key = "error.consent.refused.scope"


class ConsentDataRangeMismatch(ConsentRefused):
    code = "CB-CONSENT-DATA-RANGE"
    reason = Refusal.DATA_RANGE
    default_key = "error.consent.refused.data_range"


class ConsentUsesExhausted(ConsentRefused):
    code = "CB-CONSENT-USES-EXHAUSTED"
    reason = Refusal.USES_EXHAUSTED
    default_key = "error.consent.refused.uses_exhausted"


class ConsentOtherInstitution(ConsentRefused):
    code = "CB-CONSENT-OTHER-INSTITUTION"
    reason = Refusal.OTHER_INSTITUTION
    default_key = "error.consent.refused.other_institution"


BY_REASON: dict[Refusal, type[ConsentRefused]] = {
    Refusal.NONE: ConsentRefused,
    Refusal.REQUESTED: ConsentPending,
    Refusal.EXPIRED: ConsentExpired,
    Refusal.REVOKED: ConsentRevoked,
    Refusal.PAUSED: ConsentPaused,
    Refusal.REJECTED: ConsentRejected,
    Refusal.PURPOSE: ConsentPurposeMismatch,
    Refusal.SCOPE: ConsentScopeMismatch,
    Refusal.DATA_RANGE: ConsentDataRangeMismatch,
    Refusal.USES_EXHAUSTED: ConsentUsesExhausted,
    Refusal.OTHER_INSTITUTION: ConsentOtherInstitution,
}


class ReadThrottled(RefusalOnRecord, RateLimited):
    """Raised when an institution throttled by abuse detection (too many refusals, or far more
    reads than usual) asks to read enterprise data; answered 429 with Retry-After."""

    @property
    def reason_code(self) -> str:
        return "throttled"


def refused(reason: Refusal, *, consent_id: int | None = None) -> ConsentRefused:
    return BY_REASON[reason](consent_id=consent_id)
