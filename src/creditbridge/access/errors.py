"""Refusals of the trust layer. Each API failure has its own stable code so that a client can tell
a clock problem from a key problem without reading the message.

::

    DomainError
    ├── Unauthenticated            401 CB-AUTH-REQUIRED   no login session / no signature
    │   ├── LoginFailed            401 CB-LOGIN-FAILED    wrong user, password or code (never says which)
    │   ├── SignatureInvalid       401 CB-AUTH-SIGNATURE  missing, malformed or wrong signature
    │   ├── StaleRequest           401 CB-AUTH-STALE      timestamp outside the allowed skew
    │   ├── ReplayedNonce          401 CB-AUTH-REPLAY     nonce seen before for this key
    │   ├── UnknownKey             401 CB-AUTH-UNKNOWN-KEY
    │   └── ClientSuspended        401 CB-AUTH-SUSPENDED  client or its institution not active
    ├── Forbidden
    │   └── CsrfFailed             403 CB-CSRF            form without its synchronizer token
    └── RateLimited                429 CB-RATE-LIMITED    with Retry-After
"""

from __future__ import annotations

from typing import ClassVar

from creditbridge.core.errors import DomainError, Forbidden


class Unauthenticated(DomainError):
    """Raised when a request needs an identity and carries none (or an expired one)."""

    code = "CB-AUTH-REQUIRED"
    status_code = 401
    title = "需要登录"


class LoginFailed(Unauthenticated):
    """Raised for any failed login: the message never reveals whether the account exists."""

    code = "CB-LOGIN-FAILED"
    title = "登录失败"


class SignatureInvalid(Unauthenticated):
    """Raised when signature headers are missing or malformed, or the signature does not verify."""

    code = "CB-AUTH-SIGNATURE"
    title = "签名无效"


class StaleRequest(Unauthenticated):
    """Raised when the request's timestamp is outside the allowed clock skew."""

    code = "CB-AUTH-STALE"
    title = "请求时间超出允许范围"


class ReplayedNonce(Unauthenticated):
    """Raised when a nonce was already accepted for this key."""

    code = "CB-AUTH-REPLAY"
    title = "重复的请求"


class UnknownKey(Unauthenticated):
    """Raised when no API client has the request's key id."""

    code = "CB-AUTH-UNKNOWN-KEY"
    title = "未知的密钥"


class ClientSuspended(Unauthenticated):
    """Raised when the API client, or the institution it belongs to, is not active."""

    code = "CB-AUTH-SUSPENDED"
    title = "接入已暂停"


class CsrfFailed(Forbidden):
    """Raised when an unsafe page request lacks the session's synchronizer token."""

    code = "CB-CSRF"
    title = "表单已失效"


class RateLimited(DomainError):
    """Raised when a client or a throttled institution asks too often; says when to retry."""

    code = "CB-RATE-LIMITED"
    status_code: ClassVar[int] = 429
    title = "请求过于频繁"

    def __init__(self, message: str, *, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = max(1, retry_after)
        self.headers = {"Retry-After": str(self.retry_after)}
