"""Issue 13's promise in a real browser: an institution's officer-administrator registers a webhook
for ``consent.*`` at a receiver on 127.0.0.1 and sees its secret once; the enterprise approves a
consent the bank asked for; ``creditbridge worker --once`` sends it and the receiver answers 500;
the deliveries page shows the failure and its next attempt; retry on the page and a second
``worker --once`` deliver it with a signature the reference Standard Webhooks library verifies; a
replay of today from the page sends it again under the same webhook-id. The operator's worker
desk is looked at too. Screenshots at desktop and phone widths.

The consent is asked for and approved in the pages, as in test_consent_journey.py. The request is
made, and the worker runs what is due, before the webhook exists; the receiver answers 500 to the
approval's first arrival and 200 to anything else the bank is sent (the worker's marketplace sweep
may grant it consents of its own in the same round)."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
import standardwebhooks
from playwright.sync_api import expect

from creditbridge.jobs.registry import REGISTRY
from delivery.receivers import Received, Receiver, Reply

from .conftest import PHONE, People, Site, cli, demo_logins, path_of, screenshot

pytestmark = pytest.mark.browser


def _worker_once(site: Site) -> dict[str, Any]:
    summary: dict[str, Any] = json.loads(cli(site, "worker", "--once", "--json"))
    return summary


def _verified(secret: str, request: Any) -> dict[str, Any]:
    """The body of a received request whose Standard Webhooks signature verifies."""
    payload: dict[str, Any] = standardwebhooks.Webhook(secret).verify(request.body, request.headers)
    return payload


def test_register_receive_fail_retry_verify_replay(site: Site, people: People) -> None:
    logins = demo_logins(site)
    bank_login, owner_login = logins["institution_officer"], logins["enterprise_user"]
    uscc = owner_login["bound_to"].split()[-1]
    bank, enterprise = people.open(), people.open()
    page = bank.page

    failed_once: list[str] = []

    def answer(received: Received) -> Reply | None:
        # 500 to the approval's first arrival, 200 to everything else: the worker's own jobs
        # (the marketplace sweep grants consents when it re-dispatches demands) may send this
        # bank other consent events in the same round, in any order.
        if received.json().get("type") == "consent.approve" and not failed_once:
            failed_once.append(received.webhook_id or "")
            return Reply(500)
        return None

    with Receiver(respond=answer) as receiver:
        # 1. The bank asks the enterprise for a consent (before it has a webhook), and the
        # node's worker runs what is due, as it would have been doing all along.
        bank.login(bank_login, "/institution/consents/new")
        page.get_by_label("统一社会信用代码").fill(uscc)
        page.get_by_label("授权用途").select_option("loan_application")
        page.locator("#c-cat-tax").check()
        page.get_by_label("最多查询次数").fill("3")
        page.get_by_test_id("request-submit").click()
        expect(page.get_by_test_id("consent-status")).to_have_text("待企业确认")
        consent_path = path_of(page)
        _worker_once(site)

        # 2. Its officer-administrator registers a webhook for consent.* and sees the secret once.
        page.goto("/institution/webhooks")
        expect(page.get_by_role("heading", name="Webhook 回调地址")).to_be_visible()
        page.get_by_label("回调地址", exact=True).fill(receiver.url)
        page.locator("#w-topic-consent").check()
        page.get_by_label("说明", exact=True).fill("贷前系统接收端")
        screenshot(page, "webhooks-1-form")
        page.get_by_test_id("endpoint-submit").click()
        expect(page.get_by_test_id("webhook-added")).to_be_visible()
        secret = page.get_by_test_id("webhook-secret").inner_text().strip()
        assert secret.startswith("whsec_")
        screenshot(page, "webhooks-2-secret-once")
        page.get_by_test_id("webhook-added-open").click()
        expect(page.get_by_test_id("endpoint-url")).to_have_text(receiver.url)
        endpoint_path = path_of(page)
        assert re.fullmatch(r"/institution/webhooks/\d+", endpoint_path)
        expect(page.get_by_test_id("deliveries-empty")).to_be_visible()
        page.goto("/institution/webhooks")
        expect(page.get_by_test_id("webhook-secret")).to_have_count(0)  # never shown again

        # 3. The enterprise approves: the consent's message goes to the outbox with the change.
        enterprise.login(owner_login, consent_path)
        enterprise.page.get_by_test_id("approve").click()
        expect(enterprise.page.get_by_test_id("consent-status")).to_have_text("生效中")

        # 4. The worker sends it; the receiver answers 500.
        _worker_once(site)
        assert failed_once, "the approval did not reach the receiver"
        webhook_id = failed_once[0]
        assert webhook_id.startswith("msg_")
        assert [r.reply.status for r in receiver.by_webhook_id()[webhook_id] if r.reply] == [500]

        page.goto(endpoint_path)
        row = page.locator(f'[data-testid="delivery-row"][data-webhook-id="{webhook_id}"]')
        expect(row.get_by_test_id("delivery-status")).to_have_attribute("data-status", "failed")
        expect(row.get_by_test_id("delivery-last-status")).to_have_text("500")
        expect(row.get_by_test_id("delivery-attempts")).to_have_text("1")
        expect(row.get_by_test_id("delivery-next-attempt")).to_have_text(
            re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d")
        )
        screenshot(page, "webhooks-3-failed")

        # 5. Retry from the page; the next worker round delivers it, signed.
        row.get_by_test_id("retry").click()
        expect(page.get_by_test_id("notice")).to_contain_text("已重新排队")
        expect(row.get_by_test_id("delivery-status")).to_have_attribute("data-status", "pending")
        _worker_once(site)
        arrivals = receiver.by_webhook_id()[webhook_id]
        assert [r.reply.status for r in arrivals if r.reply] == [500, 200]
        second = arrivals[1]
        body = _verified(secret, second)
        assert body["type"] == "consent.approve"
        assert body["data"]["reference"]
        with pytest.raises(standardwebhooks.WebhookVerificationError):
            standardwebhooks.Webhook(secret).verify(second.body + b" ", second.headers)
        page.reload()
        expect(row.get_by_test_id("delivery-status")).to_have_attribute("data-status", "sent")
        expect(row.get_by_test_id("delivery-attempts")).to_have_text("2")
        screenshot(page, "webhooks-4-delivered")

        # 6. Replay today from the page: sent again, under the same webhook-id.
        page.get_by_test_id("replay-submit").click()
        expect(page.get_by_test_id("notice")).to_contain_text(
            re.compile(r"已安排重新投递 \d+ 条消息")
        )
        _worker_once(site)
        arrivals = receiver.by_webhook_id()[webhook_id]
        assert [r.reply.status for r in arrivals if r.reply] == [500, 200, 200]
        assert _verified(secret, arrivals[2]) == body
        page.reload()
        expect(row.get_by_test_id("delivery-status")).to_have_attribute("data-status", "sent")
        screenshot(page, "webhooks-5-replayed")

        # 7. The operator's desk: the schedule with the worker's runs, and the deliveries.
        operator = people.open()
        operator.login(logins["operator"], "/operator/jobs")
        desk = operator.page
        expect(desk.get_by_test_id("schedule-row")).to_have_count(len(list(REGISTRY)))
        expect(desk.get_by_test_id("run-row").first).to_be_visible()
        screenshot(desk, "jobs-1-desktop")
        desk.goto("/operator/deliveries")
        expect(
            desk.locator(f'[data-testid="delivery-row"][data-webhook-id="{webhook_id}"]')
        ).to_be_visible()
        expect(desk.get_by_test_id("count-sent")).to_be_visible()
        screenshot(desk, "deliveries-1-desktop")

        # 8. The same pages at a phone's width.
        phone = people.open(PHONE)
        phone.login(logins["operator"], "/operator/deliveries")
        screenshot(phone.page, "deliveries-2-phone")
        phone.page.goto("/operator/jobs")
        screenshot(phone.page, "jobs-2-phone")
        phone.page.goto(endpoint_path)
        expect(phone.page.get_by_test_id("endpoint-url")).to_have_text(receiver.url)
        screenshot(phone.page, "webhooks-6-endpoint-phone")
        phone.page.goto("/institution/webhooks")
        screenshot(phone.page, "webhooks-7-list-phone")

        # 9. The bank stops the endpoint; the demo database keeps no live receiver address.
        page.goto(endpoint_path)
        page.locator("#w-reason").fill("演示结束")
        page.get_by_test_id("disable").click()
        expect(page.get_by_test_id("endpoint-status")).to_have_attribute("data-status", "disabled")
