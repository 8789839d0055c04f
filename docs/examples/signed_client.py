"""Calling a CreditBridge node with a signed request (SM2), as an institution's system would.

Run it against a node:

    python docs/examples/signed_client.py https://node.example.cn cb-0123456789abcdef key.pem

``call_whoami`` takes any httpx-compatible client (the test suite passes its TestClient), so the
code below is exactly what tests/web/test_auth_api.py runs against the application.
"""

from __future__ import annotations

import sys
from typing import Any

from creditbridge.access.client import Signer


def call_whoami(http: Any, *, key_id: str, private_key_pem: str) -> dict[str, Any]:
    signer = Signer(key_id=key_id, private_key_pem=private_key_pem)
    body = b'{"purpose":"signature check"}'
    path = "/api/v1/whoami"
    headers = signer.headers("POST", path, body=body)
    headers["Content-Type"] = "application/json"
    response = http.post(path, content=body, headers=headers)
    if response.status_code != 200:
        problem = response.json()
        raise RuntimeError(f"{response.status_code} {problem['code']}: {problem['detail']}")
    answer: dict[str, Any] = response.json()
    return answer


if __name__ == "__main__":
    import httpx

    base_url, key_id, key_file = sys.argv[1:4]
    with open(key_file, encoding="ascii") as pem, httpx.Client(base_url=base_url) as http:
        print(call_whoami(http, key_id=key_id, private_key_pem=pem.read()))
