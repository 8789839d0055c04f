"""The compiled validator agrees with validate_row on every input, clean or not."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from creditbridge.catalog.service import bundled_catalog
from creditbridge.ingest.domain import RowValidator, validate_row

from .conftest import codes

SPECS = {d.code: d for d in bundled_catalog().datasets}
CODES = codes(5)

values = st.one_of(
    st.sampled_from(
        [
            "",
            " ",
            "-",
            "无",
            "是",
            "否",
            "1",
            "0",
            "007",
            "12.5",
            "12.50",
            "12.345",
            "1,234.5",
            "1.5万元",
            "-3",
            "2026-09",
            "2026/9",
            "202609",
            "2026年9月",
            "2026-13",
            "2024-02-30",
            "20240102",
            "2024年1月2日",
            "３",
            "１２.５",
            "340102",
            "C13",
            "存续",
            "abc",
            *CODES,
            CODES[0].lower(),
        ]
    ),
    st.integers(-5, 10**6),
    st.booleans(),
    st.none(),
    st.text(max_size=6),
)


def agree(dataset: str, raw: dict[str, object]) -> None:
    fields = SPECS[dataset].fields
    fast = RowValidator(fields)(dict(raw), row=7)
    slow = validate_row(fields, dict(raw), row=7)
    assert (fast.values, fast.issues, fast.status) == (slow.values, slow.issues, slow.status)


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_tax_payment_rows_agree(data: st.DataObject) -> None:
    fields = SPECS["tax_payment"].fields
    agree("tax_payment", {f.code: data.draw(values) for f in fields})


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(sorted(SPECS)), st.data())
def test_rows_of_every_dataset_agree(dataset: str, data: st.DataObject) -> None:
    agree(dataset, {f.code: data.draw(values) for f in SPECS[dataset].fields})


def test_a_clean_row_twice_gives_the_same_values() -> None:
    fields = SPECS["tax_payment"].fields
    validate = RowValidator(fields)
    raw = {"uscc": CODES[0], "period": "2026-09", "declared": "是", "taxable_revenue": "12.5",
           "vat_paid": "0.05", "income_tax_paid": "100", "total_tax_paid": "1.00"}  # fmt: skip
    assert validate(raw, row=1).values == validate(raw, row=2).values
    assert validate(raw, row=1).values == validate_row(fields, raw, row=1).values


def agree_many(dataset: str, raws: Sequence[Mapping[str, object]]) -> None:
    fields = SPECS[dataset].fields
    many = RowValidator(fields).many([dict(r) for r in raws], list(range(3, 3 + len(raws))))
    slow = [validate_row(fields, dict(r), row=i) for i, r in enumerate(raws, start=3)]
    assert [(o.row, o.values, o.issues, o.status) for o in many] == [
        (o.row, o.values, o.issues, o.status) for o in slow
    ]


@settings(max_examples=200, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.data())
def test_tax_payment_chunks_read_by_column_agree(data: st.DataObject) -> None:
    fields = SPECS["tax_payment"].fields
    text = values.map(lambda v: v if v is None or isinstance(v, str) else str(v))
    raws = data.draw(
        st.lists(st.fixed_dictionaries({f.code: text for f in fields}), min_size=1, max_size=8)
    )
    agree_many("tax_payment", raws)


@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.sampled_from(sorted(SPECS)), st.data())
def test_chunks_of_every_dataset_read_by_column_agree(dataset: str, data: st.DataObject) -> None:
    fields = SPECS[dataset].fields
    raws = data.draw(
        st.lists(st.fixed_dictionaries({f.code: values for f in fields}), min_size=1, max_size=6)
    )
    agree_many(dataset, raws)


def test_plain_amounts_read_by_column_as_one_by_one() -> None:
    amounts = ["0", "00", "0.5", "12.", ".5", "12.0", "12.00", "12.05", "12.50", "12.345",
               "1" * 18, "1" * 19, "007", "1,234", "12.5万元", "１２.５", " 12", "-1", "1e3"]  # fmt: skip
    raws = [
        {
            "uscc": CODES[0],
            "period": "2026-09",
            "declared": "是",
            "taxable_revenue": a,
            "vat_paid": a,
            "income_tax_paid": "1",
            "total_tax_paid": a,
        }
        for a in amounts
    ]
    agree_many("tax_payment", raws)
