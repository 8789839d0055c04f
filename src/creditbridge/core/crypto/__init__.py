"""Cryptography with China's commercial algorithms (SM2, SM3, SM4) behind one provider.

The functions here delegate to :func:`get_provider`, which a certified cipher machine (密码机/HSM)
can replace (see :mod:`.provider`). What each produces:

* ``sm3_digest``/``sm3_hex`` — SM3 (GB/T 32905-2016); ``hmac_sm3`` — HMAC-SM3.
* ``canonical_json``/``content_digest`` — the provenance digest of a record: SM3 hex of its
  canonical JSON, whose exact form is written down in :mod:`.digest`.
* ``sm4_gcm_encrypt``/``sm4_gcm_decrypt`` — SM4-GCM tokens ``01 ‖ nonce ‖ ciphertext ‖ tag`` for
  confidential fields at rest (:mod:`.sm4`, which also says where keys come from: settings or
  an HSM, never the repository).
* ``generate_sm2_key``/``sign``/``verify`` — SM2 signatures with the ``Z_A`` user digest of
  GB/T 32918.2-2016, user ID ``1234567812345678`` unless agreed otherwise. ``sign`` returns DER
  ``SEQUENCE {r, s}`` (GM/T 0009-2012; what Java/BouncyCastle and OpenSSL use); ``verify`` also
  accepts raw 64-byte ``r‖s`` and returns False — never raises — for a malformed signature.
  Keys: :class:`Sm2PrivateKey` ↔ PEM PKCS#8 (secret), :class:`Sm2PublicKey` ↔ PEM
  SubjectPublicKeyInfo (publish it; anyone can verify with OpenSSL, Java or GmSSL).
  ``generate_sm2_key()`` asks the provider (an HSM would keep the key inside);
  ``Sm2PrivateKey.generate()`` makes an exportable software key, e.g. for a node's key file.

Performance, measured with ``.venv/bin/python benchmarks/bench_crypto.py`` (three runs, each the
median of 5; 2-core dev VM, Python 3.11, ~400-byte message; ranges are across the runs):

==================  ======================  ======================  =========================
operation           provider, Tongsuo       provider, gmssl engine  gmssl's own ``*_with_sm3``
==================  ======================  ======================  =========================
SM2 sign            0.33–0.35 ms (~3000/s)  4.5–4.7 ms              7.1–7.7 ms
SM2 verify          0.28–0.30 ms (~3400/s)  8.8–9.2 ms              11.8–13.8 ms
==================  ======================  ======================  =========================

The SM2 figures include computing ``Z_A`` and ``e``. ``content_digest`` of a 12-field record
(Decimal, dates, a datetime, a null) takes 5.3–5.7 µs (~180 000/s on one core) against 6.9–7.2 µs
for ``json.dumps(sort_keys=True)`` + SM3 on the same record pre-converted to strings.
"""

from __future__ import annotations

from typing import Any

from creditbridge.core.crypto.digest import canonical_json, constant_time_equal
from creditbridge.core.crypto.errors import CryptoError, DecryptionFailed, InvalidKey
from creditbridge.core.crypto.provider import (
    CryptoProvider,
    SigningKey,
    SoftwareCryptoProvider,
    get_provider,
)
from creditbridge.core.crypto.sm2 import DEFAULT_USER_ID, Sm2PrivateKey, Sm2PublicKey

__all__ = [
    "DEFAULT_USER_ID",
    "CryptoError",
    "CryptoProvider",
    "DecryptionFailed",
    "InvalidKey",
    "SigningKey",
    "Sm2PrivateKey",
    "Sm2PublicKey",
    "SoftwareCryptoProvider",
    "canonical_json",
    "constant_time_equal",
    "content_digest",
    "generate_sm2_key",
    "generate_sm4_key",
    "get_provider",
    "hmac_sm3",
    "sign",
    "sm3_digest",
    "sm3_hex",
    "sm4_gcm_decrypt",
    "sm4_gcm_encrypt",
    "verify",
]


def sm3_digest(data: bytes) -> bytes:
    return get_provider().sm3_digest(data)


def sm3_hex(data: bytes) -> str:
    return get_provider().sm3_digest(data).hex()


def hmac_sm3(key: bytes, data: bytes) -> bytes:
    return get_provider().hmac_sm3(key, data)


def content_digest(obj: Any) -> str:
    """SM3 hex of ``canonical_json(obj)``: the provenance digest stored with a record."""
    return get_provider().sm3_digest(canonical_json(obj)).hex()


def generate_sm4_key() -> bytes:
    return get_provider().generate_sm4_key()


def sm4_gcm_encrypt(key: bytes, plaintext: bytes, *, aad: bytes = b"") -> bytes:
    return get_provider().sm4_gcm_encrypt(key, plaintext, aad=aad)


def sm4_gcm_decrypt(key: bytes, token: bytes, *, aad: bytes = b"") -> bytes:
    """Plaintext of a token from :func:`sm4_gcm_encrypt`; raises :class:`DecryptionFailed`."""
    return get_provider().sm4_gcm_decrypt(key, token, aad=aad)


def generate_sm2_key() -> SigningKey:
    return get_provider().generate_sm2_key()


def sign(private_key: SigningKey, message: bytes, *, user_id: bytes = DEFAULT_USER_ID) -> bytes:
    """SM2 signature of ``message`` (DER), hashed with ``Z_A`` for ``user_id``."""
    return get_provider().sm2_sign(private_key, message, user_id=user_id)


def verify(
    public_key: Sm2PublicKey,
    message: bytes,
    signature: bytes,
    *,
    user_id: bytes = DEFAULT_USER_ID,
) -> bool:
    """True only for a valid SM2 signature (DER or raw ``r‖s``) under ``user_id``."""
    return get_provider().sm2_verify(public_key, message, signature, user_id=user_id)
