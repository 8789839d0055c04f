"""Languages of the pages: Chinese first, English second.

Every string a page shows comes from :data:`MESSAGES` (keys in English, one ``(zh, en)`` pair
each), so a translation can never be missing for one language only. Labels for the values stored
in the database (update frequency, disclosure class, size class…) live here too, under
``<group>.<value>`` keys, and fall back to the raw value when a new one appears in the data: a
page must not fail because a provider sent a code we have no label for yet.

The language is chosen (in the web shell, :mod:`creditbridge.web.i18n`) by ``?lang=zh|en`` (remembered in a cookie), then the cookie, then the
node's default. We ignore ``Accept-Language`` on purpose: this is a Chinese government service
and its pages are Chinese unless the reader asks otherwise.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Final, Literal

from creditbridge.core.clock import to_local
from creditbridge.presentation import messages

Language = Literal["zh", "en"]
LANGUAGES: Final[tuple[Language, ...]] = ("zh", "en")

MESSAGES: Final[dict[str, tuple[str, str]]] = {
    # Platform and layout
    "platform.short": ("融资信用服务平台", "Financing Credit Service Platform"),
    "platform.software": ("CreditBridge 开源融资信用服务平台", "CreditBridge open-source platform"),
    "layout.skip": ("跳到正文", "Skip to content"),
    "punct.colon": ("：", ": "),
    "layout.language": ("语言", "Language"),
    "layout.menu": ("菜单", "Menu"),
    "layout.breadcrumb": ("当前位置", "You are here"),
    "layout.home": ("首页", "Home"),
    "layout.version": ("版本", "Version"),
    "layout.node_code": ("节点代码", "Node code"),
    "layout.api": ("接口文档", "API documentation"),
    "layout.footer_note": (
        "数据仅在本节点内处理，未经授权不对外提供。",
        "Data is processed within this node and never shared without consent.",
    ),
    "layout.health": ("运行状态", "Health"),
    "node_level.national": ("全国节点", "National node"),
    "node_level.provincial": ("省级节点", "Provincial node"),
    "node_level.city": ("市级节点", "City node"),
    "node_level.county": ("县级节点", "County node"),
    # Areas and their features
    "area.operator": ("运营管理", "Operations"),
    "area.operator.lead": (
        "平台运营方的工作台：共享清单、数据归集、接入机构与节点管理、监测与统计。",
        "The operator's desk: the shared-data list, collection, institutions, nodes, monitoring and statistics.",
    ),
    "area.institution": ("金融机构", "Institutions"),
    "area.institution.lead": (
        "银行、担保、保险和信用服务机构：发布产品、对接融资需求、授权查询与核验、风险预警。",
        "Banks, guarantors, insurers and credit agencies: products, financing demands, authorized queries, verification and alerts.",
    ),
    "area.enterprise": ("企业服务", "Enterprises"),
    "area.enterprise.lead": (
        "企业免费查看本企业的全部信用信息，管理授权，发布融资需求，提出异议和申请信用修复。",
        "Enterprises see everything held about them for free, manage consents, publish demands, object and apply for repair.",
    ),
    "area.here_now": ("现已提供", "Available now"),
    "area.coming": ("即将提供", "Coming next"),
    "area.coming_badge": ("建设中", "In progress"),
    "area.available_badge": ("可用", "Available"),
    "area.open": ("打开", "Open"),
    "area.figure.batches": ("归集批次", "Deliveries"),
    "area.figures": ("本节点现有数据", "What this node holds now"),
    "area.coming_note": (
        "以下功能正在建设，完成后将在此处开放；目前不展示任何模拟数据。",
        "These features are being built and will open here; no placeholder data is shown meanwhile.",
    ),
    "feature.dashboard": ("数据看板", "Dashboard"),
    "feature.dashboard.desc": (
        "市场主体、信用记录、归集批次和融资成效的实时汇总。",
        "Live totals of enterprises, records, deliveries and lending.",
    ),
    "feature.catalog": ("共享清单", "Shared-data list"),
    "feature.catalog.desc": (
        "信用信息共享清单：信息项、字段、提供单位、更新频率、分级与公开属性，保留历史版本。",
        "The shared-data list: datasets, fields, providers, update frequency, classification and disclosure, with past versions.",
    ),
    "feature.providers": ("数据提供单位", "Data providers"),
    "feature.providers.desc": (
        "各部门和公用事业单位应报送的信息项、联系人、报送及时率。",
        "What each department and utility owes, its contacts and timeliness.",
    ),
    "feature.batches": ("归集批次", "Deliveries"),
    "feature.batches.desc": (
        "文件、接口和定时拉取的归集批次，校验结果与退回明细。",
        "Deliveries by file, API and scheduled pull, with validation results and reject reports.",
    ),
    "feature.collection_rate": ("归集率监测", "Collection rate"),
    "feature.collection_rate.desc": (
        "按提供单位、信息项和地区统计的归集率与逾期未报。",
        "Collection rate and overdue deliveries by provider, dataset and region.",
    ),
    "feature.institutions_admin": ("接入机构管理", "Institution admission"),
    "feature.institutions_admin.desc": (
        "金融机构准入、暂停和退出，接口密钥与签名。",
        "Admission, suspension and exit of institutions; API keys and request signing.",
    ),
    "feature.nodes": ("节点管理", "Nodes"),
    "feature.nodes.desc": (
        "与全国平台、市县节点的数据交换状态。",
        "Exchange with the national platform and city/county nodes.",
    ),
    "feature.whitelist": ("白名单审核", "Whitelist review"),
    "feature.whitelist.desc": (
        "重点企业白名单的推荐、审核与推送。",
        "Recommending, reviewing and pushing the priority-enterprise whitelist.",
    ),
    "feature.audit": ("审计日志", "Audit trail"),
    "feature.audit.desc": (
        "不可篡改的查询与变更记录，供审计员核验。",
        "Tamper-evident trail of every access and change, for auditors.",
    ),
    "feature.products": ("机构与产品", "Institutions and products"),
    "feature.products.desc": (
        "接入机构发布的金融产品：额度、利率、期限和担保方式。",
        "Products published by institutions: amount, rate, term and security type.",
    ),
    "feature.demands": ("融资需求对接", "Financing demands"),
    "feature.demands.desc": (
        "精准派单与自由抢单，受理、授信和放款进度。",
        "Dispatch and grab, with acceptance, approval and disbursement progress.",
    ),
    "feature.reports": ("授权查询与信用报告", "Authorized queries and reports"),
    "feature.reports.desc": (
        "在企业授权范围内查询信用信息，出具标准化信用报告。",
        "Query credit information within the enterprise's consent; standardized credit reports.",
    ),
    "feature.verification": ("信息核验", "Verification"),
    "feature.verification.desc": (
        "只回答“是/否”、不返回原始数据的核验服务。",
        "Yes/no verification that returns no raw values.",
    ),
    "feature.alerts": ("风险预警", "Risk alerts"),
    "feature.alerts.desc": (
        "对贷后企业的新增负面信息和评分变化发出预警。",
        "Alerts on new negative records and score changes of borrowers.",
    ),
    "feature.outcomes": ("融资成效报送", "Lending outcomes"),
    "feature.outcomes.desc": (
        "授信、放款、首贷户和信用贷款占比的报送与统计。",
        "Reporting of approvals, disbursements, first-time borrowers and credit-loan share.",
    ),
    "feature.enterprise_search": ("企业信用查询", "Enterprise credit lookup"),
    "feature.enterprise_search.desc": (
        "按统一社会信用代码或名称查询企业的公开信用信息。",
        "Look up an enterprise's public credit information by credit code or name.",
    ),
    "feature.my_credit": ("我的信用信息", "My credit information"),
    "feature.my_credit.desc": (
        "企业免费查看本企业的全部信息及被查询记录。",
        "An enterprise sees, free, everything held about it and who queried it.",
    ),
    "feature.consents": ("授权管理", "Consents"),
    "feature.consents.desc": (
        "向金融机构授权、查看授权回执、随时撤销。",
        "Grant consents to institutions, see receipts, revoke at any time.",
    ),
    "feature.publish_demand": ("发布融资需求", "Publish a demand"),
    "feature.publish_demand.desc": (
        "填写融资需求，由平台派单或机构抢单。",
        "Describe a financing need; the platform dispatches it or institutions take it.",
    ),
    "feature.objections": ("异议申诉", "Objections"),
    "feature.objections.desc": (
        "对信用记录提出异议，跟踪处理时限。",
        "Object to a record and follow the deadline.",
    ),
    "feature.repair": ("信用修复", "Credit repair"),
    "feature.repair.desc": (
        "符合条件的失信信息申请修复，提前终止公示。",
        "Apply for repair of eligible negative records to end their publication early.",
    ),
    # Dashboard
    "dashboard.title": ("数据看板", "Dashboard"),
    "dashboard.lead": (
        "本节点归集与融资服务的实时汇总，数据直接取自平台数据库。",
        "Live totals of this node's collection and lending services, read directly from the platform database.",
    ),
    "dashboard.as_of": ("统计时间：{at}", "As of {at}"),
    "dashboard.records_table": (
        "清单各信息项归集记录数",
        "Records collected per dataset of the list",
    ),
    "dashboard.total.subjects": ("市场主体", "Enterprises"),
    "dashboard.total.records": ("归集记录", "Records collected"),
    "dashboard.total.records.hint": ("各批次入库行数合计", "rows accepted over all deliveries"),
    "dashboard.total.datasets": ("清单信息项", "Datasets in the list"),
    "dashboard.total.providers": ("数据提供单位", "Data providers"),
    "dashboard.total.institutions": ("接入机构", "Institutions"),
    "dashboard.total.products": ("金融产品", "Financial products"),
    "dashboard.total.loans": ("贷款笔数", "Loans"),
    "dashboard.by_city": ("各市市场主体数量", "Enterprises by city"),
    "dashboard.by_dataset": ("各信息项归集记录数量", "Records collected by dataset"),
    "dashboard.by_size": ("企业规模分布", "Enterprises by size"),
    "dashboard.latest_batches": ("最新归集批次", "Latest deliveries"),
    "dashboard.more_datasets": (
        "图中为记录最多的 {shown} 个信息项；全部 {n} 个见右表。",
        "The chart shows the {shown} datasets with most records; the table lists all {n}.",
    ),
    "dashboard.city": ("城市", "City"),
    "dashboard.count": ("数量", "Count"),
    "dashboard.share": ("占比", "Share"),
    "dashboard.dataset": ("信息项", "Dataset"),
    "dashboard.records": ("记录数", "Records"),
    "dashboard.size": ("规模", "Size"),
    "dashboard.no_batches": ("尚无归集批次。", "No deliveries yet."),
    "dashboard.no_records": ("尚无信用记录。", "No credit records yet."),
    "dashboard.empty.title": ("尚无数据", "No data yet"),
    "dashboard.empty.body": (
        "平台数据库中还没有市场主体和信用记录。可运行 make demo 或 creditbridge demo generate 生成演示数据，或按共享清单归集真实数据。",
        "The platform database holds no enterprises or records yet. Run make demo or creditbridge demo generate for demonstration data, or collect real data per the shared-data list.",
    ),
    "dashboard.empty.catalog": (
        "共享清单尚未载入：运行 creditbridge catalog load。",
        "The shared-data list is not loaded yet: run creditbridge catalog load.",
    ),
    "dashboard.chart_table": ("图表数据", "Chart data"),
    "batch.received_at": ("接收时间", "Received"),
    "batch.provider": ("提供单位", "Provider"),
    "batch.dataset": ("信息项", "Dataset"),
    "batch.accepted": ("入库", "Accepted"),
    "batch.rejected": ("退回", "Rejected"),
    "batch.channel": ("渠道", "Channel"),
    "batch.status": ("状态", "Status"),
    "channel.file": ("文件", "File"),
    "channel.api": ("接口", "API"),
    "channel.pull": ("定时拉取", "Pull"),
    "channel.demo": ("演示", "Demo"),
    "batch_status.applied": ("已入库", "Applied"),
    "batch_status.refused": ("已拒收", "Refused"),
    "size_class.large": ("大型", "Large"),
    "size_class.medium": ("中型", "Medium"),
    "size_class.small": ("小型", "Small"),
    "size_class.micro": ("微型", "Micro"),
    "size_class.unknown": ("未划型", "Not classified"),
    # Catalog
    "catalog.title": ("信用信息共享清单", "Shared-data list"),
    "catalog.lead": (
        "各部门和公用事业单位向平台归集的信息项，以及每项的字段、更新频率、分级和公开属性。",
        "The datasets that departments and utilities deliver to the platform, with fields, update frequency, classification and disclosure.",
    ),
    "catalog.version": ("清单版本", "List version"),
    "catalog.current": ("现行", "current"),
    "catalog.switch": ("切换", "Switch"),
    "catalog.basis": ("依据", "Basis"),
    "catalog.effective": ("施行日期", "In force from"),
    "catalog.datasets_count": ("{n} 个信息项", "{n} datasets"),
    "catalog.datasets_count.one": ("{n} 个信息项", "{n} dataset"),
    "catalog.old_version_note": (
        "您正在查看历史版本，现行版本为 {current}。",
        "You are viewing a past version; the current one is {current}.",
    ),
    "catalog.search": ("搜索信息项", "Search datasets"),
    "catalog.search_placeholder": ("信息项名称或代码", "Dataset name or code"),
    "catalog.search_button": ("搜索", "Search"),
    "catalog.search_results": ("“{q}” 的搜索结果：{n} 项", "Results for “{q}”: {n}"),
    "catalog.search_none": ("没有匹配的信息项。", "No dataset matches."),
    "catalog.clear_search": ("显示全部", "Show all"),
    "catalog.empty": (
        "共享清单尚未载入。运行 creditbridge catalog load 载入清单。",
        "The shared-data list is not loaded. Run creditbridge catalog load.",
    ),
    "catalog.code": ("代码", "Code"),
    "catalog.name_zh": ("中文名称", "Chinese name"),
    "catalog.name_en": ("英文名称", "English name"),
    "catalog.name": ("名称", "Name"),
    "catalog.provider": ("提供单位", "Provider"),
    "catalog.frequency": ("更新频率", "Frequency"),
    "catalog.disclosure": ("公开属性", "Disclosure"),
    "catalog.negative": ("失信信息", "Negative"),
    "catalog.negative_badge": ("失信", "negative"),
    "catalog.period": ("公示期", "Publication period"),
    "catalog.fields": ("字段", "Fields"),
    "catalog.fields_count": ("字段数", "Fields"),
    "catalog.description": ("说明", "Description"),
    "catalog.subject_key": ("主体标识字段", "Subject key"),
    "catalog.natural_key": ("记录标识字段", "Natural key"),
    "catalog.category": ("类别", "Category"),
    "catalog.field.code": ("字段代码", "Field code"),
    "catalog.field.label_zh": ("中文标签", "Chinese label"),
    "catalog.field.label_en": ("英文标签", "English label"),
    "catalog.field.label": ("标签", "Label"),
    "catalog.field.type": ("类型", "Type"),
    "catalog.field.unit": ("单位", "Unit"),
    "catalog.field.required": ("必填", "Required"),
    "catalog.field.enum": ("取值范围", "Allowed values"),
    "catalog.field.level": ("分级", "Level"),
    "catalog.field.masking": ("脱敏规则", "Masking"),
    "catalog.yes": ("是", "Yes"),
    "catalog.no": ("否", "No"),
    "catalog.level_title": (
        "数据安全级别（JR/T 0197）第 {n} 级",
        "Data security level {n} (JR/T 0197)",
    ),
    "catalog.back": ("返回共享清单", "Back to the list"),
    "catalog.not_in_version": (
        "信息项 {code} 不在清单版本 {version} 中。",
        "Dataset {code} is not in list version {version}.",
    ),
    "catalog.api_link": ("JSON 接口", "JSON API"),
    "catalog.sla": ("报送时限", "Delivery deadline"),
    "catalog.sla_days": ("{n} 天", "{n} days"),
    "catalog.key.subject": ("主体标识", "subject key"),
    "catalog.key.natural": ("记录标识", "record key"),
    "catalog.legend": ("图例", "Legend"),
    "frequency.realtime": ("实时", "Real time"),
    "frequency.daily": ("每日", "Daily"),
    "frequency.weekly": ("每周", "Weekly"),
    "frequency.monthly": ("每月", "Monthly"),
    "frequency.quarterly": ("每季", "Quarterly"),
    "frequency.yearly": ("每年", "Yearly"),
    "frequency.on_change": ("变更时", "On change"),
    "disclosure.public": ("公开", "Public"),
    "disclosure.authorized": ("授权", "With consent"),
    "disclosure.verification_only": ("仅核验", "Verification only"),
    "disclosure.public.desc": (
        "依法公开的信息，可直接查询。",
        "Public by law; may be queried directly.",
    ),
    "disclosure.authorized.desc": (
        "须经企业授权方可向机构提供。",
        "Given to an institution only under the enterprise's consent.",
    ),
    "disclosure.verification_only.desc": (
        "只提供核验结果，不提供原始数据。",
        "Only verification answers; raw values never leave the platform.",
    ),
    "period.minor": ("轻微：原则上不公示", "Minor: not published"),
    "period.general": ("一般：3个月至1年", "General: 3 months to 1 year"),
    "period.serious": ("严重：1年至3年", "Serious: 1 to 3 years"),
    "period.by_severity": ("按失信程度", "By severity"),
    "provider_kind.department": ("政府部门", "Government department"),
    "provider_kind.utility": ("公用事业单位", "Utility"),
    "provider_kind.court": ("人民法院", "Court"),
    "provider_kind.self": ("企业自主填报", "Self-reported"),
    "field_type.string": ("字符串", "String"),
    "field_type.text": ("文本", "Text"),
    "field_type.integer": ("整数", "Integer"),
    "field_type.decimal": ("小数", "Decimal"),
    "field_type.amount": ("金额", "Amount"),
    "field_type.date": ("日期", "Date"),
    "field_type.enum": ("枚举", "Enumeration"),
    "field_type.boolean": ("是/否", "Boolean"),
    "field_type.uscc": ("统一社会信用代码", "Credit code (USCC)"),
    "field_type.division_code": ("行政区划代码", "Division code"),
    "field_type.industry_code": ("行业代码", "Industry code"),
    "field_type.period": ("月份", "Month (YYYY-MM)"),
    "unit.yuan": ("元", "yuan"),
    "unit.wan_yuan": ("万元", "10k yuan"),
    "unit.kwh": ("千瓦时", "kWh"),
    "unit.m3": ("立方米", "m³"),
    "unit.person": ("人", "persons"),
    "unit.month": ("月", "months"),
    "unit.day": ("天", "days"),
    "unit.percent": ("%", "%"),
    "unit.item": ("件", "items"),
    "unit.m2": ("平方米", "m²"),
    "unit.tonne": ("吨", "tonnes"),
    "masking.none": ("不脱敏", "None"),
    "masking.name": ("姓名（保留姓）", "Name (surname kept)"),
    "masking.id_number": ("证件号（保留前6后4位）", "ID number (first 6, last 4 kept)"),
    "masking.phone": ("手机号（保留前3后4位）", "Phone (first 3, last 4 kept)"),
    "masking.partial": ("部分遮蔽", "Partly hidden"),
    "masking.full": ("完全遮蔽", "Fully hidden"),
    "level.1": ("公开", "Public"),
    "level.2": ("内部", "Internal"),
    "level.3": ("受限", "Restricted"),
    "level.4": ("敏感", "Sensitive"),
    "level.5": ("重要", "Critical"),
    # Errors
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
    # Access: login, users, roles, API clients, institution admission (access module)
    "auth.login": ("登录", "Log in"),
    "auth.logout": ("退出登录", "Log out"),
    "auth.account": ("我的账户", "My account"),
    "auth.username": ("用户名", "Username"),
    "auth.password": ("密码", "Password"),
    "auth.display_name": ("姓名", "Full name"),
    "auth.role": ("角色", "Role"),
    "auth.lockout_note": (
        "连续 5 次登录失败，账户将锁定 15 分钟。",
        "After 5 failed attempts the account is locked for 15 minutes.",
    ),
    "auth.totp": ("动态口令验证", "Authenticator code"),
    "auth.totp_enrol": ("绑定动态口令", "Set up your authenticator"),
    "auth.totp_enrol_lead": (
        "您的角色须使用动态口令（双因素认证）。请用身份验证器应用扫描二维码，或手动输入密钥，然后输入显示的 6 位数字。",
        "Your role requires a second factor. Scan the QR code with an authenticator app, or type the key, then enter the 6-digit code.",
    ),
    "auth.totp_lead": (
        "请输入身份验证器应用显示的 6 位动态口令。",
        "Enter the 6-digit code your authenticator app shows.",
    ),
    "auth.totp_secret": ("密钥", "Key"),
    "auth.totp_code": ("动态口令", "Code"),
    "auth.verify": ("验证", "Verify"),
    "auth.register": ("企业用户注册", "Register an enterprise account"),
    "auth.register_lead": (
        "注册时须核验法定代表人：请填写统一社会信用代码、法定代表人姓名及其身份证件号码后六位。",
        "Registration confirms the legal representative: give the credit code, the representative's name and the last six characters of their identity number.",
    ),
    "auth.registered": ("注册成功，请登录。", "Registered. Please log in."),
    "auth.password_change": ("修改密码", "Change password"),
    "auth.password_current": ("当前密码", "Current password"),
    "auth.password_new": ("新密码", "New password"),
    "auth.password_change_note": (
        "修改后所有已登录的会话都将退出，请用新密码重新登录。",
        "Every open session ends after the change; log in again with the new password.",
    ),
    "auth.password_changed": (
        "密码已修改，请用新密码登录。",
        "Password changed. Please log in with it.",
    ),
    "auth.uscc": ("统一社会信用代码", "Unified social credit code"),
    "auth.legal_rep_name": ("法定代表人姓名", "Legal representative"),
    "auth.id_tail": ("证件号码后六位", "Last six characters of the ID number"),
    "auth.password_rule": (
        "至少 10 位，包含大写字母、小写字母、数字、特殊字符中的至少三类，且不含用户名。",
        "At least 10 characters, three of upper case, lower case, digits and symbols, without the username.",
    ),
    "access.users": ("用户管理", "Users"),
    "access.user_create": ("新建用户", "Create a user"),
    "access.status": ("状态", "Status"),
    "access.totp": ("动态口令", "Second factor"),
    "access.yes": ("是", "Yes"),
    "access.no": ("否", "No"),
    "access.institution": ("所属机构", "Institution"),
    "access.provider_id": ("数据提供单位编号", "Provider id"),
    "access.subject_id": ("企业编号", "Subject id"),
    "access.node": ("节点", "Node"),
    "access.last_login": ("最近登录", "Last login"),
    "access.disable": ("停用账户", "Disable account"),
    "access.set_role": ("分配角色", "Assign role"),
    "access.save": ("保存", "Save"),
    "access.clients": ("接口客户端", "API clients"),
    "access.clients_lead": (
        "接入机构、数据提供单位和上下级节点的系统以 SM2 或 HMAC-SM3 签名调用接口。",
        "Systems of institutions, providers and nodes call the API with SM2 or HMAC-SM3 signatures.",
    ),
    "access.client_create": ("新建接口客户端", "Create an API client"),
    "access.issued_once": (
        "请立即保存以下凭据：密钥只显示这一次。",
        "Save these credentials now: the secret is shown only once.",
    ),
    "access.key_id": ("密钥编号", "Key id"),
    "access.secret": ("密钥", "Secret"),
    "access.name": ("名称", "Name"),
    "access.owner": ("所属", "Owner"),
    "access.algorithm": ("签名算法", "Algorithm"),
    "access.rate_limit": ("限流（次/分钟）", "Rate limit (per minute)"),
    "access.public_key": (
        "SM2 公钥（PEM，可留空由平台生成密钥对）",
        "SM2 public key (PEM; leave empty to generate a pair)",
    ),
    "access.suspend": ("暂停", "Suspend"),
    "access.activate": ("恢复", "Activate"),
    "access.flags": ("异常访问", "Abuse flags"),
    "access.flags_lead": (
        "机构在一小时内多次无授权查询或查询量远超平时，将被临时限制并在此提示。",
        "Institutions refused for missing consent many times in an hour, or reading far above their usual volume, are throttled and listed here.",
    ),
    "access.flag_kind": ("类型", "Kind"),
    "access.observed": ("观测值", "Observed"),
    "access.threshold": ("阈值", "Threshold"),
    "access.flagged_at": ("标记时间", "Flagged at"),
    "access.note": ("处理说明", "Note"),
    "access.lift": ("解除限制", "Lift throttle"),
    "access.resolve": ("处理", "Resolve"),
    "access.no_flags": ("暂无异常访问。", "No flags."),
    "access.institutions_lead": (
        "接入流程：申请 → 安全评估 → 准入；准入后可暂停、恢复或撤销，每一步均记入审计日志。",
        "Admission: application → security assessment → approval; then suspension, reinstatement or revocation, each step audited.",
    ),
    "access.institution_apply": ("登记接入申请", "Register an application"),
    "access.code": ("机构代码", "Code"),
    "access.kind": ("机构类型", "Kind"),
    "access.division": ("行政区划", "Division"),
    "access.assessment": ("安全评估清单", "Security assessment checklist"),
    "access.item": ("评估项", "Item"),
    "access.checked": ("已核验", "Checked"),
    "access.transition": ("变更状态", "Change status"),
    "access.target": ("目标状态", "New status"),
    "access.reason": ("原因", "Reason"),
    "role.system_admin": ("系统管理员", "System admin"),
    "role.security_admin": ("安全管理员", "Security admin"),
    "role.audit_admin": ("审计管理员", "Audit admin"),
    "role.operator": ("平台运营人员", "Platform operator"),
    "role.provider_user": ("数据提供单位用户", "Provider user"),
    "role.institution_officer": ("金融机构用户", "Institution officer"),
    "role.enterprise_user": ("企业用户", "Enterprise user"),
    "user_status.active": ("正常", "Active"),
    "user_status.disabled": ("已停用", "Disabled"),
    "client_status.active": ("正常", "Active"),
    "client_status.suspended": ("已暂停", "Suspended"),
    "flag_kind.refusals": ("多次无授权查询", "Refused reads"),
    "flag_kind.volume": ("查询量异常", "Unusual volume"),
    "flag_status.open": ("待处理", "Open"),
    "flag_status.resolved": ("已处理", "Resolved"),
    "institution_kind.bank": ("银行", "Bank"),
    "institution_kind.guarantor": ("融资担保机构", "Guarantor"),
    "institution_kind.insurer": ("保险机构", "Insurer"),
    "institution_kind.credit_agency": ("信用服务机构", "Credit agency"),
    "institution_kind.city_platform": ("市级平台", "City platform"),
    "institution_status.applied": ("已申请", "Applied"),
    "institution_status.assessing": ("安全评估中", "Assessing"),
    "institution_status.approved": ("已准入", "Approved"),
    "institution_status.suspended": ("已暂停", "Suspended"),
    "institution_status.revoked": ("已撤销", "Revoked"),
    "error.CB-AUTH-REQUIRED": ("需要登录", "Login required"),
    "error.CB-CSRF": ("表单已失效", "Form expired"),
    "error.CB-CSRF.body": (
        "为防止跨站请求伪造，表单须带有本次会话的校验码。请返回上一页，刷新后重新提交。",
        "To prevent cross-site request forgery a form must carry this session's token. Go back, reload and submit again.",
    ),
    "error.CB-RATE-LIMITED": ("请求过于频繁", "Too many requests"),
    # API documentation
    "api.title": ("接口文档", "API documentation"),
    "api.lead": (
        "供接入机构、数据提供单位和上下级节点调用的 JSON 接口（OpenAPI 3.1）。文档原文：",
        "JSON API for institutions, data providers and other nodes (OpenAPI 3.1). The document:",
    ),
    # Consent pages (trust layer): the enterprise's consents, the institution's requests and reads
    "consent.mine": ("我的授权", "My consents"),
    "consent.mine.lead": (
        "金融机构查询本企业非公开信息须经您授权。待确认的申请排在最前；您可随时暂停或撤销授权。",
        "Institutions need your consent to read non-public information about you. Pending requests come first; you may pause or revoke at any time.",
    ),
    "consent.none_yet": ("暂无授权申请。", "No consent requests yet."),
    "consent.none_requested": (
        "本机构尚未申请任何授权。",
        "Your institution has not requested any consent yet.",
    ),
    "consent.institution_list": ("本机构的授权", "Our consents"),
    "consent.institution_list.lead": (
        "本机构向企业申请的授权及其状态。",
        "The consents your institution asked enterprises for, and their states.",
    ),
    "consent.request": ("申请授权", "Request consent"),
    "consent.request.lead": (
        "向企业申请查询其非公开信息的授权；企业确认后方可查询。公开信息无须授权。",
        "Ask an enterprise for consent to read its non-public information; you can read once it approves. Public information needs no consent.",
    ),
    "consent.request_submit": ("提交申请", "Send the request"),
    "consent.cancel": ("取消", "Cancel"),
    "consent.form_has_errors": (
        "申请有误，请按提示修改后重新提交。",
        "The request has errors; correct them and send it again.",
    ),
    "consent.detail": ("授权", "Consent"),
    "consent.reference": ("授权编号", "Reference"),
    "consent.subject": ("企业", "Enterprise"),
    "consent.institution": ("机构", "Institution"),
    "consent.purpose": ("授权用途", "Purpose"),
    "consent.scope": ("信息类别", "Categories"),
    "consent.scope_hint": (
        "勾选需要查询的信息类别；标为“公开”的类别不需授权即可查询。",
        "Tick the categories you need; those marked public can be read without a consent.",
    ),
    "consent.public_badge": ("公开", "Public"),
    "consent.needs_consent_badge": ("需授权", "Consent needed"),
    "consent.data_range": ("数据期间", "Data range"),
    "consent.range_all": ("不限", "Any"),
    "consent.data_from": ("数据起始日期", "Data from"),
    "consent.data_to": ("数据截止日期", "Data to"),
    "consent.validity": ("有效期", "Validity"),
    "consent.valid_until": ("授权截止日期", "Valid until"),
    "consent.max_uses": ("最多查询次数", "Maximum uses"),
    "consent.uses": ("已用次数", "Uses"),
    "consent.uscc": ("统一社会信用代码", "Unified social credit code"),
    "consent.note": ("申请说明", "Note"),
    "consent.status": ("状态", "Status"),
    "consent.actions": ("操作", "Actions"),
    "consent.open": ("查看", "Open"),
    "consent.terms": ("授权内容", "Terms"),
    "consent.requested_by": ("申请人", "Requested by"),
    "consent.decided": ("确认人", "Decided by"),
    "consent.reason": ("原因", "Reason"),
    "consent.reason_optional": ("原因（可选）", "Reason (optional)"),
    "consent.history": ("授权记录", "History"),
    "consent.when": ("时间", "When"),
    "consent.event": ("事项", "Event"),
    "consent.by": ("操作人", "By"),
    "consent.message": ("内容", "Message"),
    "consent.decide": ("处理授权", "Decide"),
    "consent.move.approve": ("同意授权", "Approve"),
    "consent.move.reject": ("拒绝", "Reject"),
    "consent.move.pause": ("暂停授权", "Pause"),
    "consent.move.resume": ("恢复授权", "Resume"),
    "consent.move.revoke": ("撤销授权", "Revoke"),
    "consent.receipt": ("授权回执", "Receipt"),
    "consent.receipt_download": ("下载签名回执", "Download the signed receipt"),
    "consent.receipt_verify": (
        "回执由平台以 SM2 签名，任何人都可以用平台公钥核验其真伪，例如：",
        "The platform signs the receipt with SM2; anyone can check it with the platform's public key, for example:",
    ),
    "consent.receipt_key": ("平台公钥：", "Public key:"),
    "consent.notifications": ("授权通知", "Notifications"),
    "consent.no_notifications": ("暂无通知。", "No notifications."),
    "consent.all_notifications": ("全部通知", "All notifications"),
    "consent.access_log": ("查询记录", "Access log"),
    "consent.access_log.lead": (
        "哪家机构、何时、依据哪项授权和用途查询了本企业的哪些信息。",
        "Which institution read what about you, when, under which consent and for what purpose.",
    ),
    "consent.access_log.empty": (
        "尚无机构查询本企业信息。",
        "No institution has read your data yet.",
    ),
    "consent.read_at": ("查询时间", "Read at"),
    "consent.reader": ("查询人", "Reader"),
    "consent.datasets": ("信息项", "Datasets"),
    "consent.records": ("记录数", "Records"),
    "consent.consent": ("授权", "Consent"),
    "consent.public_only": ("仅公开信息", "Public information only"),
    "consent.read": ("查阅数据", "Read data"),
    "consent.read.lead": (
        "在企业授权范围内查阅其信用信息；每次查询都会记入企业的查询记录和审计日志。",
        "Read an enterprise's credit information within its consent; every read is logged for the enterprise and audited.",
    ),
    "consent.read_submit": ("查阅", "Read"),
    "consent.cite": ("依据授权", "Under consent"),
    "consent.cite_any": ("自动选择有效授权", "Any valid consent"),
    "consent.records_n": ("共 {n} 条记录", "{n} records"),
    "consent.records_n.one": ("共 {n} 条记录", "{n} record"),
    "consent.masked_note": (
        "个人身份证号、手机号等按数据分级规则脱敏显示。",
        "Identity numbers, phone numbers and similar fields are masked by classification level.",
    ),
    "consent.yes": ("是", "Yes"),
    "consent.no": ("否", "No"),
    "consent.read_empty": ("所选类别下暂无记录。", "No records in the chosen categories."),
    "consent.withheld": (
        "仅供核验、不提供原始数据的信息项",
        "Verification-only datasets, never given raw",
    ),
    "consent.withheld_note": (
        "这些信息只能通过核验服务得到“是/否”的结果。",
        "These can only be checked through the verification service, which answers yes or no.",
    ),
    "consent.not_readable": (
        "该授权当前不是生效状态，查询将被拒绝。",
        "This consent is not active; a read under it will be refused.",
    ),
    "consent_status.requested": ("待企业确认", "Awaiting the enterprise"),
    "consent_status.active": ("生效中", "Active"),
    "consent_status.paused": ("已暂停", "Paused"),
    "consent_status.revoked": ("已撤销", "Revoked"),
    "consent_status.expired": ("已过期", "Expired"),
    "consent_status.rejected": ("已拒绝", "Rejected"),
    "purpose.loan_application": ("贷款申请审查", "Loan application"),
    "purpose.credit_line_review": ("授信额度审查", "Credit-line review"),
    "purpose.post_loan_monitoring": ("贷后管理", "Post-loan monitoring"),
    "purpose.guarantee_review": ("融资担保审查", "Guarantee review"),
    "purpose.insurance_underwriting": ("保险承保审查", "Insurance underwriting"),
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
    # Audit pages (audit admin)
    "audit.title": ("审计日志", "Audit trail"),
    "audit.lead": (
        "平台上的每项变更和每次数据查询，按发生顺序以 SM3 哈希链相连。审计管理员只读，不能修改。",
        "Every change and every data access on the platform, linked in order by an SM3 hash chain. The audit admin reads; nothing here changes it.",
    ),
    "audit.export": ("导出 CSV", "Export CSV"),
    "audit.verify": ("校验完整性", "Verify the chain"),
    "audit.verify.lead": (
        "重新计算整条哈希链，并与链头核对；如有篡改或缺失，指出第一处断点。",
        "Recomputes the whole hash chain and checks it against the head; names the first broken link if any.",
    ),
    "audit.verify_ok": ("审计链完整", "The chain is intact"),
    "audit.verify_broken": ("审计链断裂", "The chain is broken"),
    "audit.checked": ("已校验事件", "Events checked"),
    "audit.range": ("序号范围", "Sequence range"),
    "audit.head": ("链头哈希", "Head hash"),
    "audit.broken_at": ("第一处断点", "First broken link"),
    "audit.broken_where": (
        "第 {position} 条，序号 {sequence}",
        "position {position}, sequence {sequence}",
    ),
    "audit.event_id": ("事件ID", "event id"),
    "audit.expected": ("应为", "Expected"),
    "audit.found": ("实为", "Found"),
    "audit.back": ("返回审计日志", "Back to the trail"),
    "audit.since": ("开始日期", "From"),
    "audit.until": ("结束日期", "To"),
    "audit.actor_kind": ("操作者类型", "Actor kind"),
    "audit.actor_id": ("操作者ID", "Actor id"),
    "audit.action": ("操作", "Action"),
    "audit.action_hint": (
        "操作可填完整名称（如 consent.approve），或以“.”结尾的前缀（如 consent.）；日期按北京时间。",
        "Action: a full name (consent.approve) or a prefix ending in a dot (consent.); days are Beijing days.",
    ),
    "audit.subject_id": ("主体ID", "Subject id"),
    "audit.institution_id": ("机构ID", "Institution id"),
    "audit.any": ("全部", "Any"),
    "audit.filter": ("筛选", "Filter"),
    "audit.total": ("共 {n} 条事件", "{n} events"),
    "audit.total.one": ("共 {n} 条事件", "{n} event"),
    "audit.sequence": ("序号", "Seq."),
    "audit.time": ("时间", "Time"),
    "audit.actor": ("操作者", "Actor"),
    "audit.role": ("角色", "Role"),
    "audit.object": ("对象", "Object"),
    "audit.detail": ("详情", "Detail"),
    "audit.hash": ("哈希", "Hash"),
    "audit.pages": ("分页", "Pages"),
    "audit.prev": ("上一页", "Previous"),
    "audit.next": ("下一页", "Next"),
    "audit.page_of": ("第 {page} / {pages} 页", "Page {page} of {pages}"),
    "actor_kind.user": ("用户", "User"),
    "actor_kind.api_client": ("接口客户端", "API client"),
    "actor_kind.cli": ("控制台", "Console"),
    "actor_kind.system": ("系统", "System"),
    "audit_action.consent.request": ("申请授权", "Consent requested"),
    "audit_action.consent.approve": ("同意授权", "Consent approved"),
    "audit_action.consent.reject": ("拒绝授权", "Consent rejected"),
    "audit_action.consent.pause": ("暂停授权", "Consent paused"),
    "audit_action.consent.resume": ("恢复授权", "Consent resumed"),
    "audit_action.consent.revoke": ("撤销授权", "Consent revoked"),
    "audit_action.consent.expire": ("授权到期", "Consent expired"),
    "audit_action.consent.receipt": ("下载回执", "Receipt issued"),
    "audit_action.data.read": ("查询数据", "Data read"),
    "audit_action.data.read_refused": ("查询被拒绝", "Read refused"),
    "audit_action.audit.view": ("查看审计日志", "Audit trail viewed"),
    "audit_action.audit.export": ("导出审计日志", "Audit trail exported"),
    "audit_action.audit.verify": ("校验审计链", "Audit chain verified"),
}


def _merge(*tables: dict[str, tuple[str, str]]) -> None:
    """Add the message tables of later modules; a key defined twice is a bug, caught at import."""
    for table in tables:
        clash = MESSAGES.keys() & table.keys()
        if clash:
            raise RuntimeError(f"message keys defined twice: {sorted(clash)[:5]}")
        MESSAGES.update(table)


_merge(messages.REPORTS, messages.SCORING, messages.MARKETPLACE)

_MONTHS_EN: Final = (
    "Jan",
    "Feb",
    "Mar",
    "Apr",
    "May",
    "Jun",
    "Jul",
    "Aug",
    "Sep",
    "Oct",
    "Nov",
    "Dec",
)
_FEN_PER_WAN_YUAN: Final = Decimal(1_000_000)
_FEN_PER_YUAN: Final = Decimal(100)


class MissingMessage(KeyError):
    """Raised (in tests and development) when a page asks for a key the table lacks."""


def coerce_language(value: object) -> Language | None:
    if value == "zh":
        return "zh"
    if value == "en":
        return "en"
    return None


def translate(lang: Language, key: str, /, **params: object) -> str:
    """The ``lang`` text of ``key``, with ``{name}`` placeholders filled from ``params``."""
    try:
        zh, en = MESSAGES[key]
    except KeyError:
        raise MissingMessage(key) from None
    # English needs a singular ("1 dataset"); Chinese has none. A ``<key>.one`` entry supplies it.
    if params.get("n") == 1 and f"{key}.one" in MESSAGES:
        zh, en = MESSAGES[f"{key}.one"]
    text = zh if lang == "zh" else en
    return text.format(**params) if params else text


def label(lang: Language, group: str, value: object) -> str:
    """The label of a stored value (``label(lang, "frequency", "daily")``), or the value itself
    when the table has none: data may carry codes newer than this table."""
    if value is None:
        return ""
    pair = MESSAGES.get(f"{group}.{value}")
    if pair is None:
        return str(value)
    return pair[0] if lang == "zh" else pair[1]


def pick(lang: Language, zh: str | None, en: str | None) -> str:
    """Choose between a Chinese and an English column of the data; Chinese when English is blank."""
    if lang == "en" and en:
        return en
    return zh or en or ""


# --- Numbers, money, dates -------------------------------------------------------------------


def format_number(value: int | float | Decimal | None, lang: Language, *, digits: int = 0) -> str:
    """Thousands separators (千分位) in both languages: 1,234,567."""
    if value is None:
        return "—"
    return f"{value:,.{digits}f}"


def format_compact(value: int | None, lang: Language) -> str:
    """Large counts as Chinese readers say them (12.3万, 1.2亿) or with k/M in English."""
    if value is None:
        return "—"
    if lang == "zh":
        if abs(value) >= 100_000_000:
            return f"{value / 100_000_000:.2f}亿".replace(".00亿", "亿")
        if abs(value) >= 10_000:
            return f"{value / 10_000:.1f}万".replace(".0万", "万")
        return f"{value:,}"
    if abs(value) >= 1_000_000:
        return f"{value / 1_000_000:.2f}M".replace(".00M", "M")
    if abs(value) >= 10_000:
        return f"{value / 1_000:.1f}k".replace(".0k", "k")
    return f"{value:,}"


def format_money(fen: int | None, lang: Language) -> str:
    """Money held in fen: 万元 with two decimals in Chinese (how lending is reported in China),
    yuan with a currency code in English."""
    if fen is None:
        return "—"
    if lang == "zh":
        wan = (Decimal(fen) / _FEN_PER_WAN_YUAN).quantize(Decimal("0.01"), ROUND_HALF_UP)
        return f"{wan:,}万元"
    yuan = (Decimal(fen) / _FEN_PER_YUAN).quantize(Decimal("0.01"), ROUND_HALF_UP)
    return f"CNY {yuan:,}"


def format_percent(part: int, whole: int, lang: Language) -> str:
    if whole == 0:
        return "—"
    # Half up, as ECharts rounds the same shares on the chart next to the table.
    share = (Decimal(part * 100) / Decimal(whole)).quantize(Decimal("0.1"), ROUND_HALF_UP)
    return f"{share}%"


def format_date(value: date | datetime | None, lang: Language) -> str:
    """2026年11月27日 / 27 Nov 2026. A datetime is first moved to China's time zone."""
    if value is None:
        return "—"
    if isinstance(value, datetime):
        value = to_local(value).date()
    if lang == "zh":
        return f"{value.year}年{value.month}月{value.day}日"
    return f"{value.day} {_MONTHS_EN[value.month - 1]} {value.year}"


def format_datetime(value: datetime | None, lang: Language) -> str:
    """A stored UTC moment shown in Asia/Shanghai: 2026年11月27日 14:05 / 27 Nov 2026 14:05."""
    if value is None:
        return "—"
    local = to_local(value)
    return f"{format_date(local.date(), lang)} {local:%H:%M}"


def format_datetime_short(value: datetime | None, lang: Language) -> str:
    """For table cells: 2026-11-27 14:05 in Asia/Shanghai (the same in both languages)."""
    if value is None:
        return "—"
    return f"{to_local(value):%Y-%m-%d %H:%M}"
