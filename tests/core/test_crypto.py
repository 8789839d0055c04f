"""The crypto provider against the standards' published examples, and SM2 engine interoperability.

Sources of the vectors:

* SM3 — GB/T 32905-2016 Appendix A, examples 1 and 2.
* HMAC-SM3 — GM/T 0042-2015 Appendix D.3 (as in OpenSSL test/recipes/30-test_evp_data/evpmac_sm3.txt).
* SM4 — GB/T 32907-2016 Appendix A, example 1.
* SM4-GCM — RFC 8998 Appendix A.1.
* SM2 on sm2p256v1 — GM/T 0003.5-2012 / GB/T 32918.5-2017 Appendix A ("message digest", default ID).
* SM2 on the test curve — GB/T 32918.2-2016 Appendix A (= draft-shen-sm2-ecdsa-02), ID ALICE123@YAHOO.COM.
* SM2 key file and prehashed signature — OpenSSL test/recipes/30-test_evp_data/evppkey_sm2.txt.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from enum import Enum
from uuid import UUID
from zoneinfo import ZoneInfo

import pytest
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from gmssl import sm2 as gmssl_sm2
from hypothesis import given
from hypothesis import strategies as st

from creditbridge.core import crypto
from creditbridge.core.crypto import (
    CryptoError,
    CryptoProvider,
    DecryptionFailed,
    InvalidKey,
    Sm2PrivateKey,
    Sm2PublicKey,
    SoftwareCryptoProvider,
    _asn1,
    digest,
    sm2,
    sm4,
)

try:
    from tongsuopy.crypto import hashes as tongsuo_hashes
    from tongsuopy.crypto import serialization as tongsuo_serialization
    from tongsuopy.crypto.asymciphers import ec as tongsuo_ec

    HAVE_TONGSUO = True
except ImportError:  # no tongsuopy wheel for this platform (e.g. Linux on ARM): gmssl only
    HAVE_TONGSUO = False

needs_tongsuo = pytest.mark.skipif(not HAVE_TONGSUO, reason="tongsuopy is not installed here")
ENGINES = ["tongsuo", "gmssl"] if HAVE_TONGSUO else ["gmssl"]
N = sm2.SM2P256V1.n


def h(text: str) -> bytes:
    return bytes.fromhex("".join(text.split()))


def gmssl_handle(key: Sm2PublicKey | None = None, d: int | None = None) -> gmssl_sm2.CryptSM2:
    handle = gmssl_sm2.CryptSM2(f"{d:064x}" if d else "", "")
    if key is not None:
        handle.public_key = f"{key.x:064x}{key.y:064x}"
    return handle


@pytest.fixture(params=ENGINES)
def provider(request: pytest.FixtureRequest) -> SoftwareCryptoProvider:
    return SoftwareCryptoProvider(sm2_engine=request.param)


# --- SM3 -----------------------------------------------------------------------------------------


def test_sm3_of_abc_is_the_gbt_32905_example_1() -> None:
    assert crypto.sm3_hex(b"abc") == (
        "66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0"
    )


def test_sm3_of_64_bytes_is_the_gbt_32905_example_2() -> None:
    assert crypto.sm3_digest(b"abcd" * 16) == h(
        "debe9ff9 2275b8a1 38604889 c18e5a4d 6fdb70e5 387e5765 293dcba3 9c0c5732"
    )


def test_sm3_fallback_backend_agrees_with_hashlib() -> None:
    fallback = digest._CryptographySm3()
    fallback.update(b"abcd" * 8)
    fallback.update(b"abcd" * 8)
    assert fallback.digest() == crypto.sm3_digest(b"abcd" * 16)


@pytest.mark.parametrize(
    ("key", "message", "mac"),
    [
        (
            h("0102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f20"),
            b"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq" * 2,
            "ca05e144ed05d1857840d1f318a4a8669e559fc8391f414485bfdf7bb408963a",
        ),
        (
            bytes([0x0B]) * 32,
            b"Hi There",
            "c0ba18c68b90c88bc07de794bfc7d2c8d19ec31ed8773bc2b390c9604e0be11e",
        ),
    ],
)
def test_hmac_sm3_matches_gmt_0042_examples(key: bytes, message: bytes, mac: str) -> None:
    assert crypto.hmac_sm3(key, message).hex() == mac


def test_hmac_sm3_fallback_agrees(monkeypatch: pytest.MonkeyPatch) -> None:
    expected = crypto.hmac_sm3(b"key", b"data")
    monkeypatch.setattr(digest, "HASHLIB_SM3", False)
    assert crypto.hmac_sm3(b"key", b"data") == expected


def test_constant_time_equal() -> None:
    assert crypto.constant_time_equal(b"same", b"same")
    assert not crypto.constant_time_equal(b"same", b"sane")


# --- canonical JSON and content digests ------------------------------------------------------------


def test_canonical_json_sorts_keys_at_every_depth_without_whitespace() -> None:
    record = {"name": "合肥市某某科技有限公司", "b": [3, {"z": None, "a": True}], "a": 1}
    assert crypto.canonical_json(record) == (
        '{"a":1,"b":[3,{"a":true,"z":null}],"name":"合肥市某某科技有限公司"}'.encode()
    )


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(min_value=-(2**63), max_value=2**64 - 1) | st.text(),
    lambda children: st.lists(children) | st.dictionaries(st.text(), children),
    max_leaves=20,
)


@given(json_values)
def test_canonical_json_equals_stdlib_sorted_compact_json(value: object) -> None:
    expected = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    assert crypto.canonical_json(value) == expected.encode()


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (Decimal("1.50"), "1.5"),
        (Decimal("1E+3"), "1000"),
        (Decimal("-0.00"), "0"),
        (Decimal("0.012"), "0.012"),
        (
            Decimal("12345678901234567890.123456789012345678"),
            "12345678901234567890.123456789012345678",
        ),
    ],
)
def test_decimals_are_exact_strings_without_trailing_zeros(value: Decimal, text: str) -> None:
    assert crypto.canonical_json({"v": value}) == b'{"v":"' + text.encode() + b'"}'


def test_the_same_instant_in_any_timezone_has_one_form() -> None:
    utc = datetime(2024, 5, 1, 0, 0, tzinfo=UTC)
    for other in (
        utc.astimezone(timezone(timedelta(hours=8))),
        utc.astimezone(ZoneInfo("Asia/Shanghai")),
        utc.replace(tzinfo=timezone(timedelta(0), "GMT")),
    ):
        assert crypto.canonical_json([other]) == b'["2024-05-01T00:00:00Z"]'
    assert (
        crypto.canonical_json([utc, date(2024, 5, 1)]) == b'["2024-05-01T00:00:00Z","2024-05-01"]'
    )
    assert crypto.canonical_json([utc.replace(microsecond=5)]) == b'["2024-05-01T00:00:00.000005Z"]'


def test_naive_datetime_is_refused() -> None:
    with pytest.raises(TypeError, match="naive datetime"):
        crypto.canonical_json({"at": datetime(2024, 5, 1)})


@dataclass
class Reading:
    value: float
    note: None = None


@pytest.mark.parametrize(
    "record",
    [
        {"x": float("nan")},
        {"x": [None, float("inf")]},
        {"a": None, "b": {"c": (1, "s", -float("inf"))}},
        [None, {"r": Reading(float("nan"))}],
    ],
)
def test_non_finite_floats_are_refused_not_written_as_null(record: object) -> None:
    with pytest.raises(ValueError, match="NaN"):
        crypto.canonical_json(record)


def test_finite_floats_beside_nulls_are_fine() -> None:
    assert crypto.canonical_json({"a": None, "b": [0.1, Reading(2.5)]}) == (
        b'{"a":null,"b":[0.1,{"note":null,"value":2.5}]}'
    )


@pytest.mark.parametrize("value", [b"raw", {1, 2}, Decimal("NaN")])
def test_values_without_a_canonical_form_are_refused(value: object) -> None:
    with pytest.raises(TypeError):
        crypto.canonical_json({"v": value})


def test_enums_uuids_and_dataclasses_have_a_canonical_form_with_sorted_fields() -> None:
    class Kind(Enum):
        TAX = "tax"

    @dataclass
    class Row:
        ref: UUID
        kind: Kind

    row = Row(UUID(int=1), Kind.TAX)
    assert crypto.canonical_json(row) == (
        b'{"kind":"tax","ref":"00000000-0000-0000-0000-000000000001"}'
    )


def test_content_digest_is_sm3_of_the_canonical_json() -> None:
    record = {"uscc": "91340100MA2N0X5F6R", "amount": Decimal("1200.00"), "n": 3}
    assert crypto.content_digest(record) == crypto.sm3_hex(
        b'{"amount":"1200","n":3,"uscc":"91340100MA2N0X5F6R"}'
    )
    assert crypto.content_digest(record) == crypto.content_digest(dict(reversed(record.items())))


# --- SM4 and SM4-GCM -----------------------------------------------------------------------------

RFC8998_KEY = h("0123456789ABCDEFFEDCBA9876543210")
RFC8998_IV = h("00001234567800000000ABCD")
RFC8998_AAD = h("FEEDFACEDEADBEEFFEEDFACEDEADBEEFABADDAD2")
RFC8998_PLAINTEXT = h(
    "AAAAAAAAAAAAAAAABBBBBBBBBBBBBBBBCCCCCCCCCCCCCCCCDDDDDDDDDDDDDDDD"
    "EEEEEEEEEEEEEEEEFFFFFFFFFFFFFFFFEEEEEEEEEEEEEEEEAAAAAAAAAAAAAAAA"
)
RFC8998_CIPHERTEXT = h(
    "17F399F08C67D5EE19D0DC9969C4BB7D5FD46FD3756489069157B282BB200735"
    "D82710CA5C22F0CCFA7CBF93D496AC15A56834CBCF98C397B4024A2691233B8D"
)
RFC8998_TAG = h("83DE3541E4C2B58177E065A9BF7B62EC")


def test_sm4_block_is_the_gbt_32907_example() -> None:
    key = h("0123456789abcdeffedcba9876543210")
    encryptor = Cipher(algorithms.SM4(key), modes.ECB()).encryptor()
    assert (encryptor.update(key) + encryptor.finalize()).hex() == (
        "681edf34d206965e86b3e94f536e4246"
    )


def test_sm4_gcm_is_the_rfc_8998_vector() -> None:
    sealed = sm4.seal(RFC8998_KEY, RFC8998_IV, RFC8998_PLAINTEXT, RFC8998_AAD)
    assert sealed == RFC8998_CIPHERTEXT + RFC8998_TAG


def test_a_version_1_token_is_plain_rfc_8998_sm4_gcm() -> None:
    token = b"\x01" + RFC8998_IV + RFC8998_CIPHERTEXT + RFC8998_TAG
    assert crypto.sm4_gcm_decrypt(RFC8998_KEY, token, aad=RFC8998_AAD) == RFC8998_PLAINTEXT


def test_sm4_gcm_round_trip_uses_a_fresh_nonce_each_time() -> None:
    key = crypto.generate_sm4_key()
    first = crypto.sm4_gcm_encrypt(key, "法定代表人身份证号".encode(), aad=b"enterprise:1:id_no")
    second = crypto.sm4_gcm_encrypt(key, "法定代表人身份证号".encode(), aad=b"enterprise:1:id_no")
    assert first != second
    assert first[0] == 0x01
    assert len(first) == 1 + 12 + len("法定代表人身份证号".encode()) + 16
    plain = crypto.sm4_gcm_decrypt(key, first, aad=b"enterprise:1:id_no")
    assert plain.decode() == "法定代表人身份证号"


def test_sm4_gcm_encrypts_empty_plaintext() -> None:
    key = crypto.generate_sm4_key()
    assert crypto.sm4_gcm_decrypt(key, crypto.sm4_gcm_encrypt(key, b"")) == b""


def test_sm4_gcm_wrong_key_fails() -> None:
    token = crypto.sm4_gcm_encrypt(b"k" * 16, b"secret")
    with pytest.raises(DecryptionFailed, match="wrong key"):
        crypto.sm4_gcm_decrypt(b"K" * 16, token)


def test_sm4_gcm_wrong_aad_fails() -> None:
    token = crypto.sm4_gcm_encrypt(b"k" * 16, b"secret", aad=b"enterprise:1")
    with pytest.raises(DecryptionFailed):
        crypto.sm4_gcm_decrypt(b"k" * 16, token, aad=b"enterprise:2")
    with pytest.raises(DecryptionFailed):
        crypto.sm4_gcm_decrypt(b"k" * 16, token)


def test_sm4_gcm_any_altered_byte_fails() -> None:
    token = crypto.sm4_gcm_encrypt(b"k" * 16, b"secret")
    for i in range(len(token)):
        altered = bytearray(token)
        altered[i] ^= 0x01
        with pytest.raises(DecryptionFailed):
            crypto.sm4_gcm_decrypt(b"k" * 16, bytes(altered))


def test_sm4_gcm_truncated_token_fails_clearly() -> None:
    token = crypto.sm4_gcm_encrypt(b"k" * 16, b"")
    with pytest.raises(DecryptionFailed, match="too short"):
        crypto.sm4_gcm_decrypt(b"k" * 16, token[:-1])


def test_sm4_gcm_unknown_version_is_named() -> None:
    token = crypto.sm4_gcm_encrypt(b"k" * 16, b"secret")
    with pytest.raises(DecryptionFailed, match="version 0x02"):
        crypto.sm4_gcm_decrypt(b"k" * 16, b"\x02" + token[1:])


@pytest.mark.parametrize("key", [b"", b"k" * 15, b"k" * 32])
def test_sm4_keys_are_16_bytes(key: bytes) -> None:
    with pytest.raises(InvalidKey, match="16 bytes"):
        crypto.sm4_gcm_encrypt(key, b"x")


def test_crypto_errors_are_platform_errors() -> None:
    from creditbridge.core.errors import PlatformError

    assert issubclass(DecryptionFailed, CryptoError)
    assert issubclass(InvalidKey, CryptoError)
    assert issubclass(CryptoError, PlatformError)


# --- SM2: the standard's examples ----------------------------------------------------------------

# GM/T 0003.5-2012 / GB/T 32918.5-2017 Appendix A: signature on the recommended curve sm2p256v1.
STD_D = int("3945208F7B2144B13F36E38AC6D39F95889393692860B51A42FB81EF4DF7C5B8", 16)
STD_X = int("09F9DF311E5421A150DD7D161E4BC5C672179FAD1833FC076BB08FF356F35020", 16)
STD_Y = int("CCEA490CE26775A52DC6EA718CC1AA600AED05FBF35E084A6632F6072DA9AD13", 16)
STD_MESSAGE = b"message digest"
STD_ZA = h("B2E14C5C79C6DF5B85F4FE7ED8DB7A262B9DA7E07CCB0EA9F4747B8CCDA8A4F3")
STD_E = h("F0B43E94BA45ACCAACE692ED534382EB17E6AB5A19CE7B31F4486FDFC0D28640")
STD_K = int("59276E27D506861A16680F3AD9C02DCCEF3CC1FA3CDBE4CE6D54B80DEAC1BC21", 16)
STD_R = int("F5A03B0648D2C4630EEAC513E1BB81A15944DA3827D5B74143AC7EACEEE720B3", 16)
STD_S = int("B1B6AA29DF212FD8763182BC0D421CA1BB9038FD1F7F42D4840B69C485BBC1AA", 16)
STD_PUBLIC = Sm2PublicKey(STD_X, STD_Y)


@pytest.mark.parametrize("engine", ENGINES)
def test_standard_private_key_gives_the_standard_public_key(engine: str) -> None:
    key = Sm2PrivateKey.from_int(STD_D, engine=sm2.load_engine(engine))
    assert key.public_key == STD_PUBLIC


def test_za_and_e_are_the_standards_for_the_default_id() -> None:
    assert sm2.user_digest(STD_X, STD_Y, crypto.DEFAULT_USER_ID) == STD_ZA
    assert sm2.message_digest(STD_PUBLIC, STD_MESSAGE, b"1234567812345678") == STD_E


def test_the_standards_signature_verifies(provider: SoftwareCryptoProvider) -> None:
    der = _asn1.encode_signature(STD_R, STD_S)
    raw = STD_R.to_bytes(32, "big") + STD_S.to_bytes(32, "big")
    assert provider.sm2_verify(STD_PUBLIC, STD_MESSAGE, der)
    assert provider.sm2_verify(STD_PUBLIC, STD_MESSAGE, raw)
    assert not provider.sm2_verify(STD_PUBLIC, b"message digesT", der)


def test_signing_with_the_standards_k_gives_the_standards_signature() -> None:
    # Only gmssl accepts a chosen k; this pins our e, not gmssl's own hashing.
    signature = gmssl_handle(d=STD_D).sign(STD_E, f"{STD_K:064x}")
    assert signature == f"{STD_R:064x}{STD_S:064x}"


# GB/T 32918.2-2016 Appendix A (draft-shen-sm2-ecdsa-02): a 256-bit test curve and a non-default ID.
TEST_CURVE = sm2.Curve(
    p=int("8542D69E4C044F18E8B92435BF6FF7DE457283915C45517D722EDB8B08F1DFC3", 16),
    a=int("787968B4FA32C3FD2417842E73BBFEFF2F3C848B6831D7E0EC65228B3937E498", 16),
    b=int("63E4C6D3B23B0C849CF84241484BFE48F61D59A5B16BA06E6E12D1DA27C5249A", 16),
    gx=int("421DEBD61B62EAB6746434EBC3CC315E32220B3BADD50BDC4C4E6C147FEDD43D", 16),
    gy=int("0680512BCBB42C07D47349D2153B70C4E5D7FDFCBFA36EA1A85841B9E46E09A2", 16),
    n=int("8542D69E4C044F18E8B92435BF6FF7DD297720630485628D5AE74EE7C32E79B7", 16),
)
ALICE_ID = b"ALICE123@YAHOO.COM"
ALICE_D = int("128B2FA8BD433C6C068C8D803DFF79792A519A55171B1B650C23661D15897263", 16)
ALICE_X = int("0AE4C7798AA0F119471BEE11825BE46202BB79E2A5844495E97C04FF4DF2548A", 16)
ALICE_Y = int("7C0240F88F1CD4E16352A73C17B7F16F07353E53A176D684A9FE0C6BB798E857", 16)
ALICE_ZA = h("F4A38489E32B45B6F876E3AC2168CA392362DC8F23459C1D1146FC3DBFB7BC9A")
ALICE_E = h("B524F552CD82B8B028476E005C377FB19A87E6FC682D48BB5D42E3D9B9EFFE76")
ALICE_K = int("6CB28D99385C175C94F94E934817663FC176D925DD72B727260DBAAE1FB2F96F", 16)
ALICE_R = int("40F1EC59F793D9F49E09DCEF49130D4194F79FB1EED2CAA55BACDB49C4E755D1", 16)
ALICE_S = int("6FC6DAC32C5D5CF10C77DFB20F7C2EB667A457872FB09EC56327A67EC7DEEBE7", 16)


def test_za_with_a_non_default_id_is_the_gbt_32918_2_example() -> None:
    za = sm2.user_digest(ALICE_X, ALICE_Y, ALICE_ID, TEST_CURVE)
    assert za == ALICE_ZA
    assert crypto.sm3_digest(za + STD_MESSAGE) == ALICE_E


def test_the_gbt_32918_2_example_signs_and_verifies_on_its_test_curve() -> None:
    table = {
        "n": f"{TEST_CURVE.n:064X}",
        "p": f"{TEST_CURVE.p:064X}",
        "g": f"{TEST_CURVE.gx:064x}{TEST_CURVE.gy:064x}",
        "a": f"{TEST_CURVE.a:064X}",
        "b": f"{TEST_CURVE.b:064X}",
    }
    handle = gmssl_sm2.CryptSM2(f"{ALICE_D:064x}", "", ecc_table=table)
    handle.public_key = f"{ALICE_X:064x}{ALICE_Y:064x}"
    assert handle.sign(ALICE_E, f"{ALICE_K:064x}") == f"{ALICE_R:064x}{ALICE_S:064x}"
    assert handle.verify(f"{ALICE_R:064x}{ALICE_S:064x}", ALICE_E)


OPENSSL_SM2_KEY1 = """-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqBHM9VAYItBG0wawIBAQQg0JFWczAXva2An9m7
2MaT9gIwWTFptvlKrxyO4TjMmbWhRANCAAQ5OirZ4n5DrKqrhaGdO4VZHhRAYVcX
Wt3Te/d/8Mr57Tf886i09VwDhSMmH8pmNq/mp6+ioUgqYG9cs6GLLioe
-----END PRIVATE KEY-----
"""


@pytest.mark.parametrize("engine", ENGINES)
def test_openssl_key_file_and_prehashed_signature(engine: str) -> None:
    sm2_engine = sm2.load_engine(engine)
    key = Sm2PrivateKey.from_pem(OPENSSL_SM2_KEY1, engine=sm2_engine)
    e = h("D7AD397F6FFA5D4F7F11E7217F241607DC30618C236D2C09C1B9EA8FDADEE2E8")
    r, s = _asn1.decode_signature(
        h(
            "3046022100AB1DB64DE7C40EDBDE6651C9B8EBDB804673DB836E5D5C7FE15DCF9ED2725037"
            "022100EBA714451FF69B0BB930B379E192E7CD5FA6E3C41C7FBD8303B799AB54A54621"
        )
    )
    assert sm2_engine.verify_digest(key.public_key, e, r, s)
    assert not sm2_engine.verify_digest(key.public_key, e, r, s - 1)
    assert key.to_pem() == OPENSSL_SM2_KEY1


# --- SM2: behaviour ----------------------------------------------------------------------------


def test_sign_verify_round_trip(provider: SoftwareCryptoProvider) -> None:
    key = provider.generate_sm2_key()
    signature = provider.sm2_sign(key, "信用报告 2024-05".encode())
    assert signature[0] == 0x30  # DER SEQUENCE
    assert provider.sm2_verify(key.public_key, "信用报告 2024-05".encode(), signature)


def test_module_functions_use_the_default_provider() -> None:
    key = crypto.generate_sm2_key()
    assert crypto.verify(key.public_key, b"receipt", crypto.sign(key, b"receipt"))
    provider: CryptoProvider = crypto.get_provider()
    assert provider.name == f"software/{ENGINES[0]}"
    assert provider is crypto.get_provider()


@needs_tongsuo
@pytest.mark.parametrize(("signer", "verifier"), [("tongsuo", "gmssl"), ("gmssl", "tongsuo")])
def test_engines_verify_each_others_signatures(signer: str, verifier: str) -> None:
    signing = SoftwareCryptoProvider(sm2_engine=signer)
    verifying = SoftwareCryptoProvider(sm2_engine=verifier)
    for n in range(5):
        key = signing.generate_sm2_key()
        message = f"exchange package {n}".encode()
        for user_id in (crypto.DEFAULT_USER_ID, "节点-340000".encode()):
            signature = signing.sm2_sign(key, message, user_id=user_id)
            assert verifying.sm2_verify(key.public_key, message, signature, user_id=user_id)


@needs_tongsuo
def test_tongsuos_own_sm2_api_agrees_with_ours(provider: SoftwareCryptoProvider) -> None:
    # tongsuopy's public sign()/verify() compute Z_A inside Tongsuo with the default ID; agreeing
    # with them in both directions checks our Z_A against an independent implementation.
    native = tongsuo_ec.derive_private_key(STD_D, tongsuo_ec.SM2())
    algorithm = tongsuo_ec.ECDSA(tongsuo_hashes.SM3())
    key = Sm2PrivateKey.from_int(STD_D, engine=provider.sm2_engine)
    assert provider.sm2_verify(key.public_key, b"consent", native.sign(b"consent", algorithm))
    native.public_key().verify(provider.sm2_sign(key, b"consent"), b"consent", algorithm)


def test_gmssls_own_sm3_sm2_api_agrees_with_ours(provider: SoftwareCryptoProvider) -> None:
    key = Sm2PrivateKey.from_int(STD_D, engine=provider.sm2_engine)
    handle = gmssl_handle(key.public_key, STD_D)
    theirs = handle.sign_with_sm3(b"report", f"{STD_K:064x}")
    assert provider.sm2_verify(key.public_key, b"report", bytes.fromhex(theirs))
    r, s = _asn1.decode_signature(provider.sm2_sign(key, b"report"))
    assert handle.verify_with_sm3(f"{r:064x}{s:064x}", b"report")


def test_a_flipped_bit_in_the_message_fails(provider: SoftwareCryptoProvider) -> None:
    key = provider.generate_sm2_key()
    signature = provider.sm2_sign(key, b"amount=120000")
    assert not provider.sm2_verify(key.public_key, b"amount=120001", signature)


def test_a_flipped_bit_in_the_signature_fails(provider: SoftwareCryptoProvider) -> None:
    key = provider.generate_sm2_key()
    signature = provider.sm2_sign(key, b"amount=120000")
    for i in range(len(signature)):
        for bit in (0x01, 0x80):
            altered = bytearray(signature)
            altered[i] ^= bit
            assert not provider.sm2_verify(key.public_key, b"amount=120000", bytes(altered))


def test_another_user_id_fails(provider: SoftwareCryptoProvider) -> None:
    key = provider.generate_sm2_key()
    signature = provider.sm2_sign(key, b"m", user_id=b"institution-7")
    assert provider.sm2_verify(key.public_key, b"m", signature, user_id=b"institution-7")
    assert not provider.sm2_verify(key.public_key, b"m", signature)
    assert not provider.sm2_verify(key.public_key, b"m", signature, user_id=b"institution-8")


def test_another_key_fails(provider: SoftwareCryptoProvider) -> None:
    signature = provider.sm2_sign(provider.generate_sm2_key(), b"m")
    assert not provider.sm2_verify(provider.generate_sm2_key().public_key, b"m", signature)


def _der_int(body: bytes) -> bytes:
    return b"\x02" + bytes([len(body)]) + body


MALFORMED_SIGNATURES = [
    b"",
    b"\x30",
    b"\x30\x00",
    b"\x00" * 64,  # raw r = s = 0
    b"\xff" * 64,  # raw r, s >= n
    b"\x00" * 63,
    b"not a signature at all",
    _asn1.encode_signature(STD_R, STD_S) + b"\x00",  # trailing byte
    _asn1.encode_signature(STD_R, N),  # s = n
    _asn1.encode_signature(STD_R, 0),
    _asn1.encode_signature(N - STD_S, STD_S),  # r + s = n: t = 0 (B5)
    b"\x30\x45"
    + _der_int(b"\x00" + STD_R.to_bytes(32, "big"))
    + _der_int(STD_S.to_bytes(32, "big")),
    b"\x30\x44"
    + _der_int(STD_R.to_bytes(32, "big"))
    + _der_int(b"\x00" + STD_S.to_bytes(32, "big")),
    b"\x30\x81\x44" + _asn1.encode_signature(STD_R, STD_S)[2:],  # non-minimal length
    b"\x30\x06\x02\x01\x01\x02\x02\x00\x01",  # non-minimal integer
    b"\x30\x06\x02\x01\x81\x02\x01\x01",  # negative integer
]


@pytest.mark.parametrize("signature", MALFORMED_SIGNATURES)
def test_malformed_signatures_return_false(
    provider: SoftwareCryptoProvider, signature: bytes
) -> None:
    assert provider.sm2_verify(STD_PUBLIC, STD_MESSAGE, signature) is False


def test_the_standard_signature_itself_is_well_formed() -> None:
    der = _asn1.encode_signature(STD_R, STD_S)
    assert _asn1.decode_signature(der) == (STD_R, STD_S)
    assert len(der) == 2 + 35 + 35  # both values have their top bit set


def test_user_id_longer_than_entl_allows_is_refused() -> None:
    key = crypto.generate_sm2_key()
    with pytest.raises(CryptoError, match="8191"):
        crypto.sign(key, b"m", user_id=b"x" * 8192)


def test_software_provider_refuses_foreign_key_handles() -> None:
    class HsmHandle:
        public_key = STD_PUBLIC

    with pytest.raises(CryptoError, match="HsmHandle"):
        crypto.sign(HsmHandle(), b"m")


def test_without_tongsuo_the_provider_falls_back_to_gmssl(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "tongsuopy.backends.tongsuo", None)  # import now fails
    monkeypatch.setattr(sm2, "_loaded", {})
    provider = SoftwareCryptoProvider()
    assert provider.name == "software/gmssl"
    assert provider.sm2_verify(STD_PUBLIC, STD_MESSAGE, _asn1.encode_signature(STD_R, STD_S))


def test_unknown_engine_is_named() -> None:
    with pytest.raises(CryptoError, match="unknown SM2 engine 'openssl'"):
        SoftwareCryptoProvider(sm2_engine="openssl")


def test_gmssl_engine_handles_keys_whose_hex_starts_with_04(
    provider: SoftwareCryptoProvider,
) -> None:
    # gmssl's CryptSM2 lstrip("04")s the public key it is given, corrupting such keys; d = 11 is
    # the smallest private key whose public x starts with the byte 0x04.
    key = Sm2PrivateKey.from_int(11, engine=provider.sm2_engine)
    assert key.public_key.x >> 248 == 0x04
    signature = provider.sm2_sign(key, b"m")
    assert SoftwareCryptoProvider(sm2_engine="gmssl").sm2_verify(key.public_key, b"m", signature)


# --- SM2: keys and their files -------------------------------------------------------------------


def test_private_key_pem_round_trip(provider: SoftwareCryptoProvider) -> None:
    key = provider.generate_sm2_key()
    pem = key.to_pem()
    assert pem.startswith("-----BEGIN PRIVATE KEY-----\n")
    loaded = Sm2PrivateKey.from_pem(pem, engine=provider.sm2_engine)
    assert loaded.public_key == key.public_key
    assert loaded.to_pem() == pem
    assert provider.sm2_verify(key.public_key, b"m", provider.sm2_sign(loaded, b"m"))


def test_public_key_pem_round_trip() -> None:
    key = crypto.generate_sm2_key()
    pem = key.public_key.to_pem()
    assert pem.startswith("-----BEGIN PUBLIC KEY-----\n")
    assert Sm2PublicKey.from_pem(pem) == key.public_key
    assert Sm2PublicKey.from_pem(pem.encode()) == key.public_key
    assert Sm2PublicKey.from_point(key.public_key.point) == key.public_key


@needs_tongsuo
def test_key_files_are_what_tongsuo_writes_and_reads() -> None:
    native = tongsuo_ec.derive_private_key(STD_D, tongsuo_ec.SM2())
    encoding = tongsuo_serialization.Encoding.PEM
    their_private = native.private_bytes(
        encoding,
        tongsuo_serialization.PrivateFormat.PKCS8,
        tongsuo_serialization.NoEncryption(),
    ).decode()
    their_public = (
        native.public_key()
        .public_bytes(encoding, tongsuo_serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    key = Sm2PrivateKey.from_int(STD_D)
    assert key.to_pem() == their_private
    assert key.public_key.to_pem() == their_public


def test_private_key_repr_hides_the_secret() -> None:
    key = Sm2PrivateKey.from_int(STD_D)
    assert f"{STD_D:x}" not in repr(key).lower()
    assert "fingerprint" in repr(key)


def test_fingerprint_names_the_public_key() -> None:
    assert STD_PUBLIC.fingerprint == crypto.sm3_hex(STD_PUBLIC.to_der())
    assert len(STD_PUBLIC.fingerprint) == 64


def test_a_point_off_the_curve_is_refused() -> None:
    with pytest.raises(InvalidKey, match="not on the SM2 curve"):
        Sm2PublicKey(STD_X, STD_Y + 1)
    with pytest.raises(InvalidKey):
        Sm2PublicKey.from_point(b"\x02" + STD_X.to_bytes(32, "big"))


@pytest.mark.parametrize("d", [0, N - 1, N, -1])
def test_private_scalars_outside_1_to_n_minus_2_are_refused(d: int) -> None:
    with pytest.raises(InvalidKey, match=r"\[1, n-2\]"):
        Sm2PrivateKey.from_int(d)


def test_a_key_file_whose_public_half_does_not_match_is_refused() -> None:
    der = _asn1.encode_private_key(STD_D, Sm2PrivateKey.from_int(STD_D + 1).public_key.point)
    with pytest.raises(InvalidKey, match="does not match"):
        Sm2PrivateKey.from_pem(_asn1.pem_encode("PRIVATE KEY", der))


@pytest.mark.parametrize(
    "pem",
    [
        "",
        "-----BEGIN PUBLIC KEY-----\nnot base64!\n-----END PUBLIC KEY-----\n",
        _asn1.pem_encode("PUBLIC KEY", b"\x30\x03\x02\x01\x01"),
        # a P-256 key: same structure, different curve OID
        _asn1.pem_encode(
            "PUBLIC KEY",
            h("3059301306072a8648ce3d020106082a8648ce3d030107034200") + STD_PUBLIC.point,
        ),
    ],
)
def test_unusable_public_key_files_are_refused(pem: str) -> None:
    with pytest.raises(InvalidKey):
        Sm2PublicKey.from_pem(pem)


def test_a_public_key_file_is_not_a_private_key() -> None:
    with pytest.raises(InvalidKey, match="PRIVATE KEY"):
        Sm2PrivateKey.from_pem(STD_PUBLIC.to_pem())
