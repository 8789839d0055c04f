"""Why a read of non-public data is refused: one class per reason, each with a stable code.

All are :class:`~creditbridge.core.errors.ConsentRequired` (403); the Problem Details body also
carries ``reason`` (the :class:`~creditbridge.consent.domain.Refusal` value).
"""

from __future__ import annotations

from typing import Any, ClassVar

from creditbridge.consent.domain import Refusal
from creditbridge.core.errors import ConsentRequired


class ConsentRefused(ConsentRequired):
    """Base of the reasons; raised as such only for :attr:`Refusal.NONE`."""

    reason: ClassVar[Refusal] = Refusal.NONE
    default_message: ClassVar[str] = "未取得该企业的有效授权，不能查询非公开信息"

    def __init__(self, message: str | None = None, *, consent_id: int | None = None) -> None:
        super().__init__(message or self.default_message)
        self.consent_id = consent_id

    def problem(self) -> dict[str, Any]:
        body = super().problem()
        body["reason"] = self.reason.value
        return body


class ConsentPending(ConsentRefused):
    code = "CB-CONSENT-PENDING"
    reason = Refusal.REQUESTED
    default_message = "授权尚待企业确认，不能查询"


class ConsentExpired(ConsentRefused):
    code = "CB-CONSENT-EXPIRED"
    reason = Refusal.EXPIRED
    default_message = "授权已过期，不能查询"


class ConsentRevoked(ConsentRefused):
    code = "CB-CONSENT-REVOKED"
    reason = Refusal.REVOKED
    default_message = "企业已撤销授权，不能查询"


class ConsentPaused(ConsentRefused):
    code = "CB-CONSENT-PAUSED"
    reason = Refusal.PAUSED
    default_message = "企业已暂停授权，不能查询"


class ConsentRejected(ConsentRefused):
    code = "CB-CONSENT-REJECTED"
    reason = Refusal.REJECTED
    default_message = "企业已拒绝授权，不能查询"


class ConsentPurposeMismatch(ConsentRefused):
    code = "CB-CONSENT-PURPOSE"
    reason = Refusal.PURPOSE
    default_message = "查询用途超出授权用途"


class ConsentScopeMismatch(ConsentRefused):
    code = "CB-CONSENT-SCOPE"
    reason = Refusal.SCOPE
    default_message = "查询的信息类别超出授权范围"


class ConsentDataRangeMismatch(ConsentRefused):
    code = "CB-CONSENT-DATA-RANGE"
    reason = Refusal.DATA_RANGE
    default_message = "查询的数据期间超出授权范围"


class ConsentUsesExhausted(ConsentRefused):
    code = "CB-CONSENT-USES-EXHAUSTED"
    reason = Refusal.USES_EXHAUSTED
    default_message = "授权的查询次数已用完"


class ConsentOtherInstitution(ConsentRefused):
    code = "CB-CONSENT-OTHER-INSTITUTION"
    reason = Refusal.OTHER_INSTITUTION
    default_message = "该授权不是授予本机构的"


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


def refused(reason: Refusal, *, consent_id: int | None = None) -> ConsentRefused:
    return BY_REASON[reason](consent_id=consent_id)
