"""The synthetic held-out proxy, and the context rules it exercises.

Names in the rule tables are invented ("Quorrbel", "Zantrix") so that they are
in no lexicon: a hit can only come from context, format or shape.
"""

from __future__ import annotations

import pytest

from codeproof.deid.engine import DeidEngine
from codeproof.deid.lexicons import Lexicons
from codeproof.deid.recognizers import (
    ClinicalContactRecognizer,
    ClinicalLocationRecognizer,
    ClinicalNameRecognizer,
)
from codeproof.deid.recognizers.names import word_class
from codeproof.deid.recognizers.tokens import tokenize
from codeproof.deid.spans import PHI_TYPES, PhiSpan
from codeproof.deid.synthetic import (
    NamePools,
    generate_notes,
    holdout_lexicons,
    score_proxy,
    split_names,
)

INVENTED = ("Quorrbel", "Zantrix", "Vellamy", "Orsk")


@pytest.fixture(scope="module")
def pools(lexicons: Lexicons) -> NamePools:
    return split_names(lexicons)


@pytest.fixture(scope="module")
def holdout_engine(lexicons: Lexicons, pools: NamePools) -> DeidEngine:
    return DeidEngine(lexicons=holdout_lexicons(lexicons, pools))


def test_invented_names_are_in_no_list(lexicons: Lexicons) -> None:
    for name in INVENTED:
        assert word_class(tokenize(name)[0], lexicons) == "unknown", name


def test_generation_is_deterministic(pools: NamePools) -> None:
    first = generate_notes(pools, n=5, seed=3)
    again = generate_notes(pools, n=5, seed=3)
    other = generate_notes(pools, n=5, seed=4)
    assert first == again
    assert [n.text for n in first] != [n.text for n in other]


def test_gold_spans_are_well_formed(pools: NamePools) -> None:
    notes = generate_notes(pools, n=40, seed=11)
    kinds = {note.case for note in notes}
    assert kinds == {"mixed", "upper", "lower"}
    seen_types: set[str] = set()
    for note in notes:
        ends = -1
        for phi in sorted(note.phi, key=lambda p: p.start):
            assert phi.type in PHI_TYPES
            assert 0 <= phi.start < phi.end <= len(note.text)
            assert phi.start >= ends  # no overlaps
            surface = note.text[phi.start:phi.end]
            assert surface == surface.strip() and surface
            ends = phi.end
            seen_types.add(phi.type)
    # every Safe Harbor type the generator writes shows up in 40 notes
    assert seen_types == set(PHI_TYPES)


def test_held_out_names_are_removed_from_lexicons(lexicons: Lexicons,
                                                  pools: NamePools) -> None:
    held = holdout_lexicons(lexicons, pools)
    assert pools.first_names and pools.surnames and pools.cities
    assert not set(pools.first_names) & held.first_names
    assert not set(pools.surnames) & set(held.surname_rank)
    assert not set(pools.cities) & held.cities
    # the other half is still there, and the split is about half
    assert len(held.first_names) > 0.3 * len(lexicons.first_names)
    assert lexicons.first_names - held.first_names == set(pools.first_names)


def test_score_proxy_counts_half_coverage(pools: NamePools) -> None:
    note = generate_notes(pools, n=1, seed=5)[0]
    gold = note.phi[0]
    half = PhiSpan(start=gold.start, end=gold.start + (gold.end - gold.start + 1) // 2,
                   type=gold.type)
    none = score_proxy([note], [()])
    assert none.caught == 0 and none.total == len(note.phi)
    some = score_proxy([note], [(half,)])
    assert some.caught >= 1
    assert some.by_type[gold.type][0] >= 1


def test_proxy_recall_with_held_out_names(holdout_engine: DeidEngine,
                                          pools: NamePools) -> None:
    """Names the lexicons do not know are still mostly found by context."""
    notes = generate_notes(pools, n=60, seed=99)
    score = score_proxy(notes, holdout_engine.analyze_batch([n.text for n in notes]))
    assert score.recall >= 0.85
    for phi_type in ("DATE", "AGE", "PHONE", "EMAIL", "URL", "IP_ADDRESS", "SSN", "ID"):
        caught, total = score.by_type[phi_type]
        assert caught >= 0.95 * total, (phi_type, caught, total)
    caught, total = score.by_type["NAME"]
    assert caught >= 0.75 * total
    assert score.char_precision >= 0.9


def test_proxy_recall_with_full_lexicons(engine: DeidEngine, pools: NamePools) -> None:
    notes = generate_notes(pools, n=60, seed=98)
    score = score_proxy(notes, engine.analyze_batch([n.text for n in notes]))
    assert score.recall >= 0.97


@pytest.mark.parametrize(
    ("text", "names"),
    [
        # positives: a name in no list, found by its context
        ("Patient Name: Quorrbel Zantrix   DOB: 01/02/1950", {"Quorrbel Zantrix"}),
        ("Zantrix, Quorrbel MRN 12345678 arrived", {"Zantrix", "Quorrbel"}),
        ("Quorrbel Zantrix (daughter) at bedside", {"Quorrbel Zantrix"}),
        ("report given to vellamy, rn on 6 west", {"vellamy"}),
        ("Case management (Quorrbel Zantrix) following", {"Quorrbel Zantrix"}),
        ("Called by Zantrix from pharmacy re: trough", {"Zantrix"}),
        ("Resp: RT Vellamy suctioned for thick secretions", {"Vellamy"}),
        ("Pt prefers to be called Orsk.", {"Orsk"}),
        ("Pt Quorrbel Zantrix states she is ready to go home.", {"Quorrbel Zantrix"}),
        ("Family: son Quorrbel Frost can be reached at 555-1234", {"Quorrbel Frost"}),
        ("Labs sent.\n\nQuorrbel\n", {"Quorrbel"}),
        ("PT IS QUORRBEL ZANTRIX, 98 YO WOMAN", {"QUORRBEL ZANTRIX"}),
        ("ABD SOFT, 98 YO", set()),
        ("Dr. van Zantrix aware", {"van Zantrix"}),
        ("Dr. in to see pt", set()),
        # borderline: shorthand after "pt" in an all-caps note is not a name
        ("PT RECIEVED LASIX THIS AM", set()),
        ("pt oriented to name. follows simple commands", set()),
        # negatives: capitalised clinical terms after a cue word
        ("Seen by Cardic Transplant surgery", set()),
        ("left arm edema. Ultrasound ordered.\n", set()),
    ],
)
def test_context_names(lexicons: Lexicons, text: str, names: set[str]) -> None:
    found = {text[s:e] for s, e, _, _ in ClinicalNameRecognizer(lexicons).find(text)}
    assert found == names


@pytest.mark.parametrize(
    ("text", "places"),
    [
        ("Lives at 12 Farley Lane, Quorrbelton, MA 02134.",
         {("Quorrbelton", "LOCATION"), ("12 Farley Lane", "ADDRESS"), ("02134", "ADDRESS")}),
        ("LIVES IN ZANTRIXVILLE WITH HER SON", {("ZANTRIXVILLE", "LOCATION")}),
        ("lives at 736 vellamy avenue, ct 03264", {("736 vellamy avenue", "ADDRESS"),
                                                  ("03264", "ADDRESS")}),
        ("LIVES AT 788 POUND ROAD, ZANTRIXFORD", {("788 POUND ROAD", "ADDRESS")}),
        ("VISITING FROM COTTAGE VELLAMY, FLORIDA", {("COTTAGE VELLAMY", "LOCATION")}),
        ("Sent to Bird General Hospital.", {("Bird General", "HOSPITAL")}),
        ("transferred to Zantrix General Hospital today",
         {("Zantrix General", "HOSPITAL")}),
        ("Transferred from St. Quorrbel's for cath", {("St. Quorrbel's", "HOSPITAL")}),
        # borderline: a state code after a comma is a state only after a town
        ("visiting from Orskford, NH when she fell", {("Orskford", "LOCATION")}),
        # negatives: clinical abbreviations that are also state codes
        ("ABD SOFT, NT, ND. NGT PLACED", set()),
        ("2 peripheral ivs, PA line in place", set()),
        ("went to the general hospital", set()),
        ("1 FOR INCREASED CT, 2 TO CHEST DRIVE", set()),
    ],
)
def test_context_places(lexicons: Lexicons, text: str,
                        places: set[tuple[str, str]]) -> None:
    found = {(text[s:e], t) for s, e, t, _, _ in ClinicalLocationRecognizer(lexicons).find(text)}
    assert places <= found
    if not places:
        assert found == set()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("can be reached at 783-7261 tonight", {("783-7261", "PHONE")}),
        ("Fax records to 802-4960.", {("802-4960", "PHONE")}),
        # negatives: ranges and volumes are not local numbers
        ("UO 200-1000 cc/hr overnight", set()),
        ("called MD re: K 3.1", set()),
    ],
)
def test_local_phone(text: str, expected: set[tuple[str, str]]) -> None:
    found = {(text[r.start:r.end], r.entity_type)
             for r in ClinicalContactRecognizer().analyze(text, [])}
    assert found == expected
