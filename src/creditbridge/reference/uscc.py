"""Unified social credit code (统一社会信用代码, GB 32100-2015): validation with reasons, a
vectorised validator for bulk ingest, and a generator of valid synthetic codes.

Our own rules, because python-stdnum 2.2 requires positions 1–8 to be digits and so rejects the
valid authority codes A, N and Y (e.g. 农村集体经济组织 ``N2…``).

Input handling: surrounding whitespace (and NUL padding from fixed-width exports) is stripped.
Lowercase letters are accepted and upper-cased with a ``USCC-LOWERCASE`` warning: the code
identifies the same subject, and people type it by hand; ``UsccResult.code`` is the normalised form.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from typing import Any

import numpy as np
from numpy.typing import NDArray

from creditbridge.core.errors import Issue
from creditbridge.reference import divisions
from creditbridge.reference._data import read_yaml

CHARSET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
"""GB 32100-2015 code characters: digits and upper-case letters without I, O, Z, S, V; value = index."""

WEIGHTS: tuple[int, ...] = tuple(pow(3, i, 31) for i in range(17))
"""GB 32100-2015 check-character weights: position i (1-based) weighs 3^(i-1) mod 31."""

ORG_WEIGHTS: tuple[int, ...] = (3, 7, 9, 10, 5, 8, 4, 2)
"""GB 11714-1997 weights of the eight body characters of the organisation code."""

USCC_FIRST_YEAR = 2015
"""GB 32100-2015 took effect on 2015-10-01. A division code abolished before 2015 cannot have been
the registering authority's code when a USCC was issued, so it is an error, not a warning."""

_VALUE = {c: i for i, c in enumerate(CHARSET)}
# What str.strip() removes, plus NUL: numpy drops trailing NULs, so both paths must ignore them.
_STRIP = "".join(chr(i) for i in range(0x3001) if chr(i).isspace()) + "\x00"
_ASCII_UPPER = str.maketrans("abcdefghijklmnopqrstuvwxyz", "ABCDEFGHIJKLMNOPQRSTUVWXYZ")
_DIGITS = frozenset("0123456789")


@dataclass(frozen=True)
class UsccIssue:
    """One reason a code is wrong (error) or suspicious (warning). ``code`` is stable."""

    code: str
    message: str
    position: int | None = None
    # The message as a key of the message tables with its parameters (``error.reference.uscc.*``),
    # for pages in English; ``message`` stays the Chinese text.
    key: str | None = None
    params: Mapping[str, object] | None = field(default=None, hash=False, compare=False)

    def as_dict(self) -> dict[str, str]:
        return {"code": self.code, "message": self.message}

    def to_issue(self, *, field: str = "uscc", row: int | None = None) -> Issue:
        """The same problem as a core :class:`Issue`, for ``ValidationFailed``."""
        return Issue(
            code=self.code,
            message=self.message,
            field=field,
            row=row,
            key=self.key,
            params=self.params,
        )


@dataclass(frozen=True)
class UsccResult:
    code: str
    valid: bool
    errors: list[UsccIssue] = field(default_factory=list)
    warnings: list[UsccIssue] = field(default_factory=list)
    authority: str | None = None
    entity_type: str | None = None
    division_code: str | None = None
    division_name: str | None = None
    province_name: str | None = None

    def as_json(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "valid": self.valid,
            "errors": [e.as_dict() for e in self.errors],
            "warnings": [w.as_dict() for w in self.warnings],
            "authority": self.authority,
            "entity_type": self.entity_type,
            "division_code": self.division_code,
            "division_name": self.division_name,
        }


@dataclass(frozen=True)
class Authority:
    code: str
    name: str
    entity_types: dict[str, str]


@cache
def authorities() -> dict[str, Authority]:
    """GB 32100-2015 Appendix A: registration authority (pos 1) → entity types (pos 2)."""
    data = read_yaml("uscc_authorities.yaml")
    return {
        str(code): Authority(
            str(code), entry["name"], {str(k): str(v) for k, v in entry["entity_types"].items()}
        )
        for code, entry in data["authorities"].items()
    }


def _value_sum(chars: str, weights: Sequence[int]) -> int:
    return sum(_VALUE[c] * w for c, w in zip(chars, weights, strict=True))


def check_character(first17: str) -> str:
    """The 18th character for the first 17 (GB 32100-2015: C18 = 31 − Σ mod 31, 31 → 0)."""
    if len(first17) != 17 or any(c not in _VALUE for c in first17):
        raise ValueError(f"need 17 characters from {CHARSET}, got {first17!r}")
    return CHARSET[(31 - _value_sum(first17, WEIGHTS) % 31) % 31]


def _org_value(c: str) -> int:
    # GB 11714 gives letters their own values A=10 … Z=35, not the USCC values (standards.md §1.4).
    return int(c) if c in _DIGITS else ord(c) - 55


def org_check_character(body8: str) -> str:
    """GB 11714-1997 check character of an 8-character organisation-code body: 11 − Σ mod 11,
    10 → X, 11 → 0."""
    value = 11 - sum(_org_value(c) * w for c, w in zip(body8, ORG_WEIGHTS, strict=True)) % 11
    return "X" if value == 10 else "0" if value == 11 else str(value)


@dataclass(frozen=True)
class _DivisionVerdict:
    error: UsccIssue | None = None
    warning: UsccIssue | None = None
    name: str | None = None
    province_name: str | None = None


def _division_label(code: str) -> str:
    found = divisions.get(code)
    return f"{code} {found.name}" if found else code


@cache
def _other_provinces() -> frozenset[str]:
    return frozenset(d.code[:2] for d in divisions.provinces() if d.code[:2] != divisions.ANHUI[:2])


@cache
def _anhui_accepted() -> frozenset[str]:
    return frozenset(
        d.code
        for d in divisions.all_divisions()
        if d.code.startswith(divisions.ANHUI[:2])
        and (d.valid_until is None or d.valid_until >= USCC_FIRST_YEAR)
    )


def _check_division(code: str) -> _DivisionVerdict:
    province_code = divisions.province_of(code)
    if province_code is None:
        return _DivisionVerdict(
            error=UsccIssue(
                "USCC-DIVISION",
                f"第3–8位登记管理机关行政区划码“{code}”无效：前两位“{code[:2]}”不是省级行政区划代码",
                3,
                key="error.reference.uscc.province",
                params={"division": code, "prefix": code[:2]},
            )
        )
    province_name = divisions.name(province_code)
    if code[:2] in _other_provinces():
        # Below province level only Anhui is listed; elsewhere the province is all we can check.
        return _DivisionVerdict(
            name=province_name if code == province_code else None, province_name=province_name
        )
    found = divisions.get(code)
    if found is None:
        return _DivisionVerdict(
            error=UsccIssue(
                "USCC-DIVISION",
                f"第3–8位登记管理机关行政区划码“{code}”不是安徽省现行或历史行政区划代码（GB/T 2260）",
                3,
                key="error.reference.uscc.not_anhui",
                params={"division": code},
            ),
            province_name=province_name,
        )
    if found.valid_until is None:
        return _DivisionVerdict(name=found.name, province_name=province_name)
    if code not in _anhui_accepted():
        return _DivisionVerdict(
            error=UsccIssue(
                "USCC-DIVISION",
                f"第3–8位行政区划码 {code} {found.name} 已于{found.valid_until}年撤销，"
                f"早于统一社会信用代码启用（{USCC_FIRST_YEAR}年），不可能出现在代码中",
                3,
                key="error.reference.uscc.abolished",
                params={
                    "division": code,
                    "name": found.name,
                    "year": found.valid_until,
                    "first_year": USCC_FIRST_YEAR,
                },
            ),
            name=found.name,
            province_name=province_name,
        )
    successor = divisions.current_successor(code)
    tail = f"现为 {_division_label(successor)}" if successor else "无直接承继的现行区划"
    if successor:
        key, params = "error.reference.uscc.historical", {"now": _division_label(successor)}
    else:
        key, params = "error.reference.uscc.historical_no_successor", {}
    return _DivisionVerdict(
        warning=UsccIssue(
            "USCC-DIVISION-HISTORICAL",
            f"第3–8位行政区划码 {code} {found.name} 已撤销（{found.valid_until}年），{tail}；"
            "发码时有效的区划码仍属合法",
            3,
            key=key,
            params={"division": code, "name": found.name, "year": found.valid_until, **params},
        ),
        name=found.name,
        province_name=province_name,
    )


def validate(code: str) -> UsccResult:
    """Check one code and say exactly why it fails. See the module docstring for normalisation."""
    original = text = code.strip(_STRIP)
    warnings: list[UsccIssue] = []
    upper = text.translate(_ASCII_UPPER)
    if upper != text:
        warnings.append(
            UsccIssue(
                "USCC-LOWERCASE",
                "含小写字母，已按大写处理（标准只用大写字母）",
                key="error.reference.uscc.lowercase",
                params={},
            )
        )
        text = upper

    errors: list[UsccIssue] = []
    if len(text) != 18:
        errors.append(
            UsccIssue(
                "USCC-LENGTH",
                f"长度为{len(text)}位，应为18位",
                key="error.reference.uscc.length",
                params={"n": len(text)},
            )
        )
    for index, char in enumerate(text):
        if char not in _VALUE:
            typed = original[index]
            shown = repr(typed) if not typed.isprintable() or typed.isspace() else typed
            errors.append(
                UsccIssue(
                    "USCC-CHAR",
                    f"第{index + 1}位字符“{shown}”不合法：只允许数字0–9和大写字母（不含I、O、Z、S、V）",
                    index + 1,
                    key="error.reference.uscc.char",
                    params={"position": index + 1, "char": shown},
                )
            )
    if len(text) != 18:
        # Without 18 characters the positions of the parts are unknown; say no more than that.
        return UsccResult(code=text, valid=False, errors=errors, warnings=warnings)

    authority_name: str | None = None
    entity_type: str | None = None
    if text[0] in _VALUE:
        authority = authorities().get(text[0])
        if authority is None:
            errors.append(
                UsccIssue(
                    "USCC-AUTHORITY",
                    f"第1位登记管理部门代码“{text[0]}”未定义（应为1–9、A、N、Y之一）",
                    1,
                    key="error.reference.uscc.authority",
                    params={"char": text[0]},
                )
            )
        else:
            authority_name = authority.name
            if text[1] in _VALUE:
                entity_type = authority.entity_types.get(text[1])
                if entity_type is None:
                    allowed = "、".join(f"{k} {v}" for k, v in authority.entity_types.items())
                    errors.append(
                        UsccIssue(
                            "USCC-ENTITY-TYPE",
                            f"第2位机构类别代码“{text[1]}”在登记管理部门“{authority.name}”（{text[0]}）"
                            f"下未定义，可用：{allowed}",
                            2,
                            key="error.reference.uscc.entity_type",
                            params={
                                "char": text[1],
                                "authority": authority.name,
                                "authority_code": text[0],
                                "allowed": allowed,
                            },
                        )
                    )

    division_code: str | None = None
    verdict = _DivisionVerdict()
    part = text[2:8]
    if all(c in _VALUE for c in part):
        if all(c in _DIGITS for c in part):
            division_code = part
            verdict = _check_division(part)
        else:
            errors.append(
                UsccIssue(
                    "USCC-DIVISION",
                    f"第3–8位登记管理机关行政区划码“{part}”应为6位数字",
                    3,
                    key="error.reference.uscc.division_digits",
                    params={"division": part},
                )
            )
    if verdict.error:
        errors.append(verdict.error)
    if verdict.warning:
        warnings.append(verdict.warning)

    if all(c in _VALUE for c in text):
        expected = check_character(text[:17])
        if text[17] != expected:
            errors.append(
                UsccIssue(
                    "USCC-CHECK",
                    f"校验码错误：第18位应为“{expected}”，实为“{text[17]}”",
                    18,
                    key="error.reference.uscc.check",
                    params={"expected": expected, "actual": text[17]},
                )
            )
    body = text[8:17]
    if all(c in _VALUE for c in body):
        expected_org = org_check_character(body[:8])
        if body[8] != expected_org:
            # GB 11714 anomalies exist in issued codes; the USCC check (pos 18) is what binds.
            warnings.append(
                UsccIssue(
                    "USCC-ORG-CHECK",
                    f"第17位（组织机构代码校验码，GB 11714）应为“{expected_org}”，实为“{body[8]}”；"
                    "存量代码偶有此情况，仅作提示",
                    17,
                    key="error.reference.uscc.org_check",
                    params={"expected": expected_org, "actual": body[8]},
                )
            )

    return UsccResult(
        code=text,
        valid=not errors,
        errors=errors,
        warnings=warnings,
        authority=authority_name,
        entity_type=entity_type,
        division_code=division_code,
        division_name=verdict.name,
        province_name=verdict.province_name,
    )


def is_valid(code: str) -> bool:
    return validate(code).valid


# --- vectorised path -----------------------------------------------------------------------


@dataclass(frozen=True)
class _Tables:
    char_value: NDArray[np.uint8]  # 256 entries: byte → USCC value, _ILLEGAL if not in the set
    pair_ok: NDArray[np.bool_]  # 32 × 32: (authority value, entity-type value) defined
    division_ok: NDArray[np.bool_]  # 10**6 entries indexed by the 6-digit number
    weights: NDArray[np.int32]  # 18 weights: the check character enters with weight 1
    place: NDArray[np.int32]


_ILLEGAL = 31


@cache
def _tables() -> _Tables:
    char_value = np.full(256, _ILLEGAL, dtype=np.uint8)
    for index, char in enumerate(CHARSET):
        char_value[ord(char)] = index
        char_value[ord(char.lower())] = index  # lowercase is normalised, as in validate()
    for digit in "0123456789":
        char_value[ord(digit)] = int(digit)
    pair_ok = np.zeros((32, 32), dtype=np.bool_)
    for authority in authorities().values():
        for entity in authority.entity_types:
            pair_ok[_VALUE[authority.code], _VALUE[entity]] = True
    division_ok = np.zeros(10**6, dtype=np.bool_)
    for prefix in _other_provinces():
        start = int(prefix) * 10**4
        division_ok[start : start + 10**4] = True
    for code in _anhui_accepted():
        division_ok[int(code)] = True
    return _Tables(
        char_value=char_value,
        pair_ok=pair_ok,
        division_ok=division_ok,
        weights=np.array([*WEIGHTS, 1], dtype=np.int32),
        place=(10 ** np.arange(5, -1, -1)).astype(np.int32),
    )


def _as_str_array(codes: Iterable[str] | NDArray[Any]) -> NDArray[np.str_]:
    array = np.asarray(codes if isinstance(codes, np.ndarray) else list(codes))
    if array.ndim != 1:
        array = array.reshape(-1)
    if array.dtype.kind != "U":
        array = array.astype(np.str_)
    return array


def _check_exact18(codepoints: NDArray[np.uint32]) -> NDArray[np.bool_]:
    """Rows of exactly 18 printable ASCII characters: the same verdict as validate().valid."""
    t = _tables()
    values = t.char_value[codepoints.astype(np.uint8)]
    legal = values.max(axis=1) < _ILLEGAL
    # C18 = (31 − Σ mod 31) mod 31  ⇔  Σ + C18 ≡ 0 (mod 31)
    check_ok = (values.astype(np.int32) @ t.weights) % 31 == 0
    pair_ok = t.pair_ok[values[:, 0], values[:, 1]]
    division = values[:, 2:8]
    numeric = division.max(axis=1) <= 9  # letters have values ≥ 10
    number = np.where(numeric, division.astype(np.int32) @ t.place, 0)
    result: NDArray[np.bool_] = np.asarray(
        legal & check_ok & pair_ok & numeric & t.division_ok[number]
    )
    return result


def validate_many(codes: Iterable[str] | NDArray[Any]) -> NDArray[np.bool_]:
    """``validate(c).valid`` for every code, vectorised over the code points.

    Rows of 18 printable ASCII characters are judged with lookup tables; rows that are clearly
    not 18 characters are False; anything needing normalisation beyond case (surrounding
    whitespace, NULs inside, non-ASCII) falls back to :func:`validate`, so the answer is always
    the same. A numpy string array cannot hold trailing NULs; they are stripped in both paths.
    """
    array = _as_str_array(codes)
    count = array.shape[0]
    result = np.zeros(count, dtype=np.bool_)
    width = array.dtype.itemsize // 4
    if count == 0 or width == 0:
        return result
    codepoints = array.view(np.uint32).reshape(count, width)
    printable = (codepoints >= 33) & (codepoints <= 126)
    if width >= 18:
        exact = printable[:, :18].all(axis=1)
        if width > 18:
            exact &= (codepoints[:, 18:] == 0).all(axis=1)
    else:
        exact = np.zeros(count, dtype=np.bool_)
    if exact.all():
        result[:] = _check_exact18(codepoints[:, :18])
    elif exact.any():
        rows = np.flatnonzero(exact)
        result[rows] = _check_exact18(codepoints[rows, :18])
    rest = np.flatnonzero(~exact)
    if rest.size:
        sub = codepoints[rest]
        nonzero = sub != 0
        length = width - np.argmax(nonzero[:, ::-1], axis=1)
        length[~nonzero.any(axis=1)] = 0
        inside = np.arange(width)[None, :] < length[:, None]
        # printable all the way, then only padding: no normalisation can make it 18 long
        clean = (printable[rest] | ~inside).all(axis=1)
        for index in rest[~clean]:
            result[index] = validate(str(array[index])).valid
    return result


def clean_many(codes: Sequence[str]) -> NDArray[np.bool_]:
    """True where ``validate(c)`` would accept ``c`` exactly as written: valid, no warning and
    nothing to normalise (18 upper-case characters, a current division, a matching GB 11714
    check). A False says only "ask :func:`validate`", which gives the reasons.

    The collection path calls this on each chunk's new codes: one vectorised pass instead of
    a scalar check per enterprise."""
    texts = [str(c) for c in codes]
    count = len(texts)
    exact = np.fromiter((len(t) == 18 for t in texts), dtype=np.bool_, count=count)
    result = np.zeros(count, dtype=np.bool_)
    if count == 0:
        return result
    rows = np.flatnonzero(exact)
    # A numpy string array drops trailing NULs: such a code is no longer 18 wide there.
    array = np.array([texts[i] for i in rows], dtype="<U18")
    if rows.size and (np.char.str_len(array) == 18).all():
        result[rows] = _clean_exact18(array)
    else:
        result[rows] = [_clean(texts[i]) for i in rows]
    return result


def _clean_exact18(array: NDArray[np.str_]) -> NDArray[np.bool_]:
    count = array.shape[0]
    codepoints = array.view(np.uint32).reshape(count, 18)
    t = _tables()
    upper_ascii: NDArray[np.bool_] = np.asarray(
        (((codepoints >= 48) & (codepoints <= 57)) | ((codepoints >= 65) & (codepoints <= 90))).all(
            axis=1
        )
    )
    values = t.char_value[np.where(upper_ascii[:, None], codepoints, 0).astype(np.uint8)]
    ok = upper_ascii & _check_exact18(np.where(upper_ascii[:, None], codepoints, 48))
    division = values[:, 2:8].astype(np.int32) @ t.place
    ok &= _current_division_table()[np.where(ok, division, 0)]
    # GB 11714 on positions 9–17: digits count as themselves, letters as A=10 … Z=35.
    org = np.where(codepoints[:, 8:16] <= 57, codepoints[:, 8:16] - 48, codepoints[:, 8:16] - 55)
    expected = 11 - (org.astype(np.int64) @ np.array(ORG_WEIGHTS, dtype=np.int64)) % 11
    expected_char = np.where(
        expected == 10, ord("X"), np.where(expected == 11, ord("0"), expected + 48)
    )
    ok &= codepoints[:, 16] == expected_char
    return np.asarray(ok)


def _clean(code: str) -> bool:
    result = validate(code)
    return result.valid and not result.warnings and result.code == code


@cache
def _current_division_table() -> NDArray[np.bool_]:
    """Division numbers a code may carry without a warning: those ``validate()`` accepts less
    Anhui's abolished ones (accepted, but with USCC-DIVISION-HISTORICAL)."""
    table = _tables().division_ok.copy()
    for d in divisions.all_divisions():
        if d.code.startswith(divisions.ANHUI[:2]) and d.valid_until is not None:
            table[int(d.code)] = False
    return table


# --- generator -----------------------------------------------------------------------------


_CHARSET_BYTES = np.frombuffer(CHARSET.encode("ascii"), dtype=np.uint8)
_ORG_VALUE = np.array([int(c) if c in _DIGITS else ord(c) - 55 for c in CHARSET], dtype=np.int64)


def _division_accepted(code: str) -> bool:
    return code[:2] in _other_provinces() or code in _anhui_accepted()


def generate(
    rng: np.random.Generator,
    n: int,
    *,
    division_codes: NDArray[np.str_] | Sequence[str],
    prefix: str = "91",
) -> NDArray[np.str_]:
    """``n`` distinct valid codes (dtype ``<U18``) with the given authority+type ``prefix``
    (``91`` 企业, ``92`` 个体工商户, ``93`` 农民专业合作社, or any pair of GB 32100 Appendix A)
    and divisions drawn uniformly from ``division_codes``.

    Half the bodies are 8-digit legacy organisation codes, half the ``MA`` + 6 characters used
    since 2015; pos 17 carries a correct GB 11714 check and pos 18 a correct mod-31 check.
    """
    if n < 0:
        raise ValueError("n must be ≥ 0")
    if len(prefix) != 2 or prefix[0] not in authorities():
        raise ValueError(f"prefix {prefix!r} is not a GB 32100 authority + entity type")
    if prefix[1] not in authorities()[prefix[0]].entity_types:
        raise ValueError(f"prefix {prefix!r}: entity type {prefix[1]} undefined for {prefix[0]}")
    pool = np.unique(np.asarray(division_codes, dtype=np.str_))
    if pool.size == 0:
        raise ValueError("division_codes is empty")
    bad = [
        str(c)
        for c in pool
        if len(str(c)) != 6 or not str(c).isdigit() or not _division_accepted(str(c))
    ]
    if bad:
        raise ValueError(f"division codes a USCC cannot carry: {bad[:5]}")
    pool_bytes = pool.astype("S6").view(np.uint8).reshape(-1, 6)
    prefix_bytes = np.frombuffer(prefix.encode("ascii"), dtype=np.uint8)
    weights = np.array(WEIGHTS, dtype=np.int64)
    org_weights = np.array(ORG_WEIGHTS, dtype=np.int64)
    digit_values = np.arange(10)
    charset_values = np.arange(31)

    batches: list[NDArray[np.bytes_]] = []
    have = 0
    seen: NDArray[np.bytes_] = np.empty(0, dtype="S18")
    while have < n:
        m = max(16, int((n - have) * 1.05))
        chars = np.empty((m, 18), dtype=np.uint8)
        chars[:, 0:2] = prefix_bytes
        chars[:, 2:8] = pool_bytes[rng.integers(0, pool_bytes.shape[0], size=m)]
        body_values = np.empty((m, 8), dtype=np.int64)  # USCC values of the 8 body characters
        legacy = rng.random(m) < 0.5
        body_values[legacy] = rng.choice(digit_values, size=(int(legacy.sum()), 8))
        modern = ~legacy
        body_values[modern, 0] = _VALUE["M"]
        body_values[modern, 1] = _VALUE["A"]
        body_values[modern, 2:] = rng.choice(charset_values, size=(int(modern.sum()), 6))
        chars[:, 8:16] = _CHARSET_BYTES[body_values]
        org = 11 - (_ORG_VALUE[body_values] @ org_weights) % 11
        org_char = np.where(org == 10, ord("X"), np.where(org == 11, ord("0"), org + 48))
        chars[:, 16] = org_char.astype(np.uint8)
        lookup = _tables().char_value
        values = lookup[chars[:, :17]].astype(np.int64)
        chars[:, 17] = _CHARSET_BYTES[(31 - (values @ weights) % 31) % 31]
        batch = chars.view("S18").reshape(m)
        merged = np.concatenate([seen, batch])
        _, first = np.unique(merged, return_index=True)
        keep = np.sort(first[first >= seen.size]) - seen.size
        fresh = batch[keep][: n - have]
        batches.append(fresh)
        seen = np.concatenate([seen, fresh])
        have += fresh.size
    combined = np.concatenate(batches) if batches else np.empty(0, dtype="S18")
    return combined.astype("<U18")
