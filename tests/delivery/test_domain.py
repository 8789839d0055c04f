"""Pure rules of delivery: the retry schedule and what a receiver's answer means, subscriptions,
and the URLs and addresses a webhook may never point at (SSRF)."""

from __future__ import annotations

import ipaddress
import re
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from creditbridge.delivery import domain
from creditbridge.delivery.errors import EventTypesInvalid
from creditbridge.presentation import i18n

NOW = datetime(2026, 12, 5, 8, 0, tzinfo=UTC)


class TestRetrySchedule:
    def test_ten_attempts_over_about_three_days(self) -> None:
        assert domain.MAX_ATTEMPTS == 10
        total = sum(domain.RETRY_SCHEDULE, timedelta())
        assert timedelta(days=3) < total < timedelta(days=3.2)

    def test_waits_follow_the_schedule_without_jitter(self) -> None:
        waits = [domain.next_delay(n, random=lambda: 0.5) for n in range(1, 10)]

        assert waits == [
            timedelta(seconds=5),
            timedelta(minutes=5),
            timedelta(minutes=30),
            timedelta(hours=2),
            timedelta(hours=5),
            timedelta(hours=10),
            timedelta(hours=14),
            timedelta(hours=20),
            timedelta(hours=24),
        ]

    def test_after_the_last_attempt_there_is_no_next(self) -> None:
        assert domain.next_delay(domain.MAX_ATTEMPTS) is None
        assert domain.next_delay(domain.MAX_ATTEMPTS + 3) is None

    def test_attempts_count_from_one(self) -> None:
        with pytest.raises(ValueError, match="from 1"):
            domain.next_delay(0)

    @given(attempt=st.integers(1, 9), draw=st.floats(0, 1, exclude_max=True))
    def test_jitter_stays_within_ten_percent(self, attempt: int, draw: float) -> None:
        base = domain.RETRY_SCHEDULE[attempt - 1]
        wait = domain.next_delay(attempt, random=lambda: draw)

        assert wait is not None
        assert base * 0.9 <= wait <= base * 1.1


class TestRetryAfter:
    def test_seconds(self) -> None:
        assert domain.retry_after_delay("120", NOW) == timedelta(seconds=120)

    def test_http_date(self) -> None:
        header = format_datetime(NOW + timedelta(seconds=90), usegmt=True)

        assert domain.retry_after_delay(header, NOW) == timedelta(seconds=90)

    def test_a_date_in_the_past_is_no_wait(self) -> None:
        header = format_datetime(NOW - timedelta(hours=1), usegmt=True)

        assert domain.retry_after_delay(header, NOW) == timedelta(0)

    def test_capped_at_a_day(self) -> None:
        assert domain.retry_after_delay("9999999", NOW) == timedelta(hours=24)
        header = format_datetime(NOW + timedelta(days=30), usegmt=True)
        assert domain.retry_after_delay(header, NOW) == timedelta(hours=24)

    @pytest.mark.parametrize("header", [None, "", "  ", "soon", "-5", "1.5"])
    def test_absent_or_unreadable_is_none(self, header: str | None) -> None:
        assert domain.retry_after_delay(header, NOW) is None


class TestOutcome:
    @pytest.mark.parametrize("code", [200, 201, 202, 204, 299])
    def test_2xx_is_sent(self, code: int) -> None:
        assert domain.outcome_of(code) == "sent"

    def test_410_is_gone(self) -> None:
        assert domain.outcome_of(410) == "gone"

    @pytest.mark.parametrize("code", [None, 100, 301, 304, 400, 404, 408, 429, 500, 502, 503])
    def test_everything_else_is_retried(self, code: int | None) -> None:
        assert domain.outcome_of(code) == "retry"


class TestPatterns:
    def test_all_topic_and_exact_patterns_are_kept_in_order_without_repeats(self) -> None:
        got = domain.validate_patterns(
            [" consent.* ", "marketplace.application_submitted", "*", "consent.*", ""]
        )

        assert got == ["consent.*", "marketplace.application_submitted", "*"]

    def test_what_is_kept_matches_as_subscribed(self) -> None:
        patterns = domain.validate_patterns(["consent.*"])

        assert domain.subscribed(patterns, "consent.granted")
        assert not domain.subscribed(patterns, "marketplace.granted")

    def test_nothing_to_subscribe_is_refused(self) -> None:
        with pytest.raises(EventTypesInvalid) as refused:
            domain.validate_patterns([" ", ""])

        assert refused.value.code == "CB-WEBHOOK-EVENTS"
        assert refused.value.key == "error.delivery.events.empty"

    @pytest.mark.parametrize(
        ("pattern", "reason"),
        [
            ("loans.*", "unknown_topic"),
            ("consent", "malformed"),
            ("consent.grant*", "malformed"),
            ("consent.", "malformed"),
            ("Consent.Granted", "unknown_topic"),
            ("consent.granted?", "malformed"),
            ("consent.**", "malformed"),
        ],
    )
    def test_a_bad_pattern_is_named(self, pattern: str, reason: str) -> None:
        with pytest.raises(EventTypesInvalid) as refused:
            domain.validate_patterns(["consent.*", pattern])

        error = refused.value
        assert error.key == f"error.delivery.events.{reason}"
        assert error.params["pattern"] == pattern
        assert pattern in error.message
        assert error.issues[0].field == "events"

    def test_too_many_patterns(self) -> None:
        many = [f"consent.event_{n}" for n in range(domain.MAX_PATTERNS + 1)]

        with pytest.raises(EventTypesInvalid, match="不能超过"):
            domain.validate_patterns(many)


@pytest.mark.security
class TestAddresses:
    @pytest.mark.parametrize(
        ("address", "reason"),
        [
            ("127.0.0.1", "loopback"),
            ("127.8.9.10", "loopback"),
            ("::1", "loopback"),
            ("10.0.0.1", "private"),
            ("172.16.5.4", "private"),
            ("172.31.255.255", "private"),
            ("192.168.1.1", "private"),
            ("fc00::1", "private"),
            ("fd12:3456::1", "private"),
            ("169.254.169.254", "link_local"),
            ("fe80::1", "link_local"),
            ("224.0.0.251", "multicast"),
            ("ff02::1", "multicast"),
            ("0.0.0.0", "unspecified"),
            ("::", "unspecified"),
            ("100.64.0.1", "shared"),
            ("100.127.255.254", "shared"),
            ("240.0.0.1", "reserved"),
            ("255.255.255.255", "reserved"),
            ("192.0.2.10", "private"),
            # IPv6 spellings of IPv4 addresses are judged by the address they carry.
            ("::ffff:127.0.0.1", "loopback"),
            ("::ffff:10.0.0.1", "private"),
            ("::ffff:169.254.169.254", "link_local"),
            ("64:ff9b::a00:1", "private"),
            ("2002:7f00:1::1", "loopback"),
            ("2002:a00:1::1", "private"),
        ],
    )
    def test_inside_addresses_are_refused(self, address: str, reason: str) -> None:
        assert domain.address_refusal(address, allow_loopback=False) == reason

    @pytest.mark.parametrize(
        "address", ["8.8.8.8", "93.184.215.14", "2606:4700:4700::1111", "::ffff:8.8.8.8"]
    )
    def test_public_addresses_are_allowed(self, address: str) -> None:
        assert domain.address_refusal(address, allow_loopback=False) is None

    @pytest.mark.parametrize("address", ["127.0.0.1", "::1", "::ffff:127.0.0.1"])
    def test_the_setting_allows_loopback(self, address: str) -> None:
        assert domain.address_refusal(address, allow_loopback=True) is None

    @pytest.mark.parametrize(
        "address", ["10.0.0.1", "169.254.169.254", "0.0.0.0", "192.168.0.1", "fc00::1"]
    )
    def test_the_setting_never_allows_the_rest(self, address: str) -> None:
        assert domain.address_refusal(address, allow_loopback=True) is not None

    @given(st.ip_addresses(v=4))
    def test_an_ipv4_mapped_address_is_judged_as_its_ipv4(
        self, address: ipaddress.IPv4Address
    ) -> None:
        mapped = ipaddress.IPv6Address(f"::ffff:{address}")

        for allow in (False, True):
            assert domain.address_refusal(mapped, allow_loopback=allow) == domain.address_refusal(
                address, allow_loopback=allow
            )

    def test_loopback_is_never_allowed_in_production(self) -> None:
        assert not domain.loopback_allowed(env="production", allow_loopback=True)
        assert domain.loopback_allowed(env="test", allow_loopback=True)
        assert not domain.loopback_allowed(env="development", allow_loopback=False)


@pytest.mark.security
class TestUrls:
    @pytest.mark.parametrize(
        "url", ["https://bank.example.com/hooks", "https://bank.example.com:8443/a?b=c"]
    )
    def test_https_urls_pass(self, url: str) -> None:
        assert domain.url_refusal(url, env="production", allow_loopback=False) is None

    def test_http_is_refused_in_production_even_with_the_setting(self) -> None:
        url = "http://bank.example.com/hooks"

        assert domain.url_refusal(url, env="production", allow_loopback=True) == "https_required"
        assert domain.url_refusal(url, env="test", allow_loopback=False) == "https_required"
        assert domain.url_refusal(url, env="test", allow_loopback=True) is None

    @pytest.mark.parametrize(
        ("url", "reason"),
        [
            ("ftp://bank.example.com/x", "scheme"),
            ("file:///etc/passwd", "scheme"),
            ("gopher://127.0.0.1:25/", "scheme"),
            ("bank.example.com/hooks", "scheme"),
            ("https://user:pw@bank.example.com/", "userinfo"),
            ("https://token@bank.example.com/", "userinfo"),
            ("https:///hooks", "no_host"),
            ("https://bank.example.com:0/", "port"),
            ("https://bank.example.com:99999/", "malformed"),
            ("https://[::1/", "malformed"),
            ("https://bank.example.com/a b", "malformed"),
            ("https://bank.example.com/\x00", "malformed"),
            ("", "malformed"),
            ("https://bank.example.com/" + "a" * 2000, "malformed"),
        ],
    )
    def test_malformed_or_unsafe_forms_are_refused(self, url: str, reason: str) -> None:
        assert domain.url_refusal(url, env="test", allow_loopback=True) == reason

    def test_default_ports(self) -> None:
        assert domain.default_port("https://a.example/") == 443
        assert domain.default_port("http://a.example/") == 80
        assert domain.default_port("https://a.example:8443/") == 8443


def test_every_refusal_key_of_delivery_is_in_the_message_tables() -> None:
    """Refusals are keyed (``presentation.errors``): each key the delivery code names, and each
    reason the URL and address rules can give, has its Chinese and its English."""
    from pathlib import Path

    import creditbridge.delivery as package

    source = "\n".join(
        path.read_text(encoding="utf-8") for path in Path(package.__file__).parent.rglob("*.py")
    )
    keys = set(re.findall(r'"(error\.delivery\.[a-z_.]+[a-z_])"', source))
    rules = Path(domain.__file__).read_text(encoding="utf-8")
    url_rule = rules[rules.index("def url_refusal") :]
    address_rule = rules[rules.index("def address_refusal") : rules.index("def url_refusal")]
    keys |= {f"error.delivery.url.{r}" for r in re.findall(r'return "([a-z_]+)"', url_rule)}
    keys |= {f"error.delivery.address.{r}" for r in re.findall(r'return "([a-z_]+)"', address_rule)}
    assert len(keys) > 20
    for key in sorted(keys):
        chinese, english = i18n.MESSAGES[key]
        assert chinese, key
        assert english not in ("", chinese), key
