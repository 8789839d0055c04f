"""Keys and their use: the SM4 key ring for fields at rest, :func:`protect_record` /
:func:`reveal_record` for the ingest and read paths, :func:`rotate` to re-encrypt with the current
key, and the node's SM2 signing key for receipts.

Keys come from settings (or, in production, should come from a cipher machine behind the crypto
provider) and never from the repository; in development a key is derived or generated under var/.
"""

from __future__ import annotations

import base64
import os
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Protocol

import orjson
from sqlalchemy import select
from sqlalchemy.orm import Session

from creditbridge.audit import service as audit
from creditbridge.core.actors import Actor
from creditbridge.core.config import InsecureConfiguration, Settings, get_settings
from creditbridge.core.crypto import (
    DecryptionFailed,
    Sm2PrivateKey,
    Sm2PublicKey,
    canonical_json,
    hmac_sm3,
    sm3_digest,
    sm4_gcm_decrypt,
    sm4_gcm_encrypt,
)
from creditbridge.core.errors import PlatformError
from creditbridge.protection.domain import (
    ENCRYPTED_LEVEL,
    field_aad,
    is_envelope,
    make_envelope,
    open_envelope,
)

# --- the key ring ---------------------------------------------------------------------------


class UnknownDataKey(PlatformError):
    """Raised when a stored value names a key id the key ring no longer holds."""

    code = "CB-UNKNOWN-DATA-KEY"


@dataclass(frozen=True)
class KeyRing:
    keys: Mapping[str, bytes]
    current: str

    def key(self, key_id: str) -> bytes:
        try:
            return self.keys[key_id]
        except KeyError:
            raise UnknownDataKey(
                f"数据密钥 {key_id} 不在密钥环中 key id not in the key ring"
            ) from None


def parse_key_ring(spec: str, current: str = "") -> KeyRing:
    """``id:base64key,id:base64key`` → a ring; the current key is ``current`` or the last one."""
    keys: dict[str, bytes] = {}
    for item in filter(None, (part.strip() for part in spec.split(","))):
        key_id, sep, encoded = item.partition(":")
        try:
            key = base64.b64decode(encoded, validate=True)
        except ValueError:
            key = b""
        if not sep or not key_id or len(key) != 16:
            raise InsecureConfiguration(
                f"CREDITBRIDGE_DATA_KEYS 中的密钥 {key_id or item[:8]} 无效（需 id:base64 的16字节SM4密钥）"
            )
        keys[key_id] = key
    if not keys:
        raise InsecureConfiguration("CREDITBRIDGE_DATA_KEYS 为空")
    chosen = current or list(keys)[-1]
    if chosen not in keys:
        raise InsecureConfiguration(f"CREDITBRIDGE_DATA_KEY_CURRENT={chosen} 不在密钥环中")
    return KeyRing(keys=keys, current=chosen)


def key_ring(settings: Settings | None = None) -> KeyRing:
    settings = settings or get_settings()
    return _key_ring(
        settings.data_keys, settings.data_key_current, settings.env, settings.secret_key
    )


@lru_cache(maxsize=8)
def _key_ring(spec: str, current: str, env: str, secret: str) -> KeyRing:
    if spec:
        return parse_key_ring(spec, current)
    if env == "production":
        raise InsecureConfiguration(
            "生产环境必须设置 CREDITBRIDGE_DATA_KEYS (production needs its own data keys)"
        )
    # Development and tests: one key derived from the (development) secret, stable across runs.
    derived = sm3_digest(b"creditbridge-data-key:" + secret.encode())[:16]
    return KeyRing(keys={"dev1": derived}, current="dev1")


# --- records --------------------------------------------------------------------------------


class FieldLevel(Protocol):
    @property
    def code(self) -> str: ...

    @property
    def classification_level(self) -> int: ...


class DatasetLike(Protocol):
    """A catalog dataset (catalog.schemas.DatasetSpec or catalog.models.CatalogDataset)."""

    @property
    def code(self) -> str: ...

    @property
    def fields(self) -> Iterable[FieldLevel]: ...


def encrypted_fields(dataset: DatasetLike) -> list[str]:
    return [f.code for f in dataset.fields if f.classification_level >= ENCRYPTED_LEVEL]


def protect_record(
    dataset: DatasetLike, data: Mapping[str, Any], *, ring: KeyRing | None = None
) -> dict[str, Any]:
    """``data`` with each level-4+ field replaced by ``{"enc": "<key id>:<base64 token>"}``:
    SM4-GCM over the value's canonical JSON, bound to dataset and field. Values already in an
    envelope and nulls are left as they are. Compute the record's digest before calling this:
    the digest is over the plaintext, so it survives key rotation."""
    ring = ring or key_ring()
    out = dict(data)
    for code in encrypted_fields(dataset):
        value = out.get(code)
        if value is None or is_envelope(value):
            continue
        token = sm4_gcm_encrypt(
            ring.key(ring.current), canonical_json(value), aad=field_aad(dataset.code, code)
        )
        out[code] = make_envelope(ring.current, token)
    return out


@dataclass(frozen=True)
class Sealer:
    """What the write paths (ingest, demo generation) need for one dataset with level-4+ fields:
    the stored form of a record and its digest.

    The digest is taken over the record's **plaintext** canonical JSON, so a re-delivery of the
    same content is recognised as unchanged although every encryption draws a fresh nonce, and it
    survives key rotation. It is keyed — HMAC-SM3 under :func:`digest_key` rather than plain SM3 —
    because a plain hash of a record whose other fields are readable would let anyone holding the
    table recover an identity number by trying the few million numbers that fit the rest."""

    dataset_code: str
    fields: tuple[str, ...]
    ring: KeyRing
    mac_key: bytes

    def digest(self, plain: bytes) -> str:
        """Hex digest of a record's plaintext canonical JSON."""
        return hmac_sm3(self.mac_key, plain).hex()

    def seal(self, values: Mapping[str, Any]) -> bytes:
        """Canonical JSON of ``values`` with every level-4+ field in an SM4-GCM envelope."""
        out = dict(values)
        key, current = self.ring.key(self.ring.current), self.ring.current
        for code in self.fields:
            value = out.get(code)
            if value is None or is_envelope(value):
                continue
            token = sm4_gcm_encrypt(
                key, canonical_json(value), aad=field_aad(self.dataset_code, code)
            )
            out[code] = make_envelope(current, token)
        return canonical_json(out)


def digest_key(ring: KeyRing) -> bytes:
    """The key of record digests: derived from the ring's first (oldest) key, which therefore
    stays in the ring after rotation (rotation moves encryption to the newest key only). If it is
    ever removed, re-deliveries of encrypted datasets count once as updated, nothing worse."""
    first = next(iter(ring.keys.values()))
    return hmac_sm3(first, b"creditbridge:record-digest:v1")


def sealer(
    dataset_code: str, fields: Iterable[str], *, ring: KeyRing | None = None
) -> Sealer | None:
    """A :class:`Sealer` for ``dataset_code`` whose level-4+ field codes are ``fields``; None
    when there are none (such records are stored as they are, digested with plain SM3)."""
    codes = tuple(fields)
    if not codes:
        return None
    ring = ring or key_ring()
    return Sealer(dataset_code, codes, ring, digest_key(ring))


def sealer_for(dataset: DatasetLike, *, ring: KeyRing | None = None) -> Sealer | None:
    return sealer(dataset.code, encrypted_fields(dataset), ring=ring)


def record_digest(
    dataset: DatasetLike, data: Mapping[str, Any], *, ring: KeyRing | None = None
) -> str:
    """The digest stored with a record of ``dataset`` whose plaintext is ``data``: SM3 of its
    canonical JSON, or HMAC-SM3 (see :class:`Sealer`) for a dataset with level-4+ fields."""
    plain = canonical_json(dict(data))
    found = sealer_for(dataset, ring=ring)
    return found.digest(plain) if found is not None else sm3_digest(plain).hex()


def reveal_record(
    dataset_code: str, data: Mapping[str, Any], *, ring: KeyRing | None = None
) -> dict[str, Any]:
    """``data`` with every envelope decrypted by the key it names; raises DecryptionFailed for
    a tampered value and UnknownDataKey for a key the ring no longer holds."""
    out = dict(data)
    for code, value in data.items():
        if is_envelope(value):
            ring = ring or key_ring()
            key_id, token = open_envelope(value)
            plain = sm4_gcm_decrypt(ring.key(key_id), token, aad=field_aad(dataset_code, code))
            out[code] = orjson.loads(plain)
    return out


def needs_rotation(data: Mapping[str, Any], ring: KeyRing) -> bool:
    return any(is_envelope(v) and open_envelope(v)[0] != ring.current for v in data.values())


@dataclass(frozen=True)
class RotationOutcome:
    examined: int
    reencrypted: int
    key_id: str


def rotate(
    session: Session,
    actor: Actor,
    *,
    datasets: Iterable[DatasetLike],
    ring: KeyRing | None = None,
    batch_size: int = 500,
) -> RotationOutcome:
    """Re-encrypt every envelope not under the current key, and encrypt any level-4+ value
    still stored in plaintext (written before encryption at rest), ``batch_size`` records at a
    time (keyset pagination, flushed per batch; the CLI commits per call). Audited."""
    from creditbridge.subjects.models import Record

    ring = ring or key_ring()
    sealed = {d.code: frozenset(encrypted_fields(d)) for d in datasets if encrypted_fields(d)}
    codes = list(sealed)
    examined = reencrypted = 0
    last_id = 0
    while codes:
        batch = list(
            session.scalars(
                select(Record)
                .where(Record.dataset_code.in_(codes), Record.id > last_id)
                .order_by(Record.id)
                .limit(batch_size)
            )
        )
        if not batch:
            break
        for record in batch:
            examined += 1
            fields = sealed[record.dataset_code]
            plaintext = [
                code
                for code in fields
                if record.data.get(code) is not None and not is_envelope(record.data[code])
            ]
            if plaintext or needs_rotation(record.data, ring):
                fresh: dict[str, Any] = {}
                for code, value in record.data.items():
                    aad = field_aad(record.dataset_code, code)
                    if is_envelope(value) and open_envelope(value)[0] != ring.current:
                        key_id, token = open_envelope(value)
                        plain = sm4_gcm_decrypt(ring.key(key_id), token, aad=aad)
                        value = make_envelope(
                            ring.current, sm4_gcm_encrypt(ring.key(ring.current), plain, aad=aad)
                        )
                    elif code in plaintext:
                        token = sm4_gcm_encrypt(
                            ring.key(ring.current), canonical_json(value), aad=aad
                        )
                        value = make_envelope(ring.current, token)
                    fresh[code] = value
                record.data = fresh
                reencrypted += 1
        last_id = batch[-1].id
        session.flush()
    audit.record(
        session,
        actor,
        action="keys.rotate",
        object_type="data_key",
        object_id=ring.current,
        detail={"examined": examined, "reencrypted": reencrypted},
    )
    return RotationOutcome(examined=examined, reencrypted=reencrypted, key_id=ring.current)


# --- secrets the platform must use, not only check -----------------------------------------


def seal_secret(text: str, *, purpose: str) -> dict[str, str]:
    """``text`` (a webhook signing secret, a peer's key…) sealed with SM4-GCM under the current
    data key, as an envelope ``{"enc": "<key id>:<base64>"}``. Unlike a password it cannot be
    hashed: the platform needs it back to sign. ``purpose`` is the AAD, so a sealed value copied
    to another use (another institution's endpoint, another kind of secret) fails to open."""
    ring = key_ring()
    token = sm4_gcm_encrypt(ring.key(ring.current), text.encode(), aad=purpose.encode())
    return make_envelope(ring.current, token)


def open_secret(envelope: Mapping[str, str], *, purpose: str) -> str:
    """The text sealed by :func:`seal_secret` for the same ``purpose``; raises DecryptionFailed
    for a tampered or moved value and UnknownDataKey for a key the ring no longer holds."""
    ring = key_ring()
    key_id, token = open_envelope(envelope)
    return sm4_gcm_decrypt(ring.key(key_id), token, aad=purpose.encode()).decode()


# --- the node's signing key -----------------------------------------------------------------


def signing_key(settings: Settings | None = None) -> Sm2PrivateKey:
    """The node's SM2 key from ``signing_key_file``; generated (mode 0600) when missing outside
    production, refused in production so a node never silently signs with a fresh key."""
    settings = settings or get_settings()
    return _signing_key(str(settings.signing_key_file), settings.env)


@lru_cache(maxsize=4)
def _signing_key(path_text: str, env: str) -> Sm2PrivateKey:
    path = Path(path_text)
    if path.is_file():
        return Sm2PrivateKey.from_pem(path.read_bytes())
    if env == "production":
        raise InsecureConfiguration(
            f"签名密钥不存在 signing key missing: {path} (set CREDITBRIDGE_SIGNING_KEY_PATH)"
        )
    path.parent.mkdir(parents=True, exist_ok=True)
    key = Sm2PrivateKey.generate()
    # Written whole under a temporary name, then linked into place: the first request of each
    # worker may get here at once, and a loser must read the winner's complete key rather than
    # fail on the existing file or read it half-written.
    partial = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}")
    descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        handle.write(key.to_pem())
    try:
        os.link(partial, path)
    except FileExistsError:
        return Sm2PrivateKey.from_pem(path.read_bytes())
    finally:
        partial.unlink(missing_ok=True)
    return key


def signing_public_key(settings: Settings | None = None) -> Sm2PublicKey:
    return signing_key(settings).public_key


__all__ = [
    "DecryptionFailed",
    "KeyRing",
    "RotationOutcome",
    "Sealer",
    "UnknownDataKey",
    "digest_key",
    "encrypted_fields",
    "key_ring",
    "open_secret",
    "parse_key_ring",
    "protect_record",
    "record_digest",
    "reveal_record",
    "rotate",
    "seal_secret",
    "sealer",
    "sealer_for",
    "signing_key",
    "signing_public_key",
]
