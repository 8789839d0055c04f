"""The seam a certified cryptographic module replaces: one Protocol, one software implementation.

For 密评 (GB/T 39786-2021, level 3) keys and key operations normally live in a certified cipher
machine or HSM (密码机, typically driven through the GM/T 0018 SDF interface). Such a provider
implements :class:`CryptoProvider`; its signing keys are handles into the device that satisfy
:class:`SigningKey`, and the secret never reaches Python. Everything above this module — reports,
consent receipts, exchange packages — calls the provider and does not know which one it has.
"""

from __future__ import annotations

import os
from functools import lru_cache
from typing import Protocol

from creditbridge.core.crypto import digest, sm2, sm4
from creditbridge.core.crypto.errors import CryptoError
from creditbridge.core.crypto.sm2 import DEFAULT_USER_ID, Sm2PrivateKey, Sm2PublicKey


class SigningKey(Protocol):
    """What a provider signs with: a software :class:`Sm2PrivateKey` or a handle into an HSM."""

    @property
    def public_key(self) -> Sm2PublicKey: ...


class CryptoProvider(Protocol):
    """The cryptographic operations the platform uses, all with China's commercial algorithms."""

    @property
    def name(self) -> str: ...

    def random_bytes(self, n: int) -> bytes: ...

    def sm3_digest(self, data: bytes) -> bytes: ...

    def hmac_sm3(self, key: bytes, data: bytes) -> bytes: ...

    def generate_sm4_key(self) -> bytes: ...

    def sm4_gcm_encrypt(self, key: bytes, plaintext: bytes, *, aad: bytes = b"") -> bytes: ...

    def sm4_gcm_decrypt(self, key: bytes, token: bytes, *, aad: bytes = b"") -> bytes: ...

    def generate_sm2_key(self) -> SigningKey: ...

    def sm2_sign(
        self, private_key: SigningKey, message: bytes, *, user_id: bytes = DEFAULT_USER_ID
    ) -> bytes: ...

    def sm2_verify(
        self,
        public_key: Sm2PublicKey,
        message: bytes,
        signature: bytes,
        *,
        user_id: bytes = DEFAULT_USER_ID,
    ) -> bool: ...


class SoftwareCryptoProvider:
    """Software implementation: SM3 from hashlib/OpenSSL, SM4-GCM from ``cryptography``, SM2 from
    the engine named by ``sm2_engine`` (``"tongsuo"`` or ``"gmssl"``; default: Tongsuo if
    installed). Not a certified product — see :mod:`creditbridge.core.crypto.provider`.
    """

    def __init__(self, *, sm2_engine: str | None = None) -> None:
        self._engine_name = sm2_engine
        self._engine: sm2.Sm2Engine | None = None
        if sm2_engine is not None:
            self._engine = sm2.load_engine(sm2_engine)

    @property
    def sm2_engine(self) -> sm2.Sm2Engine:
        # Loaded on first use: Tongsuo takes ~40 ms to load, which hashing-only processes skip.
        if self._engine is None:
            self._engine = sm2.load_engine(self._engine_name)
        return self._engine

    @property
    def name(self) -> str:
        return f"software/{self.sm2_engine.name}"

    def random_bytes(self, n: int) -> bytes:
        return os.urandom(n)

    def sm3_digest(self, data: bytes) -> bytes:
        return digest.sm3_digest(data)

    def hmac_sm3(self, key: bytes, data: bytes) -> bytes:
        return digest.hmac_sm3(key, data)

    def generate_sm4_key(self) -> bytes:
        return sm4.generate_key()

    def sm4_gcm_encrypt(self, key: bytes, plaintext: bytes, *, aad: bytes = b"") -> bytes:
        return sm4.encrypt(key, plaintext, aad=aad)

    def sm4_gcm_decrypt(self, key: bytes, token: bytes, *, aad: bytes = b"") -> bytes:
        return sm4.decrypt(key, token, aad=aad)

    def generate_sm2_key(self) -> Sm2PrivateKey:
        return Sm2PrivateKey.generate(engine=self.sm2_engine)

    def sm2_sign(
        self, private_key: SigningKey, message: bytes, *, user_id: bytes = DEFAULT_USER_ID
    ) -> bytes:
        if not isinstance(private_key, Sm2PrivateKey):
            raise CryptoError(
                f"the software provider signs with an Sm2PrivateKey, not {type(private_key).__name__}"
            )
        return sm2.sign(self.sm2_engine, private_key, message, user_id=user_id)

    def sm2_verify(
        self,
        public_key: Sm2PublicKey,
        message: bytes,
        signature: bytes,
        *,
        user_id: bytes = DEFAULT_USER_ID,
    ) -> bool:
        return sm2.verify(self.sm2_engine, public_key, message, signature, user_id=user_id)


@lru_cache(maxsize=1)
def get_provider() -> CryptoProvider:
    """The process-wide provider. Today always software; an HSM provider plugs in here."""
    return SoftwareCryptoProvider()
