"""Page strings of consents (the enterprise's grants, the institution's requests and reads) and the
labels of purposes, states and moves: key → (中文, English)."""

from typing import Final

MESSAGES: Final[dict[str, tuple[str, str]]] = {
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
    # A move as named in the enterprise's notifications ("授权 … 暂停授权：已暂停")
    "consent_move.approve": ("同意授权", "Consent approved"),
    "consent_move.reject": ("拒绝授权", "Consent rejected"),
    "consent_move.pause": ("暂停授权", "Consent paused"),
    "consent_move.resume": ("恢复授权", "Consent resumed"),
    "consent_move.revoke": ("撤销授权", "Consent revoked"),
    "consent_move.expire": ("授权到期", "Consent expired"),
    # The enterprise starts a consent (consent:grant_form) — every choice explained plainly
    "consent.grant": ("主动授权", "Give a consent"),
    "consent.grant.lead": (
        "您可以主动授权一家金融机构在限定用途、范围和期限内查询本企业的非公开信息。授权立即生效，机构会收到通知；您可随时在“我的授权”中暂停或撤销。",
        "You can let one financial institution read your non-public information for a stated purpose, scope and period. The consent takes effect at once and the institution is notified; you may pause or revoke it at any time under My consents.",
    ),
    "consent.grant_start": ("主动授权给金融机构", "Give a consent to an institution"),
    "consent.grant_submit": ("确认授权", "Give the consent"),
    "consent.grant_confirm": (
        "提交后授权立即生效，所选机构即可在上述范围内查询。",
        "Once sent the consent is in force and the institution may read within it.",
    ),
    "consent.grant_has_errors": (
        "授权内容有误，请按提示修改后重新提交。",
        "The consent has errors; correct them and send it again.",
    ),
    "consent.choose_institution": ("请选择机构", "Choose an institution"),
    "consent.institution_hint": (
        "只列出已通过接入评估、正常服务的银行、担保、保险和征信机构。",
        "Only admitted banks, guarantors, insurers and credit agencies in good standing are listed.",
    ),
    "consent.purpose_hint": (
        "机构只能把查到的信息用于这里选定的用途，用作其他用途的查询会被拒绝。",
        "The institution may use what it reads only for this purpose; reads for any other purpose are refused.",
    ),
    "consent.purpose_explain.loan_application": (
        "机构审查您的贷款申请时查询，用于判断是否放贷。",
        "Read while the institution reviews your loan application.",
    ),
    "consent.purpose_explain.credit_line_review": (
        "机构核定或调整给您的授信额度时查询。",
        "Read when the institution sets or reviews your credit line.",
    ),
    "consent.purpose_explain.post_loan_monitoring": (
        "贷款发放后，机构定期查看您的经营和信用变化。",
        "Read after a loan is made, to follow changes in your business and credit.",
    ),
    "consent.purpose_explain.guarantee_review": (
        "担保机构决定是否为您的融资提供担保时查询。",
        "Read when a guarantor decides whether to guarantee your financing.",
    ),
    "consent.purpose_explain.insurance_underwriting": (
        "保险机构决定是否承保（如贷款保证保险）时查询。",
        "Read when an insurer decides whether to underwrite (e.g. guarantee insurance).",
    ),
    "consent.grant_scope_hint": (
        "只勾选机构办理业务确实需要的类别。公开信息（如登记、行政许可）任何机构无须授权即可查询，不在此列出。",
        "Tick only what the institution really needs. Public information (registration, licences) needs no consent and is not listed.",
    ),
    "consent.period": ("授权期限", "Period"),
    "consent.valid_until_hint": (
        "到期后授权自动失效；最长一年。",
        "The consent lapses on this day; one year at most.",
    ),
    "consent.max_uses_hint": (
        "机构在期限内最多可以查询几次；每次查询都会记入您的查询记录。",
        "How many times the institution may read within the period; every read appears in your access log.",
    ),
    "consent.data_range_hint": (
        "可选：只允许查询该期间内的记录；留空表示不限。",
        "Optional: only records of this period may be read; leave blank for any.",
    ),
    "consent.grant_note": ("备注（可选）", "Note (optional)"),
    # The 授权书 (authorization letter) and its public check
    "consent.letter": ("授权书", "Authorization letter"),
    "consent.letter_download": ("下载授权书（PDF）", "Download the letter (PDF)"),
    "consent.letter_hint": (
        "可打印的授权书，载明授权条款和回执编号、摘要，扫码即可核验。",
        "A printable letter with the terms, the receipt's number and digest, and a QR code to check it.",
    ),
    "consent.letter.title": ("信用信息查询授权书", "Consent to read credit information"),
    "consent.letter.grantor": ("授权人（企业）", "Grantor (enterprise)"),
    "consent.letter.grantee": ("被授权人（机构）", "Grantee (institution)"),
    "consent.letter.body": (
        "授权人同意被授权人通过{node}，在下列用途、范围和期限内查询授权人的信用信息。被授权人只能将所查信息用于所列用途，不得向第三方提供。授权人可随时暂停或撤销本授权，撤销前已进行的查询不受影响。",
        "The grantor allows the grantee to read the grantor's credit information through {node} for the purpose, scope and period below. The grantee may use it only for that purpose and may not pass it on. The grantor may pause or revoke this consent at any time; reads made before a revocation stand.",
    ),
    "consent.letter.period": ("{start} 至 {end}", "{start} to {end}"),
    "consent.letter.uses": ("最多 {n} 次", "at most {n} times"),
    "consent.letter.receipt_no": ("回执编号", "Receipt number"),
    "consent.letter.digest": ("条款摘要（SM3）", "Terms digest (SM3)"),
    "consent.letter.key": ("平台签名公钥指纹", "Platform signing key fingerprint"),
    "consent.letter.status": ("出具时状态", "State when issued"),
    "consent.letter.issued_at": ("出具时间", "Issued at"),
    "consent.letter.verify": (
        "扫描二维码或打开 {url} 核验本授权书；也可在 {page} 上传签名回执文件核验。",
        "Scan the QR code or open {url} to check this letter; or upload the signed receipt file at {page}.",
    ),
    "consent.letter.seal": ("授权人（盖章）：", "Grantor (seal):"),
    "consent.letter.date": ("日期：", "Date:"),
    # /verify for consent receipts (reports/pages.py verify routes)
    "consent.verify.page_title": ("核验报告与授权回执", "Verify a report or a consent receipt"),
    "consent.verify.page_lead": (
        "上传信用报告或授权回执文件，或扫描授权书上的二维码，核验其真伪。无需登录。",
        "Upload a credit report or a consent receipt, or scan the QR code of a letter, to check it. No login needed.",
    ),
    "consent.verify.upload": (
        "上传信用报告（PDF/HTML）或授权回执（JSON）",
        "Upload a credit report (PDF/HTML) or a consent receipt (JSON)",
    ),
    "consent.verify.title": ("授权回执核验", "Consent receipt check"),
    "consent.verify.valid": (
        "有效：回执真实，内容未被篡改",
        "Valid: the receipt is genuine and unaltered",
    ),
    "consent.verify.valid_register": (
        "有效：与平台登记的授权条款一致",
        "Valid: it matches the consent on the register",
    ),
    "consent.verify.invalid": ("无效：{reason}", "Invalid: {reason}"),
    "consent.verify.reason.format": (
        "文件不是平台出具的授权回执",
        "the file is not a consent receipt of the platform",
    ),
    "consent.verify.reason.key": (
        "回执不是由本平台的签名密钥签发",
        "the receipt was not signed by this platform's key",
    ),
    "consent.verify.reason.signature": (
        "签名与内容不符，回执内容已被修改",
        "the signature does not match: the receipt was altered",
    ),
    "consent.verify.reason.unknown": (
        "平台没有该编号的授权，或链接不完整",
        "the platform holds no consent of that number, or the link is incomplete",
    ),
    "consent.verify.reason.digest": (
        "条款摘要与平台登记的授权不符，授权书内容可能已被修改",
        "the terms digest does not match the registered consent: the letter may have been altered",
    ),
    "consent.verify.in_force": ("当前是否生效", "In force now"),
    "consent.verify.in_force_yes": ("生效中", "In force"),
    "consent.verify.in_force_no": (
        "已不再生效（已暂停、撤销或到期）",
        "No longer in force (paused, revoked or expired)",
    ),
    "consent.verify.public_note": (
        "本页只显示核验所需的信息；授权范围等详细条款见回执文件本身。",
        "This page shows only what the check needs; the full terms are in the receipt file itself.",
    ),
    "consent.verify.status_at_issue": ("出具时状态", "State when issued"),
    "consent.verify.issued_at": ("回执出具时间", "Receipt issued at"),
    "audit_action.consent.letter": ("出具授权书", "Authorization letter issued"),
    # Refusals of the enterprise's own consent form
    "error.consent.institution_not_grantable": (
        "请选择一家已接入且正常服务的金融机构",
        "Choose an admitted institution in good standing",
    ),
    # Refusals of consent (error.consent.*)
    "error.consent.refused.none": (
        "未取得该企业的有效授权，不能查询非公开信息",
        "No valid consent of this enterprise: non-public information cannot be read",
    ),
    "error.consent.refused.requested": (
        "授权尚待企业确认，不能查询",
        "The consent still awaits the enterprise's approval: no read yet",
    ),
    "error.consent.refused.expired": ("授权已过期，不能查询", "The consent has expired: no read"),
    "error.consent.refused.revoked": (
        "企业已撤销授权，不能查询",
        "The enterprise revoked the consent: no read",
    ),
    "error.consent.refused.paused": (
        "企业已暂停授权，不能查询",
        "The enterprise paused the consent: no read",
    ),
    "error.consent.refused.rejected": (
        "企业已拒绝授权，不能查询",
        "The enterprise rejected the consent: no read",
    ),
    "error.consent.refused.purpose": (
        "查询用途超出授权用途",
        "The purpose of the read is outside the consent's purpose",
    ),
    "error.consent.refused.scope": (
        "查询的信息类别超出授权范围",
        "The categories asked for are outside the consent's scope",
    ),
    "error.consent.refused.data_range": (
        "查询的数据期间超出授权范围",
        "The data period asked for is outside the consent's range",
    ),
    "error.consent.refused.uses_exhausted": (
        "授权的查询次数已用完",
        "The consent's reads are used up",
    ),
    "error.consent.refused.other_institution": (
        "该授权不是授予本机构的",
        "This consent was not given to your institution",
    ),
    "error.consent.move": (
        "授权当前状态为“{status}”，不能{move}",
        "The consent is “{status}”: “{move}” is not possible",
    ),
    "error.consent.no_receipt_yet": (
        "授权尚未确认，暂无回执",
        "The consent is not approved yet, so it has no receipt",
    ),
    "error.consent.institutions_only": (
        "只有接入机构可以申请授权或查询企业信息",
        "Only a member institution may ask for consents or read enterprise information",
    ),
    "error.consent.no_consent": ("授权不存在", "No such consent"),
    "error.consent.no_subject": ("企业不存在", "No such enterprise"),
    "error.consent.subject_required": ("须指定企业", "An enterprise must be given"),
    "error.consent.own_records_only": (
        "只有企业本身可以查看其授权和查询记录",
        "Only the enterprise itself may see its consents and access log",
    ),
    "error.consent.grant_own_only": (
        "只有企业本身可以主动授权",
        "Only the enterprise itself may grant a consent",
    ),
    "error.consent.platform_move": ("该操作只能由平台执行", "Only the platform may do this"),
    "error.consent.decide_own_only": (
        "只有授权企业本身可以决定授权",
        "Only the consenting enterprise may decide on the consent",
    ),
    "error.consent.request_invalid": ("授权申请有误", "The consent request is invalid"),
    "error.consent.grant_invalid": ("授权有误", "The consent is invalid"),
    "error.consent.unknown_purpose": ("未知的授权用途", "Unknown purpose"),
    "error.consent.scope_empty": (
        "至少选择一个信息类别",
        "Choose at least one category of information",
    ),
    "error.consent.scope_not_in_list": (
        "共享清单中没有该信息类别",
        "The shared-data list has no such category",
    ),
    "error.consent.scope_invalid": ("信息类别有误", "Invalid categories"),
    "error.consent.validity_order": (
        "授权截止时间须晚于开始时间和当前时间",
        "The consent must end after its start and after now",
    ),
    "error.consent.validity_too_long": (
        "授权有效期不得超过一年",
        "A consent may last one year at most",
    ),
    "error.consent.validity_within_year": (
        "授权有效期须在一年以内",
        "The consent must end within a year",
    ),
    "error.consent.uses_range": (
        "查询次数须在 1 至 {max} 之间",
        "The number of reads must be from 1 to {max}",
    ),
    "error.consent.uses_out_of_range": ("查询次数超出范围", "The number of reads is out of range"),
    "error.consent.data_range": (
        "数据起始日期不得晚于截止日期",
        "The data period cannot start after it ends",
    ),
    "error.consent.note_too_long": ("说明不得超过500字", "The note may not exceed 500 characters"),
    # The consent forms' own checks (consent/pages.py)
    "error.consent.form_date": ("日期格式应为 YYYY-MM-DD", "Dates are written YYYY-MM-DD"),
    "error.consent.form_number": ("请输入正整数", "Enter a positive whole number"),
    "error.consent.until_required": ("请填写授权截止日期", "Enter the date the consent ends"),
    "error.consent.uscc_required": (
        "请填写统一社会信用代码",
        "Enter the unified social credit code",
    ),
}
