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
    │   ├── CsrfFailed             403 CB-CSRF            form without its synchronizer token
    │   ├── BindingRefused         403 CB-BINDING-REFUSED an account bound to an enterprise or
    │   │                                                 institution by someone outside it
    │   └── SecondAdminRequired    403 CB-SECOND-ADMIN    an admin changing another admin alone
    ├── ValidationFailed
    │   ├── PasswordChangeRefused  422 CB-VALIDATION      wrong current password; kept on rollback
    │   └── RegistrationRefused    422 CB-REGISTER-UNVERIFIED  legal representative not confirmed;
    │                                                 counted and audited, kept on rollback
    └── RateLimited                429 CB-RATE-LIMITED    with Retry-After
        └── TooManyAttempts        429 CB-TOO-MANY-ATTEMPTS  registration or login tried too often
                                                          from one address or for one enterprise
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, ClassVar

from creditbridge.core.errors import DomainError, Forbidden, ValidationFailed

if TYPE_CHECKING:
    from sqlalchemy.orm import Session


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


class BindingRefused(Forbidden):
    """Raised when an account would be bound to an enterprise or an institution by anyone but that
    organisation: enterprise accounts come from a verified registration or a colleague's
    invitation, officers from their institution's officer-administrator's invitation."""

    code = "CB-BINDING-REFUSED"
    title = "无权绑定企业或机构账户"


class SecondAdminRequired(Forbidden):
    """Raised when an administrator disables, demotes or re-roles an administrator account (or
    grants an admin role) directly: such a change is proposed and another administrator approves
    it (三员分立)."""

    code = "CB-SECOND-ADMIN"
    title = "须另一名管理员批准"


class PasswordChangeRefused(ValidationFailed):
    """Raised when a password change gives a wrong current password, or the account is locked.

    The failure counts towards the lockout and is audited even though the request fails:
    :attr:`kept_on_rollback` writes both again after the entry point's unit of work
    (``web.deps.get_write_session``) has rolled the request back, and commits them.
    """

    kept_on_rollback: Callable[[Session], None] | None = None


class RateLimited(DomainError):
    """Raised when a client or a throttled institution asks too often; says when to retry."""

    code = "CB-RATE-LIMITED"
    status_code: ClassVar[int] = 429
    title = "请求过于频繁"

    def __init__(
        self,
        message: str,
        *,
        retry_after: int,
        key: str | None = None,
        params: Mapping[str, object] | None = None,
    ) -> None:
        super().__init__(message, key=key, params=params)
        self.retry_after = max(1, retry_after)
        self.headers = {"Retry-After": str(self.retry_after)}


class RegistrationRefused(ValidationFailed):
    """Raised when registration's legal-representative check fails. The failure counts towards
    the per-code and per-address limits and is audited although the request fails: both are
    written again by :attr:`kept_on_rollback` after the entry point rolls back."""

    code = "CB-REGISTER-UNVERIFIED"
    title = "法定代表人核验未通过"
    kept_on_rollback: Callable[[Session], None] | None = None


class TooManyAttempts(RateLimited):
    """Raised when registration checks or logins failed too often in the window, for one
    enterprise code or from one client address; says when to retry. The refusal's audit event is
    kept when the request rolls back."""

    code = "CB-TOO-MANY-ATTEMPTS"
    title = "尝试次数过多"
    kept_on_rollback: Callable[[Session], None] | None = None
