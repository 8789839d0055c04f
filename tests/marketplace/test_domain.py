"""Pure rules: the vectorised matcher agrees with the per-product rules everywhere, the state
machines refuse what their maps lack, and the loan flags follow the statistical definitions."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from creditbridge.core.errors import InvalidTransition
from creditbridge.marketplace import domain
from creditbridge.marketplace.domain import (
    APP_TRANSITIONS,
    Applicant,
    AppMove,
    AppStatus,
    Level,
    ProductMatrix,
    ProductRules,
    Rule,
)

codes = st.sampled_from(["340000", "340100", "340200", "340102", "340221"])
sections = st.lists(st.sampled_from("ACIM"), max_size=3, unique=True).map(tuple)
sizes = st.lists(st.sampled_from(domain.SIZE_CLASSES), max_size=3, unique=True).map(tuple)
tags = st.lists(st.sampled_from(tuple(domain.TAGS)), max_size=2, unique=True)


@st.composite
def product(draw: st.DrawFn, pid: int = 1) -> ProductRules:
    low = draw(st.integers(1, 500))
    rate = draw(st.integers(300, 600))
    term = draw(st.integers(1, 24))
    return ProductRules(
        id=pid,
        security_type=draw(st.sampled_from(domain.SECURITY_TYPES)),
        min_amount_fen=low * domain.WAN_FEN,
        max_amount_fen=(low + draw(st.integers(0, 1000))) * domain.WAN_FEN,
        min_rate_bp=rate,
        max_rate_bp=rate + 100,
        min_term_months=term,
        max_term_months=term + draw(st.integers(0, 24)),
        regions=tuple(draw(st.lists(codes, max_size=2, unique=True))),
        industry_sections=draw(sections),
        size_classes=draw(sizes),
        min_years=draw(st.integers(0, 5)),
        min_grade=draw(st.sampled_from((None, "A", "BBB", "AAA"))),
        required_tags=tuple(draw(tags)),
    )


applicants = st.builds(
    Applicant,
    amount_fen=st.integers(1, 2000).map(lambda w: w * domain.WAN_FEN),
    term_months=st.integers(1, 48),
    division_code=st.sampled_from(["340102", "340221", "340302", "350102"]),
    industry_section=st.sampled_from(["A", "C", "I", "M", None]),
    size_class=st.sampled_from([*domain.SIZE_CLASSES, None]),
    years_in_business=st.integers(0, 10),
    grade=st.sampled_from([None, *domain.GRADES]),
    tags=tags.map(frozenset),
    security_types=st.lists(st.sampled_from(domain.SECURITY_TYPES), min_size=1, unique=True).map(
        frozenset
    ),
    max_rate_bp=st.sampled_from([None, 350, 450, 700]),
)


@settings(max_examples=200, deadline=None)
@given(st.lists(product(), min_size=1, max_size=12), applicants)
def test_vectorised_matching_agrees_with_the_rules(
    items: list[ProductRules], who: Applicant
) -> None:
    items = [ProductRules(**{**p.__dict__, "id": i + 1}) for i, p in enumerate(items)]
    masks = ProductMatrix.build(items).reasons(who).tolist()
    for p, mask in zip(items, masks, strict=True):
        assert domain.rules_of(mask) == domain.check(p, who)


def test_region_codes_cover_their_children() -> None:
    assert domain.in_region("340102", ["340100"])
    assert domain.in_region("340102", ["340000"])
    assert not domain.in_region("340202", ["340100"])


def test_grade_rules_distinguish_low_from_missing() -> None:
    p = ProductRules(1, "credit", 1, 10**12, 300, 400, 1, 36, min_grade="A")
    base = Applicant(100, 12, "340102", "C", "small", 3, None)
    assert Rule.NO_GRADE in domain.check(p, base)
    assert Rule.GRADE in domain.check(p, Applicant(**{**base.__dict__, "grade": "BBB"}))
    assert domain.check(p, Applicant(**{**base.__dict__, "grade": "AA"})) == []


@pytest.mark.parametrize(("tax_grade", "fits"), [("A", True), ("B", True), ("M", True),
                                                 ("C", False), ("D", False), (None, False)])  # fmt: skip
def test_tax_finance_needs_tax_credit_rating_a_b_or_m(tax_grade: str | None, fits: bool) -> None:
    tax = ProductRules(
        1, "credit", 1, 10**12, 300, 400, 1, 36, tax_grades=domain.tax_grades_for("tax_finance")
    )
    plain = ProductRules(2, "credit", 1, 10**12, 300, 400, 1, 36)
    who = Applicant(100, 12, "340102", "C", "small", 3, "AA", tax_grade=tax_grade)
    assert (Rule.TAX_GRADE not in domain.check(tax, who)) is fits
    assert domain.check(plain, who) == []
    masks = domain.ProductMatrix.build([tax, plain]).reasons(who)
    assert domain.rules_of(int(masks[0])) == ([] if fits else [Rule.TAX_GRADE])
    assert int(masks[1]) == 0


@pytest.mark.parametrize("status", list(AppStatus))
@pytest.mark.parametrize("move", list(AppMove))
def test_application_moves_follow_the_map(status: AppStatus, move: AppMove) -> None:
    expected = APP_TRANSITIONS.get((status, move))
    if expected is None:
        with pytest.raises(InvalidTransition):
            domain.transition(status.value, move)
    else:
        assert domain.transition(status.value, move) is expected


def test_whitelist_review_goes_county_city_province() -> None:
    with pytest.raises(InvalidTransition):
        domain.review_whitelist("proposed", Level.CITY, approve=True)
    status = domain.review_whitelist("proposed", Level.COUNTY, approve=True)
    status = domain.review_whitelist(status, Level.CITY, approve=True)
    assert domain.review_whitelist(status, Level.PROVINCE, approve=True) == "listed"
    assert domain.review_whitelist(status, Level.PROVINCE, approve=False) == "rejected"
    with pytest.raises(InvalidTransition):
        domain.remove_whitelist("proposed")


def test_loan_flags_follow_the_definitions() -> None:
    limit = domain.INCLUSIVE_LINE_LIMIT_FEN
    first = domain.loan_flags(
        earlier_lenders=[], institution_id=1, credit_line_fen=limit, size_class="micro"
    )
    assert (first.first_loan_any_bank, first.first_loan_this_bank, first.inclusive_micro) == (
        True,
        True,
        True,
    )
    again = domain.loan_flags(
        earlier_lenders=[2], institution_id=1, credit_line_fen=limit + 1, size_class="small"
    )
    assert (again.first_loan_any_bank, again.first_loan_this_bank, again.inclusive_micro) == (
        False,
        True,
        False,
    )
    assert not domain.is_inclusive_micro(100, "medium")


def test_whitelist_rules_need_grade_and_a_reason() -> None:
    rules = domain.WhitelistCriteria(min_grade="A")
    assert domain.whitelist_reasons(rules, grade="BBB", live_demand=True, section="C") is None
    assert domain.whitelist_reasons(rules, grade="AA", live_demand=False, section="B") is None
    assert domain.whitelist_reasons(rules, grade="AA", live_demand=True, section="C") == [
        "grade",
        "live_demand",
        "policy_industry",
    ]
