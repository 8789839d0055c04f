"""POST /api/v1/ingest/batches and the reads of a batch, over signed requests."""

from __future__ import annotations

import orjson
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from creditbridge.access import service as access_service
from creditbridge.access.client import Signer
from creditbridge.core.actors import CONSOLE
from creditbridge.core.config import Settings
from creditbridge.ingest.models import Provider

from .conftest import codes, csv_bytes, tax_rows

PATH = "/api/v1/ingest/batches"


def signer_for(session: Session, provider: Provider) -> Signer:
    issued = access_service.create_client(
        session, CONSOLE, name="税务前置机", owner_kind="provider", algorithm="hmac-sm3",
        provider_id=provider.id, settings=Settings(),
    )  # fmt: skip
    return Signer(issued.client.key_id, secret=issued.secret)


def post_json(client: TestClient, signer: Signer, body: dict[str, object]):  # type: ignore[no-untyped-def]
    data = orjson.dumps(body)
    headers = {**signer.headers("POST", PATH, body=data), "Content-Type": "application/json"}
    return client.post(PATH, content=data, headers=headers)


def get(client: TestClient, signer: Signer, path: str, query: str = ""):  # type: ignore[no-untyped-def]
    url = path + (f"?{query}" if query else "")
    return client.get(url, headers=signer.headers("GET", path, query=query))


def rows(usccs: list[str]) -> list[dict[str, object]]:
    return [
        {"uscc": c, "所属期": "2026-09", "declared": "是", "taxable_revenue": "1", "vat_paid": 1,
         "income_tax_paid": "1", "total_tax_paid": "1"}
        for c in usccs
    ]  # fmt: skip


def test_deliver_rows_then_replay_then_conflict(
    client: TestClient, session: Session, provider: Provider
) -> None:
    signer = signer_for(session, provider)
    body = {"provider": provider.code, "dataset": "tax_payment", "batch_id": "api-1",
            "rows": [*rows(codes(3)), {"uscc": "bad"}]}  # fmt: skip

    first = post_json(client, signer, body)
    assert first.status_code == 201, first.text
    out = first.json()
    assert (out["status"], out["rows_total"], out["rows_rejected"]) == ("refused", 4, 1)
    assert out["issues"][0]["row"] == 4
    assert out["issues"][0]["code"] == "INGEST-USCC"

    again = post_json(client, signer, body)
    assert again.status_code == 200
    assert again.json()["replayed"] is True
    assert again.json()["id"] == out["id"]

    clash = post_json(client, signer, {**body, "rows": rows(codes(2))})
    assert clash.status_code == 409
    assert clash.json()["code"] == "CB-DUPLICATE-DELIVERY"

    report = get(client, signer, f"{PATH}/{out['id']}/rejects", "format=csv")
    assert report.status_code == 200
    assert report.content.startswith(b"\xef\xbb\xbf")
    assert get(client, signer, f"{PATH}/{out['id']}").json()["rows_rejected"] == 1
    assert get(client, signer, f"{PATH}/{out['id']}/rejects").json()[0]["field"] == "uscc"


def test_multipart_file(client: TestClient, session: Session, provider: Provider) -> None:
    signer = signer_for(session, provider)
    files = {"file": ("纳税.csv", csv_bytes(tax_rows(codes(2)), encoding="gbk"), "text/csv")}
    data = {"provider": str(provider.id), "dataset": "tax_payment", "batch_id": "mp-1"}
    request = client.build_request("POST", PATH, files=files, data=data)
    body = request.read()
    headers = {**signer.headers("POST", PATH, body=body),
               "Content-Type": request.headers["Content-Type"]}  # fmt: skip
    response = client.post(PATH, content=body, headers=headers)
    assert response.status_code == 201, response.text
    assert (response.json()["rows_new"], response.json()["encoding"]) == (2, "gb18030")


def test_a_provider_client_delivers_only_for_its_provider(
    client: TestClient, session: Session, provider: Provider, other_provider: Provider
) -> None:
    signer = signer_for(session, other_provider)
    body = {
        "provider": provider.id,
        "dataset": "tax_payment",
        "batch_id": "x",
        "rows": rows(codes(1)),
    }
    response = post_json(client, signer, body)
    assert response.status_code == 403
    assert response.json()["code"] == "CB-INGEST-NOT-YOUR-PROVIDER"


def test_malformed_body_is_422_naming_the_field(
    client: TestClient, session: Session, provider: Provider
) -> None:
    signer = signer_for(session, provider)
    response = post_json(client, signer, {"provider": provider.id, "dataset": "tax_payment"})
    assert response.status_code == 422
    assert {e["field"] for e in response.json()["errors"]} >= {"batch_id", "rows"}


def test_unsigned_request_is_401(client: TestClient) -> None:
    assert client.post(PATH, json={}).status_code == 401


def test_unknown_batch_is_404(client: TestClient, session: Session, provider: Provider) -> None:
    signer = signer_for(session, provider)
    assert get(client, signer, f"{PATH}/999999").status_code == 404
