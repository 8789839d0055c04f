"""The few DER structures SM2 needs, through asn1crypto (a maintained ASN.1 library).

``cryptography`` does not know the SM2 curve, so it cannot read or write these keys; asn1crypto
knows the structures and is told the curve's name and size once (``NamedCurve.register``).

* Signature: ``SM2Signature ::= SEQUENCE { r INTEGER, s INTEGER }`` (GM/T 0009-2012 §7), the form
  OpenSSL/Tongsuo, BouncyCastle and GmSSL exchange (asn1crypto's ``DSASignature``).
* Public key: X.509 ``SubjectPublicKeyInfo`` with ``id-ecPublicKey`` and the named curve
  ``sm2p256v1`` (OID 1.2.156.10197.1.301, GM/T 0006-2012), point uncompressed ``04‖x‖y``.
* Private key: PKCS#8 ``PrivateKeyInfo`` wrapping an RFC 5915 ``ECPrivateKey``, byte for byte what
  ``openssl genpkey -algorithm SM2`` (OpenSSL ≥ 1.1.1, Tongsuo) writes.

The encodings are byte for byte those of the hand-written module this replaced, so existing key
files and signatures stay valid. asn1crypto also reads BER; parsers here accept only DER (every
structure must re-encode to the very bytes it was read from), so that one key or signature has
exactly one encoding.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any, Final

from asn1crypto import algos, core, keys

SM2_CURVE: Final = "sm2p256v1"
SM2_CURVE_OID: Final = "1.2.156.10197.1.301"
keys.NamedCurve.register(SM2_CURVE, SM2_CURVE_OID, 32)

# AlgorithmIdentifier { id-ecPublicKey (1.2.840.10045.2.1), sm2p256v1 (1.2.156.10197.1.301) }
ALGORITHM_ID: Final = bytes.fromhex("301306072a8648ce3d020106082a811ccf5501822d")


class DerError(ValueError):
    """The bytes are not the expected DER structure."""


def _parameters() -> keys.ECDomainParameters:
    return keys.ECDomainParameters(name="named", value=SM2_CURVE)


def _load(kind: type[Any], der: bytes) -> Any:
    """Parse ``der`` as ``kind``, refusing anything but its one DER encoding."""
    try:
        value = kind.load(der, strict=True)
        value.native  # noqa: B018 - parses every nested value now, not lazily later
        if kind is keys.PrivateKeyInfo:
            # The secret is an OCTET STRING of fixed width (32 bytes from OpenSSL), which a
            # re-encoding would shorten to the integer's minimal width: keep the width read.
            secret = value["private_key"].parsed["private_key"]
            secret.set_encoded_width(len(secret.contents))
        canonical = value.dump(force=True)
    except Exception as exc:  # asn1crypto raises many kinds (even AttributeError) on hostile bytes
        raise DerError(f"malformed {kind.__name__}: {exc}") from exc
    if canonical != der:
        raise DerError(f"{kind.__name__} is not in DER (non-minimal length or integer)")
    return value


def _unsigned(value: core.Integer) -> int:
    number = int(value.native)
    if number < 0 or not value.contents:
        raise DerError("integer is empty or negative")
    return number


def encode_signature(r: int, s: int) -> bytes:
    return bytes(algos.DSASignature({"r": r, "s": s}).dump())


def decode_signature(signature: bytes) -> tuple[int, int]:
    parsed = _load(algos.DSASignature, signature)
    return _unsigned(parsed["r"]), _unsigned(parsed["s"])


def _is_sm2(algorithm: keys.PublicKeyAlgorithm | keys.PrivateKeyAlgorithm) -> bool:
    return bool(
        algorithm["algorithm"].native == "ec"
        and algorithm["parameters"].name == "named"
        and algorithm["parameters"].chosen.native == SM2_CURVE
    )


def encode_public_key(point: bytes) -> bytes:
    info = keys.PublicKeyInfo(
        {
            "algorithm": keys.PublicKeyAlgorithm({"algorithm": "ec", "parameters": _parameters()}),
            "public_key": keys.ECPointBitString(point),
        }
    )
    return bytes(info.dump())


def decode_public_key(der: bytes) -> bytes:
    """Return the ``04‖x‖y`` point of an SM2 SubjectPublicKeyInfo."""
    info = _load(keys.PublicKeyInfo, der)
    if not _is_sm2(info["algorithm"]):
        raise DerError("not an SM2 (id-ecPublicKey, sm2p256v1) public key")
    bits = info["public_key"]
    if bits.unused_bits:
        raise DerError("malformed public key bit string")
    return bytes(bits.native)


def encode_private_key(d: int, point: bytes) -> bytes:
    ec_private_key = keys.ECPrivateKey(
        {"version": "ecPrivkeyVer1", "private_key": d, "public_key": keys.ECPointBitString(point)}
    )
    ec_private_key.set_key_size(32)
    algorithm = keys.PrivateKeyAlgorithm({"algorithm": "ec", "parameters": _parameters()})
    info = keys.PrivateKeyInfo(
        {"version": 0, "private_key_algorithm": algorithm, "private_key": ec_private_key}
    )
    return bytes(info.dump())


def decode_private_key(der: bytes) -> tuple[int, bytes | None]:
    """Return the secret scalar and, when the file carries it, the public point."""
    info = _load(keys.PrivateKeyInfo, der)  # [0] attributes are accepted and ignored
    if info["version"].native != 0 or not _is_sm2(info["private_key_algorithm"]):
        raise DerError("not an SM2 (id-ecPublicKey, sm2p256v1) PKCS#8 private key")
    key = info["private_key"].parsed  # checked as DER with the whole structure
    if key["version"].native != "ecPrivkeyVer1":
        raise DerError("ECPrivateKey version must be 1 (RFC 5915)")
    secret = key["private_key"].contents
    if not 0 < len(secret) <= 32:
        raise DerError("private key must be at most 32 bytes")
    parameters = key["parameters"]
    if parameters.native is not None and (
        parameters.name != "named" or parameters.chosen.native != SM2_CURVE
    ):
        raise DerError("ECPrivateKey names a curve other than sm2p256v1")
    point: bytes | None = None
    if key["public_key"].native is not None:
        if key["public_key"].unused_bits:
            raise DerError("malformed public key bit string")
        point = bytes(key["public_key"].native)
    return int.from_bytes(secret, "big"), point


def pem_encode(label: str, der: bytes) -> str:
    text = base64.b64encode(der).decode("ascii")
    lines = [text[i : i + 64] for i in range(0, len(text), 64)]
    return "\n".join([f"-----BEGIN {label}-----", *lines, f"-----END {label}-----", ""])


def pem_decode(label: str, pem: str | bytes) -> bytes:
    text = pem.decode("ascii", "replace") if isinstance(pem, bytes) else pem
    begin, end = f"-----BEGIN {label}-----", f"-----END {label}-----"
    start = text.find(begin)
    stop = text.find(end, start + len(begin))
    if start < 0 or stop < 0:
        raise DerError(f"no '{begin}' block")
    body = "".join(text[start + len(begin) : stop].split())
    try:
        return base64.b64decode(body, validate=True)
    except binascii.Error as exc:
        raise DerError(f"bad base64 in PEM: {exc}") from exc
