"""Strings of the node network (节点互联): this node, its peers, admission and revocation:
key → (中文, English)."""

from typing import Final

MESSAGES: Final[dict[str, tuple[str, str]]] = {
    # Titles of the error classes (exchange/errors.py)
    "error.CB-NODE-NOT-INITIALISED": ("本节点尚未初始化", "This node is not initialised"),
    "error.CB-NODE-ALREADY-INITIALISED": ("本节点已初始化", "This node is already initialised"),
    "error.CB-NODE-PEER-UNKNOWN": ("未登记该节点", "No such peer node"),
    "error.CB-NODE-PEER-CONFLICT": ("节点登记冲突", "Peer registration conflict"),
    "error.CB-NODE-IDENTITY-INVALID": ("节点身份文件无效", "Invalid node identity document"),
    "error.CB-NODE-ASSESSMENT-INVALID": ("接入评估材料有误", "Invalid admission assessment"),
    "error.CB-NODE-CHECKS-FAILED": ("接入技术检查未通过", "Admission checks failed"),
    # Titles of the package errors (exchange/packages.py, built by another helper: the titles
    # must stay equal to the classes' ``title``)
    "error.CB-EXCH-FORMAT": ("数据包格式不正确", "Malformed package"),
    "error.CB-EXCH-TOO-LARGE": ("数据包超过大小上限", "Package larger than the limit"),
    "error.CB-EXCH-ORIGIN-UNKNOWN": ("来源节点或密钥未登记", "Unknown origin node or key"),
    "error.CB-EXCH-SIGNATURE": ("数据包签名无效", "Invalid package signature"),
    "error.CB-EXCH-DIGEST": ("数据包摘要不符", "Package digest mismatch"),
    "error.CB-EXCH-COUNT": ("数据包记录数不符", "Package record count mismatch"),
    "error.CB-EXCH-SKEW": ("节点时钟偏差超限", "Node clock skew beyond the limit"),
    "error.CB-EXCH-RECEIVER": (
        "数据包的接收节点不是本节点",
        "The package is addressed to another node",
    ),
    # Refusals
    "error.exchange.forbidden": (
        "只有平台运营人员、系统管理员或安全管理员可以管理节点互联",
        "Only the platform's operators, system or security administrators manage the node network",
    ),
    "error.exchange.not_initialised": (
        "本节点尚未初始化，请先运行 creditbridge node init",
        "This node is not initialised: run creditbridge node init first",
    ),
    "error.exchange.already_initialised": (
        "本节点已初始化，节点代码和密钥不能重新生成（如需更换密钥请轮换）",
        "This node is already initialised; its code and keys are never replaced (rotate the key instead)",
    ),
    "error.exchange.transition": (
        "节点状态为“{current}”，不能变更为“{target}”",
        "A peer in status “{current}” cannot move to “{target}”",
    ),
    "error.exchange.peer_unknown": (
        "未登记代码为 {code} 的节点",
        "No peer node has the code {code}",
    ),
    "error.exchange.peer_self": (
        "节点 {code} 是本节点自己，不能登记为对端节点",
        "Node {code} is this node itself, not a peer",
    ),
    "error.exchange.second_upstream": (
        "已登记上级节点 {code}，一个节点只能有一个上级节点",
        "The upstream node {code} is already registered; a node has one upstream only",
    ),
    "error.exchange.relation": (
        "节点关系应为 {relations} 之一",
        "The relation must be one of {relations}",
    ),
    "error.exchange.relation_changed": (
        "节点 {code} 已登记为 {relation}，不能更改关系",
        "Node {code} is registered as {relation}; its relation cannot change",
    ),
    "error.exchange.identity_stale": (
        "节点 {code} 的身份文件不比已登记的更新，未导入",
        "The identity document of node {code} is not newer than the one on file; not imported",
    ),
    "error.exchange.level_changed": (
        "节点 {code} 的层级与已登记的不同，请作为新节点重新申请",
        "Node {code} states another level than the one on file; it must apply anew",
    ),
    "error.exchange.checks_failed": (
        "节点 {code} 有 {n} 项接入检查未通过，未接入",
        "{n} admission checks failed for node {code}; not admitted",
    ),
    "error.exchange.checks_failed.one": (
        "节点 {code} 有 1 项接入检查未通过，未接入",
        "1 admission check failed for node {code}; not admitted",
    ),
    "error.exchange.reason_required": ("请填写理由", "Give a reason"),
    "error.exchange.reason_too_long": (
        "理由不能超过 {limit} 个字符",
        "The reason may be at most {limit} characters",
    ),
    # The identity document
    "error.exchange.identity.not_object": (
        "身份文件应为 JSON 对象",
        "The identity document must be a JSON object",
    ),
    "error.exchange.identity.format": (
        "身份文件格式应为 {format}",
        "The identity document's format must be {format}",
    ),
    "error.exchange.identity.missing": ("缺少字段 {name}", "The field {name} is missing"),
    "error.exchange.identity.not_moment": (
        "字段 {name} 应为带时区的 ISO 8601 时间",
        "The field {name} must be an ISO 8601 time with a zone",
    ),
    "error.exchange.identity.level": (
        "节点层级应为 {levels} 之一",
        "The node level must be one of {levels}",
    ),
    "error.exchange.identity.algorithm": (
        "公钥算法应为 {algorithm}",
        "The key algorithm must be {algorithm}",
    ),
    "error.exchange.identity.bad_key": (
        "公钥不是有效的 SM2 公钥 PEM",
        "The public key is not a valid SM2 public key PEM",
    ),
    "error.exchange.identity.key_id": (
        "密钥标识与公钥的 SM3 指纹不符",
        "The key id does not match the public key's SM3 fingerprint",
    ),
    "error.exchange.identity.signature": (
        "身份文件的签名验证失败（文件被改动，或签名密钥不在其有效期内）",
        "The identity document's signature does not verify (altered, or signed outside the key's validity)",
    ),
    # The self-assessment
    "error.exchange.assessment.not_downstream": (
        "节点 {code} 不是下级节点，无需接入评估",
        "Node {code} is not a downstream node; it is not assessed",
    ),
    "error.exchange.assessment.missing": ("缺少字段 {name}", "The field {name} is missing"),
    "error.exchange.assessment.not_boolean": (
        "字段 {name} 应为 true 或 false",
        "The field {name} must be true or false",
    ),
    "error.exchange.assessment.out_of_range": (
        "字段 {name} 应为 {low} 到 {high} 之间的整数",
        "The field {name} must be a whole number from {low} to {high}",
    ),
    "error.exchange.assessment.not_date": (
        "字段 {name} 应为日期（如 2026-03-31）",
        "The field {name} must be a date (such as 2026-03-31)",
    ),
    "error.exchange.assessment.future_date": (
        "字段 {name} 的日期晚于今天",
        "The field {name} is a date after today",
    ),
    "error.exchange.assessment.no_contacts": (
        "请至少填写一名联系人",
        "Name at least one contact",
    ),
    "error.exchange.assessment.contact_shape": (
        "联系人应为含 name、role、phone 的对象",
        "A contact must be an object with name, role and phone",
    ),
    "error.exchange.assessment.phone": (
        "字段 {name} 不是有效的电话号码",
        "The field {name} is not a valid telephone number",
    ),
    # The admission checks
    "error.exchange.check.level_unknown": (
        "节点层级 {level} 无效（national、province、city 或 county）",
        "The node level {level} is invalid (national, province, city or county)",
    ),
    "error.exchange.check.level_mismatch": (
        "代码 {code} 不是 {level} 层级的代码",
        "The code {code} is not the code of a {level} node",
    ),
    "error.exchange.check.code_invalid": (
        "代码 {code} 不是现行的行政区划代码（GB/T 2260）",
        "The code {code} is not a current division code (GB/T 2260)",
    ),
    "error.exchange.check.not_below": (
        "节点 {code} 不在本节点 {this} 的辖区内",
        "Node {code} does not lie within this node's area ({this})",
    ),
    "error.exchange.check.not_above": (
        "节点 {code} 不是本节点 {this} 的上级",
        "Node {code} is not above this node ({this})",
    ),
    "error.exchange.check.url_invalid": (
        "地址 {url} 不是有效的 http(s) 地址",
        "The address {url} is not a valid http(s) URL",
    ),
    "error.exchange.check.url_not_https": (
        "生产环境只接受 https 地址：{url}",
        "Production accepts https addresses only: {url}",
    ),
    "error.exchange.check.clock_skew": (
        "身份文件的签发时间 {issued_at} 晚于本节点时钟，超出允许的时钟偏差",
        "The identity document was issued at {issued_at}, ahead of this node's clock beyond the skew allowed",
    ),
    "error.exchange.check.signature": (
        "节点身份文件的签名验证失败",
        "The node's identity document does not verify",
    ),
    "error.exchange.check.no_assessment": (
        "尚未提交安全自评估材料",
        "No security self-assessment has been submitted",
    ),
    "error.exchange.check.dengbao_level": (
        "网络安全等级保护级别低于 {minimum} 级",
        "The classified-protection (等保) level is below {minimum}",
    ),
    "error.exchange.check.dengbao_stale": (
        "等保测评日期 {date} 已超过一年",
        "The classified-protection assessment of {date} is more than a year old",
    ),
    "error.exchange.check.lacks_separated_administrators": (
        "未实行三员分立（系统、安全、审计管理员分设）",
        "The system, security and audit administrators are not separated",
    ),
    "error.exchange.check.lacks_encryption_at_rest": (
        "敏感数据未加密存储",
        "Sensitive data is not encrypted at rest",
    ),
    "error.exchange.check.lacks_emergency_plan": (
        "没有网络安全应急预案",
        "There is no security emergency plan",
    ),
    "error.exchange.check.lacks_data_management_rules": (
        "没有数据管理制度",
        "There are no data management rules",
    ),
    "error.exchange.check.audit_retention": (
        "审计日志保存期少于 {minimum} 个月",
        "Audit logs are kept for less than {minimum} months",
    ),
    # Labels of stored values
    "peer_status.applied": ("已申请", "Applied"),
    "peer_status.under_assessment": ("评估中", "Under assessment"),
    "peer_status.admitted": ("已接入", "Admitted"),
    "peer_status.rejected": ("未通过", "Rejected"),
    "peer_status.suspended": ("已暂停", "Suspended"),
    "peer_status.revoked": ("已取消接入资格", "Revoked"),
    # common.py names the levels ``provincial`` for the home page; the node's stored level is
    # ``province`` (as GB/T 2260's levels in reference.divisions).
    "node_level.province": ("省级节点", "Provincial node"),
    "peer_relation.upstream": ("上级节点", "Upstream"),
    "peer_relation.downstream": ("下级节点", "Downstream"),
    # Refusals of packages and receipts (exchange/packages.py writes the same Chinese)
    "error.exchange.package.format": (
        "数据包格式不正确：{what}",
        "Malformed exchange package: {what}",
    ),
    "error.exchange.package.too_large": (
        "数据包 {size} 字节，超过上限 {limit} 字节",
        "The package is {size} bytes, over the limit of {limit} bytes",
    ),
    "error.exchange.package.origin_unknown": (
        "节点 {node} 未登记",
        "Node {node} is not registered",
    ),
    "error.exchange.package.key_unknown": (
        "节点 {node} 没有登记密钥 {key_id}",
        "Node {node} has no registered key {key_id}",
    ),
    "error.exchange.package.signature": (
        "节点 {node} 的签名无法验证",
        "The signature of node {node} does not verify",
    ),
    "error.exchange.package.digest": (
        "包体与包头的 SM3 摘要不符",
        "The package body does not match the SM3 digest in its header",
    ),
    "error.exchange.package.receipt_digest": (
        "回执所指的数据包不是本包",
        "The receipt is for another package",
    ),
    "error.exchange.package.count": (
        "包头记录数 {declared}，包体实有 {actual}",
        "The header declares {declared} records; the body holds {actual}",
    ),
    "error.exchange.package.skew": (
        "时间相差 {seconds} 秒，超过允许的 {limit} 秒",
        "The clocks differ by {seconds} s, more than the {limit} s allowed",
    ),
    "error.exchange.package.receiver": (
        "数据包发往 {to}，不是本节点 {me}",
        "The package is addressed to {to}, not to this node {me}",
    ),
    # The node pages (exchange/pages.py, templates/exchange/*)
    "node.title": ("节点互联", "Node network"),
    "node.lead": (
        "本节点的身份与密钥，上级节点和下级节点的接入状态、最近联络、延迟与错误",
        "This node's identity and keys; its upstream and downstream peers with their status, last contact, lag and errors",
    ),
    "node.not_initialised": ("本节点尚未初始化", "This node is not initialised"),
    "node.not_initialised_body": (
        "在服务器上运行 creditbridge node init，填写节点代码、层级、名称和对外地址，生成节点签名密钥：",
        "Run creditbridge node init on the server with the node's code, level, name and public URL; it makes the node's signing key:",
    ),
    "node.identity": ("节点身份", "Identity"),
    "node.identity_download": ("下载签名身份文件", "Download the signed identity document"),
    "node.code": ("节点代码", "Code"),
    "node.level": ("层级", "Level"),
    "node.name": ("名称", "Name"),
    "node.url": ("对外地址", "Public URL"),
    "node.key_id": ("当前密钥", "Current key"),
    "node.fingerprint": ("密钥指纹（SM3）", "Key fingerprint (SM3)"),
    "node.rotations": ("密钥及有效期", "Keys and validity"),
    "node.key_current": ("至今（当前）", "now (current)"),
    "node.rotate_hint": ("轮换密钥：", "To rotate the key:"),
    "node.peers": ("对端节点", "Peers"),
    "node.peers_none": (
        "尚未登记对端节点。导入对方的身份文件：",
        "No peer registered yet. Import a peer's identity document:",
    ),
    "node.peer": ("对端节点", "Peer"),
    "node.relation": ("关系", "Relation"),
    "node.status": ("接入状态", "Status"),
    "node.last_contact": ("最近联络", "Last contact"),
    "node.last_sync": ("最近同步", "Last sync"),
    "node.lag": ("延迟", "Lag"),
    "node.seconds": ("秒", "s"),
    "node.errors": ("连续错误", "Errors in a row"),
    "node.quarantined": ("隔离", "Quarantine"),
    "node.quarantined_until": ("隔离至 {until}", "Quarantined until {until}"),
    "node.health": ("运行状况", "Health"),
    "node.keys": ("对端公钥", "Public keys"),
    "node.issued_at": ("身份文件签发时间", "Identity document issued"),
    "node.registered_at": ("登记时间", "Registered"),
    "node.status_reason": ("状态理由", "Reason of the status"),
    "node.actions": ("接入审核", "Admission"),
    "node.run_checks": ("运行接入技术检查", "Run the admission checks"),
    "node.checks_now": ("技术检查结果（当前）", "Admission checks (now)"),
    "node.checks_pass": ("各项技术检查均已通过", "Every admission check passes"),
    "node.not_blocking": ("不影响接入", "does not block admission"),
    "node.no_moves": (
        "该状态下不能再作决定（已拒绝或已取消接入资格的节点须重新申请）",
        "No decision is possible in this status (a rejected or revoked node applies anew)",
    ),
    "node.reason": ("理由", "Reason"),
    "node.reason_placeholder": ("理由（必填）", "Reason (required)"),
    "node.optional": ("可不填", "optional"),
    "node.cancel": ("取消", "Cancel"),
    "node.what_happens": ("确认后将会：", "What happens:"),
    "node.move.admit": ("准予接入", "Admit"),
    "node.move.reject": ("不予接入", "Reject"),
    "node.move.revoke": ("取消接入资格", "Revoke"),
    "node.move.suspend": ("暂停接入", "Suspend"),
    "node.move.reinstate": ("恢复接入", "Reinstate"),
    "node.done.admit": ("已准予接入", "Admitted"),
    "node.done.reject": ("已不予接入", "Rejected"),
    "node.done.revoke": ("已取消接入资格", "Revoked"),
    "node.done.suspend": ("已暂停接入", "Suspended"),
    "node.done.reinstate": ("已恢复接入", "Reinstated"),
    "node.confirm.admit.title": ("确认准予接入", "Confirm the admission"),
    "node.confirm.admit.button": ("确认准予接入", "Admit"),
    "node.confirm.admit.what1": (
        "先重新运行接入技术检查；有未通过的项目则不予接入，并列出原因",
        "The admission checks run again; if any fails nothing is admitted and the failures are listed",
    ),
    "node.confirm.admit.what2": (
        "节点 {code} 自下一次请求起即可与本节点交换数据",
        "Node {code} exchanges data with this node from its next request on",
    ),
    "node.confirm.admit.what3": (
        "决定、理由和检查结果记入审核记录和审计日志，不能撤回（之后只能暂停或取消接入资格）",
        "The decision, reason and check results go into the reviews and the audit log; it cannot be undone (only suspended or revoked later)",
    ),
    "node.confirm.reject.title": ("确认不予接入", "Confirm the rejection"),
    "node.confirm.reject.button": ("确认不予接入", "Reject"),
    "node.confirm.reject.what1": (
        "节点 {code} 的接入申请被拒绝，理由告知申请方",
        "The application of node {code} is refused; the reason is what the applicant is told",
    ),
    "node.confirm.reject.what2": (
        "该节点不能与本节点交换数据；如需接入须作为新节点重新申请",
        "The node cannot exchange data with this node; to connect it must apply anew",
    ),
    "node.confirm.reject.what3": (
        "决定和理由记入审核记录和审计日志，不能撤回",
        "The decision and reason go into the reviews and the audit log; it cannot be undone",
    ),
    "node.confirm.revoke.title": ("确认取消接入资格", "Confirm the revocation"),
    "node.confirm.revoke.button": ("确认取消接入资格", "Revoke"),
    "node.confirm.revoke.what1": (
        "节点 {code} 自下一次请求起被拒绝，无论其密钥是否有效",
        "Node {code} is refused from its next request on, whatever its key",
    ),
    "node.confirm.revoke.what2": (
        "取消是最终的：该节点须通过新的接入评估才能重新接入",
        "The revocation is final: the node connects again only after a new assessment",
    ),
    "node.confirm.revoke.what3": (
        "决定和理由记入审核记录和审计日志",
        "The decision and reason go into the reviews and the audit log",
    ),
    "node.assessment": ("安全自评估", "Security self-assessment"),
    "node.assessment_none": ("尚未提交安全自评估材料", "No self-assessment submitted yet"),
    "node.assessment.submitted_at": ("提交时间", "Submitted"),
    "node.assessment.dengbao": ("等级保护", "Classified protection (等保)"),
    "node.assessment.dengbao_value": (
        "第 {level} 级，测评日期 {date}",
        "Level {level}, assessed on {date}",
    ),
    "node.assessment.separated_administrators": ("三员分设", "Separated administrators"),
    "node.assessment.encryption_at_rest": ("存储加密", "Encryption at rest"),
    "node.assessment.emergency_plan": ("应急预案", "Emergency plan"),
    "node.assessment.data_management_rules": ("数据管理制度", "Data management rules"),
    "node.assessment.audit_retention_months": ("审计日志保存期", "Audit log retention"),
    "node.assessment.contacts": ("联系人", "Contacts"),
    "node.months": ("{n} 个月", "{n} months"),
    "node.yes": ("是", "Yes"),
    "node.no": ("否", "No"),
    "node.reviews": ("审核记录", "Admission reviews"),
    "node.reviews_none": ("尚无审核记录", "No review yet"),
    "node.reviewed_at": ("时间", "When"),
    "node.decision": ("决定", "Decision"),
    "node.findings": ("检查结果", "Check findings"),
    "node.findings_none": ("无问题", "none"),
    "node.reviewed_by": ("审核人", "Reviewer"),
}
