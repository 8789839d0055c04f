"""GB/T 4754-2017 sections and divisions."""

from __future__ import annotations

import pytest

from creditbridge.reference import industries
from creditbridge.reference.errors import UnknownIndustry

SECTION_RANGES = {
    "A": (1, 5), "B": (6, 12), "C": (13, 43), "D": (44, 46), "E": (47, 50), "F": (51, 52),
    "G": (53, 60), "H": (61, 62), "I": (63, 65), "J": (66, 69), "K": (70, 70), "L": (71, 72),
    "M": (73, 75), "N": (76, 79), "O": (80, 82), "P": (83, 83), "Q": (84, 85), "R": (86, 90),
    "S": (91, 96), "T": (97, 97),
}  # fmt: skip


def test_there_are_20_sections_and_97_divisions() -> None:
    assert [s.code for s in industries.sections()] == list(SECTION_RANGES)
    assert len(industries.divisions()) == 97


@pytest.mark.parametrize(("letter", "bounds"), SECTION_RANGES.items())
def test_each_section_holds_its_range_of_divisions(letter: str, bounds: tuple[int, int]) -> None:
    section = industries.section(letter)
    assert section is not None
    assert section.division_codes == tuple(f"{n:02d}" for n in range(bounds[0], bounds[1] + 1))


def test_names_in_chinese_and_english() -> None:
    manufacturing = industries.section("C")
    assert manufacturing is not None
    assert (manufacturing.name_zh, manufacturing.name_en) == ("制造业", "Manufacturing")
    software = industries.division("65")
    assert software is not None
    assert software.name_zh == "软件和信息技术服务业"
    assert software.section == "I"
    assert all(d.name_en for d in industries.divisions())


@pytest.mark.parametrize(
    ("code", "section"),
    [
        ("C", "C"),
        ("35", "C"),
        ("351", "C"),
        ("3511", "C"),
        ("C3511", "C"),
        (" c35 ", "C"),
        ("0111", "A"),
        ("97", "T"),
    ],
)
def test_section_of_accepts_letters_and_2_to_4_digit_codes(code: str, section: str) -> None:
    assert industries.section_of(code) == section


@pytest.mark.parametrize("code", ["", "Z", "99", "9", "35111", "D3511", "3A", "C 35"])
def test_section_of_is_none_for_unknown_or_malformed_codes(code: str) -> None:
    assert industries.section_of(code) is None


def test_parse_explains_what_is_wrong() -> None:
    with pytest.raises(UnknownIndustry, match="大类 98"):
        industries.parse("9810")
    with pytest.raises(UnknownIndustry, match="属于门类 C"):
        industries.parse("D3511")
    with pytest.raises(ValueError, match="格式"):
        industries.parse("abc")


def test_is_valid_covers_the_shipped_levels_only() -> None:
    assert industries.is_valid("K")
    assert industries.is_valid("70")
    assert not industries.is_valid("7010")
    assert not industries.is_valid("98")
    assert industries.is_plausible("7010")
    assert not industries.is_plausible("9810")
    assert not industries.is_plausible("70100")
