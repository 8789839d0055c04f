"""Refusals of delivery. Each has its own stable code so that an institution's system can tell a
refused endpoint from an expired feed cursor without reading the message.

::

    DomainError
    ├── ValidationFailed
    │   ├── EndpointRefused      422 CB-WEBHOOK-URL-REFUSED   not https in production, or a loopback,
    │   │                                                     private, link-local or reserved address
    │   └── EventTypesInvalid    422 CB-WEBHOOK-EVENTS        no pattern, or one naming no event
    ├── Conflict
    │   └── EndpointDisabled     409 CB-WEBHOOK-DISABLED      a test or replay to a disabled endpoint:
    │                                                     enable it first
    ├── CursorUnknown            400 CB-FEED-CURSOR-UNKNOWN   a cursor this node never issued
    ├── CursorExpired            410 CB-FEED-CURSOR-EXPIRED   older than the retention; carries the
    │                                                     oldest cursor still served
    └── TopicUnknown             404 CB-FEED-TOPIC-UNKNOWN
"""

from __future__ import annotations

from typing import Any, TypeVar

from creditbridge.core.errors import Conflict, DomainError, Issue, ValidationFailed
from creditbridge.presentation.errors import keyed
from creditbridge.presentation.i18n import translate


class EndpointRefused(ValidationFailed):
    """A webhook URL that must not be called: the server would be made to reach inside its own
    network (SSRF), or send in clear text in production."""

    code = "CB-WEBHOOK-URL-REFUSED"
    title = "回调地址不被允许"


class EventTypesInvalid(ValidationFailed):
    code = "CB-WEBHOOK-EVENTS"
    title = "订阅的事件类型无效"


class EndpointDisabled(Conflict):
    """Raised when a test event, a replay or a retry is asked of a disabled endpoint: nothing
    would be sent, so the institution is told to enable it first rather than left waiting."""

    code = "CB-WEBHOOK-DISABLED"
    title = "回调地址已停用"


class CursorUnknown(DomainError):
    code = "CB-FEED-CURSOR-UNKNOWN"
    status_code = 400
    title = "游标无效：本节点从未签发"


class CursorExpired(DomainError):
    """The events after this cursor were purged: the caller resumes from ``oldest_cursor`` (and
    knows it missed what lay between), as Companies House's stream answers a too-old timepoint."""

    code = "CB-FEED-CURSOR-EXPIRED"
    status_code = 410
    title = "游标已过保留期"

    def __init__(self, message: str | None = None, *, oldest_cursor: str, **kw: Any) -> None:
        super().__init__(message, **kw)
        self.oldest_cursor = oldest_cursor

    def problem(self) -> dict[str, Any]:
        body = super().problem()
        body["oldest_cursor"] = self.oldest_cursor
        return body


class TopicUnknown(DomainError):
    code = "CB-FEED-TOPIC-UNKNOWN"
    status_code = 404
    title = "没有这个事件流"


# --- Keyed refusals ------------------------------------------------------------------------------
# Every refusal below carries a message key (presentation/messages/delivery.py), as other domains'
# do, so a page can explain it in English while the API's detail stays Chinese.

E = TypeVar("E", bound=DomainError)


def refusal(error: type[E], key: str, /, *, field: str | None = None, **params: object) -> E:
    """``error`` keyed as every domain's refusals are (``presentation.errors.keyed``); with
    ``field``, also one issue placing it on that form field."""
    issues = None
    if field is not None:
        text = translate("zh", key, **params)
        issues = [Issue("invalid", text, field=field, key=key, params=params)]
    return keyed(error, key, issues=issues, **params)


def url_refused(
    reason: str, *, url: str = "", host: str = "", address: str = ""
) -> EndpointRefused:
    """The refusal of a webhook URL: by its form (``error.delivery.url.<reason>``) or by an
    address its host resolves to (``error.delivery.address.<reason>``), naming that address."""
    if address:
        return refusal(
            EndpointRefused, f"error.delivery.address.{reason}", host=host, address=address
        )
    if reason == "unresolvable":
        return refusal(EndpointRefused, "error.delivery.url.unresolvable", host=host)
    return refusal(EndpointRefused, f"error.delivery.url.{reason}", url=url)


def events_invalid(reason: str, **params: object) -> EventTypesInvalid:
    return refusal(EventTypesInvalid, f"error.delivery.events.{reason}", field="events", **params)
