"""GB/T 2260 administrative division codes (行政区划代码): all 34 provincial-level units, and
Anhui (34xxxx) in full — 16 cities, 104 county-level units and the codes abolished since 1980.

Data: ``data/divisions.csv``. Names and validity years were derived from the dated division list
that python-stdnum ships (itself from zh.wikipedia's GB/T 2260 tables); successors were set by
hand from the State Council approvals of each change, and for pre-2000 changes by name continuity
(the ``note`` column marks the uncertain ones). 市辖区 (xx01) and 市区 (xx20) are summary rows,
not units, and are left out, as are the NBS statistical codes of development zones (3401 7x).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from functools import cache
from typing import Literal

from creditbridge.reference._data import read_csv, read_yaml

Level = Literal["province", "city", "county"]

ANHUI = "340000"


@dataclass(frozen=True)
class Division:
    """One GB/T 2260 code. ``valid_until`` is the year it was abolished (None while current);
    ``successor_code`` is the code that took over its area, which may itself be abolished."""

    code: str
    name: str
    level: Level
    parent_code: str | None
    valid_until: int | None
    successor_code: str | None
    former_names: tuple[str, ...] = ()
    note: str = ""

    @property
    def is_current(self) -> bool:
        return self.valid_until is None


def _level(value: str) -> Level:
    if value == "province":
        return "province"
    if value == "city":
        return "city"
    if value == "county":
        return "county"
    raise ValueError(f"divisions.csv: unknown level {value!r}")


@cache
def _table() -> dict[str, Division]:
    table: dict[str, Division] = {}
    for row in read_csv("divisions.csv"):
        table[row["code"]] = Division(
            code=row["code"],
            name=row["name"],
            level=_level(row["level"]),
            parent_code=row["parent_code"] or None,
            valid_until=int(row["valid_until"]) if row["valid_until"] else None,
            successor_code=row["successor_code"] or None,
            former_names=tuple(n for n in row["former_names"].split(";") if n),
            note=row["note"],
        )
    return table


def all_divisions() -> list[Division]:
    """Every division in the data file, current and abolished, ordered by code."""
    return sorted(_table().values(), key=lambda d: d.code)


def get(code: str) -> Division | None:
    return _table().get(code)


def name(code: str) -> str | None:
    division = get(code)
    return division.name if division else None


def provinces() -> list[Division]:
    """The 34 provincial-level units (31 on the mainland, 台湾省, 香港, 澳门)."""
    return [d for d in all_divisions() if d.level == "province"]


def cities(province: str = ANHUI) -> list[Division]:
    """Current prefecture-level units of ``province`` (only Anhui's are in the data)."""
    return [
        d
        for d in all_divisions()
        if d.level == "city" and d.parent_code == province and d.is_current
    ]


def counties(city_code: str) -> list[Division]:
    """Current county-level units (districts, counties, county-level cities) of a city."""
    return [
        d
        for d in all_divisions()
        if d.level == "county" and d.parent_code == city_code and d.is_current
    ]


def parent_chain(code: str) -> list[Division]:
    """The division and its ancestors, province first and ``code`` itself last; [] if unknown.

    An abolished county is chained through the city it belonged to when it existed."""
    chain: list[Division] = []
    current = get(code)
    while current is not None:
        chain.append(current)
        current = get(current.parent_code) if current.parent_code else None
    return chain[::-1]


def is_known(code: str, *, include_historical: bool = True) -> bool:
    division = get(code)
    if division is None:
        return False
    return include_historical or division.is_current


def current_successor(code: str) -> str | None:
    """The current code covering an abolished one (following renumberings such as
    341422 → 340225 → 340281); ``code`` itself if current; None if unknown or dissolved."""
    seen: set[str] = set()
    division = get(code)
    while division is not None and division.code not in seen:
        if division.is_current:
            return division.code
        seen.add(division.code)
        division = get(division.successor_code) if division.successor_code else None
    return None


def city_of(code: str) -> str | None:
    """The prefecture-level code a city or county belongs to; None for provinces and unknowns."""
    division = get(code)
    if division is None or division.level == "province":
        return None
    if division.level == "city":
        return division.code
    return division.parent_code


def province_of(code: str) -> str | None:
    """The provincial-level code for any 6-digit code whose first two digits name a province,
    including codes below province level that the data does not list (outside Anhui)."""
    if len(code) != 6 or not code.isascii() or not code.isdigit():
        return None
    candidate = code[:2] + "0000"
    division = get(candidate)
    return candidate if division is not None and division.level == "province" else None


@cache
def _weights() -> dict[str, float]:
    data = read_yaml("anhui_city_weights.yaml")
    raw = {str(code): Decimal(str(value)) for code, value in data["cities"].items()}
    total = sum(raw.values(), Decimal(0))
    return {code: float(value / total) for code, value in raw.items()}


def city_weights() -> dict[str, float]:
    """Share of each current Anhui city in the demo province, summing to 1.

    An ESTIMATE from approximate 2023 GDP (see ``data/anhui_city_weights.yaml``); fit for spreading
    synthetic enterprises, not for statistics."""
    return dict(_weights())


# --- Operators by region (issue 23) ----------------------------------------------------------


def division_level(code: str) -> Level | None:
    """The level a 6-digit GB/T 2260 code names, from the data when it lists the code and from
    its shape otherwise (``xx0000`` a province, ``xxyy00`` a city, anything else a county), so
    that codes outside Anhui, which the data lists only to province level, still have one.
    None when ``code`` is not six ASCII digits."""
    if len(code) != 6 or not code.isascii() or not code.isdigit():
        return None
    division = get(code)
    if division is not None:
        return division.level
    if code.endswith("0000"):
        return "province"
    if code.endswith("00"):
        return "city"
    return "county"


def division_covers(operator_division: str | None, subject_division: str | None) -> bool:
    """Whether an operator of ``operator_division`` sees what belongs to ``subject_division``:
    a province covers itself and all its cities and counties, a city itself and its counties, a
    county only itself. ``None`` (a node-wide operator) covers everything; a thing without a
    division is seen only by a node-wide operator, since no region can claim it.

    By code prefix rather than the data's parent links, so that a county abolished or renumbered
    under the same city, and codes the data does not list, fall where their digits put them."""
    if operator_division is None:
        return True
    if subject_division is None:
        return False
    prefix = division_prefix(operator_division)
    # A subject's code may be longer (a township's 9 or 12 digits) but never shorter.
    if prefix is None or len(subject_division) < 6 or not subject_division.isascii():
        return False
    return subject_division.isdigit() and subject_division.startswith(prefix)


def division_prefix(operator_division: str | None) -> str | None:
    """The code prefix :func:`division_covers` matches, for a ``LIKE 'prefix%'`` query; None for a
    node-wide operator (no limit). A county's prefix is its whole code."""
    if operator_division is None:
        return None
    level = division_level(operator_division)
    if level is None:
        # Not a code at all (a stored value gone bad): match nothing rather than everything;
        # "!" never occurs in a code, and is safe in a LIKE pattern on both stores.
        return operator_division + "!"
    if level == "province":
        return operator_division[:2]
    if level == "city":
        return operator_division[:4]
    return operator_division


def operator_division_issue(code: str) -> str | None:
    """Why ``code`` cannot be an operator's division (a Chinese message), or None: six digits,
    a current GB/T 2260 unit when the data lists its province in full, and at least a province
    in shape elsewhere."""
    if len(code) != 6 or not code.isascii() or not code.isdigit():
        return "行政区划代码应为 6 位数字（GB/T 2260）"
    division = get(code)
    if division is not None:
        if not division.is_current:
            return f"{division.name}（{code}）已撤销，请使用现行代码"
        return None
    if province_of(code) is None:
        return "行政区划代码不存在（GB/T 2260）"
    # Anhui is listed to county level: an unlisted Anhui code is not a unit.
    if code[:2] == ANHUI[:2]:
        return "行政区划代码不存在（GB/T 2260）"
    return None
