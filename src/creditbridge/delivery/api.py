"""JSON API of delivery for institutions' systems (signed clients): the resumable event feeds
(``/api/v1/feeds/{topic}``) and the management of their own webhook endpoints and deliveries
(``/api/v1/webhooks/…``). An institution's client sees and changes only its own institution's
feeds and endpoints; another institution's endpoint answers 404."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query, Request, Response
from pydantic import AfterValidator, AwareDatetime, BaseModel, Field
from pydantic_core import PydanticCustomError

from creditbridge.core.actors import Actor
from creditbridge.core.errors import Forbidden
from creditbridge.core.types import DATE_RANGE_CODE, EARLIEST_DATE, LATEST_FILTER_DATE, Id, Text
from creditbridge.delivery import service
from creditbridge.delivery.models import WebhookEndpoint
from creditbridge.web.auth import SignedClient
from creditbridge.web.deps import ReadSession, WriteSession

router = APIRouter(prefix="/api/v1", tags=["delivery 事件与回调"])

NEXT_CURSOR_HEADER = "X-Next-Cursor"


def _problem(description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/problem+json": {}}}


# --- Feeds ------------------------------------------------------------------------------------


class EventOut(BaseModel):
    id: str = Field(description="the message's stable id (the `webhook-id` of its webhooks)")
    type: str = Field(description="event type, e.g. `consent.approve`")
    created_at: str = Field(description="RFC 3339, UTC")
    data: dict[str, Any]


class FeedOut(BaseModel):
    events: list[EventOut]
    next_cursor: str = Field(
        description="pass as `after` to read on; the same as the `X-Next-Cursor` header"
    )
    has_more: bool = Field(description="more events are ready: read again at once")


@router.get(
    "/feeds/{topic}",
    summary="Event feed 事件流",
    response_model=FeedOut,
    responses={
        400: _problem("`CB-FEED-CURSOR-UNKNOWN`：游标不是本节点为此事件流签发的 (never issued)"),
        404: _problem("`CB-FEED-TOPIC-UNKNOWN`：没有这个事件流 (no such topic)"),
        410: _problem(
            "`CB-FEED-CURSOR-EXPIRED`：游标之后的事件已过保留期，从 `oldest_cursor` 继续 "
            "(purged; resume from `oldest_cursor`)"
        ),
        503: _problem("`CB-BUSY`：消息正在写入，`Retry-After` 秒后再试 (retry shortly)"),
    },
)
def read_feed(
    request: Request,
    response: Response,
    topic: Annotated[Text, Path(max_length=32)],
    client: SignedClient,
    session: ReadSession,
    after: Annotated[Text | None, Query(max_length=200)] = None,
    limit: Annotated[int, Query(ge=1, le=service.MAX_FEED_LIMIT)] = 100,
) -> FeedOut:
    """The next events of `topic` (`consent`, `marketplace`, `webhook`, `system`) addressed to
    the caller's institution, oldest first, after the cursor `after` (from the oldest retained
    event when absent). Keep `next_cursor` and pass it back: each event comes exactly once and
    in order. 按游标增量读取本机构的事件，每个事件恰好一次、按顺序；保存 `next_cursor` 下次传回。
    Events are kept `CREDITBRIDGE_WORKER_FEED_RETENTION_DAYS` days (30 by default)."""
    page = service.read_feed(
        session,
        client,
        topic=topic,
        after=after or None,
        limit=limit,
        settings=request.app.state.settings,
    )
    response.headers[NEXT_CURSOR_HEADER] = page.next_cursor
    return FeedOut(
        events=[EventOut(**event) for event in page.events],
        next_cursor=page.next_cursor,
        has_more=page.has_more,
    )


# --- Webhook endpoints ------------------------------------------------------------------------


def _institution_of(client: Actor) -> int:
    if client.institution_id is None:
        raise Forbidden("只有接入机构的接口客户端可以管理回调地址 (institution clients only)")
    return client.institution_id


class EndpointOut(BaseModel):
    id: int
    institution_id: int
    url: str
    events: list[str] = Field(description="subscribed patterns, e.g. `consent.*`")
    scheme: str = Field(description="`hmac-sha256` (Standard Webhooks `v1`) or `hmac-sm3`")
    status: str = Field(description="`active` or `disabled`")
    disabled_reason: str | None
    description: str
    created_at: datetime
    updated_at: datetime


class AddedEndpointOut(EndpointOut):
    secret: str = Field(
        description="the signing secret (`whsec_`…): shown this once, never again 仅显示一次"
    )


def _endpoint_out(endpoint: WebhookEndpoint) -> dict[str, Any]:
    return {
        "id": endpoint.id,
        "institution_id": endpoint.institution_id,
        "url": endpoint.url,
        "events": list(endpoint.event_types),
        "scheme": endpoint.scheme,
        "status": endpoint.status,
        "disabled_reason": endpoint.disabled_reason,
        "description": endpoint.description,
        "created_at": endpoint.created_at,
        "updated_at": endpoint.updated_at,
    }


class EndpointsOut(BaseModel):
    endpoints: list[EndpointOut]


@router.get(
    "/webhooks/endpoints", summary="Webhook endpoints 回调地址列表", response_model=EndpointsOut
)
def list_endpoints(client: SignedClient, session: ReadSession) -> EndpointsOut:
    """The caller's institution's endpoints, newest first. 本机构登记的回调地址。"""
    _institution_of(client)
    return EndpointsOut(
        endpoints=[
            EndpointOut(**_endpoint_out(endpoint))
            for endpoint in service.list_endpoints(session, client)
        ]
    )


class EndpointIn(BaseModel):
    url: Text = Field(max_length=2000, description="https:// address of the receiver")
    events: list[Text] = Field(
        min_length=1, max_length=50, description="patterns: `*`, `consent.*`, `consent.approve`"
    )
    secret: Text | None = Field(
        None, max_length=200, description="your own `whsec_`… secret; generated when absent"
    )
    scheme: Literal["hmac-sha256", "hmac-sm3"] = "hmac-sha256"
    description: Text = Field("", max_length=200)


@router.post(
    "/webhooks/endpoints",
    summary="Register a webhook endpoint 登记回调地址",
    response_model=AddedEndpointOut,
    status_code=201,
    responses={
        422: _problem(
            "`CB-WEBHOOK-URL-REFUSED`（非 https、内网或环回地址）、`CB-WEBHOOK-EVENTS` 或参数有误"
        )
    },
)
def add_endpoint(
    request: Request, body: EndpointIn, client: SignedClient, session: WriteSession
) -> AddedEndpointOut:
    """Deliveries follow Standard Webhooks: headers `webhook-id`, `webhook-timestamp`,
    `webhook-signature` (`v1,` HMAC-SHA256; with `hmac-sm3` also `v1sm3,` HMAC-SM3). The answer
    carries the signing secret once. 回调按 Standard Webhooks 规范签名；密钥只在此返回一次。"""
    added = service.add_endpoint(
        session,
        client,
        institution_id=_institution_of(client),
        url=body.url,
        events=list(body.events),
        secret=body.secret,
        scheme=body.scheme,
        description=body.description,
        settings=request.app.state.settings,
    )
    return AddedEndpointOut(**_endpoint_out(added.endpoint), secret=added.secret)


class QueuedOut(BaseModel):
    message_id: str = Field(description="the `webhook-id` the ping will carry")


@router.post(
    "/webhooks/endpoints/{endpoint_id}/test",
    summary="Send a test event 发送测试事件",
    response_model=QueuedOut,
    status_code=202,
    responses={409: _problem("`CB-WEBHOOK-DISABLED`：回调地址已停用 (enable it first)")},
)
def test_endpoint(
    endpoint_id: Annotated[Id, Path()], client: SignedClient, session: WriteSession
) -> QueuedOut:
    """Queues a `webhook.ping` to this endpoint alone; the worker sends it like any other
    message. 经发件箱向该地址发送一次 `webhook.ping`。"""
    _institution_of(client)
    message = service.queue_test_event(session, client, endpoint_id)
    return QueuedOut(message_id=message.message_id)


class DeliveryOut(BaseModel):
    id: int
    webhook_id: str = Field(description="the message's stable id; receivers drop repeats by it")
    event_type: str
    endpoint_id: int
    url: str
    status: str = Field(description="pending | sending | sent | failed | dead")
    attempts: int
    next_attempt_at: datetime
    last_status: int | None
    last_error: str | None
    created_at: datetime
    sent_at: datetime | None


class DeliveriesOut(BaseModel):
    deliveries: list[DeliveryOut]


@router.get(
    "/webhooks/deliveries", summary="Webhook deliveries 投递记录", response_model=DeliveriesOut
)
def list_deliveries(
    client: SignedClient,
    session: ReadSession,
    endpoint_id: Id | None = None,
    status: Annotated[
        Literal["pending", "sending", "sent", "failed", "dead"] | None, Query()
    ] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> DeliveriesOut:
    """The caller's deliveries, newest first, of one endpoint and/or one status.
    本机构的投递记录，可按回调地址和状态筛选。"""
    _institution_of(client)
    views = service.list_deliveries(
        session, client, endpoint_id=endpoint_id, status=status, limit=limit
    )
    return DeliveriesOut(
        deliveries=[
            DeliveryOut(
                id=view.id,
                webhook_id=view.webhook_id,
                event_type=view.event_type,
                endpoint_id=view.endpoint_id,
                url=view.url,
                status=view.status,
                attempts=view.attempts,
                next_attempt_at=view.next_attempt_at,
                last_status=view.last_status,
                last_error=view.last_error,
                created_at=view.created_at,
                sent_at=view.sent_at,
            )
            for view in views
        ]
    )


def _utc_moment(value: datetime) -> datetime:
    """In UTC, and inside the calendar the store holds: ``0001-01-01T00:00+01:00`` is a valid
    RFC 3339 time whose UTC form does not exist (it once answered 500)."""
    try:
        moment = value.astimezone(UTC)
    except OverflowError:
        moment = None
    if moment is None or not EARLIEST_DATE <= moment.date() <= LATEST_FILTER_DATE:
        raise PydanticCustomError(
            DATE_RANGE_CODE,
            "时间须在 {earliest} 至 {latest} 之间 time must lie between {earliest} and {latest}",
            {"earliest": EARLIEST_DATE.isoformat(), "latest": LATEST_FILTER_DATE.isoformat()},
        )
    return moment


Moment = Annotated[AwareDatetime, AfterValidator(_utc_moment)]


class ReplayIn(BaseModel):
    since: Moment = Field(description="messages created at or after (with a time zone)")
    until: Moment = Field(description="…and before this moment")


class ReplayOut(BaseModel):
    queued: int = Field(description="deliveries queued again")


@router.post(
    "/webhooks/endpoints/{endpoint_id}/replay",
    summary="Replay a time range 重放",
    response_model=ReplayOut,
    responses={409: _problem("`CB-WEBHOOK-DISABLED`：回调地址已停用 (enable it first)")},
)
def replay(
    endpoint_id: Annotated[Id, Path()], body: ReplayIn, client: SignedClient, session: WriteSession
) -> ReplayOut:
    """Sends again every delivery to this endpoint whose message was created in
    `[since, until)`, each with its original `webhook-id`, so a receiver drops what it already
    processed. 重新投递该时间段内的消息，`webhook-id` 不变，接收方可据此去重。"""
    _institution_of(client)
    queued = service.replay(
        session, client, endpoint_id=endpoint_id, since=body.since, until=body.until
    )
    return ReplayOut(queued=queued)
