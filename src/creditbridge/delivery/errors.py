"""Refusals of delivery. Each has its own stable code so that an institution's system can tell a
refused endpoint from an expired feed cursor without reading the message.

::

    DomainError
    ├── ValidationFailed
    │   ├── EndpointRefused      422 CB-WEBHOOK-URL-REFUSED   not https in production, or a loopback,
    │   │                                                     private, link-local or reserved address
    │   └── EventTypesInvalid    422 CB-WEBHOOK-EVENTS        no pattern, or one naming no event
    ├── Conflict
    │   └── EndpointDisabled     409 CB-WEBHOOK-DISABLED      a test or replay to a disabled endpoint:
    │                                                     enable it first
    ├── CursorUnknown            400 CB-FEED-CURSOR-UNKNOWN   a cursor this node never issued
    ├── CursorExpired            410 CB-FEED-CURSOR-EXPIRED   older than the retention; carries the
    │                                                     oldest cursor still served
    └── TopicUnknown             404 CB-FEED-TOPIC-UNKNOWN
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final, TypeVar

from creditbridge.core.errors import Conflict, DomainError, Issue, ValidationFailed


class EndpointRefused(ValidationFailed):
    """A webhook URL that must not be called: the server would be made to reach inside its own
    network (SSRF), or send in clear text in production."""

    code = "CB-WEBHOOK-URL-REFUSED"
    title = "回调地址不被允许"


class EventTypesInvalid(ValidationFailed):
    code = "CB-WEBHOOK-EVENTS"
    title = "订阅的事件类型无效"


class EndpointDisabled(Conflict):
    """Raised when a test event, a replay or a retry is asked of a disabled endpoint: nothing
    would be sent, so the institution is told to enable it first rather than left waiting."""

    code = "CB-WEBHOOK-DISABLED"
    title = "回调地址已停用"


class CursorUnknown(DomainError):
    code = "CB-FEED-CURSOR-UNKNOWN"
    status_code = 400
    title = "游标无效：本节点从未签发"


class CursorExpired(DomainError):
    """The events after this cursor were purged: the caller resumes from ``oldest_cursor`` (and
    knows it missed what lay between), as Companies House's stream answers a too-old timepoint."""

    code = "CB-FEED-CURSOR-EXPIRED"
    status_code = 410
    title = "游标已过保留期"

    def __init__(self, message: str | None = None, *, oldest_cursor: str, **kw: Any) -> None:
        super().__init__(message, **kw)
        self.oldest_cursor = oldest_cursor

    def problem(self) -> dict[str, Any]:
        body = super().problem()
        body["oldest_cursor"] = self.oldest_cursor
        return body


class TopicUnknown(DomainError):
    code = "CB-FEED-TOPIC-UNKNOWN"
    status_code = 404
    title = "没有这个事件流"


# --- Keyed refusals ------------------------------------------------------------------------------
# Every refusal below carries a message key, as other domains' do, so a page can explain it in
# English while the API's detail stays Chinese. The Chinese is written here because these keys are
# not in the message tables yet (presentation/messages/delivery.py is the pages' file); once they
# are, ``refusal`` can become ``presentation.errors.keyed`` and TEXTS can go. Until then
# tests/delivery/test_domain.py checks that the two say the same.

TEXTS: Final[dict[str, str]] = {
    "error.delivery.url.malformed": "回调地址 {url} 格式不正确",
    "error.delivery.url.scheme": "回调地址 {url} 须以 https:// 开头",
    "error.delivery.url.https_required": "回调地址 {url} 须使用 https（生产环境不允许明文 http）",
    "error.delivery.url.userinfo": "回调地址 {url} 不得包含用户名或密码",
    "error.delivery.url.no_host": "回调地址 {url} 缺少主机名",
    "error.delivery.url.port": "回调地址 {url} 的端口无效",
    "error.delivery.url.unresolvable": "回调地址的主机 {host} 无法解析",
    "error.delivery.address.unspecified": "回调地址的主机 {host} 解析为未指定地址 {address}，不允许",
    "error.delivery.address.loopback": "回调地址的主机 {host} 解析为环回地址 {address}，不允许",
    "error.delivery.address.link_local": (
        "回调地址的主机 {host} 解析为链路本地地址 {address}（含云元数据服务），不允许"
    ),
    "error.delivery.address.multicast": "回调地址的主机 {host} 解析为组播地址 {address}，不允许",
    "error.delivery.address.shared": (
        "回调地址的主机 {host} 解析为运营商级 NAT 共享地址 {address}，不允许"
    ),
    "error.delivery.address.reserved": "回调地址的主机 {host} 解析为保留地址 {address}，不允许",
    "error.delivery.address.private": "回调地址的主机 {host} 解析为内网地址 {address}，不允许",
    "error.delivery.events.empty": "请至少订阅一种事件类型",
    "error.delivery.events.too_many": "订阅的事件类型不能超过 {limit} 个",
    "error.delivery.events.too_long": "事件类型 {pattern} 过长",
    "error.delivery.events.unknown_topic": "事件类型 {pattern} 不属于任何事件流（可选：{topics}）",
    "error.delivery.events.malformed": (
        "事件类型 {pattern} 无效：应为 *、事件流.* 或完整的事件类型（如 consent.granted）"
    ),
    "error.delivery.scheme": "签名方式 {scheme} 不受支持（可选：hmac-sha256、hmac-sm3）",
    "error.delivery.secret": "签名密钥须为 whsec_ 加 Base64 编码的 24–64 字节随机数",
    "error.delivery.description": "说明不超过 200 字",
    "error.delivery.institution_inactive": "接入机构尚未准入或已暂停，不能登记回调地址",
    "error.delivery.org_admin_only": "只有本机构的机构管理员可以管理回调地址",
    "error.delivery.role": "当前角色无权管理回调地址",
    "error.delivery.endpoint_not_found": "回调地址不存在",
    "error.delivery.delivery_not_found": "投递记录不存在",
    "error.delivery.already_disabled": "回调地址已是停用状态",
    "error.delivery.already_active": "回调地址已是启用状态",
    "error.delivery.reason": "停用原因不超过 500 字",
    "error.delivery.disabled": "回调地址 {url} 已停用，请先启用再测试、重试或重放",
    "error.delivery.not_retryable": "只有失败或已放弃的投递可以重试（当前状态：{status}）",
    "error.delivery.status": "投递状态 {status} 无效",
    "error.delivery.range": "重放的时间范围无效：开始时间须早于结束时间，且须带时区",
}

E = TypeVar("E", bound=DomainError)


def refusal(error: type[E], key: str, /, *, field: str | None = None, **params: object) -> E:
    """``error`` with the Chinese of ``key`` and the key itself, so pages can show it in English;
    with ``field``, also one issue placing it on that form field."""
    return _keyed(error, key, field, params)


def _keyed(error: type[E], key: str, field: str | None, params: Mapping[str, object]) -> E:
    text = TEXTS[key].format(**params)
    issues = (
        None if field is None else [Issue("invalid", text, field=field, key=key, params=params)]
    )
    return error(text, key=key, params=params, issues=issues)


def url_refused(
    reason: str, *, url: str = "", host: str = "", address: str = ""
) -> EndpointRefused:
    """The refusal of a webhook URL: by its form (``error.delivery.url.<reason>``) or by an
    address its host resolves to (``error.delivery.address.<reason>``), naming that address."""
    if address:
        return refusal(
            EndpointRefused, f"error.delivery.address.{reason}", host=host, address=address
        )
    if reason == "unresolvable":
        return refusal(EndpointRefused, "error.delivery.url.unresolvable", host=host)
    return refusal(EndpointRefused, f"error.delivery.url.{reason}", url=url)


def events_invalid(reason: str, **params: object) -> EventTypesInvalid:
    return _keyed(EventTypesInvalid, f"error.delivery.events.{reason}", "events", params)
