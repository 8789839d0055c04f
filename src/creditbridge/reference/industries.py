"""GB/T 4754-2017 国民经济行业分类 (with amendment No. 1, 2019): the 20 sections (门类) and
97 divisions (大类), with Chinese names and our English renderings.

The 473 groups (中类) and 1382 classes (小类) are NOT shipped: the only machine-readable copies
found were unofficial dumps in third-party repositories, some mixing in ISIC rows. A 3- or 4-digit
code is therefore checked for structure and division only (:func:`is_plausible`), not existence.
English names are ours, not an official translation.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache

from creditbridge.reference._data import read_csv
from creditbridge.reference.errors import UnknownIndustry

_CODE = re.compile(r"^(?P<section>[A-T])?(?P<digits>\d{2,4})?$")


@dataclass(frozen=True)
class Section:
    code: str
    name_zh: str
    name_en: str
    division_codes: tuple[str, ...]


@dataclass(frozen=True)
class IndustryDivision:
    code: str
    name_zh: str
    name_en: str
    section: str


@dataclass(frozen=True)
class _Tables:
    sections: dict[str, Section]
    divisions: dict[str, IndustryDivision]


@cache
def _tables() -> _Tables:
    rows = read_csv("industries.csv")
    divisions = {
        r["code"]: IndustryDivision(r["code"], r["name_zh"], r["name_en"], r["section"])
        for r in rows
        if r["level"] == "division"
    }
    sections = {
        r["code"]: Section(
            r["code"],
            r["name_zh"],
            r["name_en"],
            tuple(sorted(d.code for d in divisions.values() if d.section == r["code"])),
        )
        for r in rows
        if r["level"] == "section"
    }
    return _Tables(sections=sections, divisions=divisions)


def sections() -> list[Section]:
    return list(_tables().sections.values())


def divisions() -> list[IndustryDivision]:
    return list(_tables().divisions.values())


def section(code: str) -> Section | None:
    return _tables().sections.get(code)


def division(code: str) -> IndustryDivision | None:
    """The division (大类) of a 2-digit code; None for anything else."""
    return _tables().divisions.get(code)


def parse(code: str) -> tuple[str, str]:
    """Split an industry code into (section letter, digits) and check it.

    Accepts a section letter (``"C"``), 2–4 digits (``"35"``, ``"351"``, ``"3511"``) or both as
    registration data often writes them (``"C3511"``); surrounding whitespace is ignored. Digits
    must start with a known division and agree with a given letter. Raises :class:`UnknownIndustry`.
    """
    text = code.strip().upper()
    match = _CODE.match(text)
    if not text or match is None:
        raise UnknownIndustry(
            f"行业代码“{code}”格式不对：应为门类字母（A–T）或2–4位数字代码（GB/T 4754-2017）",
            field="industry_code",
            value=code,
            key="error.reference.industry.format",
            params={"code": code},
        )
    letter, digits = match.group("section") or "", match.group("digits") or ""
    if digits:
        found = division(digits[:2])
        if found is None:
            raise UnknownIndustry(
                f"行业代码“{code}”的大类 {digits[:2]} 不存在（GB/T 4754-2017 共97个大类）",
                field="industry_code",
                value=code,
                key="error.reference.industry.no_division",
                params={"code": code, "division": digits[:2]},
            )
        if letter and letter != found.section:
            raise UnknownIndustry(
                f"行业代码“{code}”：大类 {digits[:2]} 属于门类 {found.section}，不属于门类 {letter}",
                field="industry_code",
                value=code,
                key="error.reference.industry.other_section",
                params={
                    "code": code,
                    "division": digits[:2],
                    "section": found.section,
                    "letter": letter,
                },
            )
        return found.section, digits
    if section(letter) is None:
        raise UnknownIndustry(
            f"行业门类“{letter}”不存在（GB/T 4754-2017 门类为 A–T）",
            field="industry_code",
            value=code,
            key="error.reference.industry.no_section",
            params={"letter": letter},
        )
    return letter, ""


def section_of(code: str) -> str | None:
    """The section letter of a section letter or a 2–4-digit code; None if not a known code."""
    try:
        return parse(code)[0]
    except UnknownIndustry:
        return None


def is_valid(code: str) -> bool:
    """True for a known section letter or division code (the levels shipped here)."""
    return section(code) is not None or division(code) is not None


def is_plausible(code: str) -> bool:
    """True for a valid code or a 3–4-digit code under a known division. Groups and classes are
    not shipped, so this cannot tell that e.g. 0118 does not exist."""
    if is_valid(code):
        return True
    return (
        len(code) in (3, 4) and code.isascii() and code.isdigit() and division(code[:2]) is not None
    )
