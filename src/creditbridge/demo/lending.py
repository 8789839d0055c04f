"""Institutions (接入机构), their products (金融产品) and the loan history (model §5).

Names follow how Anhui's lenders are actually styled — 中国工商银行股份有限公司安徽省分行,
招商银行股份有限公司合肥分行, 徽商银行, 农村商业银行, 村镇银行, 安徽省信用融资担保集团 — but codes,
products and figures are invented. Money is in fen, rates in basis points.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any, Final

import numpy as np
from numpy.typing import NDArray

from creditbridge.demo.model import logistic, stream
from creditbridge.demo.population import Population
from creditbridge.demo.timeline import Window, add_months_days, iso, to_days, uniform_days
from creditbridge.marketplace.domain import is_inclusive_micro
from creditbridge.reference import uscc

WAN_FEN: Final = 1_000_000  # 1 万元 in fen


@dataclass(frozen=True)
class InstitutionSpec:
    code: str
    name: str
    short: str
    kind: str  # bank | guarantor | insurer | credit_agency
    tier: str  # big | joint | city | rural | village | guarantor | insurer | agency
    division_code: str
    lending_weight: float
    products: tuple[str, ...]


# (code, name, short name, kind, tier, division, lending weight, product templates)
_INSTITUTIONS: Final = (
    ("icbc-ah", "中国工商银行股份有限公司安徽省分行", "工商银行", "bank", "big", "340100", 5.0,
     ("tax_finance", "inclusive_credit", "mortgage_loan", "gov_procurement", "ip_pledge_loan")),
    ("abc-ah", "中国农业银行股份有限公司安徽省分行", "农业银行", "bank", "big", "340100", 5.0,
     ("tax_finance", "inclusive_credit", "mortgage_loan", "guarantee_loan", "green_loan")),
    ("boc-ah", "中国银行股份有限公司安徽省分行", "中国银行", "bank", "big", "340100", 4.0,
     ("tax_finance", "tech_loan", "mortgage_loan", "e_guarantee")),
    ("ccb-ah", "中国建设银行股份有限公司安徽省分行", "建设银行", "bank", "big", "340100", 5.0,
     ("tax_finance", "inclusive_credit", "engineering_credit", "mortgage_loan", "tech_loan")),
    ("bocom-ah", "交通银行股份有限公司安徽省分行", "交通银行", "bank", "big", "340100", 2.5,
     ("tax_finance", "mortgage_loan", "guarantee_loan")),
    ("psbc-ah", "中国邮政储蓄银行股份有限公司安徽省分行", "邮储银行", "bank", "big", "340100", 3.5,
     ("tax_finance", "inclusive_credit", "power_credit", "guarantee_loan", "mortgage_loan")),
    ("cmb-hf", "招商银行股份有限公司合肥分行", "招商银行", "bank", "joint", "340100", 1.5,
     ("tax_finance", "tech_loan", "mortgage_loan")),
    ("citic-hf", "中信银行股份有限公司合肥分行", "中信银行", "bank", "joint", "340100", 1.2,
     ("tax_finance", "gov_procurement", "mortgage_loan")),
    ("cib-hf", "兴业银行股份有限公司合肥分行", "兴业银行", "bank", "joint", "340100", 1.3,
     ("green_loan", "tax_finance", "mortgage_loan")),
    ("spdb-hf", "上海浦东发展银行股份有限公司合肥分行", "浦发银行", "bank", "joint", "340100", 1.0,
     ("tech_loan", "mortgage_loan", "e_guarantee")),
    ("cmbc-hf", "中国民生银行股份有限公司合肥分行", "民生银行", "bank", "joint", "340100", 1.0,
     ("inclusive_credit", "mortgage_loan", "guarantee_loan")),
    ("ceb-hf", "中国光大银行股份有限公司合肥分行", "光大银行", "bank", "joint", "340100", 0.9,
     ("tax_finance", "mortgage_loan")),
    ("hxb-hf", "华夏银行股份有限公司合肥分行", "华夏银行", "bank", "joint", "340100", 0.7,
     ("inclusive_credit", "mortgage_loan")),
    ("pab-hf", "平安银行股份有限公司合肥分行", "平安银行", "bank", "joint", "340100", 0.8,
     ("tax_finance", "e_guarantee", "mortgage_loan")),
    ("cgb-hf", "广发银行股份有限公司合肥分行", "广发银行", "bank", "joint", "340100", 0.6,
     ("inclusive_credit", "mortgage_loan")),
    ("hsb", "徽商银行股份有限公司", "徽商银行", "bank", "city", "340100", 5.0,
     ("tax_finance", "tech_loan", "gov_credit", "power_credit", "engineering_credit",
      "guarantee_loan", "mortgage_loan", "ip_pledge_loan")),
    ("hfkj-rcb", "合肥科技农村商业银行股份有限公司", "合肥科技农商银行", "bank", "rural", "340100", 2.0,
     ("tech_loan", "inclusive_credit", "guarantee_loan", "mortgage_loan")),
    ("wuhu-rcb", "芜湖扬子农村商业银行股份有限公司", "芜湖扬子农商银行", "bank", "rural", "340200", 1.5,
     ("inclusive_credit", "guarantee_loan", "mortgage_loan")),
    ("mas-rcb", "安徽马鞍山农村商业银行股份有限公司", "马鞍山农商银行", "bank", "rural", "340500", 1.2,
     ("inclusive_credit", "guarantee_loan", "mortgage_loan")),
    ("bengbu-rcb", "蚌埠农村商业银行股份有限公司", "蚌埠农商银行", "bank", "rural", "340300", 1.0,
     ("inclusive_credit", "guarantee_loan", "mortgage_loan")),
    ("fuyang-rcb", "阜阳颍淮农村商业银行股份有限公司", "颍淮农商银行", "bank", "rural", "341200", 1.0,
     ("inclusive_credit", "guarantee_loan", "mortgage_loan")),
    ("anqing-rcb", "安庆农村商业银行股份有限公司", "安庆农商银行", "bank", "rural", "340800", 1.0,
     ("inclusive_credit", "guarantee_loan", "mortgage_loan")),
    ("chuzhou-rcb", "滁州皖东农村商业银行股份有限公司", "皖东农商银行", "bank", "rural", "341100", 1.0,
     ("inclusive_credit", "guarantee_loan", "mortgage_loan")),
    ("luan-rcb", "六安农村商业银行股份有限公司", "六安农商银行", "bank", "rural", "341500", 0.8,
     ("inclusive_credit", "guarantee_loan")),
    ("feixi-vb", "肥西石银村镇银行股份有限公司", "肥西石银村镇银行", "bank", "village", "340123", 0.3,
     ("inclusive_credit", "guarantee_loan")),
    ("changfeng-vb", "长丰科源村镇银行股份有限公司", "长丰科源村镇银行", "bank", "village", "340121", 0.3,
     ("inclusive_credit", "mortgage_loan")),
    ("jinzhai-vb", "金寨徽银村镇银行有限责任公司", "金寨徽银村镇银行", "bank", "village", "341524", 0.2,
     ("inclusive_credit",)),
    ("huizhou-vb", "黄山徽州浦发村镇银行股份有限公司", "徽州浦发村镇银行", "bank", "village", "341004", 0.2,
     ("inclusive_credit", "mortgage_loan")),
    ("ahcg", "安徽省信用融资担保集团有限公司", "安徽信用担保", "guarantor", "guarantor", "340100", 0.0,
     ("policy_guarantee", "tech_guarantee")),
    ("hf-xt-guar", "合肥市兴泰融资担保集团有限公司", "兴泰担保", "guarantor", "guarantor", "340100", 0.0,
     ("policy_guarantee",)),
    ("wuhu-guar", "芜湖市融资担保有限公司", "芜湖融资担保", "guarantor", "guarantor", "340200", 0.0,
     ("policy_guarantee",)),
    ("fuyang-guar", "阜阳市中小企业融资担保有限公司", "阜阳中小担保", "guarantor", "guarantor", "341200", 0.0,
     ("policy_guarantee",)),
    ("bengbu-guar", "蚌埠市融资担保集团有限公司", "蚌埠融资担保", "guarantor", "guarantor", "340300", 0.0,
     ("policy_guarantee",)),
    ("picc-ah", "中国人民财产保险股份有限公司安徽省分公司", "人保财险", "insurer", "insurer", "340100", 0.0,
     ("loan_insurance",)),
    ("cpic-ah", "中国太平洋财产保险股份有限公司安徽分公司", "太保财险", "insurer", "insurer", "340100", 0.0,
     ("loan_insurance",)),
    ("pingan-ah", "中国平安财产保险股份有限公司安徽分公司", "平安产险", "insurer", "insurer", "340100", 0.0,
     ("loan_insurance",)),
    ("ahcredit", "安徽省征信股份有限公司", "安徽征信", "credit_agency", "agency", "340100", 0.0, ()),
)  # fmt: skip


@dataclass(frozen=True)
class ProductTemplate:
    product_type: str
    name: str
    security_type: str
    amount_wan: tuple[int, int]
    rate_bp: tuple[int, int]
    term_months: tuple[int, int]


PRODUCT_TEMPLATES: Final[dict[str, ProductTemplate]] = {
    t.product_type: t
    for t in (
        ProductTemplate("tax_finance", "税融通", "credit", (10, 300), (370, 520), (6, 12)),
        ProductTemplate("inclusive_credit", "普惠信用贷", "credit", (5, 200), (380, 580), (6, 12)),
        ProductTemplate("tech_loan", "科技贷", "credit", (50, 1000), (340, 500), (12, 36)),
        ProductTemplate("gov_credit", "政信贷", "credit", (10, 300), (360, 480), (12, 12)),
        ProductTemplate("power_credit", "电力信易贷", "credit", (10, 200), (380, 550), (6, 12)),
        ProductTemplate("engineering_credit", "工程信易贷", "credit", (50, 500), (380, 520), (6, 12)),
        ProductTemplate("gov_procurement", "政采贷", "credit", (20, 500), (360, 500), (3, 12)),
        ProductTemplate("green_loan", "绿色贷", "credit", (50, 2000), (320, 480), (12, 36)),
        ProductTemplate("e_guarantee", "电子保函", "guarantee", (5, 500), (300, 400), (3, 24)),
        ProductTemplate("guarantee_loan", "担保贷", "guarantee", (20, 1000), (360, 550), (12, 24)),
        ProductTemplate("mortgage_loan", "抵押贷", "mortgage", (50, 3000), (310, 450), (12, 36)),
        ProductTemplate("ip_pledge_loan", "知识产权质押贷", "pledge", (50, 1000), (350, 500), (12, 36)),
        ProductTemplate("policy_guarantee", "“4321”政银担", "guarantee", (10, 2000), (350, 550), (12, 36)),
        ProductTemplate("tech_guarantee", "科技担", "guarantee", (50, 1000), (350, 500), (12, 36)),
        ProductTemplate("loan_insurance", "小微企业贷款保证保险", "guarantee", (10, 300), (400, 600), (6, 12)),
    )
}  # fmt: skip


@dataclass(frozen=True)
class ProductSpec:
    code: str
    institution: int  # index into the institution list
    name: str
    template: ProductTemplate


@dataclass(frozen=True)
class Lenders:
    institutions: tuple[InstitutionSpec, ...]
    uscc: tuple[str, ...]
    products: tuple[ProductSpec, ...]

    def bank_indexes(self) -> list[int]:
        return [i for i, inst in enumerate(self.institutions) if inst.kind == "bank"]


def build_lenders(seed: int) -> Lenders:
    institutions = tuple(InstitutionSpec(*row) for row in _INSTITUTIONS)
    codes = []
    for index, inst in enumerate(institutions):
        codes.append(
            str(
                uscc.generate(
                    stream(seed, "institution-uscc", index), 1, division_codes=[inst.division_code]
                )[0]
            )
        )
    products = []
    for index, inst in enumerate(institutions):
        for product_type in inst.products:
            template = PRODUCT_TEMPLATES[product_type]
            products.append(
                ProductSpec(
                    code=f"{inst.code}-{product_type}",
                    institution=index,
                    name=f"{inst.short}{template.name}",
                    template=template,
                )
            )
    return Lenders(institutions=institutions, uscc=tuple(codes), products=tuple(products))


@dataclass(frozen=True)
class LoanDraft:
    """Loans of one chunk of subjects, one entry per loan, ordered by subject then date."""

    rows: NDArray[np.int64]  # subject position within the chunk
    institution: NDArray[np.int64]
    product: NDArray[np.int64]  # index into Lenders.products, -1 when reported from outside
    amount_fen: NDArray[np.int64]
    credit_line_fen: NDArray[np.int64]
    rate_bp: NDArray[np.int64]
    term_months: NDArray[np.int64]
    security: NDArray[np.str_]
    disbursed: NDArray[np.datetime64]
    maturity: NDArray[np.datetime64]
    status: NDArray[np.str_]
    via_platform: NDArray[np.bool_]
    size: NDArray[np.str_]  # the borrower's size class, for the inclusive-micro flag

    def __len__(self) -> int:
        return int(self.rows.shape[0])


# Loan propensity intercept by entity type (see model §5).
_BORROW_INTERCEPT: Final = {"91": -1.25, "92": -1.9, "93": -1.6}
_AMOUNT_MEDIAN_WAN: Final = {"micro": 40.0, "small": 150.0, "medium": 600.0, "large": 2500.0}


def _reach(tier: str, area: str, city: str) -> float:
    """How much of a bank's lending weight counts in ``city``: provincial networks everywhere,
    a rural commercial bank twice at home and nowhere else; village banks are added by county."""
    if tier in {"big", "joint", "city"}:
        return 1.0
    if tier == "rural":
        return 2.0 if area == city else 0.0
    return 0.0


def generate_loans(
    pop: Population, lenders: Lenders, window: Window, rng: np.random.Generator
) -> LoanDraft:
    n = len(pop)
    intercept = np.array([_BORROW_INTERCEPT[k] for k in pop.entity_type.tolist()])
    p_borrow = logistic(intercept + 0.35 * np.log1p(pop.employees) - 0.45 * pop.risk)
    borrower = rng.random(n) < p_borrow
    counts = np.where(borrower, 1 + rng.poisson(0.6, n), 0)
    rows = np.repeat(np.arange(n, dtype=np.int64), counts)
    m = rows.size
    order_in_subject = np.arange(m) - np.repeat(np.cumsum(counts) - counts, counts)
    latest = order_in_subject == np.repeat(counts - 1, counts)

    end = to_days(window.end_date)
    first_ok = np.maximum(pop.registration_date[rows] + np.timedelta64(60, "D"), end - 1095)
    # The latest loan within the last two years; earlier ones stepping back 6–14 months each.
    latest_day = uniform_days(rng, np.maximum(first_ok, end - 720), end - 20, m)
    steps = rng.integers(180, 430, m)
    disbursed = latest_day - ((np.repeat(counts, counts) - 1 - order_in_subject) * steps).astype(
        "timedelta64[D]"
    )
    keep = disbursed >= first_ok
    keep |= latest  # a subject keeps at least its latest loan

    sizes = pop.size_class[rows]
    median = np.array([_AMOUNT_MEDIAN_WAN[s] for s in sizes.tolist()])
    risk = pop.risk[rows]

    p_credit = logistic(-1.15 - 0.5 * risk + np.where(pop.section[rows] == "I", 0.4, 0.0))
    draw = rng.random(m)
    rest = rng.random(m)
    security = np.where(
        draw < p_credit,
        "credit",
        np.where(rest < 0.45, "guarantee", np.where(rest < 0.9, "mortgage", "pledge")),
    )

    # Lender: big and city banks anywhere; rural and village banks only in their own area.
    banks = lenders.bank_indexes()
    weights = np.array([lenders.institutions[b].lending_weight for b in banks])
    areas = [lenders.institutions[b].division_code for b in banks]
    tiers = [lenders.institutions[b].tier for b in banks]
    institution = np.empty(m, dtype=np.int64)
    city = pop.city[rows]
    county = pop.county[rows]
    uniform = rng.random(m)
    for place in np.unique(city).tolist():
        local = weights * np.array([_reach(t, a, place) for t, a in zip(tiers, areas, strict=True)])
        where = np.flatnonzero(city == place)
        cumulative = np.cumsum(local / local.sum())
        institution[where] = np.asarray(banks)[
            np.minimum(np.searchsorted(cumulative, uniform[where]), len(banks) - 1)
        ]
    village = [
        (b, lenders.institutions[b].division_code)
        for b, t in zip(banks, tiers, strict=True)
        if t == "village"
    ]
    for bank, code in village:
        local_rows = np.flatnonzero((county == code) & (rng.random(m) < 0.25))
        institution[local_rows] = bank

    # Product: one of the lender's products with the loan's security type; a lender without one
    # made a bespoke loan (no product), which keeps the security mix as drawn.
    product = np.full(m, -1, dtype=np.int64)
    by_key: dict[tuple[int, str], list[int]] = {}
    for index, spec in enumerate(lenders.products):
        by_key.setdefault((spec.institution, spec.template.security_type), []).append(index)
    pick = rng.random(m)
    for i, (inst, sec) in enumerate(zip(institution.tolist(), security.tolist(), strict=True)):
        options = by_key.get((inst, sec))
        if options:
            product[i] = options[int(pick[i] * len(options))]

    amount_wan = np.maximum(5.0, np.round(median * np.exp(0.7 * rng.standard_normal(m))))
    low = np.array([lenders.products[p].template.amount_wan[0] if p >= 0 else 5 for p in product])
    high = np.array(
        [lenders.products[p].template.amount_wan[1] if p >= 0 else 5000 for p in product]
    )
    amount_wan = np.clip(amount_wan, low, high)
    line_wan = np.round(amount_wan * rng.uniform(1.0, 1.5, m))
    rate_low = np.array(
        [lenders.products[p].template.rate_bp[0] if p >= 0 else 330 for p in product]
    )
    rate_high = np.array(
        [lenders.products[p].template.rate_bp[1] if p >= 0 else 600 for p in product]
    )
    years_ago = (end - disbursed).astype(np.int64) / 365.25
    # Rates fell over the last years (the Anhui plan: inclusive credit-loan rates "keep falling").
    rate = (rate_low + rate_high) / 2 + 25 * risk + 15 * years_ago + 20 * rng.standard_normal(m)
    rate_bp = np.clip(np.round(np.clip(rate, rate_low, rate_high)), 300, 650).astype(np.int64)

    term_low = np.array(
        [lenders.products[p].template.term_months[0] if p >= 0 else 6 for p in product]
    )
    term_high = np.array(
        [lenders.products[p].template.term_months[1] if p >= 0 else 36 for p in product]
    )
    choices = np.array([3, 6, 12, 24, 36])
    wanted = choices[rng.choice(5, size=m, p=[0.05, 0.15, 0.55, 0.15, 0.10])]
    term = np.clip(wanted, term_low, term_high).astype(np.int64)
    maturity = add_months_days(disbursed, term)

    defaulted = pop.defaulted[rows]
    status = np.where(maturity <= end, "repaid", "current").astype("<U9")
    bad = latest & defaulted
    status[bad] = np.where(rng.random(int(bad.sum())) < 0.7, "defaulted", "overdue")
    via_platform = rng.random(m) < 0.8

    keep_idx = np.flatnonzero(keep)
    return LoanDraft(
        rows=rows[keep_idx],
        institution=institution[keep_idx],
        product=np.where(via_platform, product, -1)[keep_idx],
        amount_fen=(amount_wan * WAN_FEN).astype(np.int64)[keep_idx],
        credit_line_fen=(line_wan * WAN_FEN).astype(np.int64)[keep_idx],
        rate_bp=rate_bp[keep_idx],
        term_months=term[keep_idx],
        security=security[keep_idx],
        disbursed=disbursed[keep_idx],
        maturity=maturity[keep_idx],
        status=status[keep_idx],
        via_platform=via_platform[keep_idx],
        size=sizes[keep_idx],
    )


def loan_rows(
    draft: LoanDraft,
    subject_ids: NDArray[np.int64],
    institution_ids: list[int],
    product_ids: list[int],
    timestamp: Any,
    boolean: Any,
) -> list[tuple[Any, ...]]:
    """Rows for ``marketplace_loan`` in :data:`LOAN_COLUMNS` order."""
    disbursed = iso(draft.disbursed)
    maturity = iso(draft.maturity)
    reported = [
        timestamp(datetime(d.year, d.month, d.day, 2, 30, tzinfo=UTC) + timedelta(days=1 + i % 3))
        for i, d in enumerate(date.fromisoformat(x) for x in disbursed)
    ]
    first_any, first_here = first_loan_flags(draft.rows, draft.institution, draft.disbursed)
    inclusive = [
        is_inclusive_micro(int(line), str(size))
        for line, size in zip(draft.credit_line_fen.tolist(), draft.size.tolist(), strict=True)
    ]
    return [
        (
            int(subject_ids[r]),
            institution_ids[i],
            product_ids[p] if p >= 0 else None,
            a, line, rate, term, sec, disb, mat, status, boolean(via), created,
            boolean(f_any), boolean(f_here), boolean(inc),
        )
        for r, i, p, a, line, rate, term, sec, disb, mat, status, via, created, f_any, f_here, inc
        in zip(
            draft.rows.tolist(), draft.institution.tolist(), draft.product.tolist(),
            draft.amount_fen.tolist(), draft.credit_line_fen.tolist(), draft.rate_bp.tolist(),
            draft.term_months.tolist(), draft.security.tolist(), disbursed, maturity,
            draft.status.tolist(), draft.via_platform.tolist(), reported, first_any, first_here,
            inclusive, strict=True,
        )
    ]  # fmt: skip


def first_loan_flags(
    rows: NDArray[np.int64], institution: NDArray[np.int64], disbursed: NDArray[np.datetime64]
) -> tuple[list[bool], list[bool]]:
    """首贷户 flags from each subject's loans in date order: its first loan of all, and its first
    from each lender (the demo's history is all the banking system there is)."""
    first_any = [False] * len(rows)
    first_here = [False] * len(rows)
    current = -1
    seen: set[int] = set()
    for index in np.lexsort((disbursed, rows)).tolist():
        row, lender = int(rows[index]), int(institution[index])
        if row != current:
            current, seen = row, set()
        first_any[index] = not seen
        first_here[index] = lender not in seen
        seen.add(lender)
    return first_any, first_here


LOAN_COLUMNS: Final = (
    "subject_id", "institution_id", "product_id", "amount_fen", "credit_line_fen", "rate_bp",
    "term_months", "security_type", "disbursement_date", "maturity_date", "status",
    "via_platform", "created_at", "first_loan_any_bank", "first_loan_this_bank", "inclusive_micro",
)  # fmt: skip


# --- marketplace eligibility and activity ----------------------------------------------------

_PRODUCT_RULES: Final[dict[str, dict[str, Any]]] = {
    "inclusive_credit": {"size_classes": ["micro", "small"]},
    "tax_finance": {"min_years": 2, "consent_categories": ["tax"]},
    "tech_loan": {"required_tags": ["high_tech"], "min_grade": "BBB"},
    "tech_guarantee": {"required_tags": ["high_tech"]},
    "power_credit": {"consent_categories": ["tax", "utilities"]},
    "engineering_credit": {"industry_sections": ["E"]},
    "green_loan": {"industry_sections": ["C", "D", "N"]},
    "mortgage_loan": {"consent_categories": ["real_estate", "tax"]},
    "ip_pledge_loan": {"consent_categories": ["intellectual_property", "tax"]},
}
_DEFAULT_SCOPE: Final = ["housing_fund", "social_insurance", "tax", "utilities"]


def product_rules(lenders: Lenders, spec: ProductSpec) -> dict[str, Any]:
    """Eligibility columns of a demo product: rural and village banks lend only at home, the
    policy products carry the rules their names promise (科技贷 wants 高新技术企业, …)."""
    inst = lenders.institutions[spec.institution]
    rules = _PRODUCT_RULES.get(spec.template.product_type, {})
    return {
        "regions": [inst.division_code] if inst.tier in {"rural", "village"} else [],
        "industry_sections": rules.get("industry_sections", []),
        "size_classes": rules.get("size_classes", []),
        "min_years": rules.get("min_years", 0),
        "min_grade": rules.get("min_grade"),
        "required_tags": rules.get("required_tags", []),
        "consent_categories": rules.get("consent_categories", _DEFAULT_SCOPE),
        "description": "",
    }


_DEMAND_STATES: Final = ("new", "pool", "dispatched", "claimed", "escalated")
_DEMAND_WEIGHTS: Final = (0.3, 0.25, 0.2, 0.15, 0.1)
_PURPOSES: Final = ("采购原材料", "支付工资", "设备更新", "订单备货", "研发投入", "扩大产能")
_WHITELIST_STATES: Final = ("proposed", "county_passed", "city_passed", "listed")


def seed_marketplace(
    connection: Any,
    lenders: Lenders,
    subject_ids: NDArray[np.int64],
    sections: NDArray[np.str_],
    institution_ids: list[int],
    product_ids: list[int],
    *,
    seed: int,
    as_of: date,
) -> int:
    """Demands in every state, their applications, and whitelist candidates at every level, so
    the marketplace pages show a working province. The first subject (the demo enterprise
    login) is left without demands: its journey starts from nothing."""
    from sqlalchemy import insert

    from creditbridge.marketplace.models import Application, Demand, WhitelistEntry

    rng = np.random.default_rng(stream(seed, "market-activity"))
    n = len(subject_ids)
    count = min(80, max(0, (n - 1) // 6))
    if count == 0:
        return 0
    chosen = np.sort(rng.choice(np.arange(1, n), size=count, replace=False))
    states = rng.choice(len(_DEMAND_STATES), size=count, p=list(_DEMAND_WEIGHTS))
    banks = set(lenders.bank_indexes())
    lendable = [i for i, p in enumerate(lenders.products) if p.institution in banks]
    end = datetime(as_of.year, as_of.month, as_of.day, 2, 0, tzinfo=UTC)
    respond_by = as_of + timedelta(days=2)
    for k, position in enumerate(chosen.tolist()):
        pidx = lendable[int(rng.integers(len(lendable)))]
        spec = lenders.products[pidx]
        low, high = spec.template.amount_wan
        amount = int(rng.integers(low, high + 1)) * WAN_FEN
        term = int(rng.integers(spec.template.term_months[0], spec.template.term_months[1] + 1))
        created = end - timedelta(days=int(rng.integers(1, 60)), hours=int(rng.integers(0, 8)))
        state = _DEMAND_STATES[int(states[k])]
        institution_id = institution_ids[spec.institution]
        has_app = state in ("dispatched", "claimed")
        row = {
            "subject_id": int(subject_ids[position]),
            "amount_fen": amount,
            "term_months": term,
            "purpose": _PURPOSES[int(rng.integers(len(_PURPOSES)))],
            "security_types": ["credit", spec.template.security_type]
            if spec.template.security_type != "credit"
            else ["credit"],
            "urgency": "urgent" if rng.random() < 0.2 else "normal",
            "max_rate_bp": None,
            "status": state,
            "assigned_institution_id": institution_id if has_app else None,
            "claimed_institution_id": institution_id if state == "claimed" else None,
            "tried_institutions": [institution_id] if has_app else [],
            "respond_by": respond_by if state in ("dispatched", "pool") else None,
            "reassignments": 0,
            "created_at": created,
            "status_changed_at": created + timedelta(hours=2),
            "claimed_at": created + timedelta(hours=20) if state == "claimed" else None,
        }
        demand_id = connection.execute(insert(Demand).values(**row)).inserted_primary_key[0]
        if has_app:
            app_status = (
                "submitted"
                if state == "dispatched"
                else ("accepted", "under_review", "approved")[int(rng.integers(3))]
            )
            connection.execute(
                insert(Application).values(
                    demand_id=demand_id,
                    subject_id=row["subject_id"],
                    product_id=product_ids[pidx],
                    institution_id=institution_id,
                    consent_id=None,
                    amount_fen=amount,
                    term_months=term,
                    channel="dispatch",
                    status=app_status,
                    respond_by=respond_by if app_status == "submitted" else None,
                    approved_amount_fen=amount if app_status == "approved" else None,
                    approved_rate_bp=spec.template.rate_bp[0] if app_status == "approved" else None,
                    approved_term_months=term if app_status == "approved" else None,
                    created_at=created + timedelta(hours=2),
                    accepted_at=row["claimed_at"],
                    status_changed_at=created + timedelta(hours=26),
                )
            )
    listed = [i for i in range(1, n) if sections[i] in ("C", "I", "M")][:12]
    for j, position in enumerate(listed):
        at = end - timedelta(days=30 - j)
        connection.execute(
            insert(WhitelistEntry).values(
                subject_id=int(subject_ids[position]),
                status=_WHITELIST_STATES[j % len(_WHITELIST_STATES)],
                grade=None,
                reasons=["policy_industry"],
                note=None,
                proposed_at=at,
                status_changed_at=at,
            )
        )
    return count
