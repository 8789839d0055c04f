"""The subjects of the synthetic province and their hidden risk (model §1–3 in
:mod:`creditbridge.demo.model`), drawn for the whole population at once: these are a few arrays
per subject, small next to the records, and drawing them together lets codes and names be made
unique across the province."""

from __future__ import annotations

import unicodedata
from collections import Counter
from dataclasses import dataclass, fields
from functools import cache
from typing import Self

import numpy as np
from numpy.typing import NDArray

from creditbridge.demo import model
from creditbridge.demo import names as vocab
from creditbridge.demo.model import MONTHLY_MONTHS, stream, weighted_choice
from creditbridge.demo.timeline import Window, months_of, to_days
from creditbridge.reference import divisions, size, uscc

F64 = NDArray[np.float64]
I64 = NDArray[np.int64]
Str = NDArray[np.str_]
Bool = NDArray[np.bool_]
Days = NDArray[np.datetime64]

# Division codes the size standard cannot place on their own (it needs the 中类): the group
# whose thresholds our synthetic firms of that division follow.
SIZE_INDUSTRY: dict[str, str] = {"59": "592", "70": "701"}

LEGAL_FORMS = ("有限责任公司", "股份有限公司", "个人独资企业", "合伙企业", "外商投资企业")

CAPITAL_STEPS_WAN = np.array(
    [1, 3, 5, 10, 20, 30, 50, 100, 200, 300, 500, 800, 1000, 2000, 3000, 5000, 10000],
    dtype=np.float64,
)


@dataclass(frozen=True)
class Population:
    """Column arrays, one entry per subject, in subject-id order."""

    ids: I64
    uscc: Str
    name: Str
    entity_type: Str
    legal_form: Str
    city: Str
    county: Str
    section: Str
    division: Str
    size_class: Str
    employees: I64
    revenue_wan: F64
    assets_wan: F64
    registration_date: Days
    capital_wan: F64
    legal_rep: Str
    trade_name: Str
    address: Str
    authority: Str
    risk: F64
    true_pd: F64
    defaulted: Bool
    growth: F64
    default_month: I64
    """Index (0–11) within the monthly window at which a defaulted firm defaults; -1 otherwise."""

    def __len__(self) -> int:
        return int(self.ids.shape[0])

    def slice(self, start: int, stop: int) -> Self:
        return type(self)(**{f.name: getattr(self, f.name)[start:stop] for f in fields(self)})

    def replace_ids(self, ids: I64) -> Self:
        return type(self)(**{**{f.name: getattr(self, f.name) for f in fields(self)}, "ids": ids})

    def take(self, order: NDArray[np.int64]) -> Self:
        return type(self)(**{f.name: getattr(self, f.name)[order] for f in fields(self)})

    def distress(self, month_positions: NDArray[np.int64]) -> F64:
        """Distress in [0, 1] per subject (rows) and monthly position (columns): rising over
        the six months before a defaulted firm's default month, then staying at 1."""
        start = (self.default_month - model.DISTRESS_MONTHS)[:, None]
        level = (month_positions[None, :] - start) / model.DISTRESS_MONTHS
        level = np.clip(level, 0.0, 1.0)
        return np.asarray(np.where(self.defaulted[:, None], level, 0.0), dtype=np.float64)


def area_issue(code: str) -> str | None:
    """Why ``code`` cannot be the area of a demo (``--division``), in Chinese and English, or
    None: a current GB/T 2260 province, city or county of the demo province (Anhui)."""
    unknown = f"行政区划代码不存在（GB/T 2260）：{code!r} unknown GB/T 2260 division code {code!r}"
    province = divisions.province_of(code)
    if province is None:
        return unknown
    if province != divisions.ANHUI:
        # The data lists other provinces only at province level: name the province.
        return (
            f"{code}（{divisions.name(province)}）不在演示省份（安徽省 {divisions.ANHUI}）内 "
            f"{code} lies outside the demo province (Anhui, {divisions.ANHUI})"
        )
    division = divisions.get(code)
    if division is None:
        return unknown
    if not division.is_current:
        return (
            f"{division.name}（{code}）已撤销，请使用现行代码 "
            f"{code} has been abolished: use a current code"
        )
    return None


@cache
def _geography(
    area: str | None = None,
) -> tuple[dict[str, float], dict[str, tuple[list[str], NDArray[np.float64]]]]:
    """City weights and, per city, its counties with their weights; for an ``area`` (a city or
    a county of the demo province) only what lies inside it. A province-wide ``area`` is the
    whole province, drawn exactly as without one."""
    level = divisions.division_level(area) if area is not None else "province"
    if level == "county" and area is not None:
        city = divisions.city_of(area)
        assert city is not None
        return {city: 1.0}, {city: ([area], np.array([1.0]))}
    cities = divisions.city_weights() if level == "province" else {str(area): 1.0}
    counties: dict[str, tuple[list[str], NDArray[np.float64]]] = {}
    for city in cities:
        units = divisions.counties(city)
        # Urban districts hold more firms than rural counties of the same city.
        weights = np.array([2.0 if d.name.endswith("区") else 1.0 for d in units])
        counties[city] = ([d.code for d in units], weights / weights.sum())
    return cities, counties


def _name(code: str) -> str:
    return divisions.name(code) or code


def build_population(
    seed: int, n: int, *, window: Window, first_id: int, area: str | None = None
) -> Population:
    """``n`` subjects with ids ``first_id …``; deterministic for (seed, n, as-of date, area).

    With an ``area`` (a city or county code, see :func:`area_issue`) all ``n`` are drawn inside
    it — a city node's demo — and the rest of the model is unchanged; the draws of the whole
    province (no ``area``) are not touched, so its seeds keep giving the same rows."""
    if area is not None and (issue := area_issue(area)) is not None:
        raise ValueError(issue)
    rng = stream(seed, "population")
    ids = np.arange(first_id, first_id + n, dtype=np.int64)

    risk = rng.standard_normal(n)
    pd_true = model.true_pd(risk)
    defaulted = rng.random(n) < pd_true
    default_month = np.where(defaulted, rng.integers(3, MONTHLY_MONTHS, n), -1).astype(np.int64)
    growth = (
        model.GROWTH_MEAN + model.GROWTH_RISK * risk + model.GROWTH_NOISE * rng.standard_normal(n)
    )

    entity_type = np.asarray(model.ENTITY_TYPES)[
        rng.choice(3, size=n, p=np.asarray(model.ENTITY_MIX))
    ]

    city_weights, county_table = _geography(area)
    city = weighted_choice(rng, city_weights, n)
    county = np.empty(n, dtype="<U6")
    for code, (units, weights) in county_table.items():
        where = np.flatnonzero(city == code)
        county[where] = np.asarray(units)[rng.choice(len(units), size=where.size, p=weights)]

    section = np.empty(n, dtype="<U1")
    for kind in model.ENTITY_TYPES:
        where = np.flatnonzero(entity_type == kind)
        section[where] = weighted_choice(rng, model.SECTION_WEIGHTS[kind], where.size)
    division = np.empty(n, dtype="<U2")
    for letter, table in model.DIVISIONS.items():
        where = np.flatnonzero(section == letter)
        division[where] = weighted_choice(rng, table, where.size)

    log_median = np.array([model.EMPLOYEES[k][0] for k in entity_type.tolist()])
    sigma = np.array([model.EMPLOYEES[k][1] for k in entity_type.tolist()])
    employees = np.maximum(
        1,
        np.round(
            np.exp(log_median + model.EMPLOYEES_RISK_SHIFT * risk + sigma * rng.standard_normal(n))
        ),
    ).astype(np.int64)
    per_head = np.array([model.REVENUE_PER_HEAD[s] for s in section.tolist()])
    revenue_wan = np.round(employees * per_head * np.exp(0.5 * rng.standard_normal(n)), 2)
    asset_ratio = np.array([model.ASSET_RATIO[s] for s in section.tolist()])
    assets_wan = np.round(revenue_wan * asset_ratio * np.exp(0.4 * rng.standard_normal(n)), 2)
    size_class = classify_sizes(division, employees, revenue_wan, assets_wan)

    age_years = np.minimum(
        rng.gamma(model.AGE_SHAPE, model.AGE_SCALE_YEARS * np.exp(model.AGE_RISK * risk)),
        model.MAX_AGE_YEARS,
    )
    age_days = np.maximum(np.round(age_years * 365.25), 45).astype(np.int64)
    end = to_days(window.end_date)
    registration_date = np.asarray(end - age_days.astype("timedelta64[D]"))

    capital_median = np.select(
        [entity_type == "91", entity_type == "92"],
        [50.0 * np.sqrt(employees / 5.0), 3.0],
        default=50.0,
    )
    raw_capital = capital_median * np.exp(0.9 * rng.standard_normal(n))
    nearest = np.abs(np.log(raw_capital)[:, None] - np.log(CAPITAL_STEPS_WAN)[None, :]).argmin(
        axis=1
    )
    capital_wan = CAPITAL_STEPS_WAN[nearest]

    legal_form = np.where(
        entity_type == "92", "个体工商户", np.where(entity_type == "93", "农民专业合作社", "")
    ).astype("<U7")
    enterprise = np.flatnonzero(entity_type == "91")
    draw = rng.random(enterprise.size)
    big = employees[enterprise] >= 50
    legal_form[enterprise] = np.select(
        [big & (draw < 0.3), draw < 0.05, draw < 0.07, draw < 0.08],
        ["股份有限公司", "个人独资企业", "合伙企业", "外商投资企业"],
        default="有限责任公司",
    )

    family = vocab.surnames(rng, n)
    legal_rep = np.asarray(vocab.person_names(rng, family))
    trade_name, name = _names(rng, entity_type, legal_form, city, county, division, section, family)
    address = _addresses(rng, city, county)

    # The registering authority: county bureaus register most firms, the city bureau a quarter of
    # the companies (its code, not the county's, is then in positions 3–8 of the USCC).
    by_city = (entity_type == "91") & (rng.random(n) < 0.25)
    registering = np.where(by_city, city, county)
    codes = np.empty(n, dtype="<U18")
    for kind in model.ENTITY_TYPES:
        for place in np.unique(registering[entity_type == kind]).tolist():
            where = np.flatnonzero((entity_type == kind) & (registering == place))
            codes[where] = uscc.generate(
                stream(seed, "uscc", kind, place), where.size, division_codes=[place], prefix=kind
            )
    authority = np.asarray(
        [
            _authority(c, d, by)
            for c, d, by in zip(city.tolist(), county.tolist(), by_city.tolist(), strict=True)
        ]
    )

    population = Population(
        ids=ids,
        uscc=codes,
        name=name,
        entity_type=entity_type,
        legal_form=legal_form,
        city=city,
        county=county,
        section=section,
        division=division,
        size_class=size_class,
        employees=employees,
        revenue_wan=revenue_wan,
        assets_wan=assets_wan,
        registration_date=registration_date,
        capital_wan=capital_wan,
        legal_rep=legal_rep,
        trade_name=trade_name,
        address=address,
        authority=authority,
        risk=risk,
        true_pd=pd_true,
        defaulted=defaulted,
        growth=growth,
        default_month=default_month,
    )
    # Ids in the order the platform would have met the subjects: the initial load from the
    # registration authority (sorted by code, as its dump is), then newer firms month by month.
    # Record natural keys start with the code, so their index also builds from nearly sorted input.
    arrival = window.delivery_month(months_of(registration_date))
    order = np.lexsort((codes, arrival)).astype(np.int64)
    return population.take(order).replace_ids(ids)


def classify_sizes(division: Str, employees: I64, revenue_wan: F64, assets_wan: F64) -> Str:
    """``reference.size.classify`` for every subject, vectorised per industry row.

    The rule (Art. 4: large at or above every cap, else medium / small when both lower bounds are
    met, else micro) is applied to the thresholds of the row ``size.industry_row`` returns;
    calling ``classify`` per subject costs ~40 µs each, a third of a 100,000-firm run's budget.
    Tests check the two agree subject by subject.
    """
    result = np.full(division.shape, size.SizeClass.MICRO.value, dtype="<U6")
    measures = {
        "employees": employees.astype(np.float64),
        "revenue": np.round(revenue_wan * 10_000, 2),
        "assets": np.round(assets_wan * 10_000, 2),
    }
    for code in np.unique(division).tolist():
        row = size.industry_row(SIZE_INDUSTRY.get(code, code))
        where = division == code
        decided = np.zeros(division.shape, dtype=np.bool_)
        for size_class in (size.SizeClass.LARGE, size.SizeClass.MEDIUM, size.SizeClass.SMALL):
            meets = where & ~decided
            for indicator, bound in row.bounds(size_class).items():
                meets &= measures[indicator] >= float(bound)
            result[meets] = size_class.value
            decided |= meets
    return result


def _authority(city: str, county: str, by_city: bool) -> str:
    city_name = _name(city)
    if by_city:
        return f"{city_name}市场监督管理局"
    county_name = _name(county)
    prefix = city_name + county_name if county_name.endswith("区") else county_name
    return f"{prefix}市场监督管理局"


def _names(
    rng: np.random.Generator,
    entity_type: Str,
    legal_form: Str,
    city: Str,
    county: Str,
    division: Str,
    section: Str,
    family: Str,
) -> tuple[Str, Str]:
    """Trade names (字号) and full names, unique across the province."""
    n = entity_type.size
    trade = np.asarray(vocab.trade_names(rng, n), dtype="<U4")
    place_draw = rng.random(n)
    word_draw = rng.random(n)
    shop_draw = rng.random(n)
    owner_draw = rng.random(n)
    suffix_draw = rng.random(n)

    def build(i: int, zihao: str, *, redrawn: bool = False) -> str:
        kind = entity_type[i]
        county_name = _name(str(county[i]))
        if kind == "92":
            words = vocab.SHOP_WORDS.get(str(section[i]), vocab.SHOP_WORDS["F"])
            shop = words[int(shop_draw[i] * len(words))]
            if redrawn or owner_draw[i] >= 0.65:
                owner = zihao
            else:
                owner = f"{family[i]}记" if owner_draw[i] < 0.45 else f"老{family[i]}"
            return f"{county_name}{owner}{shop}"
        if kind == "93":
            produce, activity = vocab.COOP_PRODUCE[int(shop_draw[i] * len(vocab.COOP_PRODUCE))]
            return f"{county_name}{zihao}{produce}{activity}专业合作社"
        words = vocab.INDUSTRY_WORDS.get(str(division[i]), ("科技",))
        word = words[int(word_draw[i] * len(words))]
        if place_draw[i] < 0.15:
            place = "安徽"
        elif place_draw[i] < 0.75 or county_name.endswith("区"):
            place = vocab.short_place(_name(str(city[i])))
        else:
            place = county_name
        form = legal_form[i]
        if form == "股份有限公司":
            return f"{place}{zihao}{word}股份有限公司"
        if form == "个人独资企业":
            shop = {"C": "厂", "I": "工作室", "M": "工作室", "R": "工作室"}.get(
                str(section[i]), "经营部" if suffix_draw[i] < 0.6 else "商行"
            )
            return f"{place}{zihao}{word}{shop}"
        if form == "合伙企业":
            return f"{place}{zihao}{word}合伙企业（有限合伙）"
        return f"{place}{zihao}{word}{'有限公司' if suffix_draw[i] < 0.75 else '有限责任公司'}"

    # NFKC as ingest stores names: "（有限合伙）" is kept as "(有限合伙)".
    names = [unicodedata.normalize("NFKC", build(i, str(trade[i]))) for i in range(n)]
    # Registration refuses a name already taken; redraw the 字号 of later duplicates, widening it
    # to three characters if two do not suffice.
    for attempt in range(8):
        seen: Counter[str] = Counter()
        duplicates = []
        for i, value in enumerate(names):
            seen[value] += 1
            if seen[value] > 1:
                duplicates.append(i)
        if not duplicates:
            break
        fresh = vocab.trade_names(rng, len(duplicates))
        extra = vocab.pick(rng, vocab.ZIHAO_CHARS, len(duplicates)).tolist()
        for i, zihao, more in zip(duplicates, fresh, extra, strict=True):
            trade[i] = zihao + (more if attempt >= 2 else "")
            names[i] = unicodedata.normalize("NFKC", build(i, str(trade[i]), redrawn=True))
    return trade, np.asarray(names)


def _addresses(rng: np.random.Generator, city: Str, county: Str) -> Str:
    n = city.size
    road = vocab.pick(rng, vocab.ROADS, n).tolist()
    number = rng.integers(1, 2000, n).tolist()
    unit = rng.random(n)
    return np.asarray(
        [
            f"安徽省{_name(c)}{_name(k)}{r}{num}号" + (f"{num % 30 + 1}栋" if u < 0.3 else "")
            for c, k, r, num, u in zip(
                city.tolist(), county.tolist(), road, number, unit.tolist(), strict=True
            )
        ]
    )
