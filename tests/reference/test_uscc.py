"""USCC rules (GB 32100-2015): fixtures from standards.md §1.5, reasons, the vectorised path and
the generator."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from creditbridge.reference import divisions, uscc

REAL_CODES = [
    "91110000600037341L",
    "91350200776049653A",
    "91350500798359476R",
    "913502000728319549",
    "123502001549897397",
    "91350213678251743X",
    "91512081MA62K0260E",
    "91440101MA5CJQ4N59",
    "91350200MA31E12PXF",
]
SYNTHETIC_CODES = [
    "91340100MA2T00015G",
    "92340104MA2N0K0L83",
    "93341282MA2R8H3E9M",
    "51340000MJ0000018R",
    "12340000003000014D",
    "N2341822MF0000012X",
]
ANHUI_CURRENT = np.array(
    [d.code for d in divisions.all_divisions() if d.code.startswith("34") and d.is_current]
)


def _issue_codes(result: uscc.UsccResult) -> list[str]:
    return [issue.code for issue in result.errors]


@pytest.mark.parametrize("code", REAL_CODES + SYNTHETIC_CODES)
def test_documented_valid_codes_validate(code: str) -> None:
    result = uscc.validate(code)
    assert result.valid, result.errors
    assert result.errors == []


def test_weights_are_powers_of_three_mod_31() -> None:
    assert uscc.WEIGHTS == (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)


def test_check_character_matches_worked_example() -> None:
    # standards.md §1.3: Σ = 538, 538 mod 31 = 11, 31 − 11 = 20 → L
    assert uscc.check_character("91110000600037341") == "L"


def test_check_character_rejects_wrong_length_or_charset() -> None:
    with pytest.raises(ValueError, match="17"):
        uscc.check_character("9111000060003734")
    with pytest.raises(ValueError, match="17"):
        uscc.check_character("9111000060003734I")


def test_org_check_uses_gb11714_letter_values_not_uscc_values() -> None:
    # standards.md §1.4: org 60003734 → 1; for "MA…" bodies the letter A counts 10, M counts 22.
    assert uscc.org_check_character("60003734") == "1"
    assert uscc.org_check_character("MA62K026") == "0"
    assert uscc.org_check_character("MA5CJQ4N") == "5"


def test_authority_n_code_is_valid_though_stdnum_rejects_it() -> None:
    stdnum_uscc = pytest.importorskip("stdnum.cn.uscc")
    assert not stdnum_uscc.is_valid("N2341822MF0000012X")
    result = uscc.validate("N2341822MF0000012X")
    assert result.valid
    assert result.authority == "农业"
    assert result.entity_type == "村级集体经济组织"


def test_anhui_fixture_reports_authority_type_and_division_names() -> None:
    result = uscc.validate("92340104MA2N0K0L83")
    assert (result.authority, result.entity_type) == ("工商", "个体工商户")
    assert (result.division_code, result.division_name) == ("340104", "蜀山区")


def test_real_looking_code_with_bad_check_character_is_rejected_with_expected_and_found() -> None:
    result = uscc.validate("91350203M0001QAY9B")
    assert not result.valid
    assert _issue_codes(result) == ["USCC-CHECK"]
    assert "应为“9”" in result.errors[0].message
    assert "实为“B”" in result.errors[0].message


def test_wrong_length_names_found_and_required_length() -> None:
    result = uscc.validate("91340100MA2T0001")
    assert _issue_codes(result) == ["USCC-LENGTH"]
    assert "16" in result.errors[0].message
    assert "18" in result.errors[0].message


def test_illegal_character_names_character_and_one_based_position() -> None:
    result = uscc.validate("91340100MA2T0I015G")
    assert "USCC-CHAR" in _issue_codes(result)
    char_issue = next(i for i in result.errors if i.code == "USCC-CHAR")
    assert "第14位" in char_issue.message
    assert "I" in char_issue.message
    assert char_issue.position == 14


def test_unknown_authority_is_named() -> None:
    body = "B1340100MA2T00015"
    result = uscc.validate(body + uscc.check_character(body))
    assert _issue_codes(result) == ["USCC-AUTHORITY"]
    assert "“B”" in result.errors[0].message


def test_entity_type_must_belong_to_its_authority() -> None:
    body = "94340100MA2T00015"  # 工商 has types 1, 2, 3 only
    result = uscc.validate(body + uscc.check_character(body))
    assert _issue_codes(result) == ["USCC-ENTITY-TYPE"]
    assert "“4”" in result.errors[0].message
    assert "工商" in result.errors[0].message


def test_y_authority_accepts_only_type_1() -> None:
    ok = "Y1340100MA2T00015"
    bad = "Y2340100MA2T00015"
    assert uscc.validate(ok + uscc.check_character(ok)).valid
    assert _issue_codes(uscc.validate(bad + uscc.check_character(bad))) == ["USCC-ENTITY-TYPE"]


def test_unknown_anhui_division_is_an_error() -> None:
    body = "91340199MA2T00015"
    result = uscc.validate(body + uscc.check_character(body))
    assert _issue_codes(result) == ["USCC-DIVISION"]
    assert "340199" in result.errors[0].message


def test_unknown_province_prefix_is_an_error() -> None:
    body = "91990100MA2T00015"
    result = uscc.validate(body + uscc.check_character(body))
    assert _issue_codes(result) == ["USCC-DIVISION"]
    assert "99" in result.errors[0].message


def test_other_provinces_are_checked_at_province_level_only() -> None:
    body = "91449999MA2T00015"
    result = uscc.validate(body + uscc.check_character(body))
    assert result.valid
    assert result.province_name == "广东省"
    assert result.division_name is None


def test_division_with_letters_is_an_error() -> None:
    body = "9134A100MA2T00015"
    result = uscc.validate(body + uscc.check_character(body))
    assert _issue_codes(result) == ["USCC-DIVISION"]
    assert "6位数字" in result.errors[0].message


def test_historical_division_is_accepted_with_warning_naming_successor() -> None:
    body = "91340221MA2T00015"
    result = uscc.validate(body + uscc.check_character(body))
    assert result.valid
    warning = next(w for w in result.warnings if w.code == "USCC-DIVISION-HISTORICAL")
    assert "340221 芜湖县 已撤销" in warning.message
    assert "现为 340210 湾沚区" in warning.message


def test_division_abolished_before_uscc_existed_is_an_error() -> None:
    body = "91341400MA2T00015"  # 地级巢湖市, abolished 2011
    result = uscc.validate(body + uscc.check_character(body))
    assert _issue_codes(result) == ["USCC-DIVISION"]
    assert "2011" in result.errors[0].message


def test_failed_org_check_is_a_warning_not_an_error() -> None:
    body = "91340100MA2T00016"  # pos 17 should be 5
    code = body + uscc.check_character(body)
    result = uscc.validate(code)
    assert result.valid
    assert [w.code for w in result.warnings] == ["USCC-ORG-CHECK"]
    assert "应为“5”" in result.warnings[0].message


def test_lowercase_is_normalised_with_a_warning() -> None:
    result = uscc.validate("91340100ma2t00015g")
    assert result.valid
    assert result.code == "91340100MA2T00015G"
    assert [w.code for w in result.warnings] == ["USCC-LOWERCASE"]


def test_surrounding_whitespace_is_stripped_silently() -> None:
    result = uscc.validate(" \t91340100MA2T00015G\u3000\n")
    assert result.valid
    assert result.code == "91340100MA2T00015G"
    assert result.warnings == []


def test_as_json_has_exactly_the_documented_keys() -> None:
    payload = uscc.validate("91350203M0001QAY9B").as_json()
    assert list(payload) == [
        "code",
        "valid",
        "errors",
        "warnings",
        "authority",
        "entity_type",
        "division_code",
        "division_name",
    ]
    assert payload["errors"][0]["code"] == "USCC-CHECK"
    assert set(payload["errors"][0]) == {"code", "message"}


def test_issue_converts_to_core_issue_with_field() -> None:
    issue = uscc.validate("913401").errors[0].to_issue(row=3)
    assert (issue.code, issue.field, issue.row) == ("USCC-LENGTH", "uscc", 3)


# --- properties ----------------------------------------------------------------------------

generated_codes = st.integers(min_value=0, max_value=2**32 - 1).map(
    lambda seed: str(
        uscc.generate(
            np.random.default_rng(seed),
            1,
            division_codes=ANHUI_CURRENT,
            prefix=["91", "92", "93"][seed % 3],
        )[0]
    )
)


@given(generated_codes)
def test_every_generated_code_validates(code: str) -> None:
    result = uscc.validate(code)
    assert result.valid, result.errors
    assert result.warnings == []


@given(generated_codes, st.integers(0, 17), st.integers(1, 30))
def test_every_single_substitution_is_caught_by_the_check_character(
    code: str, position: int, shift: int
) -> None:
    replaced = uscc.CHARSET[(uscc.CHARSET.index(code[position]) + shift) % 31]
    mutated = code[:position] + replaced + code[position + 1 :]
    assert mutated != code
    assert uscc.check_character(mutated[:17]) != mutated[17]
    assert not uscc.validate(mutated).valid


@given(generated_codes, st.integers(0, 16))
def test_every_adjacent_transposition_of_distinct_characters_is_caught(
    code: str, position: int
) -> None:
    a, b = code[position], code[position + 1]
    assume(a != b)
    swapped = code[:position] + b + a + code[position + 2 :]
    assert uscc.check_character(swapped[:17]) != swapped[17]
    assert not uscc.validate(swapped).valid


def test_mod_31_weights_detect_all_substitutions_and_transpositions_exhaustively() -> None:
    # Algebraic form of the two properties above, over every position and value pair:
    # a substitution changes Σ by w·d (d ≠ 0 mod 31); a transposition by (w_i − w_j)·d.
    weights = [*uscc.WEIGHTS, 1]  # the check character itself enters with weight 1
    for w in weights:
        assert all((w * d) % 31 for d in range(1, 31))
    for i in range(17):
        w_next = weights[i + 1]
        assert all(((weights[i] - w_next) * d) % 31 for d in range(1, 31))


def _mutations(code: str, rng: np.random.Generator) -> list[str]:
    position = int(rng.integers(0, 18))
    other = uscc.CHARSET[int(rng.integers(0, 31))]
    return [
        code[:position] + other + code[position + 1 :],
        code[:position] + code[position + 1 :],
        code + other,
        code.lower(),
        f" {code}\t",
        code[:position] + "i" + code[position + 1 :],
        code[:position] + "Ａ" + code[position + 1 :],
        code[:2] + "7" + code[3:],
        code + "\x00",
        "\x00" + code,
        code[:position] + "\x00" + code[position + 1 :],
    ]


@settings(suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(min_value=0, max_value=2**32 - 1))
def test_validate_many_agrees_with_validate_on_valid_and_mutated_codes(seed: int) -> None:
    rng = np.random.default_rng(seed)
    base = uscc.generate(rng, 20, division_codes=ANHUI_CURRENT)
    codes = [str(c) for c in base] + [m for c in base for m in _mutations(str(c), rng)]
    expected = [uscc.validate(c).valid for c in codes]
    assert uscc.validate_many(codes).tolist() == expected
    assert uscc.validate_many(np.array(codes)).tolist() == expected


@given(st.lists(st.text(alphabet=uscc.CHARSET + "abcxyzIOSVZ -\t\u3000\x00é", max_size=22)))
def test_validate_many_agrees_with_validate_on_garbage(codes: list[str]) -> None:
    assert uscc.validate_many(codes).tolist() == [uscc.validate(c).valid for c in codes]


@given(
    arrays(
        np.dtype("<U18"),
        st.integers(0, 30),
        elements=st.text(uscc.CHARSET, min_size=18, max_size=18),
    )
)
def test_validate_many_agrees_with_validate_on_random_charset_strings(codes: np.ndarray) -> None:
    assert uscc.validate_many(codes).tolist() == [uscc.validate(str(c)).valid for c in codes]


def test_validate_many_agrees_on_historical_and_out_of_province_divisions() -> None:
    codes = []
    for division in ["340221", "341400", "340199", "110105", "990100", "341822", "340000"]:
        body = "91" + division + "MA2T00015"
        codes.append(body + uscc.check_character(body))
    assert uscc.validate_many(codes).tolist() == [uscc.validate(c).valid for c in codes]
    assert uscc.validate_many(codes).tolist() == [True, False, False, True, False, True, True]


def test_validate_many_on_empty_input_is_empty() -> None:
    assert uscc.validate_many([]).shape == (0,)


# --- generator -----------------------------------------------------------------------------


def test_generate_returns_unique_valid_codes_with_requested_prefix_and_divisions() -> None:
    rng = np.random.default_rng(7)
    pool = np.array(["340104", "341282"])
    codes = uscc.generate(rng, 5000, division_codes=pool, prefix="93")
    assert codes.dtype == np.dtype("<U18")
    assert len(codes) == 5000
    assert len(set(codes.tolist())) == 5000
    assert uscc.validate_many(codes).all()
    assert all(c.startswith("93") and c[2:8] in {"340104", "341282"} for c in codes.tolist())
    assert all(not uscc.validate(str(c)).warnings for c in codes[:200])


def test_generate_is_deterministic_for_a_seed() -> None:
    a = uscc.generate(np.random.default_rng(1), 50, division_codes=ANHUI_CURRENT)
    b = uscc.generate(np.random.default_rng(1), 50, division_codes=ANHUI_CURRENT)
    assert a.tolist() == b.tolist()


def test_generate_stays_unique_when_the_space_is_small() -> None:
    # one division, so collisions would appear if regeneration were missing
    codes = uscc.generate(np.random.default_rng(3), 20000, division_codes=np.array(["340100"]))
    assert len(set(codes.tolist())) == 20000


@pytest.mark.parametrize("prefix", ["95", "B1", "9"])
def test_generate_rejects_undefined_prefix(prefix: str) -> None:
    with pytest.raises(ValueError, match="prefix"):
        uscc.generate(np.random.default_rng(0), 1, division_codes=ANHUI_CURRENT, prefix=prefix)


def test_generate_rejects_divisions_a_code_cannot_carry() -> None:
    with pytest.raises(ValueError, match="341400"):
        uscc.generate(np.random.default_rng(0), 1, division_codes=np.array(["341400"]))


def _clean(code: str) -> bool:
    """What clean_many promises: accepted exactly as written, with no warning."""
    result = uscc.validate(code)
    return result.valid and not result.warnings and result.code == code


def _org_check_wrong(code: str) -> str:
    body = code[:16] + ("1" if code[16] == "0" else "0")
    return body + uscc.check_character(body)


@settings(suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(min_value=0, max_value=2**32 - 1))
def test_clean_many_agrees_with_validate_on_valid_and_mutated_codes(seed: int) -> None:
    rng = np.random.default_rng(seed)
    base = [str(c) for c in uscc.generate(rng, 20, division_codes=ANHUI_CURRENT)]
    codes = (
        base + [m for c in base for m in _mutations(c, rng)] + [_org_check_wrong(c) for c in base]
    )
    assert uscc.clean_many(codes).tolist() == [_clean(c) for c in codes]


@given(st.lists(st.text(alphabet=uscc.CHARSET + "abcxyzIOSVZ -\t\u3000\x00é", max_size=22)))
def test_clean_many_agrees_with_validate_on_garbage(codes: list[str]) -> None:
    assert uscc.clean_many(codes).tolist() == [_clean(c) for c in codes]


def test_clean_many_marks_warnings_and_historical_divisions_unclean() -> None:
    codes = []
    for division in ["340102", "340221", "110105", "341822"]:
        body = "91" + division + "MA2T00015"
        codes.append(body + uscc.check_character(body))
    codes.append(_org_check_wrong(codes[0]))
    codes.append(codes[0].lower())
    expected = [_clean(c) for c in codes]
    assert uscc.clean_many(codes).tolist() == expected
    # a current division, a historical one (valid, with a warning), another province, an
    # abolished one, a wrong organisation check (warning), lowercase (normalised)
    assert expected == [True, False, True, _clean(codes[3]), False, False]
    assert uscc.clean_many([]).shape == (0,)
