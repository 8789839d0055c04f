"""Signed deliveries follow the Standard Webhooks contract: the reference library verifies ``v1``,
and an ``hmac-sm3`` endpoint's ``v1sm3`` verifies with an independent HMAC-SM3."""

from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import UTC, datetime, timedelta

import orjson
import pytest
from standardwebhooks import Webhook, WebhookVerificationError

from creditbridge.core.clock import SHANGHAI
from creditbridge.delivery import signing

BODY = orjson.dumps(
    {"type": "consent.granted", "timestamp": "2026-12-05T08:00:00+00:00", "data": {"id": 7}}
)


def _signed(scheme: str, *, secret: str, when: datetime | None = None) -> dict[str, str]:
    return signing.sign_headers(
        secret=secret,
        scheme=scheme,
        message_id="msg_2AbCdEfGhIjKlMnOpQrStUvWx",
        timestamp=when or datetime.now(UTC),
        body=BODY,
    )


class TestSecrets:
    def test_a_new_secret_is_whsec_and_base64_of_32_bytes(self) -> None:
        secret = signing.new_secret()

        assert secret.startswith("whsec_")
        assert len(base64.b64decode(secret.removeprefix("whsec_"), validate=True)) == 32
        assert signing.is_valid_secret(secret)
        assert secret != signing.new_secret()

    @pytest.mark.parametrize(
        "secret",
        [
            "",
            "whsec_",
            "whsec_not base64!",
            "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",  # no prefix
            "whsec_" + base64.b64encode(b"x" * 16).decode(),  # too short
            "whsec_" + base64.b64encode(b"x" * 65).decode(),  # too long
        ],
    )
    def test_malformed_secrets_are_not_valid(self, secret: str) -> None:
        assert not signing.is_valid_secret(secret)


class TestHmacSha256:
    def test_the_reference_library_verifies_the_signature(self) -> None:
        secret = signing.new_secret()
        headers = _signed("hmac-sha256", secret=secret)

        assert set(headers) == {"webhook-id", "webhook-timestamp", "webhook-signature"}
        assert headers["webhook-signature"].startswith("v1,")
        assert " " not in headers["webhook-signature"]
        assert Webhook(secret).verify(BODY, headers) == orjson.loads(BODY)

    def test_a_changed_body_fails(self) -> None:
        secret = signing.new_secret()
        headers = _signed("hmac-sha256", secret=secret)

        with pytest.raises(WebhookVerificationError):
            Webhook(secret).verify(BODY.replace(b"7", b"8"), headers)

    def test_another_secret_fails(self) -> None:
        headers = _signed("hmac-sha256", secret=signing.new_secret())

        with pytest.raises(WebhookVerificationError):
            Webhook(signing.new_secret()).verify(BODY, headers)

    def test_the_signature_is_hmac_sha256_of_id_timestamp_and_body(self) -> None:
        secret = "whsec_" + base64.b64encode(bytes(range(32))).decode()
        when = datetime(2026, 12, 5, 8, 0, 0, tzinfo=UTC)
        headers = _signed("hmac-sha256", secret=secret, when=when)

        content = b"msg_2AbCdEfGhIjKlMnOpQrStUvWx.%d." % int(when.timestamp()) + BODY
        expected = base64.b64encode(hmac.digest(bytes(range(32)), content, "sha256")).decode()
        assert headers["webhook-timestamp"] == str(int(when.timestamp()))
        assert headers["webhook-signature"] == f"v1,{expected}"

    def test_a_time_in_another_zone_is_signed_as_the_same_instant(self) -> None:
        secret = signing.new_secret()
        instant = datetime(2026, 12, 5, 8, 0, 0, tzinfo=UTC)

        in_utc = _signed("hmac-sha256", secret=secret, when=instant)
        in_beijing = _signed("hmac-sha256", secret=secret, when=instant.astimezone(SHANGHAI))

        assert in_beijing == in_utc

    def test_an_unknown_scheme_is_a_programming_error(self) -> None:
        with pytest.raises(ValueError, match="scheme"):
            _signed("rsa", secret=signing.new_secret())


class TestHmacSm3:
    def test_carries_v1_for_ordinary_libraries_and_v1sm3(self) -> None:
        secret = signing.new_secret()
        headers = _signed("hmac-sm3", secret=secret)

        versions = [part.split(",", 1)[0] for part in headers["webhook-signature"].split(" ")]
        assert versions == ["v1", "v1sm3"]
        assert Webhook(secret).verify(BODY, headers) == orjson.loads(BODY)
        signing.verify_sm3(secret, headers, BODY)

    def test_v1sm3_is_hmac_sm3_of_the_same_signed_content(self) -> None:
        if "sm3" not in hashlib.algorithms_available:
            pytest.skip("this OpenSSL has no SM3 to cross-check with")
        key = bytes(range(32))
        secret = "whsec_" + base64.b64encode(key).decode()
        when = datetime(2026, 12, 5, 8, 0, 0, tzinfo=UTC)
        headers = _signed("hmac-sm3", secret=secret, when=when)

        content = b"msg_2AbCdEfGhIjKlMnOpQrStUvWx.%d." % int(when.timestamp()) + BODY
        expected = base64.b64encode(hmac.digest(key, content, "sm3")).decode()
        assert headers["webhook-signature"].split(" ")[1] == f"v1sm3,{expected}"

    def test_a_changed_body_fails(self) -> None:
        secret = signing.new_secret()
        headers = _signed("hmac-sm3", secret=secret)

        with pytest.raises(WebhookVerificationError):
            signing.verify_sm3(secret, headers, BODY + b" ")

    def test_an_sha256_only_signature_does_not_pass_as_sm3(self) -> None:
        secret = signing.new_secret()
        headers = _signed("hmac-sha256", secret=secret)

        with pytest.raises(WebhookVerificationError, match="No matching"):
            signing.verify_sm3(secret, headers, BODY)

    def test_an_old_timestamp_fails(self) -> None:
        secret = signing.new_secret()
        sent = datetime(2026, 12, 5, 8, 0, tzinfo=UTC)
        headers = _signed("hmac-sm3", secret=secret, when=sent)

        signing.verify_sm3(secret, headers, BODY, now=sent + timedelta(minutes=4))
        with pytest.raises(WebhookVerificationError, match="too old"):
            signing.verify_sm3(secret, headers, BODY, now=sent + timedelta(minutes=6))

    def test_missing_headers_fail(self) -> None:
        with pytest.raises(WebhookVerificationError, match="Missing"):
            signing.verify_sm3(signing.new_secret(), {"webhook-id": "msg_x"}, BODY)
