"""Signing API requests from the caller's side: what an institution, provider or node runs.

Usable on its own (it needs only this package's crypto), with any HTTP library::

    signer = Signer(key_id="cb-…", secret="…")                    # HMAC-SM3
    signer = Signer(key_id="cb-…", private_key_pem=open(...).read())  # SM2
    headers = signer.headers("POST", "/api/v1/whoami", body=b'{"a":1}')
    httpx.post(base_url + "/api/v1/whoami", content=b'{"a":1}', headers=headers)

The canonical string and headers are described in docs/api-authentication.md.
"""

from __future__ import annotations

import base64
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime

from creditbridge.access.domain import canonical_request
from creditbridge.core import crypto


@dataclass(frozen=True)
class Signer:
    key_id: str
    secret: str | None = None
    private_key_pem: str | None = None

    def __post_init__(self) -> None:
        if (self.secret is None) == (self.private_key_pem is None):
            raise ValueError("give exactly one of secret (HMAC-SM3) or private_key_pem (SM2)")

    def headers(
        self,
        method: str,
        path: str,
        *,
        query: str = "",
        body: bytes = b"",
        now: datetime | None = None,
        nonce: str | None = None,
    ) -> dict[str, str]:
        """The five ``X-CB-*`` headers for one request. ``query`` is the raw query string exactly
        as it will be sent (without ``?``)."""
        timestamp = str(int((now or datetime.now(UTC)).timestamp()))
        nonce = nonce or secrets.token_hex(16)
        body_sm3 = crypto.sm3_hex(body)
        message = canonical_request(method, path, query, timestamp, nonce, body_sm3)
        if self.secret is not None:
            signature = crypto.hmac_sm3(self.secret.encode(), message)
        else:
            assert self.private_key_pem is not None
            signature = crypto.sign(crypto.Sm2PrivateKey.from_pem(self.private_key_pem), message)
        return {
            "X-CB-Key-Id": self.key_id,
            "X-CB-Timestamp": timestamp,
            "X-CB-Nonce": nonce,
            "X-CB-Content-SM3": body_sm3,
            "X-CB-Signature": base64.b64encode(signature).decode(),
        }
