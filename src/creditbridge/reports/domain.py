"""Pure rules of reports: which section a dataset belongs to, whether a negative record is still
published, the summary flags, and the seal that makes an issued report verifiable. No I/O.

What is signed (the seal, format ``creditbridge-credit-report/1``): the report's *content* — a
JSON object with the report number, time of issue, issuing node, audience, subject, rules
versions, summary and every section with its records — in canonical JSON
(:func:`creditbridge.core.crypto.canonical_json`). The seal carries the content, its SM3 digest
and the node's SM2 signature over the same bytes. The HTML report embeds the seal in a
``<script type="application/json" id="cb-report-seal">`` block and renders its visible text from
the same content; the PDF carries the seal as a PDF comment line after ``%%EOF``. The register
(``reports_issuance``) keeps the content digest and the SM3 digest of the exact file bytes issued.

A copy is genuine and unaltered when every check passes, in this order (the first failure is
named): ``format`` (a seal is present and well formed), ``digest`` (the content hashes to the
digest in the seal), ``key`` (signed by this node's key), ``signature`` (the SM2 signature
verifies), ``registry`` (the report number was issued here, with this content and format) and
``file`` (the file is byte-for-byte the one issued: an edit to the visible text of an HTML or
PDF that left the seal alone fails here).
"""

from __future__ import annotations

import base64
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from typing import Any, Final

import orjson

from creditbridge.core.crypto import (
    Sm2PrivateKey,
    Sm2PublicKey,
    canonical_json,
    sign,
    sm3_hex,
    verify,
)

SEAL_FORMAT: Final = "creditbridge-credit-report/1"
SIGNATURE_ALGORITHM: Final = "SM2-SM3"
HTML_SEAL_ID: Final = "cb-report-seal"
PDF_SEAL_MARK: Final = b"%CB-REPORT-SEAL "
_HTML_SEAL = re.compile(
    rb'<script type="application/json" id="' + HTML_SEAL_ID.encode() + rb'">(.*?)</script>',
    re.DOTALL,
)


class Audience(StrEnum):
    PUBLIC = "public"
    """Public information only (any institution without a consent, the operator)."""
    CONSENTED = "consented"
    """Public information plus the financing sections a valid consent covers."""
    OWNER = "owner"
    """The enterprise itself: everything held, unmasked, with what is not published marked."""


class PubState(StrEnum):
    """Whether a record appears in a public report today."""

    PUBLISHED = "published"
    NOT_PUBLISHED = "not_published"  # minor conduct: not published in principle
    EXPIRED = "expired"  # the maximum publication period has passed
    ENDED = "ended"  # removed from the list / arrears cleared
    REPAIRED = "repaired"  # credit repair granted (信用修复)


# --- the rules file ---------------------------------------------------------------------------


@dataclass(frozen=True)
class SectionRule:
    code: str
    disclosure: str
    categories: tuple[str, ...]
    zh: str
    en: str

    def takes(self, *, category: str, disclosure: str) -> bool:
        return self.disclosure == disclosure and (
            "*" in self.categories or category in self.categories
        )


@dataclass(frozen=True)
class FlagRule:
    code: str
    datasets: tuple[str, ...]
    zh: str
    en: str
    open_when_empty: str | None = None


@dataclass(frozen=True)
class ReportRules:
    version: str
    sections: tuple[SectionRule, ...]
    ended_when: Mapping[str, str]
    flags: tuple[FlagRule, ...]

    def section_for(self, *, category: str, disclosure: str) -> SectionRule | None:
        for section in self.sections:
            if section.takes(category=category, disclosure=disclosure):
                return section
        return None


def parse_rules(data: Mapping[str, Any]) -> ReportRules:
    return ReportRules(
        version=str(data["version"]),
        sections=tuple(
            SectionRule(
                code=s["code"],
                disclosure=s["disclosure"],
                categories=tuple(s["categories"]),
                zh=s["zh"],
                en=s["en"],
            )
            for s in data["sections"]
        ),
        ended_when=dict(data.get("ended_when") or {}),
        flags=tuple(
            FlagRule(
                code=f["code"],
                datasets=tuple(f["datasets"]),
                zh=f["zh"],
                en=f["en"],
                open_when_empty=f.get("open_when_empty"),
            )
            for f in data.get("flags") or ()
        ),
    )


# --- publication ------------------------------------------------------------------------------


def parse_day(value: Any) -> date | None:
    if isinstance(value, date):
        return value
    if isinstance(value, str) and len(value) >= 10:
        try:
            return date.fromisoformat(value[:10])
        except ValueError:
            return None
    return None


@dataclass(frozen=True)
class Window:
    """The publication window of one record (see catalog ``PublicationRegime.window``)."""

    published: bool
    publish_until: date


def publication_state(
    *,
    negative: bool,
    window: Window | None,
    ended_on: date | None,
    repaired: bool,
    today: date,
) -> PubState:
    """Whether a record is published today. Positive information is always published; a
    negative one stops when repaired, when it has ended (removed from the list), when its
    maximum publication period is over, or never starts when its class is not published
    (国家发展改革委令第36号: 轻微失信 not published in principle; publication stops automatically
    when the maximum period expires; repair ends publication)."""
    if not negative:
        return PubState.PUBLISHED
    if repaired:
        return PubState.REPAIRED
    if ended_on is not None and ended_on <= today:
        return PubState.ENDED
    if window is None:
        return PubState.PUBLISHED
    if not window.published:
        return PubState.NOT_PUBLISHED
    if today >= window.publish_until:
        return PubState.EXPIRED
    return PubState.PUBLISHED


def raised_flags(rules: ReportRules, records: Iterable[tuple[str, Mapping[str, Any]]]) -> list[str]:
    """Codes of the summary flags raised by the published ``(dataset_code, data)`` records."""
    raised: list[str] = []
    items = list(records)
    for flag in rules.flags:
        for dataset_code, data in items:
            if dataset_code not in flag.datasets:
                continue
            if flag.open_when_empty and data.get(flag.open_when_empty):
                continue
            raised.append(flag.code)
            break
    return raised


# --- the seal ---------------------------------------------------------------------------------


def seal(content: Mapping[str, Any], key: Sm2PrivateKey) -> dict[str, Any]:
    """The seal of ``content``: content, SM3 digest and SM2 signature over its canonical JSON."""
    signed = canonical_json(content)
    return {
        "format": SEAL_FORMAT,
        "content": orjson.loads(signed),
        "digest": sm3_hex(signed),
        "signature": {
            "algorithm": SIGNATURE_ALGORITHM,
            "key_fingerprint": key.public_key.fingerprint,
            "value": base64.b64encode(sign(key, signed)).decode(),
        },
    }


def html_seal_json(sealed: Mapping[str, Any]) -> str:
    """The seal as text safe inside ``<script type="application/json">``: ``</`` cannot end it."""
    return orjson.dumps(sealed).decode().replace("</", "<\\/")


def pdf_seal_line(sealed: Mapping[str, Any]) -> bytes:
    """The seal as one PDF comment line, appended after ``%%EOF`` (readers ignore it)."""
    return b"\n" + PDF_SEAL_MARK + base64.b64encode(orjson.dumps(sealed)) + b"\n"


def extract_seal(raw: bytes) -> tuple[str, dict[str, Any]] | None:
    """``(format, seal)`` of an HTML or PDF report file, or None when it carries no seal."""
    if raw.startswith(b"%PDF"):
        at = raw.rfind(PDF_SEAL_MARK)
        if at < 0:
            return None
        line = raw[at + len(PDF_SEAL_MARK) :].split(b"\n", 1)[0].strip()
        try:
            return "pdf", orjson.loads(base64.b64decode(line, validate=True))
        except (ValueError, orjson.JSONDecodeError):
            return None
    matches = _HTML_SEAL.findall(raw)
    if len(matches) != 1:
        return None
    try:
        return "html", orjson.loads(matches[0])
    except orjson.JSONDecodeError:
        return None


class Check(StrEnum):
    FORMAT = "format"
    DIGEST = "digest"
    KEY = "key"
    SIGNATURE = "signature"
    REGISTRY = "registry"
    FILE = "file"


CHECK_ORDER: Final[Sequence[Check]] = tuple(Check)


@dataclass(frozen=True)
class SealCheck:
    ok: bool
    failed: Check | None
    file_format: str | None = None
    content: dict[str, Any] | None = None
    digest: str | None = None
    signature: str | None = None


def check_seal(raw: bytes, public_key: Sm2PublicKey) -> SealCheck:
    """The checks a file can pass on its own (format, digest, key, signature); the register
    and file checks need the issuing node's database (see ``service.verify_file``)."""
    found = extract_seal(raw)
    if found is None:
        return SealCheck(False, Check.FORMAT)
    file_format, sealed = found
    try:
        content = sealed["content"]
        digest = sealed["digest"]
        signature = sealed["signature"]
        fingerprint = signature["key_fingerprint"]
        value = base64.b64decode(signature["value"], validate=True)
        well_formed = (
            sealed.get("format") == SEAL_FORMAT
            and signature.get("algorithm") == SIGNATURE_ALGORITHM
            and isinstance(content, dict)
            and isinstance(digest, str)
            and isinstance(content.get("report_no"), str)
        )
    except (KeyError, TypeError, ValueError):
        well_formed = False
    if not well_formed:
        return SealCheck(False, Check.FORMAT, file_format)
    signed = canonical_json(content)
    if sm3_hex(signed) != digest:
        return SealCheck(False, Check.DIGEST, file_format, content)
    if fingerprint != public_key.fingerprint:
        return SealCheck(False, Check.KEY, file_format, content, digest)
    if not verify(public_key, signed, value):
        return SealCheck(False, Check.SIGNATURE, file_format, content, digest)
    return SealCheck(True, None, file_format, content, digest, signature["value"])
