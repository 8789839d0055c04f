"""Record generators, one per dataset of the list, vectorised over one chunk of subjects.

Each generator returns a :class:`Draft`: for every record the subject (a row of the chunk), the
provider that delivers it, and its field values as columns keyed by the catalog's field codes.
:mod:`creditbridge.demo.chunks` then fits drafts to the loaded catalog and serialises them.

What each dataset holds, and how many records 100,000 subjects get (seed 20260101, as of
2026-10-31; "window" = the 36 months of history, "monthly" = the last 12 delivered months;
rates scale with the risk terms of :mod:`creditbridge.demo.model`):

==========================  =========  ===============================================================
dataset                     records    who and how often
==========================  =========  ===============================================================
registration                  100,000  one per subject
legal_rep_identity            100,000  one per subject (resident ID with a valid check digit)
annual_report                 221,404  last three report years, filed by ≈95 % (fewer risky firms)
abnormal_operation             10,716  every missed annual report (listed in July) + unreachable
licence                        63,715  by industry (food, construction, transport, permits …) and
                                       the set-up registration of firms born in the window
penalty                        11,223  0.045 a year; ≈45 % minor, ≈49 % general, ≈6 % serious
judgment                       12,873  0.045 a year, ×3 for firms that default
enforcement                     5,879  0.018 a year, ×4 for firms that default
dishonest_debtor                2,251  ≈20 % of open enforcement cases
consumption_restriction         2,496  ≈30 % of open enforcement cases
serious_dishonesty              2,028  0.0012 a year, ×10 after dishonesty, serious penalty, arrears
honour                         10,404  0.03 a year, more for low-risk and larger firms
policy_support                 23,322  0.06 a year, plus subsidies following platform loans
tax_credit_rating             205,199  yearly, enterprises and cooperatives
tax_payment                 1,047,620  monthly: enterprises, 60 % of 个体户, 50 % of cooperatives
tax_arrears                     7,438  0.025 a year
social_insurance              853,833  monthly: ≈90 % of enterprises, 12 % of 个体户
housing_fund                  348,367  monthly: ≈40 % of insured enterprises, by size
customs_trade                  27,009  monthly, active months only: equipment makers, wholesalers
utility_power                 628,259  monthly: own meter, ≈55 % (≈90 % of manufacturers)
utility_water                 320,353  monthly: own meter, ≈28 % (restaurants, factories more)
utility_gas                   120,742  monthly: restaurants, food/ceramics/chemical plants
real_estate                    13,851  ≈12 % of enterprises; mortgaged with a mortgage loan
patent                         22,239  ≈20 % of manufacturing/IT/R&D firms over a year old
trademark                      18,565  ≈12 % of enterprises over a year old
ip_pledge                         459  pledge loans of IP holders
tech_enterprise                 5,937  科技型中小企业, 高新技术企业, 专精特新, 小巨人
environmental_credit            5,271  yearly, ≈35 % of polluting manufacturers
self_reported                  13,057  0.05 a year
credit_commitment              20,779  0.08 a year
==========================  =========  ===============================================================

Rare datasets get at least one record per chunk (the subject with the highest propensity), so
that even a few hundred subjects show every dataset of the list.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from functools import cached_property
from typing import Any, Final

import numpy as np
import orjson
from numpy.typing import NDArray

from creditbridge.demo import model
from creditbridge.demo import names as vocab
from creditbridge.demo import providers as prov
from creditbridge.demo.lending import Lenders, LoanDraft
from creditbridge.demo.model import EVENTS, LATE, MONTHLY_MONTHS, logistic, stream
from creditbridge.demo.population import Population
from creditbridge.demo.timeline import (
    Window,
    add_months_days,
    iso,
    month_end,
    period_text,
    to_days,
    uniform_days,
)
from creditbridge.protection import service as protection
from creditbridge.reference import divisions

Column = list[Any] | NDArray[Any]
I64 = NDArray[np.int64]
F64 = NDArray[np.float64]
Days = NDArray[np.datetime64]

DAY = np.timedelta64(1, "D")
YEAR_DAYS: Final = 365


@dataclass
class Draft:
    """Records of one dataset for one chunk: ``rows`` are subject positions in the chunk."""

    rows: I64
    fields: dict[str, Column]
    provider: NDArray[np.str_]

    def __len__(self) -> int:
        return int(self.rows.shape[0])


_FEN_TEXT: Final = tuple(f".{i:02d}" for i in range(100))


def _money(values: F64) -> list[str]:
    """Amounts in yuan as the platform stores them (what ``ingest.domain.parse_value`` makes of
    an amount): decimal text to the fen, ``"1200"`` for whole yuan, ``"1234.50"`` otherwise."""
    cents = np.rint(np.maximum(np.asarray(values, dtype=np.float64), 0.0) * 100).astype(np.int64)
    yuan, fen = np.divmod(cents, 100)
    tail = _FEN_TEXT
    return [
        str(y) + tail[f] if f else str(y) for y, f in zip(yuan.tolist(), fen.tolist(), strict=True)
    ]


def _whole(values: F64, step: float = 1.0) -> list[str]:
    """Yuan amounts rounded to ``step`` (fines are set in round figures)."""
    return _money(np.round(np.asarray(values, dtype=np.float64) / step) * step)


def _wan(values: F64) -> list[str]:
    """Amounts in 万元, stored to the yuan's fen (six places) as ingest normalises them."""
    micro = np.rint(np.maximum(np.asarray(values, dtype=np.float64), 0.0) * 1e6).astype(np.int64)
    return [
        str(u // 1_000_000) if u % 1_000_000 == 0 else f"{u // 1_000_000}.{u % 1_000_000:06d}"
        for u in micro.tolist()
    ]


def _decimal(values: F64, places: int) -> list[str]:
    """Quantities (kWh, m³, m², %) as decimal text: ``"1234.5"``, ``"12"``."""
    text = [repr(v) for v in np.round(np.asarray(values, dtype=np.float64), places).tolist()]
    return [t[:-2] if t.endswith(".0") else t for t in text]


def _choice(
    rng: np.random.Generator, options: tuple[str, ...], weights: tuple[float, ...], n: int
) -> NDArray[np.str_]:
    p = np.asarray(weights, dtype=np.float64)
    return np.asarray(np.asarray(options)[rng.choice(len(options), size=n, p=p / p.sum())])


def _where_dates(mask: NDArray[np.bool_], days: Days) -> list[str | None]:
    text = iso(days)
    return [t if m else None for t, m in zip(text, mask.tolist(), strict=True)]


def _cap(days: Days, end: np.datetime64) -> Days:
    return np.asarray(np.minimum(days, end))


SEASON: Final = np.array([0.95, 0.72, 1.0, 1.0, 1.0, 1.03, 0.98, 0.98, 1.0, 1.02, 1.05, 1.27])
POWER_SEASON: Final = np.array([1.15, 0.85, 0.9, 0.88, 0.92, 1.05, 1.25, 1.3, 1.05, 0.9, 0.92, 1.1])
WATER_SEASON: Final = np.array([0.9, 0.85, 0.95, 1.0, 1.05, 1.1, 1.2, 1.2, 1.05, 0.95, 0.9, 0.85])
GAS_SEASON: Final = np.array([1.4, 1.3, 1.1, 0.9, 0.8, 0.7, 0.65, 0.65, 0.75, 0.9, 1.1, 1.35])

POLLUTING: Final = frozenset(
    {"17", "22", "25", "26", "27", "28", "29", "30", "31", "32", "33", "44"}
)


class Chunk:
    """One chunk of subjects and everything drawn about them; ``draft(code)`` is memoised so
    that a dataset can follow another (dishonest debtors from enforcement cases …)."""

    def __init__(
        self,
        *,
        seed: int,
        index: int,
        population: Population,
        window: Window,
        lenders: Lenders,
        loans: LoanDraft,
    ) -> None:
        self.seed = seed
        self.index = index
        self.p = population
        self.w = window
        self.lenders = lenders
        self.loans = loans
        self.n = len(population)
        self.end = to_days(window.end_date)
        self.start = to_days(window.start_date)
        self._drafts: dict[str, Draft] = {}

    def rng(self, name: str) -> np.random.Generator:
        return stream(self.seed, "records", name, self.index)

    def draft(self, code: str) -> Draft:
        if code not in self._drafts:
            generator = GENERATORS.get(code)
            self._drafts[code] = generator(self) if generator else _empty()
        return self._drafts[code]

    # ------------------------------------------------------------------ shared facts

    @cached_property
    def city_name(self) -> NDArray[np.str_]:
        return np.asarray([divisions.name(c) or c for c in self.p.city.tolist()])

    @cached_property
    def county_name(self) -> NDArray[np.str_]:
        return np.asarray([divisions.name(c) or c for c in self.p.county.tolist()])

    @cached_property
    def local_prefix(self) -> NDArray[np.str_]:
        """How county-level offices are named: 合肥市蜀山区… for districts, 肥西县… otherwise."""
        return np.asarray(
            [
                c + k if k.endswith("区") else k
                for c, k in zip(self.city_name.tolist(), self.county_name.tolist(), strict=True)
            ]
        )

    @cached_property
    def city_short(self) -> NDArray[np.str_]:
        return np.asarray([vocab.short_place(c) for c in self.city_name.tolist()])

    @cached_property
    def age_start(self) -> Days:
        """The later of registration and the window start: events cannot precede either."""
        return np.asarray(np.maximum(self.p.registration_date, self.start))

    @cached_property
    def monthly(self) -> list[int]:
        return self.w.monthly_periods()

    @cached_property
    def periods(self) -> NDArray[np.str_]:
        return np.asarray([period_text(m) for m in self.monthly])

    @cached_property
    def registered_by(self) -> NDArray[np.bool_]:
        """Registered by the end of each monthly period: subjects × 12."""
        ends = np.asarray([to_days(month_end(m)) for m in self.monthly])
        return np.asarray(self.p.registration_date[:, None] <= ends[None, :])

    @cached_property
    def distress(self) -> F64:
        return self.p.distress(np.arange(MONTHLY_MONTHS, dtype=np.int64))

    @cached_property
    def trend(self) -> F64:
        """Growth and distress multiplier, subjects × 12 (1 at the last month for a healthy firm)."""
        years = (np.arange(MONTHLY_MONTHS) - (MONTHLY_MONTHS - 1)) / 12.0
        growth = np.exp(self.p.growth[:, None] * years[None, :])
        return np.asarray(growth * (1.0 - model.DISTRESS_DROP * self.distress))

    @cached_property
    def calendar_month(self) -> I64:
        return np.asarray([m % 12 for m in self.monthly], dtype=np.int64)

    @cached_property
    def enforcement(self) -> _Enforcement:
        """Enforcement cases, shared by the datasets that follow them."""
        return _enforcement_cases(self)

    @cached_property
    def traits(self) -> Traits:
        return Traits.draw(self, stream(self.seed, "traits", self.index))

    def panel(self, members: NDArray[np.bool_]) -> tuple[I64, I64]:
        """(row, month position) of every member registered by each month, month-major."""
        grid = self.registered_by & members[:, None]
        pos, rows = np.nonzero(grid.T)
        return rows.astype(np.int64), pos.astype(np.int64)

    def late(self, kind: str, rows: I64, pos: I64, rng: np.random.Generator) -> NDArray[np.bool_]:
        a, b, c = LATE[kind]
        p = logistic(a + b * self.p.risk[rows] + c * self.distress[rows, pos])
        return np.asarray(rng.random(rows.size) < p)

    def counts(
        self,
        name: str,
        rng: np.random.Generator,
        eligible: NDArray[np.bool_] | None = None,
        *,
        years: float = 3.0,
        boost: F64 | None = None,
    ) -> I64:
        """Poisson event counts per subject over the window for ``EVENTS[name]``; at least one
        in the chunk (for the most prone eligible subject) so every dataset shows."""
        rate = EVENTS[name].rate(self.p.risk, self.p.defaulted)
        if boost is not None:
            rate = rate * boost
        exposure = np.clip((self.end - self.age_start).astype(np.int64) / YEAR_DAYS, 0.0, years)
        lam = rate * exposure
        if eligible is not None:
            lam = np.where(eligible, lam, 0.0)
        counts = rng.poisson(lam).astype(np.int64)
        if counts.sum() == 0 and lam.max(initial=0.0) > 0:
            counts[int(np.argmax(lam))] = 1
        return counts

    def event_days(self, rows: I64, rng: np.random.Generator) -> Days:
        return uniform_days(rng, self.age_start[rows], self.end, rows.size)

    def constant(self, short: str, n: int) -> NDArray[np.str_]:
        return np.full(n, prov.code(short), dtype="<U32")

    def per_city(self, kind: str, rows: I64) -> NDArray[np.str_]:
        return np.asarray(
            [prov.city_code(kind, c) for c in self.p.city[rows].tolist()], dtype="<U32"
        )

    def seq(self, rows: I64, k: I64, width: int) -> list[str]:
        """Document numbers unique per (subject, k): they end records' natural keys."""
        values = (self.p.ids[rows] * 64 + k) % (10**width)
        return [f"{v:0{width}d}" for v in values.tolist()]


@dataclass
class Traits:
    """Standing facts of each subject of a chunk that several datasets share."""

    si_member: NDArray[np.bool_]
    si_cover: F64
    wage_base: F64
    hf_member: NDArray[np.bool_]
    hf_share: F64
    hf_rate: F64
    power: NDArray[np.bool_]
    water: NDArray[np.bool_]
    gas: NDArray[np.bool_]
    trader: NDArray[np.bool_]
    export_share: F64
    import_share: F64
    taxpayer: NDArray[np.bool_]
    vat_rate: F64
    margin: F64
    patents: I64
    trademarks: I64
    properties: I64
    filed: NDArray[np.bool_]  # subjects × 3 report years, oldest first

    @classmethod
    def draw(cls, c: Chunk, rng: np.random.Generator) -> Traits:
        p, n = c.p, c.n
        kind, section, emp, risk = p.entity_type, p.section, p.employees, p.risk
        enterprise = kind == "91"
        si_p = np.select(
            [enterprise & (emp >= 5), enterprise, kind == "92"], [0.95, 0.78, 0.12], default=0.3
        )
        si_member = rng.random(n) < si_p
        hf_p = np.where(enterprise, logistic(-1.6 + 0.55 * np.log(emp) - 0.5 * risk), 0.02)
        hf_member = si_member & (rng.random(n) < hf_p)
        # Own meters only: many small firms rent space with utilities included in the rent.
        power_p = np.select(
            [section == "C", section == "H", section == "E", kind == "93"],
            [0.92, 0.8, 0.35, 0.45],
            default=0.48,
        ) * np.where(kind == "92", 0.8, 1.0)
        water_p = np.select([section == "H", section == "C"], [0.8, 0.55], default=0.2) * np.where(
            kind == "92", 0.7, 1.0
        )
        gas_heavy = np.isin(p.division, ["13", "14", "15", "26", "30", "31", "32"])
        gas_p = np.select(
            [section == "H", gas_heavy, section == "C", section == "O"],
            [0.8, 0.45, 0.12, 0.1],
            default=0.02,
        )
        trade_p = (
            np.select(
                [
                    np.isin(p.division, ["34", "35", "36", "38", "39", "40"]),
                    section == "C",
                    p.division == "51",
                ],
                [0.25, 0.12, 0.1],
                default=0.004,
            )
            * np.where(emp >= 20, 1.5, 0.6)
            * np.where(enterprise, 1.0, 0.0)
        )
        patent_p = np.clip(
            np.select(
                [section == "M", section == "I", section == "C"], [0.3, 0.25, 0.18], default=0.02
            )
            * np.where(emp >= 20, 2.0, 1.0)
            * np.exp(-0.3 * risk)
            * np.where(enterprise, 1.0, 0.1),
            0.0,
            0.9,
        )
        patents = np.where(rng.random(n) < patent_p, 1 + rng.geometric(0.35, n) - 1, 0)
        tm_p = np.where(enterprise, 0.12, 0.03) * np.where(
            np.isin(section, ["C", "F", "H"]), 1.4, 1.0
        )
        trademarks = np.where(rng.random(n) < tm_p, 1 + rng.poisson(0.7, n), 0)
        prop_p = np.where(
            enterprise,
            0.04
            + 0.22 * (emp >= 20)
            + 0.12 * np.isin(section, ["C", "K"])
            + 0.05 * (p.division == "51"),
            np.where(kind == "93", 0.08, 0.02),
        )
        properties = np.where(rng.random(n) < prop_p, 1 + rng.poisson(0.35, n), 0)
        filed_p = 1.0 - logistic(-3.3 + 0.9 * risk)
        # Registering a mark or a patent takes the best part of a year.
        established = (c.end - p.registration_date).astype(np.int64) > 365
        return cls(
            si_member=si_member,
            si_cover=rng.uniform(0.55, 1.0, n),
            wage_base=np.maximum(4227.0, 5300.0 * np.exp(0.25 * rng.standard_normal(n))),
            hf_member=hf_member,
            hf_share=rng.uniform(0.4, 1.0, n),
            hf_rate=np.asarray([5.0, 6.0, 8.0, 10.0, 12.0])[
                rng.choice(5, size=n, p=[0.35, 0.1, 0.1, 0.15, 0.3])
            ],
            power=rng.random(n) < power_p,
            water=rng.random(n) < water_p,
            gas=rng.random(n) < gas_p,
            trader=rng.random(n) < trade_p,
            export_share=np.where(rng.random(n) < 0.8, rng.uniform(0.1, 0.8, n), 0.0),
            import_share=np.where(rng.random(n) < 0.5, rng.uniform(0.05, 0.4, n), 0.0),
            taxpayer=np.select([enterprise, kind == "92"], [True, False], default=False)
            | ((kind == "92") & (rng.random(n) < 0.6))
            | ((kind == "93") & (rng.random(n) < 0.5)),
            vat_rate=rng.uniform(0.02, 0.045, n),
            margin=0.07 - 0.03 * risk + 0.03 * rng.standard_normal(n),
            patents=np.where(established, patents, 0).astype(np.int64),
            trademarks=np.where(established, trademarks, 0).astype(np.int64),
            properties=properties.astype(np.int64),
            filed=rng.random((n, 3)) < filed_p[:, None],
        )


def _empty() -> Draft:
    return Draft(np.empty(0, dtype=np.int64), {}, np.empty(0, dtype="<U32"))


def _within_subject(rows: I64) -> I64:
    """0, 1, … for the records of each subject, given rows grouped by subject."""
    if rows.size == 0:
        return np.empty(0, dtype=np.int64)
    starts = np.r_[True, rows[1:] != rows[:-1]]
    group_start = np.maximum.accumulate(np.where(starts, np.arange(rows.size), 0))
    return np.asarray(np.arange(rows.size) - group_start, dtype=np.int64)


def _k_of(counts: I64) -> tuple[I64, I64]:
    """(rows, k) for per-subject counts: each subject's records numbered 0, 1, …"""
    rows = np.repeat(np.arange(counts.size, dtype=np.int64), counts)
    starts = np.repeat(np.cumsum(counts) - counts, counts)
    return rows, np.arange(rows.size, dtype=np.int64) - starts


# ====================================================================== registration category


def registration(c: Chunk) -> Draft:
    p = c.p
    rows = np.arange(c.n, dtype=np.int64)
    rng = c.rng("registration")
    scope = [
        _scope(d, s, k)
        for d, s, k in zip(
            p.division.tolist(), p.section.tolist(), p.entity_type.tolist(), strict=True
        )
    ]
    return Draft(
        rows,
        {
            "uscc": p.uscc,
            "name": p.name,
            "entity_type": p.legal_form,
            "legal_representative": p.legal_rep,
            "registration_date": iso(p.registration_date),
            "registered_capital": _wan(p.capital_wan),
            "division_code": p.county,
            "industry_code": p.division,
            "business_scope": scope,
            "status": np.where(rng.random(c.n) < 0.9, "存续", "在业"),
            "address": p.address,
            "registration_authority": p.authority,
        },
        c.constant("samr", c.n),
    )


def _scope(division: str, section: str, kind: str) -> str:
    word = vocab.INDUSTRY_WORDS.get(division, ("商品",))[0]
    if kind == "92":
        return f"{word}零售；日用百货销售（依法须经批准的项目，经相关部门批准后方可开展经营活动）"
    if kind == "93":
        return "组织采购、供应成员所需的生产资料；组织收购、销售成员生产的产品；开展技术培训、技术交流和信息咨询服务"
    if section == "C":
        return f"{word}产品的研发、生产、销售；货物或技术进出口（依法须经批准的项目，经相关部门批准后方可开展经营活动）"
    if section == "F":
        return f"{word}用品、五金交电、建筑材料的批发与零售（依法须经批准的项目，经相关部门批准后方可开展经营活动）"
    return f"{word}服务；技术开发、技术咨询、技术服务（依法须经批准的项目，经相关部门批准后方可开展经营活动）"


def legal_rep_identity(c: Chunk) -> Draft:
    p, rng = c.p, c.rng("legal_rep_identity")
    rows = np.arange(c.n, dtype=np.int64)
    changed = rng.random(c.n) < 0.1
    effective = np.where(
        changed, uniform_days(rng, p.registration_date, c.end, c.n), p.registration_date
    )
    age_at_start = rng.uniform(24, 56, c.n)
    birth = p.registration_date - (age_at_start * 365.25).astype("timedelta64[D]")
    elsewhere = rng.random(c.n) < 0.08
    area = np.where(
        elsewhere,
        _choice(rng, ("320102", "330106", "410105", "420106", "360102"), (1, 1, 1, 1, 1), c.n),
        p.county,
    )
    sequence = rng.integers(0, 1000, c.n)
    foreign = rng.random(c.n) < 0.004
    id_numbers = [
        f"E{s:08d}" if f else _resident_id(a, b, s)
        for a, b, s, f in zip(
            area.tolist(), iso(birth), sequence.tolist(), foreign.tolist(), strict=True
        )
    ]
    mobile_prefix = _choice(rng, ("13", "15", "17", "18", "19"), (3, 2, 1, 3, 1), c.n)
    mobile_tail = rng.integers(0, 10**9, c.n)
    has_mobile = rng.random(c.n) < 0.85
    return Draft(
        rows,
        {
            "uscc": p.uscc,
            "person_name": p.legal_rep,
            "id_type": np.where(foreign, "外国护照", "居民身份证"),
            "id_number": id_numbers,
            "mobile": [
                f"{a}{b:09d}" if h else None
                for a, b, h in zip(
                    mobile_prefix.tolist(), mobile_tail.tolist(), has_mobile.tolist(), strict=True
                )
            ],
            "effective_date": iso(effective),
        },
        c.constant("samr", c.n),
    )


def seal_at_rest(
    dataset_code: str, fields: tuple[str, ...], data: list[str]
) -> tuple[list[str], list[str]]:
    """Serialised records of a dataset with level-4+ ``fields`` (e.g. ``id_number``) as the
    store keeps them — those fields SM4-GCM encrypted — and their digests over the plaintext,
    exactly as ingest writes them (:class:`creditbridge.protection.service.Sealer`)."""
    sealer = protection.sealer(dataset_code, fields)
    assert sealer is not None
    digests = [sealer.digest(text.encode()) for text in data]
    sealed = [sealer.seal(orjson.loads(text)).decode() for text in data]
    return sealed, digests


_ID_WEIGHTS: Final = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)


def _resident_id(area: str, birth: str, sequence: int) -> str:
    """An 18-digit resident identity number with a valid GB 11643 check character."""
    body = f"{area}{birth.replace('-', '')}{sequence:03d}"
    total = sum(int(ch) * w for ch, w in zip(body, _ID_WEIGHTS, strict=True))
    return body + "10X98765432"[total % 11]


def annual_years(c: Chunk) -> list[int]:
    """Report years whose filing season (1 Jan – 30 Jun of the next year) has begun."""
    last = c.w.end_date.year - 1
    return [last - 2, last - 1, last]


def annual_report(c: Chunk) -> Draft:
    p, rng, t = c.p, c.rng("annual_report"), c.traits
    years = annual_years(c)
    rows_all, k_all = [], []
    for k, year in enumerate(years):
        reporting = p.registration_date <= to_days(date(year, 12, 31))
        reporting &= (p.entity_type != "92") | (rng.random(c.n) < 0.6)
        rows_all.append(np.flatnonzero(reporting & t.filed[:, k]))
        k_all.append(np.full(rows_all[-1].size, k))
    rows = np.concatenate(rows_all).astype(np.int64)
    k = np.concatenate(k_all).astype(np.int64)
    year = np.asarray(years)[k]
    season_start = np.asarray([to_days(date(y + 1, 1, 2)) for y in years])[k]
    # Most firms file close to the 30 June deadline.
    offset = (np.sqrt(rng.random(rows.size)) * 179).astype("timedelta64[D]")
    filed_on = season_start + offset
    keep = filed_on <= c.end
    rows, year, filed_on = rows[keep], year[keep], filed_on[keep]
    scale = np.exp(p.growth[rows] * (year - years[-1]))
    public = rng.random(rows.size) < 0.7
    revenue = p.revenue_wan[rows] * scale * np.exp(0.1 * rng.standard_normal(rows.size))
    assets = p.assets_wan[rows] * scale
    dormant = rng.random(rows.size) < logistic(-4.5 + 0.8 * p.risk[rows])
    return Draft(
        rows,
        {
            "uscc": p.uscc[rows],
            "year": year.tolist(),
            "report_date": iso(filed_on),
            "operating_status": np.where(dormant, "歇业", "开业"),
            "employees": np.maximum(1, np.round(p.employees[rows] * scale))
            .astype(np.int64)
            .tolist(),
            "total_assets": [
                v if pub else None for v, pub in zip(_wan(assets), public.tolist(), strict=True)
            ],
            "operating_revenue": [
                v if pub else None for v, pub in zip(_wan(revenue), public.tolist(), strict=True)
            ],
            "financials_public": public.tolist(),
        },
        c.constant("samr", rows.size),
    )


def abnormal_operation(c: Chunk) -> Draft:
    p, rng, t = c.p, c.rng("abnormal_operation"), c.traits
    years = annual_years(c)
    missed_rows, listed = [], []
    for k, year in enumerate(years):
        owed = (p.registration_date <= to_days(date(year, 12, 31))) & (p.entity_type != "92")
        where = np.flatnonzero(owed & ~t.filed[:, k])
        day = to_days(date(year + 1, 7, 1)) + rng.integers(0, 20, where.size).astype(
            "timedelta64[D]"
        )
        missed_rows.append(where)
        listed.append(day)
    rows_missed = np.concatenate(missed_rows).astype(np.int64)
    listed_missed = np.concatenate(listed)
    keep = listed_missed <= c.end
    rows_missed, listed_missed = rows_missed[keep], listed_missed[keep]

    counts = c.counts("unreachable", rng)
    rows_gone, _ = _k_of(counts)
    listed_gone = c.event_days(rows_gone, rng)

    rows = np.concatenate([rows_missed, rows_gone])
    listed_on = np.concatenate([listed_missed, listed_gone])
    reasons = np.concatenate(
        [
            np.full(rows_missed.size, "未按规定报送年度报告"),
            np.full(rows_gone.size, "通过登记的住所或经营场所无法联系"),
        ]
    )
    removal_p = np.where(reasons == "未按规定报送年度报告", 0.55, 0.2) * np.exp(-0.3 * p.risk[rows])
    removed = rng.random(rows.size) < removal_p
    removed_on = listed_on + rng.integers(20, 400, rows.size).astype("timedelta64[D]")
    removed &= removed_on <= c.end
    why = np.where(
        reasons == "未按规定报送年度报告",
        "补报未报年份的年度报告并公示",
        "依法办理住所或者经营场所变更登记",
    )
    return Draft(
        rows,
        {
            "uscc": p.uscc[rows],
            "listed_date": iso(listed_on),
            "reason": reasons,
            "authority": p.authority[rows],
            "removed_date": _where_dates(removed, removed_on),
            "removal_reason": [
                w if r else None for w, r in zip(why.tolist(), removed.tolist(), strict=True)
            ],
        },
        c.constant("samr", rows.size),
    )


# ====================================================================== licences


@dataclass(frozen=True)
class _Licence:
    name: str
    licence_type: str
    provider: str
    authority: str  # "county" | "city" | "province:<name>"
    office: str
    prefix: str
    years: int
    content: str


_LICENCES: Final = {
    "food_trade": _Licence("食品经营许可证", "普通", "samr", "county", "市场监督管理局", "JY1", 5, "预包装食品销售；散装食品销售；热食类食品制售"),
    "food_make": _Licence("食品生产许可证", "普通", "samr", "city", "市场监督管理局", "SC1", 5, "食品生产"),
    "build_grade": _Licence("建筑业企业资质证书", "认可", "housing", "province:安徽省住房和城乡建设厅", "", "D234", 5, "建筑工程施工总承包三级"),
    "build_safety": _Licence("安全生产许可证", "普通", "housing", "province:安徽省住房和城乡建设厅", "", "（皖）JZ安许证字", 3, "建筑施工"),
    "road": _Licence("道路运输经营许可证", "普通", "transport", "county", "交通运输局", "皖交运管许可字", 6, "道路普通货物运输"),
    "discharge": _Licence("排污许可证", "普通", "eco", "city", "生态环境局", "", 5, "排放大气污染物、水污染物"),
    "hazchem": _Licence("危险化学品经营许可证", "普通", "emergency", "city", "应急管理局", "皖危化经字", 3, "危险化学品经营（不带储存设施）"),
    "drug": _Licence("药品经营许可证", "普通", "mpa", "province:安徽省药品监督管理局", "", "皖CB", 5, "药品零售"),
    "clinic": _Licence("医疗机构执业许可证", "普通", "health", "county", "卫生健康委员会", "PDY", 5, "内科；外科；预防保健科"),
    "school": _Licence("民办学校办学许可证", "普通", "edu", "county", "教育体育局", "教民", 5, "文化教育类培训"),
    "realty": _Licence("房地产开发企业资质证书", "认可", "housing", "city", "住房和城乡建设局", "皖房开", 3, "房地产开发二级"),
    "venue": _Licence("娱乐场所经营许可证", "普通", "culture", "county", "文化和旅游局", "文娱经字", 2, "歌舞娱乐场所"),
    "setup": _Licence("营业执照", "登记", "samr", "registrar", "", "", 0, "设立登记"),
}  # fmt: skip


def _licence_kinds(p: Population) -> list[tuple[str, NDArray[np.float64]]]:
    s, d, kind = p.section, p.division, p.entity_type
    return [
        ("food_trade", np.select([s == "H", d == "52"], [0.9, 0.45], 0.0)),
        ("food_make", np.where(np.isin(d, ["13", "14", "15"]), 0.8, 0.0)),
        ("build_grade", np.where((s == "E") & (kind == "91"), 0.8, 0.0)),
        ("build_safety", np.where((s == "E") & (kind == "91"), 0.7, 0.0)),
        ("road", np.where(d == "54", 0.9, 0.0)),
        ("discharge", np.where(np.isin(d, list(POLLUTING)), 0.6, 0.0)),
        ("hazchem", np.select([d == "26", d == "51"], [0.4, 0.04], 0.0)),
        ("drug", np.where((d == "52") & (kind == "91"), 0.05, 0.0)),
        ("clinic", np.where(d == "84", 0.9, 0.0)),
        ("school", np.where(d == "83", 0.8, 0.0)),
        ("realty", np.where(d == "70", 0.7, 0.0)),
        ("venue", np.where(d == "90", 0.7, 0.0)),
    ]


def licence(c: Chunk) -> Draft:
    p, rng = c.p, c.rng("licence")
    parts: list[tuple[str, I64]] = []
    for kind, prob in _licence_kinds(p):
        parts.append((kind, np.flatnonzero(rng.random(c.n) < prob).astype(np.int64)))
    # Setting up a firm is itself a licence under 双公示: those registered inside the window.
    parts.append(("setup", np.flatnonzero(p.registration_date >= c.start).astype(np.int64)))

    rows_l, kinds, issue_l = [], [], []
    for kind, rows in parts:
        spec = _LICENCES[kind]
        if kind == "setup":
            issued = p.registration_date[rows]
        else:
            # The licence in force: issued within its validity before the window end, after
            # the firm was set up.
            earliest = np.maximum(
                p.registration_date[rows] + 15, c.end - spec.years * YEAR_DAYS + 1
            )
            issued = uniform_days(rng, earliest, c.end, rows.size)
        rows_l.append(rows)
        kinds.append(np.full(rows.size, kind))
        issue_l.append(issued)
    rows = np.concatenate(rows_l)
    kind_arr = np.concatenate(kinds)
    issued = np.concatenate(issue_l)

    numbers, names, types, authorities, contents, providers, valid_to = [], [], [], [], [], [], []
    years = np.asarray([_LICENCES[k].years for k in kind_arr.tolist()], dtype=np.int64)
    expiry = add_months_days(issued, years * 12) - DAY
    for i, (r, k) in enumerate(zip(rows.tolist(), kind_arr.tolist(), strict=True)):
        spec = _LICENCES[k]
        uid = int(p.ids[r])
        county = str(p.county[r])
        year = str(issued[i])[:4]
        if k == "setup":
            number = str(p.uscc[r])
        elif k == "discharge":
            number = f"{p.uscc[r]}001P"
        elif k in {"food_trade", "food_make"}:
            number = f"{spec.prefix}{county}{uid:07d}"
        else:
            number = f"{spec.prefix}{year}{county[:4]}{uid:08d}"
        if spec.authority == "county":
            authority = f"{c.local_prefix[r]}{spec.office}"
        elif spec.authority == "city":
            authority = f"{c.city_name[r]}{spec.office}"
        elif spec.authority == "registrar":
            authority = str(p.authority[r])
        else:
            authority = spec.authority.removeprefix("province:")
        numbers.append(number)
        names.append(spec.name)
        types.append(spec.licence_type)
        authorities.append(authority)
        contents.append(spec.content)
        providers.append(prov.code(spec.provider))
        valid_to.append(None if spec.years == 0 else str(expiry[i]))
    issue_text = iso(issued)
    return Draft(
        rows,
        {
            "uscc": p.uscc[rows],
            "licence_no": numbers,
            "licence_name": names,
            "licence_type": types,
            "content": contents,
            "issue_date": issue_text,
            "valid_from": issue_text,
            "valid_to": valid_to,
            "authority": authorities,
        },
        np.asarray(providers, dtype="<U32"),
    )


# ====================================================================== penalties

# department → (provider, office naming, abbreviation, [(violation, legal basis)])
_PENALTY_DEPTS: Final = {
    "samr": ("county", "市场监督管理局", "市监罚", (
        ("销售不符合食品安全标准的食品", "《中华人民共和国食品安全法》第一百二十四条"),
        ("发布虚假广告", "《中华人民共和国广告法》第五十五条"),
        ("未按规定标明商品价格", "《中华人民共和国价格法》第四十二条"),
        ("使用未经检验的特种设备", "《中华人民共和国特种设备安全法》第八十四条"),
        ("销售不合格产品", "《中华人民共和国产品质量法》第五十条"),
    )),
    "eco": ("city", "生态环境局", "环罚", (
        ("超过排放标准排放大气污染物", "《中华人民共和国大气污染防治法》第九十九条"),
        ("未按规定设置危险废物识别标志", "《中华人民共和国固体废物污染环境防治法》第一百一十二条"),
        ("未批先建", "《中华人民共和国环境影响评价法》第三十一条"),
    )),
    "emergency": ("county", "应急管理局", "应急罚", (
        ("未按规定对从业人员进行安全生产教育和培训", "《中华人民共和国安全生产法》第九十七条"),
        ("未对安全设备进行经常性维护保养", "《中华人民共和国安全生产法》第九十九条"),
    )),
    "tax": ("tax", "税务局", "税罚", (
        ("未按照规定期限办理纳税申报", "《中华人民共和国税收征收管理法》第六十二条"),
        ("未按照规定开具发票", "《中华人民共和国发票管理办法》第三十五条"),
    )),
    "fire": ("fire", "消防救援大队", "消行罚决字", (
        ("消防设施未保持完好有效", "《中华人民共和国消防法》第六十条"),
        ("占用、堵塞疏散通道", "《中华人民共和国消防法》第六十条"),
    )),
    "transport": ("county", "交通运输局", "交罚", (
        ("车辆超限运输", "《公路安全保护条例》第六十四条"),
        ("未按规定进行车辆年度审验", "《中华人民共和国道路运输条例》第七十条"),
    )),
    "housing": ("city", "住房和城乡建设局", "建罚", (
        ("未取得施工许可证擅自施工", "《建筑工程施工许可管理办法》第十二条"),
        ("未按照工程建设强制性标准施工", "《建设工程质量管理条例》第六十四条"),
    )),
    "health": ("county", "卫生健康委员会", "卫医罚", (
        ("未取得医疗机构执业许可证擅自执业", "《医疗机构管理条例》第四十三条"),
        ("公共场所卫生质量不符合标准", "《公共场所卫生管理条例》第十四条"),
    )),
}  # fmt: skip


def _penalty_dept_weights(section: str) -> dict[str, float]:
    weights = {"samr": 6.0, "tax": 1.0, "fire": 1.0, "emergency": 0.5, "eco": 0.3,
               "transport": 0.1, "housing": 0.1, "health": 0.1}  # fmt: skip
    if section == "C":
        weights.update(eco=3.0, emergency=2.5)
    elif section == "E":
        weights.update(housing=4.0, emergency=2.0)
    elif section == "G":
        weights.update(transport=5.0)
    elif section in {"H", "R"}:
        weights.update(fire=3.0, health=1.0)
    elif section == "Q":
        weights.update(health=5.0)
    return weights


def penalty(c: Chunk) -> Draft:
    p, rng = c.p, c.rng("penalty")
    rows, k = _k_of(c.counts("penalty", rng))
    m = rows.size
    day = c.event_days(rows, rng)
    risk = p.risk[rows]
    serious_p = logistic(-3.2 + 0.6 * risk)
    draw = rng.random(m)
    severity = np.where(
        draw < serious_p, "serious", np.where(draw < serious_p + 0.45, "minor", "general")
    )
    dept_draw = rng.random(m)
    pick_draw = rng.random(m)
    kind_draw = rng.random(m)
    fine = np.select(
        [severity == "minor", severity == "general"],
        [rng.uniform(200, 3000, m), np.exp(rng.uniform(np.log(3000), np.log(80000), m))],
        default=np.exp(rng.uniform(np.log(50000), np.log(1_000_000), m)),
    )
    confiscated = fine * rng.uniform(0.2, 1.5, m)
    fields: dict[str, list[Any]] = {key: [] for key in (
        "decision_no", "violation_type", "violation_facts", "legal_basis", "penalty_type",
        "fine_amount", "confiscated_amount", "procedure", "authority",
    )}  # fmt: skip
    providers = []
    numbers = c.seq(rows, k, 9)
    fine_value = np.round(fine / 100.0) * 100.0
    fine_whole = _money(fine_value)
    confiscated_whole = _whole(confiscated, 100.0)
    for i, r in enumerate(rows.tolist()):
        weights = _penalty_dept_weights(str(p.section[r]))
        total = sum(weights.values())
        acc, dept = 0.0, "samr"
        for name, weight in weights.items():
            acc += weight / total
            if dept_draw[i] < acc:
                dept = name
                break
        level, office, abbr, violations = _PENALTY_DEPTS[dept]
        violation, basis = violations[int(pick_draw[i] * len(violations))]
        sev = str(severity[i])
        if sev == "minor":
            ptype = "警告" if kind_draw[i] < 0.55 else "罚款"
        elif sev == "general":
            ptype = (
                "罚款"
                if kind_draw[i] < 0.8
                else ("没收违法所得" if kind_draw[i] < 0.93 else "责令停产停业")
            )
        else:
            ptype = (
                "罚款",
                "责令停产停业",
                "吊销许可证件",
                "暂扣许可证件",
                "限制开展生产经营活动",
            )[min(int(kind_draw[i] * 5), 4)]
        if level == "county":
            authority = f"{c.local_prefix[r]}{office}"
        elif level == "city":
            authority = f"{c.city_name[r]}{office}"
        elif level == "tax":
            authority = f"国家税务总局{c.local_prefix[r]}税务局"
        else:
            authority = f"{c.county_name[r]}{office}"
        year = str(day[i])[:4]
        short = vocab.short_place(str(c.county_name[r]))[:1]
        fined = ptype in {"罚款", "没收违法所得"} or (sev != "minor" and kind_draw[i] < 0.6)
        fields["decision_no"].append(f"{short}{abbr}〔{year}〕{numbers[i]}号")
        fields["violation_type"].append(violation)
        fields["violation_facts"].append(
            f"经查，当事人存在{violation}的行为，违反了相关法律法规规定。"
        )
        fields["legal_basis"].append(basis)
        fields["penalty_type"].append(ptype)
        fields["fine_amount"].append(fine_whole[i] if fined else None)
        fields["confiscated_amount"].append(
            confiscated_whole[i] if ptype == "没收违法所得" else None
        )
        fields["procedure"].append(
            "简易程序" if sev == "minor" and (not fined or fine_value[i] <= 3000) else "普通程序"
        )
        fields["authority"].append(authority)
        providers.append(prov.code(dept))
    return Draft(
        rows,
        {"uscc": p.uscc[rows], "decision_date": iso(day), "severity": severity, **fields},
        np.asarray(providers, dtype="<U32"),
    )


# ====================================================================== courts

_CAUSES: Final = (
    ("买卖合同纠纷", 30), ("金融借款合同纠纷", 8), ("劳动争议", 12), ("建设工程施工合同纠纷", 8),
    ("房屋租赁合同纠纷", 10), ("民间借贷纠纷", 10), ("服务合同纠纷", 8), ("承揽合同纠纷", 6),
    ("运输合同纠纷", 3), ("追偿权纠纷", 5),
)  # fmt: skip


def _court(c: Chunk, rows: I64, appeal: NDArray[np.bool_]) -> tuple[list[str], list[str]]:
    """(court name, case-number court code): the basic court of the county, or the city's
    intermediate court on appeal."""
    names, codes = [], []
    for r, up in zip(rows.tolist(), appeal.tolist(), strict=True):
        if up:
            names.append(f"{c.city_name[r]}中级人民法院")
            codes.append(f"皖{str(c.p.city[r])[2:4]}")
        else:
            names.append(f"{c.local_prefix[r]}人民法院")
            codes.append(f"皖{str(c.p.county[r])[2:6]}")
    return names, codes


def judgment(c: Chunk) -> Draft:
    p, rng = c.p, c.rng("judgment")
    rows, k = _k_of(c.counts("judgment", rng))
    m = rows.size
    day = c.event_days(rows, rng)
    risk, defaulted = p.risk[rows], p.defaulted[rows]
    case_type = _choice(rng, ("民事", "行政", "刑事"), (95, 4, 1), m)
    level = _choice(rng, ("一审", "二审", "再审"), (85, 13, 2), m)
    defendant = rng.random(m) < logistic(0.1 + 0.6 * risk + 1.0 * defaulted)
    cause = _choice(rng, tuple(x for x, _ in _CAUSES), tuple(float(w) for _, w in _CAUSES), m)
    bank_case = defaulted & defendant & (rng.random(m) < 0.6)
    cause = np.where(bank_case, "金融借款合同纠纷", cause)
    cause = np.where(
        case_type == "行政", "行政处罚", np.where(case_type == "刑事", "虚开增值税专用发票", cause)
    )
    role = np.where(
        case_type == "刑事",
        "被告",
        np.where(case_type == "行政", "原告", np.where(defendant, "被告", "原告")),
    )
    courts, codes = _court(c, rows, level != "一审")
    type_code = np.where(case_type == "民事", "民", np.where(case_type == "行政", "行", "刑"))
    stage = np.where(level == "一审", "初", np.where(level == "二审", "终", "再"))
    numbers = c.seq(rows, k, 5)
    years = [str(d)[:4] for d in day.tolist()]
    amount = np.exp(rng.normal(np.log(150_000), 1.1, m))
    outcome = np.where(
        role == "被告",
        "判决被告于本判决生效之日起十日内向原告支付款项及利息",
        np.where(rng.random(m) < 0.7, "判决支持原告的主要诉讼请求", "驳回原告的诉讼请求"),
    )
    return Draft(
        rows,
        {
            "uscc": p.uscc[rows],
            "case_no": [
                f"（{y}）{cc}{t}{s}{num}号"
                for y, cc, t, s, num in zip(
                    years, codes, type_code.tolist(), stage.tolist(), numbers, strict=True
                )
            ],
            "court": courts,
            "case_type": case_type,
            "trial_level": level,
            "cause": cause,
            "role": role,
            "judgment_date": iso(day),
            "amount_involved": [
                v if t == "民事" else None
                for v, t in zip(_whole(amount, 100.0), case_type.tolist(), strict=True)
            ],
            "result": outcome,
        },
        c.constant("court", m),
    )


@dataclass
class _Enforcement:
    rows: I64
    k: I64
    filed: Days
    amount: F64
    open_: NDArray[np.bool_]
    closed_on: Days
    case_no: list[str]
    court: list[str]


def _enforcement_cases(c: Chunk) -> _Enforcement:
    p, rng = c.p, c.rng("enforcement")
    rows, k = _k_of(c.counts("enforcement", rng))
    m = rows.size
    filed = c.event_days(rows, rng)
    amount = np.exp(rng.normal(np.log(120_000), 1.2, m))
    close_p = np.clip(0.6 - 0.15 * p.risk[rows] - 0.4 * p.defaulted[rows], 0.05, 0.9)
    closed_on = filed + rng.integers(30, 400, m).astype("timedelta64[D]")
    closed = (rng.random(m) < close_p) & (closed_on <= c.end)
    courts, codes = _court(c, rows, np.zeros(m, dtype=np.bool_))
    numbers = c.seq(rows, k, 5)
    years = [str(d)[:4] for d in filed.tolist()]
    case_no = [f"（{y}）{cc}执{num}号" for y, cc, num in zip(years, codes, numbers, strict=True)]
    return _Enforcement(rows, k, filed, amount, ~closed, closed_on, case_no, courts)


def enforcement(c: Chunk) -> Draft:
    e = c.enforcement
    m = e.rows.size
    return Draft(
        e.rows,
        {
            "uscc": c.p.uscc[e.rows],
            "case_no": e.case_no,
            "court": e.court,
            "filing_date": iso(e.filed),
            "amount": _whole(e.amount, 1.0),
            "status": np.where(e.open_, "执行中", "已结案"),
            "closed_date": _where_dates(~e.open_, e.closed_on),
        },
        c.constant("court", m),
    )


def _pick_cases(c: Chunk, propensity: F64, rng: np.random.Generator) -> I64:
    """Enforcement cases (indexes) drawn with ``propensity``; at least one when any is open."""
    chosen = np.flatnonzero((rng.random(propensity.size) < propensity) & c.enforcement.open_)
    if chosen.size == 0 and c.enforcement.open_.any():
        candidates = np.flatnonzero(c.enforcement.open_)
        chosen = candidates[[int(np.argmax(propensity[candidates]))]]
    return chosen.astype(np.int64)


def dishonest_debtor(c: Chunk) -> Draft:
    e, p, rng = c.enforcement, c.p, c.rng("dishonest_debtor")
    rows_e = e.rows
    propensity = logistic(-1.8 + 0.9 * p.risk[rows_e] + 1.2 * p.defaulted[rows_e])
    cases = _pick_cases(c, propensity, rng)
    rows = rows_e[cases]
    m = cases.size
    published = _cap(e.filed[cases] + rng.integers(30, 200, m).astype("timedelta64[D]"), c.end)
    performance = _choice(rng, ("全部未履行", "部分履行", "已履行"), (70, 25, 5), m)
    removed_on = _cap(published + rng.integers(10, 120, m).astype("timedelta64[D]"), c.end)
    conduct = _choice(
        rng,
        ("有履行能力而拒不履行生效法律文书确定义务", "违反财产报告制度", "违反限制消费令"),
        (70, 20, 10),
        m,
    )
    return Draft(
        rows,
        {
            "uscc": p.uscc[rows],
            "case_no": [e.case_no[i] for i in cases.tolist()],
            "court": [e.court[i] for i in cases.tolist()],
            "basis_document_no": [e.case_no[i].replace("执", "民初") for i in cases.tolist()],
            "publish_date": iso(published),
            "obligation": [
                f"支付款项{v}元及迟延履行期间的债务利息" for v in _whole(e.amount[cases], 1.0)
            ],
            "performance": performance,
            "dishonest_conduct": conduct,
            "removed_date": _where_dates(performance == "已履行", removed_on),
        },
        c.constant("court", m),
    )


def consumption_restriction(c: Chunk) -> Draft:
    e, p, rng = c.enforcement, c.p, c.rng("consumption_restriction")
    rows_e = e.rows
    propensity = logistic(-1.1 + 0.7 * p.risk[rows_e] + 1.0 * p.defaulted[rows_e])
    cases = _pick_cases(c, propensity, rng)
    rows = rows_e[cases]
    m = cases.size
    issued = _cap(e.filed[cases] + rng.integers(15, 120, m).astype("timedelta64[D]"), c.end)
    lifted = rng.random(m) < 0.1
    lifted_on = _cap(issued + rng.integers(30, 300, m).astype("timedelta64[D]"), c.end)
    return Draft(
        rows,
        {
            "uscc": p.uscc[rows],
            "case_no": [e.case_no[i] for i in cases.tolist()],
            "court": [e.court[i] for i in cases.tolist()],
            "issue_date": iso(issued),
            "restricted_person": p.legal_rep[rows],
            "removed_date": _where_dates(lifted, lifted_on),
        },
        c.constant("court", m),
    )


# ====================================================================== dishonesty, honours, support

_LISTS: Final = (
    ("重大税收违法失信主体", "国家税务总局安徽省税务局", "虚开发票、偷税等重大税收违法行为", "《重大税收违法失信主体信息公布管理办法》"),
    ("拖欠农民工工资失信联合惩戒对象名单", "安徽省人力资源和社会保障厅", "拖欠农民工工资数额较大，经责令限期支付仍拒不支付", "《拖欠农民工工资失信联合惩戒对象名单管理暂行办法》"),
    ("市场监督管理严重违法失信名单", "安徽省市场监督管理局", "受到较重行政处罚且情节严重", "《市场监督管理严重违法失信名单管理办法》"),
    ("安全生产严重失信主体名单", "安徽省应急管理厅", "发生安全生产责任事故且负有主要责任", "《安全生产严重失信主体名单管理办法》"),
)  # fmt: skip


def serious_dishonesty(c: Chunk) -> Draft:
    p, rng = c.p, c.rng("serious_dishonesty")
    flagged = np.zeros(c.n, dtype=np.bool_)
    flagged[c.draft("dishonest_debtor").rows] = True
    pen = c.draft("penalty")
    serious = np.asarray(pen.fields["severity"]) == "serious"
    flagged[pen.rows[serious]] = True
    flagged[c.draft("tax_arrears").rows] = True
    rows, _ = _k_of(c.counts("serious_dishonesty", rng, boost=np.where(flagged, 10.0, 1.0)))
    m = rows.size
    which = rng.integers(0, len(_LISTS), m)
    listed = c.event_days(rows, rng)
    removed = rng.random(m) < 0.08
    removed_on = _cap(listed + rng.integers(180, 720, m).astype("timedelta64[D]"), c.end)
    return Draft(
        rows,
        {
            "uscc": p.uscc[rows],
            "list_name": [_LISTS[i][0] for i in which.tolist()],
            "list_authority": [_LISTS[i][1] for i in which.tolist()],
            "listed_date": iso(listed),
            "reason": [_LISTS[i][2] for i in which.tolist()],
            "legal_basis": [_LISTS[i][3] for i in which.tolist()],
            "removal_date": _where_dates(removed & (removed_on > listed), removed_on),
        },
        c.constant("ndrc", m),
    )


_HONOURS: Final = (
    ("守合同重信用企业", "省级", "province", "安徽省市场监督管理局", "皖市监"),
    ("安徽省名牌产品", "省级", "province", "安徽省市场监督管理局", "皖市监"),
    ("安徽省五一劳动奖状", "省级", "province", "安徽省总工会", "皖工"),
    ("诚信示范企业", "市级", "city", "发展和改革委员会", "发改"),
    ("优秀民营企业", "市级", "city", "人民政府", "政"),
    ("文明单位", "县级", "county", "精神文明建设指导委员会", "文明委"),
    ("劳动关系和谐企业", "县级", "county", "人力资源和社会保障局", "人社"),
    ("国家级绿色工厂", "国家级", "nation", "工业和信息化部", "工信厅节"),
)  # fmt: skip


def honour(c: Chunk) -> Draft:
    p, rng = c.p, c.rng("honour")
    rows, k = _k_of(c.counts("honour", rng, boost=np.where(p.employees >= 20, 2.5, 1.0)))
    m = rows.size
    awarded = c.event_days(rows, rng)
    weights = np.array([3, 1, 0.6, 3, 2, 3, 2, 0.2])
    which = rng.choice(len(_HONOURS), size=m, p=weights / weights.sum())
    names, levels, authorities, docs = [], [], [], []
    numbers = c.seq(rows, k, 3)
    for i, (r, h) in enumerate(zip(rows.tolist(), which.tolist(), strict=True)):
        name, level, scope, body, abbr = _HONOURS[h]
        year = str(awarded[i])[:4]
        if scope == "city":
            authority, label = f"{c.city_name[r]}{body}", f"{c.city_short[r]}{abbr}"
        elif scope == "county":
            authority, label = (
                f"{c.local_prefix[r]}{body}",
                f"{vocab.short_place(str(c.county_name[r]))}{abbr}",
            )
        else:
            authority, label = body, abbr
        names.append(f"{year}年度{name}")
        levels.append(level)
        authorities.append(authority)
        docs.append(f"{label}〔{year}〕{int(numbers[i]) % 200 + 1}号")
    return Draft(
        rows,
        {
            "uscc": p.uscc[rows],
            "honour_name": names,
            "level": levels,
            "authority": authorities,
            "award_date": iso(awarded),
            "document_no": docs,
        },
        c.constant("industry", m),
    )


_SUPPORT: Final = (
    ("财政补贴", "工业企业技术改造专项资金", "经济和信息化局", 5.0),
    ("财政补贴", "稳岗返还", "人力资源和社会保障局", 6.0),
    ("风险补偿", "中小微企业续贷过桥资金", "财政局", 1.0),
    ("税收优惠", "小微企业“六税两费”减征", "税务局", 2.0),
    ("专精特新认定", "专精特新中小企业奖补", "经济和信息化局", 1.0),
    ("其他", "科技型中小企业研发费用补助", "科学技术局", 2.0),
)  # fmt: skip


def policy_support(c: Chunk) -> Draft:
    p, rng = c.p, c.rng("policy_support")
    rows_g, k_g = _k_of(c.counts("policy_support", rng))
    day_g = c.event_days(rows_g, rng)
    weights = np.array([s[3] for s in _SUPPORT])
    which = rng.choice(len(_SUPPORT), size=rows_g.size, p=weights / weights.sum())
    # Platform loans bring interest subsidies, guarantee-fee subsidies and first-loan awards.
    loans = c.loans
    subsidised = np.flatnonzero(loans.via_platform & (rng.random(len(loans)) < 0.18))
    loan_day = _cap(
        loans.disbursed[subsidised]
        + rng.integers(60, 270, subsidised.size).astype("timedelta64[D]"),
        c.end,
    )
    loan_kind = np.where(
        loans.security[subsidised] == "guarantee",
        "担保费补贴",
        np.where(rng.random(subsidised.size) < 0.25, "首贷续贷奖补", "贷款贴息"),
    )
    rows = np.concatenate([rows_g, loans.rows[subsidised]]).astype(np.int64)
    k = np.concatenate([k_g, 100 + np.arange(subsidised.size)]).astype(np.int64)
    days = np.concatenate([day_g, loan_day])
    support_type = np.concatenate(
        [np.asarray([_SUPPORT[i][0] for i in which.tolist()], dtype="<U8"), loan_kind]
    )
    project = [_SUPPORT[i][1] for i in which.tolist()] + [
        {"担保费补贴": "政策性融资担保费补贴", "首贷续贷奖补": "首贷户贷款奖补"}.get(
            t, "小微企业贷款贴息"
        )
        for t in loan_kind.tolist()
    ]
    office = [_SUPPORT[i][2] for i in which.tolist()] + ["财政局"] * subsidised.size
    amount = np.concatenate(
        [
            np.exp(rng.normal(np.log(40_000), 1.0, rows_g.size)),
            loans.amount_fen[subsidised] / 100 * rng.uniform(0.005, 0.015, subsidised.size),
        ]
    )
    years = [str(d)[:4] for d in days.tolist()]
    numbers = c.seq(rows, k, 3)
    return Draft(
        rows,
        {
            "uscc": p.uscc[rows],
            "support_type": support_type,
            "project_name": [f"{y}年{name}" for y, name in zip(years, project, strict=True)],
            "amount": _money(amount),
            "grant_date": iso(days),
            "authority": [
                f"{c.city_name[r]}{o}" for r, o in zip(rows.tolist(), office, strict=True)
            ],
            "document_no": [
                f"{c.city_short[r]}财〔{y}〕{int(n) % 300 + 1}号"
                for r, y, n in zip(rows.tolist(), years, numbers, strict=True)
            ],
        },
        c.constant("finance", rows.size),
    )


# ====================================================================== tax


def tax_credit_rating(c: Chunk) -> Draft:
    p, rng = c.p, c.rng("tax_credit_rating")
    rows_l: list[I64] = []
    year_l: list[I64] = []
    for report_year in annual_years(c):
        evaluated = to_days(date(report_year + 1, 4, 25))
        if evaluated > c.end:
            continue
        rated = (p.entity_type != "92") & (
            p.registration_date <= to_days(date(report_year, 12, 31))
        )
        where = np.flatnonzero(rated).astype(np.int64)
        rows_l.append(where)
        year_l.append(np.full(where.size, report_year, dtype=np.int64))
    rows = np.concatenate(rows_l).astype(np.int64) if rows_l else np.empty(0, dtype=np.int64)
    year = np.concatenate(year_l).astype(np.int64) if year_l else np.empty(0, dtype=np.int64)
    m = rows.size
    score = -p.risk[rows] + 1.0 * rng.standard_normal(m)
    new = p.registration_date[rows] >= np.asarray(
        [to_days(date(y, 1, 1)) for y in year.tolist()], dtype="datetime64[D]"
    )
    rating = np.where(
        new,
        "M",
        np.where(score > 0.95, "A", np.where(score > -0.5, "B", np.where(score > -1.9, "C", "D"))),
    )
    days = np.asarray(
        [to_days(date(y + 1, 4, 10)) for y in year.tolist()], dtype="datetime64[D]"
    ) + rng.integers(0, 16, m).astype("timedelta64[D]")
    return Draft(
        rows,
        {
            "uscc": p.uscc[rows],
            "year": year.tolist(),
            "rating": rating,
            "evaluation_date": iso(days),
        },
        c.constant("tax", m),
    )


def tax_payment(c: Chunk) -> Draft:
    p, rng, t = c.p, c.rng("tax_payment"), c.traits
    rows, pos = c.panel(t.taxpayer)
    m = rows.size
    cal = c.calendar_month[pos]
    monthly_revenue = (
        p.revenue_wan[rows] * 10_000 / 12 * SEASON[cal] * c.trend[rows, pos]
        * np.exp(0.25 * rng.standard_normal(m))
    )  # fmt: skip
    idle = rng.random(m) < np.where(p.size_class[rows] == "micro", 0.08, 0.01)
    monthly_revenue = np.where(idle, 0.0, monthly_revenue)
    general = p.revenue_wan[rows] >= 500
    # Small-scale taxpayers pay 1 % VAT (2023–2027) and nothing on monthly sales up to 100,000 yuan.
    vat = np.where(
        general,
        monthly_revenue * t.vat_rate[rows],
        np.where(monthly_revenue > 100_000, 0.01 * monthly_revenue, 0.0),
    )
    quarter_month = np.isin(cal, [0, 3, 6, 9])  # CIT prepaid in Jan, Apr, Jul, Oct
    profit = np.maximum(0.0, 3 * monthly_revenue * t.margin[rows])
    cit_rate = np.where(profit * 4 < 3_000_000, 0.05, 0.25)
    cit = np.where(quarter_month & (p.entity_type[rows] == "91"), profit * cit_rate, 0.0)
    other = 0.12 * vat + 0.0003 * monthly_revenue
    on_time = ~c.late("tax_declaration", rows, pos, rng)
    return Draft(
        rows,
        {
            "uscc": p.uscc[rows],
            "period": c.periods[pos],
            "declared": on_time.tolist(),
            "taxable_revenue": _money(monthly_revenue),
            "vat_paid": _money(vat),
            "income_tax_paid": _money(cit),
            "total_tax_paid": _money(vat + cit + other),
        },
        c.constant("tax", m),
    )


_TAXES: Final = (
    "增值税",
    "企业所得税",
    "城市维护建设税",
    "房产税",
    "城镇土地使用税",
    "印花税",
    "个人所得税",
    "其他",
)


def tax_arrears(c: Chunk) -> Draft:
    p, rng = c.p, c.rng("tax_arrears")
    rows, _ = _k_of(c.counts("tax_arrears", rng))
    m = rows.size
    since = c.event_days(rows, rng)
    cleared = rng.random(m) < np.clip(
        0.6 - 0.15 * p.risk[rows] - 0.4 * p.defaulted[rows], 0.05, 0.9
    )
    cleared_on = since + rng.integers(15, 300, m).astype("timedelta64[D]")
    cleared &= cleared_on <= c.end
    return Draft(
        rows,
        {
            "uscc": p.uscc[rows],
            "tax_type": _choice(rng, _TAXES, (40, 15, 10, 8, 8, 5, 5, 9), m),
            "arrears_amount": _money(np.exp(rng.normal(np.log(25_000), 1.1, m))),
            "arrears_date": iso(since),
            "cleared_date": _where_dates(cleared, cleared_on),
            "authority": [f"国家税务总局{c.local_prefix[r]}税务局" for r in rows.tolist()],
        },
        c.constant("tax", m),
    )


# ====================================================================== social insurance, housing fund


def _insured_headcount(c: Chunk, rows: I64, pos: I64, rng: np.random.Generator) -> F64:
    t, p = c.traits, c.p
    base = p.employees[rows] * t.si_cover[rows]
    headcount_trend = np.exp(0.5 * np.log(np.maximum(c.trend[rows, pos], 1e-3)))
    noisy = base * headcount_trend * (1 + 0.04 * rng.standard_normal(rows.size))
    return np.asarray(np.maximum(1.0, np.round(noisy)))


def social_insurance(c: Chunk) -> Draft:
    p, rng, t = c.p, c.rng("social_insurance"), c.traits
    rows, pos = c.panel(t.si_member)
    m = rows.size
    headcount = _insured_headcount(c, rows, pos, stream(c.seed, "headcount", c.index))
    contribution_base = headcount * t.wage_base[rows]
    due = (
        contribution_base * 0.335
    )  # employer 16+7.5+0.5+0.5 %, employee 8+2+0.5 % (Anhui, approx.)
    late = c.late("social_insurance", rows, pos, rng)
    paid = np.where(late, due * rng.uniform(0.0, 0.8, m), due)
    due_r = np.round(due, 2)
    paid_r = np.round(paid, 2)
    return Draft(
        rows,
        {
            "uscc": p.uscc[rows],
            "period": c.periods[pos],
            "insured_headcount": headcount.astype(np.int64).tolist(),
            "contribution_base": _money(contribution_base),
            "amount_due": _money(due_r),
            "amount_paid": _money(paid_r),
            "arrears_amount": _money(due_r - paid_r),
        },
        c.constant("hrss", m),
    )


def housing_fund(c: Chunk) -> Draft:
    p, rng, t = c.p, c.rng("housing_fund"), c.traits
    rows, pos = c.panel(t.hf_member)
    m = rows.size
    insured = _insured_headcount(c, rows, pos, stream(c.seed, "headcount", c.index))
    headcount = np.maximum(1.0, np.round(insured * t.hf_share[rows]))
    missed = c.late("housing_fund", rows, pos, rng)
    # Months in arrears: consecutive missed months per firm, panel is month-major.
    arrears = np.zeros(m, dtype=np.int64)
    running = np.zeros(c.n, dtype=np.int64)
    for month in range(MONTHLY_MONTHS):
        at = np.flatnonzero(pos == month)
        r = rows[at]
        running[r] = np.where(missed[at], running[r] + 1, 0)
        arrears[at] = running[r]
    amount = np.where(missed, 0.0, headcount * t.wage_base[rows] * 1.1 * t.hf_rate[rows] / 100 * 2)
    return Draft(
        rows,
        {
            "uscc": p.uscc[rows],
            "period": c.periods[pos],
            "contributing_headcount": headcount.astype(np.int64).tolist(),
            "contribution_rate": _decimal(t.hf_rate[rows], 1),
            "amount_paid": _money(amount),
            "arrears_months": arrears.tolist(),
        },
        c.per_city("hf", rows),
    )


# ====================================================================== customs, utilities


def customs_trade(c: Chunk) -> Draft:
    p, rng, t = c.p, c.rng("customs_trade"), c.traits
    rows, pos = c.panel(t.trader)
    active = rng.random(rows.size) < 0.75
    rows, pos = rows[active], pos[active]
    m = rows.size
    monthly = p.revenue_wan[rows] * 10_000 / 12 * c.trend[rows, pos]
    exports = monthly * t.export_share[rows] * np.exp(0.35 * rng.standard_normal(m))
    imports = monthly * t.import_share[rows] * np.exp(0.35 * rng.standard_normal(m))
    firm_rng = stream(c.seed, "customs-rating", c.index)
    score = -p.risk + 0.6 * firm_rng.standard_normal(c.n)
    rating = np.where(
        (score > 1.6) & (p.employees >= 20),
        "高级认证企业",
        np.where(score < -2.6, "失信企业", "一般信用企业"),
    )
    return Draft(
        rows,
        {
            "uscc": p.uscc[rows],
            "period": c.periods[pos],
            "import_value": _money(imports),
            "export_value": _money(exports),
            "customs_credit_rating": rating[rows],
        },
        c.constant("customs", m),
    )


def _utility(
    c: Chunk,
    name: str,
    members: NDArray[np.bool_],
    intensity: F64,
    season: F64,
    price: tuple[float, float],
    provider: NDArray[np.str_] | None = None,
    kind: str = "",
) -> Draft:
    p, rng = c.p, c.rng(name)
    rows, pos = c.panel(members)
    m = rows.size
    firm_price = stream(c.seed, f"{name}-price", c.index).uniform(price[0], price[1], c.n)
    use = (
        p.employees[rows] * intensity[rows] * season[c.calendar_month[pos]] * c.trend[rows, pos]
        * np.exp(0.2 * rng.standard_normal(m))
    )  # fmt: skip
    billed = np.round(use * firm_price[rows], 2)
    late = c.late("utility", rows, pos, rng)
    paid = np.round(np.where(late, billed * rng.uniform(0.0, 0.9, m), billed), 2)
    return Draft(
        rows,
        {
            "uscc": p.uscc[rows],
            "period": c.periods[pos],
            "consumption": _decimal(use, 1),
            "amount_billed": _money(billed),
            "amount_paid": _money(paid),
            "arrears_amount": _money(billed - paid),
            "payment_on_time": (~late).tolist(),
        },
        provider if provider is not None else c.per_city(kind, rows),
    )


def utility_power(c: Chunk) -> Draft:
    s, d = c.p.section, c.p.division
    heavy = np.isin(d, ["25", "26", "30", "31", "32", "33"])
    kwh = np.select(
        [heavy, s == "C", s == "D", s == "H", s == "A", s == "I"],
        [4000.0, 1500.0, 3000.0, 600.0, 400.0, 300.0],
        default=220.0,
    )
    draft = _utility(c, "utility_power", c.traits.power, kwh, POWER_SEASON, (0.58, 0.85), kind="x")
    draft.provider = c.constant("power", len(draft))
    return draft


def utility_water(c: Chunk) -> Draft:
    s = c.p.section
    m3 = np.select([s == "H", s == "C", s == "A"], [25.0, 8.0, 12.0], default=2.5)
    return _utility(c, "utility_water", c.traits.water, m3, WATER_SEASON, (4.1, 6.2), kind="water")


def utility_gas(c: Chunk) -> Draft:
    s = c.p.section
    m3 = np.select([s == "H", s == "C"], [40.0, 30.0], default=6.0)
    return _utility(c, "utility_gas", c.traits.gas, m3, GAS_SEASON, (3.2, 4.3), kind="gas")


# ====================================================================== property and IP


def real_estate(c: Chunk) -> Draft:
    p, rng, t = c.p, c.rng("real_estate"), c.traits
    rows, k = _k_of(t.properties)
    m = rows.size
    section = p.section[rows]
    property_type = np.where(
        section == "C",
        _choice(rng, ("土地及房屋", "土地", "房屋"), (6, 2, 2), m),
        _choice(rng, ("房屋", "土地及房屋", "土地"), (8, 1.5, 0.5), m),
    )
    usage = np.select(
        [section == "C", section == "F", section == "K", section == "G"],
        ["工业", "商业", "商业", "仓储"],
        default="办公",
    )
    usage = np.where((section == "F") & (rng.random(m) < 0.3), "仓储", usage)
    area = np.where(
        usage == "工业",
        np.exp(rng.normal(np.log(4000), 0.8, m)),
        np.exp(rng.normal(np.log(260), 0.7, m)),
    )
    area = np.where(property_type == "土地", area * 2.5, area)
    registered = uniform_days(
        rng, np.maximum(p.registration_date[rows] + 30, c.end - 20 * YEAR_DAYS), c.end, m
    )
    # A mortgage loan secures on the firm's first property.
    loans = c.loans
    mortgage_loan: dict[int, int] = {}
    for i in np.flatnonzero(loans.security == "mortgage").tolist():
        mortgage_loan.setdefault(int(loans.rows[i]), i)
    mortgaged: list[bool] = []
    mortgagee: list[str | None] = []
    secured: list[float | None] = []
    banks = c.lenders.bank_indexes()
    other = rng.random(m)
    for i, (r, kk) in enumerate(zip(rows.tolist(), k.tolist(), strict=True)):
        loan = mortgage_loan.get(r) if kk == 0 else None
        if loan is not None and str(loans.status[loan]) != "repaid":
            mortgaged.append(True)
            mortgagee.append(c.lenders.institutions[int(loans.institution[loan])].name)
            secured.append(round(int(loans.credit_line_fen[loan]) / 1_000_000, 2))
        elif other[i] < 0.12:
            mortgaged.append(True)
            bank = banks[int(other[i] * 1000) % len(banks)]
            mortgagee.append(c.lenders.institutions[bank].name)
            secured.append(round(float(area[i]) * 0.25, 2))
        else:
            mortgaged.append(False)
            mortgagee.append(None)
            secured.append(None)
    # Certificates are issued by the county (肥西县…, 巢湖市…) or, for districts, by the city.
    office = [
        str(c.city_name[r]) if str(c.county_name[r]).endswith("区") else str(c.county_name[r])
        for r in rows.tolist()
    ]
    numbers = c.seq(rows, k, 7)
    years = [str(d)[:4] for d in registered.tolist()]
    roads = vocab.pick(rng, vocab.ROADS, m).tolist()
    return Draft(
        rows,
        {
            "uscc": p.uscc[rows],
            "certificate_no": [
                f"皖（{y}）{o}不动产权第{num}号"
                for y, o, num in zip(years, office, numbers, strict=True)
            ],
            "property_type": property_type,
            "usage": usage,
            "area": _decimal(area, 2),
            "location": [
                f"{c.local_prefix[r]}{road}{(n % 900) + 1}号"
                for r, road, n in zip(
                    rows.tolist(), roads, rng.integers(1, 10_000, m).tolist(), strict=True
                )
            ],
            "registration_date": iso(registered),
            "mortgaged": mortgaged,
            "mortgagee": mortgagee,
            "mortgage_amount": [
                None if v is None else w
                for v, w in zip(secured, _wan(np.asarray([v or 0.0 for v in secured])), strict=True)
            ],
        },
        c.constant("nr", m),
    )


_PATENT_OBJECTS: Final[dict[str, tuple[str, ...]]] = {
    "C": ("自动化上料装置", "智能温控系统", "高效节能电机", "耐磨轴承座", "环保涂料及其制备方法",
          "复合包装材料", "精密冲压模具", "新型过滤器", "食品杀菌设备", "汽车座椅调节机构"),
    "I": ("基于大数据的数据处理方法", "分布式存储系统", "图像识别装置", "物联网网关", "智能客服方法"),
    "M": ("检测分析方法", "试验装置", "环境监测系统", "土壤修复方法", "工程测量装置"),
}  # fmt: skip


def _patent_check(digits: str) -> str:
    """Check character of a Chinese patent application number (weights 2–9, mod 11)."""
    weights = (2, 3, 4, 5, 6, 7, 8, 9, 2, 3, 4, 5)
    total = sum(int(ch) * w for ch, w in zip(digits, weights, strict=True)) % 11
    return "X" if total == 10 else str(total)


def patent(c: Chunk) -> Draft:
    p, rng, t = c.p, c.rng("patent"), c.traits
    rows, k = _k_of(t.patents)
    m = rows.size
    kind = _choice(rng, ("发明", "实用新型", "外观设计"), (25, 60, 15), m)
    applied = uniform_days(
        rng, np.maximum(p.registration_date[rows] + 60, c.end - 10 * YEAR_DAYS), c.end, m
    )
    lag = np.select(
        [kind == "发明", kind == "实用新型"],
        [rng.integers(540, 1100, m), rng.integers(150, 360, m)],
        default=rng.integers(100, 240, m),
    )
    granted_on = applied + lag.astype("timedelta64[D]")
    granted = granted_on <= c.end
    lapsed = granted & (
        rng.random(m)
        < logistic(
            -2.2 + 0.5 * p.risk[rows] + 0.15 * ((c.end - applied).astype(np.int64) / YEAR_DAYS)
        )
    )
    status = np.where(~granted, "审查中", np.where(lapsed, "失效", "有效"))
    type_digit = np.where(kind == "发明", "1", np.where(kind == "实用新型", "2", "3"))
    numbers = c.seq(rows, k, 7)
    objects = [
        _PATENT_OBJECTS.get(str(s), _PATENT_OBJECTS["C"])[
            int(u * 5) % len(_PATENT_OBJECTS.get(str(s), _PATENT_OBJECTS["C"]))
        ]
        for s, u in zip(p.section[rows].tolist(), rng.random(m).tolist(), strict=True)
    ]
    patent_numbers = []
    for d, td, num in zip(iso(applied), type_digit.tolist(), numbers, strict=True):
        digits = f"{d[:4]}{td}{num}"
        patent_numbers.append(f"ZL{digits}.{_patent_check(digits)}")
    return Draft(
        rows,
        {
            "uscc": p.uscc[rows],
            "patent_no": patent_numbers,
            "title": [
                f"一种{o}" if k_ != "外观设计" else f"{o[:4]}（外观）"
                for o, k_ in zip(objects, kind.tolist(), strict=True)
            ],
            "patent_type": kind,
            "application_date": iso(applied),
            "grant_date": _where_dates(granted, granted_on),
            "status": status,
        },
        c.constant("ip", m),
    )


_NICE_CLASS: Final[dict[str, int]] = {
    "13": 29, "14": 30, "15": 33, "17": 24, "18": 25, "19": 18, "20": 20, "21": 20, "26": 1, "27": 5,
    "29": 17, "30": 19, "33": 6, "34": 7, "35": 7, "36": 12, "38": 9, "39": 9, "40": 9, "47": 37,
    "48": 37, "49": 37, "50": 37, "51": 35, "52": 35, "54": 39, "58": 39, "61": 43, "62": 43,
    "64": 42, "65": 42, "72": 35, "73": 42, "74": 42, "75": 42, "80": 45, "81": 37, "83": 41,
    "84": 44, "86": 41, "87": 41, "01": 31, "03": 31,
}  # fmt: skip


def trademark(c: Chunk) -> Draft:
    p, rng, t = c.p, c.rng("trademark"), c.traits
    rows, k = _k_of(t.trademarks)
    m = rows.size
    registered = uniform_days(
        rng, np.maximum(p.registration_date[rows] + 270, c.end - 15 * YEAR_DAYS), c.end, m
    )
    base_class = np.asarray([_NICE_CLASS.get(d, 35) for d in p.division[rows].tolist()])
    nice = np.where(k == 0, base_class, rng.integers(1, 46, m))
    numbers = [10_000_000 + int(v) for v in ((p.ids[rows] * 16 + k) % 89_999_999).tolist()]
    marks = [
        str(name) if kk % 2 == 0 else f"{name}{suffix}"
        for name, kk, suffix in zip(
            p.trade_name[rows].tolist(),
            k.tolist(),
            vocab.pick(rng, ("", "优品", "之家", "坊", "源"), m).tolist(),
            strict=True,
        )
    ]
    return Draft(
        rows,
        {
            "uscc": p.uscc[rows],
            "registration_no": [str(v) for v in numbers],
            "mark_name": marks,
            "class_no": nice.astype(np.int64).tolist(),
            "registration_date": iso(registered),
            "valid_to": iso(add_months_days(registered, 120) - DAY),
        },
        c.constant("ip", m),
    )


def ip_pledge(c: Chunk) -> Draft:
    p, rng, t, loans = c.p, c.rng("ip_pledge"), c.traits, c.loans
    holders = (t.patents + t.trademarks) > 0
    pledge = np.flatnonzero(
        (loans.security == "pledge") & holders[loans.rows] & (rng.random(len(loans)) < 0.6)
    )
    if pledge.size == 0:
        candidates = np.flatnonzero(holders[loans.rows])
        if candidates.size == 0:
            candidates = np.arange(len(loans))
        pledge = candidates[:1]
    rows = loans.rows[pledge]
    m = pledge.size
    registered = _cap(
        loans.disbursed[pledge] - rng.integers(1, 10, m).astype("timedelta64[D]"), c.end
    )
    ip_type = np.where(t.patents[rows] > 0, "专利权", "商标专用权")
    years = [str(d)[:4] for d in registered.tolist()]
    numbers = c.seq(rows, _within_subject(rows), 9)
    return Draft(
        rows,
        {
            "uscc": p.uscc[rows],
            "pledge_no": [
                f"Y{y}{p.county[r]!s}{num}"
                for y, r, num in zip(years, rows.tolist(), numbers, strict=True)
            ],
            "ip_type": ip_type,
            "pledgee": [
                c.lenders.institutions[int(i)].name for i in loans.institution[pledge].tolist()
            ],
            "amount": _money(loans.amount_fen[pledge] / 100),
            "registration_date": iso(registered),
            "status": np.where(loans.status[pledge] == "repaid", "已注销", "有效"),
        },
        c.constant("ip", m),
    )


# ====================================================================== research, environment, self


def tech_enterprise(c: Chunk) -> Draft:
    p, rng = c.p, c.rng("tech_enterprise")
    eligible = np.isin(p.section, ["C", "I", "M"]) & (p.entity_type == "91")
    lift = np.exp(-0.4 * p.risk)
    kinds = (
        ("科技型中小企业", np.where(eligible, 0.08, 0.004) * lift, 1, "sti"),
        ("高新技术企业", np.where(eligible & (p.employees >= 10), 0.08, 0.0) * lift, 3, "sti"),
        (
            "专精特新中小企业",
            np.where(eligible & (p.section == "C") & (p.employees >= 15), 0.05, 0.0) * lift,
            3,
            "industry",
        ),
        (
            "专精特新“小巨人”企业",
            np.where(eligible & (p.size_class == "medium"), 0.03, 0.0) * lift,
            3,
            "industry",
        ),
    )
    rows_l, kind_l, issue_l, valid_l, prov_l, k_l = [], [], [], [], [], []
    for position, (name, prob, years, provider) in enumerate(kinds):
        holders = np.flatnonzero(rng.random(c.n) < prob)
        if name == "科技型中小企业":
            # Re-registered every year: one record per year held, up to three.
            held = rng.integers(1, 4, holders.size)
            rows, k = _k_of(held)
            rows = holders[rows]
            year = c.w.end_date.year - k
            issued = np.asarray(
                [to_days(date(int(y), 5, 1)) for y in year.tolist()], dtype="datetime64[D]"
            )
            issued = issued + rng.integers(0, 120, rows.size).astype("timedelta64[D]")
            valid = np.asarray(
                [to_days(date(int(y), 12, 31)) for y in year.tolist()], dtype="datetime64[D]"
            )
        else:
            rows, k = holders, np.zeros(holders.size, dtype=np.int64)
            issued = uniform_days(
                rng,
                np.maximum(p.registration_date[rows] + 365, c.end - years * YEAR_DAYS),
                c.end,
                rows.size,
            )
            valid = add_months_days(issued, years * 12) - DAY
        keep = (issued <= c.end) & (issued >= p.registration_date[rows])
        rows_l.append(rows[keep])
        kind_l.append(np.full(int(keep.sum()), name))
        issue_l.append(issued[keep])
        valid_l.append(valid[keep])
        prov_l.append(np.full(int(keep.sum()), prov.code(provider), dtype="<U32"))
        k_l.append(k[keep] + 10 * position)
    rows = np.concatenate(rows_l).astype(np.int64)
    m = rows.size
    kind_arr = np.concatenate(kind_l)
    issued = np.concatenate(issue_l)
    valid = np.concatenate(valid_l)
    k = np.concatenate(k_l)
    numbers = c.seq(rows, k, 9)
    certificate = []
    for name, day, r, num in zip(
        kind_arr.tolist(), iso(issued), rows.tolist(), numbers, strict=True
    ):
        issued_year = day[:4]
        if name == "高新技术企业":
            certificate.append(f"GR{issued_year}34{num}")
        elif name == "科技型中小企业":
            certificate.append(f"{issued_year}{p.county[r]}A{num}")
        else:
            certificate.append(f"ZJTX{issued_year}{p.city[r]}{num}")
    return Draft(
        rows,
        {
            "uscc": p.uscc[rows],
            "certification": kind_arr,
            "certificate_no": certificate,
            "issue_date": iso(issued),
            "valid_to": iso(valid),
            "rd_expense": _money(p.revenue_wan[rows] * 10_000 * rng.uniform(0.03, 0.09, m)),
        },
        np.concatenate(prov_l) if prov_l else np.empty(0, dtype="<U32"),
    )


def environmental_credit(c: Chunk) -> Draft:
    p, rng = c.p, c.rng("environmental_credit")
    rated = np.isin(p.division, list(POLLUTING)) & (rng.random(c.n) < 0.35)
    score = -p.risk + 0.6 * rng.standard_normal(c.n)
    rows_l, year_l = [], []
    for year in annual_years(c):
        evaluated = to_days(date(year + 1, 6, 30))
        if evaluated > c.end:
            continue
        where = np.flatnonzero(rated & (p.registration_date <= to_days(date(year, 1, 1))))
        rows_l.append(where)
        year_l.append(np.full(where.size, year))
    if not rows_l:
        return _empty()
    rows = np.concatenate(rows_l).astype(np.int64)
    year = np.concatenate(year_l).astype(np.int64)
    m = rows.size
    s = score[rows] + 0.3 * rng.standard_normal(m)
    rating = np.where(
        s > 1.2,
        "环保诚信企业",
        np.where(s > -1.0, "环保良好企业", np.where(s > -2.0, "环保警示企业", "环保不良企业")),
    )
    days = np.asarray(
        [to_days(date(int(y) + 1, 6, 1)) for y in year.tolist()], dtype="datetime64[D]"
    )
    days = days + rng.integers(0, 29, m).astype("timedelta64[D]")
    return Draft(
        rows,
        {
            "uscc": p.uscc[rows],
            "year": year.tolist(),
            "rating": rating,
            "evaluation_date": iso(days),
            "authority": [f"{c.city_name[r]}生态环境局" for r in rows.tolist()],
        },
        c.constant("eco", m),
    )


_SELF_ITEMS: Final = ("主营业务", "经营状况", "上下游", "融资需求", "其他")


def self_reported(c: Chunk) -> Draft:
    p, rng = c.p, c.rng("self_reported")
    rows, _ = _k_of(c.counts("self_reported", rng))
    m = rows.size
    item = _choice(rng, _SELF_ITEMS, (25, 30, 15, 25, 5), m)
    day = c.event_days(rows, rng)
    # Firms in trouble talk themselves up: reported growth adds a risk-related optimism.
    growth = (p.growth[rows] + 0.05 * np.maximum(p.risk[rows], 0)) * 100
    need = np.maximum(10, np.round(p.revenue_wan[rows] * rng.uniform(0.1, 0.4, m) / 10) * 10)
    word = [vocab.INDUSTRY_WORDS.get(d, ("产品",))[0] for d in p.division[rows].tolist()]
    content = []
    for it, g, n_, w, r, rev in zip(
        item.tolist(),
        growth.tolist(),
        need.tolist(),
        word,
        rows.tolist(),
        p.revenue_wan[rows].tolist(),
        strict=True,
    ):
        if it == "主营业务":
            content.append(f"主营{w}相关产品与服务，客户主要分布在{c.city_name[r]}及周边地区")
        elif it == "经营状况":
            content.append(
                f"上年营业收入约{round(rev)}万元，同比{'增长' if g >= 0 else '下降'}{abs(round(g, 1))}%"
            )
        elif it == "上下游":
            content.append(f"主要供应商{3 + r % 9}家，主要客户为省内{w}企业")
        elif it == "融资需求":
            content.append(f"拟融资{int(n_)}万元，用于补充流动资金，期限12个月")
        else:
            content.append("企业经营正常，愿意接受金融机构实地调查")
    return Draft(
        rows,
        {
            "uscc": p.uscc[rows],
            "item": item,
            "content": content,
            "reported_date": iso(day),
            "commitment_signed": (rng.random(m) < 0.8).tolist(),
        },
        c.constant("self", m),
    )


_COMMITMENTS: Final = (
    ("审批替代型", "申请人承诺已具备许可条件，如有不实愿承担相应法律责任", 30),
    ("证明事项型", "承诺所提交的证明材料真实有效，如有虚假愿承担相应责任", 35),
    ("主动型", "承诺依法诚信经营，自觉接受政府、行业组织和社会公众监督", 20),
    ("行业自律型", "承诺遵守行业自律公约，不从事不正当竞争行为", 10),
    ("信用修复型", "承诺已纠正失信行为，今后依法诚信经营，如再发生失信行为愿接受联合惩戒", 5),
)  # fmt: skip


def credit_commitment(c: Chunk) -> Draft:
    p, rng = c.p, c.rng("credit_commitment")
    rows, _ = _k_of(c.counts("credit_commitment", rng))
    m = rows.size
    weights = np.array([x[2] for x in _COMMITMENTS], dtype=np.float64)
    which = rng.choice(len(_COMMITMENTS), size=m, p=weights / weights.sum())
    office = _choice(rng, ("数据资源管理局", "市场监督管理局", "行政审批服务局"), (4, 4, 2), m)
    fulfilled = rng.random(m) >= logistic(-3.5 + 1.0 * p.risk[rows])
    return Draft(
        rows,
        {
            "uscc": p.uscc[rows],
            "commitment_type": [_COMMITMENTS[i][0] for i in which.tolist()],
            "commitment_date": iso(c.event_days(rows, rng)),
            "content": [_COMMITMENTS[i][1] for i in which.tolist()],
            "accepting_authority": [
                f"{c.local_prefix[r]}{o}"
                for r, o in zip(rows.tolist(), office.tolist(), strict=True)
            ],
            "fulfilled": fulfilled.tolist(),
        },
        c.constant("ndrc", m),
    )


Generator = Any  # Callable[[Chunk], Draft]; a plain alias keeps mypy's view of the table simple

GENERATORS: Final[dict[str, Generator]] = {
    "registration": registration,
    "legal_rep_identity": legal_rep_identity,
    "annual_report": annual_report,
    "abnormal_operation": abnormal_operation,
    "licence": licence,
    "penalty": penalty,
    "judgment": judgment,
    "enforcement": enforcement,
    "dishonest_debtor": dishonest_debtor,
    "consumption_restriction": consumption_restriction,
    "serious_dishonesty": serious_dishonesty,
    "honour": honour,
    "policy_support": policy_support,
    "tax_credit_rating": tax_credit_rating,
    "tax_payment": tax_payment,
    "tax_arrears": tax_arrears,
    "social_insurance": social_insurance,
    "housing_fund": housing_fund,
    "customs_trade": customs_trade,
    "utility_power": utility_power,
    "utility_water": utility_water,
    "utility_gas": utility_gas,
    "real_estate": real_estate,
    "patent": patent,
    "trademark": trademark,
    "ip_pledge": ip_pledge,
    "tech_enterprise": tech_enterprise,
    "environmental_credit": environmental_credit,
    "self_reported": self_reported,
    "credit_commitment": credit_commitment,
}
