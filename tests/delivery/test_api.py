"""Delivery's JSON API for institutions' systems: the event feed by cursor (with the
``X-Next-Cursor`` header and problem+json refusals) and webhook management, signed requests
only, each institution confined to its own feed and endpoints."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select, update
from sqlalchemy.orm import Session

import factories
from creditbridge.access import service as access_service
from creditbridge.access.client import Signer
from creditbridge.access.models import Institution
from creditbridge.core.actors import CONSOLE
from creditbridge.core.clock import FrozenClock, utc_now
from creditbridge.core.config import Settings, WebhookSettings, WorkerSettings
from creditbridge.delivery import service
from creditbridge.delivery.models import Delivery, OutboxMessage
from web.conftest import app_in_test_transaction

PROBLEM = "application/problem+json"


def _settings(engine: Engine) -> Settings:
    return Settings(
        database_url=engine.url.render_as_string(hide_password=False),
        env="test",
        webhooks=WebhookSettings(allow_loopback=True),
        worker=WorkerSettings(feed_retention_days=30),
    )


@pytest.fixture
def app(engine: Engine, session: Session) -> FastAPI:
    return app_in_test_transaction(_settings(engine), engine, session)


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app, raise_server_exceptions=False) as test_client:
        yield test_client


class Caller:
    """An institution's system: signs each request with its HMAC-SM3 API client."""

    def __init__(self, client: TestClient, session: Session, institution: Institution) -> None:
        issued = access_service.create_client(
            session,
            CONSOLE,
            name="信贷系统",
            owner_kind="institution",
            algorithm="hmac-sm3",
            institution_id=institution.id,
            settings=Settings(),
        )
        self.signer = Signer(issued.client.key_id, secret=issued.secret)
        self.client = client
        self.institution = institution

    def get(self, path: str, query: str = "") -> httpx.Response:
        headers = self.signer.headers("GET", path, query=query, now=utc_now())
        return self.client.get(f"{path}?{query}" if query else path, headers=headers)

    def post(self, path: str, body: dict[str, Any] | None = None) -> httpx.Response:
        raw = json.dumps(body or {}).encode()
        headers = self.signer.headers("POST", path, body=raw, now=utc_now())
        return self.client.post(
            path, content=raw, headers={**headers, "Content-Type": "application/json"}
        )


class World:
    def __init__(self, client: TestClient, session: Session) -> None:
        self.a = factories.institution(session, code="api-feed-a", name="徽商银行")
        self.b = factories.institution(session, code="api-feed-b", name="合肥农商")
        self.ours = Caller(client, session, self.a)
        self.theirs = Caller(client, session, self.b)


@pytest.fixture
def world(client: TestClient, session: Session, frozen_clock: FrozenClock) -> World:
    return World(client, session)


def _emit(session: Session, institution_id: int, n: int, topic: str = "consent") -> str:
    return service.emit(
        session, event_type=f"{topic}.approve", payload={"n": n}, institution_id=institution_id
    ).message_id


# --- feeds --------------------------------------------------------------------------------------


def test_paging_a_feed_with_the_next_cursor(session: Session, world: World) -> None:
    ours = [_emit(session, world.a.id, n) for n in range(5)]
    _emit(session, world.b.id, 99)

    seen: list[str] = []
    query = "limit=2"
    while True:
        response = world.ours.get("/api/v1/feeds/consent", query)
        assert response.status_code == 200, response.text
        body = response.json()
        assert response.headers["X-Next-Cursor"] == body["next_cursor"]
        seen += [event["id"] for event in body["events"]]
        query = f"after={body['next_cursor']}&limit=2"
        if not body["has_more"]:
            break

    assert seen == ours
    first = world.ours.get("/api/v1/feeds/consent", "limit=1").json()["events"][0]
    assert first == {
        "id": ours[0],
        "type": "consent.approve",
        "created_at": "2026-01-05T02:00:00Z",
        "data": {"n": 0},
    }
    last = world.ours.get("/api/v1/feeds/consent", query).json()
    assert (last["events"], last["has_more"]) == ([], False)
    assert last["next_cursor"] == query.split("&")[0].removeprefix("after=")


@pytest.mark.security
def test_an_unsigned_or_foreign_read_gets_nothing(
    client: TestClient, session: Session, world: World
) -> None:
    _emit(session, world.a.id, 1)

    unsigned = client.get("/api/v1/feeds/consent")
    assert unsigned.status_code == 401
    assert unsigned.headers["content-type"].startswith(PROBLEM)
    assert world.theirs.get("/api/v1/feeds/consent").json()["events"] == []
    mine = world.ours.get("/api/v1/feeds/consent").json()["next_cursor"]
    borrowed = world.theirs.get("/api/v1/feeds/consent", f"after={mine}")
    assert (borrowed.status_code, borrowed.json()["code"]) == (400, "CB-FEED-CURSOR-UNKNOWN")


def test_refusals_are_problem_details_with_their_codes(
    session: Session, world: World, frozen_clock: FrozenClock
) -> None:
    for n in range(3):
        _emit(session, world.a.id, n)
    cursor = world.ours.get("/api/v1/feeds/consent", "limit=1").json()["next_cursor"]

    tampered = world.ours.get("/api/v1/feeds/consent", f"after={cursor[:-1]}A")
    if cursor.endswith("A"):
        tampered = world.ours.get("/api/v1/feeds/consent", f"after={cursor[:-1]}B")
    assert tampered.status_code == 400
    assert tampered.headers["content-type"].startswith(PROBLEM)
    assert tampered.json()["code"] == "CB-FEED-CURSOR-UNKNOWN"
    unknown = world.ours.get("/api/v1/feeds/loans")
    assert (unknown.status_code, unknown.json()["code"]) == (404, "CB-FEED-TOPIC-UNKNOWN")
    for limit in ("0", "1001", "x"):
        assert world.ours.get("/api/v1/feeds/consent", f"limit={limit}").status_code == 422

    frozen_clock.advance(timedelta(days=31))
    fresh = _emit(session, world.a.id, 9)
    assert service.purge_expired(session, _settings(session.get_bind().engine)) == 3
    expired = world.ours.get("/api/v1/feeds/consent", f"after={cursor}")
    assert expired.status_code == 410
    assert expired.headers["content-type"].startswith(PROBLEM)
    problem = expired.json()
    assert problem["code"] == "CB-FEED-CURSOR-EXPIRED"
    resumed = world.ours.get("/api/v1/feeds/consent", f"after={problem['oldest_cursor']}")
    assert [event["id"] for event in resumed.json()["events"]] == [fresh]


# --- webhooks -----------------------------------------------------------------------------------


def _add(caller: Caller, **body: Any) -> httpx.Response:
    body.setdefault("url", f"http://127.0.0.1:9/{caller.institution.code}")
    body.setdefault("events", ["consent.*"])
    return caller.post("/api/v1/webhooks/endpoints", body)


def test_an_institution_manages_its_own_endpoints(session: Session, world: World) -> None:
    added = _add(world.ours, description="信贷系统回调")
    assert added.status_code == 201, added.text
    endpoint = added.json()
    assert endpoint["secret"].startswith("whsec_")
    assert {k: endpoint[k] for k in ("institution_id", "events", "scheme", "status")} == {
        "institution_id": world.a.id,
        "events": ["consent.*"],
        "scheme": "hmac-sha256",
        "status": "active",
    }
    listed = world.ours.get("/api/v1/webhooks/endpoints").json()["endpoints"]
    assert [e["id"] for e in listed] == [endpoint["id"]]
    assert "secret" not in listed[0]

    queued = world.ours.post(f"/api/v1/webhooks/endpoints/{endpoint['id']}/test")
    assert queued.status_code == 202, queued.text
    webhook_id = queued.json()["message_id"]
    deliveries = world.ours.get(
        "/api/v1/webhooks/deliveries", f"endpoint_id={endpoint['id']}"
    ).json()["deliveries"]
    assert [(d["webhook_id"], d["event_type"], d["status"]) for d in deliveries] == [
        (webhook_id, "webhook.ping", "pending")
    ]
    assert world.ours.get("/api/v1/webhooks/deliveries", "status=sent").json() == {"deliveries": []}

    session.execute(update(Delivery).values(status="sent"))
    now = utc_now()
    replayed = world.ours.post(
        f"/api/v1/webhooks/endpoints/{endpoint['id']}/replay",
        {
            "since": (now - timedelta(hours=1)).isoformat(),
            "until": (now + timedelta(hours=1)).isoformat(),
        },
    )
    assert replayed.status_code == 200, replayed.text
    assert replayed.json() == {"queued": 1}
    again = session.scalars(select(Delivery.status)).all()
    assert again == ["pending"]
    message = session.scalars(select(OutboxMessage.message_id)).all()
    assert webhook_id in message


def test_a_refused_url_and_bad_input_are_problem_details(world: World) -> None:
    private = _add(world.ours, url="http://10.0.0.1/hook")
    assert private.status_code == 422
    assert private.json()["code"] == "CB-WEBHOOK-URL-REFUSED"
    assert "10.0.0.1" in private.json()["detail"]
    assert _add(world.ours, events=["loans.*"]).json()["code"] == "CB-WEBHOOK-EVENTS"
    assert _add(world.ours, events=[]).status_code == 422
    assert _add(world.ours, scheme="md5").status_code == 422
    endpoint = _add(world.ours).json()["id"]
    replay = f"/api/v1/webhooks/endpoints/{endpoint}/replay"
    naive = world.ours.post(replay, {"since": "2026-01-01T00:00:00", "until": "2026-01-02T00:00"})
    assert naive.status_code == 422
    # A valid RFC 3339 time whose UTC form falls off the calendar.
    edge = world.ours.post(
        replay, {"since": "0001-01-01T00:00:00+01:00", "until": "9999-12-31T23:59:59-01:00"}
    )
    assert edge.status_code == 422
    assert {e["code"] for e in edge.json()["errors"]} == {"CB-DATE-RANGE"}


@pytest.mark.security
def test_another_institutions_endpoint_ids_answer_404(
    client: TestClient, session: Session, world: World
) -> None:
    theirs = _add(world.theirs).json()["id"]
    mine = _add(world.ours).json()["id"]
    window = {
        "since": (utc_now() - timedelta(days=1)).isoformat(),
        "until": (utc_now() + timedelta(days=1)).isoformat(),
    }

    for response in (
        world.ours.post(f"/api/v1/webhooks/endpoints/{theirs}/test"),
        world.ours.post(f"/api/v1/webhooks/endpoints/{theirs}/replay", window),
        world.ours.get("/api/v1/webhooks/deliveries", f"endpoint_id={theirs}"),
        world.ours.post(f"/api/v1/webhooks/endpoints/{theirs + mine + 1000}/test"),
    ):
        assert response.status_code == 404, response.text
        assert response.headers["content-type"].startswith(PROBLEM)
    assert [e["id"] for e in world.ours.get("/api/v1/webhooks/endpoints").json()["endpoints"]] == [
        mine
    ]
    world.theirs.post(f"/api/v1/webhooks/endpoints/{theirs}/test")
    assert world.ours.get("/api/v1/webhooks/deliveries").json()["deliveries"] == []
    assert client.get("/api/v1/webhooks/endpoints").status_code == 401
    assert client.post("/api/v1/webhooks/endpoints", json={"url": "x"}).status_code == 401


@pytest.mark.security
def test_a_providers_client_manages_no_endpoints(
    client: TestClient, session: Session, world: World
) -> None:
    provider = factories.provider(session, code="api-feed-tax", name="税务局")
    issued = access_service.create_client(
        session,
        CONSOLE,
        name="税务前置机",
        owner_kind="provider",
        algorithm="hmac-sm3",
        provider_id=provider.id,
        settings=Settings(),
    )
    signer = Signer(issued.client.key_id, secret=issued.secret)
    path = "/api/v1/webhooks/endpoints"
    assert client.get(path, headers=signer.headers("GET", path, now=utc_now())).status_code == 403
    feed = "/api/v1/feeds/consent"
    assert client.get(feed, headers=signer.headers("GET", feed, now=utc_now())).status_code == 403


def test_the_routes_are_documented(client: TestClient) -> None:
    document = client.get("/api/v1/openapi.json").json()
    feed = document["paths"]["/api/v1/feeds/{topic}"]["get"]
    assert {"400", "401", "404", "410"} <= set(feed["responses"])
    assert "事件流" in feed["summary"]
    for path in (
        "/api/v1/webhooks/endpoints",
        "/api/v1/webhooks/endpoints/{endpoint_id}/test",
        "/api/v1/webhooks/endpoints/{endpoint_id}/replay",
        "/api/v1/webhooks/deliveries",
    ):
        assert path in document["paths"]
