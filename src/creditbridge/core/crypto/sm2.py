"""SM2 digital signatures (GB/T 32918.1/.2-2016, curve sm2p256v1 of GB/T 32918.5-2017).

The parts that define *what* is signed are ours and identical for every engine: the user digest
``Z_A`` and ``e = SM3(Z_A ‖ M)`` (GB/T 32918.2 §5.5 and §6.1 steps A1–A2), public-key validation
(GB/T 32918.1 §6.2), the range checks of verification (§7.1 B1–B2), and the DER and PEM encodings.
An *engine* does only the elliptic-curve arithmetic on ``e`` (steps A3–A7 and B3–B7):

* ``tongsuo`` — Tongsuo (OpenSSL 1.1.1 with the Chinese algorithms) through ``tongsuopy``: C code,
  and OpenSSL's CSPRNG for the per-signature nonce ``k``. About 14× faster to sign and 30× faster
  to verify than gmssl (figures in :mod:`creditbridge.core.crypto`).
  ``tongsuopy``'s public ``sign()`` always hashes with the default ID and exposes no way to set
  another, so we call ``EVP_PKEY_sign``/``EVP_PKEY_verify`` on ``e`` through its cffi binding: for
  SM2 keys those take the digest as is (``sm2_sign``/``sm2_verify`` in Tongsuo's ``crypto/sm2``).
* ``gmssl`` — the pure-Python ``gmssl`` package; the fallback where no
  ``tongsuopy`` wheel exists. Two of its defaults are unsafe and avoided here: it draws ``k`` from
  ``random.choice`` (Mersenne Twister, predictable — we pass ``k`` from ``secrets``), and its
  constructor ``lstrip("04")``s public keys, corrupting any key whose hex starts with 0 or 4 after
  the prefix (we set the attribute directly).

Interoperability of the two engines, in both directions, and against the standard's examples, is
proved by ``tests/core/test_crypto.py``.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from typing import Any, NamedTuple, Protocol

from creditbridge.core.crypto import _asn1
from creditbridge.core.crypto.digest import sm3_digest, sm3_new
from creditbridge.core.crypto.errors import CryptoError, InvalidKey

DEFAULT_USER_ID = b"1234567812345678"
"""The ID to use when the parties agreed on none (GM/T 0009-2012 §10, GB/T 35276-2017)."""


class Curve(NamedTuple):
    """Short Weierstrass curve y² = x³ + ax + b over F_p with base point G of prime order n."""

    p: int
    a: int
    b: int
    gx: int
    gy: int
    n: int


SM2P256V1 = Curve(
    p=0xFFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF00000000FFFFFFFFFFFFFFFF,
    a=0xFFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF00000000FFFFFFFFFFFFFFFC,
    b=0x28E9FA9E9D9F5E344D5A9E4BCF6509A7F39789F515AB8F92DDBCBD414D940E93,
    gx=0x32C4AE2C1F1981195F9904466A39C9948FE30BBFF2660BE1715A4589334C74C7,
    gy=0xBC3736A2F4F6779C59BDCEE36B692153D0A9877CC62A474002DF32E52139F0A0,
    n=0xFFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFF7203DF6B21C6052B53BBF40939D54123,
)
_N = SM2P256V1.n


def _u256(value: int) -> bytes:
    return value.to_bytes(32, "big")


def user_digest(x: int, y: int, user_id: bytes, curve: Curve = SM2P256V1) -> bytes:
    """``Z_A = SM3(ENTL_A ‖ ID_A ‖ a ‖ b ‖ x_G ‖ y_G ‖ x_A ‖ y_A)`` (GB/T 32918.2-2016 §5.5).

    It binds the signature to the signer's identity and public key, so a signature made under one
    ID does not verify under another.
    """
    # ENTL_A is the ID's length in *bits* in two bytes, which caps the ID at 8191 bytes.
    if len(user_id) > 8191:
        raise CryptoError("an SM2 user ID is at most 8191 bytes")
    fields = (curve.a, curve.b, curve.gx, curve.gy, x, y)
    return sm3_digest(
        (len(user_id) * 8).to_bytes(2, "big") + user_id + b"".join(map(_u256, fields))
    )


def message_digest(public_key: Sm2PublicKey, message: bytes, user_id: bytes) -> bytes:
    """``e = SM3(Z_A ‖ M)``, the value the curve arithmetic signs (GB/T 32918.2 §6.1 A1–A2)."""
    h = sm3_new()
    h.update(user_digest(public_key.x, public_key.y, user_id))
    h.update(message)
    e: bytes = h.digest()
    return e


class Sm2PublicKey:
    """A point on sm2p256v1, checked on construction; safe to publish.

    Serialised as PEM ``PUBLIC KEY`` (X.509 SubjectPublicKeyInfo, what OpenSSL, Java and GmSSL
    read) by :meth:`to_pem`, or as the raw uncompressed point ``04‖x‖y`` by :attr:`point`.
    """

    __slots__ = ("_handles", "_x", "_y")

    def __init__(self, x: int, y: int) -> None:
        p, a, b = SM2P256V1.p, SM2P256V1.a, SM2P256V1.b
        # GB/T 32918.1-2016 §6.2.1: coordinates in F_p and the point on the curve. The cofactor is
        # 1, so every such point other than infinity (which 04‖x‖y cannot encode) is in <G>.
        if not (0 <= x < p and 0 <= y < p) or (y * y - (x * x * x + a * x + b)) % p:
            raise InvalidKey("the point is not on the SM2 curve")
        self._x = x
        self._y = y
        self._handles: dict[str, Any] = {}

    @property
    def x(self) -> int:
        return self._x

    @property
    def y(self) -> int:
        return self._y

    @property
    def point(self) -> bytes:
        """Uncompressed point ``04‖x‖y``, 65 bytes."""
        return b"\x04" + _u256(self._x) + _u256(self._y)

    @classmethod
    def from_point(cls, point: bytes) -> Sm2PublicKey:
        if len(point) != 65 or point[0] != 0x04:
            raise InvalidKey("an SM2 public point is 65 bytes: 04 ‖ x ‖ y")
        return cls(int.from_bytes(point[1:33], "big"), int.from_bytes(point[33:], "big"))

    def to_der(self) -> bytes:
        return _asn1.encode_public_key(self.point)

    def to_pem(self) -> str:
        return _asn1.pem_encode("PUBLIC KEY", self.to_der())

    @classmethod
    def from_pem(cls, pem: str | bytes) -> Sm2PublicKey:
        try:
            point = _asn1.decode_public_key(_asn1.pem_decode("PUBLIC KEY", pem))
        except _asn1.DerError as exc:
            raise InvalidKey(f"not an SM2 public key PEM: {exc}") from exc
        return cls.from_point(point)

    @property
    def fingerprint(self) -> str:
        """SM3 of the DER SubjectPublicKeyInfo, hex: a stable name for the key in records."""
        return sm3_digest(self.to_der()).hex()

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Sm2PublicKey):
            return NotImplemented
        return (self._x, self._y) == (other._x, other._y)

    def __hash__(self) -> int:
        return hash((self._x, self._y))

    def __repr__(self) -> str:
        return f"Sm2PublicKey(fingerprint={self.fingerprint[:16]}…)"


class Sm2PrivateKey:
    """A secret scalar d ∈ [1, n−2] with its public key.

    Serialised as unencrypted PEM ``PRIVATE KEY`` (PKCS#8, as ``openssl genpkey -algorithm SM2``
    writes it). Such a file is a secret: it belongs in the settings store or an HSM, never in the
    repository or a log. ``repr`` does not show the secret. Make one with :meth:`generate`,
    :meth:`from_int` or :meth:`from_pem`, which derive and check the public half.
    """

    __slots__ = ("_d", "_handles", "_public_key")

    def __init__(self, d: int, public_key: Sm2PublicKey) -> None:
        self._d = d
        self._public_key = public_key
        self._handles: dict[str, Any] = {}

    @property
    def public_key(self) -> Sm2PublicKey:
        return self._public_key

    @classmethod
    def generate(cls, *, engine: Sm2Engine | None = None) -> Sm2PrivateKey:
        """New exportable software key; d from ``secrets`` (os.urandom)."""
        return cls.from_int(secrets.randbelow(_N - 2) + 1, engine=engine)

    @classmethod
    def from_int(cls, d: int, *, engine: Sm2Engine | None = None) -> Sm2PrivateKey:
        # d = n−1 is excluded because signing divides by 1 + d (GB/T 32918.1-2016 §6.1).
        if not 1 <= d <= _N - 2:
            raise InvalidKey("an SM2 private key is an integer in [1, n-2]")
        x, y = (engine or default_engine()).public_point(d)
        return cls(d, Sm2PublicKey(x, y))

    def to_pem(self) -> str:
        der = _asn1.encode_private_key(self._d, self._public_key.point)
        return _asn1.pem_encode("PRIVATE KEY", der)

    @classmethod
    def from_pem(cls, pem: str | bytes, *, engine: Sm2Engine | None = None) -> Sm2PrivateKey:
        try:
            d, point = _asn1.decode_private_key(_asn1.pem_decode("PRIVATE KEY", pem))
        except _asn1.DerError as exc:
            raise InvalidKey(f"not an unencrypted SM2 PKCS#8 private key PEM: {exc}") from exc
        key = cls.from_int(d, engine=engine)
        # A file whose public half does not match would make every signature fail to verify.
        if point is not None and point != key.public_key.point:
            raise InvalidKey("the private key file's public key does not match its secret")
        return key

    def __repr__(self) -> str:
        return f"Sm2PrivateKey(public={self._public_key!r})"


class Sm2Engine(Protocol):
    """The elliptic-curve arithmetic of SM2 over a prepared digest ``e``."""

    name: str

    def public_point(self, d: int) -> tuple[int, int]: ...

    def sign_digest(self, key: Sm2PrivateKey, e: bytes) -> tuple[int, int]: ...

    def verify_digest(self, key: Sm2PublicKey, e: bytes, r: int, s: int) -> bool: ...


def _handle(key: Sm2PrivateKey | Sm2PublicKey, engine: str, load: Callable[[], Any]) -> Any:
    # Loading a key into an engine costs as much as a signature, so each key keeps its handle.
    handles = key._handles
    handle = handles.get(engine)
    if handle is None:
        handle = handles[engine] = load()
    return handle


class TongsuoEngine:
    name = "tongsuo"

    def __init__(self) -> None:
        from tongsuopy.backends.tongsuo import (  # type: ignore[import-untyped]
            backend,
        )
        from tongsuopy.crypto.asymciphers import ec  # type: ignore[import-untyped]

        self._backend = backend
        self._lib = backend._lib
        self._ffi = backend._ffi
        self._ec = ec

    def _private(self, key: Sm2PrivateKey) -> Any:
        return _handle(key, self.name, lambda: self._ec.derive_private_key(key._d, self._ec.SM2()))

    def _public(self, key: Sm2PublicKey) -> Any:
        return _handle(
            key,
            self.name,
            lambda: self._ec.EllipticCurvePublicKey.from_encoded_point(self._ec.SM2(), key.point),
        )

    def public_point(self, d: int) -> tuple[int, int]:
        numbers = self._ec.derive_private_key(d, self._ec.SM2()).public_key().public_numbers()
        return numbers.x, numbers.y

    def _context(self, handle: Any, init: Callable[[Any], int]) -> Any:
        lib, ffi = self._lib, self._ffi
        ctx = ffi.gc(lib.EVP_PKEY_CTX_new(handle._evp_pkey, ffi.NULL), lib.EVP_PKEY_CTX_free)
        if ctx == ffi.NULL or init(ctx) != 1:
            lib.ERR_clear_error()
            raise CryptoError("Tongsuo could not set up an SM2 operation")
        return ctx

    def sign_digest(self, key: Sm2PrivateKey, e: bytes) -> tuple[int, int]:
        lib, ffi = self._lib, self._ffi
        ctx = self._context(self._private(key), lib.EVP_PKEY_sign_init)
        size = ffi.new("size_t *", 80)  # a DER SM2 signature is at most 72 bytes
        out = ffi.new("unsigned char[]", 80)
        if lib.EVP_PKEY_sign(ctx, out, size, e, len(e)) != 1:
            lib.ERR_clear_error()
            raise CryptoError("Tongsuo failed to make an SM2 signature")
        return _asn1.decode_signature(bytes(ffi.buffer(out, size[0])))

    def verify_digest(self, key: Sm2PublicKey, e: bytes, r: int, s: int) -> bool:
        lib = self._lib
        ctx = self._context(self._public(key), lib.EVP_PKEY_verify_init)
        signature = _asn1.encode_signature(r, s)
        ok: bool = lib.EVP_PKEY_verify(ctx, signature, len(signature), e, len(e)) == 1
        if not ok:
            lib.ERR_clear_error()
        return ok


class GmsslEngine:
    name = "gmssl"

    def __init__(self) -> None:
        from gmssl import sm2 as gmssl_sm2

        self._crypt_sm2 = gmssl_sm2.CryptSM2

    def _private(self, key: Sm2PrivateKey) -> Any:
        return _handle(key, self.name, lambda: self._crypt_sm2(f"{key._d:064x}", ""))

    def _public(self, key: Sm2PublicKey) -> Any:
        def load() -> Any:
            handle = self._crypt_sm2("", "")
            handle.public_key = f"{key.x:064x}{key.y:064x}"  # bypasses the lstrip("04") bug
            return handle

        return _handle(key, self.name, load)

    def public_point(self, d: int) -> tuple[int, int]:
        handle = self._crypt_sm2(f"{d:064x}", "")
        point = handle._kg(d, handle.ecc_table["g"])
        return int(point[:64], 16), int(point[64:], 16)

    def sign_digest(self, key: Sm2PrivateKey, e: bytes) -> tuple[int, int]:
        handle = self._private(key)
        while True:
            # GB/T 32918.2 §6.1 A3: k uniform in [1, n-1] from a cryptographic RNG.
            k = secrets.randbelow(_N - 1) + 1
            signature = handle.sign(e, f"{k:064x}")
            if signature:  # None when r = 0, r + k = n or s = 0 (A5, A6): draw another k
                return int(signature[:64], 16), int(signature[64:], 16)

    def verify_digest(self, key: Sm2PublicKey, e: bytes, r: int, s: int) -> bool:
        return bool(self._public(key).verify(f"{r:064x}{s:064x}", e))


_ENGINES: dict[str, type[TongsuoEngine] | type[GmsslEngine]] = {
    "tongsuo": TongsuoEngine,
    "gmssl": GmsslEngine,
}
_loaded: dict[str, Sm2Engine] = {}


def load_engine(name: str | None = None) -> Sm2Engine:
    """The named engine, or Tongsuo when ``tongsuopy`` imports and gmssl otherwise."""
    if name is None:
        try:
            return load_engine("tongsuo")
        except ImportError:
            return load_engine("gmssl")
    engine = _loaded.get(name)
    if engine is None:
        if name not in _ENGINES:
            raise CryptoError(f"unknown SM2 engine {name!r}; known: {', '.join(_ENGINES)}")
        engine = _loaded[name] = _ENGINES[name]()
    return engine


def default_engine() -> Sm2Engine:
    return load_engine(None)


def sign(
    engine: Sm2Engine, key: Sm2PrivateKey, message: bytes, *, user_id: bytes = DEFAULT_USER_ID
) -> bytes:
    e = message_digest(key.public_key, message, user_id)
    r, s = engine.sign_digest(key, e)
    return _asn1.encode_signature(r, s)


def decode_signature(signature: bytes) -> tuple[int, int] | None:
    """``(r, s)`` from DER or from raw 64-byte ``r‖s``; ``None`` if it is neither."""
    try:
        return _asn1.decode_signature(signature)
    except _asn1.DerError:
        pass
    if len(signature) == 64:
        return int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big")
    return None


def verify(
    engine: Sm2Engine,
    key: Sm2PublicKey,
    message: bytes,
    signature: bytes,
    *,
    user_id: bytes = DEFAULT_USER_ID,
) -> bool:
    rs = decode_signature(signature)
    if rs is None:
        return False
    r, s = rs
    # GB/T 32918.2-2016 §7.1 B1–B2; the engines check this too, but not all of them (gmssl).
    if not (1 <= r < _N and 1 <= s < _N):
        return False
    return engine.verify_digest(key, message_digest(key, message, user_id), r, s)
