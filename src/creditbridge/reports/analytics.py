"""Region and industry aggregates on the analytics path: DuckDB over a Parquet snapshot.

Two stages, so that the figures scale to a province (~2 million enterprises):

1. :func:`build_facts` — one row per enterprise (its city, county, industry section and division,
   size class; penalties decided in the last 12 months, whether it is on the serious dishonesty list or under
   enforcement, tax paid over the last 12 months) from the records snapshot that
   :func:`creditbridge.ingest.analytics.export_snapshot` writes, plus a Parquet file of the
   subjects' dimensions written here (the shared snapshot carries only the city).
2. :func:`aggregate` — every dimension in one ``GROUPING SETS`` query over the facts. Cells with
   fewer than :data:`MIN_CELL` enterprises are suppressed (all their figures withheld), so that no
   figure describes an identifiable handful of enterprises.

:func:`refresh` runs both in the caller's transaction and stores the result as an
:class:`~creditbridge.reports.models.AggregateRun`; pages, the API and the Excel export read it.
"""

from __future__ import annotations

import io
import shutil
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any, Final

import duckdb
import pyarrow as pa  # type: ignore[import-untyped]
from sqlalchemy import select
from sqlalchemy.orm import Session

from creditbridge.audit import service as audit
from creditbridge.core import snapshot
from creditbridge.core.actors import Actor
from creditbridge.core.clock import to_local, utc_now
from creditbridge.core.snapshot import Table, month_seq
from creditbridge.ingest.analytics import export_snapshot
from creditbridge.presentation.exports import xlsx_row
from creditbridge.reference import divisions, industries
from creditbridge.reports.models import AggregateRun
from creditbridge.subjects.models import Subject

MIN_CELL: Final = 5
"""Cells describing fewer enterprises than this are suppressed."""
TAX_MONTHS: Final = 12


@dataclass(frozen=True)
class Dimension:
    code: str
    column: str


DIMENSIONS: Final = (
    Dimension("city", "city_code"),
    Dimension("county", "division_code"),
    Dimension("section", "industry_section"),
    Dimension("division", "industry_code"),
    Dimension("size", "size_class"),
    Dimension("tax_band", "tax_band"),
)
DIMENSION_CODES: Final = tuple(d.code for d in DIMENSIONS)
TAX_BANDS: Final = ("none", "lt10k", "10k_100k", "100k_1m", "1m_10m", "ge10m")
# Yuan bounds of the tax bands (last 12 months' total tax paid).
_TAX_BAND_SQL: Final = """
    CASE
      WHEN tax_12m IS NULL OR tax_12m <= 0 THEN 'none'
      WHEN tax_12m < 10000 THEN 'lt10k'
      WHEN tax_12m < 100000 THEN '10k_100k'
      WHEN tax_12m < 1000000 THEN '100k_1m'
      WHEN tax_12m < 10000000 THEN '1m_10m'
      ELSE 'ge10m'
    END"""

SUBJECT_DIMS_SCHEMA: Final = pa.schema(
    [
        ("id", pa.int64()),
        ("city_code", pa.string()),
        ("division_code", pa.string()),
        ("industry_section", pa.string()),
        ("industry_code", pa.string()),
        ("size_class", pa.string()),
        ("status", pa.string()),
    ]
)


SUBJECT_DIMS: Final = snapshot.register(
    Table(
        "reports_subject_dims",
        lambda: select(
            Subject.id,
            Subject.city_code,
            Subject.division_code,
            Subject.industry_section,
            Subject.industry_code,
            Subject.size_class,
            Subject.status,
        ).order_by(Subject.id),
        {field.name: field.type for field in SUBJECT_DIMS_SCHEMA},
    )
)[0]
"""The subjects' dimensions the aggregates group by, contributed to the analytics snapshot."""


def build_facts(
    connection: duckdb.DuckDBPyConnection,
    *,
    subjects: Path,
    records: Path,
    out: Path,
    today: date,
) -> int:
    """Stage 1: one row per enterprise with the facts the aggregates count (see module doc)."""
    to_seq = month_seq(today) - 1  # the last complete month
    from_seq = to_seq - TAX_MONTHS + 1
    connection.execute(
        f"""
        COPY (
          WITH facts AS (
            SELECT subject_id,
              count(*) FILTER (WHERE dataset_code = 'penalty'
                               AND event_seq BETWEEN {from_seq} AND {to_seq}) AS penalties,
              bool_or(dataset_code = 'serious_dishonesty'
                      AND json_extract_string(data, '$.removal_date') IS NULL) AS dishonest,
              bool_or(dataset_code = 'enforcement'
                      AND json_extract_string(data, '$.closed_date') IS NULL) AS enforced,
              sum(TRY_CAST(json_extract_string(data, '$.total_tax_paid') AS DECIMAL(18, 2)))
                FILTER (WHERE dataset_code = 'tax_payment'
                        AND event_seq BETWEEN {from_seq} AND {to_seq}) AS tax_12m
            FROM read_parquet(?)
            WHERE status = 'current'
              AND dataset_code IN ('penalty', 'serious_dishonesty', 'enforcement', 'tax_payment')
            GROUP BY subject_id
          )
          SELECT s.id, s.city_code, s.division_code,
                 coalesce(s.industry_section, '?') AS industry_section,
                 coalesce(s.industry_code, '?') AS industry_code,
                 coalesce(s.size_class, 'unknown') AS size_class,
                 coalesce(f.penalties, 0)::BIGINT AS penalties,
                 coalesce(f.dishonest, false) AS dishonest,
                 coalesce(f.enforced, false) AS enforced,
                 {_TAX_BAND_SQL} AS tax_band
          FROM read_parquet(?) s LEFT JOIN facts f ON f.subject_id = s.id
          WHERE s.status = 'active'
        ) TO '{out}' (FORMAT parquet)
        """,
        [str(records), str(subjects)],
    )
    row = connection.execute("SELECT count(*) FROM read_parquet(?)", [str(out)]).fetchone()
    return int(row[0]) if row else 0


def aggregate(
    connection: duckdb.DuckDBPyConnection, facts: Path
) -> dict[str, list[dict[str, Any]]]:
    """Stage 2: every dimension (and the total) in one GROUPING SETS query, suppressed."""
    sets = ", ".join(f"({d.column})" for d in DIMENSIONS)
    columns = ", ".join(d.column for d in DIMENSIONS)
    rows = connection.execute(
        f"""
        SELECT {columns}, GROUPING({columns}) AS g,
               count(*) AS enterprises, sum(penalties) AS penalties,
               count(*) FILTER (WHERE penalties > 0) AS penalised,
               count(*) FILTER (WHERE dishonest) AS dishonest,
               count(*) FILTER (WHERE enforced) AS enforced
        FROM read_parquet(?)
        GROUP BY GROUPING SETS ({sets}, ())
        """,
        [str(facts)],
    ).fetchall()
    width = len(DIMENSIONS)
    tables: dict[str, list[dict[str, Any]]] = {d.code: [] for d in DIMENSIONS}
    tables["total"] = []
    for row in rows:
        keys, grouping = row[:width], int(row[width])
        enterprises, penalties, penalised, dishonest, enforced = (
            int(v or 0) for v in row[width + 1 :]
        )
        # GROUPING() sets a bit per column left out of the group: exactly one bit clear → that dim.
        cleared = [i for i in range(width) if not grouping & (1 << (width - 1 - i))]
        table = "total" if not cleared else DIMENSIONS[cleared[0]].code
        key = "" if not cleared else str(keys[cleared[0]])
        tables[table].append(_cell(key, enterprises, penalties, penalised, dishonest, enforced))
    for code, cells in tables.items():
        if code == "tax_band":
            cells.sort(key=lambda c: TAX_BANDS.index(c["key"]) if c["key"] in TAX_BANDS else 99)
        else:
            cells.sort(key=lambda c: (-c["enterprises"] if not c["suppressed"] else 0, c["key"]))
    return tables


def _cell(
    key: str, enterprises: int, penalties: int, penalised: int, dishonest: int, enforced: int
) -> dict[str, Any]:
    if enterprises < MIN_CELL:
        return {
            "key": key,
            "suppressed": True,
            "enterprises": None,
            "penalties": None,
            "penalty_per_1000": None,
            "penalised_bp": None,
            "dishonest_bp": None,
            "enforced_bp": None,
        }
    return {
        "key": key,
        "suppressed": False,
        "enterprises": enterprises,
        "penalties": penalties,
        # Rates as integers: penalties per 1,000 enterprises in tenths, shares in basis points.
        "penalty_per_1000": round(penalties * 10_000 / enterprises) / 10,
        "penalised_bp": penalised * 10_000 // enterprises,
        "dishonest_bp": dishonest * 10_000 // enterprises,
        "enforced_bp": enforced * 10_000 // enterprises,
    }


def refresh(session: Session, actor: Actor, *, work_dir: Path | None = None) -> AggregateRun:
    """Export the snapshot, compute the aggregates with DuckDB, store and audit the run."""
    started = time.perf_counter()
    root = Path(tempfile.mkdtemp(prefix="cb-aggregates-", dir=work_dir))
    try:
        collected = export_snapshot(session.connection(), root / "records")
        dims = snapshot.export(session.connection(), root / "dims", tables=[SUBJECT_DIMS])
        subjects = dims.path(SUBJECT_DIMS)
        facts = root / "facts.parquet"
        with duckdb.connect() as connection:
            count = build_facts(
                connection,
                subjects=subjects,
                records=collected.path("snap_record"),
                out=facts,
                today=to_local(utc_now()).date(),
            )
            tables = aggregate(connection, facts)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    today = to_local(utc_now()).date()
    last = month_seq(today) - 1
    run = AggregateRun(
        computed_at=utc_now(),
        computed_by=actor.name,
        enterprises=count,
        tax_window=f"{_month_label(last - TAX_MONTHS + 1)}..{_month_label(last)}",
        duration_ms=int((time.perf_counter() - started) * 1000),
        tables=tables,
    )
    session.add(run)
    session.flush()
    audit.record(
        session,
        actor,
        action="report.aggregates",
        object_type="reports_aggregate_run",
        object_id=run.id,
        detail={"enterprises": count, "duration_ms": run.duration_ms},
    )
    return run


def _month_label(seq: int) -> str:
    return f"{seq // 12:04d}-{seq % 12 + 1:02d}"


def latest(session: Session) -> AggregateRun | None:
    return session.scalar(select(AggregateRun).order_by(AggregateRun.id.desc()).limit(1))


# --- presentation helpers (labels, Excel) --------------------------------------------------------


def key_label(dimension: str, key: str, lang: str = "zh") -> str:
    if dimension in ("city", "county"):
        return divisions.name(key) or key
    if dimension == "section":
        section = industries.section(key)
        return (section.name_zh if lang == "zh" else section.name_en) if section else key
    if dimension == "division":
        division = industries.division(key)
        if division is None:
            return key
        return f"{key} {division.name_zh if lang == 'zh' else division.name_en}"
    return key


def tables_of(run: AggregateRun) -> Mapping[str, list[dict[str, Any]]]:
    return run.tables


_EXCEL_HEADERS: Final = (
    "分组代码",
    "分组名称",
    "企业数",
    "行政处罚数(近12个月)",
    "每千户处罚数",
    "受处罚企业占比(%)",
    "严重失信名单占比(%)",
    "被执行企业占比(%)",
)
_SHEET_NAMES: Final = {
    "city": "按市",
    "county": "按县区",
    "section": "按行业门类",
    "division": "按行业大类",
    "size": "按企业规模",
    "tax_band": "按纳税区间",
    "total": "合计",
}
_SIZE_ZH: Final = {
    "large": "大型",
    "medium": "中型",
    "small": "小型",
    "micro": "微型",
    "unknown": "未划型",
}
_TAX_ZH: Final = {
    "none": "无纳税记录",
    "lt10k": "1万元以下",
    "10k_100k": "1万–10万元",
    "100k_1m": "10万–100万元",
    "1m_10m": "100万–1000万元",
    "ge10m": "1000万元以上",
}


def label_zh(dimension: str, key: str) -> str:
    if dimension == "size":
        return _SIZE_ZH.get(key, key)
    if dimension == "tax_band":
        return _TAX_ZH.get(key, key)
    if dimension == "total":
        return "合计"
    return key_label(dimension, key, "zh")


def to_excel(run: AggregateRun) -> bytes:
    """The run as an .xlsx workbook: one sheet per dimension; suppressed cells read "<5"."""
    from openpyxl import Workbook
    from openpyxl.styles import Font

    book = Workbook()
    book.remove(book.active)  # type: ignore[arg-type]
    for code in (*DIMENSION_CODES, "total"):
        sheet = book.create_sheet(_SHEET_NAMES[code])
        sheet.append(xlsx_row(sheet, _EXCEL_HEADERS))
        for cell in sheet[1]:
            cell.font = Font(bold=True)
        for row in run.tables.get(code, []):
            if row["suppressed"]:
                sheet.append(
                    xlsx_row(sheet, [row["key"], label_zh(code, row["key"]), f"<{MIN_CELL}"])
                )
                continue
            sheet.append(
                xlsx_row(
                    sheet,
                    [
                        row["key"],
                        label_zh(code, row["key"]),
                        row["enterprises"],
                        row["penalties"],
                        row["penalty_per_1000"],
                        row["penalised_bp"] / 100,
                        row["dishonest_bp"] / 100,
                        row["enforced_bp"] / 100,
                    ],
                )
            )
        sheet.column_dimensions["B"].width = 28
    info = book.create_sheet("说明")
    info.append(xlsx_row(info, ["快照时间", to_local(run.computed_at).strftime("%Y-%m-%d %H:%M")]))
    info.append(xlsx_row(info, ["企业数", run.enterprises]))
    info.append(xlsx_row(info, ["纳税统计期", run.tax_window]))
    info.append(xlsx_row(info, ["抑制规则", f"企业数少于{MIN_CELL}户的单元格不予显示"]))
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()
