"""Use cases of the shared-data list: read and check a catalog file, load it as a new version, and
the reads the pages, the API and other modules use.

Services flush, never commit: the entry point (request dependency, CLI command, job) owns the
transaction. Parsing is pure and works without a database (:func:`parse_catalog_file`,
:func:`bundled_catalog`, :func:`publication_regimes`).
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import date
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError
from pydantic_core import ErrorDetails
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session, selectinload

from creditbridge.audit import service as audit_service
from creditbridge.catalog import domain
from creditbridge.catalog.errors import CatalogFileInvalid, CatalogVersionConflict
from creditbridge.catalog.models import CatalogDataset, CatalogField, CatalogVersion
from creditbridge.catalog.schemas import (
    CatalogFile,
    CategoryView,
    DatasetSpec,
    Loc,
    PublicationPeriodsFile,
    PublicationRegime,
)
from creditbridge.core.actors import SYSTEM, Actor
from creditbridge.core.clock import local_today, utc_now
from creditbridge.core.crypto import sm3_hex
from creditbridge.core.errors import Issue, NotFound
from creditbridge.presentation.errors import keyed, keyed_issue
from creditbridge.presentation.exports import (
    CSV_MEDIA_TYPE,
    XLSX_MEDIA_TYPE,
    Download,
    csv_bytes,
    xlsx_row,
)

DATA_DIR = Path(__file__).parent / "data"
BUNDLED_CATALOG_PATH = DATA_DIR / "catalog-2021.yaml"
PUBLICATION_PERIODS_PATH = DATA_DIR / "publication-periods.yaml"


@dataclass(frozen=True)
class LoadOutcome:
    """What :func:`load_catalog` did: ``created`` is False when the same file was loaded before."""

    version: CatalogVersion
    created: bool
    dataset_count: int


# ------------------------------------------------------------------ reading files


def parse_catalog_file(
    *, path: Path | None = None, text: str | None = None, source_name: str | None = None
) -> CatalogFile:
    """Read and check a catalog file given as ``path`` or ``text``; no database involved.

    Raises :class:`CatalogFileInvalid` naming the file (``source_name``, else the path's name)
    with one issue per problem.
    """
    return _read_catalog(path=path, text=text, source_name=source_name)[0]


@lru_cache(maxsize=1)
def bundled_catalog() -> CatalogFile:
    """The list shipped with the platform (catalog-2021.yaml), parsed once per process."""
    return parse_catalog_file(path=BUNDLED_CATALOG_PATH)


@lru_cache(maxsize=1)
def publication_regimes() -> PublicationPeriodsFile:
    """The publication-period regimes shipped with the platform (publication-periods.yaml)."""
    name = PUBLICATION_PERIODS_PATH.name
    data = _yaml_mapping(PUBLICATION_PERIODS_PATH.read_text(encoding="utf-8"), name)
    try:
        return PublicationPeriodsFile.model_validate(data)
    except ValidationError as exc:
        raise _invalid(name, _issues_from(exc, data, name)) from None


def publication_regime_on(day: date) -> PublicationRegime:
    """The publication-period regime in force on ``day``; NotFound before the first one."""
    for regime in publication_regimes().regimes:
        if regime.in_force_on(day):
            return regime
    raise keyed(NotFound, "error.catalog.no_regime", day=day.isoformat())


def _read_catalog(
    *, path: Path | None, text: str | None, source_name: str | None
) -> tuple[CatalogFile, str]:
    if (path is None) == (text is None):
        raise TypeError("give exactly one of path= or text=")
    name = source_name or (path.name if path is not None else "catalog.yaml")
    if path is not None:
        try:
            raw = path.read_bytes()
        except OSError as exc:
            raise _invalid(
                name,
                [
                    keyed_issue(
                        "unreadable", "error.catalog.unreadable", location=name, reason=exc.strerror
                    )
                ],
            ) from None
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise _invalid(
                name, [keyed_issue("encoding", "error.catalog.encoding", location=name)]
            ) from None
    else:
        assert text is not None
        raw = text.encode("utf-8")
    data = _yaml_mapping(text, name)
    try:
        catalog = CatalogFile.model_validate(data)
    except ValidationError as exc:
        raise _invalid(name, _issues_from(exc, data, name)) from None
    return catalog, sm3_hex(raw)


class _StrictLoader(yaml.SafeLoader):
    """SafeLoader that refuses a key given twice in one mapping instead of keeping the last."""


def _construct_mapping(loader: _StrictLoader, node: yaml.MappingNode) -> dict[Any, Any]:
    loader.flatten_mapping(node)
    seen: set[Any] = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node)
        if key in seen:
            raise yaml.constructor.ConstructorError(
                "在此映射中", node.start_mark, f"键 {key} 重复", key_node.start_mark
            )
        seen.add(key)
    return loader.construct_mapping(node)


_StrictLoader.add_constructor(
    yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG,
    _construct_mapping,
)


def _yaml_mapping(text: str, name: str) -> dict[str, Any]:
    try:
        data = yaml.load(text, Loader=_StrictLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else None
        reason = exc.problem or exc.context
        raise _invalid(
            name,
            [
                keyed_issue(
                    "yaml_syntax",
                    "error.catalog.yaml_syntax_at",
                    row=line,
                    location=name,
                    column=mark.column + 1,
                    reason=reason,
                )
                if mark is not None
                else keyed_issue(
                    "yaml_syntax", "error.catalog.yaml_syntax", location=name, reason=reason
                )
            ],
        ) from None
    except yaml.YAMLError as exc:
        raise _invalid(
            name,
            [
                keyed_issue(
                    "yaml_syntax", "error.catalog.yaml_syntax", location=name, reason=str(exc)
                )
            ],
        ) from None
    if not isinstance(data, dict):
        raise _invalid(
            name, [keyed_issue("invalid_type", "error.catalog.not_a_mapping", location=name)]
        )
    return data


def _invalid(name: str, issues: list[Issue]) -> CatalogFileInvalid:
    return keyed(
        CatalogFileInvalid, "error.catalog.file_invalid", issues=issues, name=name, n=len(issues)
    )


# ------------------------------------------------------------------ pydantic errors → issues

_KEY_NAMES = {
    "version": "版本号",
    "title": "标题",
    "basis": "依据",
    "effective_date": "生效日期",
    "categories": "类别",
    "datasets": "数据项列表",
    "fields": "字段列表",
    "natural_key": "记录唯一键",
}


def _path(loc: Loc) -> str:
    text = ""
    for part in loc:
        if isinstance(part, int):
            text += f"[{part}]"
        elif part == "[key]":
            text += "（键）"
        else:
            text += f".{part}" if text else part
    return text


def _context(data: dict[str, Any], loc: Loc) -> str:
    """``数据项 penalty，字段 fine_amount：`` for a path inside a dataset or field, when known."""
    if len(loc) < 2 or loc[0] != "datasets" or not isinstance(loc[1], int):
        return ""
    datasets = data.get("datasets")
    if not isinstance(datasets, list) or loc[1] >= len(datasets):
        return ""
    dataset = datasets[loc[1]]
    if not isinstance(dataset, dict) or not isinstance(dataset.get("code"), str):
        return ""
    prefix = f"数据项 {dataset['code']}"
    if len(loc) >= 4 and loc[2] == "fields" and isinstance(loc[3], int):
        fields = dataset.get("fields")
        if isinstance(fields, list) and loc[3] < len(fields):
            spec = fields[loc[3]]
            if isinstance(spec, dict) and isinstance(spec.get("code"), str):
                prefix += f"，字段 {spec['code']}"
    return prefix + "："


def _reason(error: ErrorDetails) -> tuple[str, str]:
    kind, ctx = error["type"], error.get("ctx") or {}
    last = error["loc"][-1] if error["loc"] else ""
    key = _KEY_NAMES.get(str(last), str(last))
    if kind == "missing":
        return "missing", f"缺少必填项 {last}"
    if kind == "extra_forbidden":
        return "unknown_key", f"未知的键 {last}（格式中没有此项，请检查拼写）"
    if kind.startswith("catalog_"):
        return "invalid_value", error["msg"]
    if kind in {"string_type", "str_type"}:
        hint = '；数字形式的版本号请加引号，如 "2021.1"' if last == "version" else ""
        return "invalid_type", f"{key} 须为文本{hint}"
    if kind in {"int_type", "int_parsing", "int_from_float"}:
        return "invalid_type", f"{key} 须为整数"
    if kind in {"bool_type", "bool_parsing"}:
        return "invalid_type", f"{key} 须为 true 或 false"
    if kind.startswith("date") or kind.startswith("datetime"):
        return "invalid_type", f"{key} 须为日期 YYYY-MM-DD"
    if kind == "list_type":
        return "invalid_type", f"{key} 须为列表"
    if kind in {"dict_type", "model_type", "model_attributes_type"}:
        return "invalid_type", f"{key} 须为映射（键: 值）"
    if kind == "too_short":
        return "invalid_value", f"{key} 至少需要 {ctx.get('min_length', 1)} 项"
    if kind == "too_long":
        return "invalid_value", f"{key} 最多 {ctx.get('max_length')} 项"
    if kind == "string_too_short":
        return "invalid_value", f"{key} 不能为空"
    if kind == "string_too_long":
        return "invalid_value", f"{key} 最长 {ctx.get('max_length')} 个字符"
    if kind == "string_pattern_mismatch":
        return "invalid_value", f"{key} 格式不符（应匹配 {ctx.get('pattern')}）"
    if kind == "greater_than_equal":
        return "invalid_value", f"{key} 不能小于 {ctx.get('ge')}"
    return "invalid_value", f"{key} 取值有误（{error['msg']}）"


def _issues_from(exc: ValidationError, data: dict[str, Any], name: str) -> list[Issue]:
    issues: list[Issue] = []
    for error in exc.errors():
        if error["type"] == "catalog_rules":
            for loc, code, message in (error.get("ctx") or {}).get("violations", []):
                issues.append(
                    Issue(
                        code=code,
                        message=_context(data, loc) + message,
                        field=_path(loc),
                        location=name,
                    )
                )
            continue
        loc = tuple(error["loc"])
        code, message = _reason(error)
        value = error.get("input")
        issues.append(
            Issue(
                code=code,
                message=_context(data, loc) + message,
                field=_path(loc) or None,
                value=str(value) if isinstance(value, str | int | float) else None,
                location=name,
            )
        )
    return issues


# ------------------------------------------------------------------ loading


def load_catalog(
    session: Session,
    actor: Actor,
    *,
    path: Path | None = None,
    text: str | None = None,
    source_name: str | None = None,
) -> LoadOutcome:
    """Check a catalog file and store it as a new version, which becomes the current one.

    Loading a file whose SM3 digest equals a stored version's returns that version unchanged
    (and does not make it current again). A file reusing a stored version id with other content
    raises :class:`CatalogVersionConflict`: a published version is never rewritten.

    The load is audited in the same transaction (``catalog.load``): the list decides what
    every provider owes and what leaves the platform with or without consent, so who changed it
    and when must be on record.
    """
    catalog, digest = _read_catalog(path=path, text=text, source_name=source_name)
    same_content = session.scalar(
        select(CatalogVersion).where(CatalogVersion.source_digest == digest).limit(1)
    )
    if same_content is not None:
        _audit_load(session, actor, same_content, created=False)
        return LoadOutcome(
            version=same_content,
            created=False,
            dataset_count=_count_datasets(session, same_content),
        )
    same_id = session.scalar(
        select(CatalogVersion).where(CatalogVersion.version == catalog.version)
    )
    if same_id is not None:
        raise keyed(
            CatalogVersionConflict,
            "error.catalog.version_conflict",
            version=catalog.version,
            loaded=same_id.source_digest[:16],
            digest=digest[:16],
        )
    session.execute(
        update(CatalogVersion).where(CatalogVersion.is_current.is_(True)).values(is_current=False)
    )
    version = CatalogVersion(
        version=catalog.version,
        title=catalog.title,
        basis=catalog.basis,
        effective_date=catalog.effective_date,
        loaded_at=utc_now(),
        source_digest=digest,
        is_current=True,
        categories=[
            {"code": code, "zh": spec.zh, "en": spec.en}
            for code, spec in catalog.categories.items()
        ],
        datasets=[_dataset_row(position, spec) for position, spec in enumerate(catalog.datasets)],
    )
    session.add(version)
    session.flush()
    _audit_load(session, actor, version, created=True)
    return LoadOutcome(version=version, created=True, dataset_count=len(catalog.datasets))


def _audit_load(session: Session, actor: Actor, version: CatalogVersion, *, created: bool) -> None:
    audit_service.record(
        session,
        actor,
        action="catalog.load",
        object_type="catalog_version",
        object_id=version.id,
        detail={"version": version.version, "digest": version.source_digest, "created": created},
    )


def _dataset_row(position: int, spec: DatasetSpec) -> CatalogDataset:
    return CatalogDataset(
        position=position,
        code=spec.code,
        name_zh=spec.name_zh,
        name_en=spec.name_en,
        category=spec.category,
        provider_kind=spec.provider_kind,
        provider_name=spec.provider_name,
        update_frequency=spec.update_frequency,
        subject_key=spec.subject_key,
        natural_key=list(spec.natural_key),
        disclosure_class=spec.disclosure_class,
        publication_period_class=spec.publication_period_class,
        negative=spec.negative,
        description=spec.description,
        # Exactly the keys the file gave; JSON-safe because every value passed validation.
        definition=spec.model_dump(mode="json", exclude_unset=True),
        fields=[
            CatalogField(
                position=index,
                code=field.code,
                label_zh=field.label_zh,
                label_en=field.label_en,
                type=field.type,
                unit=field.unit,
                required=field.required,
                enum_values=list(field.enum) if field.enum is not None else None,
                classification_level=field.classification_level,
                masking=field.masking,
            )
            for index, field in enumerate(spec.fields)
        ],
    )


def ensure_default_catalog(session: Session, actor: Actor = SYSTEM) -> CatalogVersion:
    """The current version, loading the bundled list first when no version has been loaded.

    An explicit set-up step (``creditbridge catalog load``, ``demo ensure``, test fixtures):
    deliveries and pages never call it, so the list in force changes only when someone loads it."""
    current = get_current_version(session)
    if current is not None:
        return current
    newest = session.scalar(select(CatalogVersion).order_by(CatalogVersion.id.desc()).limit(1))
    if newest is not None:
        return newest
    return load_catalog(session, actor, path=BUNDLED_CATALOG_PATH).version


# ------------------------------------------------------------------ reads


def get_current_version(session: Session) -> CatalogVersion | None:
    """The version in use, or None before any list is loaded."""
    return session.scalar(select(CatalogVersion).where(CatalogVersion.is_current.is_(True)))


def list_versions(session: Session) -> list[CatalogVersion]:
    """Every loaded version, the most recently loaded first."""
    return list(session.scalars(select(CatalogVersion).order_by(CatalogVersion.id.desc())))


def get_version_or_raise(session: Session, *, version: str | None = None) -> CatalogVersion:
    """The named version, or the current one when ``version`` is None; NotFound otherwise."""
    row = _version(session, version)
    if row is None:
        if version is None:
            raise keyed(NotFound, "error.catalog.none_loaded")
        raise keyed(NotFound, "error.catalog.no_version", version=version)
    return row


# Relationships are lazy="raise": callers get the fields and the version loaded, nothing else.
_DATASET_LOADS = (selectinload(CatalogDataset.fields), selectinload(CatalogDataset.catalog_version))


def list_datasets(session: Session, *, version: str | None = None) -> list[CatalogDataset]:
    """The datasets of a version (the current one by default) in file order, with their fields
    and ``catalog_version`` loaded.

    Empty when no list has been loaded yet; NotFound when a named version does not exist.
    """
    if version is None and get_current_version(session) is None:
        return []
    row = get_version_or_raise(session, version=version)
    return list(
        session.scalars(
            select(CatalogDataset)
            .where(CatalogDataset.catalog_version_id == row.id)
            .options(*_DATASET_LOADS)
            .order_by(CatalogDataset.position)
        )
    )


def get_dataset_or_raise(
    session: Session, *, code: str, version: str | None = None
) -> CatalogDataset:
    """One dataset with its fields and ``catalog_version`` loaded; NotFound when the version or
    the code does not exist."""
    row = get_version_or_raise(session, version=version)
    dataset = session.scalar(
        select(CatalogDataset)
        .where(CatalogDataset.catalog_version_id == row.id, CatalogDataset.code == code)
        .options(*_DATASET_LOADS)
    )
    if dataset is None:
        raise keyed(NotFound, "error.catalog.no_dataset", version=row.version, code=code)
    return dataset


def list_categories(session: Session, *, version: str | None = None) -> list[CategoryView]:
    """The categories of a version in file order, each with its number of datasets."""
    row = _version(session, version)
    if row is None:
        if version is None:
            return []
        raise keyed(NotFound, "error.catalog.no_version", version=version)
    rows = session.execute(
        select(CatalogDataset.category, func.count())
        .where(CatalogDataset.catalog_version_id == row.id)
        .group_by(CatalogDataset.category)
    )
    counts: dict[str, int] = dict(rows.all())
    return [
        CategoryView(
            code=item["code"],
            name_zh=item["zh"],
            name_en=item["en"],
            dataset_count=counts.get(item["code"], 0),
        )
        for item in row.categories
    ]


def _version(session: Session, version: str | None) -> CatalogVersion | None:
    if version is None:
        return get_current_version(session)
    return session.scalar(select(CatalogVersion).where(CatalogVersion.version == version))


def _count_datasets(session: Session, version: CatalogVersion) -> int:
    return (
        session.scalar(
            select(func.count())
            .select_from(CatalogDataset)
            .where(CatalogDataset.catalog_version_id == version.id)
        )
        or 0
    )


# ------------------------------------------------------------------ upload templates

TEMPLATE_FORMATS = ("csv", "xlsx")
GUIDE_HEADER = (
    "列名",
    "字段代码",
    "类型",
    "单位",
    "必填",
    "可选值或格式",
    "也可写作（别名）",
    "说明",
)
_FORMAT_HINTS = {
    "date": "YYYY-MM-DD，如 2026-01-31",
    "period": "YYYY-MM，如 2026-01",
    "boolean": "是 / 否",
    "uscc": "18位，校验位须正确",
    "division_code": "6位行政区划代码（GB/T 2260）",
    "industry_code": "行业门类字母或代码（GB/T 4754-2017）",
    "amount": "数字，最多两位小数",
}


def get_dataset_spec(session: Session, *, code: str, version: str | None = None) -> DatasetSpec:
    """The dataset as its list version defines it (fields with every key the file gave)."""
    row = get_dataset_or_raise(session, code=code, version=version)
    return DatasetSpec.model_validate(row.definition)


def template_rows(spec: DatasetSpec, *, today: date) -> tuple[list[str], list[str]]:
    """The template's header (Chinese labels) and its example row, one cell per field."""
    header = [domain.template_header(f) for f in spec.fields]
    return header, [domain.example_value(f, today=today) for f in spec.fields]


def field_guide(spec: DatasetSpec) -> list[list[str]]:
    """One line per column explaining what to write: the template's second sheet."""
    lines = []
    for f in spec.fields:
        if f.enum:
            allowed = "、".join(
                f"{v}（{f.enum_labels[v]}）" if f.enum_labels and v in f.enum_labels else v
                for v in f.enum
            )
        elif f.pattern:
            allowed = f"须符合 {f.pattern}"
        else:
            allowed = _FORMAT_HINTS.get(f.type, "")
        if f.max_length:
            allowed = f"{allowed}；最多{f.max_length}字".lstrip("；")
        lines.append(
            [
                domain.template_header(f),
                f.code,
                domain.FIELD_TYPES[f.type],
                domain.UNITS[f.unit] if f.unit else "",
                "是" if f.required else "否",
                allowed,
                "、".join(f.aliases or []),
                f.description,
            ]
        )
    return lines


def get_upload_template(
    session: Session, *, code: str, fmt: str, version: str | None = None, today: date | None = None
) -> Download:
    """A dataset's upload template (``fmt`` ``csv`` or ``xlsx``): its fields with Chinese
    headers and an example row that uploads clean. NotFound for an unknown dataset or format."""
    if fmt not in TEMPLATE_FORMATS:
        raise NotFound(f"没有 {fmt} 格式的模板")
    spec = get_dataset_spec(session, code=code, version=version)
    day = today or local_today()
    name = f"{spec.code}-template.{fmt}"
    if fmt == "csv":
        return Download(name, CSV_MEDIA_TYPE, template_csv(spec, today=day))
    return Download(name, XLSX_MEDIA_TYPE, template_xlsx(spec, today=day))


def template_csv(spec: DatasetSpec, *, today: date) -> bytes:
    """UTF-8 with a byte-order mark: Excel opens it with the Chinese headers readable."""
    header, example = template_rows(spec, today=today)
    return csv_bytes(header, [example])


def template_xlsx(spec: DatasetSpec, *, today: date) -> bytes:
    """The data sheet first (the readers take the first sheet), every header cell commented
    with what to write, then a 填写说明 sheet with the same per column."""
    from openpyxl import Workbook
    from openpyxl.comments import Comment
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter

    header, example = template_rows(spec, today=today)
    guide = field_guide(spec)
    book = Workbook()
    data = book.active
    assert data is not None
    data.title = spec.name_zh[:31]
    data.append(xlsx_row(data, header))
    # Every example cell as text: a USCC or a division code typed as a number loses its zeros.
    data.append(xlsx_row(data, example))
    for index, (cell, line) in enumerate(zip(data[1], guide, strict=True), start=1):
        cell.font = Font(bold=True)
        note = f"{line[2]}{'（' + line[3] + '）' if line[3] else ''}；必填：{line[4]}"
        if line[5]:
            note += f"\n{line[5]}"
        cell.comment = Comment(note, "CreditBridge", width=260, height=110)
        data.column_dimensions[get_column_letter(index)].width = max(
            14, min(40, len(header[index - 1]) * 2 + 4)
        )
        data.cell(row=2, column=index).number_format = "@"
    sheet = book.create_sheet("填写说明")
    sheet.append(
        xlsx_row(
            sheet,
            [
                f"{spec.name_zh}（{spec.code}）：第一个工作表第1行为表头，自第2行起每行一条记录；示例行请替换或删除。"
            ],
        )
    )
    sheet.append(list(GUIDE_HEADER))
    for cell in sheet[2]:
        cell.font = Font(bold=True)
    for line in guide:
        sheet.append(xlsx_row(sheet, line))
    for column, width in zip("ABCDEFGH", (22, 18, 12, 8, 6, 40, 22, 30), strict=True):
        sheet.column_dimensions[column].width = width
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
