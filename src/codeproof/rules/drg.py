"""MS-DRG grouping via ``msdrg`` (MIT; CMS grouper logic v40-v44), with CC/MCC detail.

:class:`DrgGrouper` wraps the native grouper and returns a frozen
:class:`DrgResult` (DRG, MDC, CMS title, severity, and each secondary
diagnosis' CC/MCC level and whether it drove the DRG). The rule family ``drg``
reports, for inpatient claims only, the assignment (info), every CC/MCC
contribution (info), and an error when the claim is ungroupable; from the same
grouping it returns the ``drg`` report (:mod:`codeproof.rules.reports`), with the
relative weight when ``rules.drg_weights_file`` is set.

Version choice (``rules.drg_version``): ``"v43"`` means the latest release of
v43 (431), ``"v43.0"``/``"v43.1"`` a given release, ``"auto"`` the release in
effect on the discharge date (October-March: ``.0``; April-September: ``.1``).
DRG results were cross-checked against ``drgpy`` 0.2.1's gold cases
(``tests/rules/test_drg.py``).
"""

from __future__ import annotations

import functools
import threading
import weakref
from dataclasses import dataclass
from datetime import date
from typing import Any, ClassVar

from codeproof.errors import ConfigError
from codeproof.model import CodeAssignment, RuleFinding
from codeproof.rules.base import ClaimView, RuleContext, compact, finding
from codeproof.rules.mce import mce_sex
from codeproof.rules.reports import RuleOutput

__all__ = ["DrgGrouper", "DrgResult", "DrgRules", "SdxImpact", "resolve_version"]

PACK = "cms.msdrg"
_CITATION = "CMS ICD-10 MS-DRG Definitions Manual"
_FIRST_FY = {40: 2023, 41: 2024, 42: 2025, 43: 2026, 44: 2027}
_MEMO_SIZE = 4096  # recent groupings kept (cleared when full)


def resolve_version(setting: str, on: date | None) -> int:
    """Map ``"v43"``/``"v43.1"``/``"auto"`` (+ discharge date) to a grouper version."""
    text = setting.strip().lower()
    if text == "auto":
        if on is None:
            return 431
        fy = on.year + 1 if on.month >= 10 else on.year
        major = {v: k for k, v in _FIRST_FY.items()}.get(fy)
        if major is None:
            return 400 if fy < 2023 else 440
        return major * 10 + (1 if 4 <= on.month <= 9 and major != 44 else 0)
    body = text.removeprefix("v")
    major_s, _, minor_s = body.partition(".")
    if not major_s.isdigit() or int(major_s) not in _FIRST_FY or (minor_s and minor_s not in "01"):
        raise ConfigError(
            f"rules.drg_version {setting!r} is not one of v40..v44 (optionally .0/.1) or 'auto'",
            value=setting,
        )
    major = int(major_s)
    minor = int(minor_s) if minor_s else (0 if major == 44 else 1)
    return major * 10 + minor


def version_date(version: int) -> date:
    """First day a grouper version is in effect (used when the claim has no date)."""
    fy = _FIRST_FY[version // 10]
    return date(fy, 4, 1) if version % 10 else date(fy - 1, 10, 1)


@dataclass(frozen=True, slots=True, kw_only=True)
class SdxImpact:
    """One secondary diagnosis as the grouper saw it."""

    code: str  # compact
    severity: str  # NONE, CC, MCC
    drives_drg: bool
    excluded: bool  # CC/MCC excluded (e.g. by the principal diagnosis)


@dataclass(frozen=True, slots=True, kw_only=True)
class DrgResult:
    """The grouper's answer for one claim."""

    version: int
    drg: int | None
    mdc: int | None
    title: str
    severity: str
    return_code: str
    sdx: tuple[SdxImpact, ...] = ()

    @property
    def label(self) -> str:
        """``"MS-DRG 291 (Heart Failure and Shock with MCC)"``."""
        if self.drg is None:
            return f"ungroupable ({self.return_code})"
        return f"MS-DRG {self.drg:03d} ({self.title})"


class DrgGrouper:
    """A loaded MS-DRG grouper; ``group`` is deterministic."""

    def __init__(self, version: str = "v43") -> None:
        import msdrg

        self.setting = version
        resolve_version(version, None)  # validate early
        self._grouper: Any = msdrg.MsdrgGrouper()
        self._lock = threading.Lock()  # the grouper caches versions in a plain dict
        self._memo: dict[tuple[object, ...], DrgResult] = {}
        self.package = f"msdrg {msdrg.__version__}"
        weakref.finalize(self, self._grouper.close)

    def close(self) -> None:
        """Release the native context."""
        self._grouper.close()

    def _group(self, claim: dict[str, Any]) -> dict[str, Any]:
        result: dict[str, Any] = self._grouper.group(claim)
        return result

    def version_for(self, on: date | None) -> int:
        """The grouper version used for a discharge on ``on``."""
        return resolve_version(self.setting, on)

    def group(self, *, pdx: str, sdx: tuple[str, ...], procedures: tuple[str, ...],
              age: int | None, sex: str, discharge_status: str | None,
              on: date | None) -> DrgResult:
        """Group compact ICD-10-CM/PCS codes."""
        version = self.version_for(on)
        status = int(discharge_status) if discharge_status and discharge_status.isdigit() else 1
        # the drg and cdi families both group the claim as coded: memoise on every input
        key = (version, age, sex, status, pdx, sdx, procedures)
        with self._lock:
            cached = self._memo.get(key)
        if cached is not None:
            return cached
        with self._lock:
            raw = self._group({
            # POA indicators are not part of the encounter: grouped as POA-exempt, so the
            # HAC adjustment is not applied (a claim without POA would otherwise be 999)
            "hospital_status": "EXEMPT",
            "version": version, "age": age if age is not None else 65, "sex": mce_sex(sex),
            "discharge_status": status, "pdx": {"code": pdx},
            "sdx": [{"code": c} for c in sdx], "procedures": [{"code": c} for c in procedures],
            })
        impacts = tuple(
            SdxImpact(code=o["code"], severity=o.get("severity", "NONE"),
                      drives_drg=o.get("drg_impact", "NONE") != "NONE",
                      excluded="CC_EXCLUDED" in " ".join(o.get("flags", ())))
            for o in raw.get("sdx_output", ()) or ()
        )
        result = DrgResult(
            version=version, drg=raw.get("final_drg"), mdc=raw.get("final_mdc"),
            title=raw.get("final_drg_description") or "", severity=raw.get("final_severity", ""),
            return_code=raw.get("return_code", ""), sdx=impacts,
        )
        with self._lock:
            if len(self._memo) >= _MEMO_SIZE:
                self._memo.clear()
            self._memo[key] = result
        return result

    def group_claim(self, claim: ClaimView, on: date | None, *,
                    extra_sdx: tuple[str, ...] = (), replace: dict[str, str] | None = None
                    ) -> DrgResult | None:
        """Group a claim view (optionally with codes added or replaced: CDI what-ifs)."""
        if claim.principal is None:
            return None
        swap = replace or {}
        dx = [swap.get(compact(c.code), compact(c.code)) for c in claim.diagnoses]
        return self.group(
            pdx=dx[0], sdx=(*dx[1:], *extra_sdx),
            procedures=tuple(compact(c.code) for c in claim.procedures),
            age=claim.age, sex=claim.sex, discharge_status=claim.discharge_status, on=on,
        )


class DrgRules:
    """Rule family ``drg``: MS-DRG assignment and CC/MCC contributions (inpatient)."""

    family: ClassVar[str] = "drg"

    def __call__(self, claim: ClaimView, context: RuleContext, /) -> tuple[RuleFinding, ...]:
        """Group the claim and explain the result."""
        return self.run(claim, context).findings

    def run(self, claim: ClaimView, context: RuleContext, /) -> RuleOutput:
        """Group the claim once: findings plus the ``drg`` report (inpatient only)."""
        grouper = context.grouper
        if grouper is None or claim.setting != "inpatient" or claim.principal is None:
            return RuleOutput()
        on = context.date_for(claim)
        result = grouper.group_claim(claim, on)
        if result is None:
            return RuleOutput()
        release = f"v{result.version // 10}.{result.version % 10}"
        version = f"{release} ({grouper.package})"
        pdx_key = f"ICD-10-CM:{claim.principal.code}"
        dotted = {compact(c.code): c for c in claim.diagnoses}
        data = _report_data(result, claim, context, release=release, package=grouper.package,
                            dotted=dotted)
        output = functools.partial(RuleOutput, name="drg", data=data,
                                   producer=f"rules.drg.v1:{grouper.package}:{release}")
        if result.drg is None or result.return_code != "OK":
            return output(findings=(finding(
                "drg.ungroupable", "error",
                f"the claim does not group to an MS-DRG (return code {result.return_code})",
                codes=(pdx_key,), pack=PACK, pack_version=version, citation=_CITATION,
                fix="Check the principal diagnosis, age, sex and discharge status.",
            ),))
        out = [finding(
            "drg.assignment", "info",
            f"{result.label}, MDC {result.mdc}, severity {result.severity}",
            codes=(pdx_key, *(f"ICD-10-PCS:{c.code}" for c in claim.procedures)),
            pack=PACK, pack_version=version, citation=_CITATION,
        )]
        for impact in result.sdx:
            if impact.severity not in ("CC", "MCC"):
                continue
            code = dotted.get(impact.code)
            shown = code.code if code is not None else impact.code
            article = "an" if impact.severity == "MCC" else "a"
            if impact.excluded:
                text = (f"{shown} is {article} {impact.severity} but excluded with this "
                        "principal diagnosis")
            elif impact.drives_drg:
                text = f"{shown} is {article} {impact.severity} and sets the DRG severity level"
            else:
                text = f"{shown} is {article} {impact.severity} (no effect on this DRG)"
            out.append(finding(
                "drg.cc_mcc", "info", text, codes=(f"ICD-10-CM:{shown}",), pack=PACK,
                pack_version=version, citation=f"{_CITATION}, Appendix C (CC/MCC lists)",
                evidence=code.evidence if code is not None else (),
            ))
        return output(findings=tuple(out))


def _effect(impact: SdxImpact) -> str:
    if impact.excluded:
        return "excluded"
    return "drives_drg" if impact.drives_drg else "no_effect"


def _report_data(result: DrgResult, claim: ClaimView, context: RuleContext, *, release: str,
                 package: str, dotted: dict[str, CodeAssignment]) -> dict[str, Any]:
    """The ``drg`` report: grouping, CC/MCC effects and (with a weights table) the weight.

    The MCE summary (key ``mce``) is added by the validator, which sees the MCE findings.
    """
    grouped = result.drg is not None and result.return_code == "OK"
    weights = context.drg_weights
    row = weights.get(result.drg) if weights is not None and grouped else None
    principal = claim.principal
    return {
        "grouper": package,
        "grouper_version": release,
        "grouped": grouped,
        "return_code": result.return_code,
        "drg": f"{result.drg:03d}" if result.drg is not None else None,
        "description": result.title if grouped else "",
        "mdc": result.mdc,
        "severity": result.severity,
        "principal_dx": principal.code if principal is not None else None,
        "procedures": [c.code for c in claim.procedures],
        "cc_mcc": [
            {"code": dotted[i.code].code if i.code in dotted else i.code,
             "level": i.severity, "effect": _effect(i)}
            for i in result.sdx if i.severity in ("CC", "MCC")
        ],
        "weight": row.weight if row is not None else None,
        "gmlos": row.gmlos if row is not None else None,
        "amlos": row.amlos if row is not None else None,
        "weights_source": weights.describe() if weights is not None else None,
        "weight_status": ("no_table" if weights is None else
                          "ok" if row is not None else
                          "ungrouped" if not grouped else "drg_not_in_table"),
    }
