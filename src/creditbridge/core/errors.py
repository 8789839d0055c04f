"""The error tree. Every failure a user can cause is one of these; one handler renders them.

::

    DomainError                     something a user or caller did that the platform refuses
    ├── NotFound                    the thing does not exist, or the actor may not know it does
    ├── Forbidden                   the actor is known but may not do this
    │   └── ConsentRequired         no consent is valid for this institution, purpose and scope
    ├── Conflict                    the request clashes with the current state
    │   ├── InvalidTransition       a workflow move the state machine does not allow
    │   └── DuplicateDelivery       an idempotency key seen before with different content
    ├── ValidationFailed            input is malformed; carries one Issue per row/field
    ├── ExchangeError               another node answered wrongly or not at all
    └── Busy                        the worker is at its admission limit; retry after a while (503)
    PlatformError                   the platform itself cannot work (not the user's fault)
    ├── DatabaseUnavailable         the database URL cannot be reached
    └── CryptoError                 a cryptographic operation failed (core/crypto/errors.py)
        ├── InvalidKey              malformed key material or PEM
        └── DecryptionFailed        wrong key, wrong AAD or an altered token

Each error has a stable ``code`` (``CB-…``) for the API and a Chinese ``message`` for screens.
The HTTP status lives here too so that handlers never choose it.

An error (and an :class:`Issue`) may also carry a message ``key`` and its ``params``: the key names
a ``(zh, en)`` pair of the message tables (``creditbridge.presentation``), so a page in English shows
the refusal in English while the API's ``detail`` stays the Chinese ``message``. The tables sit above
this module, so the text for a key is filled in by ``creditbridge.presentation.errors.keyed``. The
title of each class is the pair ``error.<code>`` of the same tables.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar


@dataclass(frozen=True)
class Issue:
    """One problem with one piece of input: where it is and why it is wrong."""

    code: str
    message: str
    field: str | None = None
    row: int | None = None
    value: str | None = None
    location: str | None = None
    # The message as a key of the message tables, for pages in another language than Chinese.
    key: str | None = None
    params: Mapping[str, object] | None = dataclasses.field(default=None, hash=False)

    def as_dict(self) -> dict[str, Any]:
        body = {k: v for k, v in self.__dict__.items() if v is not None}
        if self.params is not None:
            body["params"] = plain_params(self.params)
        return body

    def __str__(self) -> str:
        where = []
        if self.location:
            where.append(self.location)
        if self.row is not None:
            where.append(f"第{self.row}行")
        if self.field:
            where.append(f"字段 {self.field}")
        prefix = "，".join(where)
        return f"{prefix}：{self.message}" if prefix else self.message


def plain_params(params: Mapping[str, object]) -> dict[str, object]:
    """Message parameters as JSON can carry them: numbers, text and booleans as they are, anything
    else (a date, a Decimal) as its text."""
    return {
        name: value if value is None or isinstance(value, str | int | float | bool) else str(value)
        for name, value in params.items()
    }


class DomainError(Exception):
    """Base of every refusal a user or caller can provoke."""

    code: ClassVar[str] = "CB-DOMAIN"
    status_code: ClassVar[int] = 400
    title: ClassVar[str] = "请求无法处理"

    def __init__(
        self,
        message: str | None = None,
        *,
        key: str | None = None,
        params: Mapping[str, object] | None = None,
        issues: list[Issue] | None = None,
    ) -> None:
        """``message`` is the Chinese text (the class title when omitted); ``key`` and ``params``
        name the same text in the message tables, for pages in other languages."""
        text = self.title if message is None else message
        super().__init__(text)
        self.message = text
        self.key = key
        self.params: dict[str, object] = dict(params or {})
        self.issues: list[Issue] = list(issues or [])

    @classmethod
    def title_key(cls) -> str:
        """The message key of the class's title, in every language."""
        return f"error.{cls.code}"

    def problem(self) -> dict[str, Any]:
        """RFC 9457 Problem Details body; ``key`` and ``params`` let a client translate ``detail``."""
        body: dict[str, Any] = {
            "type": f"urn:creditbridge:error:{self.code}",
            "title": self.title,
            "status": self.status_code,
            "detail": self.message,
            "code": self.code,
        }
        if self.key is not None:
            body["key"] = self.key
            body["params"] = plain_params(self.params)
        if self.issues:
            body["errors"] = [issue.as_dict() for issue in self.issues]
        return body


class NotFound(DomainError):
    """Raised when a thing does not exist or the actor may not learn that it exists."""

    code = "CB-NOT-FOUND"
    status_code = 404
    title = "未找到"


class Forbidden(DomainError):
    """Raised when the actor is known but lacks the right to do this."""

    code = "CB-FORBIDDEN"
    status_code = 403
    title = "无权访问"


class ConsentRequired(Forbidden):
    """Raised when non-public data is asked for without a consent valid for it at this moment."""

    code = "CB-CONSENT-REQUIRED"
    title = "缺少有效授权"


class Conflict(DomainError):
    """Raised when the request clashes with the current state of the thing."""

    code = "CB-CONFLICT"
    status_code = 409
    title = "状态冲突"


class InvalidTransition(Conflict):
    """Raised when a workflow is asked for a move its transition map does not allow."""

    code = "CB-INVALID-TRANSITION"
    title = "不允许的状态变更"


class DuplicateDelivery(Conflict):
    """Raised when an idempotency key is reused for different content."""

    code = "CB-DUPLICATE-DELIVERY"
    title = "重复提交"


class ValidationFailed(DomainError):
    """Raised when input is malformed; ``issues`` names each row, field and reason."""

    code = "CB-VALIDATION"
    status_code = 422
    title = "输入有误"


class ExchangeError(DomainError):
    """Raised when another node answers wrongly or not at all."""

    code = "CB-EXCHANGE"
    status_code = 502
    title = "节点交换失败"


class Busy(DomainError):
    """Raised when a worker is at an admission limit (requests in flight, PDF renders, database
    connections): answered 503 with ``Retry-After`` rather than queued without bound."""

    code = "CB-BUSY"
    status_code = 503
    title = "系统繁忙，请稍后重试"

    def __init__(self, message: str | None = None, *, retry_after: int = 2) -> None:
        super().__init__(
            "系统繁忙，请稍后重试" if message is None else message,
            key="error.busy" if message is None else None,
        )
        self.headers = {"Retry-After": str(retry_after)}


class PlatformError(Exception):
    """The platform itself cannot work: configuration, storage, a missing dependency."""

    code: ClassVar[str] = "CB-PLATFORM"


class DatabaseUnavailable(PlatformError):
    """Raised at start-up when the database cannot be reached; the message masks the password."""

    code = "CB-DATABASE-UNAVAILABLE"
