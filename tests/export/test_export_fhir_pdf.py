"""FHIR R4 Bundle (Claim + Provenance) and the PDF audit report, from a real package."""

from __future__ import annotations

import io

import pytest

from codeproof.config import load_settings
from codeproof.errors import JustificationError
from codeproof.export.fhir import SYSTEM_URLS, package_to_fhir, validate_bundle
from codeproof.export.package import build_package
from codeproof.justify.kb import load_kb
from codeproof.justify.stage import JustifyStage
from codeproof.model import (
    CodeAssignment,
    Encounter,
    Evidence,
    Note,
    RuleFinding,
    SourceRef,
)
from codeproof.review.routing import RoutingStage

TEXT = ("DISCHARGE DIAGNOSES: Acute on chronic diastolic heart failure. Hypertension.\n"
        "PROCEDURES: Right heart catheterization.\n")


def _ev(phrase: str) -> Evidence:
    start = TEXT.index(phrase)
    return Evidence(note_id="n1", start=start, end=start + len(phrase), quote=phrase)


@pytest.fixture()
def package(tmp_path) -> dict:
    settings = load_settings(environ={}, home=str(tmp_path), justify={"kb_dense": "off"})
    codes = (
        CodeAssignment(system="ICD-10-CM", code="I11.0", description="Hypertensive heart "
                       "disease with heart failure", confidence=0.93, sequence=1,
                       evidence=(_ev("Hypertension"),), rationale=""),
        CodeAssignment(system="ICD-10-CM", code="I50.33", description="Acute on chronic "
                       "diastolic (congestive) heart failure", confidence=0.75, sequence=2,
                       evidence=(_ev("Acute on chronic diastolic heart failure"),),
                       rationale=""),
        CodeAssignment(system="ICD-10-PCS", code="02HP32Z", description="Right heart cath",
                       confidence=0.5, evidence=(_ev("Right heart catheterization"),),
                       rationale=""),
        CodeAssignment(system="CPT", code="93451", description="AMA descriptor not shipped",
                       confidence=0.95, evidence=(_ev("Right heart catheterization"),),
                       rationale=""),
    )
    enc = Encounter(id="enc-x", setting="inpatient", notes=(Note(id="n1", text=TEXT),),
                    source=SourceRef(format="text", sha256="a" * 64, received_at="t"),
                    codes=codes, findings=(RuleFinding(
                        rule_id="icd10cm.use_additional", severity="warning",
                        message="use additional code for heart failure type",
                        codes=("ICD-10-CM:I11.0",), pack="icd10cm", pack_version="FY2026"),))
    enc = JustifyStage(kb=load_kb(settings))(enc)
    enc = RoutingStage(settings.routing)(enc)
    return build_package(enc, audit_head="f" * 64, created_at="2026-03-04T10:00:00+00:00")


def test_bundle_is_valid_r4_with_claim_and_provenance(package) -> None:
    bundle = package_to_fhir(package)
    claim, provenance = (e["resource"] for e in bundle["entry"])
    assert claim["resourceType"] == "Claim" and provenance["resourceType"] == "Provenance"
    assert claim["type"]["coding"][0]["code"] == "institutional"
    diagnoses = claim["diagnosis"]
    assert [d["diagnosisCodeableConcept"]["coding"][0]["code"] for d in diagnoses] == \
        ["I11.0", "I50.33"]
    assert diagnoses[0]["type"][0]["coding"][0]["code"] == "principal"
    assert diagnoses[0]["diagnosisCodeableConcept"]["coding"][0]["system"] == \
        SYSTEM_URLS["ICD-10-CM"]
    assert claim["procedure"][0]["procedureCodeableConcept"]["coding"][0]["code"] == "02HP32Z"
    cpt = claim["item"][0]["productOrService"]["coding"][0]
    assert cpt["code"] == "93451" and "display" not in cpt  # never ship AMA descriptors
    assert provenance["target"][0]["reference"] == bundle["entry"][0]["fullUrl"]
    ext = {e["url"].rsplit("/", 1)[-1]: e for e in provenance["extension"]}
    assert ext["audit-chain-head"]["valueString"] == "f" * 64
    assert package_to_fhir(package) == bundle  # deterministic ids


def test_invalid_bundle_is_a_clear_error(package) -> None:
    bundle = package_to_fhir(package)
    bundle["entry"][0]["resource"]["created"] = "yesterday"
    with pytest.raises(JustificationError):
        validate_bundle(bundle)


def test_pdf_report_holds_codes_evidence_citations_and_chain_hash(package) -> None:
    pdf_mod = pytest.importorskip("codeproof.export.pdf")
    if not pdf_mod.is_available():
        pytest.skip("WeasyPrint (extra 'pdf') is not installed")
    pypdf = pytest.importorskip("pypdf")
    data = pdf_mod.render_pdf(package, notes={"n1": TEXT})
    assert data.startswith(b"%PDF")
    text = " ".join(p.extract_text() for p in pypdf.PdfReader(io.BytesIO(data)).pages)
    flat = " ".join(text.split())
    for needle in ("enc-x", "I11.0", "I50.33", "02HP32Z", "ICD-10-CM OCG I.C.9.a",
                   "icd10cm.use_additional", "writer.template.v1", "verifier.grounding.v1",
                   "auto_finalize", "f" * 32):
        assert needle in flat.replace(" ", "") or needle in flat, needle


def test_report_html_escapes_and_skips_mismatched_notes(package) -> None:
    from codeproof.export.pdf import report_html

    html = report_html(package, notes={"n1": "<script>x</script>" + TEXT})
    assert "<script>x</script>" not in html  # a note whose offsets do not match is unused
    with_context = report_html(package, notes={"n1": TEXT})
    assert "PROCEDURES" in with_context  # context around the evidence excerpt
