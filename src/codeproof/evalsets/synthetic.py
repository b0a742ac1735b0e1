"""Synthetic US encounter notes with gold ICD-10-CM codes, generated with clinosim.

``clinosim`` (0.6.5, MIT) simulates patients and renders template notes. The
notes print codes next to diagnoses ("Cellulitis, unspecified (L03.90)",
"Type 2 diabetes mellitus [E11.9]"); a coder must not see them, so they are
stripped, and every gold code string is removed from the text as well.

Gold codes per encounter (what clinosim's FHIR output would code, restricted to
what the note supports):

1. the encounter's principal diagnosis (clinosim ``clinical_diagnosis``,
   discharge code, else admission code, mapped to its US billable target);
2. every code clinosim printed in the note text (then stripped);
3. the patient's chronic conditions (mapped to US targets) whose clinosim
   display text appears in the note (e.g. the outpatient assessment lists them).

Notes:

- inpatient: the admission H&P followed by the discharge summary of one
  forced-scenario admission (diseases cycled from clinosim's 32 protocols);
- outpatient: the SOAP note of one primary-care visit of a simulated population.

Output layout (CodiEsp-compatible, scored by ``score_codiesp.py``)::

    DIR/text/<id>.txt      one note per encounter
    DIR/gold.tsv           id<TAB>code (lower case, dotted), one line per code
    DIR/manifest.json      seed, n, clinosim version, per-note setting/source

Everything is deterministic for a given ``seed`` and clinosim version.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import random
import re
import shutil
import tempfile
import time
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from codeproof.coding.codesets.codes import ICD10CM, normalize_code
from codeproof.errors import ReferenceDataError, ReferenceDataMissing

__all__ = [
    "SECTION_TITLES",
    "SyntheticNote",
    "SyntheticSummary",
    "compose_note",
    "generate_synthetic",
    "gold_for_encounter",
    "remove_code_strings",
    "strip_printed_codes",
    "write_synthetic_set",
]

logger = logging.getLogger(__name__)

Setting = Literal["inpatient", "outpatient"]

#: Section keys of clinosim documents -> the headings a US note would use.
SECTION_TITLES: dict[str, str] = {
    "chief_complaint": "CHIEF COMPLAINT",
    "hpi": "HISTORY OF PRESENT ILLNESS",
    "past_medical_history": "PAST MEDICAL HISTORY",
    "medications_at_home": "HOME MEDICATIONS",
    "allergies": "ALLERGIES",
    "social_history": "SOCIAL HISTORY",
    "family_history": "FAMILY HISTORY",
    "physical_examination": "PHYSICAL EXAMINATION",
    "assessment_and_plan": "ASSESSMENT AND PLAN",
    "admission_summary": "ADMISSION SUMMARY",
    "hospital_course": "HOSPITAL COURSE",
    "discharge_diagnoses": "DISCHARGE DIAGNOSES",
    "discharge_medications": "DISCHARGE MEDICATIONS",
    "discharge_instructions": "DISCHARGE INSTRUCTIONS",
    "follow_up": "FOLLOW-UP",
    "subjective": "SUBJECTIVE",
    "objective": "OBJECTIVE",
    "assessment": "ASSESSMENT",
    "plan": "PLAN",
}

_DOC_TITLES = {
    "34117-2": "ADMISSION HISTORY AND PHYSICAL",
    "18842-5": "DISCHARGE SUMMARY",
    "34131-3": "OUTPATIENT PROGRESS NOTE",
}
_TASKS = ("admission_hp", "discharge_summary", "outpatient_soap")
_INPATIENT_DOCS = ("34117-2", "18842-5")
_OUTPATIENT_DOCS = ("34131-3",)

_CODE = r"[A-Z][0-9][0-9A-Z](?:\.[0-9A-Z]{1,4})?"
# "(L03.90)", "[E11.9]", "(J44.9, F17.210)" printed after a display text.
_PRINTED_RE = re.compile(rf"[ \t]*[\[(]\s*({_CODE}(?:\s*[,;/]\s*{_CODE})*)\s*[\])]")
_CODE_RE = re.compile(_CODE)


@dataclass(frozen=True, slots=True, kw_only=True)
class SyntheticNote:
    """One synthetic encounter note and its gold ICD-10-CM codes."""

    id: str
    text: str
    codes: tuple[str, ...]  # canonical dotted ICD-10-CM
    setting: Setting
    source: str  # clinosim encounter id
    condition: str  # clinosim disease id or visit reason


@dataclass(frozen=True, slots=True, kw_only=True)
class SyntheticSummary:
    """What :func:`write_synthetic_set` wrote."""

    out: Path
    notes: int
    codes: int
    seconds: float


def strip_printed_codes(text: str) -> tuple[str, tuple[str, ...]]:
    """Remove code annotations like " (L03.90)" / " [E11.9]"; return text and the codes."""
    found: list[str] = []

    def replace(match: re.Match[str]) -> str:
        for code in _CODE_RE.findall(match.group(1)):
            canonical = normalize_code(code, ICD10CM)
            if canonical not in found:
                found.append(canonical)
        return ""

    return _PRINTED_RE.sub(replace, text), tuple(found)


def remove_code_strings(text: str, codes: Iterable[str]) -> str:
    """Remove every standalone occurrence of the given codes (dotted or not) from ``text``.

    A bare code ("J13" as a whole discharge-diagnosis item) would leak the
    answer; list separators left empty are tidied up.
    """
    forms: set[str] = set()
    for code in codes:
        canonical = normalize_code(code, ICD10CM)
        forms.update({canonical, canonical.replace(".", "")})
    if not forms:
        return text
    pattern = re.compile(r"(?<![A-Za-z0-9.])(?:" + "|".join(
        re.escape(f) for f in sorted(forms, key=len, reverse=True)) + r")(?![A-Za-z0-9])")
    cleaned = pattern.sub("", text)
    cleaned = re.sub(r"(?:;\s*){2,}", "; ", cleaned)
    cleaned = re.sub(r"(:[ \t]*)(?:;\s*)+", r"\1", cleaned)
    cleaned = re.sub(r"(?:;[ \t]*)+$", "", cleaned, flags=re.MULTILINE)
    return cleaned


def compose_note(documents: Iterable[tuple[str, Mapping[str, Any]]]) -> str:
    """Join clinosim narratives ``(loinc, narrative)`` into one note with US headings."""
    parts: list[str] = []
    for loinc, narrative in documents:
        title = _DOC_TITLES.get(loinc, "CLINICAL NOTE")
        lines = [title, ""]
        sections = narrative.get("sections") or {}
        if sections:
            for key, value in sections.items():
                text = str(value or "").strip()
                if text:
                    heading = SECTION_TITLES.get(key, key.replace("_", " ").upper())
                    lines.append(f"{heading}: {text}")
        elif narrative.get("text"):
            lines.append(str(narrative["text"]).strip())
        parts.append("\n".join(lines).rstrip())
    return "\n\n".join(parts) + "\n"


def gold_for_encounter(*, text: str, primary: Iterable[str], printed: Iterable[str],
                       chronic: Mapping[str, str]) -> tuple[str, ...]:
    """Return the gold codes: principal diagnosis, printed codes, chronic codes in the text.

    ``chronic`` maps a candidate code to its clinosim display; it is gold only
    when the display occurs in ``text`` (case-insensitive).
    """
    gold: list[str] = []
    lowered = text.lower()
    for code in (*primary, *printed):
        canonical = normalize_code(code, ICD10CM)
        if canonical not in gold:
            gold.append(canonical)
    for code, display in chronic.items():
        canonical = normalize_code(code, ICD10CM)
        if display and display.lower() in lowered and canonical not in gold:
            gold.append(canonical)
    # A category listed next to one of its own codes ("T07" and "T07.XXXA") is the
    # same diagnosis said less specifically: keep the specific code only.
    bare = [code.replace(".", "") for code in gold]
    return tuple(code for code, b in zip(gold, bare, strict=True)
                 if not any(o != b and o.startswith(b) for o in bare))


# --- clinosim driver ------------------------------------------------------------------


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """Silence clinosim's progress prints and log chatter (never note text in our logs)."""
    root = logging.getLogger()
    previous = root.manager.disable
    logging.disable(logging.WARNING)
    try:
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            yield
    finally:
        logging.disable(previous)


def _clinosim() -> dict[str, Any]:
    try:
        from clinosim import __version__
        from clinosim.api import SimulatorConfig, run_beta, run_forced
        from clinosim.codes import lookup
        from clinosim.modules.document.narrative.passes import TemplateNarrativePass
        from clinosim.modules.output.cif_writer import write_cif
        from clinosim.modules.output.fhir_r4.lib.common import map_diagnosis_code
        from clinosim.simulator import load_all_disease_protocols
        from clinosim.types.config import ForcedScenario
    except ImportError as exc:
        raise ReferenceDataMissing("clinosim 0.6.5 is not installed; install the 'synthetic' extra "
                            "(pip install 'codeproof[synthetic]')") from exc
    return {
        "version": __version__, "SimulatorConfig": SimulatorConfig, "run_beta": run_beta,
        "run_forced": run_forced, "lookup": lookup, "TemplateNarrativePass": TemplateNarrativePass,
        "write_cif": write_cif, "map_code": map_diagnosis_code,
        "protocols": load_all_disease_protocols, "ForcedScenario": ForcedScenario,
    }


def _value(obj: Any, name: str, default: Any = None) -> Any:
    if isinstance(obj, Mapping):
        return obj.get(name, default)
    return getattr(obj, name, default)


def _narratives(cif_dir: Path, lib: dict[str, Any], seed: int, encounter_ids: list[str]
                ) -> dict[str, dict[str, dict[str, Any]]]:
    """Run clinosim's template narrative pass for the chosen encounters only."""
    pattern = "^(?:" + "|".join(re.escape(e) for e in encounter_ids) + ")$"
    with _quiet():
        lib["TemplateNarrativePass"](cif_dir=str(cif_dir), version_id="template", country="US",
                                     tasks=list(_TASKS), rng_seed=seed,
                                     patient_filter=pattern).run()
    out: dict[str, dict[str, dict[str, Any]]] = {}
    root = cif_dir / "narratives" / "template" / "documents"
    for encounter_dir in sorted(root.iterdir()) if root.is_dir() else ():
        for path in sorted(encounter_dir.glob("*.json")):
            data = json.loads(path.read_text(encoding="utf-8"))
            out.setdefault(encounter_dir.name, {})[data["document_id"]] = data["narrative"]
    return out


def _note_for(record: Any, narratives: Mapping[str, Mapping[str, Any]], wanted: tuple[str, ...],
              lib: dict[str, Any]) -> tuple[str, tuple[str, ...]] | None:
    """Compose the note of one CIF record and compute its gold codes (None if no text)."""
    documents = []
    for loinc in wanted:
        for doc in _value(record, "documents", []) or []:
            if _value(doc, "loinc_code") == loinc and _value(doc, "document_id") in narratives:
                documents.append((loinc, narratives[_value(doc, "document_id")]))
                break
    if len(documents) != len(wanted):
        return None
    raw = compose_note(documents)
    text, printed = strip_printed_codes(raw)
    patient = _value(record, "patient")
    sex = str(_value(patient, "sex", "") or "")
    diagnosis = _value(record, "clinical_diagnosis")
    primary = [
        lib["map_code"](code, "US", sex)
        for code in (_value(diagnosis, "discharge_diagnosis_code")
                     or _value(diagnosis, "admission_diagnosis_code"),)
        if code
    ]
    chronic: dict[str, str] = {}
    for condition in _value(patient, "chronic_conditions", []) or []:
        code = lib["map_code"](_value(condition, "code", ""), "US", sex)
        display = lib["lookup"]("icd-10-cm", code, "en") if code else ""
        if code and display and display != code:
            chronic[code] = display
    gold = gold_for_encounter(text=text, primary=primary, printed=printed, chronic=chronic)
    text = remove_code_strings(text, gold)
    if _CODE_RE.search(text) and any(normalize_code(c, ICD10CM) in gold
                                     for c in _CODE_RE.findall(text)):
        raise ReferenceDataError("a gold code survived stripping", encounter=str(
            _value(_value(record, "encounters", [{}])[0], "encounter_id", "")))
    return text, gold


def generate_synthetic(n: int, seed: int, *, workdir: Path | None = None,
                       outpatient_share: float = 0.5) -> list[SyntheticNote]:
    """Simulate and render ``n`` notes (about half inpatient, half outpatient)."""
    if n < 1:
        raise ReferenceDataError("n must be at least 1", n=n)
    lib = _clinosim()
    rng = random.Random(seed)
    n_out = int(round(n * outpatient_share)) if n > 1 else 0
    n_in = n - n_out
    owned = workdir is None
    base = Path(tempfile.mkdtemp(prefix="codeproof-synthetic-")) if workdir is None else workdir
    notes: list[SyntheticNote] = []
    try:
        notes.extend(_inpatient(n_in, seed, rng, base / "inpatient", lib))
        if n_out:
            notes.extend(_outpatient(n_out, seed, rng, base / "outpatient", lib))
    finally:
        if owned:
            shutil.rmtree(base, ignore_errors=True)
    return [
        SyntheticNote(id=f"us-{index:04d}", text=note.text, codes=note.codes,
                      setting=note.setting, source=note.source, condition=note.condition)
        for index, note in enumerate(notes, start=1)
    ]


def _inpatient(count: int, seed: int, rng: random.Random, cif_dir: Path,
               lib: dict[str, Any]) -> list[SyntheticNote]:
    if count == 0:
        return []
    diseases = sorted(lib["protocols"]())
    rng.shuffle(diseases)
    chosen = Counter(diseases[i % len(diseases)] for i in range(count))
    records: list[tuple[str, Any]] = []
    for index, disease in enumerate(sorted(chosen)):
        # Ask for a few spare patients: an admission can end without both documents.
        scenario = lib["ForcedScenario"](disease_id=disease, count=chosen[disease] + 1)
        config = lib["SimulatorConfig"](random_seed=seed * 1000 + index)
        with _quiet():
            dataset = lib["run_forced"](scenario, config)
            lib["write_cif"](dataset, str(cif_dir / disease))
        records.extend((disease, record) for record in dataset.patients)
    notes: list[SyntheticNote] = []
    taken: Counter[str] = Counter()
    by_disease: dict[str, list[Any]] = {}
    for disease, record in records:
        by_disease.setdefault(disease, []).append(record)
    for disease in sorted(by_disease):
        ids = [_encounter_id(r) for r in by_disease[disease]]
        narratives = _narratives(cif_dir / disease, lib, seed, ids)
        for record in by_disease[disease]:
            if taken[disease] >= chosen[disease]:
                break
            encounter = _encounter_id(record)
            built = _note_for(record, narratives.get(encounter, {}), _INPATIENT_DOCS, lib)
            if built is None:
                continue
            taken[disease] += 1
            notes.append(SyntheticNote(id="", text=built[0], codes=built[1],
                                       setting="inpatient", source=encounter,
                                       condition=disease))
    return notes


def _outpatient(count: int, seed: int, rng: random.Random, cif_dir: Path,
                lib: dict[str, Any]) -> list[SyntheticNote]:
    config = lib["SimulatorConfig"](random_seed=seed, catchment_population=max(50, count * 4),
                                    time_range=("2024-04-01", "2024-04-30"))
    with _quiet():
        dataset = lib["run_beta"](config)
    visits = [r for r in dataset.patients
              if str(_value(_value(r, "encounters", [None])[0], "encounter_type", "")
                     ).endswith("outpatient")]
    # one visit per patient, chosen reproducibly
    per_patient: dict[str, Any] = {}
    for record in sorted(visits, key=_encounter_id):
        per_patient.setdefault(str(_value(_value(record, "patient"), "patient_id")), record)
    pool = sorted(per_patient.values(), key=_encounter_id)
    rng.shuffle(pool)
    picked = pool[: count * 2]  # spares for visits without a SOAP note
    dataset.patients = picked
    with _quiet():
        lib["write_cif"](dataset, str(cif_dir))
    narratives = _narratives(cif_dir, lib, seed, [_encounter_id(r) for r in picked])
    notes: list[SyntheticNote] = []
    for record in picked:
        if len(notes) == count:
            break
        encounter = _encounter_id(record)
        built = _note_for(record, narratives.get(encounter, {}), _OUTPATIENT_DOCS, lib)
        if built is None or not built[1]:
            continue
        reason = str(_value(_value(record, "encounters", [None])[0], "chief_complaint", ""))
        notes.append(SyntheticNote(id="", text=built[0], codes=built[1], setting="outpatient",
                                   source=encounter, condition=reason))
    if len(notes) < count:
        raise ReferenceDataError(f"clinosim produced {len(notes)} usable outpatient visits of "
                            f"{count} asked; use a smaller n or another seed", n=count)
    return notes


def _encounter_id(record: Any) -> str:
    return str(_value(_value(record, "encounters", [None])[0], "encounter_id", ""))


def write_synthetic_set(out: Path | str, *, n: int = 100, seed: int = 7) -> SyntheticSummary:
    """Generate the set and write ``text/<id>.txt``, ``gold.tsv`` and ``manifest.json``."""
    started = time.perf_counter()
    lib = _clinosim()
    notes = generate_synthetic(n, seed)
    target = Path(out)
    (target / "text").mkdir(parents=True, exist_ok=True)
    gold_lines: list[str] = []
    for note in notes:
        (target / "text" / f"{note.id}.txt").write_text(note.text, encoding="utf-8")
        gold_lines.extend(f"{note.id}\t{code.lower()}" for code in note.codes)
    (target / "gold.tsv").write_text("\n".join(gold_lines) + "\n", encoding="utf-8")
    manifest = {
        "generator": "codeproof eval-data synthetic",
        "clinosim": lib["version"],
        "seed": seed,
        "n": n,
        "settings": dict(Counter(note.setting for note in notes)),
        "notes": [{"id": note.id, "setting": note.setting, "source": note.source,
                   "condition": note.condition, "codes": list(note.codes)} for note in notes],
    }
    (target / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n",
                                          encoding="utf-8")
    seconds = time.perf_counter() - started
    logger.info("wrote %d synthetic notes (%d gold codes) in %.1f s", len(notes),
                len(gold_lines), seconds)
    return SyntheticSummary(out=target, notes=len(notes), codes=len(gold_lines),
                            seconds=seconds)
