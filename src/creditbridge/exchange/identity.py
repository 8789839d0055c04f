"""The node identity document (节点身份文件): what a node publishes so others can verify it.

::

    {"format": "creditbridge-node-identity/1", "code": "340100", "level": "city",
     "name": "合肥市融资信用服务平台", "url": "https://xyd.hefei.example",
     "keys": [{"key_id": "…", "algorithm": "SM2", "public_key": "-----BEGIN PUBLIC KEY…",
               "valid_from": "2026-12-06T08:00:00Z", "valid_until": null}, …],
     "issued_at": "2026-12-06T08:00:00Z",
     "signature": {"key_id": "…", "algorithm": "SM2-SM3", "value": "<base64 DER>"}}

The signature is SM2 (user ID ``1234567812345678``) over the canonical JSON
(``core.crypto.canonical_json``) of the document without ``signature``, by the key that is
current at ``issued_at``. Earlier keys stay listed with their validity, so a package signed
before a rotation still verifies. No I/O here: the service stores and loads.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from creditbridge.core import crypto
from creditbridge.core.crypto import Sm2PrivateKey, Sm2PublicKey
from creditbridge.core.crypto.errors import CryptoError
from creditbridge.exchange.domain import LEVELS
from creditbridge.exchange.errors import identity_invalid

FORMAT: Final = "creditbridge-node-identity/1"
KEY_ALGORITHM: Final = "SM2"
SIGNATURE_ALGORITHM: Final = "SM2-SM3"


def key_id(public_key: Sm2PublicKey) -> str:
    """The name of a key in documents and signatures: the first 16 hex digits of its SM3
    fingerprint, as short as a PGP long key id and as unlikely to collide among a node's keys."""
    return public_key.fingerprint[:16]


@dataclass(frozen=True)
class PublicKey:
    key_id: str
    public_key: Sm2PublicKey
    valid_from: datetime
    valid_until: datetime | None

    def valid_at(self, moment: datetime) -> bool:
        return self.valid_from <= moment and (self.valid_until is None or moment < self.valid_until)

    def as_dict(self) -> dict[str, Any]:
        return {
            "key_id": self.key_id,
            "algorithm": KEY_ALGORITHM,
            "public_key": self.public_key.to_pem(),
            "valid_from": _text(self.valid_from),
            "valid_until": None if self.valid_until is None else _text(self.valid_until),
        }


@dataclass(frozen=True)
class IdentityDocument:
    code: str
    level: str
    name: str
    url: str
    keys: tuple[PublicKey, ...]
    issued_at: datetime
    signed_by: str
    signature: bytes

    def as_dict(self) -> dict[str, Any]:
        return _body(self.code, self.level, self.name, self.url, self.keys, self.issued_at) | {
            "signature": {
                "key_id": self.signed_by,
                "algorithm": SIGNATURE_ALGORITHM,
                "value": base64.b64encode(self.signature).decode(),
            }
        }


def _text(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def _body(
    code: str, level: str, name: str, url: str, keys: Sequence[PublicKey], issued_at: datetime
) -> dict[str, Any]:
    return {
        "format": FORMAT,
        "code": code,
        "level": level,
        "name": name,
        "url": url,
        "keys": [k.as_dict() for k in keys],
        "issued_at": _text(issued_at),
    }


def issue(
    *,
    code: str,
    level: str,
    name: str,
    url: str,
    keys: Sequence[PublicKey],
    signer: Sm2PrivateKey,
    issued_at: datetime,
) -> IdentityDocument:
    """The document signed by ``signer``, whose public key must be among ``keys`` and current."""
    signer_id = key_id(signer.public_key)
    if not any(k.key_id == signer_id and k.valid_at(issued_at) for k in keys):
        raise ValueError("the signing key is not a current key of the document")
    message = crypto.canonical_json(_body(code, level, name, url, keys, issued_at))
    signature = crypto.sign(signer, message)
    return IdentityDocument(code, level, name, url, tuple(keys), issued_at, signer_id, signature)


def verify_with(
    keys: Sequence[PublicKey], signed_by: str, message: bytes, signature: bytes, *, at: datetime
) -> bool:
    """Whether ``signature`` over ``message`` is by the key ``signed_by`` of ``keys``, and that
    key was valid at ``at`` (when the signer says it signed): a key retired by rotation still
    verifies what it signed before, and nothing after."""
    for key in keys:
        if key.key_id == signed_by and key.valid_at(at):
            return crypto.verify(key.public_key, message, signature)
    return False


def _string(raw: Mapping[str, Any], name: str, where: str = "") -> str:
    value = raw.get(name)
    if not isinstance(value, str) or not value.strip():
        raise identity_invalid("missing", field=f"{where}{name}", name=f"{where}{name}")
    return value.strip()


def _moment(raw: Mapping[str, Any], name: str, where: str = "") -> datetime:
    text = _string(raw, name, where)
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        moment = None
    if moment is None or moment.tzinfo is None:
        raise identity_invalid("not_moment", field=f"{where}{name}", name=f"{where}{name}")
    return moment


def _key(raw: Any, index: int) -> PublicKey:
    where = f"keys[{index}]."
    if not isinstance(raw, Mapping):
        raise identity_invalid("missing", field=f"keys[{index}]", name=f"keys[{index}]")
    if raw.get("algorithm") != KEY_ALGORITHM:
        raise identity_invalid("algorithm", field=f"{where}algorithm", algorithm=KEY_ALGORITHM)
    try:
        public = Sm2PublicKey.from_pem(_string(raw, "public_key", where))
    except CryptoError:
        raise identity_invalid("bad_key", field=f"{where}public_key") from None
    stated = _string(raw, "key_id", where)
    if stated != key_id(public):
        raise identity_invalid("key_id", field=f"{where}key_id")
    until = None if raw.get("valid_until") is None else _moment(raw, "valid_until", where)
    return PublicKey(stated, public, _moment(raw, "valid_from", where), until)


def parse(raw: Any) -> IdentityDocument:
    """The document in ``raw`` (parsed JSON), its signature verified; raises IdentityInvalid
    naming the field that is wrong, or ``signature`` when it does not verify."""
    if not isinstance(raw, Mapping):
        raise identity_invalid("not_object", field="document")
    if raw.get("format") != FORMAT:
        raise identity_invalid("format", field="format", format=FORMAT)
    code, level, name, url = (_string(raw, k) for k in ("code", "level", "name", "url"))
    if level not in LEVELS:
        raise identity_invalid("level", field="level", levels=" | ".join(LEVELS))
    keys_raw = raw.get("keys")
    if not isinstance(keys_raw, list) or not keys_raw:
        raise identity_invalid("missing", field="keys", name="keys")
    keys = tuple(_key(item, index) for index, item in enumerate(keys_raw))
    issued_at = _moment(raw, "issued_at")
    signature_raw = raw.get("signature")
    if not isinstance(signature_raw, Mapping):
        raise identity_invalid("missing", field="signature", name="signature")
    signed_by = _string(signature_raw, "key_id", "signature.")
    try:
        signature = base64.b64decode(_string(signature_raw, "value", "signature."), validate=True)
    except (binascii.Error, ValueError):
        raise identity_invalid("signature", field="signature") from None
    message = crypto.canonical_json(_body(code, level, name, url, keys, issued_at))
    if not verify_with(keys, signed_by, message, signature, at=issued_at):
        raise identity_invalid("signature", field="signature")
    return IdentityDocument(code, level, name, url, keys, issued_at, signed_by, signature)
