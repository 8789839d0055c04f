"""GB/T 2260 divisions: Anhui in full, provinces, history and successors."""

from __future__ import annotations

import math

import pytest

from creditbridge.reference import divisions


def test_all_34_provincial_level_units_are_listed() -> None:
    codes = [d.code[:2] for d in divisions.provinces()]
    expected = [str(n) for n in [11, 12, 13, 14, 15, 21, 22, 23, 31, 32, 33, 34, 35, 36, 37]]
    expected += [str(n) for n in [41, 42, 43, 44, 45, 46, 50, 51, 52, 53, 54]]
    expected += [str(n) for n in [61, 62, 63, 64, 65, 71, 81, 82]]
    assert codes == expected
    assert divisions.name("340000") == "安徽省"
    assert divisions.name("810000") == "香港特别行政区"


def test_anhui_has_16_cities_and_no_340900_or_341400() -> None:
    cities = divisions.cities()
    assert len(cities) == 16
    assert {c.code for c in cities}.isdisjoint({"340900", "341400"})
    assert divisions.name("341100") == "滁州市"


def test_anhui_has_104_county_level_units_45_districts_50_counties_9_cities() -> None:
    units = [u for city in divisions.cities() for u in divisions.counties(city.code)]
    assert len(units) == 104
    suffixes = [u.name[-1] for u in units]
    assert (suffixes.count("区"), suffixes.count("县"), suffixes.count("市")) == (45, 50, 9)


@pytest.mark.parametrize(
    ("city", "expected"),
    [
        (
            "340100",
            [
                "340102",
                "340103",
                "340104",
                "340111",
                "340121",
                "340122",
                "340123",
                "340124",
                "340181",
            ],
        ),
        ("340200", ["340202", "340207", "340209", "340210", "340212", "340223", "340281"]),
        ("340700", ["340705", "340706", "340711", "340722"]),
        ("341500", ["341502", "341503", "341504", "341522", "341523", "341524", "341525"]),
        ("341800", ["341802", "341821", "341823", "341824", "341825", "341881", "341882"]),
    ],
)
def test_county_lists_match_standards_table(city: str, expected: list[str]) -> None:
    assert [c.code for c in divisions.counties(city)] == expected


@pytest.mark.parametrize(
    ("old", "successor", "year"),
    [
        ("340221", "340210", 2020),
        ("340222", "340212", 2020),
        ("340225", "340281", 2019),
        ("341822", "341882", 2019),
        ("340824", "340882", 2018),
        ("340702", "340705", 2015),
        ("340703", "340705", 2015),
        ("340721", "340706", 2015),
        ("340823", "340722", 2015),
        ("341521", "340422", 2015),
        ("340203", "340209", 2020),
        ("340208", "340209", 2020),
    ],
)
def test_historical_codes_from_standards_have_their_successor(
    old: str, successor: str, year: int
) -> None:
    division = divisions.get(old)
    assert division is not None
    assert division.valid_until == year
    assert not division.is_current
    assert divisions.current_successor(old) == successor
    assert divisions.is_known(old)
    assert not divisions.is_known(old, include_historical=False)


def test_current_successor_follows_a_chain_of_renumberings() -> None:
    # 无为县 moved from 巢湖 (341422) to 芜湖 (340225) in 2011, then became 无为市 (340281)
    assert divisions.current_successor("341422") == "340281"
    assert divisions.current_successor("340104") == "340104"
    assert divisions.current_successor("341400") is None
    assert divisions.current_successor("999999") is None


def test_parent_chain_runs_province_first_and_ends_with_the_code() -> None:
    assert [d.code for d in divisions.parent_chain("340104")] == ["340000", "340100", "340104"]
    assert [d.name for d in divisions.parent_chain("341521")] == ["安徽省", "六安市", "寿县"]
    assert divisions.parent_chain("110105") == []


def test_city_and_province_of() -> None:
    assert divisions.city_of("340104") == "340100"
    assert divisions.city_of("340100") == "340100"
    assert divisions.city_of("340000") is None
    assert divisions.province_of("340104") == "340000"
    assert divisions.province_of("440305") == "440000"
    assert divisions.province_of("990101") is None
    assert divisions.province_of("34010") is None


def test_get_returns_a_frozen_division() -> None:
    division = divisions.get("340181")
    assert division is not None
    assert (division.name, division.level, division.parent_code) == ("巢湖市", "county", "340100")
    with pytest.raises(AttributeError):
        division.name = "x"  # type: ignore[misc]


def test_summary_rows_are_not_divisions() -> None:
    assert divisions.get("340101") is None  # 市辖区


def test_city_weights_cover_every_current_city_and_sum_to_one() -> None:
    weights = divisions.city_weights()
    assert set(weights) == {c.code for c in divisions.cities()}
    assert math.isclose(sum(weights.values()), 1.0)
    assert max(weights, key=weights.__getitem__) == "340100"
    assert all(w > 0 for w in weights.values())


def test_every_successor_and_parent_exists() -> None:
    for division in divisions.all_divisions():
        if division.successor_code:
            assert divisions.get(division.successor_code) is not None, division
            assert division.valid_until is not None
        if division.parent_code:
            assert divisions.get(division.parent_code) is not None, division
