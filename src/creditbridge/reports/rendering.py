"""The report's one template rendered to HTML, and that HTML to PDF (WeasyPrint).

HTML and PDF come from ``reports/report.html`` with the same content; the PDF differs only in
leaving out the on-screen toolbar and in taking the stylesheet from disk. Fonts: the print
stylesheet asks for Noto Sans CJK SC, which ``scripts/ensure-fonts`` installs from Debian
(fonts-noto-cjk) with libharfbuzz-subset, so WeasyPrint embeds a subset in each PDF.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from functools import lru_cache, partial
from typing import TYPE_CHECKING, Any, Final, Literal

import segno

from creditbridge import __version__
from creditbridge.presentation import i18n, templating
from creditbridge.presentation.templating import environment
from creditbridge.reference import divisions, industries
from creditbridge.reports import domain

if TYPE_CHECKING:
    from weasyprint import CSS  # type: ignore[import-untyped]
    from weasyprint.text.fonts import FontConfiguration  # type: ignore[import-untyped]

    from creditbridge.reports.service import Catalog, FieldInfo

STATIC_DIR: Final = templating.STATIC_DIR / "reports"
STYLESHEET: Final = STATIC_DIR / "report.css"
MAX_COLUMNS: Final = 6
_UNIT_FEN: Final = {"yuan": Decimal(100), "wan_yuan": Decimal(1_000_000)}
_UNIT_SUFFIX: Final = {
    "person": ("人", " persons"),
    "month": ("个月", " months"),
    "kwh": ("千瓦时", " kWh"),
    "m3": ("立方米", " m³"),
    "m2": ("平方米", " m²"),
    "percent": ("%", "%"),
}


def qr_data_uri(url: str) -> str:
    """The verification link as a QR code (SVG data URI: the CSP admits data: images)."""
    # A fixed mask pattern (any of the eight is valid, ISO/IEC 18004 §7.8): choosing the "best"
    # one scores all eight and took 3.5 of the HTML report's ~10 ms.
    data_uri: str = segno.make_qr(url, error="m", mask=2).svg_data_uri(scale=3, border=2)
    return data_uri


def format_value(field: FieldInfo, value: Any, lang: Literal["zh", "en"]) -> str:
    """A record's value as the report shows it: 万元, 年月日, labels of coded values."""
    if value is None or value == "":
        return "—"
    if isinstance(value, bool) or field.type == "boolean":
        if isinstance(value, bool):
            return ("是" if value else "否") if lang == "zh" else ("Yes" if value else "No")
        return str(value)
    text = str(value)
    if "*" in text:  # masked
        return text
    if field.type == "amount" and field.unit in _UNIT_FEN:
        try:
            fen = int(Decimal(text) * _UNIT_FEN[field.unit])
        except InvalidOperation:
            return text
        return i18n.format_money(fen, lang)
    if field.type == "date":
        day = domain.parse_day(text)
        return i18n.format_date(day, lang) if day else text
    if field.type == "period" and len(text) == 7 and text[4] == "-":
        year, month = text[:4], int(text[5:7])
        return f"{year}年{month}月" if lang == "zh" else f"{year}-{month:02d}"
    if field.type == "division_code":
        name = divisions.name(text)
        return f"{name}（{text}）" if name else text
    if field.type == "industry_code":
        division = industries.division(text[:2]) if len(text) >= 2 else None
        return f"{text} {division.name_zh}" if division and lang == "zh" else text
    if field.type == "enum" and field.enum_labels:
        label = field.enum_labels.get(text)
        if label and lang == "zh":
            return label
    if field.unit in _UNIT_SUFFIX:
        return text + _UNIT_SUFFIX[field.unit][0 if lang == "zh" else 1]
    return text


def columns(fields: tuple[FieldInfo, ...]) -> tuple[list[FieldInfo], list[FieldInfo]]:
    """Table columns (short fields, at most MAX_COLUMNS) and long fields shown under the row."""
    short = [f for f in fields if f.code != "uscc" and f.type != "text"]
    long = [f for f in fields if f.type == "text"]
    return short[:MAX_COLUMNS], long + short[MAX_COLUMNS:]


def render_report(
    content: Mapping[str, Any],
    sealed: Mapping[str, Any],
    *,
    catalog: Catalog,
    lang: Literal["zh", "en"] = "zh",
    base_url: str = "",
    for_pdf: bool = False,
) -> str:
    template = environment.get_template("reports/report.html")
    verify_path = f"/verify/{content['report_no']}"
    verify_url = base_url.rstrip("/") + verify_path
    return template.render(
        lang=lang,
        t=partial(i18n.translate, lang),
        label=partial(i18n.label, lang),
        pick=partial(i18n.pick, lang),
        show=partial(format_value, lang=lang),
        columns=columns,
        datasets=catalog.datasets,
        c=content,
        issued_at=_parse_instant(content["issued_at"]),
        registration_date=domain.parse_day(content["subject"]["registration_date"]),
        sealed=sealed,
        seal_json=domain.html_seal_json(sealed),
        seal_id=domain.HTML_SEAL_ID,
        qr=qr_data_uri(verify_url),
        verify_url=verify_url,
        for_pdf=for_pdf,
        version=__version__,
        flag_rules={f.code: f for f in _rules().flags},
    )


def _rules() -> domain.ReportRules:
    from creditbridge.reports.service import report_rules

    return report_rules()


def _parse_instant(text: str) -> Any:
    from datetime import datetime

    return datetime.fromisoformat(text)


@lru_cache(maxsize=1)
def _pdf_assets() -> tuple[CSS, FontConfiguration]:
    from weasyprint import CSS
    from weasyprint.text.fonts import FontConfiguration

    fonts = FontConfiguration()
    return CSS(filename=str(STYLESHEET), font_config=fonts), fonts


def html_to_pdf(html: str) -> bytes:
    """The PDF of a rendered report (A4, fonts subset and embedded)."""
    from weasyprint import HTML

    stylesheet, fonts = _pdf_assets()
    pdf: bytes = HTML(string=html, base_url=str(STATIC_DIR)).write_pdf(
        stylesheets=[stylesheet], font_config=fonts
    )
    return pdf
