"""The node identity document: signed by the current key, verified on import, a tampered one
refused naming the field, and keys rotated so that older signatures still verify."""

from __future__ import annotations

import base64
import copy
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from creditbridge.core import crypto
from creditbridge.core.crypto import Sm2PrivateKey
from creditbridge.exchange import identity
from creditbridge.exchange.errors import IdentityInvalid

T0 = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)
T1 = T0 + timedelta(days=3)


def _public(
    key: Sm2PrivateKey, since: datetime, until: datetime | None = None
) -> identity.PublicKey:
    return identity.PublicKey(identity.key_id(key.public_key), key.public_key, since, until)


@pytest.fixture(scope="module")
def first() -> Sm2PrivateKey:
    return Sm2PrivateKey.generate()


@pytest.fixture(scope="module")
def second() -> Sm2PrivateKey:
    return Sm2PrivateKey.generate()


def _document(key: Sm2PrivateKey, **kw: Any) -> dict[str, Any]:
    values: dict[str, Any] = {
        "code": "340100",
        "level": "city",
        "name": "合肥市融资信用服务平台",
        "url": "https://xyd.hefei.example",
        "keys": [_public(key, T0)],
        "signer": key,
        "issued_at": T0 + timedelta(hours=1),
    }
    values.update(kw)
    return identity.issue(**values).as_dict()


class TestSignAndVerify:
    def test_a_signed_document_parses_back(self, first: Sm2PrivateKey) -> None:
        raw = _document(first)
        parsed = identity.parse(raw)

        assert (parsed.code, parsed.level, parsed.url) == ("340100", "city", raw["url"])
        assert parsed.signed_by == identity.key_id(first.public_key) == raw["keys"][0]["key_id"]
        assert parsed.keys[0].public_key == first.public_key
        assert raw["format"] == identity.FORMAT
        assert parsed.as_dict() == raw

    def test_the_signature_is_sm2_over_the_canonical_body(self, first: Sm2PrivateKey) -> None:
        raw = _document(first)
        body = {k: v for k, v in raw.items() if k != "signature"}
        signature = base64.b64decode(raw["signature"]["value"])

        assert crypto.verify(first.public_key, crypto.canonical_json(body), signature)

    @pytest.mark.parametrize(
        ("path", "value"),
        [
            (("name",), "另一个平台"),
            (("url",), "https://evil.example"),
            (("code",), "340200"),
            (("issued_at",), "2026-12-01T10:00:00Z"),
            (("keys", 0, "valid_until"), "2026-12-01T08:30:00Z"),
        ],
    )
    def test_a_tampered_document_is_refused(
        self, first: Sm2PrivateKey, path: tuple[Any, ...], value: str
    ) -> None:
        raw = copy.deepcopy(_document(first))
        target: Any = raw
        for step in path[:-1]:
            target = target[step]
        target[path[-1]] = value

        with pytest.raises(IdentityInvalid) as raised:
            identity.parse(raw)
        assert raised.value.issues[0].field == "signature"

    def test_a_key_swapped_for_the_attackers_is_refused(
        self, first: Sm2PrivateKey, second: Sm2PrivateKey
    ) -> None:
        """Someone replacing the key and re-signing with it cannot pass as the node's key id."""
        raw = _document(first)
        raw["keys"][0]["public_key"] = second.public_key.to_pem()

        with pytest.raises(IdentityInvalid) as raised:
            identity.parse(raw)
        assert raised.value.issues[0].field == "keys[0].key_id"

    def test_a_signature_by_an_unlisted_key_is_refused(
        self, first: Sm2PrivateKey, second: Sm2PrivateKey
    ) -> None:
        raw = _document(first)
        forged = _document(second, keys=[_public(second, T0)])
        raw["signature"] = forged["signature"]

        with pytest.raises(IdentityInvalid):
            identity.parse(raw)

    @pytest.mark.parametrize(
        ("field", "value"),
        [("format", "x/1"), ("level", "district"), ("issued_at", "yesterday"), ("keys", [])],
    )
    def test_a_malformed_field_is_named(self, first: Sm2PrivateKey, field: str, value: Any) -> None:
        raw = _document(first)
        raw[field] = value

        with pytest.raises(IdentityInvalid) as raised:
            identity.parse(raw)
        assert raised.value.code == "CB-NODE-IDENTITY-INVALID"
        assert raised.value.issues[0].field == field

    def test_the_signer_must_be_a_current_key(self, first: Sm2PrivateKey) -> None:
        with pytest.raises(ValueError, match="not a current key"):
            _document(first, keys=[_public(first, T0, until=T0 + timedelta(minutes=1))])


class TestRotation:
    def test_old_signatures_verify_with_the_previous_key_new_ones_with_the_new(
        self, first: Sm2PrivateKey, second: Sm2PrivateKey
    ) -> None:
        message = b"package 42"
        old_signature = crypto.sign(first, message)
        new_signature = crypto.sign(second, message)
        keys = [_public(first, T0, until=T1), _public(second, T1)]
        old_id, new_id = (identity.key_id(k.public_key) for k in (first, second))
        before, after = T1 - timedelta(hours=1), T1 + timedelta(hours=1)

        assert identity.verify_with(keys, old_id, message, old_signature, at=before)
        assert identity.verify_with(keys, new_id, message, new_signature, at=after)
        # The retired key signs nothing after its retirement, the new one nothing before it.
        assert not identity.verify_with(keys, old_id, message, old_signature, at=after)
        assert not identity.verify_with(keys, new_id, message, new_signature, at=before)
        # A signature is checked against the key it names, not any key of the node.
        assert not identity.verify_with(keys, new_id, message, old_signature, at=after)

    def test_a_document_after_rotation_lists_both_keys_and_verifies(
        self, first: Sm2PrivateKey, second: Sm2PrivateKey
    ) -> None:
        keys = [_public(first, T0, until=T1), _public(second, T1)]
        raw = _document(second, keys=keys, issued_at=T1 + timedelta(minutes=5))

        parsed = identity.parse(raw)
        assert parsed.signed_by == identity.key_id(second.public_key)
        assert [k.valid_until for k in parsed.keys] == [T1, None]

    def test_a_document_signed_by_the_retired_key_after_rotation_is_refused(
        self, first: Sm2PrivateKey, second: Sm2PrivateKey
    ) -> None:
        keys = [_public(first, T0, until=T1), _public(second, T1)]
        with pytest.raises(ValueError, match="not a current key"):
            _document(first, keys=keys, issued_at=T1 + timedelta(minutes=5))
