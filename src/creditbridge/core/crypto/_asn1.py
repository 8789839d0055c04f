"""The few DER structures SM2 needs, encoded and parsed strictly by hand.

``cryptography`` does not know the SM2 curve, so it cannot read or write these keys; the structures
are small and fixed, and doing them here keeps key files independent of the SM2 engine in use.

* Signature: ``SM2Signature ::= SEQUENCE { r INTEGER, s INTEGER }`` (GM/T 0009-2012 §7), the form
  OpenSSL/Tongsuo, BouncyCastle and GmSSL exchange.
* Public key: X.509 ``SubjectPublicKeyInfo`` with ``id-ecPublicKey`` and the named curve
  ``sm2p256v1`` (OID 1.2.156.10197.1.301, GM/T 0006-2012), point uncompressed ``04‖x‖y``.
* Private key: PKCS#8 ``PrivateKeyInfo`` wrapping an RFC 5915 ``ECPrivateKey``, byte for byte what
  ``openssl genpkey -algorithm SM2`` (OpenSSL ≥ 1.1.1, Tongsuo) writes.

Parsers accept only DER (minimal lengths, minimal positive integers) so that one key or signature
has exactly one encoding.
"""

from __future__ import annotations

import base64
import binascii

# AlgorithmIdentifier { id-ecPublicKey (1.2.840.10045.2.1), sm2p256v1 (1.2.156.10197.1.301) }
ALGORITHM_ID = bytes.fromhex("301306072a8648ce3d020106082a811ccf5501822d")
_SM2_CURVE_OID = bytes.fromhex("06082a811ccf5501822d")

_SEQUENCE = 0x30
_INTEGER = 0x02
_BIT_STRING = 0x03
_OCTET_STRING = 0x04
_CONTEXT_0 = 0xA0
_CONTEXT_1 = 0xA1


class DerError(ValueError):
    """The bytes are not the expected DER structure."""


def _length(n: int) -> bytes:
    if n < 0x80:
        return bytes([n])
    body = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(body)]) + body


def _tlv(tag: int, value: bytes) -> bytes:
    return bytes([tag]) + _length(len(value)) + value


def _integer(value: int) -> bytes:
    # A leading zero byte keeps the top bit clear: DER INTEGERs are signed (X.690 §8.3).
    return _tlv(_INTEGER, value.to_bytes(value.bit_length() // 8 + 1, "big"))


def _read(buf: bytes, pos: int, tag: int) -> tuple[bytes, int]:
    """Read one TLV of ``tag`` at ``pos``; return its value and the position after it."""
    if pos + 2 > len(buf) or buf[pos] != tag:
        raise DerError(f"expected tag 0x{tag:02x} at {pos}")
    first = buf[pos + 1]
    pos += 2
    if first < 0x80:
        size = first
    else:
        count = first & 0x7F
        if count == 0 or count > 4 or pos + count > len(buf):
            raise DerError("unsupported length form")
        size = int.from_bytes(buf[pos : pos + count], "big")
        if size < 0x80 or buf[pos] == 0:
            raise DerError("length not minimally encoded")
        pos += count
    end = pos + size
    if end > len(buf):
        raise DerError("value runs past the end")
    return buf[pos:end], end


def _read_unsigned(buf: bytes, pos: int) -> tuple[int, int]:
    value, pos = _read(buf, pos, _INTEGER)
    if not value or value[0] & 0x80:
        raise DerError("integer is empty or negative")
    if len(value) > 1 and value[0] == 0 and not value[1] & 0x80:
        raise DerError("integer not minimally encoded")
    return int.from_bytes(value, "big"), pos


def _whole(buf: bytes, tag: int) -> bytes:
    value, end = _read(buf, 0, tag)
    if end != len(buf):
        raise DerError("trailing bytes")
    return value


def encode_signature(r: int, s: int) -> bytes:
    return _tlv(_SEQUENCE, _integer(r) + _integer(s))


def decode_signature(signature: bytes) -> tuple[int, int]:
    body = _whole(signature, _SEQUENCE)
    r, pos = _read_unsigned(body, 0)
    s, pos = _read_unsigned(body, pos)
    if pos != len(body):
        raise DerError("trailing bytes in signature")
    return r, s


def encode_public_key(point: bytes) -> bytes:
    # BIT STRING content starts with the count of unused bits, always 0 here.
    return _tlv(_SEQUENCE, ALGORITHM_ID + _tlv(_BIT_STRING, b"\x00" + point))


def decode_public_key(der: bytes) -> bytes:
    """Return the ``04‖x‖y`` point of an SM2 SubjectPublicKeyInfo."""
    body = _whole(der, _SEQUENCE)
    if not body.startswith(ALGORITHM_ID):
        raise DerError("not an SM2 (id-ecPublicKey, sm2p256v1) public key")
    bits, end = _read(body, len(ALGORITHM_ID), _BIT_STRING)
    if end != len(body) or not bits or bits[0] != 0:
        raise DerError("malformed public key bit string")
    return bits[1:]


def encode_private_key(d: int, point: bytes) -> bytes:
    ec_private_key = _tlv(
        _SEQUENCE,
        _integer(1)
        + _tlv(_OCTET_STRING, d.to_bytes(32, "big"))
        + _tlv(_CONTEXT_1, _tlv(_BIT_STRING, b"\x00" + point)),
    )
    return _tlv(_SEQUENCE, _integer(0) + ALGORITHM_ID + _tlv(_OCTET_STRING, ec_private_key))


def decode_private_key(der: bytes) -> tuple[int, bytes | None]:
    """Return the secret scalar and, when the file carries it, the public point."""
    body = _whole(der, _SEQUENCE)
    version, pos = _read_unsigned(body, 0)
    if version != 0 or body[pos : pos + len(ALGORITHM_ID)] != ALGORITHM_ID:
        raise DerError("not an SM2 (id-ecPublicKey, sm2p256v1) PKCS#8 private key")
    inner, _ = _read(body, pos + len(ALGORITHM_ID), _OCTET_STRING)  # [0] attributes are ignored
    key = _whole(inner, _SEQUENCE)
    if not key.startswith(b"\x02\x01\x01"):
        raise DerError("ECPrivateKey version must be 1 (RFC 5915)")
    secret, pos = _read(key, 3, _OCTET_STRING)
    if not 0 < len(secret) <= 32:
        raise DerError("private key must be at most 32 bytes")
    point: bytes | None = None
    if pos < len(key) and key[pos] == _CONTEXT_0:
        parameters, pos = _read(key, pos, _CONTEXT_0)
        if parameters != _SM2_CURVE_OID:
            raise DerError("ECPrivateKey names a curve other than sm2p256v1")
    if pos < len(key) and key[pos] == _CONTEXT_1:
        wrapped, pos = _read(key, pos, _CONTEXT_1)
        bits = _whole(wrapped, _BIT_STRING)
        if not bits or bits[0] != 0:
            raise DerError("malformed public key bit string")
        point = bits[1:]
    if pos != len(key):
        raise DerError("trailing bytes in ECPrivateKey")
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
