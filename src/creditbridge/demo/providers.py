"""The departments and utilities that deliver the demo's data (数据提供单位), and which datasets
each owes.

Provincial departments deliver for the whole province; housing funds, water and gas come from
each city's own centre or company, as they do in Anhui. Codes are ``<division>-<short>``.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Final

from creditbridge.demo.names import short_place
from creditbridge.reference import divisions

PROVINCE: Final = "340000"


@dataclass(frozen=True)
class ProviderSpec:
    code: str
    name: str
    kind: str  # the catalog's provider kinds: department | utility | court | self
    division_code: str
    phone: str


_PROVINCIAL: Final = (
    ("samr", "安徽省市场监督管理局", "department"),
    ("housing", "安徽省住房和城乡建设厅", "department"),
    ("transport", "安徽省交通运输厅", "department"),
    ("eco", "安徽省生态环境厅", "department"),
    ("emergency", "安徽省应急管理厅", "department"),
    ("health", "安徽省卫生健康委员会", "department"),
    ("edu", "安徽省教育厅", "department"),
    ("culture", "安徽省文化和旅游厅", "department"),
    ("mpa", "安徽省药品监督管理局", "department"),
    ("fire", "安徽省消防救援总队", "department"),
    ("court", "安徽省高级人民法院", "court"),
    ("ndrc", "安徽省发展和改革委员会", "department"),
    ("industry", "安徽省经济和信息化厅", "department"),
    ("finance", "安徽省财政厅", "department"),
    ("tax", "国家税务总局安徽省税务局", "department"),
    ("hrss", "安徽省人力资源和社会保障厅", "department"),
    ("customs", "合肥海关", "department"),
    ("power", "国网安徽省电力有限公司", "utility"),
    ("nr", "安徽省自然资源厅", "department"),
    ("ip", "安徽省知识产权局", "department"),
    ("sti", "安徽省科学技术厅", "department"),
    ("self", "信用主体自主填报", "self"),
)

AREA_CODES: Final[dict[str, str]] = {
    "340100": "0551", "340200": "0553", "340300": "0552", "340400": "0554", "340500": "0555",
    "340600": "0561", "340700": "0562", "340800": "0556", "341000": "0559", "341100": "0550",
    "341200": "0558", "341300": "0557", "341500": "0564", "341600": "0558", "341700": "0566",
    "341800": "0563",
}  # fmt: skip

# Per-city providers: housing fund centres, water and gas companies.
CITY_KINDS: Final = ("hf", "water", "gas")

# Dataset → the provider(s) that deliver it. "city:<kind>" means each city's own provider.
ROUTES: Final[dict[str, tuple[str, ...]]] = {
    "registration": ("samr",),
    "legal_rep_identity": ("samr",),
    "annual_report": ("samr",),
    "abnormal_operation": ("samr",),
    "licence": ("samr", "housing", "transport", "eco", "emergency", "health", "edu", "culture", "mpa"),
    "penalty": ("samr", "eco", "emergency", "tax", "fire", "transport", "housing", "health"),
    "judgment": ("court",),
    "enforcement": ("court",),
    "dishonest_debtor": ("court",),
    "consumption_restriction": ("court",),
    "serious_dishonesty": ("ndrc",),
    "honour": ("industry",),
    "policy_support": ("finance",),
    "tax_credit_rating": ("tax",),
    "tax_payment": ("tax",),
    "tax_arrears": ("tax",),
    "social_insurance": ("hrss",),
    "housing_fund": ("city:hf",),
    "customs_trade": ("customs",),
    "utility_power": ("power",),
    "utility_water": ("city:water",),
    "utility_gas": ("city:gas",),
    "real_estate": ("nr",),
    "patent": ("ip",),
    "trademark": ("ip",),
    "ip_pledge": ("ip",),
    "tech_enterprise": ("sti", "industry"),
    "environmental_credit": ("eco",),
    "self_reported": ("self",),
    "credit_commitment": ("ndrc",),
}  # fmt: skip

# A dataset the demo has no generator for is delivered by this provider.
FALLBACK: Final = "ndrc"


def code(short: str, division: str = PROVINCE) -> str:
    return f"{division}-{short}"


def city_code(kind: str, city: str) -> str:
    return f"{city}-{kind}"


def _city_name(city: str, kind: str) -> str:
    name = divisions.name(city) or city
    if kind == "hf":
        return f"{name}住房公积金管理中心"
    if kind == "water":
        return f"{name}水务集团有限公司"
    return f"{short_place(name)}燃气集团有限公司"


@cache
def all_providers() -> tuple[ProviderSpec, ...]:
    specs = [
        ProviderSpec(
            code(short), name, kind, "340100" if short == "customs" else PROVINCE, "0551-62000000"
        )
        for short, name, kind in _PROVINCIAL
    ]
    for city in sorted(divisions.city_weights()):
        area = AREA_CODES.get(city, "0551")
        for offset, kind in enumerate(CITY_KINDS):
            specs.append(
                ProviderSpec(
                    city_code(kind, city),
                    _city_name(city, kind),
                    "utility" if kind != "hf" else "department",
                    city,
                    f"{area}-{6300 + offset * 11:04d}{int(city[2:4]) * 37 % 10000:04d}",
                )
            )
    return tuple(specs)


def obligations(dataset_codes: list[str]) -> list[tuple[str, str]]:
    """(provider code, dataset code) for every dataset of the list, as ``ingest_provider_dataset``
    records them."""
    cities = sorted(divisions.city_weights())
    pairs: list[tuple[str, str]] = []
    for dataset in dataset_codes:
        for route in ROUTES.get(dataset, (FALLBACK,)):
            if route.startswith("city:"):
                kind = route.removeprefix("city:")
                pairs.extend((city_code(kind, city), dataset) for city in cities)
            else:
                pairs.append((code(route), dataset))
    return pairs
