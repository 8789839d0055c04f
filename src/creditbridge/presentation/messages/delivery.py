"""Page strings of webhooks and their deliveries (the institution's area): key → (中文, English)."""

from typing import Final

MESSAGES: Final[dict[str, tuple[str, str]]] = {
    "feature.webhooks": ("Webhook 回调", "Webhooks"),
    "feature.webhooks.desc": (
        "登记本机构的回调地址，平台将授权变动、对接进展等事件签名后推送过去；查看每次投递、失败重试和按时段重放。",
        "Register your institution's endpoints: the platform POSTs signed events (consent moves, "
        "marketplace steps) to them. See every delivery, retry failures and replay a period.",
    ),
    # The endpoints page
    "webhook.title": ("Webhook 回调地址", "Webhook endpoints"),
    "webhook.lead": (
        "平台按 Standard Webhooks 规范向登记的地址推送事件：每条消息带 webhook-id、时间戳和签名，失败后在约三天内按退避计划重试。",
        "The platform POSTs events to these addresses the Standard Webhooks way: every message "
        "carries a webhook-id, a timestamp and a signature, and a failure is retried on a back-off "
        "schedule of about three days.",
    ),
    "webhook.none": ("尚未登记回调地址。", "No endpoint registered yet."),
    "webhook.none_body": (
        "登记一个 https 地址并选择订阅的事件，平台即开始推送。",
        "Register an https address and the events it wants; the platform starts sending.",
    ),
    "webhook.id": ("编号", "Id"),
    "webhook.url": ("回调地址", "URL"),
    "webhook.url_hint": (
        "生产环境只接受 https 地址，且不得指向本机、内网或保留地址。",
        "In production only https addresses are accepted, never loopback, private or reserved ones.",
    ),
    "webhook.events": ("订阅事件", "Events"),
    "webhook.events_hint": (
        "勾选整类事件，或在下方填写具体事件类型（如 consent.approve），多个用逗号分隔。",
        "Tick whole topics, or type exact event types below (such as consent.approve), "
        "separated by commas.",
    ),
    "webhook.events_other": ("其他事件类型", "Other event types"),
    "webhook.all_events": ("全部事件（*）", "All events (*)"),
    "webhook.scheme": ("签名方式", "Signature"),
    "webhook.description": ("说明", "Description"),
    "webhook.status": ("状态", "Status"),
    "webhook.institution": ("所属机构", "Institution"),
    "webhook.created": ("登记时间", "Registered"),
    "webhook.open": ("查看", "Open"),
    "webhook.add": ("登记回调地址", "Register an endpoint"),
    "webhook.add_submit": ("登记", "Register"),
    "webhook.view_only": (
        "只有本机构的机构管理员可以登记、停用或重放；您可以查看。",
        "Only your institution's officer-administrator registers, disables or replays "
        "endpoints; you may look.",
    ),
    "webhook.secret_once": (
        "请立即保存签名密钥：它只显示这一次，平台只保存其加密形式。接收方用它校验 webhook-signature。",
        "Save the signing secret now: it is shown only this once and the platform keeps it only "
        "sealed. Your receiver verifies webhook-signature with it.",
    ),
    "webhook.secret": ("签名密钥", "Signing secret"),
    "webhook.added": ("已登记回调地址 #{id}。", "Endpoint #{id} registered."),
    # One endpoint
    "webhook.endpoint": ("回调地址 #{id}", "Endpoint #{id}"),
    "webhook.disabled_reason": ("停用原因", "Why disabled"),
    "webhook.actions": ("操作", "Actions"),
    "webhook.send_test": ("发送测试事件", "Send a test event"),
    "webhook.send_test_hint": (
        "经发件箱投递一条 webhook.ping 事件，与其他消息一样签名和重试。",
        "Queues a webhook.ping event through the outbox, signed and retried like any other.",
    ),
    "webhook.test_queued": (
        "测试事件已排队，稍后由工作进程投递。",
        "The test event is queued; the worker sends it shortly.",
    ),
    "webhook.disable": ("停用", "Disable"),
    "webhook.disable_reason": ("停用原因", "Reason"),
    "webhook.enable": ("重新启用", "Enable again"),
    "webhook.replay": ("按时段重放", "Replay a period"),
    "webhook.replay_hint": (
        "把该时段内产生的消息重新投递到此地址；消息保持原 webhook-id，接收方可据此去重。时间为北京时间。",
        "Sends again every message of this period to this endpoint. Each keeps its webhook-id, "
        "so the receiver can drop repeats. Times are Beijing time.",
    ),
    "webhook.replay_since": ("起始时间", "From"),
    "webhook.replay_until": ("截止时间", "Until"),
    "webhook.replay_submit": ("重放", "Replay"),
    "webhook.replayed": (
        "已安排重新投递 {n} 条消息。",
        "{n} messages queued to be sent again.",
    ),
    "webhook.replayed.one": ("已安排重新投递 1 条消息。", "1 message queued to be sent again."),
    "webhook.retried": (
        "投递 #{id} 已重新排队。",
        "Delivery #{id} is queued again.",
    ),
    "webhook.disabled_now": ("回调地址已停用。", "The endpoint is disabled."),
    "webhook.enabled_now": ("回调地址已重新启用。", "The endpoint is enabled again."),
    # Deliveries (shared with the operator's page)
    "webhook.deliveries": ("投递记录", "Deliveries"),
    "webhook.deliveries_none": ("还没有投递记录。", "No delivery yet."),
    "webhook.webhook_id": ("消息编号（webhook-id）", "webhook-id"),
    "webhook.event_type": ("事件类型", "Event"),
    "webhook.attempts": ("尝试次数", "Attempts"),
    "webhook.last_status": ("最近响应", "Last response"),
    "webhook.next_attempt": ("下次尝试", "Next attempt"),
    "webhook.created_at": ("产生时间", "Created"),
    "webhook.sent_at": ("送达时间", "Delivered"),
    "webhook.retry": ("重新投递", "Retry"),
    "webhook.filter_status": ("按状态筛选", "Filter by status"),
    "webhook.filter_all": ("全部", "All"),
    "webhook.filter": ("筛选", "Filter"),
    "webhook.no_response": ("无响应", "no response"),
    # Stored values
    "endpoint_status.active": ("启用", "Active"),
    "endpoint_status.disabled": ("已停用", "Disabled"),
    "delivery_status.pending": ("待投递", "Queued"),
    "delivery_status.sending": ("投递中", "Sending"),
    "delivery_status.sent": ("已送达", "Delivered"),
    "delivery_status.failed": ("失败待重试", "Failed, will retry"),
    "delivery_status.dead": ("已放弃", "Given up"),
    "webhook_scheme.hmac-sha256": ("HMAC-SHA256（通用）", "HMAC-SHA256 (standard)"),
    "webhook_scheme.hmac-sm3": (
        "HMAC-SM3（国密，兼带 SHA256 签名）",
        "HMAC-SM3 (national cryptography, with a SHA256 signature too)",
    ),
    "webhook_topic.consent": ("授权事件（consent.*）", "Consent events (consent.*)"),
    "webhook_topic.marketplace": (
        "融资对接事件（marketplace.*）",
        "Marketplace events (marketplace.*)",
    ),
    "webhook_topic.webhook": ("测试事件（webhook.*）", "Test events (webhook.*)"),
    "webhook_topic.system": ("平台通知（system.*）", "Platform notices (system.*)"),
    # Refusals of the pages' forms
    "error.webhook.form_datetime": (
        "请填写有效的时间（年-月-日 时:分）",
        "Enter a valid date and time (year-month-day hour:minute)",
    ),
    "error.webhook.form_no_institution": (
        "只有金融机构用户可以为本机构登记回调地址",
        "Only an institution's officers register endpoints for it",
    ),
    # The audit trail's names of the changes made here
    "audit_action.webhook.add": ("登记回调地址", "Webhook endpoint registered"),
    "audit_action.webhook.disable": ("停用回调地址", "Webhook endpoint disabled"),
    "audit_action.webhook.enable": ("启用回调地址", "Webhook endpoint enabled"),
    "audit_action.webhook.test": ("发送测试事件", "Webhook test event queued"),
    "audit_action.webhook.retry": ("重新投递", "Webhook delivery retried"),
    "audit_action.webhook.replay": ("重放投递", "Webhook deliveries replayed"),
    # Refusals of the delivery service (creditbridge.delivery.errors): titles, then messages
    "error.CB-WEBHOOK-URL-REFUSED": ("回调地址不被允许", "Webhook URL refused"),
    "error.CB-WEBHOOK-EVENTS": ("订阅的事件类型无效", "Invalid event types"),
    "error.CB-WEBHOOK-DISABLED": ("回调地址已停用", "Endpoint disabled"),
    "error.CB-FEED-CURSOR-UNKNOWN": (
        "游标无效：本节点从未签发",
        "Unknown cursor: never issued by this node",
    ),
    "error.CB-FEED-CURSOR-EXPIRED": ("游标已过保留期", "Cursor past the retention period"),
    "error.CB-FEED-TOPIC-UNKNOWN": ("没有这个事件流", "No such event feed"),
    "error.delivery.url.malformed": (
        "回调地址 {url} 格式不正确",
        "The webhook URL {url} is malformed",
    ),
    "error.delivery.url.scheme": (
        "回调地址 {url} 须以 https:// 开头",
        "The webhook URL {url} must start with https://",
    ),
    "error.delivery.url.https_required": (
        "回调地址 {url} 须使用 https（生产环境不允许明文 http）",
        "The webhook URL {url} must use https (plain http is not allowed in production)",
    ),
    "error.delivery.url.userinfo": (
        "回调地址 {url} 不得包含用户名或密码",
        "The webhook URL {url} must not contain a user name or password",
    ),
    "error.delivery.url.no_host": (
        "回调地址 {url} 缺少主机名",
        "The webhook URL {url} has no host name",
    ),
    "error.delivery.url.port": (
        "回调地址 {url} 的端口无效",
        "The port of the webhook URL {url} is invalid",
    ),
    "error.delivery.url.unresolvable": (
        "回调地址的主机 {host} 无法解析",
        "The webhook host {host} cannot be resolved",
    ),
    "error.delivery.address.unspecified": (
        "回调地址的主机 {host} 解析为未指定地址 {address}，不允许",
        "The webhook host {host} resolves to the unspecified address {address}, which is not allowed",
    ),
    "error.delivery.address.loopback": (
        "回调地址的主机 {host} 解析为环回地址 {address}，不允许",
        "The webhook host {host} resolves to the loopback address {address}, which is not allowed",
    ),
    "error.delivery.address.link_local": (
        "回调地址的主机 {host} 解析为链路本地地址 {address}（含云元数据服务），不允许",
        "The webhook host {host} resolves to the link-local address {address} (cloud metadata services included), which is not allowed",
    ),
    "error.delivery.address.multicast": (
        "回调地址的主机 {host} 解析为组播地址 {address}，不允许",
        "The webhook host {host} resolves to the multicast address {address}, which is not allowed",
    ),
    "error.delivery.address.shared": (
        "回调地址的主机 {host} 解析为运营商级 NAT 共享地址 {address}，不允许",
        "The webhook host {host} resolves to the carrier-grade NAT address {address}, which is not allowed",
    ),
    "error.delivery.address.reserved": (
        "回调地址的主机 {host} 解析为保留地址 {address}，不允许",
        "The webhook host {host} resolves to the reserved address {address}, which is not allowed",
    ),
    "error.delivery.address.private": (
        "回调地址的主机 {host} 解析为内网地址 {address}，不允许",
        "The webhook host {host} resolves to the private address {address}, which is not allowed",
    ),
    "error.delivery.events.empty": (
        "请至少订阅一种事件类型",
        "Subscribe to at least one event type",
    ),
    "error.delivery.events.too_many": (
        "订阅的事件类型不能超过 {limit} 个",
        "Subscribe to at most {limit} event types",
    ),
    "error.delivery.events.too_long": (
        "事件类型 {pattern} 过长",
        "The event type {pattern} is too long",
    ),
    "error.delivery.events.unknown_topic": (
        "事件类型 {pattern} 不属于任何事件流（可选：{topics}）",
        "The event type {pattern} belongs to no event feed (one of: {topics})",
    ),
    "error.delivery.events.malformed": (
        "事件类型 {pattern} 无效：应为 *、事件流.* 或完整的事件类型（如 consent.granted）",
        "The event type {pattern} is invalid: use *, topic.* or a whole event type (such as consent.granted)",
    ),
    "error.delivery.scheme": (
        "签名方式 {scheme} 不受支持（可选：hmac-sha256、hmac-sm3）",
        "The signature scheme {scheme} is not supported (hmac-sha256 or hmac-sm3)",
    ),
    "error.delivery.secret": (
        "签名密钥须为 whsec_ 加 Base64 编码的 24–64 字节随机数",
        "The signing secret must be whsec_ followed by 24–64 random bytes in Base64",
    ),
    "error.delivery.description": (
        "说明不超过 200 字",
        "The description takes at most 200 characters",
    ),
    "error.delivery.institution_inactive": (
        "接入机构尚未准入或已暂停，不能登记回调地址",
        "The institution is not admitted or is suspended: it cannot register endpoints",
    ),
    "error.delivery.org_admin_only": (
        "只有本机构的机构管理员可以管理回调地址",
        "Only the institution's officer-administrator manages its endpoints",
    ),
    "error.delivery.role": (
        "当前角色无权管理回调地址",
        "Your role may not manage webhook endpoints",
    ),
    "error.delivery.endpoint_not_found": ("回调地址不存在", "There is no such endpoint"),
    "error.delivery.delivery_not_found": ("投递记录不存在", "There is no such delivery"),
    "error.delivery.already_disabled": ("回调地址已是停用状态", "The endpoint is already disabled"),
    "error.delivery.already_active": ("回调地址已是启用状态", "The endpoint is already active"),
    "error.delivery.reason": ("停用原因不超过 500 字", "The reason takes at most 500 characters"),
    "error.delivery.disabled": (
        "回调地址 {url} 已停用，请先启用再测试、重试或重放",
        "The endpoint {url} is disabled: enable it before a test, retry or replay",
    ),
    "error.delivery.not_retryable": (
        "只有失败或已放弃的投递可以重试（当前状态：{status}）",
        "Only a failed or given-up delivery can be retried (its status: {status})",
    ),
    "error.delivery.status": ("投递状态 {status} 无效", "{status} is not a delivery status"),
    "error.delivery.range": (
        "重放的时间范围无效：开始时间须早于结束时间，且须带时区",
        "The replay period is invalid: its start must come before its end, both with a time zone",
    ),
}
