"""Pydantic models of the catalog file (docs/catalog-format.md), of the publication-period file,
and of the JSON API's responses.

File models refuse unknown keys and check every value against the vocabularies in
:mod:`creditbridge.catalog.domain`. Rules that relate one part of the file to another (a natural
key naming a field of its dataset, no duplicate codes, …) are in :func:`rule_violations`;
:class:`CatalogFile` runs them once the structure is valid and reports every violation at once,
each with its path inside the file.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from datetime import date, datetime
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    StrictStr,
    model_validator,
)
from pydantic_core import PydanticCustomError

from creditbridge.catalog import domain
from creditbridge.catalog.domain import DisclosureClass as DisclosureClass  # re-exported
from creditbridge.catalog.models import CatalogDataset, CatalogField, CatalogVersion

Loc = tuple[str | int, ...]


# ------------------------------------------------------------------ value checks


def _check_code(value: str) -> str:
    if not domain.is_code(value) or len(value) > 64:
        raise PydanticCustomError(
            "catalog_code",
            "代码 {value} 不合规：须以小写字母开头，只含小写字母、数字和下划线，最长64个字符",
            {"value": value},
        )
    return value


def _vocabulary(what: str, vocabulary: Mapping[str, str]) -> Callable[[str], str]:
    def check(value: str) -> str:
        if value not in vocabulary:
            raise PydanticCustomError(
                "catalog_vocabulary",
                "{what} {value} 无效，允许的取值：{allowed}",
                {"what": what, "value": value, "allowed": "、".join(vocabulary)},
            )
        return value

    return check


def _check_level(value: int) -> int:
    if value not in domain.CLASSIFICATION_LEVELS:
        raise PydanticCustomError(
            "catalog_classification",
            "数据分级 {value} 无效：须为 1 至 5 的整数（JR/T 0197-2020）",
            {"value": value},
        )
    return value


def _check_pattern(value: str) -> str:
    try:
        re.compile(value)
    except re.error as exc:
        raise PydanticCustomError(
            "catalog_pattern", "正则表达式无效：{reason}", {"reason": str(exc)}
        ) from exc
    return value


Code = Annotated[StrictStr, AfterValidator(_check_code)]
Text = Annotated[StrictStr, Field(min_length=1)]
FieldType = Annotated[StrictStr, AfterValidator(_vocabulary("字段类型", domain.FIELD_TYPES))]
Unit = Annotated[StrictStr, AfterValidator(_vocabulary("单位", domain.UNITS))]
Masking = Annotated[StrictStr, AfterValidator(_vocabulary("脱敏规则", domain.MASKING_RULES))]
Disclosure = Annotated[
    StrictStr, AfterValidator(_vocabulary("公开类别", domain.DISCLOSURE_CLASSES))
]
ProviderKind = Annotated[
    StrictStr, AfterValidator(_vocabulary("提供单位类型", domain.PROVIDER_KINDS))
]
Frequency = Annotated[StrictStr, AfterValidator(_vocabulary("更新频率", domain.UPDATE_FREQUENCIES))]
PeriodClass = Annotated[
    StrictStr,
    AfterValidator(_vocabulary("公示期类别", domain.PUBLICATION_PERIOD_CLASSES)),
]
Severity = Annotated[StrictStr, AfterValidator(_vocabulary("严重程度", domain.SEVERITIES))]
Level = Annotated[StrictInt, AfterValidator(_check_level)]
Pattern = Annotated[StrictStr, AfterValidator(_check_pattern)]


class _FileModel(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# ------------------------------------------------------------------ the catalog file


class CategorySpec(_FileModel):
    """A category of the list (信息类别) with its Chinese and English names."""

    zh: Annotated[Text, Field(max_length=100)]
    en: Annotated[Text, Field(max_length=200)]


class FieldSpec(_FileModel):
    """One field (字段) of a dataset."""

    code: Code
    label_zh: Annotated[Text, Field(max_length=100)]
    label_en: Annotated[Text, Field(max_length=200)]
    type: FieldType
    unit: Unit | None = None
    required: StrictBool
    enum: list[Text] | None = None
    enum_labels: dict[StrictStr, Text] | None = None
    classification_level: Level
    masking: Masking = "none"
    max_length: Annotated[StrictInt, Field(ge=1)] | None = None
    pattern: Pattern | None = None
    description: StrictStr = ""
    # Other headers providers write for this column (社会信用代码 for 统一社会信用代码): a
    # delivery's header matches the code, the Chinese label or one of these.
    aliases: list[Annotated[Text, Field(max_length=100)]] | None = None

    def label_of(self, value: str) -> str:
        """The Chinese label of an enum value (the value itself when it has none)."""
        return (self.enum_labels or {}).get(value, value)


class DatasetSpec(_FileModel):
    """One item of the list (信息项)."""

    code: Code
    name_zh: Annotated[Text, Field(max_length=100)]
    name_en: Annotated[Text, Field(max_length=200)]
    category: Code
    provider_kind: ProviderKind
    provider_name: Annotated[Text, Field(max_length=100)]
    update_frequency: Frequency
    sla_days: Annotated[StrictInt, Field(ge=0)] | None = None
    subject_key: Code
    natural_key: Annotated[list[Code], Field(min_length=1)]
    event_date_field: Code
    disclosure_class: Disclosure
    negative: StrictBool
    publication_period_class: PeriodClass | None = None
    severity_field: Code | None = None
    description: Annotated[StrictStr, Field(max_length=1000)] = ""
    fields: Annotated[list[FieldSpec], Field(min_length=1)]

    def field(self, code: str) -> FieldSpec:
        """The field named ``code``; KeyError when the dataset has none."""
        for spec in self.fields:
            if spec.code == code:
                return spec
        raise KeyError(code)

    @property
    def field_codes(self) -> list[str]:
        return [spec.code for spec in self.fields]


class CatalogFile(_FileModel):
    """A whole list: its version, categories in display order, and datasets in display order."""

    version: Annotated[
        StrictStr, Field(min_length=1, max_length=32, pattern=r"^[0-9A-Za-z][0-9A-Za-z._-]*$")
    ]
    title: Annotated[Text, Field(max_length=200)]
    basis: Annotated[Text, Field(max_length=200)]
    effective_date: date
    categories: Annotated[dict[Code, CategorySpec], Field(min_length=1)]
    datasets: Annotated[list[DatasetSpec], Field(min_length=1)]

    @model_validator(mode="after")
    def _cross_references(self) -> CatalogFile:
        violations = rule_violations(self)
        if violations:
            raise PydanticCustomError(
                "catalog_rules",
                "清单有 {count} 处不符合格式规则",
                {"count": len(violations), "violations": violations},
            )
        return self

    def dataset(self, code: str) -> DatasetSpec:
        """The dataset named ``code``; KeyError when the list has none."""
        for spec in self.datasets:
            if spec.code == code:
                return spec
        raise KeyError(code)

    @property
    def dataset_codes(self) -> list[str]:
        return [spec.code for spec in self.datasets]


def rule_violations(catalog: CatalogFile) -> list[tuple[Loc, str, str]]:
    """Every broken cross-reference rule as ``(path, issue code, Chinese reason)``, in file order."""
    found: list[tuple[Loc, str, str]] = []
    seen_datasets: dict[str, int] = {}
    for d_index, dataset in enumerate(catalog.datasets):
        at: Loc = ("datasets", d_index)
        if dataset.code in seen_datasets:
            found.append(
                (
                    (*at, "code"),
                    "duplicate",
                    f"数据项代码 {dataset.code} 重复（已用于 datasets[{seen_datasets[dataset.code]}]）",
                )
            )
        else:
            seen_datasets[dataset.code] = d_index
        if dataset.category not in catalog.categories:
            found.append(
                (
                    (*at, "category"),
                    "unknown_reference",
                    f"类别 {dataset.category} 未在 categories 中定义",
                )
            )
        found.extend(_dataset_violations(dataset, at))
    return found


def _dataset_violations(dataset: DatasetSpec, at: Loc) -> list[tuple[Loc, str, str]]:
    found: list[tuple[Loc, str, str]] = []
    fields: dict[str, FieldSpec] = {}
    for f_index, spec in enumerate(dataset.fields):
        if spec.code in fields:
            found.append(
                ((*at, "fields", f_index, "code"), "duplicate", f"字段代码 {spec.code} 重复")
            )
        else:
            fields[spec.code] = spec
        found.extend(_field_violations(spec, (*at, "fields", f_index)))
    found.extend(_header_name_clashes(dataset, at))

    def refers(key: str, code: str, where: Loc) -> FieldSpec | None:
        if code not in fields:
            found.append((where, "unknown_reference", f"{key} 指向的字段 {code} 不存在"))
            return None
        return fields[code]

    subject = refers("subject_key", dataset.subject_key, (*at, "subject_key"))
    if subject is not None and (subject.type != "uscc" or not subject.required):
        found.append(
            (
                (*at, "subject_key"),
                "inconsistent",
                f"subject_key 字段 {subject.code} 须为必填的 uscc 类型",
            )
        )
    for k_index, code in enumerate(dataset.natural_key):
        where: Loc = (*at, "natural_key", k_index)
        if code in dataset.natural_key[:k_index]:
            found.append((where, "duplicate", f"natural_key 中字段 {code} 重复"))
            continue
        key_field = refers("natural_key", code, where)
        if key_field is not None and not key_field.required:
            found.append((where, "inconsistent", f"natural_key 字段 {code} 须为必填"))
    event = refers("event_date_field", dataset.event_date_field, (*at, "event_date_field"))
    if event is not None and (event.type not in domain.EVENT_DATE_TYPES or not event.required):
        found.append(
            (
                (*at, "event_date_field"),
                "inconsistent",
                f"event_date_field 字段 {event.code} 须为必填的 date 或 period 类型",
            )
        )
    found.extend(_negative_violations(dataset, at, fields))
    return found


def _header_name_clashes(dataset: DatasetSpec, at: Loc) -> list[tuple[Loc, str, str]]:
    """An alias may name one column only: one that is another field's code, label or alias
    would make a delivered header ambiguous."""
    found: list[tuple[Loc, str, str]] = []
    owner: dict[str, str] = {}
    for spec in dataset.fields:
        for name in (spec.code, spec.label_zh):
            owner.setdefault(domain.header_key(name), spec.code)
    for f_index, spec in enumerate(dataset.fields):
        for a_index, alias in enumerate(spec.aliases or []):
            key = domain.header_key(alias)
            if owner.setdefault(key, spec.code) != spec.code:
                found.append(
                    (
                        (*at, "fields", f_index, "aliases", a_index),
                        "duplicate",
                        f"别名 {alias} 已是字段 {owner[key]} 的代码、名称或别名",
                    )
                )
    return found


def _negative_violations(
    dataset: DatasetSpec, at: Loc, fields: dict[str, FieldSpec]
) -> list[tuple[Loc, str, str]]:
    found: list[tuple[Loc, str, str]] = []
    period_class = dataset.publication_period_class
    if dataset.negative and period_class is None:
        found.append(
            (
                (*at, "publication_period_class"),
                "missing",
                "失信（negative: true）数据项须给出 publication_period_class",
            )
        )
    if not dataset.negative and period_class is not None:
        found.append(
            (
                (*at, "publication_period_class"),
                "inconsistent",
                "只有失信（negative: true）数据项才有公示期类别",
            )
        )
    if period_class == "by_severity":
        if dataset.severity_field is None:
            found.append(
                (
                    (*at, "severity_field"),
                    "missing",
                    "publication_period_class 为 by_severity 时须给出 severity_field",
                )
            )
        elif dataset.severity_field not in fields:
            found.append(
                (
                    (*at, "severity_field"),
                    "unknown_reference",
                    f"severity_field 指向的字段 {dataset.severity_field} 不存在",
                )
            )
        else:
            spec = fields[dataset.severity_field]
            if (
                spec.type != "enum"
                or not spec.required
                or sorted(spec.enum or []) != sorted(domain.SEVERITIES)
            ):
                found.append(
                    (
                        (*at, "severity_field"),
                        "inconsistent",
                        f"severity_field 字段 {spec.code} 须为必填枚举，取值恰为 minor、general、serious",
                    )
                )
    elif dataset.severity_field is not None:
        found.append(
            (
                (*at, "severity_field"),
                "inconsistent",
                "只有 publication_period_class 为 by_severity 时才可给出 severity_field",
            )
        )
    return found


def _field_violations(spec: FieldSpec, at: Loc) -> list[tuple[Loc, str, str]]:
    found: list[tuple[Loc, str, str]] = []
    allowed_units = domain.UNITS_BY_TYPE.get(spec.type, frozenset())
    if spec.unit is not None and spec.unit not in allowed_units:
        reason = (
            f"{spec.type} 类型不带单位"
            if not allowed_units
            else f"{spec.type} 类型的单位只能是 {'、'.join(sorted(allowed_units))}"
        )
        found.append(((*at, "unit"), "inconsistent", f"单位 {spec.unit} 不适用：{reason}"))
    if spec.unit is None and spec.type in domain.TYPES_REQUIRING_UNIT:
        found.append(
            (
                (*at, "unit"),
                "missing",
                f"{spec.type} 类型须给出单位（{'、'.join(sorted(allowed_units))}）",
            )
        )
    if spec.type == "enum":
        if not spec.enum:
            found.append(((*at, "enum"), "missing", "enum 类型须列出取值（enum）"))
        elif len(set(spec.enum)) != len(spec.enum):
            found.append(((*at, "enum"), "duplicate", "enum 取值有重复"))
        for value in spec.enum_labels or {}:
            if value not in (spec.enum or []):
                found.append(
                    (
                        (*at, "enum_labels", value),
                        "unknown_reference",
                        f"enum_labels 中的 {value} 不是该字段的取值",
                    )
                )
    else:
        if spec.enum is not None:
            found.append(((*at, "enum"), "inconsistent", "只有 enum 类型的字段才可列出取值"))
        if spec.enum_labels is not None:
            found.append(
                ((*at, "enum_labels"), "inconsistent", "只有 enum 类型的字段才可给出 enum_labels")
            )
    if spec.max_length is not None and spec.type not in domain.LENGTH_TYPES:
        found.append(
            ((*at, "max_length"), "inconsistent", "只有 string、text 类型的字段才可限定长度")
        )
    if spec.pattern is not None and spec.type not in domain.PATTERN_TYPES:
        found.append(((*at, "pattern"), "inconsistent", "只有 string 类型的字段才可给出 pattern"))
    return found


# ------------------------------------------------------------------ publication periods


class PeriodRule(_FileModel):
    """How long negative information of one severity is published (公示期)."""

    label_zh: Text
    published: StrictBool = Field(description="published by default; minor conduct is not")
    min_months: Annotated[StrictInt, Field(ge=0)]
    max_months: Annotated[StrictInt, Field(ge=0)]
    note: StrictStr = ""

    @model_validator(mode="after")
    def _min_not_above_max(self) -> PeriodRule:
        if self.min_months > self.max_months:
            raise PydanticCustomError("catalog_rules_period", "最短公示期不能长于最长公示期")
        return self


class PublicationWindow(BaseModel):
    """When one negative record may be repaired and when its publication ends."""

    model_config = ConfigDict(frozen=True)

    regime: str
    severity: str
    published: bool
    repair_from: date = Field(description="the minimum period ends: repair may be applied for")
    publish_until: date = Field(description="the maximum period ends: publication stops")


class PublicationRegime(_FileModel):
    """One set of publication periods, e.g. 国家发展改革委令第36号, and the dates it was in force."""

    code: Annotated[Text, Field(pattern=r"^[a-z0-9][a-z0-9-]*$")]
    title: Text
    basis: Text
    in_force_from: date
    in_force_until: date | None = None
    counted_from: Annotated[StrictStr, AfterValidator(_vocabulary("起算日", {"decision_date": ""}))]
    classes: dict[Severity, PeriodRule]

    @model_validator(mode="after")
    def _every_severity(self) -> PublicationRegime:
        missing = [s for s in domain.SEVERITIES if s not in self.classes]
        if missing:
            raise PydanticCustomError(
                "catalog_rules_regime", "缺少严重程度 {missing}", {"missing": "、".join(missing)}
            )
        if self.in_force_until is not None and self.in_force_until < self.in_force_from:
            raise PydanticCustomError("catalog_rules_regime", "失效日期早于施行日期")
        return self

    def in_force_on(self, day: date) -> bool:
        return self.in_force_from <= day and (
            self.in_force_until is None or day <= self.in_force_until
        )

    def window(self, severity: str, decision_date: date) -> PublicationWindow:
        """The publication window of a record of ``severity`` decided on ``decision_date``."""
        rule = self.classes[severity]
        return PublicationWindow(
            regime=self.code,
            severity=severity,
            published=rule.published,
            repair_from=domain.add_months(decision_date, rule.min_months),
            publish_until=domain.add_months(decision_date, rule.max_months),
        )


class PublicationPeriodsFile(_FileModel):
    """The publication-period regimes, oldest first, none overlapping."""

    regimes: Annotated[list[PublicationRegime], Field(min_length=1)]

    @model_validator(mode="after")
    def _ordered_without_overlap(self) -> PublicationPeriodsFile:
        for earlier, later in zip(self.regimes, self.regimes[1:], strict=False):
            if earlier.in_force_until is None or earlier.in_force_until >= later.in_force_from:
                raise PydanticCustomError(
                    "catalog_rules_regime",
                    "公示期制度 {a} 与 {b} 的施行期间重叠或顺序颠倒",
                    {"a": earlier.code, "b": later.code},
                )
        return self


# ------------------------------------------------------------------ read views and API bodies


class CategoryView(BaseModel):
    """A category of the list with how many datasets it holds."""

    model_config = ConfigDict(frozen=True)

    code: str = Field(description="category code (类别代码)")
    name_zh: str = Field(description="Chinese name (类别名称)")
    name_en: str = Field(description="English name")
    dataset_count: int = Field(description="number of datasets in the category (信息项数)")


class CatalogVersionOut(BaseModel):
    """A loaded version of the shared-data list (共享清单版本)."""

    version: str = Field(description="version id (版本号), e.g. 2021.1")
    title: str = Field(description="title (标题)")
    basis: str = Field(
        description="the policy document the list follows (依据), e.g. 国办发〔2021〕52号"
    )
    effective_date: date = Field(description="date the list took effect (生效日期)")
    loaded_at: datetime = Field(description="when this node loaded the file, UTC (载入时间)")
    source_digest: str = Field(description="SM3 digest of the loaded file, hex (文件SM3摘要)")
    is_current: bool = Field(description="whether this is the version in use (当前版本)")

    @classmethod
    def of(cls, row: CatalogVersion) -> CatalogVersionOut:
        return cls(
            version=row.version,
            title=row.title,
            basis=row.basis,
            effective_date=row.effective_date,
            loaded_at=row.loaded_at,
            source_digest=row.source_digest,
            is_current=row.is_current,
        )


class CatalogOverviewOut(BaseModel):
    """The list in use and its categories (共享清单概览)."""

    version: CatalogVersionOut | None = Field(
        description="the current version, or null when no list has been loaded"
    )
    categories: list[CategoryView] = Field(description="categories in display order (信息类别)")


class FieldOut(BaseModel):
    """A field of a dataset (字段)."""

    code: str = Field(description="field code (字段代码)")
    label_zh: str = Field(description="Chinese label (中文名称)")
    label_en: str = Field(description="English label")
    type: str = Field(description="value type (类型): " + ", ".join(domain.FIELD_TYPES))
    unit: str | None = Field(description="unit (单位): " + ", ".join(domain.UNITS))
    required: bool = Field(description="whether every record must give it (必填)")
    enum_values: list[str] | None = Field(description="allowed values of an enum field (枚举值)")
    enum_labels: dict[str, str] | None = Field(
        description="Chinese labels of enum values that are codes (枚举值中文名)"
    )
    classification_level: int = Field(description="JR/T 0197-2020 level 1-5 (数据分级)")
    masking: str = Field(
        description="display masking rule (脱敏规则): " + ", ".join(domain.MASKING_RULES)
    )

    @classmethod
    def of(cls, row: CatalogField, definition: Mapping[str, Any]) -> FieldOut:
        labels = definition.get("enum_labels")
        return cls(
            code=row.code,
            label_zh=row.label_zh,
            label_en=row.label_en,
            type=row.type,
            unit=row.unit,
            required=row.required,
            enum_values=row.enum_values,
            enum_labels=dict(labels) if isinstance(labels, Mapping) else None,
            classification_level=row.classification_level,
            masking=row.masking,
        )


class DatasetSummaryOut(BaseModel):
    """A dataset (信息项) as listed."""

    version: str = Field(description="catalog version the definition belongs to (清单版本)")
    code: str = Field(description="dataset code (信息项代码)")
    name_zh: str = Field(description="Chinese name (信息项名称)")
    name_en: str = Field(description="English name")
    category: str = Field(description="category code (类别)")
    provider_kind: str = Field(
        description="provider kind (提供单位类型): " + ", ".join(domain.PROVIDER_KINDS)
    )
    provider_name: str = Field(description="provider (数据提供单位)")
    update_frequency: str = Field(
        description="update frequency (更新频率): " + ", ".join(domain.UPDATE_FREQUENCIES)
    )
    disclosure_class: str = Field(
        description="disclosure class (公开类别): " + ", ".join(domain.DISCLOSURE_CLASSES)
    )
    negative: bool = Field(description="negative information (失信信息)")
    publication_period_class: str | None = Field(
        description="publication-period class of negative information (公示期类别)"
    )
    field_count: int = Field(description="number of fields (字段数)")

    @classmethod
    def of(cls, row: CatalogDataset) -> DatasetSummaryOut:
        """From a row loaded with its fields and version (as the service's reads return it)."""
        return cls(
            version=row.catalog_version.version,
            code=row.code,
            name_zh=row.name_zh,
            name_en=row.name_en,
            category=row.category,
            provider_kind=row.provider_kind,
            provider_name=row.provider_name,
            update_frequency=row.update_frequency,
            disclosure_class=row.disclosure_class,
            negative=row.negative,
            publication_period_class=row.publication_period_class,
            field_count=len(row.fields),
        )


class DatasetDetailOut(DatasetSummaryOut):
    """A dataset with its keys and fields (信息项详情)."""

    subject_key: str = Field(description="field holding the subject's USCC (主体标识字段)")
    natural_key: list[str] = Field(description="fields identifying one record (记录唯一键)")
    event_date_field: str = Field(description="field dating the record (事件日期字段)")
    severity_field: str | None = Field(description="enum field holding the severity (严重程度字段)")
    sla_days: int | None = Field(description="days the provider has to deliver (报送时限，天)")
    description: str = Field(description="description (说明)")
    fields: list[FieldOut] = Field(description="fields in file order (字段)")

    @classmethod
    def of(cls, row: CatalogDataset) -> DatasetDetailOut:
        definition = row.definition
        field_definitions = {
            str(item.get("code")): item
            for item in definition.get("fields", [])
            if isinstance(item, Mapping)
        }
        summary = DatasetSummaryOut.of(row)
        return cls(
            **summary.model_dump(),
            subject_key=row.subject_key,
            natural_key=list(row.natural_key),
            event_date_field=str(definition.get("event_date_field", "")),
            severity_field=definition.get("severity_field"),
            sla_days=definition.get("sla_days"),
            description=row.description,
            fields=[FieldOut.of(f, field_definitions.get(f.code, {})) for f in row.fields],
        )
