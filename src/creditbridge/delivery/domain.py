"""Pure rules of delivery: topics and subscriptions of event types, the Standard Webhooks retry
schedule, what a receiver's answer means, and which URLs and addresses a webhook may never point at."""

from __future__ import annotations

import fnmatch
import ipaddress
import random as _random
import re
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Final, Literal
from urllib.parse import urlsplit

from creditbridge.delivery.errors import events_invalid

TOPICS = ("consent", "marketplace", "webhook", "system")
"""The event feeds: an event type's first segment (``consent.granted`` is on ``consent``)."""

SCHEMES: Final = ("hmac-sha256", "hmac-sm3")
"""How a delivery is signed: ``hmac-sha256`` is the Standard Webhooks ``v1``; ``hmac-sm3`` adds a
``v1sm3`` signature beside it for national-cryptography deployments (see ``delivery.signing``)."""

ENDPOINT_STATUSES: Final = ("active", "disabled")
DELIVERY_STATUSES: Final = ("pending", "sending", "sent", "failed", "dead")

PING_EVENT: Final = "webhook.ping"


def topic_of(event_type: str) -> str:
    return event_type.split(".", 1)[0]


def subscribed(patterns: list[str], event_type: str) -> bool:
    """An endpoint subscribed to ``consent.*`` (or ``*``) hears ``consent.granted``."""
    return any(fnmatch.fnmatchcase(event_type, pattern) for pattern in patterns)


# --- Subscriptions -----------------------------------------------------------------------------

MAX_PATTERNS: Final = 50
# The outbox's event_type column is 64 characters; a longer exact type could never match.
MAX_PATTERN_LENGTH: Final = 64
_EVENT_TYPE = re.compile(r"[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+")


def validate_patterns(patterns: Iterable[str]) -> list[str]:
    """The subscription cleaned (stripped, repeats dropped, order kept): each pattern is ``*``,
    ``<topic>.*`` or an exact event type of a known topic. Any other wildcard is refused rather
    than guessed at, so an institution never silently subscribes to less (or more) than it meant.
    Raises :class:`~creditbridge.delivery.errors.EventTypesInvalid` naming the bad pattern."""
    cleaned: list[str] = []
    for raw in patterns:
        pattern = raw.strip()
        if not pattern or pattern in cleaned:
            continue
        if len(pattern) > MAX_PATTERN_LENGTH:
            raise events_invalid("too_long", pattern=pattern[:MAX_PATTERN_LENGTH] + "…")
        if pattern != "*":
            topic, _, rest = pattern.partition(".")
            if topic not in TOPICS:
                raise events_invalid("unknown_topic", pattern=pattern, topics=", ".join(TOPICS))
            if rest != "*" and not _EVENT_TYPE.fullmatch(pattern):
                raise events_invalid("malformed", pattern=pattern)
        cleaned.append(pattern)
    if not cleaned:
        raise events_invalid("empty")
    if len(cleaned) > MAX_PATTERNS:
        raise events_invalid("too_many", limit=MAX_PATTERNS)
    return cleaned


# --- Retries -----------------------------------------------------------------------------------

RETRY_SCHEDULE: Final[tuple[timedelta, ...]] = (
    timedelta(seconds=5),
    timedelta(minutes=5),
    timedelta(minutes=30),
    timedelta(hours=2),
    timedelta(hours=5),
    timedelta(hours=10),
    timedelta(hours=14),
    timedelta(hours=20),
    timedelta(hours=24),
)
"""The wait after attempt n is ``RETRY_SCHEDULE[n - 1]``: the Standard Webhooks (Svix) schedule,
stretched so that the last of the ten attempts comes about 3.1 days after the first — a receiver
down over a long weekend still gets its messages."""

MAX_ATTEMPTS: Final = len(RETRY_SCHEDULE) + 1

JITTER: Final = 0.10
# A receiver's Retry-After is honoured, but not beyond the longest wait of the schedule: a
# receiver cannot park a message past the point the schedule would have retried it anyway.
RETRY_AFTER_CAP: Final = timedelta(hours=24)


def next_delay(attempt: int, *, random: Callable[[], float] = _random.random) -> timedelta | None:
    """How long to wait after failed attempt number ``attempt`` (1 is the first), or None when it
    was the last. ``random`` (uniform in [0, 1)) spreads the wait by ±10 %, so that the messages
    of a receiver that was down do not all come back in the same second."""
    if attempt < 1:
        raise ValueError(f"attempts count from 1, not {attempt}")
    if attempt >= MAX_ATTEMPTS:
        return None
    base = RETRY_SCHEDULE[attempt - 1]
    return base * (1 + JITTER * (2 * random() - 1))


def retry_after_delay(header: str | None, now: datetime) -> timedelta | None:
    """The wait a ``Retry-After`` header asks for (RFC 9110 §10.2.3: seconds, or an HTTP date),
    at most :data:`RETRY_AFTER_CAP`; None when absent or unreadable. A date in the past is no
    wait at all."""
    if header is None or not header.strip():
        return None
    text = header.strip()
    if text.isdigit():
        delay = timedelta(seconds=int(text))
    else:
        try:
            when = parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError):
            return None
        if when.tzinfo is None:
            # RFC 9110 dates are GMT; email.utils reads "-0000" as "no zone given".
            when = when.replace(tzinfo=UTC)
        delay = max(when - now, timedelta(0))
    return min(delay, RETRY_AFTER_CAP)


Outcome = Literal["sent", "retry", "gone"]


def outcome_of(status_code: int | None) -> Outcome:
    """What a receiver's answer means (Standard Webhooks): any 2xx is delivered; 410 Gone says
    the endpoint no longer exists (it is disabled and the delivery dies); everything else —
    redirects, 4xx, 5xx, a timeout or a refused connection (``None``) — is tried again."""
    if status_code is not None and 200 <= status_code < 300:
        return "sent"
    if status_code == 410:
        return "gone"
    return "retry"


# --- Where a webhook may point (SSRF) ------------------------------------------------------------

AddressRefusal = Literal[
    "unspecified", "loopback", "link_local", "multicast", "shared", "reserved", "private"
]

_SHARED = ipaddress.ip_network("100.64.0.0/10")  # carrier-grade NAT (RFC 6598)
_NAT64 = ipaddress.ip_network("64:ff9b::/96")  # RFC 6052: the last 32 bits are an IPv4 address


def loopback_allowed(*, env: str, allow_loopback: bool) -> bool:
    """The setting opens loopback (and plain http) to tests and the demo, never to production."""
    return allow_loopback and env != "production"


def address_refusal(
    ip: str | ipaddress.IPv4Address | ipaddress.IPv6Address, *, allow_loopback: bool
) -> AddressRefusal | None:
    """Why the platform must not send to ``ip``, or None when it may. The platform sits inside a
    government network: a webhook URL is a way for anyone who registers one to make the server
    reach its neighbours (databases, the cloud's metadata service at 169.254.169.254), so only
    globally routed addresses are allowed. IPv6 forms that carry an IPv4 address (``::ffff:a.b.c.d``,
    NAT64, 6to4) are judged by the address they carry."""
    address = ipaddress.ip_address(ip) if isinstance(ip, str) else ip
    if isinstance(address, ipaddress.IPv6Address):
        embedded = address.ipv4_mapped
        if embedded is None and address in _NAT64:
            embedded = ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
        if embedded is not None:
            return address_refusal(embedded, allow_loopback=allow_loopback)
        if address.sixtofour is not None:
            carried = address_refusal(address.sixtofour, allow_loopback=False)
            if carried is not None:
                return carried
    if address.is_unspecified:
        # Connecting to 0.0.0.0 or :: reaches the host itself on Linux.
        return "unspecified"
    if address.is_loopback:
        return None if allow_loopback else "loopback"
    if address.is_link_local:
        return "link_local"
    if address.is_multicast:
        return "multicast"
    if address in _SHARED:
        return "shared"
    if address.is_reserved:
        return "reserved"
    if address.is_private or getattr(address, "is_site_local", False):
        return "private"
    if not address.is_global:
        return "reserved"
    return None


UrlRefusal = Literal["malformed", "scheme", "https_required", "userinfo", "no_host", "port"]

MAX_URL_LENGTH: Final = 2000


def url_refusal(url: str, *, env: str, allow_loopback: bool) -> UrlRefusal | None:
    """Why ``url`` cannot be a webhook endpoint by its form alone (its addresses are checked
    once resolved): https only — plain http only where loopback is allowed, outside production —
    no user name or password in it (they would be sent to whoever answers, and logged), a host,
    and a port in range."""
    if not url or len(url) > MAX_URL_LENGTH or any(c.isspace() or ord(c) < 32 for c in url):
        return "malformed"
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return "malformed"
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        return "scheme"
    if scheme == "http" and not loopback_allowed(env=env, allow_loopback=allow_loopback):
        return "https_required"
    if parts.username is not None or parts.password is not None or "@" in parts.netloc:
        return "userinfo"
    if not parts.hostname:
        return "no_host"
    if port is not None and not 0 < port < 65536:
        return "port"
    return None


def default_port(url: str) -> int:
    """The port a request to ``url`` goes to (for resolving its host)."""
    parts = urlsplit(url)
    if parts.port is not None:
        return parts.port
    return 443 if parts.scheme.lower() == "https" else 80
