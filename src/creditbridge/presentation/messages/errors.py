"""Errors: the title of every error class (``error.<code>``, its Chinese equal to the class's
``title``), the explanation some add (``error.<code>.body``), the words of the error page, and the
details of refusals raised with a message key (``error.<domain>.<reason>``)."""

from typing import Final

MESSAGES: Final[dict[str, tuple[str, str]]] = {
    # The error page
    "error.home": ("返回首页", "Go to the home page"),
    "error.back": ("返回上一页", "Go back"),
    "error.code": ("错误代码", "Error code"),
    "error.search_hint": (
        "要找的可能是共享清单中的某个信息项：",
        "Perhaps you are looking for a dataset of the shared-data list:",
    ),
    "error.issues": ("问题明细", "Details"),
    "error.row": ("第 {n} 行", "row {n}"),
    "error.field": ("字段", "Field"),
    "error.CB-DOMAIN": ("请求无法处理", "The request cannot be processed"),
    "error.CB-NOT-FOUND": ("未找到", "Not found"),
    "error.CB-NOT-FOUND.body": (
        "您访问的页面或数据不存在，或您无权知道它是否存在。",
        "The page or item does not exist, or you may not know whether it does.",
    ),
    "error.CB-FORBIDDEN": ("无权访问", "Forbidden"),
    "error.CB-CONSENT-REQUIRED": ("缺少有效授权", "A valid consent is required"),
    "error.CB-CONFLICT": ("状态冲突", "Conflict"),
    "error.CB-INVALID-TRANSITION": ("不允许的状态变更", "Transition not allowed"),
    "error.CB-DUPLICATE-DELIVERY": ("重复提交", "Duplicate delivery"),
    "error.CB-VALIDATION": ("输入有误", "Invalid input"),
    "error.CB-EXCHANGE": ("节点交换失败", "Node exchange failed"),
    "error.CB-BUSY": ("系统繁忙，请稍后重试", "Busy: try again shortly"),
    "error.CB-BUSY.body": (
        "平台此刻正在处理的请求已达上限，未排队等待。请几秒后重试。",
        "The platform is serving as many requests as it admits at once and did not queue yours. "
        "Try again in a few seconds.",
    ),
    "error.busy": ("系统繁忙，请稍后重试", "The platform is busy; try again shortly"),
    "error.CB-CLIENT-GONE": ("客户端已断开", "The client disconnected"),
    "error.CB-METHOD-NOT-ALLOWED": ("不支持的请求方法", "Method not allowed"),
    "error.CB-HTTP": ("请求无法处理", "The request cannot be processed"),
    "error.CB-DATABASE-UNAVAILABLE": ("数据库暂时不可用", "Database unavailable"),
    "error.CB-DATABASE-UNAVAILABLE.body": (
        "平台暂时无法连接数据库，请稍后重试。",
        "The platform cannot reach its database at the moment; try again later.",
    ),
    "error.CB-INTERNAL": ("系统内部错误", "Internal error"),
    "error.CB-INTERNAL.body": (
        "平台处理请求时出错，已记录日志。请稍后重试；如仍出错，请联系平台运营方。",
        "The platform failed to handle the request and has logged it. Try again later; if it persists, contact the operator.",
    ),
    "error.CB-AUTH-REQUIRED": ("需要登录", "Login required"),
    "error.CB-CSRF": ("表单已失效", "Form expired"),
    "error.CB-CSRF.body": (
        "为防止跨站请求伪造，表单须带有本次会话的校验码。请返回上一页，刷新后重新提交。",
        "To prevent cross-site request forgery a form must carry this session's token. Go back, reload and submit again.",
    ),
    "error.CB-RATE-LIMITED": ("请求过于频繁", "Too many requests"),
    "error.CB-CONSENT-PENDING": ("授权尚待企业确认", "Consent awaiting the enterprise"),
    "error.CB-CONSENT-EXPIRED": ("授权已过期", "Consent expired"),
    "error.CB-CONSENT-REVOKED": ("授权已被企业撤销", "Consent revoked by the enterprise"),
    "error.CB-CONSENT-PAUSED": ("授权已被企业暂停", "Consent paused by the enterprise"),
    "error.CB-CONSENT-REJECTED": ("企业已拒绝授权", "Consent rejected by the enterprise"),
    "error.CB-CONSENT-PURPOSE": ("查询用途超出授权", "Purpose outside the consent"),
    "error.CB-CONSENT-SCOPE": ("查询范围超出授权", "Categories outside the consent"),
    "error.CB-CONSENT-DATA-RANGE": ("数据期间超出授权", "Data range outside the consent"),
    "error.CB-CONSENT-USES-EXHAUSTED": ("授权查询次数已用完", "Consent uses exhausted"),
    "error.CB-CONSENT-OTHER-INSTITUTION": ("授权不属于本机构", "Consent of another institution"),
    "error.CB-CONSENT-REQUIRED.body": (
        "本次查询已被拒绝并记入审计日志。请向企业申请新的授权，或只查询公开信息。",
        "This read was refused and recorded in the audit trail. Ask the enterprise for a new consent, or read public information only.",
    ),
    "error.CB-CONSENT-PENDING.body": (
        "本次查询已被拒绝并记入审计日志。请向企业申请新的授权，或只查询公开信息。",
        "This read was refused and recorded in the audit trail. Ask the enterprise for a new consent, or read public information only.",
    ),
    "error.CB-CONSENT-EXPIRED.body": (
        "本次查询已被拒绝并记入审计日志。请向企业申请新的授权，或只查询公开信息。",
        "This read was refused and recorded in the audit trail. Ask the enterprise for a new consent, or read public information only.",
    ),
    "error.CB-CONSENT-REVOKED.body": (
        "本次查询已被拒绝并记入审计日志。请向企业申请新的授权，或只查询公开信息。",
        "This read was refused and recorded in the audit trail. Ask the enterprise for a new consent, or read public information only.",
    ),
    "error.CB-CONSENT-PAUSED.body": (
        "本次查询已被拒绝并记入审计日志。请向企业申请新的授权，或只查询公开信息。",
        "This read was refused and recorded in the audit trail. Ask the enterprise for a new consent, or read public information only.",
    ),
    "error.CB-CONSENT-REJECTED.body": (
        "本次查询已被拒绝并记入审计日志。请向企业申请新的授权，或只查询公开信息。",
        "This read was refused and recorded in the audit trail. Ask the enterprise for a new consent, or read public information only.",
    ),
    "error.CB-CONSENT-PURPOSE.body": (
        "本次查询已被拒绝并记入审计日志。请向企业申请新的授权，或只查询公开信息。",
        "This read was refused and recorded in the audit trail. Ask the enterprise for a new consent, or read public information only.",
    ),
    "error.CB-CONSENT-SCOPE.body": (
        "本次查询已被拒绝并记入审计日志。请向企业申请新的授权，或只查询公开信息。",
        "This read was refused and recorded in the audit trail. Ask the enterprise for a new consent, or read public information only.",
    ),
    "error.CB-CONSENT-DATA-RANGE.body": (
        "本次查询已被拒绝并记入审计日志。请向企业申请新的授权，或只查询公开信息。",
        "This read was refused and recorded in the audit trail. Ask the enterprise for a new consent, or read public information only.",
    ),
    "error.CB-CONSENT-USES-EXHAUSTED.body": (
        "本次查询已被拒绝并记入审计日志。请向企业申请新的授权，或只查询公开信息。",
        "This read was refused and recorded in the audit trail. Ask the enterprise for a new consent, or read public information only.",
    ),
    "error.CB-CONSENT-OTHER-INSTITUTION.body": (
        "本次查询已被拒绝并记入审计日志。请向企业申请新的授权，或只查询公开信息。",
        "This read was refused and recorded in the audit trail. Ask the enterprise for a new consent, or read public information only.",
    ),
    # Titles of the domains' error classes
    "error.CB-AUTH-REPLAY": ("重复的请求", "Replayed request"),
    "error.CB-AUTH-SIGNATURE": ("签名无效", "Invalid signature"),
    "error.CB-AUTH-STALE": ("请求时间超出允许范围", "Request time outside the allowed window"),
    "error.CB-AUTH-SUSPENDED": ("接入已暂停", "Access suspended"),
    "error.CB-AUTH-UNKNOWN-KEY": ("未知的密钥", "Unknown key"),
    "error.CB-BODY-TOO-LARGE": ("请求体过大", "Request body too large"),
    "error.CB-LOGIN-FAILED": ("登录失败", "Login failed"),
    "error.CB-CATALOG-INVALID": ("共享清单文件有误", "Invalid shared-data list file"),
    "error.CB-CATALOG-VERSION-CONFLICT": ("共享清单版本冲突", "Shared-data list version conflict"),
    "error.CB-INGEST-CONNECTOR": ("数据提供单位接口调用失败", "The provider's interface failed"),
    "error.CB-INGEST-MALFORMED": ("输入有误", "Invalid input"),
    "error.CB-INGEST-NOT-ASSIGNED": (
        "该数据项未分配给此数据提供单位",
        "This dataset is not assigned to this provider",
    ),
    "error.CB-INGEST-NO-CATALOG": (
        "尚未载入信用信息共享清单",
        "No shared-data list has been loaded yet",
    ),
    "error.CB-INGEST-NOT-YOUR-PROVIDER": (
        "只能为本单位提交数据",
        "You may deliver data for your own provider only",
    ),
    "error.CB-MARKET-ABOVE-APPROVED": (
        "放款金额超过审批金额",
        "Disbursement above the approved amount",
    ),
    "error.CB-MARKET-DEMAND-TAKEN": ("需求已被其他机构承接", "Demand taken by another institution"),
    "error.CB-MARKET-NO-ELIGIBLE-PRODUCT": (
        "本机构没有符合条件的产品",
        "No eligible product at this institution",
    ),
    "error.CB-MARKET-OUTSIDE-PRODUCT": ("不符合产品条件", "Outside the product's conditions"),
    "error.CB-REFERENCE-INPUT": ("输入有误", "Invalid input"),
    "error.CB-REFERENCE-INDUSTRY": ("输入有误", "Invalid input"),
    "error.CB-REFERENCE-INDUSTRY-AMBIGUOUS": ("输入有误", "Invalid input"),
    "error.CB-REFERENCE-INDUSTRY-SCOPE": ("输入有误", "Invalid input"),
    "error.CB-REFERENCE-SIZE-INVALID": ("输入有误", "Invalid input"),
    "error.CB-REFERENCE-SIZE-MISSING": ("输入有误", "Invalid input"),
    "error.CB-REFERENCE-VERSION": ("输入有误", "Invalid input"),
    "error.CB-SCORING-APPROVAL-REFUSED": ("模型不能批准", "The model cannot be approved"),
    "error.CB-SCORING-CARD-INPUT": ("评分卡输入有误", "Invalid scorecard input"),
    "error.CB-SCORING-INDICATOR-SQL": ("指标计算出错", "An indicator failed to compute"),
    "error.CB-SCORING-MODEL-NOT-FOUND": ("模型不存在", "Model not found"),
    "error.CB-SCORING-NOT-SCORED": ("尚未评分", "Not scored yet"),
    "error.CB-SCORING-SNAPSHOT-MISSING": ("缺少分析快照", "Analytics snapshot missing"),
    "error.CB-SCORING-TRAINING-REFUSED": ("训练数据不足", "Not enough training data"),
    # Details of the web shell's own refusals
    "error.page_missing": ("页面不存在：{path}", "No page at {path}"),
    "error.request_invalid": ("请求参数有误", "Invalid request parameters"),
    # Details of collection's refusals
    "error.ingest.not_assigned": (
        "共享清单未将数据项 {dataset} 分配给{provider}，不能提交、更正或撤销该数据项的记录；"
        "该数据项的提供单位是 {owners}",
        "The shared-data list does not assign the dataset {dataset} to {provider}, which may not "
        "deliver, correct or withdraw its records; the dataset's provider is {owners}",
    ),
    "error.ingest.not_assigned_to_anyone": (
        "共享清单未将数据项 {dataset} 分配给任何数据提供单位，{provider}不能提交该数据项",
        "The shared-data list assigns the dataset {dataset} to no provider: {provider} may not "
        "deliver it",
    ),
    "error.ingest.no_catalog": (
        "尚未载入信用信息共享清单，不能接收数据：请运营人员先执行 creditbridge catalog load 载入清单",
        "No shared-data list is loaded, so no delivery can be received: an operator must first "
        "run creditbridge catalog load",
    ),
    # Details of the shared-data list's refusals
    "error.catalog.no_regime": (
        "{day} 没有施行中的失信信息公示期规定",
        "No publication-period regime is in force on {day}",
    ),
    "error.catalog.none_loaded": (
        "尚未载入信用信息共享清单",
        "No shared-data list has been loaded yet",
    ),
    "error.catalog.no_version": (
        "没有版本为 {version} 的共享清单",
        "There is no shared-data list of version {version}",
    ),
    "error.catalog.no_dataset": (
        "共享清单（版本 {version}）中没有数据项 {code}",
        "The shared-data list (version {version}) has no dataset {code}",
    ),
    "error.catalog.version_conflict": (
        "清单版本 {version} 已载入，但本文件内容与之不同（已载入文件 SM3 {loaded}…，本文件 {digest}…）。"
        "已发布的版本不能改写，请为新清单另起版本号。",
        "List version {version} is already loaded with other content (loaded file SM3 {loaded}…, "
        "this file {digest}…). A published version is never rewritten: give the new list a new version.",
    ),
    "error.catalog.file_invalid": (
        "共享清单文件 {name} 有 {n} 处错误",
        "The shared-data list file {name} has {n} errors",
    ),
    "error.catalog.file_invalid.one": (
        "共享清单文件 {name} 有 {n} 处错误",
        "The shared-data list file {name} has {n} error",
    ),
    "error.catalog.unreadable": ("无法读取文件：{reason}", "Cannot read the file: {reason}"),
    "error.catalog.encoding": ("文件须为 UTF-8 编码", "The file must be encoded in UTF-8"),
    "error.catalog.yaml_syntax": ("YAML 语法错误：{reason}", "YAML syntax error: {reason}"),
    "error.catalog.yaml_syntax_at": (
        "YAML 语法错误（第{column}列）：{reason}",
        "YAML syntax error (column {column}): {reason}",
    ),
    "error.catalog.not_a_mapping": (
        "文件内容须为映射（含 version、datasets 等键）",
        "The file must hold a mapping (with keys such as version and datasets)",
    ),
    # Details of the subjects', the demo's and the command line's refusals
    "error.subjects.no_uscc": (
        "未找到该统一社会信用代码对应的企业",
        "No enterprise has this unified social credit code",
    ),
    "error.subjects.no_subject": ("企业不存在", "No such enterprise"),
    "error.demo.production": (
        "生产环境不能创建演示账户 (demo logins are refused in production)",
        "Demo logins are refused in production",
    ),
    "error.demo.enterprises": (
        "企业数须在 1 至 {max} 之间，收到 {n}",
        "The number of enterprises must be from 1 to {max}, not {n}",
    ),
    "error.demo.seed": (
        "随机种子须为非负整数，收到 {seed}",
        "The random seed must be a non-negative integer, not {seed}",
    ),
    # The reason names the code and is written in both languages (demo.population.area_issue).
    "error.demo.division": (
        "演示数据的行政区划有误：{issue}",
        "Wrong division for the demo: {issue}",
    ),
    "error.demo.not_empty": (
        "数据库中已有 {n} 个信用主体，演示数据只能生成到空库中（database already holds {n} subjects; use an empty database）",
        "The database already holds {n} subjects; demo data is generated into an empty database "
        "only (database already holds {n} subjects; use an empty database)",
    ),
    "error.cli.report_format": ("--format 只能是 html 或 pdf", "--format must be html or pdf"),
    "error.cli.uscc_invalid": ("统一社会信用代码有误", "Invalid unified social credit code"),
    "error.cli.no_card": ("评分卡文件 {path} 不存在", "The card file {path} does not exist"),
    "error.cli.card_not_json": (
        "评分卡文件 {path} 不是有效的 JSON：{reason}",
        "The card file {path} is not valid JSON: {reason}",
    ),
    # Details of the reference rules' refusals (reference/ writes the Chinese itself: it may not import these tables)
    "error.reference.industry.format": (
        "行业代码“{code}”格式不对：应为门类字母（A–T）或2–4位数字代码（GB/T 4754-2017）",
        "Malformed industry code “{code}”: give a section letter (A–T) or a 2–4 digit code (GB/T 4754-2017)",
    ),
    "error.reference.industry.no_division": (
        "行业代码“{code}”的大类 {division} 不存在（GB/T 4754-2017 共97个大类）",
        "Industry code “{code}”: there is no division {division} (GB/T 4754-2017 has 97)",
    ),
    "error.reference.industry.other_section": (
        "行业代码“{code}”：大类 {division} 属于门类 {section}，不属于门类 {letter}",
        "Industry code “{code}”: division {division} belongs to section {section}, not {letter}",
    ),
    "error.reference.industry.no_section": (
        "行业门类“{letter}”不存在（GB/T 4754-2017 门类为 A–T）",
        "There is no industry section “{letter}” (GB/T 4754-2017 sections are A–T)",
    ),
    "error.reference.size.no_version": (
        "企业划型标准版本“{version}”不存在，可用：{versions}",
        "There is no size-rule version “{version}”; available: {versions}",
    ),
    "error.reference.size.out_of_scope": (
        "{reason}",
        "Outside the scope of the SME size rule: {reason}",
    ),
    "error.reference.size.ambiguous": (
        "行业代码“{code}”在划型标准中对应多个行业：{options}。请提供更细的行业代码（中类或小类）",
        "Industry code “{code}” covers several rows of the size rule: {options}. Give a finer code (group or class)",
    ),
    "error.reference.size.inexact": (
        "{label}（{field}）须为整数或 Decimal，不接受 {type}（避免浮点误差）",
        "{label} ({field}) must be an integer or a Decimal, not {type} (floats are inexact)",
    ),
    "error.reference.size.negative": (
        "{label}（{field}）不能为负数或非有限值",
        "{label} ({field}) cannot be negative or non-finite",
    ),
    "error.reference.size.whole_people": (
        "{label}（{field}）须为整数人数",
        "{label} ({field}) must be a whole number of people",
    ),
    "error.reference.size.missing": (
        "{row}按{needed}划型，缺少{label}（{field}）",
        "{row} is sized by {needed}; {label} ({field}) is missing",
    ),
    "error.reference.uscc.province": (
        "第3–8位登记管理机关行政区划码“{division}”无效：前两位“{prefix}”不是省级行政区划代码",
        "Positions 3–8, the registering authority's division code “{division}”, are invalid: “{prefix}” is not a province code",
    ),
    "error.reference.uscc.not_anhui": (
        "第3–8位登记管理机关行政区划码“{division}”不是安徽省现行或历史行政区划代码（GB/T 2260）",
        "Positions 3–8, the division code “{division}”, are no current or former division of Anhui (GB/T 2260)",
    ),
    "error.reference.uscc.abolished": (
        "第3–8位行政区划码 {division} {name} 已于{year}年撤销，早于统一社会信用代码启用（{first_year}年），不可能出现在代码中",
        "Positions 3–8: division {division} {name} was abolished in {year}, before unified social credit codes began ({first_year}), so no code can carry it",
    ),
    "error.reference.uscc.historical": (
        "第3–8位行政区划码 {division} {name} 已撤销（{year}年），现为 {now}；发码时有效的区划码仍属合法",
        "Positions 3–8: division {division} {name} was abolished ({year}) and is now {now}; a code valid when issued stays valid",
    ),
    "error.reference.uscc.historical_no_successor": (
        "第3–8位行政区划码 {division} {name} 已撤销（{year}年），无直接承继的现行区划；发码时有效的区划码仍属合法",
        "Positions 3–8: division {division} {name} was abolished ({year}) with no direct successor; a code valid when issued stays valid",
    ),
    "error.reference.uscc.lowercase": (
        "含小写字母，已按大写处理（标准只用大写字母）",
        "Contains lower-case letters, read as upper case (the standard uses upper case only)",
    ),
    "error.reference.uscc.length": ("长度为{n}位，应为18位", "{n} characters long; a code has 18"),
    "error.reference.uscc.char": (
        "第{position}位字符“{char}”不合法：只允许数字0–9和大写字母（不含I、O、Z、S、V）",
        "Character {position}, “{char}”, is not allowed: only digits 0–9 and capital letters except I, O, Z, S and V",
    ),
    "error.reference.uscc.authority": (
        "第1位登记管理部门代码“{char}”未定义（应为1–9、A、N、Y之一）",
        "Position 1, the registration authority “{char}”, is undefined (it must be one of 1–9, A, N, Y)",
    ),
    "error.reference.uscc.entity_type": (
        "第2位机构类别代码“{char}”在登记管理部门“{authority}”（{authority_code}）下未定义，可用：{allowed}",
        "Position 2, the entity type “{char}”, is undefined under the authority “{authority}” ({authority_code}); allowed: {allowed}",
    ),
    "error.reference.uscc.division_digits": (
        "第3–8位登记管理机关行政区划码“{division}”应为6位数字",
        "Positions 3–8, the division code “{division}”, must be 6 digits",
    ),
    "error.reference.uscc.check": (
        "校验码错误：第18位应为“{expected}”，实为“{actual}”",
        "Wrong check character: position 18 should be “{expected}”, not “{actual}”",
    ),
    "error.reference.uscc.org_check": (
        "第17位（组织机构代码校验码，GB 11714）应为“{expected}”，实为“{actual}”；存量代码偶有此情况，仅作提示",
        "Position 17 (the GB 11714 organisation-code check) should be “{expected}”, not “{actual}”; older codes sometimes have this, so it is only a warning",
    ),
}
