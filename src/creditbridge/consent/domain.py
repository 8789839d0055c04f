"""Pure rules of consent: purposes, the state machine, why a consent does not cover a read, and
the signed receipt's format. No I/O."""

from __future__ import annotations

import base64
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum
from typing import Any, Final

import orjson

from creditbridge.core.crypto import (
    Sm2PrivateKey,
    Sm2PublicKey,
    canonical_json,
    content_digest,
    sign,
    verify,
)
from creditbridge.core.errors import InvalidTransition
from creditbridge.presentation.errors import keyed
from creditbridge.presentation.i18n import translate


class Purpose(StrEnum):
    """Coded purposes, as account-aggregator consents code theirs: a consent covers one purpose
    and a read must state it (征信业管理条例 第二十条: use only for the agreed purpose)."""

    LOAN_APPLICATION = "loan_application"
    CREDIT_LINE_REVIEW = "credit_line_review"
    POST_LOAN_MONITORING = "post_loan_monitoring"
    GUARANTEE_REVIEW = "guarantee_review"
    INSURANCE_UNDERWRITING = "insurance_underwriting"

    @property
    def label_zh(self) -> str:
        # The Chinese label stored in notifications and receipts; pages translate ``purpose.*``.
        return translate("zh", f"purpose.{self.value}")


class ConsentStatus(StrEnum):
    REQUESTED = "requested"
    ACTIVE = "active"
    PAUSED = "paused"
    REVOKED = "revoked"
    EXPIRED = "expired"
    REJECTED = "rejected"

    @property
    def label_zh(self) -> str:
        return translate("zh", f"consent_status.{self.value}")


class Move(StrEnum):
    APPROVE = "approve"
    REJECT = "reject"
    PAUSE = "pause"
    RESUME = "resume"
    REVOKE = "revoke"
    EXPIRE = "expire"

    @property
    def label_zh(self) -> str:
        return translate("zh", f"consent_move.{self.value}")


S = ConsentStatus
TRANSITIONS: Final[dict[tuple[ConsentStatus, Move], ConsentStatus]] = {
    (S.REQUESTED, Move.APPROVE): S.ACTIVE,
    (S.REQUESTED, Move.REJECT): S.REJECTED,
    (S.REQUESTED, Move.EXPIRE): S.EXPIRED,
    (S.ACTIVE, Move.PAUSE): S.PAUSED,
    (S.ACTIVE, Move.REVOKE): S.REVOKED,
    (S.ACTIVE, Move.EXPIRE): S.EXPIRED,
    (S.PAUSED, Move.RESUME): S.ACTIVE,
    (S.PAUSED, Move.REVOKE): S.REVOKED,
    (S.PAUSED, Move.EXPIRE): S.EXPIRED,
}
"""Every legal move. Revoked, expired and rejected are final: a new consent is a new request."""

ENTERPRISE_MOVES: Final = frozenset(
    {Move.APPROVE, Move.REJECT, Move.PAUSE, Move.RESUME, Move.REVOKE}
)
"""Moves only the enterprise (the data subject) may make; EXPIRE is the platform's."""


def transition(status: str, move: Move) -> ConsentStatus:
    """The state after ``move``; raises :class:`InvalidTransition` for a move the map lacks."""
    current = ConsentStatus(status)
    target = TRANSITIONS.get((current, move))
    if target is None:
        # The labels are filled in Chinese: the English page names them in Chinese too.
        raise keyed(
            InvalidTransition,
            "error.consent.move",
            status=current.label_zh,
            move=move.label_zh,
        )
    return target


def allowed_moves(status: str) -> list[Move]:
    current = ConsentStatus(status)
    return [move for (state, move) in TRANSITIONS if state == current]


# --- does a consent cover a read? -----------------------------------------------------------


class Refusal(StrEnum):
    """Why no consent covers a read; each has a stable API code (see consent.errors)."""

    NONE = "none"
    REQUESTED = "requested"
    EXPIRED = "expired"
    REVOKED = "revoked"
    PAUSED = "paused"
    REJECTED = "rejected"
    PURPOSE = "purpose"
    SCOPE = "scope"
    DATA_RANGE = "data_range"
    USES_EXHAUSTED = "uses_exhausted"
    OTHER_INSTITUTION = "other_institution"


# When several consents exist and none covers the read, the reason reported is that of the
# consent that came closest: a matching but used-up consent explains more than a revoked one.
_CLOSENESS: Final = (
    Refusal.USES_EXHAUSTED,
    Refusal.DATA_RANGE,
    Refusal.SCOPE,
    Refusal.PURPOSE,
    Refusal.PAUSED,
    Refusal.EXPIRED,
    Refusal.REVOKED,
    Refusal.REJECTED,
    Refusal.REQUESTED,
    Refusal.OTHER_INSTITUTION,
    Refusal.NONE,
)


def closest(reasons: Iterable[Refusal]) -> Refusal:
    found = set(reasons)
    return next((reason for reason in _CLOSENESS if reason in found), Refusal.NONE)


@dataclass(frozen=True)
class ReadRequest:
    institution_id: int
    subject_id: int
    purpose: str
    categories: frozenset[str]
    at: datetime
    data_from: date | None = None
    data_to: date | None = None


@dataclass(frozen=True)
class Terms:
    """What a consent allows; built from a ConsentGrant row."""

    institution_id: int
    subject_id: int
    status: str
    purpose: str
    categories: frozenset[str]
    data_from: date | None
    data_to: date | None
    valid_from: datetime
    valid_until: datetime
    max_uses: int
    uses: int


def refusal(terms: Terms, request: ReadRequest) -> Refusal | None:
    """None when ``terms`` cover ``request``; otherwise the first reason they do not."""
    if terms.institution_id != request.institution_id:
        return Refusal.OTHER_INSTITUTION
    if terms.subject_id != request.subject_id:
        return Refusal.NONE
    status = ConsentStatus(terms.status)
    if status is not ConsentStatus.ACTIVE:
        return {
            ConsentStatus.REQUESTED: Refusal.REQUESTED,
            ConsentStatus.PAUSED: Refusal.PAUSED,
            ConsentStatus.REVOKED: Refusal.REVOKED,
            ConsentStatus.EXPIRED: Refusal.EXPIRED,
            ConsentStatus.REJECTED: Refusal.REJECTED,
        }[status]
    # An active consent past its window is expired even before the job has marked it so.
    if not terms.valid_from <= request.at < terms.valid_until:
        return Refusal.EXPIRED
    if terms.purpose != request.purpose:
        return Refusal.PURPOSE
    if not request.categories <= terms.categories:
        return Refusal.SCOPE
    if not range_within(request.data_from, request.data_to, terms.data_from, terms.data_to):
        return Refusal.DATA_RANGE
    if terms.uses >= terms.max_uses:
        return Refusal.USES_EXHAUSTED
    return None


def range_within(
    want_from: date | None, want_to: date | None, have_from: date | None, have_to: date | None
) -> bool:
    """Whether the wanted data range lies inside the consented one. An open consented end is
    unbounded; an open wanted end means "as far as the consent goes" (the read is then clipped
    to the consent's range), so only an explicit date can fall outside."""
    if have_from is not None and want_from is not None and want_from < have_from:
        return False
    if have_to is not None and want_to is not None and want_to > have_to:
        return False
    return not (want_from is not None and want_to is not None and want_from > want_to)


def effective_status(status: str, valid_until: datetime, now: datetime) -> ConsentStatus:
    """The status as it stands at ``now``: an active, paused or requested consent past its window
    is expired whether or not the expiry job has run yet."""
    current = ConsentStatus(status)
    if now >= valid_until and (current, Move.EXPIRE) in TRANSITIONS:
        return ConsentStatus.EXPIRED
    return current


# --- receipts -------------------------------------------------------------------------------

RECEIPT_FORMAT: Final = "creditbridge-consent-receipt/1"
SIGNATURE_ALGORITHM: Final = "SM2-SM3"


def sign_receipt(artefact: dict[str, Any], key: Sm2PrivateKey) -> bytes:
    """A receipt: the artefact and an SM2 signature over its canonical JSON, as one JSON file
    that anyone can check with the node's published public key (OpenSSL, GmSSL, BouncyCastle)."""
    signed = canonical_json(artefact)
    public = key.public_key
    receipt = {
        "format": RECEIPT_FORMAT,
        "artefact": orjson.loads(signed),
        "signature": {
            "algorithm": SIGNATURE_ALGORITHM,
            "key_fingerprint": public.fingerprint,
            "value": base64.b64encode(sign(key, signed)).decode(),
        },
    }
    return orjson.dumps(receipt, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS) + b"\n"


@dataclass(frozen=True)
class ReceiptCheck:
    ok: bool
    failed_check: str | None
    message: str
    artefact: dict[str, Any] | None = None


def check_receipt(raw: bytes, public_key: Sm2PublicKey) -> ReceiptCheck:
    """Check a receipt against ``public_key``; ``failed_check`` names the first check that
    failed: ``format``, ``key`` (signed by another key) or ``signature`` (altered)."""
    try:
        receipt = orjson.loads(raw)
        artefact = receipt["artefact"]
        signature = receipt["signature"]
        fingerprint = signature["key_fingerprint"]
        value = base64.b64decode(signature["value"], validate=True)
        ok_format = (
            receipt.get("format") == RECEIPT_FORMAT
            and signature.get("algorithm") == SIGNATURE_ALGORITHM
            and isinstance(artefact, dict)
        )
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
        ok_format = False
    if not ok_format:
        return ReceiptCheck(False, "format", "回执格式无效 not a consent receipt")
    if fingerprint != public_key.fingerprint:
        return ReceiptCheck(
            False,
            "key",
            f"回执不是由该公钥签发 signed by another key ({fingerprint[:16]}…)",
        )
    if not verify(public_key, canonical_json(artefact), value):
        return ReceiptCheck(
            False, "signature", "签名无效：回执内容已被修改 signature invalid: altered"
        )
    return ReceiptCheck(True, None, "回执真实有效 receipt genuine", artefact)


# --- what a receipt's number and digest stand for -----------------------------------------------


def terms_digest(artefact: dict[str, Any]) -> str:
    """SM3 (hex) of the consent's fixed terms as a receipt states them: the digest printed on the
    授权书 and carried by its QR code. Only what never changes after the consent is born is in it
    (reference, node, the two sides' codes, purpose, categories, periods, uses) — not the state,
    the names or the time of issue — so every receipt of one consent, and the register itself,
    give the same digest, and a revoked consent still matches its old letter."""
    # Parsed back from canonical JSON: a receipt read from a file holds strings where the one
    # built from the register holds dates, and both must digest alike.
    terms = orjson.loads(canonical_json(artefact))
    return content_digest(
        {
            "reference": terms["reference"],
            "node": terms["node"]["code"],
            "subject": terms["subject"]["uscc"],
            "institution": terms["institution"]["code"],
            "purpose": terms["purpose"]["code"],
            "categories": sorted(terms["categories"]),
            "data_range": terms["data_range"],
            "validity": terms["validity"],
            "max_uses": terms["max_uses"],
        }
    )


def digest_matches(given: str, expected: str) -> bool:
    """Whether a digest typed or scanned by someone is the expected one (case and blanks aside)."""
    return given.strip().lower() == expected


def receipt_times(artefact: dict[str, Any]) -> dict[str, datetime | None]:
    """The moments a receipt file states (validity from/until, issue), read back as datetimes so
    that pages show them in Beijing time like every other date."""

    def moment(value: Any) -> datetime | None:
        try:
            return datetime.fromisoformat(value) if isinstance(value, str) else None
        except ValueError:
            return None

    validity = artefact.get("validity") or {}
    return {
        "from": moment(validity.get("from")),
        "until": moment(validity.get("until")),
        "issued_at": moment(artefact.get("issued_at")),
    }
