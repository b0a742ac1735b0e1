"""Shared helpers for the rules tests: a tiny fake terminology and encounter builders.

The fake implements the terminology contract the rules read (``get`` raising
UnknownCode; CodeInfo with billable, parent, children, note code references and
7th characters). Its entries mirror the real ICD-10-CM tabular for the codes used.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from codeproof.errors import UnknownCode
from codeproof.model import (
    CodeAssignment,
    Demographics,
    Encounter,
    Evidence,
    Note,
    SourceRef,
)

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "rules"


@dataclass(frozen=True)
class FakeInfo:
    code: str
    title: str
    billable: bool
    parent: str | None = None
    children: tuple[str, ...] = ()
    excludes1_codes: tuple[str, ...] = ()
    excludes2_codes: tuple[str, ...] = ()
    code_first_codes: tuple[str, ...] = ()
    use_additional_codes: tuple[str, ...] = ()
    seventh_characters: tuple[tuple[str, str], ...] = ()
    system: str = "ICD-10-CM"


_ENTRIES = [
    FakeInfo(code="E08-E13", title="Diabetes mellitus", billable=False,
             children=("E10", "E11")),
    FakeInfo(code="E10", title="Type 1 diabetes mellitus", billable=False, parent="E08-E13",
             children=("E10.9",), excludes1_codes=("E11", "O24.4")),  # store style: no dash
    FakeInfo(code="E10.9", title="Type 1 diabetes mellitus without complications",
             billable=True, parent="E10"),
    FakeInfo(code="E11", title="Type 2 diabetes mellitus", billable=False, parent="E08-E13",
             children=("E11.2", "E11.9"), excludes1_codes=("E10.-", "O24.4-"),
             use_additional_codes=("Z79.4", "Z79.84")),
    FakeInfo(code="E11.2", title="Type 2 diabetes mellitus with kidney complications",
             billable=False, parent="E11", children=("E11.22",)),
    FakeInfo(code="E11.22", title="Type 2 diabetes mellitus with diabetic chronic kidney "
             "disease", billable=True, parent="E11.2", use_additional_codes=("N18.1-N18.6",)),
    FakeInfo(code="E11.9", title="Type 2 diabetes mellitus without complications",
             billable=True, parent="E11"),
    FakeInfo(code="N18", title="Chronic kidney disease (CKD)", billable=False,
             children=("N18.4",), code_first_codes=("E11.22", "I12.-")),
    FakeInfo(code="N18.4", title="Chronic kidney disease, stage 4 (severe)", billable=True,
             parent="N18"),
    FakeInfo(code="Z79.4", title="Long term (current) use of insulin", billable=True),
    FakeInfo(code="I50", title="Heart failure", billable=False, children=("I50.9",),
             code_first_codes=("I11.0", "I13.-")),
    FakeInfo(code="I50.9", title="Heart failure, unspecified", billable=True, parent="I50"),
    FakeInfo(code="I11.0", title="Hypertensive heart disease with heart failure",
             billable=True, use_additional_codes=("I50.-",)),
    FakeInfo(code="G30.9", title="Alzheimer's disease, unspecified", billable=True),
    FakeInfo(code="F02.80", title="Dementia in other diseases classified elsewhere, "
             "unspecified severity, without behavioral disturbance", billable=True,
             code_first_codes=("G30.-", "G31.01")),
    FakeInfo(code="S72", title="Fracture of femur", billable=False, children=("S72.0",),
             seventh_characters=(("A", "initial encounter for closed fracture"),
                                 ("D", "subsequent encounter"), ("S", "sequela"))),
    FakeInfo(code="S72.0", title="Fracture of head and neck of femur", billable=False,
             parent="S72", children=("S72.00",)),
    FakeInfo(code="S72.00", title="Fracture of unspecified part of neck of femur",
             billable=False, parent="S72.0", children=("S72.001",)),
    FakeInfo(code="S72.001", title="Fracture of unspecified part of neck of right femur",
             billable=False, parent="S72.00", children=("S72.001A", "S72.001D", "S72.001S")),
    FakeInfo(code="S72.001A", title="Fracture of unspecified part of neck of right femur, "
             "initial encounter for closed fracture", billable=True, parent="S72.001"),
    FakeInfo(code="K21.9", title="Gastro-esophageal reflux disease without esophagitis",
             billable=True, excludes2_codes=("K20.9",)),
    FakeInfo(code="K20.9", title="Esophagitis, unspecified", billable=True),
    FakeInfo(code="J44.9", title="Chronic obstructive pulmonary disease, unspecified",
             billable=True),
    FakeInfo(code="I10", title="Essential (primary) hypertension", billable=True),
    FakeInfo(code="R51.9", title="Headache, unspecified", billable=True),
]


@dataclass(frozen=True)
class FakeTarget:
    code: str
    ambiguity: str


class FakeTerminology:
    """The terminology contract, over the entries above."""

    versions = {"ICD-10-CM": "fake"}

    def __init__(self, icd11: dict[str, tuple[FakeTarget, ...]] | None = None) -> None:
        self._by_code = {e.code: e for e in _ENTRIES}
        self._icd11 = icd11 or {}

    def icd11_targets(self, code: str) -> tuple[FakeTarget, ...]:
        self.get(code)
        return self._icd11.get(code, ())

    def get(self, code: str, system: str = "ICD-10-CM") -> FakeInfo:
        try:
            return self._by_code[code]
        except KeyError:
            raise UnknownCode(f"{code} is not a {system} code", code=code) from None


def code(code: str, *, seq: int = 0, system: str = "ICD-10-CM", quote: str = "",
         note_text: str = "") -> CodeAssignment:
    """A CodeAssignment, with evidence at the first occurrence of ``quote``."""
    evidence: tuple[Evidence, ...] = ()
    if quote:
        start = note_text.index(quote)
        evidence = (Evidence(note_id="n1", start=start, end=start + len(quote), quote=quote),)
    return CodeAssignment(system=system, code=code, description="", confidence=0.9,  # type: ignore[arg-type]
                          evidence=evidence, rationale="test", sequence=seq)


def encounter(*codes: CodeAssignment, text: str = "Note.", setting: str = "outpatient",
              age: int | None = 60, sex: str = "F", payer: str | None = None,
              dos: str | None = "2026-01-15", lines: tuple[str, ...] = (),
              pos: str | None = None, status: str | None = "01") -> Encounter:
    """A hand-built encounter."""
    return Encounter(
        id="enc-1",
        source=SourceRef(format="text", sha256="0" * 64, received_at="2026-01-15T00:00:00Z"),
        notes=(Note(id="n1", text=text),),
        setting=setting,  # type: ignore[arg-type]
        demographics=Demographics(age=age, sex=sex, discharge_status=status),  # type: ignore[arg-type]
        date_of_service=dos,
        payer=payer,
        procedures_billed=lines,
        place_of_service=pos,
        codes=codes,
    )


def ids(findings: tuple[object, ...]) -> list[str]:
    """Rule ids of findings, in order."""
    return [f.rule_id for f in findings]  # type: ignore[attr-defined]
