"""Words every page shares: the platform, the layout, the areas with their feature cards, the
API page, and labels of reference values several domains show (enterprise size class)."""

from typing import Final

MESSAGES: Final[dict[str, tuple[str, str]]] = {
    # Platform and layout
    "platform.short": ("融资信用服务平台", "Financing Credit Service Platform"),
    "platform.software": ("CreditBridge 开源融资信用服务平台", "CreditBridge open-source platform"),
    "layout.skip": ("跳到正文", "Skip to content"),
    "punct.colon": ("：", ": "),
    "punct.list": ("、", ", "),
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
    "size_class.large": ("大型", "Large"),
    "size_class.medium": ("中型", "Medium"),
    "size_class.small": ("小型", "Small"),
    "size_class.micro": ("微型", "Micro"),
    "size_class.unknown": ("未划型", "Not classified"),
    # A file being sent (progress.js on the upload forms)
    "upload.progress.label": ("上传进度", "Upload progress"),
    "upload.progress.sending": ("正在上传…", "Uploading…"),
    "upload.progress.bytes": ("已发送 {sent} / {total}", "{sent} of {total} sent"),
    "upload.progress.checking": (
        "文件已送达，正在核对表头…",
        "File received; checking its header…",
    ),
    "upload.progress.processing": ("文件已送达，正在处理…", "File received; processing…"),
    "upload.progress.failed": (
        "上传中断，请检查网络后重试。",
        "The upload was interrupted; check the connection and try again.",
    ),
    # API documentation
    "api.title": ("接口文档", "API documentation"),
    "api.lead": (
        "供接入机构、数据提供单位和上下级节点调用的 JSON 接口（OpenAPI 3.1）。文档原文：",
        "JSON API for institutions, data providers and other nodes (OpenAPI 3.1). The document:",
    ),
}
