"""The COPY text the repository writes escapes values as psycopg's write_row does."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st
from psycopg import _copy_base

from creditbridge.ingest.repository import _copy_text


def psycopg_escape(value: str) -> str:
    data = value.encode()
    return _copy_base._dump_re.sub(_copy_base._dump_sub, data).decode()


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.sampled_from(list('ab\\"\b\t\n\v\f\r 中{}:,')), max_size=20))
def test_values_are_escaped_as_psycopg_escapes_them(value: str) -> None:
    assert _copy_text(value) == psycopg_escape(value)


def test_json_of_a_record_with_backslashes_and_newlines() -> None:
    value = '{"name":"a\\\\b\\nc","note":"tab\\there"}'
    assert _copy_text(value) == psycopg_escape(value)
