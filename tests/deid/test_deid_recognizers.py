"""Per-recognizer tables: positive, borderline and negative rows."""

from __future__ import annotations

import pytest

from codeproof.deid.recognizers import (
    ClinicalAgeRecognizer,
    ClinicalContactRecognizer,
    ClinicalDateRecognizer,
    ClinicalIdentifierRecognizer,
    ClinicalLocationRecognizer,
    ClinicalNameRecognizer,
)
from codeproof.deid.recognizers.tokens import case_mode, tokenize


def _found(recognizer, text: str) -> set[tuple[str, str]]:
    return {(text[r.start:r.end], r.entity_type) for r in recognizer.analyze(text, [])}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("admitted 10/18/03 with encephalopathy", {("10/18/03", "DATE")}),
        ("pt seen 7/22 at noon", {("7/22", "DATE")}),
        ("cultures 2021-04-11 negative", {("2021-04-11", "DATE")}),
        ("stated it was July 29th today", {("July 29th", "DATE")}),
        ("Nursing note 21 Apr, 21", {("21 Apr, 21", "DATE")}),
        ("s/p mastectomy 11/92, stable", {("11/92", "DATE")}),
        ("S/P MI 1992; CABG", {("1992", "DATE_YEAR")}),
        ("CABG '92, redo '95", {("'92", "DATE_YEAR"), ("'95", "DATE_YEAR")}),
        ("PMH MI 92, HTN", {("92", "DATE_YEAR")}),
        # borderline: shift times look like years unless a year context is present
        ("shift 1900 - 0700 uneventful", set()),
        ("since 2004 on dialysis", {("2004", "DATE_YEAR")}),
        # negatives
        ("strength 5/5 bilaterally, 1/2 NS", set()),
        ("BP 120/80 HR 88", set()),
        ("pt may go home; MAR reviewed", set()),
        ("HR DEC TO 60", set()),
        ("pain 5/10 after dose", set()),
        ("PS 10/5 tolerated", set()),
    ],
)
def test_dates(text: str, expected: set[tuple[str, str]]) -> None:
    assert _found(ClinicalDateRecognizer(), text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("cell# 410-322-1419 (try first)", {("410-322-1419", "PHONE")}),
        ("call (617) 555-0142 today", {("(617) 555-0142", "PHONE")}),
        ("Pager # 54321", {("54321", "PHONE")}),
        ("mail jdoe@example.org now", {("jdoe@example.org", "EMAIL")}),
        ("see https://portal.example.org/x", {("https://portal.example.org/x", "URL")}),
        ("from 10.1.2.33 host", {("10.1.2.33", "IP_ADDRESS")}),
        ("SSN 123-45-6789", {("123-45-6789", "SSN")}),
        ("son (301 273 45166) called", {("301 273 45166", "PHONE")}),
        # borderline/negative: impossible SSN, not an IP, lab series
        ("SSN 000-12-3456", set()),
        ("ABG 7.40/35/64/22", set()),
        ("version 999.1.1.1", set()),
        ("BUN 54, CR 2.8, K 3.9", set()),
    ],
)
def test_contact(text: str, expected: set[tuple[str, str]]) -> None:
    assert _found(ClinicalContactRecognizer(), text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("MRN: 00482913", {("00482913", "ID")}),
        ("ref # 8336652 arrived", {("8336652", "ID")}),
        ("policy # rg17 applies", {("rg17", "ID")}),
        ("acct 55-10293", {("55-10293", "ID")}),
        ("heparin 1100 units", set()),
        ("E11.9 and I10 coded", set()),
    ],
)
def test_identifiers(text: str, expected: set[tuple[str, str]]) -> None:
    assert _found(ClinicalIdentifierRecognizer(), text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("93 yo woman", {("93", "AGE")}),
        ("a 101 year old man", {("101", "AGE")}),
        ("age: 95", {("95", "AGE")}),
        ("in her 90s, lives alone", {("90s", "AGE")}),
        ("89 yo man", set()),  # borderline: 89 is allowed by Safe Harbor
        ("58 YEAR OLD FEMALE", set()),
        ("BP in the 90s", set()),
    ],
)
def test_ages(text: str, expected: set[tuple[str, str]]) -> None:
    assert _found(ClinicalAgeRecognizer(), text) == expected


@pytest.mark.parametrize(
    ("text", "names"),
    [
        ("Seen by Dr. Okonkwo today.", {"Okonkwo"}),
        ("dr healey aware of labs", {"healey"}),
        ("DR SCHWARTZ AWARE, WILL WATCH", {"SCHWARTZ"}),
        ("Dr. Art White signed orders.", {"Art White"}),
        ("Nancy Jones, RN", {"Nancy Jones"}),
        ("Q. LANDER RRT", {"Q. LANDER"}),
        ("daughter Thelma in to visit", {"Thelma"}),
        ("SON DAVID CALLED", {"DAVID"}),
        ("Mr. Nicholson is awake", {"Nicholson"}),
        ("reported to J. Chang PA", {"J. Chang"}),
        ("Lopie Certusi cell# 410-322-1419", {"Lopie Certusi"}),
        ("Hank Przybylo (son) called", {"Hank Przybylo"}),
        ("PER DAVID, HE HAS BEEN TIRED", {"DAVID"}),
        ("heparin changed.  SUSAN", {"SUSAN"}),
        # borderline: an ordinary word after a relationship word is not a name
        ("wife at bedside, husband home", set()),
        # negatives: clinical abbreviations, vitals and codes
        ("HPI: CHF on BID lasix, E11.9", set()),
        ("BP 120/80, HR 88, foley draining", set()),
        ("PT AWARE OF PLAN. MD NOTIFIED.", set()),
        ("RESP: S. BREATH SOUNDS CLEAR", set()),
    ],
)
def test_names(lexicons, text: str, names: set[str]) -> None:
    found = {text[s:e] for s, e, _, _ in ClinicalNameRecognizer(lexicons).find(text)}
    assert found == names


@pytest.mark.parametrize(
    ("text", "places"),
    [
        ("transferred from Calvert Hospital for cath", {("Calvert", "HOSPITAL")}),
        ("REFERRED TO GH FOR CATH", {("GH", "HOSPITAL")}),
        ("wishes to return to St. Mary's after", {("St. Mary's", "HOSPITAL")}),
        ("plan: transfer to Quartermain 2 today", {("Quartermain 2", "HOSPITAL")}),
        ("lives with daughter in Baltimore.", {("Baltimore", "LOCATION")}),
        ("lives at 19 Clover St. in town", {("19 Clover St.", "ADDRESS")}),
        ("was on vacation on the Eastern Shore, fell", {("Eastern Shore", "LOCATION")}),
        ("new job in Bel Air and", {("Bel Air", "LOCATION")}),
        ("Pt to go to rehab(sacred heart Memorial) today. Bed ok", {("sacred heart Memorial",
                                                          "HOSPITAL")}),
        ("GIVEN 4 MG SQ AT 2 AM", set()),
        # borderline: generic places are not identifiers
        ("transferred to the ICU from the floor", set()),
        ("discharged to nursing home", set()),
        ("sister in California", set()),
    ],
)
def test_locations(lexicons, text: str, places: set[tuple[str, str]]) -> None:
    found = {(text[s:e], t) for s, e, t, _, _ in ClinicalLocationRecognizer(lexicons).find(text)}
    assert found == places


@pytest.mark.parametrize(
    ("text", "mode"),
    [("ALL CAPS NOTE", "upper"), ("all lower note", "lower"), ("Mixed Case note", "mixed")],
)
def test_case_mode(text: str, mode: str) -> None:
    assert case_mode(text) == mode


def test_tokenize_offsets_are_exact() -> None:
    text = "Dr. O'Rourke, R.N.\r\n7/22"
    for token in tokenize(text):
        assert text[token.start:token.end] == token.text


@pytest.mark.parametrize(
    ("word", "expected"),
    [
        ("Healey", "strong"),  # census surname, not an English word
        ("Vasquez", "strong"),
        ("Bill", "ambiguous"),  # first name and an English word
        ("White", "ambiguous"),
        ("Swackhamer", "unknown"),  # in no list: needs context
        ("clears", "word"),  # inflected English word, not a census name
        ("BID", "never"),  # clinical abbreviation
        ("micu", "never"),  # unit shape *icu
        ("nsicu", "never"),
        ("daughter", "never"),
    ],
)
def test_word_class(lexicons, word: str, expected: str) -> None:
    from codeproof.deid.recognizers.names import word_class

    assert word_class(tokenize(word)[0], lexicons) == expected


def test_text_profile_matches_its_parts_and_is_shared(lexicons) -> None:
    from codeproof.deid.recognizers.names import text_profile, word_class

    text = "Seen by Dr. Quartermain in San Diego; quartermain called back."
    tokens, mode, classes = text_profile(text, lexicons)
    assert tokens == tokenize(text)
    assert mode == case_mode(text)
    assert classes == [word_class(t, lexicons) for t in tokens]
    again = text_profile(text, lexicons)
    assert again == (tokens, mode, classes) and again[0] is not tokens  # fresh lists
    assert text_profile("Other note.", lexicons)[0] == tokenize("Other note.")


def test_multi_word_cities_are_still_found(lexicons) -> None:
    recognizer = ClinicalLocationRecognizer(lexicons)
    assert ("San Diego", "LOCATION") in _found(recognizer, "Moved from San Diego last year.")
