"""Signing webhook deliveries by the Standard Webhooks contract (https://www.standardwebhooks.com).

A delivery carries ``webhook-id`` (the message's stable id, which receivers drop repeats by),
``webhook-timestamp`` (Unix seconds) and ``webhook-signature``: space-separated ``<version>,<base64>``
signatures of ``"{id}.{timestamp}.{body}"`` under the endpoint's secret (``whsec_`` + base64).

- ``hmac-sha256``: ``v1``, made by the reference library itself, so any Standard Webhooks or Svix
  library verifies it.
- ``hmac-sm3`` (national-cryptography deployments): the same ``v1`` and, beside it, ``v1sm3`` — an
  HMAC-SM3 (GB/T 15852.2) of the same signed content under the same key. The spec lets a header
  carry several signatures and tells verifiers to skip versions they do not know, so ordinary
  libraries still verify ``v1`` while a receiver bound to SM algorithms checks ``v1sm3``
  (:func:`verify_sm3`).

Nothing here invents cryptography: it composes the reference library and the platform's HMAC-SM3.
"""

from __future__ import annotations

import base64
import binascii
import secrets
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from math import floor
from typing import Final

from standardwebhooks import Webhook, WebhookVerificationError

from creditbridge.core.crypto.digest import constant_time_equal, hmac_sm3

SECRET_PREFIX: Final = "whsec_"  # noqa: S105 (the form's prefix, not a secret)
SECRET_BYTES: Final = 32
# Svix accepts secrets of 24 to 64 bytes; fewer would be guessable, more buys nothing.
MIN_SECRET_BYTES: Final = 24
MAX_SECRET_BYTES: Final = 64
SM3_VERSION: Final = "v1sm3"
TOLERANCE: Final = timedelta(minutes=5)
"""How far a receiver accepts ``webhook-timestamp`` from its clock (the reference library's)."""

__all__ = [
    "WebhookVerificationError",
    "is_valid_secret",
    "new_secret",
    "sign_headers",
    "verify_sm3",
]


def new_secret() -> str:
    """A fresh signing secret in the Standard Webhooks form: ``whsec_`` + base64 of 32 random bytes."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode()


def _secret_key(secret: str) -> bytes:
    encoded = secret.removeprefix(SECRET_PREFIX)
    try:
        return base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("a signing secret is whsec_ followed by base64") from None


def is_valid_secret(secret: str) -> bool:
    """Whether a secret an institution brings is strict ``whsec_`` + base64 of 24–64 bytes. (The
    reference library is lenient — it drops characters that are not base64 — so a strict check
    keeps both signatures of an ``hmac-sm3`` endpoint under the very same key.)"""
    if not secret.startswith(SECRET_PREFIX):
        return False
    try:
        key = _secret_key(secret)
    except ValueError:
        return False
    return MIN_SECRET_BYTES <= len(key) <= MAX_SECRET_BYTES


def _unix_seconds(timestamp: datetime) -> int:
    # The library replaces the zone rather than converting, so an aware time in another zone
    # would be signed hours off: convert first (a naive time is taken as UTC).
    moment = timestamp.replace(tzinfo=UTC) if timestamp.tzinfo is None else timestamp
    return floor(moment.astimezone(UTC).timestamp())


def _signed_content(message_id: str, seconds: str, body: bytes) -> bytes:
    return f"{message_id}.{seconds}.".encode() + body


def sign_headers(
    *, secret: str, scheme: str, message_id: str, timestamp: datetime, body: bytes
) -> dict[str, str]:
    """The three Standard Webhooks headers of one attempt to send ``body`` (UTF-8 JSON).

    ``timestamp`` is the time of the attempt, not of the message: a retry is signed afresh, so a
    receiver's replay window (five minutes in the reference library) never rejects it."""
    seconds = _unix_seconds(timestamp)
    moment = datetime.fromtimestamp(seconds, UTC)
    signatures = [Webhook(secret).sign(message_id, moment, body.decode())]
    if scheme == "hmac-sm3":
        mac = hmac_sm3(_secret_key(secret), _signed_content(message_id, str(seconds), body))
        signatures.append(f"{SM3_VERSION},{base64.b64encode(mac).decode()}")
    elif scheme != "hmac-sha256":
        raise ValueError(f"unknown signing scheme {scheme!r}")
    return {
        "webhook-id": message_id,
        "webhook-timestamp": str(seconds),
        "webhook-signature": " ".join(signatures),
    }


def verify_sm3(
    secret: str,
    headers: Mapping[str, str],
    body: bytes,
    *,
    now: datetime | None = None,
    tolerance: timedelta = TOLERANCE,
) -> None:
    """What a receiver bound to SM algorithms does with a delivery: check the timestamp is
    within ``tolerance`` of ``now`` and that one ``v1sm3`` signature matches. Raises
    ``WebhookVerificationError`` (the reference library's) otherwise, as its ``verify`` does."""
    lowered = {name.lower(): value for name, value in headers.items()}
    message_id = lowered.get("webhook-id")
    seconds = lowered.get("webhook-timestamp")
    signature = lowered.get("webhook-signature")
    if not (message_id and seconds and signature):
        raise WebhookVerificationError("Missing required headers")
    try:
        sent = datetime.fromtimestamp(int(seconds), UTC)
    except (ValueError, OverflowError, OSError):
        raise WebhookVerificationError("Invalid Signature Headers") from None
    current = now or datetime.now(UTC)
    if sent < current - tolerance:
        raise WebhookVerificationError("Message timestamp too old")
    if sent > current + tolerance:
        raise WebhookVerificationError("Message timestamp too new")
    expected = hmac_sm3(_secret_key(secret), _signed_content(message_id, seconds, body))
    for versioned in signature.split(" "):
        version, _, encoded = versioned.partition(",")
        if version != SM3_VERSION:
            continue
        try:
            given = base64.b64decode(encoded, validate=True)
        except (binascii.Error, ValueError):
            continue
        if constant_time_equal(expected, given):
            return
    raise WebhookVerificationError("No matching signature found")
