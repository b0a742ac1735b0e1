"""The compiled store over the mini fixture: hierarchy, notes, 7th characters, ICD-11, CPT."""

from __future__ import annotations

import sqlite3
from functools import partial
from pathlib import Path

import pytest
from codesets_helpers import mini_sources

from codeproof.coding.codesets import (
    CodeInfo,
    Terminology,
    build_terminology,
    load_terminology,
    store,
)
from codeproof.coding.codesets.build import DB_NAME, MANIFEST, store_dir
from codeproof.errors import ReferenceDataError, ReferenceDataMissing, UnknownCode


@pytest.mark.parametrize(
    ("code", "billable", "kind"),
    [
        ("E11.9", True, "subcategory"),  # positive: leaf
        ("E11.65", True, "subcategory"),
        ("B20", True, "category"),  # borderline: a category that is a leaf
        ("O24.410", True, "subcategory"),
        ("S72.001A", True, "extension"),  # generated 7th-character code
        ("S02.0XXA", True, "extension"),  # with placeholders
        ("E11", False, "category"),  # negative: header
        ("E11.6", False, "subcategory"),
        ("S72.001", False, "subcategory"),  # needs a 7th character
        ("S02.0", False, "subcategory"),
    ],
)
def test_billable_vs_header(mini: Terminology, code: str, billable: bool, kind: str) -> None:
    info = mini.get(code)
    assert (info.billable, info.kind) == (billable, kind)


def test_counts_and_versions(mini: Terminology) -> None:
    billable = [info.code for info in mini.codes()]
    assert billable == ["B20", "E11.65", "E11.9", "M14.60", "O24.410", "S02.0XXA", "S02.0XXB",
                        "S72.001A", "S72.001D", "T36.0X1A"]
    assert mini.versions["count.ICD-10-CM"] == str(len(billable))
    assert mini.versions["count.ICD-10-PCS"] == "3"
    assert mini.versions["icd10pcs"] == "FY2024"
    assert mini.versions["content_digest"].startswith("sha256:")
    assert "fake_cpt.tsv" in mini.versions["cpt"]
    assert "user-supplied" in mini.versions["icd11.map"]


def test_manifest_matches_versions(mini: Terminology, mini_dir: Path) -> None:
    import json

    manifest = json.loads((store_dir(mini_dir) / MANIFEST).read_text(encoding="utf-8"))
    assert manifest == mini.versions


def test_build_is_deterministic(tmp_path: Path, mini: Terminology) -> None:
    build_terminology(tmp_path, icd11_dir=Path(__file__).resolve().parents[2] / "fixtures"
                      / "codesets" / "icd11", cpt_file=Path(__file__).resolve().parents[2]
                      / "fixtures" / "codesets" / "fake_cpt.tsv",
                      hcpcs_file=Path(__file__).resolve().parents[2] / "fixtures" / "codesets"
                      / "fake_hcpcs_fixed.txt", **mini_sources())
    with load_terminology(tmp_path) as again:
        assert again.versions == mini.versions


def test_rebuild_replaces_store_in_place(tmp_path: Path) -> None:
    build_terminology(tmp_path, **mini_sources())
    first = load_terminology(tmp_path)
    assert first.versions["cpt"].startswith("absent")
    first.close()
    build_terminology(tmp_path, cpt_file=Path(__file__).resolve().parents[2] / "fixtures"
                      / "codesets" / "fake_cpt.tsv", **mini_sources())
    with load_terminology(tmp_path) as second:
        assert second.get("99213", "CPT").title == "Test descriptor 1"
    assert [p.name for p in tmp_path.iterdir()] == ["icd10cm-fy2026"]  # no leftovers


def test_seventh_characters_inherited(mini: Terminology) -> None:
    header = mini.get("S72.001")
    assert header.requires_seventh
    assert header.seventh_character_source == "S72"
    assert [c for c, _ in header.seventh_characters] == ["A", "D", "S"]
    # S72.001S is not in the CMS code list, so it is not generated.
    assert header.children == ("S72.001A", "S72.001D")
    extended = mini.get("S72.001A")
    assert not extended.requires_seventh
    assert extended.title.endswith(", initial encounter for closed fracture")
    assert mini.get("E11.9").seventh_characters == ()


@pytest.mark.parametrize(
    ("code", "char", "expected"),
    [("S02.0", "A", "S02.0XXA"), ("S72.001", "D", "S72.001D"), ("T36.0X1", "A", "T36.0X1A")],
)
def test_with_seventh(mini: Terminology, code: str, char: str, expected: str) -> None:
    assert mini.with_seventh(code, char).code == expected


@pytest.mark.parametrize(("code", "char"), [("S72.001", "S"), ("S02.0", "Q"), ("E11.9", "A")])
def test_with_seventh_unknown(mini: Terminology, code: str, char: str) -> None:
    with pytest.raises(UnknownCode):
        mini.with_seventh(code, char)


def test_placeholder_flag(mini: Terminology) -> None:
    assert mini.get("S02.0XXA").placeholder
    assert mini.get("T36.0X1A").placeholder
    assert not mini.get("S72.001A").placeholder


def test_own_notes_not_merged_and_parsed(mini: Terminology) -> None:
    e11 = mini.get("E11")
    assert e11.excludes1_codes == ("E08", "O24.4")
    assert e11.use_additional_codes == ("Z79.4",)
    assert e11.includes == ("diabetes NOS",)
    leaf = mini.get("E11.9")
    assert leaf.excludes1 == ()  # own notes only
    assert leaf.inclusion_terms == ("Type 2 diabetes mellitus NOS",)


@pytest.mark.parametrize(
    ("code", "kind", "expected"),
    [
        # positive: notes sit on the category and the chapter
        ("E11.9", "excludes1", [("E11", "E08"), ("E11", "O24.4"), ("4", "P70-P74")]),
        ("E11.65", "use_additional", [("E11", ""), ("E11", "Z79.4")]),
        # borderline: a 7th-character code inherits through its generated parent
        ("S72.001A", "code_also", [("S72", "")]),
        ("S72.001A", "excludes2", [("19", "P10-P15")]),
        # own note first, then the chapter's
        ("B20", "code_first", [("B20", "O98.7")]),
        ("B20", "use_additional", [("1", "Z16")]),
        # negative: nothing above
        ("O24.410", "excludes1", []),
    ],
)
def test_notes_inherited(mini: Terminology, code: str, kind: str,
                         expected: list[tuple[str, str]]) -> None:
    notes = mini.notes_inherited(code, kind)
    assert [(n.source, ",".join(n.codes)) for n in notes] == expected
    for note in notes:
        assert note.inherited is (note.source != code)


def test_notes_inherited_unknown_kind(mini: Terminology) -> None:
    with pytest.raises(ReferenceDataError):
        mini.notes_inherited("E11.9", "excludes3")


def test_block_sharing_its_id_with_a_code(mini: Terminology) -> None:
    category = mini.get("B20")
    block = mini.get("B20", kind="block")
    assert (category.kind, block.kind) == ("category", "block")
    assert category.parent == "B20" and block.parent == "1"
    assert [a.kind for a in mini.ancestors("B20")] == ["block", "chapter"]


def test_ancestors_nearest_first(mini: Terminology) -> None:
    assert [a.code for a in mini.ancestors("S72.001A")] == [
        "S72.001", "S72.00", "S72", "S70-S79", "19"]
    assert mini.get("S72.001A").block == "S70-S79"
    assert mini.get("S72.001A").chapter == "19"


@pytest.mark.parametrize(
    ("code", "ambiguity", "targets", "via"),
    [
        ("E11.9", "exact", ["5A11"], "E11.9"),  # WHO code equals the CM code, one target
        ("E11.6", "one_to_many", ["5A11", "5A24"], "E11.6"),  # several WHO targets
        ("E11.65", "category_only", ["5A11", "5A24"], "E11.6"),  # truncated to WHO parent
        ("O24.410", "category_only", ["JA63.2"], "O24.4"),
        ("S72.001A", "category_only", ["NC72.2Z"], "S72.0"),
        ("B20", "none", [""], "B20"),  # WHO row without an ICD-11 code
        ("T36.0X1A", "none", [""], ""),  # no WHO prefix at all
    ],
)
def test_icd11_ambiguity(mini: Terminology, code: str, ambiguity: str, targets: list[str],
                         via: str) -> None:
    found = mini.icd11_targets(code)
    assert [t.code for t in found] == targets
    assert {t.ambiguity for t in found} == {ambiguity}
    assert {t.via for t in found} == {via}


def test_icd11_titles_come_from_mms_titles(mini: Terminology) -> None:
    # The WHO table says "Type 2 diabetes mellitus (table title)"; MMS titles win, verbatim.
    assert mini.icd11_targets("E11.9")[0].title == "Type 2 diabetes mellitus"
    assert mini.get("XN8P1", "ICD-11").title == "Test extension & title"
    assert mini.get("JA63.2", "ICD-11").parent == "JA63"


def test_icd11_empty_when_map_not_built(bare: Terminology) -> None:
    assert bare.icd11_targets("E11.9") == ()
    assert bare.versions["icd11.map"].startswith("absent")


@pytest.mark.parametrize(
    ("code", "system"),
    [
        ("E11.99", "ICD-10-CM"),  # right shape, not a code
        ("E11", "ICD-10-PCS"),
        ("0DTJ9ZZ", "ICD-10-PCS"),
        ("12345", "CPT"),  # a CPT file is loaded: unlisted codes are unknown
        ("1A00", "ICD-11"),
    ],
)
def test_unknown_code(mini: Terminology, code: str, system: str) -> None:
    with pytest.raises(UnknownCode) as info:
        mini.get(code, system)
    assert info.value.code == "CP-REF-003"
    assert not mini.exists(code, system)


def test_unknown_system(mini: Terminology) -> None:
    with pytest.raises(UnknownCode, match="known: ICD-10-CM"):
        mini.get("E11.9", "ICD-9-CM")


def test_cpt_with_licensed_file(mini: Terminology) -> None:
    info = mini.get("99213", "CPT")
    assert (info.title, info.listed) == ("Test descriptor 1", True)
    assert mini.find("0001U") == mini.get("0001U", "CPT")


@pytest.mark.parametrize(
    ("code", "system", "listed"),
    [("99213", "CPT", False), ("1234F", "CPT", False), ("J0696", "HCPCS", False)],
)
def test_format_only_without_file(bare: Terminology, code: str, system: str,
                                  listed: bool) -> None:
    info = bare.get(code, system)
    assert (info.title, info.listed, info.system) == ("", listed, system)


@pytest.mark.parametrize("code", ["9921", "99213X"])
def test_format_only_rejects_bad_shape(bare: Terminology, code: str) -> None:
    with pytest.raises(UnknownCode):
        bare.get(code, "CPT")


def test_hcpcs_fixed_layout(mini: Terminology) -> None:
    assert mini.get("J0696", "HCPCS").title == "Test HCPCS item 1"
    assert mini.get("E0100", "HCPCS").title == "Test HCPCS item 2"
    assert mini.versions["count.HCPCS"] == "2"  # the modifier record is skipped


@pytest.mark.parametrize(
    ("raw", "system", "code"),
    [
        ("e119", "ICD-10-CM", "E11.9"),
        ("0dtj4zz", "ICD-10-PCS", "0DTJ4ZZ"),
        ("5a11", "ICD-11", "5A11"),
        ("J0696", "HCPCS", "J0696"),  # CM shape, but the store has it as HCPCS
        ("99213", "CPT", "99213"),
        ("A00-A09", None, None),  # negative: not in the mini set
        ("E11.99", None, None),  # dotted: never a format-only HCPCS
    ],
)
def test_find_infers_system(mini: Terminology, raw: str, system: str | None,
                            code: str | None) -> None:
    info = mini.find(raw)
    found = (info.system, info.code) if info is not None else (None, None)
    assert found == (system, code)


def test_codes_and_texts_agree(mini: Terminology) -> None:
    infos = list(mini.codes())
    assert all(isinstance(i, CodeInfo) for i in infos)
    texts = list(mini.texts())
    assert [(i.code, i.title, i.inclusion_terms) for i in infos] == texts
    headers = list(mini.codes(billable_only=False))
    assert {i.kind for i in headers} >= {"chapter", "block", "category"}
    assert [i.code for i in mini.codes("ICD-10-PCS")] == ["0DTJ0ZZ", "0DTJ4ZZ", "0SR9019"]
    assert mini.get("0DTJ4ZZ", "ICD-10-PCS").block == "0DT"


def test_load_missing_raises(tmp_path: Path) -> None:
    with pytest.raises(ReferenceDataMissing) as info:
        load_terminology(tmp_path / "nowhere")
    assert info.value.code == "CP-REF-002"


def test_load_builds_when_missing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(store, "build_terminology", partial(build_terminology, **mini_sources()))
    with load_terminology(tmp_path, build_if_missing=True) as terminology:
        assert terminology.get("E11.9").title == "Type 2 diabetes mellitus without complications"
    assert (store_dir(tmp_path) / DB_NAME).is_file()


def test_stale_format_is_refused(tmp_path: Path) -> None:
    build_terminology(tmp_path, **mini_sources())
    database = store_dir(tmp_path) / DB_NAME
    with sqlite3.connect(database) as connection:
        connection.execute("UPDATE versions SET value='0' WHERE key='terminology.format'")
    connection.close()
    with pytest.raises(ReferenceDataError, match="format 0"):
        load_terminology(tmp_path)


def test_corrupt_store_is_a_reference_error(tmp_path: Path) -> None:
    database = store_dir(tmp_path) / DB_NAME
    database.parent.mkdir(parents=True)
    database.write_bytes(b"not a database")
    with pytest.raises(ReferenceDataError):
        load_terminology(tmp_path)


def test_concurrent_builds_leave_one_valid_store(tmp_path: Path) -> None:
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=3) as pool:
        folders = list(pool.map(lambda _: build_terminology(tmp_path, **mini_sources()),
                                range(3)))
    assert len(set(folders)) == 1
    with load_terminology(tmp_path) as terminology:
        assert terminology.get("E11.9").billable
    assert [p.name for p in tmp_path.iterdir()] == ["icd10cm-fy2026"]


def test_shared_terminology_is_thread_safe(mini: Terminology) -> None:
    from concurrent.futures import ThreadPoolExecutor

    codes = ["E11.9", "S72.001A", "B20", "O24.410", "T36.0X1A"] * 40
    with ThreadPoolExecutor(max_workers=4) as pool:
        titles = list(pool.map(lambda c: mini.get(c).title, codes))
    assert titles == [mini.get(c).title for c in codes]


@pytest.mark.parametrize(
    ("code", "billable_only", "expected"),
    [
        ("E11", True, ["E11.65", "E11.9"]),
        ("E11", False, ["E11.6", "E11.65", "E11.9"]),
        ("S72.001", True, ["S72.001A", "S72.001D"]),
        ("E08-E13", True, ["E11.65", "E11.9"]),  # a block: the codes it holds
        ("19", True, ["S02.0XXA", "S02.0XXB", "S72.001A", "S72.001D", "T36.0X1A"]),
        ("B20", True, []),  # borderline: the category, not the block of the same id
        ("E11.9", True, []),  # negative: a leaf
    ],
)
def test_descendants(mini: Terminology, code: str, billable_only: bool,
                     expected: list[str]) -> None:
    found = mini.descendants(code, billable_only=billable_only)
    assert [info.code for info in found] == expected


@pytest.mark.parametrize(
    ("code", "manifestation"),
    [
        ("M14", True),  # the title says "in diseases classified elsewhere"
        ("M14.60", True),  # borderline: inherited from its category
        ("E11.9", False),
        ("B20", False),
    ],
)
def test_manifestation_flag(mini: Terminology, code: str, manifestation: bool) -> None:
    assert mini.get(code).manifestation is manifestation


def test_unwritable_reference_dir_is_a_reference_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder", encoding="utf-8")
    with pytest.raises(ReferenceDataError, match="cannot write the terminology store"):
        build_terminology(blocker / "reference", **mini_sources())


@pytest.mark.parametrize(
    ("icd11", "billable_only", "expected"),
    [
        ("5A11", True, ["E11.65", "E11.9"]),
        ("5A11", False, ["E11", "E11.6", "E11.65", "E11.9"]),
        ("5a24", True, ["E11.65"]),  # a secondary (one-to-many) target counts too
        ("JA63.2", True, ["O24.410"]),
        ("1A00", True, []),  # negative: nothing maps there
    ],
)
def test_icd10cm_for_icd11(mini: Terminology, icd11: str, billable_only: bool,
                           expected: list[str]) -> None:
    assert list(mini.icd10cm_for_icd11(icd11, billable_only=billable_only)) == expected


def test_icd10cm_for_icd11_without_map(bare: Terminology) -> None:
    assert bare.icd10cm_for_icd11("5A11") == ()
