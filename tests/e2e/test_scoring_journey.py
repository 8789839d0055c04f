"""Credit evaluation in a real browser: the seeded demo is scored (see conftest `_seed`); the
operator sees every enterprise in the grade distribution and opens the validation report; an
enterprise sees its own score, grade, reasons and what would raise it."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import func, select

from creditbridge.scoring.models import Score, ScoringRun

from .conftest import ENTERPRISES, Site, demo_logins, log_in, screenshot

pytestmark = pytest.mark.browser


def test_every_demo_enterprise_is_scored_and_the_operator_sees_the_distribution(
    page: Page, site: Site
) -> None:
    with site.engine.connect() as connection:
        run = connection.execute(select(ScoringRun).order_by(ScoringRun.id.desc())).first()
        assert run is not None
        assert run.enterprises == ENTERPRISES
        graded = connection.execute(
            select(func.count())
            .select_from(Score)
            .where(Score.run_id == run.id, Score.grade.is_not(None))
        ).scalar_one()
    assert graded + run.insufficient == ENTERPRISES

    log_in(page, site, demo_logins(site)["operator"], "/operator/scoring")
    totals = page.get_by_test_id("grade-totals").locator("tbody td")
    shown = sum(int(text.replace(",", "")) for text in totals.all_inner_texts())
    assert shown == graded
    expect(page.locator("[data-scoring-chart=cities] svg")).to_be_visible()
    page.get_by_test_id("models").get_by_role("link").first.click()
    expect(page.get_by_test_id("validation-report")).to_be_visible()
    expect(page.get_by_test_id("metric-auc")).not_to_have_text("—")
    screenshot(page, "scoring-report")


def test_enterprise_sees_its_score_reasons_and_advice(page: Page, site: Site) -> None:
    log_in(page, site, demo_logins(site)["enterprise_user"], "/enterprise/credit-score")
    expect(page.get_by_test_id("score-card")).to_be_visible()
    if page.get_by_test_id("score-insufficient").count() == 0:
        assert page.get_by_test_id("score-value").inner_text().strip().isdigit()
        expect(page.get_by_test_id("score-grade")).to_have_text(
            re.compile(r"^(AAA|AA|A|BBB|BB|B|CCC|CC|C)$")
        )
        expect(page.get_by_test_id("score-indicators")).to_be_visible()
    screenshot(page, "scoring-mine")
