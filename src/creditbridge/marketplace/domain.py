"""Pure rules of the marketplace: product types, grades, who a product fits and why (one product
at a time, and vectorised over thousands), the application, demand and whitelist state machines,
and the statistical flags of a loan. No I/O."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from enum import IntEnum, StrEnum
from typing import Final, TypeVar

import numpy as np
from numpy.typing import NDArray

from creditbridge.core.errors import InvalidTransition
from creditbridge.presentation.errors import keyed

WAN_FEN: Final = 1_000_000  # 1 万元 in fen
INCLUSIVE_LINE_LIMIT_FEN: Final = 1000 * WAN_FEN
"""普惠型小微企业贷款: 单户授信总额 1000万元(含) 以下 (银保监办发〔2019〕48号)."""
SMALL_AND_MICRO: Final = frozenset({"small", "micro"})
MAX_REASSIGNMENTS: Final = 2
"""After this many lapsed dispatches a demand goes to the open pool (自由抢单)."""

SECURITY_TYPES: Final = ("credit", "guarantee", "mortgage", "pledge")

PRODUCT_TYPES: Final = (
    "credit_loan",
    "inclusive_credit",
    "guarantee_loan",
    "mortgage_loan",
    "pledge_loan",
    "ip_pledge_loan",
    "tax_finance",
    "tech_loan",
    "gov_credit",
    "power_credit",
    "engineering_credit",
    "gov_procurement",
    "e_guarantee",
    "green_loan",
    "policy_guarantee",
    "tech_guarantee",
    "loan_insurance",
)
"""Product types an institution may publish; their names are ``market_product_type.*`` messages."""

TAGS: Final = ("high_tech", "specialized")
"""Qualification tags a product may require (names: ``market_tag.*`` messages); the order fixes
each tag's bit in the matching arrays."""
CERTIFICATION_TAGS: Final[dict[str, str]] = {
    "高新技术企业": "high_tech",
    "专精特新中小企业": "specialized",
    "专精特新“小巨人”企业": "specialized",
}
TAX_GRADES_REQUIRED: Final[dict[str, frozenset[str]]] = {"tax_finance": frozenset("ABM")}
"""Product types that lend on the tax record (税融通, 银税互动) and the 纳税信用级别 they need: A, B
or M (a new taxpayer); C and D are refused, as the tax authorities' 银税互动 rules say."""
SIZE_CLASSES: Final = ("large", "medium", "small", "micro")
INDUSTRY_SECTIONS: Final = tuple("ABCDEFGHIJKLMNOPQRST")

GRADES: Final = ("AAA", "AA", "A", "BBB", "BB", "B", "CCC", "CC", "C")
GRADE_RANK: Final[dict[str, int]] = {g: len(GRADES) - i for i, g in enumerate(GRADES)}
"""AAA → 9 … C → 1; 0 means no grade."""


def grade_rank(grade: str | None) -> int:
    return GRADE_RANK.get(grade or "", 0)


# --- matching --------------------------------------------------------------------------------


class Rule(IntEnum):
    """One eligibility test; the value is the bit of the reason mask."""

    AMOUNT_LOW = 0
    AMOUNT_HIGH = 1
    TERM = 2
    RATE = 3
    SECURITY = 4
    REGION = 5
    INDUSTRY = 6
    SIZE = 7
    YEARS = 8
    GRADE = 9
    NO_GRADE = 10
    TAGS = 11
    TAX_GRADE = 12

    @property
    def code(self) -> str:
        return self.name.lower()


@dataclass(frozen=True)
class ProductRules:
    """What a product allows and whom it serves (ranges plus rules)."""

    id: int
    security_type: str
    min_amount_fen: int
    max_amount_fen: int
    min_rate_bp: int
    max_rate_bp: int
    min_term_months: int
    max_term_months: int
    regions: tuple[str, ...] = ()
    industry_sections: tuple[str, ...] = ()
    size_classes: tuple[str, ...] = ()
    min_years: int = 0
    min_grade: str | None = None
    required_tags: tuple[str, ...] = ()
    tax_grades: frozenset[str] = frozenset()
    """纳税信用级别 the product accepts; empty: no requirement (see TAX_GRADES_REQUIRED)."""


def tax_grades_for(product_type: str) -> frozenset[str]:
    return TAX_GRADES_REQUIRED.get(product_type, frozenset())


@dataclass(frozen=True)
class Applicant:
    """A demand and the enterprise behind it, as matching sees them."""

    amount_fen: int
    term_months: int
    division_code: str
    industry_section: str | None
    size_class: str | None
    years_in_business: int
    grade: str | None
    tags: frozenset[str] = frozenset()
    security_types: frozenset[str] = frozenset(SECURITY_TYPES)
    max_rate_bp: int | None = None
    tax_grade: str | None = None
    """The latest 纳税信用级别 (A, B, M, C, D), None when never rated."""


def region_prefix(code: str) -> str:
    """The division code's significant prefix: 340000 → 34, 340100 → 3401, 340102 → 340102."""
    if code.endswith("0000"):
        return code[:2]
    if code.endswith("00"):
        return code[:4]
    return code


def in_region(division_code: str, regions: Iterable[str]) -> bool:
    return any(division_code.startswith(region_prefix(r)) for r in regions)


def years_between(start: date | None, today: date) -> int:
    if start is None:
        return 0
    years = today.year - start.year
    if (today.month, today.day) < (start.month, start.day):
        years -= 1
    return max(years, 0)


def check(product: ProductRules, who: Applicant) -> list[Rule]:
    """The rules ``who`` fails for ``product``; empty when the product fits."""
    failed: list[Rule] = []
    if who.amount_fen < product.min_amount_fen:
        failed.append(Rule.AMOUNT_LOW)
    if who.amount_fen > product.max_amount_fen:
        failed.append(Rule.AMOUNT_HIGH)
    if not product.min_term_months <= who.term_months <= product.max_term_months:
        failed.append(Rule.TERM)
    if who.max_rate_bp is not None and product.min_rate_bp > who.max_rate_bp:
        failed.append(Rule.RATE)
    if product.security_type not in who.security_types:
        failed.append(Rule.SECURITY)
    if product.regions and not in_region(who.division_code, product.regions):
        failed.append(Rule.REGION)
    if product.industry_sections and who.industry_section not in product.industry_sections:
        failed.append(Rule.INDUSTRY)
    if product.size_classes and who.size_class not in product.size_classes:
        failed.append(Rule.SIZE)
    if who.years_in_business < product.min_years:
        failed.append(Rule.YEARS)
    if product.min_grade:
        if who.grade is None:
            failed.append(Rule.NO_GRADE)
        elif grade_rank(who.grade) < grade_rank(product.min_grade):
            failed.append(Rule.GRADE)
    if not set(product.required_tags) <= who.tags:
        failed.append(Rule.TAGS)
    if product.tax_grades and who.tax_grade not in product.tax_grades:
        failed.append(Rule.TAX_GRADE)
    return failed


def rules_of(mask: int) -> list[Rule]:
    return [rule for rule in Rule if mask >> rule.value & 1]


def _bits(values: Iterable[str], universe: Sequence[str]) -> int:
    position = {v: i for i, v in enumerate(universe)}
    mask = 0
    for value in values:
        if value in position:
            mask |= 1 << position[value]
    return mask


_TAG_NAMES: Final = tuple(TAGS)
_TAX_GRADE_NAMES: Final = ("A", "B", "M", "C", "D")


@dataclass
class ProductMatrix:
    """Products as columns of numbers, so one applicant is tested against all of them with a
    dozen array operations instead of a Python loop per product. Build once per catalogue of
    products (cache it), match many times."""

    ids: NDArray[np.int64]
    min_amount: NDArray[np.int64]
    max_amount: NDArray[np.int64]
    min_rate: NDArray[np.int64]
    min_term: NDArray[np.int64]
    max_term: NDArray[np.int64]
    security: NDArray[np.int64]  # one bit of SECURITY_TYPES
    industries: NDArray[np.int64]  # bits of INDUSTRY_SECTIONS, 0 = any
    sizes: NDArray[np.int64]  # bits of SIZE_CLASSES, 0 = any
    min_years: NDArray[np.int64]
    min_grade: NDArray[np.int64]  # grade rank, 0 = no requirement
    tags: NDArray[np.int64]  # bits of TAGS
    tax_grades: NDArray[np.int64]  # bits of _TAX_GRADE_NAMES accepted, 0 = no requirement
    region_any: NDArray[np.bool_]
    region_codes: list[str] = field(default_factory=list)
    region_matrix: NDArray[np.bool_] = field(default_factory=lambda: np.zeros((0, 0), bool))

    def __len__(self) -> int:
        return int(self.ids.shape[0])

    @classmethod
    def build(cls, products: Sequence[ProductRules]) -> ProductMatrix:
        def col(values: Iterable[int]) -> NDArray[np.int64]:
            return np.fromiter(values, dtype=np.int64, count=len(products))

        codes = sorted({region_prefix(r) for p in products for r in p.regions})
        where = {c: i for i, c in enumerate(codes)}
        region_matrix = np.zeros((len(products), len(codes)), dtype=bool)
        for row, p in enumerate(products):
            for r in p.regions:
                region_matrix[row, where[region_prefix(r)]] = True
        return cls(
            ids=col(p.id for p in products),
            min_amount=col(p.min_amount_fen for p in products),
            max_amount=col(p.max_amount_fen for p in products),
            min_rate=col(p.min_rate_bp for p in products),
            min_term=col(p.min_term_months for p in products),
            max_term=col(p.max_term_months for p in products),
            security=col(_bits([p.security_type], SECURITY_TYPES) for p in products),
            industries=col(_bits(p.industry_sections, INDUSTRY_SECTIONS) for p in products),
            sizes=col(_bits(p.size_classes, SIZE_CLASSES) for p in products),
            min_years=col(p.min_years for p in products),
            min_grade=col(grade_rank(p.min_grade) for p in products),
            tags=col(_bits(p.required_tags, _TAG_NAMES) for p in products),
            tax_grades=col(_bits(p.tax_grades, _TAX_GRADE_NAMES) for p in products),
            region_any=np.fromiter((not p.regions for p in products), bool, len(products)),
            region_codes=codes,
            region_matrix=region_matrix,
        )

    def reasons(self, who: Applicant) -> NDArray[np.int64]:
        """Per product, the mask of failed :class:`Rule` bits (0 = fits)."""
        mask = np.zeros(len(self), dtype=np.int64)

        def fail(rule: Rule, where: NDArray[np.bool_]) -> None:
            np.bitwise_or(mask, where.astype(np.int64) << rule.value, out=mask)

        fail(Rule.AMOUNT_LOW, self.min_amount > who.amount_fen)
        fail(Rule.AMOUNT_HIGH, self.max_amount < who.amount_fen)
        fail(Rule.TERM, (self.min_term > who.term_months) | (self.max_term < who.term_months))
        if who.max_rate_bp is not None:
            fail(Rule.RATE, self.min_rate > who.max_rate_bp)
        fail(Rule.SECURITY, (self.security & _bits(who.security_types, SECURITY_TYPES)) == 0)
        if self.region_codes:
            covered = [
                i for i, c in enumerate(self.region_codes) if who.division_code.startswith(c)
            ]
            inside = (
                self.region_matrix[:, covered].any(axis=1)
                if covered
                else np.zeros(len(self), dtype=bool)
            )
            fail(Rule.REGION, ~(self.region_any | inside))
        industry = _bits([who.industry_section or ""], INDUSTRY_SECTIONS)
        fail(Rule.INDUSTRY, (self.industries != 0) & ((self.industries & industry) == 0))
        size = _bits([who.size_class or ""], SIZE_CLASSES)
        fail(Rule.SIZE, (self.sizes != 0) & ((self.sizes & size) == 0))
        fail(Rule.YEARS, self.min_years > who.years_in_business)
        rank = grade_rank(who.grade)
        if who.grade is None:
            fail(Rule.NO_GRADE, self.min_grade > 0)
        else:
            fail(Rule.GRADE, self.min_grade > rank)
        tags = _bits(who.tags, _TAG_NAMES)
        fail(Rule.TAGS, (self.tags & ~tags) != 0)
        tax_grade = _bits([who.tax_grade or ""], _TAX_GRADE_NAMES)
        fail(Rule.TAX_GRADE, (self.tax_grades != 0) & ((self.tax_grades & tax_grade) == 0))
        return mask

    def rank(self, who: Applicant, *, fitting: int = 10, others: int = 5) -> list[tuple[int, int]]:
        """(product id, reason mask): the best ``fitting`` products that fit, by lowest starting
        rate, then the ``others`` that come closest (fewest failed rules), so the enterprise also
        sees why those do not fit."""
        mask = self.reasons(who)
        failures = np.zeros(len(self), dtype=np.int64)
        for rule in Rule:
            failures += (mask >> rule.value) & 1
        order = np.lexsort((self.ids, self.min_rate, failures))
        fits = order[failures[order] == 0][:fitting]
        rest = order[failures[order] > 0][:others]
        return [(int(self.ids[i]), int(mask[i])) for i in (*fits.tolist(), *rest.tolist())]


# --- applications ----------------------------------------------------------------------------


class AppStatus(StrEnum):
    SUBMITTED = "submitted"
    ACCEPTED = "accepted"
    UNDER_REVIEW = "under_review"
    APPROVED = "approved"
    REJECTED = "rejected"
    DISBURSED = "disbursed"
    REPAID = "repaid"
    OVERDUE = "overdue"
    DECLINED = "declined"
    EXPIRED = "expired"
    WITHDRAWN = "withdrawn"


class AppMove(StrEnum):
    ACCEPT = "accept"
    DECLINE = "decline"
    EXPIRE = "expire"
    WITHDRAW = "withdraw"
    REVIEW = "review"
    APPROVE = "approve"
    REJECT = "reject"
    DISBURSE = "disburse"
    REPAY = "repay"
    OVERDUE = "overdue"


A = AppStatus
APP_TRANSITIONS: Final[dict[tuple[AppStatus, AppMove], AppStatus]] = {
    (A.SUBMITTED, AppMove.ACCEPT): A.ACCEPTED,
    (A.SUBMITTED, AppMove.DECLINE): A.DECLINED,
    (A.SUBMITTED, AppMove.EXPIRE): A.EXPIRED,
    (A.SUBMITTED, AppMove.WITHDRAW): A.WITHDRAWN,
    (A.ACCEPTED, AppMove.REVIEW): A.UNDER_REVIEW,
    (A.ACCEPTED, AppMove.REJECT): A.REJECTED,
    (A.ACCEPTED, AppMove.WITHDRAW): A.WITHDRAWN,
    (A.UNDER_REVIEW, AppMove.APPROVE): A.APPROVED,
    (A.UNDER_REVIEW, AppMove.REJECT): A.REJECTED,
    (A.APPROVED, AppMove.DISBURSE): A.DISBURSED,
    (A.DISBURSED, AppMove.REPAY): A.REPAID,
    (A.DISBURSED, AppMove.OVERDUE): A.OVERDUE,
    (A.OVERDUE, AppMove.REPAY): A.REPAID,
}
"""Every legal move of an application; rejected, declined, expired, withdrawn and repaid are
final (a new attempt is a new application)."""

INSTITUTION_MOVES: Final = frozenset(
    {
        AppMove.ACCEPT,
        AppMove.DECLINE,
        AppMove.REVIEW,
        AppMove.APPROVE,
        AppMove.REJECT,
        AppMove.DISBURSE,
        AppMove.REPAY,
        AppMove.OVERDUE,
    }
)
REASON_REQUIRED: Final = frozenset({AppMove.REJECT, AppMove.DECLINE})
APPROVED_OR_LATER: Final = frozenset({A.APPROVED, A.DISBURSED, A.REPAID, A.OVERDUE})
DECIDED: Final = APPROVED_OR_LATER | {A.REJECTED}


_State = TypeVar("_State", bound=StrEnum)
_Move = TypeVar("_Move", bound=StrEnum)


def _step(
    table: Mapping[tuple[_State, _Move], _State],
    states: type[_State],
    status: str,
    move: _Move,
    refusal: str,
) -> _State:
    """The state after ``move`` in ``table``; raises :class:`InvalidTransition` (message key
    ``refusal``) for a move the table lacks."""
    target = table.get((states(status), move))
    if target is None:
        raise keyed(InvalidTransition, refusal, status=status, move=move.value)
    return target


def transition(status: str, move: AppMove) -> AppStatus:
    """The state after ``move``; raises :class:`InvalidTransition` for a move the map lacks."""
    return _step(APP_TRANSITIONS, AppStatus, status, move, "error.marketplace.app_move")


def allowed_moves(status: str) -> list[AppMove]:
    current = AppStatus(status)
    return [move for (state, move) in APP_TRANSITIONS if state == current]


# --- demands ---------------------------------------------------------------------------------


class DemandStatus(StrEnum):
    NEW = "new"
    DISPATCHED = "dispatched"
    POOL = "pool"
    CLAIMED = "claimed"
    ESCALATED = "escalated"
    CLOSED = "closed"


class DemandMove(StrEnum):
    DISPATCH = "dispatch"
    TO_POOL = "to_pool"
    CLAIM = "claim"
    RELEASE = "release"
    ESCALATE = "escalate"
    CLOSE = "close"


D = DemandStatus
DEMAND_TRANSITIONS: Final[dict[tuple[DemandStatus, DemandMove], DemandStatus]] = {
    (D.NEW, DemandMove.DISPATCH): D.DISPATCHED,
    (D.NEW, DemandMove.TO_POOL): D.POOL,
    (D.NEW, DemandMove.CLOSE): D.CLOSED,
    (D.DISPATCHED, DemandMove.DISPATCH): D.DISPATCHED,
    (D.DISPATCHED, DemandMove.TO_POOL): D.POOL,
    (D.DISPATCHED, DemandMove.CLAIM): D.CLAIMED,
    (D.DISPATCHED, DemandMove.CLOSE): D.CLOSED,
    (D.POOL, DemandMove.CLAIM): D.CLAIMED,
    (D.POOL, DemandMove.ESCALATE): D.ESCALATED,
    (D.POOL, DemandMove.CLOSE): D.CLOSED,
    (D.ESCALATED, DemandMove.DISPATCH): D.DISPATCHED,
    (D.ESCALATED, DemandMove.TO_POOL): D.POOL,
    (D.ESCALATED, DemandMove.CLOSE): D.CLOSED,
    (D.CLAIMED, DemandMove.RELEASE): D.NEW,
    (D.CLAIMED, DemandMove.CLOSE): D.CLOSED,
}
LIVE_DEMAND: Final = frozenset({D.NEW, D.DISPATCHED, D.POOL, D.CLAIMED, D.ESCALATED})


def demand_transition(status: str, move: DemandMove) -> DemandStatus:
    return _step(DEMAND_TRANSITIONS, DemandStatus, status, move, "error.marketplace.demand_move")


# --- whitelist -------------------------------------------------------------------------------


class Level(StrEnum):
    COUNTY = "county"
    CITY = "city"
    PROVINCE = "province"


class WhitelistStatus(StrEnum):
    PROPOSED = "proposed"
    COUNTY_PASSED = "county_passed"
    CITY_PASSED = "city_passed"
    LISTED = "listed"
    REJECTED = "rejected"
    REMOVED = "removed"


W = WhitelistStatus
REVIEW_STAGE: Final[dict[Level, tuple[WhitelistStatus, WhitelistStatus]]] = {
    Level.COUNTY: (W.PROPOSED, W.COUNTY_PASSED),
    Level.CITY: (W.COUNTY_PASSED, W.CITY_PASSED),
    Level.PROVINCE: (W.CITY_PASSED, W.LISTED),
}
"""逐级把关: each level reviews only what the level below passed."""


def review_whitelist(status: str, level: Level, *, approve: bool) -> WhitelistStatus:
    before, after = REVIEW_STAGE[level]
    if WhitelistStatus(status) is not before:
        raise keyed(
            InvalidTransition,
            "error.marketplace.whitelist_review",
            status=status,
            level=level.value,
        )
    return after if approve else W.REJECTED


def remove_whitelist(status: str) -> WhitelistStatus:
    if WhitelistStatus(status) is not W.LISTED:
        raise keyed(InvalidTransition, "error.marketplace.whitelist_remove")
    return W.REMOVED


@dataclass(frozen=True)
class WhitelistCriteria:
    min_grade: str = "A"
    policy_sections: frozenset[str] = frozenset({"C", "I", "M"})
    """行业政策清单: manufacturing, information technology, research and technical services."""


def whitelist_reasons(
    criteria: WhitelistCriteria, *, grade: str | None, live_demand: bool, section: str | None
) -> list[str] | None:
    """Why the rules propose an enterprise (grade at or above the threshold, and a live demand
    or an industry on the policy list); None when they do not."""
    if grade is None or grade_rank(grade) < grade_rank(criteria.min_grade):
        return None
    reasons = ["grade"]
    if live_demand:
        reasons.append("live_demand")
    if section in criteria.policy_sections:
        reasons.append("policy_industry")
    return reasons if len(reasons) > 1 else None


# --- loans -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class LoanFlags:
    first_loan_any_bank: bool
    first_loan_this_bank: bool
    inclusive_micro: bool


def loan_flags(
    *,
    earlier_lenders: Iterable[int],
    institution_id: int,
    credit_line_fen: int,
    size_class: str | None,
) -> LoanFlags:
    """首贷户 from the loan history before this loan: first from any institution, and first
    from this one; 普惠型小微 by credit line and size."""
    lenders = set(earlier_lenders)
    return LoanFlags(
        first_loan_any_bank=not lenders,
        first_loan_this_bank=institution_id not in lenders,
        inclusive_micro=is_inclusive_micro(credit_line_fen, size_class),
    )


def is_inclusive_micro(credit_line_fen: int, size_class: str | None) -> bool:
    return size_class in SMALL_AND_MICRO and credit_line_fen <= INCLUSIVE_LINE_LIMIT_FEN


def add_months(day: date, months: int) -> date:
    """``day`` plus ``months``, clipped to the month's end (31 Jan + 1 month = 28/29 Feb)."""
    index = day.month - 1 + months
    year, month = day.year + index // 12, index % 12 + 1
    last = [31, 29 if year % 4 == 0 and (year % 100 or year % 400 == 0) else 28, 31, 30, 31, 30,
            31, 31, 30, 31, 30, 31][month - 1]  # fmt: skip
    return date(year, month, min(day.day, last))


# --- products: lifecycle and review ----------------------------------------------------------


class ProductStatus(StrEnum):
    PENDING_REVIEW = "pending_review"
    PUBLISHED = "published"
    REJECTED = "rejected"
    PAUSED = "paused"
    WITHDRAWN = "withdrawn"


class ProductMove(StrEnum):
    APPROVE = "approve"
    REJECT = "reject"
    RESUBMIT = "resubmit"
    PAUSE = "pause"
    RESUME = "resume"
    WITHDRAW = "withdraw"


PS = ProductStatus
PRODUCT_TRANSITIONS: Final[dict[tuple[ProductStatus, ProductMove], ProductStatus]] = {
    (PS.PENDING_REVIEW, ProductMove.APPROVE): PS.PUBLISHED,
    (PS.PENDING_REVIEW, ProductMove.REJECT): PS.REJECTED,
    (PS.PENDING_REVIEW, ProductMove.RESUBMIT): PS.PENDING_REVIEW,
    (PS.PENDING_REVIEW, ProductMove.WITHDRAW): PS.WITHDRAWN,
    (PS.REJECTED, ProductMove.RESUBMIT): PS.PENDING_REVIEW,
    (PS.REJECTED, ProductMove.WITHDRAW): PS.WITHDRAWN,
    (PS.PUBLISHED, ProductMove.PAUSE): PS.PAUSED,
    (PS.PUBLISHED, ProductMove.WITHDRAW): PS.WITHDRAWN,
    (PS.PAUSED, ProductMove.RESUME): PS.PUBLISHED,
    (PS.PAUSED, ProductMove.WITHDRAW): PS.WITHDRAWN,
}
"""A withdrawn product is final: its applications and loans keep pointing at it, so it stays as a
row, but it never comes back (a bank that wants it again submits a new product)."""

LIVE_PRODUCT: Final = frozenset({PS.PUBLISHED, PS.PAUSED})
"""Statuses whose terms the operator approved: an edit of such a product waits for review beside
the live terms instead of replacing them."""

PRODUCT_REVIEW_DAYS: Final = 3
"""Working days the operator has to review a product or a change before it shows as overdue."""


def product_transition(status: str, move: ProductMove) -> ProductStatus:
    return _step(PRODUCT_TRANSITIONS, ProductStatus, status, move, "error.marketplace.product_move")


def product_moves(status: str) -> list[ProductMove]:
    """What the institution may do to a product in ``status`` (approval is the operator's)."""
    own = (ProductMove.PAUSE, ProductMove.RESUME, ProductMove.WITHDRAW)
    return [m for (s, m) in PRODUCT_TRANSITIONS if s.value == status and m in own]


def changed_terms(live: dict[str, object], proposed: dict[str, object]) -> dict[str, object]:
    """The fields of ``proposed`` whose value differs from ``live`` (lists compared as sets, since
    the product keeps them sorted)."""

    def norm(value: object) -> object:
        return sorted(value) if isinstance(value, (list, tuple, set, frozenset)) else value

    return {k: v for k, v in proposed.items() if norm(live.get(k)) != norm(v)}


# --- whitelist review by level (逐级把关) -----------------------------------------------------


def in_division(code: str | None, division: str) -> bool:
    """Whether the division ``code`` (a subject's or an institution's) lies within ``division``
    (a province, city or county code)."""
    return code is not None and code.startswith(region_prefix(division))


def may_review_whitelist(
    *,
    operator_division: str | None,
    operator_level: str | None,
    stage: Level,
    subject_division: str | None,
) -> bool:
    """An operator of a division reviews only its own level's stage, and only for enterprises in
    its division: a county passes the county stage of its county, a city the city stage of its
    city, a province the last stage. A node-wide operator (no division) keeps reviewing every
    stage, as a single-level node's console has always done; a division-scoped one can never act
    for another level or region, which is what 逐级把关 exists to prevent."""
    if operator_division is None:
        return True
    return operator_level == stage.value and in_division(subject_division, operator_division)


# --- lending pages: stages, how a demand ended, what is late -------------------------------

APP_STAGES: Final = ("submitted", "accepted", "under_review", "approved", "disbursed")
"""The steps an application's stepper shows (提交 → 受理 → 审查 → 审批 → 放款); their names are
``market_stage.*`` messages."""

_STAGE_REACHED: Final[dict[str, int]] = {
    "submitted": 0,
    "accepted": 1,
    "under_review": 2,
    "approved": 3,
    "disbursed": 4,
    "repaid": 4,
    "overdue": 4,
    # Ended without going on: the step where it stopped.
    "declined": 1,
    "expired": 1,
    "rejected": 3,
}


@dataclass(frozen=True)
class Stage:
    """Where an application stands in :data:`APP_STAGES`: ``index`` is the step it is at (done
    up to the one before); ``stopped`` says it ended there (declined, expired, withdrawn,
    rejected) instead of moving on."""

    index: int
    stopped: bool

    def state(self, step: int) -> str:
        """``done``, ``current``, ``stopped`` or ``todo`` for step ``step`` of the stepper."""
        if step < self.index or (step == self.index and step == len(APP_STAGES) - 1):
            return "done"
        if step == self.index:
            return "stopped" if self.stopped else "current"
        return "todo"


def app_stage(status: str, *, accepted: bool = False) -> Stage:
    """The stepper position of an application in ``status``. A withdrawn application stopped at
    受理 when the institution had accepted it (``accepted``), else at 提交→受理."""
    if status == AppStatus.WITHDRAWN.value:
        return Stage(2 if accepted else 1, stopped=True)
    index = _STAGE_REACHED.get(status, 0)
    stopped = status in {A.DECLINED, A.EXPIRED, A.REJECTED}
    return Stage(index, stopped=stopped)


DEMAND_LENT: Final = "lent"
"""How a closed demand reads when it ended in a loan (已放款), not 已关闭."""


def demand_outcome(status: str, *, lent: bool) -> str:
    """The status a demand shows: ``lent`` for a closed demand one of whose applications was
    disbursed, else its status."""
    return DEMAND_LENT if status == D.CLOSED and lent else status


def is_late(respond_by: date | None, today: date) -> bool:
    """An answer is late once its working-day deadline has passed."""
    return respond_by is not None and respond_by < today


def loan_is_overdue(status: str, maturity_date: date, today: date) -> bool:
    """A loan reported overdue, or not repaid by its maturity date."""
    return status in ("overdue", "defaulted") or (status == "current" and maturity_date < today)
