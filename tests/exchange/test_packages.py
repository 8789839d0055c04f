"""The exchange's wire format as pure rules: packages, sequencing, receipts, the log's chain and
the reconciliation digest."""

from __future__ import annotations

import base64
import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from creditbridge.core.crypto import Sm2PrivateKey, canonical_json, sign, sm3_hex, verify
from creditbridge.exchange import packages as p
from creditbridge.exchange.packages import (
    Direction,
    ExchangeRecord,
    LogEntry,
    LogKind,
    Operation,
    ReceiptStatus,
    RejectReason,
    SequenceDecision,
)

CITY_KEY = Sm2PrivateKey.generate()
PROVINCE_KEY = Sm2PrivateKey.generate()
CITY, PROVINCE = "370200", "370000"
NOW = datetime(2026, 1, 5, 2, 0, tzinfo=UTC)
SKEW = timedelta(minutes=5)
LIMIT = 1 << 20
REGISTRY = {
    CITY: {CITY_KEY.public_key.fingerprint: CITY_KEY.public_key},
    PROVINCE: {PROVINCE_KEY.public_key.fingerprint: PROVINCE_KEY.public_key},
}


def _records() -> list[ExchangeRecord]:
    return [
        ExchangeRecord(
            "rec-2",
            3,
            CITY,
            Operation.UPSERT,
            {"name": "青岛海湾化工有限公司", "amount": Decimal("1.50"), "on": "2025-12-01"},
        ),
        ExchangeRecord("rec-1", 1, CITY, Operation.UPSERT, {"name": "Alpha", "n": 7}),
        ExchangeRecord("rec-9", 2, CITY, Operation.WITHDRAW),
    ]


def _package(sequence: int = 1, **kwargs: object) -> p.Package:
    args: dict[str, object] = {
        "origin": CITY,
        "receiver": PROVINCE,
        "stream": "enterprise_basic",
        "sequence": sequence,
        "records": _records(),
        "key": CITY_KEY,
        "created_at": NOW,
    }
    args.update(kwargs)
    return p.build_package(**args)  # type: ignore[arg-type]


def _verify(package: p.Package, **kwargs: object) -> None:
    args: dict[str, object] = {"keys_of_origin": REGISTRY, "now": NOW, "max_skew": SKEW}
    args.update(kwargs)
    p.verify(package, **args)  # type: ignore[arg-type]


def _split(data: bytes) -> tuple[dict[str, object], bytes]:
    first, _, body = data.partition(b"\n")
    return json.loads(first), body


def _join(envelope: dict[str, object], body: bytes) -> bytes:
    return canonical_json(envelope) + b"\n" + body


class TestPackageFormat:
    def test_round_trip_gives_back_the_signed_package(self) -> None:
        package = _package()
        data = p.encode(package)

        decoded = p.decode(data, max_bytes=LIMIT)

        _verify(decoded)
        # Data comes back as canonical JSON wrote it (a Decimal as its text); all else is equal.
        assert (decoded.header, decoded.signature, decoded.body) == (
            package.header,
            package.signature,
            package.body,
        )
        assert decoded.records[1:] == package.records[1:]
        assert p.encode(decoded) == data
        assert decoded.package_id == f"{CITY}/{PROVINCE}/enterprise_basic/1"
        assert decoded.digest == sm3_hex(package.header.signed_bytes())
        assert [r.id for r in decoded.records] == ["rec-2", "rec-1", "rec-9"]
        assert decoded.records[0].data == {
            "amount": "1.5",
            "name": "青岛海湾化工有限公司",
            "on": "2025-12-01",
        }
        assert decoded.records[2].data is None

    def test_the_encoding_is_one_canonical_line_per_record(self) -> None:
        data = p.encode(_package())
        lines = data.split(b"\n")

        assert lines[-1] == b""
        assert len(lines) == 1 + 3 + 1
        assert lines[2] == (
            b'{"data":{"n":7,"name":"Alpha"},"id":"rec-1","operation":"upsert",'
            b'"origin":"370200","version":1}'
        )
        assert "青岛".encode() in lines[1]
        envelope, body = _split(data)
        header = envelope["header"]
        assert isinstance(header, dict)
        assert header["body_digest"] == sm3_hex(body)
        assert header["body_bytes"] == len(body)
        assert header["count"] == 3
        assert header["created_at"] == "2026-01-05T02:00:00Z"
        assert header["key_id"] == CITY_KEY.public_key.fingerprint

    def test_an_empty_package_has_an_empty_body(self) -> None:
        package = _package(records=[])
        data = p.encode(package)

        assert data.endswith(b"\n")
        assert data.count(b"\n") == 1
        decoded = p.decode(data, max_bytes=LIMIT)
        _verify(decoded)
        assert decoded.records == ()

    def test_build_refuses_a_record_twice_and_bad_names(self) -> None:
        record = _records()[0]
        with pytest.raises(ValueError, match="at most once"):
            _package(records=[record, record])
        with pytest.raises(ValueError, match="stream"):
            _package(stream="a/b")
        with pytest.raises(ValueError, match="sequence"):
            _package(sequence=0)
        with pytest.raises(ValueError, match="data"):
            ExchangeRecord("x", 1, CITY, Operation.WITHDRAW, {"a": 1})


class TestPackageRefusals:
    def _code(self, error: pytest.ExceptionInfo[p.ExchangeError]) -> str:
        return error.value.code

    def test_a_package_over_the_limit_is_refused_before_parsing(self) -> None:
        data = p.encode(_package())

        with pytest.raises(p.PackageTooLarge) as error:
            p.decode(data, max_bytes=len(data) - 1)

        assert error.value.code == "CB-EXCH-TOO-LARGE"
        assert error.value.status_code == 413
        assert error.value.params == {"size": len(data), "limit": len(data) - 1}
        assert p.decode(data, max_bytes=len(data)).header.count == 3

    def test_a_header_announcing_a_body_over_the_limit_is_refused(self) -> None:
        envelope, body = _split(p.encode(_package()))
        header = envelope["header"]
        assert isinstance(header, dict)
        header["body_bytes"] = 10 * LIMIT

        with pytest.raises(p.PackageTooLarge):
            p.decode(_join(envelope, body), max_bytes=LIMIT)

    def test_a_bad_signature_is_refused(self) -> None:
        forged = replace(_package(), signature=_package(sequence=2).signature)

        with pytest.raises(p.SignatureInvalid) as error:
            _verify(forged)
        assert error.value.code == "CB-EXCH-SIGNATURE"

    def test_a_package_signed_with_another_key_under_the_origins_key_id_is_refused(self) -> None:
        package = _package(key=PROVINCE_KEY, key_id=CITY_KEY.public_key.fingerprint)

        with pytest.raises(p.SignatureInvalid):
            _verify(package)

    def test_a_tampered_header_fails_its_signature(self) -> None:
        envelope, body = _split(p.encode(_package(sequence=5)))
        header = envelope["header"]
        assert isinstance(header, dict)
        header["sequence"] = 6

        tampered = p.decode(_join(envelope, body), max_bytes=LIMIT)

        assert tampered.header.sequence == 6
        with pytest.raises(p.SignatureInvalid):
            _verify(tampered)

    def test_a_tampered_body_fails_the_digest(self) -> None:
        data = p.encode(_package())
        tampered = data.replace(b'"n":7', b'"n":8')
        assert tampered != data

        package = p.decode(tampered, max_bytes=LIMIT)

        with pytest.raises(p.DigestMismatch) as error:
            _verify(package)
        assert error.value.code == "CB-EXCH-DIGEST"

    def test_a_dropped_record_line_fails_the_digest(self) -> None:
        data = p.encode(_package())
        first, _, body = data.partition(b"\n")
        shortened = first + b"\n" + body.split(b"\n", 1)[1]

        with pytest.raises(p.DigestMismatch):
            _verify(p.decode(shortened, max_bytes=LIMIT))

    def test_a_count_that_does_not_match_the_body_is_refused(self) -> None:
        # An origin that signs a wrong count (a bug on its side) is caught even though digest and
        # signature agree.
        package = _package()
        header = replace(package.header, count=4)
        wrong = replace(package, header=header, signature=sign(CITY_KEY, header.signed_bytes()))

        with pytest.raises(p.CountMismatch) as error:
            _verify(p.decode(p.encode(wrong), max_bytes=LIMIT))
        assert error.value.code == "CB-EXCH-COUNT"
        assert error.value.params == {"declared": 4, "actual": 3}

    def test_an_unknown_origin_is_refused(self) -> None:
        with pytest.raises(p.OriginUnknown) as error:
            _verify(_package(), keys_of_origin={PROVINCE: REGISTRY[PROVINCE]})
        assert error.value.code == "CB-EXCH-ORIGIN-UNKNOWN"
        assert error.value.params == {"node": CITY}

    def test_an_unknown_key_of_a_known_origin_is_refused(self) -> None:
        rotated = Sm2PrivateKey.generate()

        with pytest.raises(p.OriginUnknown) as error:
            _verify(_package(key=rotated))
        assert error.value.key == "error.exchange.package.key_unknown"

    @pytest.mark.parametrize("offset", [timedelta(minutes=6), -timedelta(minutes=6)])
    def test_clock_skew_beyond_the_limit_is_refused(self, offset: timedelta) -> None:
        package = _package(created_at=NOW + offset)

        with pytest.raises(p.ClockSkew) as error:
            _verify(package)
        assert error.value.code == "CB-EXCH-SKEW"
        assert error.value.params == {"seconds": 360, "limit": 300}
        _verify(package, max_skew=timedelta(minutes=6))

    def test_a_package_for_another_node_is_refused(self) -> None:
        with pytest.raises(p.WrongReceiver):
            _verify(_package(), receiver="370300")
        _verify(_package(), receiver=PROVINCE)

    @pytest.mark.parametrize(
        "data",
        [
            b"",
            b"no newline",
            b"not json\n",
            b"[]\n",
            b'{"header": {}, "signature": {}}\n',
        ],
    )
    def test_garbage_is_a_format_error(self, data: bytes) -> None:
        with pytest.raises(p.PackageFormatInvalid) as error:
            p.decode(data, max_bytes=LIMIT)
        assert error.value.code == "CB-EXCH-FORMAT"

    def test_a_non_canonical_record_line_is_a_format_error(self) -> None:
        data = p.encode(_package())
        spaced = data.replace(b'"n":7', b'"n": 7')

        with pytest.raises(p.PackageFormatInvalid):
            p.decode(spaced, max_bytes=LIMIT)

    def test_another_format_version_is_a_format_error(self) -> None:
        envelope, body = _split(p.encode(_package()))
        header = envelope["header"]
        assert isinstance(header, dict)
        header["format"] = "creditbridge-exchange-package/2"

        with pytest.raises(p.PackageFormatInvalid, match="package/2"):
            p.decode(_join(envelope, body), max_bytes=LIMIT)

    @pytest.mark.parametrize(
        "line",
        [
            b'{"data":null,"id":"x","operation":"delete","origin":"370200","version":1}',
            b'{"data":null,"id":"x","operation":"upsert","origin":"370200","version":1}',
            b'{"data":{},"id":"x","operation":"upsert","origin":"370200","version":0}',
            b'{"data":{},"id":"x","operation":"upsert","origin":"370200","version":true}',
            b'{"data":[],"id":"x","operation":"upsert","origin":"370200","version":1}',
            b'{"data":{},"id":"x","operation":["upsert"],"origin":"370200","version":1}',
            b'{"id":"x","operation":"withdraw","origin":"370200","version":1}',
        ],
    )
    def test_a_malformed_record_is_a_format_error(self, line: bytes) -> None:
        envelope, _ = _split(p.encode(_package(records=[])))

        with pytest.raises(p.PackageFormatInvalid):
            p.decode(_join(envelope, line + b"\n"), max_bytes=LIMIT)

    def test_a_body_without_its_final_newline_is_a_format_error(self) -> None:
        with pytest.raises(p.PackageFormatInvalid):
            p.decode(p.encode(_package())[:-1], max_bytes=LIMIT)

    def test_a_signature_that_is_not_base64_is_a_format_error(self) -> None:
        envelope, body = _split(p.encode(_package()))
        envelope["signature"] = {"algorithm": "SM2-SM3", "value": "***"}

        with pytest.raises(p.PackageFormatInvalid):
            p.decode(_join(envelope, body), max_bytes=LIMIT)


class TestSequencing:
    def test_the_next_sequence_applies(self) -> None:
        assert p.check_sequence(0, 1) == p.SequenceCheck(SequenceDecision.APPLY)
        assert p.check_sequence(41, 42).decision is SequenceDecision.APPLY

    @pytest.mark.parametrize("incoming", [1, 5, 7])
    def test_a_replayed_sequence_is_a_duplicate(self, incoming: int) -> None:
        check = p.check_sequence(7, incoming)

        assert check.decision is SequenceDecision.DUPLICATE
        assert check.missing is None

    def test_a_gap_names_the_missing_range(self) -> None:
        assert p.check_sequence(7, 9) == p.SequenceCheck(SequenceDecision.GAP, (8, 8))
        assert p.check_sequence(0, 4) == p.SequenceCheck(SequenceDecision.GAP, (1, 3))

    @pytest.mark.parametrize(("last", "incoming"), [(0, 0), (-1, 1), (3, -2)])
    def test_impossible_sequences_are_programming_errors(self, last: int, incoming: int) -> None:
        with pytest.raises(ValueError, match="sequences"):
            p.check_sequence(last, incoming)


@given(last=st.integers(0, 10**6), incoming=st.integers(1, 10**6))
def test_every_incoming_sequence_is_applied_skipped_or_asked_for(last: int, incoming: int) -> None:
    check = p.check_sequence(last, incoming)

    if check.decision is SequenceDecision.GAP:
        assert check.missing is not None
        first, end = check.missing
        # Asking for exactly the missing range and applying it makes ``incoming`` next.
        assert (first, end + 1) == (last + 1, incoming)
        assert p.check_sequence(end, incoming).decision is SequenceDecision.APPLY
    else:
        assert check.missing is None
        assert (check.decision is SequenceDecision.APPLY) == (incoming == last + 1)


_texts = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=12)
_data = st.dictionaries(
    _texts, st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1) | _texts, max_size=4
)


@given(
    records=st.lists(
        st.tuples(_texts.filter(bool), st.integers(1, 2**31), st.none() | _data),
        max_size=5,
        unique_by=lambda r: r[0],
    )
)
def test_any_records_round_trip_and_verify(
    records: list[tuple[str, int, dict[str, object] | None]],
) -> None:
    package = _package(
        records=[
            ExchangeRecord(i, v, CITY, Operation.WITHDRAW if d is None else Operation.UPSERT, d)
            for i, v, d in records
        ]
    )

    decoded = p.decode(p.encode(package), max_bytes=LIMIT)

    _verify(decoded)
    assert decoded == package


class TestReceipts:
    def _receipt(self, package: p.Package | None = None, **kwargs: object) -> p.Receipt:
        args: dict[str, object] = {
            "status": ReceiptStatus.ACCEPTED,
            "applied": 2,
            "key": PROVINCE_KEY,
            "reasons": [RejectReason("CB-EXCH-STALE", record_id="rec-9", field="version")],
            "received_at": NOW + timedelta(seconds=2),
        }
        args.update(kwargs)
        return p.build_receipt(package or _package(), **args)  # type: ignore[arg-type]

    def test_round_trip_and_verify_against_the_package(self) -> None:
        package = _package()
        receipt = self._receipt(package)
        data = p.encode_receipt(receipt)

        decoded = p.decode_receipt(data)

        assert decoded == receipt
        assert data.count(b"\n") == 1
        assert data.endswith(b"\n")
        p.verify_receipt(
            decoded, keys_of_receiver=REGISTRY, package=package, now=NOW, max_skew=SKEW
        )
        assert decoded.package_digest == package.digest
        assert decoded.package_id == package.package_id
        assert (decoded.origin, decoded.receiver, decoded.sequence) == (CITY, PROVINCE, 1)
        assert decoded.reasons == (RejectReason("CB-EXCH-STALE", "rec-9", "version"),)
        assert decoded.key_id == PROVINCE_KEY.public_key.fingerprint

    def test_a_rejection_round_trips_with_its_reasons(self) -> None:
        receipt = self._receipt(
            status=ReceiptStatus.REJECTED, applied=0, reasons=[RejectReason("CB-EXCH-SIGNATURE")]
        )

        decoded = p.decode_receipt(p.encode_receipt(receipt))

        p.verify_receipt(decoded, keys_of_receiver=REGISTRY)
        assert decoded.status is ReceiptStatus.REJECTED
        assert decoded.reasons == (RejectReason("CB-EXCH-SIGNATURE", None, None),)

    def test_a_rejection_must_apply_nothing_and_say_why(self) -> None:
        with pytest.raises(ValueError, match="applies nothing"):
            self._receipt(status=ReceiptStatus.REJECTED, applied=1)
        with pytest.raises(ValueError, match="at least one reason"):
            self._receipt(status=ReceiptStatus.REJECTED, applied=0, reasons=[])
        with pytest.raises(ValueError, match="records of the package"):
            self._receipt(applied=4)

    def test_a_tampered_receipt_fails_its_signature(self) -> None:
        data = p.encode_receipt(self._receipt())
        tampered = data.replace(b'"applied":2', b'"applied":3')
        assert tampered != data

        with pytest.raises(p.SignatureInvalid):
            p.verify_receipt(p.decode_receipt(tampered), keys_of_receiver=REGISTRY)

    def test_a_receipt_signed_by_an_unknown_receiver_is_refused(self) -> None:
        with pytest.raises(p.OriginUnknown):
            p.verify_receipt(self._receipt(), keys_of_receiver={CITY: REGISTRY[CITY]})

    def test_a_receipt_for_another_package_is_refused(self) -> None:
        receipt = self._receipt(_package(sequence=1))

        with pytest.raises(p.DigestMismatch):
            p.verify_receipt(receipt, keys_of_receiver=REGISTRY, package=_package(sequence=2))

    def test_a_receipt_from_a_skewed_clock_is_refused(self) -> None:
        receipt = self._receipt(received_at=NOW + timedelta(hours=1))

        with pytest.raises(p.ClockSkew):
            p.verify_receipt(receipt, keys_of_receiver=REGISTRY, now=NOW, max_skew=SKEW)

    @pytest.mark.parametrize(
        "data", [b"", b"{}\n", b"{}\n{}\n", b'{"receipt":{},"signature":{}}\n']
    )
    def test_garbage_is_a_format_error(self, data: bytes) -> None:
        with pytest.raises(p.PackageFormatInvalid):
            p.decode_receipt(data)

    def test_a_receipt_over_the_limit_is_refused(self) -> None:
        data = p.encode_receipt(self._receipt())

        with pytest.raises(p.PackageTooLarge):
            p.decode_receipt(data, max_bytes=len(data) - 1)


def _entries(n: int) -> list[LogEntry]:
    return [
        LogEntry(
            kind=LogKind.PACKAGE if i % 2 == 0 else LogKind.RECEIPT,
            digest=sm3_hex(str(i).encode()),
            direction=Direction.SENT if i % 2 == 0 else Direction.RECEIVED,
            peer=PROVINCE,
            stream="enterprise_basic",
            sequence=i // 2 + 1,
            at=NOW + timedelta(seconds=i),
        )
        for i in range(n)
    ]


def _chain(entries: list[LogEntry]) -> list[tuple[LogEntry, str]]:
    chained, prev = [], p.GENESIS
    for entry in entries:
        prev = p.chain_entry(prev, entry)
        chained.append((entry, prev))
    return chained


class TestChain:
    def test_an_intact_chain_verifies(self) -> None:
        chained = _chain(_entries(6))

        assert p.verify_chain(chained) is None
        assert p.verify_chain([]) is None
        assert len({h for _, h in chained}) == 6

    def test_each_hash_depends_on_the_previous_one(self) -> None:
        entry = _entries(1)[0]

        assert p.chain_entry(p.GENESIS, entry) != p.chain_entry("1" * 64, entry)
        assert p.chain_entry(p.GENESIS, entry) == sm3_hex(
            p.GENESIS.encode() + b"\n" + canonical_json(entry.as_dict())
        )
        with pytest.raises(ValueError, match="hex"):
            p.chain_entry("not a hash", entry)

    def test_an_altered_entry_is_the_broken_link(self) -> None:
        chained = _chain(_entries(6))
        entry, stored = chained[3]
        chained[3] = (replace(entry, sequence=99), stored)

        broken = p.verify_chain(chained)

        assert broken is not None
        assert broken.index == 3
        assert broken.found == stored
        assert broken.expected == p.chain_entry(chained[2][1], chained[3][0])

    def test_a_deleted_entry_breaks_the_link_after_it(self) -> None:
        chained = _chain(_entries(6))
        del chained[2]

        broken = p.verify_chain(chained)

        assert broken is not None
        assert broken.index == 2

    def test_swapped_entries_break_the_chain(self) -> None:
        chained = _chain(_entries(4))
        chained[1], chained[2] = chained[2], chained[1]

        broken = p.verify_chain(chained)

        assert broken is not None
        assert broken.index == 1

    def test_a_chain_resumed_from_an_archived_hash_verifies_from_there(self) -> None:
        chained = _chain(_entries(6))

        assert p.verify_chain(chained[3:], genesis=chained[2][1]) is None
        broken = p.verify_chain(chained[3:])
        assert broken is not None
        assert broken.index == 0


@given(
    local=st.dictionaries(st.text(max_size=3), st.integers(1, 3), max_size=8),
    remote=st.dictionaries(st.text(max_size=3), st.integers(1, 3), max_size=8),
)
def test_the_digests_agree_exactly_when_compare_finds_nothing(
    local: dict[str, int], remote: dict[str, int]
) -> None:
    diff = p.compare(local.items(), remote.items())

    same_summary = p.reconciliation_digest(local.items()) == p.reconciliation_digest(remote.items())
    assert same_summary == diff.matches == (local == remote)
    assert set(diff.missing) == remote.keys() - local.keys()


class TestReconciliation:
    def test_equal_holdings_give_equal_summaries_whatever_the_order(self) -> None:
        pairs = [("b", 2), ("a", 1), ("c", 5)]

        one = p.reconciliation_digest(pairs)
        other = p.reconciliation_digest(reversed(pairs))

        assert one == other
        assert one.count == 3
        expected = sm3_hex(b'["a",1]\n["b",2]\n["c",5]\n')
        assert one.digest == expected
        assert p.reconciliation_digest(sorted(pairs), presorted=True) == one

    def test_a_different_version_or_a_missing_id_changes_the_digest(self) -> None:
        base = p.reconciliation_digest([("a", 1), ("b", 2)])

        assert p.reconciliation_digest([("a", 1), ("b", 3)]).digest != base.digest
        assert p.reconciliation_digest([("a", 1)]) != base
        assert p.reconciliation_digest([]) == p.ReconciliationSummary(0, sm3_hex(b""))

    def test_presorted_input_out_of_order_or_repeated_is_refused(self) -> None:
        with pytest.raises(ValueError, match="ascending"):
            p.reconciliation_digest([("b", 1), ("a", 1)], presorted=True)
        with pytest.raises(ValueError, match="unique"):
            p.reconciliation_digest([("a", 1), ("a", 2)])

    def test_compare_names_missing_extra_and_differing_ids(self) -> None:
        local = [("a", 1), ("b", 2), ("c", 3), ("e", 1)]
        remote = [("a", 1), ("b", 4), ("d", 1), ("e", 1), ("f", 2)]

        diff = p.compare(local, remote)

        assert diff.missing == ("d", "f")
        assert diff.extra == ("c",)
        assert diff.differing == (("b", 2, 4),)
        assert not diff.matches
        assert p.compare(remote, list(reversed(remote))).matches

    def test_compare_refuses_an_id_listed_twice(self) -> None:
        with pytest.raises(ValueError, match="listed twice"):
            p.compare([("a", 1), ("a", 2)], [])


def test_signatures_are_base64_der_in_the_envelope() -> None:
    envelope, _ = _split(p.encode(_package()))
    signature = envelope["signature"]
    assert isinstance(signature, dict)

    raw = base64.b64decode(signature["value"])

    assert signature["algorithm"] == "SM2-SM3"
    assert raw[0] == 0x30  # DER SEQUENCE {r, s}
    assert verify(
        CITY_KEY.public_key,
        p.decode(p.encode(_package()), max_bytes=LIMIT).header.signed_bytes(),
        raw,
    )
