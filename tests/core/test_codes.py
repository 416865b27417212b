"""Invite codes: generation, strict parsing with helpful errors, completion."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from p2pchat.core import codes
from p2pchat.core.errors import InvalidCode, P2PChatError
from p2pchat.core.wordlist import EVEN_WORDS, ODD_WORDS


def test_generate_uses_alternating_lists_and_three_random_bytes():
    requested = []

    def random(size):
        requested.append(size)
        return bytes([0, 1, 255])

    code = codes.generate("7", random=random)
    assert requested == [3]
    assert code.words == (EVEN_WORDS[0], ODD_WORDS[1], EVEN_WORDS[255])
    assert str(code) == f"7-{EVEN_WORDS[0]}-{ODD_WORDS[1]}-{EVEN_WORDS[255]}"


def test_generate_with_the_default_csprng_gives_parseable_codes():
    generated = {str(codes.generate("42")) for _ in range(20)}
    assert len(generated) > 1  # 24 random bits: twenty equal draws would be a broken RNG
    for text in generated:
        assert str(codes.parse(text)) == text


def test_generate_refuses_a_short_random_source_and_bad_nameplates():
    with pytest.raises(InvalidCode):
        codes.generate("7", random=lambda size: b"\x00")
    with pytest.raises(InvalidCode):
        codes.generate("x", random=lambda size: bytes(size))


@given(st.binary(min_size=3, max_size=3), st.integers(min_value=0, max_value=10**9))
def test_every_generated_code_round_trips(entropy, number):
    code = codes.generate(str(number), random=lambda size: entropy)
    assert codes.parse(str(code), manual=number == 0) == code
    assert codes.parse(str(code).upper().replace("-", "  "), manual=True) == code


@pytest.mark.parametrize(
    "typed",
    [
        "7-aardvark-adroitness-absurd",
        "  7 Aardvark ADROITNESS absurd\n",
        "7–aardvark—adroitness-absurd",  # en and em dashes from word processors
        "７－ａａｒｄｖａｒｋ　adroitness　absurd",  # full-width input from a Japanese IME
        "7ーaardvarkーadroitnessーabsurd",  # IME long-vowel mark typed for "-"
        "7_aardvark__adroitness absurd",
    ],
)
def test_parse_accepts_what_people_type(typed):
    assert str(codes.parse(typed)) == "7-aardvark-adroitness-absurd"


@pytest.mark.parametrize(
    ("typed", "message"),
    [
        ("", "Type the code"),
        ("7", "has 0 words"),
        ("7-aardvark-adroitness", "has 2 words"),
        ("7-aardvark-adroitness-absurd-acme", "has 4 words"),
        ("aardvark-adroitness-absurd", "number at the start of the code is missing"),
        ("x-aardvark-adroitness-absurd", "'x' is not a number"),
        ("07-aardvark-adroitness-absurd", "did you mean '7'"),
        ("12345678901-aardvark-adroitness-absurd", "too long"),
        ("7-aardvrak-adroitness-absurd", "did you mean 'aardvark'"),
        ("7-aardvark-adroitnes-absurd", "did you mean 'adroitness'"),
        ("7-aardvark-adroitness-absrud", "did you mean 'absurd'"),
        ("7-aardv-adroitness-absurd", "did you mean 'aardvark'"),
        ("7-qqqqqqq-adroitness-absurd", "not in the code word list."),
        ("7-adroitness-aardvark-absurd", "cannot be the first word"),
        ("7-aardvark-absurd-adroitness", "cannot be the second word"),
        ("7-aardvark-adroitness-adroitness", "cannot be the third word"),
        ("7-" + "a" * 300, "far too long"),
    ],
)
def test_parse_errors_say_what_is_wrong(typed, message):
    with pytest.raises(InvalidCode) as caught:
        codes.parse(typed)
    assert message.lower() in str(caught.value).lower()


def test_no_suggestion_for_a_word_nothing_like_the_list():
    with pytest.raises(InvalidCode) as caught:
        codes.parse("7-xyzzyplugh-adroitness-absurd")
    assert "did you mean" not in str(caught.value).lower()


def test_parse_refuses_non_text():
    with pytest.raises(InvalidCode):
        codes.parse(b"7-aardvark-adroitness-absurd")  # type: ignore[arg-type]


def test_invite_code_validates_its_fields():
    with pytest.raises(InvalidCode):
        codes.InviteCode("7", ("adroitness", "aardvark", "absurd"))
    with pytest.raises(InvalidCode):
        codes.InviteCode("7", ("aardvark", "adroitness"))  # type: ignore[arg-type]


def test_edit_distance_counts_typos_and_swaps():
    assert codes.edit_distance("absurd", "absurd") == 0
    assert codes.edit_distance("absrud", "absurd") == 1  # adjacent swap
    assert codes.edit_distance("absur", "absurd") == 1
    assert codes.edit_distance("", "abc") == 3
    assert codes.edit_distance("kitten", "sitting") == 3


# --- completion ----------------------------------------------------------------------


def test_completion_of_the_first_word_offers_the_even_list():
    options = codes.completions("7-")
    assert len(options) == 256
    assert options == sorted(f"7-{word}-" for word in EVEN_WORDS)


def test_completion_of_a_partial_word_narrows_and_appends_a_dash():
    assert codes.completions("7-aa") == ["7-aardvark-"]
    assert "7-aardvark-adroitness-" in codes.completions("7-aardvark-ad")
    assert all(o.startswith("7-aardvark-ad") for o in codes.completions("7-aardvark-ad"))


def test_completion_of_the_last_word_has_no_trailing_dash():
    assert codes.completions("7-aardvark-adroitness-absu") == ["7-aardvark-adroitness-absurd"]


def test_completion_normalises_spaces_and_case():
    assert codes.completions("7 Aardvark ADR") == ["7-aardvark-adroitness-"]


def test_completion_uses_the_list_of_the_position():
    # "adroitness" is an odd-list word: not a candidate for the first word
    assert codes.completions("7-adr") == ["7-adrift-"]


@pytest.mark.parametrize(
    "prefix",
    [
        "x-",
        "7-qq",
        "7-adroitness-a",  # an earlier word from the wrong list
        "7-aardvark-adroitness-absurd-",  # nothing after the third word
        "7-aardvark-adroitness-absurd-a",
        "x" * 500,
    ],
)
def test_no_completion_for_what_cannot_become_a_code(prefix):
    assert codes.completions(prefix) == []


def test_completion_of_the_nameplate_only_adds_the_dash():
    assert codes.completions("12") == ["12-"]
    assert codes.completions("") == []


@given(st.binary(min_size=3, max_size=3))
def test_every_prefix_of_a_code_completes_towards_it(entropy):
    code = str(codes.generate("3", random=lambda size: entropy))
    for end in range(2, len(code) + 1):
        options = codes.completions(code[:end])
        assert any(code.startswith(o) or o.startswith(code) for o in options), code[:end]


# --- fuzzing -----------------------------------------------------------------------------

code_like_text = st.one_of(
    st.text(max_size=300),
    st.lists(
        st.one_of(st.sampled_from(EVEN_WORDS + ODD_WORDS), st.text(max_size=12)), max_size=6
    ).map("-".join),
)


def _parse_or_invalid(text):
    try:
        code = codes.parse(text)
    except InvalidCode:
        return
    except P2PChatError as exc:  # pragma: no cover - parse raises only InvalidCode
        raise AssertionError(f"unexpected {type(exc).__name__}") from exc
    assert codes.parse(str(code)) == code
    codes.completions(text)


@settings(max_examples=300)
@given(code_like_text)
def test_fuzz_parse_raises_only_invalid_code(text):
    _parse_or_invalid(text)
    assert isinstance(codes.completions(text), list)


@pytest.mark.slow
@settings(max_examples=10_000)
@given(code_like_text)
def test_fuzz_parse_raises_only_invalid_code_long(text):
    _parse_or_invalid(text)
    assert isinstance(codes.completions(text), list)


# --- issue 19 section 4 and issue 13 section 7: what must never reach the PAKE


def test_swapping_the_first_and_third_word_is_a_typo_not_a_guess():
    code = codes.generate("7", random=lambda size: bytes([3, 9, 200]))
    first, second, third = code.words
    assert codes.parse(f"7-{first}-{second}-{third}") == code
    with pytest.raises(InvalidCode, match="first and third words look swapped"):
        codes.parse(f"7-{third}-{second}-{first}")
    with pytest.raises(InvalidCode, match="swapped"):
        codes.InviteCode("7", (third, second, first))


@given(st.binary(min_size=3, max_size=3))
def test_no_generated_code_survives_a_swap_of_its_outer_words(entropy):
    code = codes.generate("7", random=lambda size: entropy)
    first, second, third = code.words
    if first != third:
        with pytest.raises(InvalidCode):
            codes.parse(f"7-{third}-{second}-{first}")


def test_the_last_word_completes_only_to_words_after_the_first():
    first = EVEN_WORDS[200]
    options = codes.completions(f"7-{first}-{ODD_WORDS[0]}-")
    assert options == sorted(f"7-{first}-{ODD_WORDS[0]}-{word}" for word in EVEN_WORDS[200:])


@pytest.mark.parametrize(
    "typed",
    [
        f"-1-{EVEN_WORDS[0]}-{ODD_WORDS[0]}-{EVEN_WORDS[1]}",
        f" -1-{EVEN_WORDS[0]}-{ODD_WORDS[0]}-{EVEN_WORDS[1]}",
        f"\u2212 7 {EVEN_WORDS[0]} {ODD_WORDS[0]} {EVEN_WORDS[1]}",
        f"0-{EVEN_WORDS[0]}-{ODD_WORDS[0]}-{EVEN_WORDS[1]}",
        f"00-{EVEN_WORDS[0]}-{ODD_WORDS[0]}-{EVEN_WORDS[1]}",
    ],
)
def test_negative_and_zero_nameplates_are_malformed(typed):
    with pytest.raises(InvalidCode, match="number"):
        codes.parse(typed)


def test_zero_is_the_copy_paste_codes_number():
    words = f"{EVEN_WORDS[0]}-{ODD_WORDS[0]}-{EVEN_WORDS[1]}"
    assert codes.parse(f"0-{words}", manual=True).nameplate == "0"
    with pytest.raises(InvalidCode, match="copy-paste"):
        codes.parse(f"0-{words}")
    with pytest.raises(InvalidCode, match="dash"):
        codes.parse(f"-0-{words}", manual=True)
