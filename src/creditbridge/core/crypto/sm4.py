"""SM4-GCM (GB/T 32907-2016 block cipher in the GCM mode of NIST SP 800-38D / RFC 8998) tokens.

A token is self-describing so that stored ciphertext survives a future change of format::

    version (1 byte, 0x01) ‖ nonce (12 bytes, random) ‖ ciphertext ‖ tag (16 bytes)

Version 1 is exactly SM4-GCM as RFC 8998 specifies it: the AAD given to GCM is the caller's AAD
alone, so a version-1 token can be opened by any SM4-GCM implementation (BouncyCastle, Tongsuo,
GmSSL) from its nonce, ciphertext and tag. The version byte is checked before any decryption; a
key is used with one token version only.

Key management: keys are 16 random bytes (:func:`generate_key`) and come from settings or a
hardware security module (密码机) — never from the repository or the database they protect. Bind
each ciphertext to its place with the AAD (for example ``b"enterprise:<id>:legal_rep_id_no"``) so
that a value copied to another row or column no longer decrypts. Random 96-bit nonces allow about
2^32 encryptions per key before the collision risk passes SP 800-38D §8.3's bound: rotate keys
well before that, and record which key encrypted a value next to it (the token carries no key id).
"""

from __future__ import annotations

import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from creditbridge.core.crypto.errors import DecryptionFailed, InvalidKey

VERSION = 0x01
KEY_SIZE = 16
NONCE_SIZE = 12
TAG_SIZE = 16
_HEADER = bytes([VERSION])


def generate_key() -> bytes:
    return os.urandom(KEY_SIZE)


def _check_key(key: bytes) -> None:
    if not isinstance(key, bytes) or len(key) != KEY_SIZE:
        raise InvalidKey(f"an SM4 key is {KEY_SIZE} bytes")


def seal(key: bytes, nonce: bytes, plaintext: bytes, aad: bytes) -> bytes:
    """Raw SM4-GCM: ``ciphertext ‖ tag``. Callers want :func:`encrypt`; this is for test vectors."""
    encryptor = Cipher(algorithms.SM4(key), modes.GCM(nonce)).encryptor()
    if aad:
        encryptor.authenticate_additional_data(aad)
    body = encryptor.update(plaintext) + encryptor.finalize()
    return body + encryptor.tag


def open_sealed(key: bytes, nonce: bytes, sealed: bytes, aad: bytes) -> bytes:
    body, tag = sealed[:-TAG_SIZE], sealed[-TAG_SIZE:]
    decryptor = Cipher(algorithms.SM4(key), modes.GCM(nonce, tag)).decryptor()
    if aad:
        decryptor.authenticate_additional_data(aad)
    try:
        return decryptor.update(body) + decryptor.finalize()
    except InvalidTag:
        raise DecryptionFailed(
            "SM4-GCM authentication failed: wrong key, wrong AAD, or the token was altered"
        ) from None


def encrypt(key: bytes, plaintext: bytes, *, aad: bytes = b"") -> bytes:
    _check_key(key)
    nonce = os.urandom(NONCE_SIZE)
    return _HEADER + nonce + seal(key, nonce, plaintext, aad)


def decrypt(key: bytes, token: bytes, *, aad: bytes = b"") -> bytes:
    _check_key(key)
    if len(token) < 1 + NONCE_SIZE + TAG_SIZE:
        raise DecryptionFailed(f"SM4-GCM token is {len(token)} bytes, too short to be one")
    if token[0] != VERSION:
        raise DecryptionFailed(f"unknown SM4-GCM token version 0x{token[0]:02x}")
    nonce = token[1 : 1 + NONCE_SIZE]
    return open_sealed(key, nonce, token[1 + NONCE_SIZE :], aad)
