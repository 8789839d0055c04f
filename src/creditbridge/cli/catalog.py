"""`creditbridge catalog …`: the shared-data list (信用信息共享清单)."""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated, Any

import orjson
import typer

from creditbridge.catalog import domain, service
from creditbridge.catalog.schemas import CatalogVersionOut, DatasetDetailOut, DatasetSummaryOut
from creditbridge.cli.context import friendly_errors, transaction
from creditbridge.core.actors import CONSOLE
from creditbridge.core.clock import to_local

app = typer.Typer(help="共享清单 The shared-data list.", no_args_is_help=True)

JsonOption = Annotated[bool, typer.Option("--json", help="print JSON instead of a table")]
VersionOption = Annotated[
    str | None,
    typer.Option("--version", help="catalog version id; the current one by default"),
]


def _width(text: str) -> int:
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def _table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """Rows padded into columns; CJK characters count as two columns, as terminals draw them."""
    widths = [max(_width(cell) for cell in column) for column in zip(headers, *rows, strict=False)]

    def line(cells: Sequence[str]) -> str:
        return "  ".join(
            cell + " " * (width - _width(cell)) for cell, width in zip(cells, widths, strict=True)
        ).rstrip()

    return "\n".join([line(headers), line(["-" * w for w in widths]), *(line(r) for r in rows)])


def _json(value: Any) -> str:
    return orjson.dumps(value, option=orjson.OPT_INDENT_2).decode()


@app.command("list")
@friendly_errors
def list_datasets(json: JsonOption = False, version: VersionOption = None) -> None:
    """List the datasets of the list. 列出共享清单的信息项。"""
    with transaction() as session:
        items = [
            DatasetSummaryOut.of(row) for row in service.list_datasets(session, version=version)
        ]
    if json:
        typer.echo(_json([item.model_dump(mode="json") for item in items]))
        return
    if not items:
        typer.echo("尚未载入共享清单 no list loaded: run `creditbridge catalog load`")
        return
    typer.echo(f"共享清单版本 version {items[0].version}: {len(items)} 个信息项 datasets")
    typer.echo(
        _table(
            ["code", "中文名", "category", "frequency", "disclosure", "fields"],
            [
                [
                    item.code,
                    item.name_zh,
                    item.category,
                    item.update_frequency,
                    item.disclosure_class,
                    str(item.field_count),
                ]
                for item in items
            ],
        )
    )


@app.command("show")
@friendly_errors
def show(
    code: Annotated[str, typer.Argument(help="dataset code, e.g. penalty")],
    json: JsonOption = False,
    version: VersionOption = None,
) -> None:
    """Show one dataset and its fields. 查看信息项及其字段。"""
    with transaction() as session:
        detail = DatasetDetailOut.of(
            service.get_dataset_or_raise(session, code=code, version=version)
        )
    if json:
        typer.echo(_json(detail.model_dump(mode="json")))
        return
    period = (
        domain.PUBLICATION_PERIOD_CLASSES.get(detail.publication_period_class, "")
        if detail.publication_period_class
        else "—"
    )
    facts = [
        ("信息项 dataset", f"{detail.code}  {detail.name_zh} / {detail.name_en}"),
        ("清单版本 version", detail.version),
        ("类别 category", detail.category),
        ("提供单位 provider", f"{detail.provider_name} ({detail.provider_kind})"),
        ("更新频率 frequency", detail.update_frequency),
        ("公开类别 disclosure", detail.disclosure_class),
        ("失信信息 negative", f"{'是 yes' if detail.negative else '否 no'}"),
        ("公示期类别 period class", period),
        ("主体标识 subject key", detail.subject_key),
        ("唯一键 natural key", ", ".join(detail.natural_key)),
        ("事件日期 event date", detail.event_date_field),
    ]
    if detail.description:
        facts.append(("说明 description", detail.description))
    label_width = max(_width(label) for label, _ in facts)
    for label, value in facts:
        typer.echo(f"{label}{' ' * (label_width - _width(label))}  {value}")
    typer.echo("")
    typer.echo(
        _table(
            ["code", "中文名", "type", "unit", "required", "level", "masking", "enum"],
            [
                [
                    f.code,
                    f.label_zh,
                    f.type,
                    f.unit or "",
                    "yes" if f.required else "",
                    str(f.classification_level),
                    f.masking,
                    "/".join(
                        f"{value}={f.enum_labels[value]}"
                        if f.enum_labels and value in f.enum_labels
                        else value
                        for value in f.enum_values or []
                    ),
                ]
                for f in detail.fields
            ],
        )
    )


@app.command("load")
@friendly_errors
def load(
    file: Annotated[
        Path | None,
        typer.Argument(help="catalog YAML file; the list shipped with the platform by default"),
    ] = None,
) -> None:
    """Load a list file as a new version. 载入共享清单文件（生成新版本）。"""
    with transaction() as session:
        outcome = service.load_catalog(session, CONSOLE, path=file or service.BUNDLED_CATALOG_PATH)
        version = outcome.version.version
    if outcome.created:
        typer.echo(f"已载入 loaded: version {version}, {outcome.dataset_count} 个信息项 datasets")
    else:
        typer.echo(f"未变化 unchanged: version {version} 已载入 (same file)")


@app.command("versions")
@friendly_errors
def versions(json: JsonOption = False) -> None:
    """List the loaded versions, newest first. 列出已载入的清单版本。"""
    with transaction() as session:
        rows = [CatalogVersionOut.of(row) for row in service.list_versions(session)]
    if json:
        typer.echo(_json([row.model_dump(mode="json") for row in rows]))
        return
    if not rows:
        typer.echo("尚未载入共享清单 no list loaded: run `creditbridge catalog load`")
        return
    typer.echo(
        _table(
            ["", "version", "标题 title", "basis", "effective", "loaded (Asia/Shanghai)", "SM3"],
            [
                [
                    "*" if row.is_current else "",
                    row.version,
                    row.title,
                    row.basis,
                    row.effective_date.isoformat(),
                    to_local(row.loaded_at).strftime("%Y-%m-%d %H:%M"),
                    row.source_digest[:16],
                ]
                for row in rows
            ],
        )
    )
