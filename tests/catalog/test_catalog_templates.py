"""Upload templates of every dataset (CSV and XLSX, Chinese headers, an example row that uploads
clean) and the field aliases a list file may give."""

from __future__ import annotations

import csv
import io
from datetime import date
from typing import Any

import pytest
from fastapi.testclient import TestClient
from openpyxl import load_workbook
from sqlalchemy.orm import Session

import factories
from creditbridge.catalog import domain
from creditbridge.catalog import service as catalog_service
from creditbridge.catalog.errors import CatalogFileInvalid
from creditbridge.core.actors import CONSOLE
from creditbridge.core.config import IngestSettings
from creditbridge.ingest import service as ingest_service
from creditbridge.ingest.domain import validate_row
from creditbridge.ingest.readers import open_delivery
from web import conftest as web_fixtures

app = web_fixtures.app
client = web_fixtures.client

TODAY = date(2026, 12, 6)
BUNDLED = catalog_service.bundled_catalog()
CODES = [d.code for d in BUNDLED.datasets]


def test_example_codes_exist_in_the_reference_tables() -> None:
    domain.check_example_references()
    assert domain.EXAMPLE_USCC == "91340100MA2TBL8K9J"


@pytest.mark.parametrize("code", CODES)
def test_every_bundled_example_row_passes_validation(code: str) -> None:
    spec = next(d for d in BUNDLED.datasets if d.code == code)
    header, example = catalog_service.template_rows(spec, today=TODAY)

    outcome = validate_row(spec.fields, dict(zip(spec.field_codes, example, strict=True)), row=2)

    assert outcome.issues == []
    assert header == [domain.template_header(f) for f in spec.fields]
    # Chinese labels, not field codes, head the columns.
    assert header[0] == "统一社会信用代码"


def test_an_amount_header_states_its_unit_and_an_enum_example_is_allowed() -> None:
    spec = next(d for d in BUNDLED.datasets if d.code == "registration")
    header, example = catalog_service.template_rows(spec, today=TODAY)
    row = dict(zip(spec.field_codes, example, strict=True))

    assert "注册资本（万元）" in header
    assert row["status"] in (spec.field("status").enum or [])
    assert row["division_code"] == "340104"
    # A recent date, not a future one.
    assert row["registration_date"] == "2026-11-01"


def test_the_xlsx_template_explains_each_column() -> None:
    spec = next(d for d in BUNDLED.datasets if d.code == "penalty")
    book = load_workbook(io.BytesIO(catalog_service.template_xlsx(spec, today=TODAY)))

    data, guide = book.worksheets
    assert guide.title == "填写说明"
    header = [c.value for c in data[1]]
    assert header[0] == "统一社会信用代码"
    severity = header.index("失信行为严重程度") + 1
    comment = data.cell(row=1, column=severity).comment
    assert comment is not None
    assert "必填：是" in comment.text
    assert "minor（轻微）" in comment.text
    lines = {row[1]: row for row in guide.iter_rows(min_row=3, values_only=True)}
    assert lines["fine_amount"][3] == "元"
    assert lines["uscc"][4] == "是"
    assert "serious（严重）" in str(lines["severity"][5])


def test_the_csv_template_has_a_bom_and_one_example_row() -> None:
    spec = next(d for d in BUNDLED.datasets if d.code == "tax_payment")
    data = catalog_service.template_csv(spec, today=TODAY)

    assert data.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))
    assert len(rows) == 2
    assert rows[1][0] == domain.EXAMPLE_USCC


# ---------------------------------------------------------------- uploads clean, both stores


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_every_template_uploads_clean(session: Session, fmt: str) -> None:
    catalog_service.ensure_default_catalog(session)
    provider = factories.provider(session, datasets=CODES)
    for code in CODES:
        template = catalog_service.get_upload_template(session, code=code, fmt=fmt)
        outcome = ingest_service.ingest_batch(
            session, CONSOLE, provider_id=provider.id, dataset_code=code,
            batch_key=f"template-{fmt}-{code}", source=template.content,
            filename=template.filename, channel="file", settings=IngestSettings(),
        )  # fmt: skip
        assert (code, outcome.status, outcome.rows_total) == (code, "applied", 1)
        assert (code, outcome.rows_rejected, outcome.rows_warned) == (code, 0, 0), outcome.issues
        assert outcome.notes == []


# ---------------------------------------------------------------- routes


def test_templates_download_without_login_from_the_dataset_page(
    client: TestClient, session: Session
) -> None:
    catalog_service.ensure_default_catalog(session)
    page = client.get("/catalog/penalty")
    assert 'href="/catalog/penalty/template.xlsx"' in page.text
    assert 'href="/catalog/penalty/template.csv"' in page.text
    assert "/catalog/tax_payment/template.xlsx" in client.get("/catalog").text

    xlsx = client.get("/catalog/penalty/template.xlsx")
    assert xlsx.status_code == 200
    assert xlsx.headers["content-type"].startswith("application/vnd.openxmlformats")
    assert 'filename="penalty-template.xlsx"' in xlsx.headers["content-disposition"]
    load_workbook(io.BytesIO(xlsx.content))
    text = client.get("/catalog/penalty/template.csv")
    assert text.headers["content-type"].startswith("text/csv")
    assert text.content.decode("utf-8-sig").startswith("统一社会信用代码,")


def test_an_unknown_dataset_or_format_has_no_template(client: TestClient, session: Session) -> None:
    catalog_service.ensure_default_catalog(session)
    assert client.get("/catalog/nope/template.csv").status_code == 404
    assert client.get("/catalog/penalty/template.pdf").status_code in (404, 422)


# ---------------------------------------------------------------- aliases


def _with_aliases(small_catalog: dict[str, Any], aliases: list[str]) -> dict[str, Any]:
    small_catalog["datasets"][0]["fields"][0]["aliases"] = aliases
    return small_catalog


def test_a_header_may_name_a_field_by_its_alias(
    small_catalog: dict[str, Any], to_yaml: Any
) -> None:
    parsed = catalog_service.parse_catalog_file(
        text=to_yaml(_with_aliases(small_catalog, ["社会信用代码", "USCC"])), source_name="t.yaml"
    )
    spec = parsed.datasets[0]
    data = "社会信用代码,name中文,registration_date中文,status中文\n"
    data += f"{domain.EXAMPLE_USCC},某公司,2025-01-02,存续\n"

    delivery = open_delivery(data.encode(), fields=spec.fields, filename="x.csv")

    assert delivery.columns.positions[0] == "uscc"
    assert delivery.columns.ignored == []
    assert next(delivery.rows).values["uscc"] == domain.EXAMPLE_USCC


def test_an_alias_that_is_another_fields_label_is_refused(
    small_catalog: dict[str, Any], to_yaml: Any
) -> None:
    text = to_yaml(_with_aliases(small_catalog, ["name中文"]))

    with pytest.raises(CatalogFileInvalid) as refused:
        catalog_service.parse_catalog_file(text=text, source_name="t.yaml")

    assert [i.field for i in refused.value.issues] == ["datasets[0].fields[0].aliases[0]"]


def test_the_dataset_page_lists_a_fields_aliases(
    client: TestClient, session: Session, small_catalog: dict[str, Any], to_yaml: Any
) -> None:
    catalog_service.load_catalog(
        session, CONSOLE, text=to_yaml(_with_aliases(small_catalog, ["社会信用代码"])),
        source_name="t.yaml",
    )  # fmt: skip
    page = client.get("/catalog/registration")
    assert "社会信用代码" in page.text
    assert 'data-testid="aliases"' in page.text
