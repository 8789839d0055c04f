"""Pure rules of reports: publication state, flags, and the seal."""

from __future__ import annotations

import base64
from datetime import date

import orjson
import pytest

from creditbridge.core.crypto import Sm2PrivateKey
from creditbridge.reports import domain
from creditbridge.reports.domain import Check, PubState, Window
from creditbridge.reports.service import report_rules

TODAY = date(2026, 1, 5)
KEY = Sm2PrivateKey.generate()


class TestPublication:
    def test_positive_information_is_always_published(self) -> None:
        state = domain.publication_state(
            negative=False, window=None, ended_on=None, repaired=False, today=TODAY
        )
        assert state is PubState.PUBLISHED

    @pytest.mark.parametrize(
        ("window", "ended_on", "repaired", "expected"),
        [
            (Window(True, date(2026, 6, 1)), None, False, PubState.PUBLISHED),
            (Window(True, date(2026, 1, 5)), None, False, PubState.EXPIRED),
            (Window(False, date(2026, 6, 1)), None, False, PubState.NOT_PUBLISHED),
            (Window(True, date(2026, 6, 1)), date(2026, 1, 1), False, PubState.ENDED),
            (Window(True, date(2026, 6, 1)), date(2026, 2, 1), False, PubState.PUBLISHED),
            (Window(True, date(2026, 6, 1)), None, True, PubState.REPAIRED),
        ],
    )
    def test_negative_record_stops_when_expired_ended_repaired_or_minor(
        self, window: Window, ended_on: date | None, repaired: bool, expected: PubState
    ) -> None:
        state = domain.publication_state(
            negative=True, window=window, ended_on=ended_on, repaired=repaired, today=TODAY
        )
        assert state is expected


class TestRules:
    def test_every_dataset_of_the_list_has_a_section(self) -> None:
        from creditbridge.catalog.service import bundled_catalog

        rules = report_rules()
        for dataset in bundled_catalog().datasets:
            section = rules.section_for(
                category=dataset.category, disclosure=dataset.disclosure_class
            )
            assert section is not None, dataset.code
            assert section.disclosure == dataset.disclosure_class

    def test_flags_are_raised_by_open_records_only(self) -> None:
        rules = report_rules()
        flags = domain.raised_flags(
            rules,
            [
                ("serious_dishonesty", {"list_name": "x"}),
                ("enforcement", {"closed_date": "2025-01-01"}),
            ],
        )
        assert flags == ["serious_dishonesty"]


class TestSeal:
    def _html(self, content: dict[str, object]) -> bytes:
        sealed = domain.seal(content, KEY)
        return (
            f'<html><body><p>x</p><script type="application/json" id="cb-report-seal">'
            f"{domain.html_seal_json(sealed)}</script></body></html>"
        ).encode()

    def test_sealed_html_passes_the_file_checks(self) -> None:
        raw = self._html({"report_no": "R1", "note": "</script><b>"})
        result = domain.check_seal(raw, KEY.public_key)
        assert result.ok
        assert result.file_format == "html"
        assert result.content == {"report_no": "R1", "note": "</script><b>"}

    def test_sealed_pdf_passes_the_file_checks(self) -> None:
        raw = b"%PDF-1.7\n...%%EOF" + domain.pdf_seal_line(domain.seal({"report_no": "R2"}, KEY))
        result = domain.check_seal(raw, KEY.public_key)
        assert result.ok
        assert result.file_format == "pdf"

    def test_changed_content_fails_the_digest(self) -> None:
        raw = self._html({"report_no": "R1", "amount": 100}).replace(b'"amount":100', b'"amount":1')
        assert domain.check_seal(raw, KEY.public_key).failed is Check.DIGEST

    def test_changed_content_with_a_recomputed_digest_fails_the_signature(self) -> None:
        sealed = domain.seal({"report_no": "R1", "amount": 100}, KEY)
        forged = domain.seal({"report_no": "R1", "amount": 1}, KEY)
        sealed["content"], sealed["digest"] = forged["content"], forged["digest"]
        raw = b"%PDF-1.7\n" + domain.pdf_seal_line(sealed)
        assert domain.check_seal(raw, KEY.public_key).failed is Check.SIGNATURE

    def test_another_key_fails_the_key_check(self) -> None:
        raw = self._html({"report_no": "R1"})
        other = Sm2PrivateKey.generate().public_key
        assert domain.check_seal(raw, other).failed is Check.KEY

    @pytest.mark.parametrize(
        "raw",
        [
            b"",
            b"<html>no seal</html>",
            b"%PDF-1.7 no seal",
            b"%PDF-1.7\n%CB-REPORT-SEAL !!!notbase64\n",
            b'<script type="application/json" id="cb-report-seal">{"format":"x"}</script>',
            b"%PDF\n%CB-REPORT-SEAL " + base64.b64encode(orjson.dumps({"format": 1})),
        ],
    )
    def test_missing_or_malformed_seal_fails_the_format(self, raw: bytes) -> None:
        assert domain.check_seal(raw, KEY.public_key).failed is Check.FORMAT
