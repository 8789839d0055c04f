"""Issue 22 finding 9: the DER/PEM code is asn1crypto's now, byte for byte compatible with the
hand-written encoder it replaced (the vectors below are that encoder's output) and as strict."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from creditbridge.core.crypto import _asn1

N = 0xFFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFF7203DF6B21C6052B53BBF40939D54123
POINT = b"\x04" + bytes(range(64))

# Written by the hand-written encoder (git history of core/crypto/_asn1.py) for d = 0x1234.
PRIVATE_0x1234 = bytes.fromhex(
    "308187020100301306072a8648ce3d020106082a811ccf5501822d046d306b0201010420"
    + "00" * 30 + "1234" + "a14403420004" + bytes(range(64)).hex()
)  # fmt: skip
PUBLIC = bytes.fromhex("3059301306072a8648ce3d020106082a811ccf5501822d034200") + POINT
SIGNATURE_5_2_255 = bytes.fromhex("3026020105022100") + (2**255).to_bytes(32, "big")


def test_encodings_are_those_of_the_hand_written_module() -> None:
    assert _asn1.encode_private_key(0x1234, POINT) == PRIVATE_0x1234
    assert _asn1.encode_public_key(POINT) == PUBLIC
    assert _asn1.encode_signature(5, 2**255) == SIGNATURE_5_2_255
    assert _asn1.decode_private_key(PRIVATE_0x1234) == (0x1234, POINT)
    assert _asn1.decode_public_key(PUBLIC) == POINT
    assert _asn1.decode_signature(SIGNATURE_5_2_255) == (5, 2**255)


@given(st.integers(1, N - 1), st.integers(1, N - 1))
def test_signatures_round_trip(r: int, s: int) -> None:
    assert _asn1.decode_signature(_asn1.encode_signature(r, s)) == (r, s)


@given(st.integers(1, N - 1), st.binary(min_size=64, max_size=64))
def test_private_keys_round_trip_through_pem(d: int, xy: bytes) -> None:
    pem = _asn1.pem_encode("PRIVATE KEY", _asn1.encode_private_key(d, b"\x04" + xy))
    assert _asn1.decode_private_key(_asn1.pem_decode("PRIVATE KEY", pem)) == (d, b"\x04" + xy)


@pytest.mark.parametrize(
    "der",
    [
        b"\x30\x81\x06" + _asn1.encode_signature(5, 6)[2:],  # non-minimal length
        bytes.fromhex("300702020005020106"),  # non-minimal integer
        bytes.fromhex("3006020105020106") + b"\x00",  # trailing byte
        bytes.fromhex("30060201fb020106"),  # negative r
        b"",
    ],
)
def test_only_der_signatures_are_read(der: bytes) -> None:
    with pytest.raises(_asn1.DerError):
        _asn1.decode_signature(der)


def test_a_key_of_another_curve_is_refused() -> None:
    p256 = PUBLIC.replace(
        bytes.fromhex("06082a811ccf5501822d"), bytes.fromhex("06082a8648ce3d030107")
    )
    with pytest.raises(_asn1.DerError):
        _asn1.decode_public_key(p256)
    with pytest.raises(_asn1.DerError):
        _asn1.decode_private_key(PRIVATE_0x1234[:-1])
