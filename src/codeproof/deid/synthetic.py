"""A synthetic held-out proxy for de-identification: notes with injected PHI.

The PhysioNet dev half is what the recognizers were developed against; this
generator writes nursing-note-style texts whose PHI comes from sources the
rules never saw, so recall can be checked away from dev names and places.

* Names are drawn from a **held-out half** of the census lists: a name is held
  out when a keyed digest of it is odd (:func:`split_names`). With
  ``holdout=True`` the generator's names (and its cities) are *removed* from the
  recognizers' lexicons (:func:`holdout_lexicons`), so a name is only found
  through its context, format or shape, never because a list knows it.
* Town names are invented from held-out surnames plus a place suffix
  ("Pellmanton") or drawn from the held-out half of the US city list.
* Every Safe Harbor type appears in many formats (``FORMATS`` in the
  templates below): clinicians (``Dr. X``, ``X, RN``, initials, signatures),
  patients, relatives and nicknames; dates (``3/12``, ``March 3rd``, ``the 12th``,
  ISO), event years, ages over 89, phone/fax/pager, e-mail, URLs, IPs, SSNs,
  MRN/account/device/licence numbers, street addresses, towns, hospitals and
  named units. States are written too and are *not* gold (they are kept, see
  docs/deid.md).
* A note is written in mixed case, all capitals or all lower case.

Everything is seeded and deterministic (``random.Random(seed)``); nothing is
read from evaluation data. :func:`score_proxy` scores predictions the way
``../shared/eval/score_deid.py`` does (a phrase is caught when predicted spans
cover at least half of its non-space characters).
"""

from __future__ import annotations

import dataclasses
import hashlib
import random
import re
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Final

from codeproof.deid.lexicons import Lexicons
from codeproof.deid.spans import PhiSpan

__all__ = [
    "GoldPhi",
    "NamePools",
    "ProxyScore",
    "SyntheticNote",
    "generate_notes",
    "holdout_lexicons",
    "score_proxy",
    "split_names",
]

_SPLIT_KEY: Final[bytes] = b"codeproof-deid-proxy-v1"


@dataclass(frozen=True, slots=True)
class GoldPhi:
    """One injected identifier: ``text[start:end]`` is PHI of ``type``."""

    start: int
    end: int
    type: str
    form: str  # the template format that produced it ("dr_last", "date_md", ...)


@dataclass(frozen=True, slots=True)
class SyntheticNote:
    """A generated note and its gold PHI."""

    id: str
    text: str
    phi: tuple[GoldPhi, ...]
    case: str  # mixed | upper | lower


@dataclass(frozen=True, slots=True)
class NamePools:
    """Held-out names and places the generator draws from (sorted, deterministic)."""

    first_names: tuple[str, ...]
    surnames: tuple[str, ...]
    cities: tuple[str, ...]


def _held_out(word: str) -> bool:
    digest = hashlib.blake2b(word.encode("utf-8"), key=_SPLIT_KEY, digest_size=2).digest()
    return digest[-1] % 2 == 1


def split_names(lex: Lexicons, *, max_surname_rank: int = 20_000) -> NamePools:
    """The held-out half of census first names, surnames and US cities.

    Only names of three letters or more that are not clinical terms are kept,
    and surnames are limited to the ``max_surname_rank`` most frequent.
    """

    def usable(word: str) -> bool:
        return len(word) >= 3 and word.isalpha() and not lex.never_name(word) \
            and word not in lex.titles and word not in lex.relatives \
            and word not in lex.hospital_words

    first = tuple(sorted(w for w in lex.first_names if _held_out(w) and usable(w)))
    last = tuple(sorted((w for w, rank in lex.surname_rank.items()
                         if rank < max_surname_rank and _held_out(w) and usable(w)
                         and w not in lex.first_names),
                        key=lambda w: lex.surname_rank[w]))
    cities = tuple(sorted(c for c in lex.cities if _held_out(c) and c.replace(" ", "").isalpha()
                          and len(c) >= 4 and not lex.is_common(c)))
    return NamePools(first_names=first, surnames=last, cities=cities)


def holdout_lexicons(lex: Lexicons, pools: NamePools) -> Lexicons:
    """``lex`` without the held-out names and cities: recall must come from context."""
    first = frozenset(pools.first_names)
    last = frozenset(pools.surnames)
    cities = frozenset(pools.cities)
    return dataclasses.replace(
        lex,
        first_names=lex.first_names - first,
        surname_rank={w: r for w, r in lex.surname_rank.items() if w not in last},
        cities=lex.cities - cities,
    )


# -- templates -------------------------------------------------------------------------
# A template is text with {slot} markers; PHI slots become gold spans. Slots:
#   first, last, nick, initial (NAME); town, city (LOCATION); hosp (HOSPITAL);
#   street, zip (ADDRESS); date_* (DATE); year (DATE_YEAR); age (AGE); phone,
#   pager, ext (PHONE); email, url, ip, ssn; mrn, acct, device, licence (ID);
#   rel, state (not PHI).
_CLINICIAN: Final[tuple[str, ...]] = (
    "Dr. {last} aware of BP 88/50, NS bolus 500cc given.",
    "Seen by Dr {first} {last} from cardiology; plan to continue heparin gtt.",
    "Paged Dr. {last} re: K 3.1, repleted with 40 mEq KCl.",
    "Per Dr. {last}, hold lasix tonight.",
    "Discussed with {first} {last}, NP; will recheck lytes at 1600.",
    "Case d/w {initial}. {last} MD, agrees with plan.",
    "{first} {last}, RN covering for break.",
    "Resp: RT {first} suctioned for thick tan secretions.",
    "Report given to {first}, RN on 6 West.",
    "Dr. {last} and Dr. {last} in to see pt this am.",
    "Case management ({first} {last}) following for placement.",
    "Called by {last} from pharmacy re: vanco trough.",
)
_PATIENT: Final[tuple[str, ...]] = (
    "Pt is {first} {last}, {age} yo woman admitted with CHF exacerbation.",
    "Mr. {last} is a {age} year old man s/p fall at home.",
    "Mrs. {last} resting comfortably, denies pain.",
    "{last}, {first} MRN {mrn} arrived to unit via stretcher.",
    "Pt prefers to be called {nick}.",
    "{first} oriented x3, pleasant and cooperative.",
    "Patient Name: {first} {last}   DOB: {date_mdy}",
    "Pt {first} {last} states she is ready to go home.",
)
_RELATIVE: Final[tuple[str, ...]] = (
    "{rel} {first} called for update, questions answered.",
    "Spoke with pt's {rel}, {first} {last}, who is HCP.",
    "{first} {last} ({rel}) at bedside most of the shift.",
    "Family: {rel} {first} {last} can be reached at {phone}.",
    "Pt's {rel} {first} visited this evening and is aware of plan.",
    "{rel} {first} and {rel} {first} in to visit.",
    "HCP is {rel} {first} {last}, cell {phone}.",
)
_DATES: Final[tuple[str, ...]] = (
    "Last BM {date_md}.",
    "Admitted {date_mdy} with SOB.",
    "Foley placed {date_mdy_short}, due to be changed.",
    "Echo done on {date_month_day} showed EF 35%.",
    "Surgery scheduled for the {date_ordinal}.",
    "Plan for PICC on {date_day_month}.",
    "Labs drawn {date_iso}.",
    "F/u appt {date_month_day_year} with PCP.",
    "s/p CABG in {year}, MI {year}.",
    "PMH: HTN, DM2, CVA '{year2}.",
    "Pt was last hospitalized {date_month_year}.",
    "Line placed {date_dash}.",
)
_CONTACT: Final[tuple[str, ...]] = (
    "Home phone {phone}, work {phone}.",
    "Pls call {rel} at {phone} with any changes.",
    "Fax records to {phone}.",
    "Dr. {last} pager {pager}.",
    "Callback ext {ext}.",
    "Family email {email}.",
    "Pt education material at {url}.",
    "Telemetry box IP {ip} reconnected.",
    "SSN {ssn} verified by registration.",
    "Acct # {acct}; MRN: {mrn}.",
    "Pacemaker serial no. {device} checked by EP.",
    "Driver's license number {licence} on file.",
)
_PLACE: Final[tuple[str, ...]] = (
    "Pt lives in {town} with her {rel}.",
    "Transferred from {hosp} for cath.",
    "Pt will be transferred to {hosp} tomorrow.",
    "Lives at {street}, {town}, {state} {zip}.",
    "Originally from {city}, moved here last year.",
    "Rehab screen sent to {hosp}.",
    "Pt was visiting from {city}, {state} when she fell.",
    "Home address: {street}.",
    "Seen at {hosp} ED last week.",
)
_FILLER: Final[tuple[str, ...]] = (
    "Neuro: A+Ox3, MAE, follows commands.",
    "CV: NSR 80s, no ectopy, BP 120/70.",
    "Resp: LS clear bilaterally, RR 18, sats 97% on 2L NC.",
    "GI: abd soft, NT/ND, +BS, tolerating PO diet.",
    "GU: Foley draining clear yellow urine 50-100cc/hr.",
    "Skin: intact, heels offloaded.",
    "Pain: denies, rates 0/10.",
    "ID: afebrile, WBC 9.2, on vanco and zosyn.",
    "Lasix 40 mg IV given with good effect.",
    "Plan: continue to monitor, wean O2 as tolerated.",
    "Social: married, retired teacher, no ETOH.",
    "Insulin sliding scale per protocol, FS 180.",
    "Activity: OOB to chair with assist x1.",
    "Access: R IJ TLC, L PIV 20g.",
    "Vent: AC 12/5/40, PS 10/5 trial this afternoon.",
)
_RELATIONS: Final[tuple[str, ...]] = (
    "daughter", "son", "wife", "husband", "sister", "brother", "niece", "nephew",
    "granddaughter", "grandson", "friend", "mother", "father")
_STATES: Final[tuple[str, ...]] = ("MA", "NH", "Florida", "Maine", "RI", "CT", "New York")
_NICK_SUFFIX: Final[tuple[str, ...]] = ("ie", "y", "sy")
_TOWN_SUFFIX: Final[tuple[str, ...]] = ("ton", "ville", "field", "borough", "ford", " Falls",
                                        " Hills")
_HOSP_FORMS: Final[tuple[str, ...]] = (
    "{L} Memorial Hospital", "{L} General Hospital", "St. {F}'s", "{L} Medical Center",
    "{T} Rehab", "{L} Nursing Home", "{L} 4", "{T} Regional", "{L} Hospital",
    "University of {T}")
_STREETS: Final[tuple[str, ...]] = ("Street", "St", "Road", "Rd", "Avenue", "Ave", "Lane",
                                    "Drive", "Court")
_MONTHS: Final[tuple[str, ...]] = (
    "January", "February", "March", "April", "May", "June", "July", "August", "September",
    "October", "November", "December")
_MONTH_ABBR: Final[tuple[str, ...]] = ("Jan", "Feb", "Mar", "Apr", "Jun", "Jul", "Aug", "Sept",
                                       "Oct", "Nov", "Dec")

_SLOT: Final[re.Pattern[str]] = re.compile(r"\{(\w+)\}")
_SLOT_TYPE: Final[dict[str, str]] = {
    "first": "NAME", "last": "NAME", "nick": "NAME", "initial": "NAME",
    "town": "LOCATION", "city": "LOCATION", "hosp": "HOSPITAL",
    "street": "ADDRESS", "zip": "ADDRESS", "year": "DATE_YEAR", "year2": "DATE_YEAR",
    "age": "AGE", "phone": "PHONE", "pager": "PHONE", "ext": "PHONE", "email": "EMAIL",
    "url": "URL", "ip": "IP_ADDRESS", "ssn": "SSN", "mrn": "ID", "acct": "ID",
    "device": "ID", "licence": "ID"}


def _ordinal(day: int) -> str:
    suffix = "th" if 11 <= day % 100 <= 13 else {1: "st", 2: "nd", 3: "rd"}.get(day % 10, "th")
    return f"{day}{suffix}"


#: Generic head words left out of a hospital's gold phrase, as PhysioNet annotates
#: "CALVERT HOSPITAL" as "CALVERT" (the name identifies; "Hospital" does not).
_GENERIC_HEADS: Final[tuple[str, ...]] = (" Hospital", " Medical Center", " Nursing Home")


def _gold_length(slot: str, value: str) -> int:
    if slot == "hosp":
        for head in _GENERIC_HEADS:
            if value.endswith(head):
                return len(value) - len(head)
    return len(value)


class _Writer:
    """Fills one template; draws every value from ``rng`` and the held-out pools."""

    def __init__(self, rng: random.Random, pools: NamePools) -> None:
        self.rng = rng
        self.pools = pools

    def name(self, pool: Sequence[str]) -> str:
        return self.rng.choice(pool).capitalize()

    def first(self) -> str:
        return self.name(self.pools.first_names)

    def last(self) -> str:
        word = self.name(self.pools.surnames)
        if word.startswith("Mc") and len(word) > 3:
            word = "Mc" + word[2:].capitalize()
        return word

    def town(self) -> str:
        return self.last() + self.rng.choice(_TOWN_SUFFIX)

    def city(self) -> str:
        if self.pools.cities and self.rng.random() < 0.6:
            return " ".join(w.capitalize() for w in self.rng.choice(self.pools.cities).split())
        return self.town()

    def digits(self, k: int) -> str:
        return "".join(str(self.rng.randrange(10)) for _ in range(k))

    def value(self, slot: str) -> tuple[str, str]:
        """``(text, form)`` for a slot."""
        r = self.rng
        month, day = r.randrange(1, 13), r.randrange(1, 29)
        year = r.randrange(1950, 2030)
        if slot == "first":
            return self.first(), "first"
        if slot == "last":
            return self.last(), "last"
        if slot == "nick":
            base = self.first()
            return (base[:3] + r.choice(_NICK_SUFFIX)) if len(base) > 4 else base, "nick"
        if slot == "initial":
            return r.choice("ABCDEFGHJKLMNPRSTW"), "initial"
        if slot == "town":
            return self.town(), "town"
        if slot == "city":
            return self.city(), "city"
        if slot == "hosp":
            form = r.choice(_HOSP_FORMS)
            return form.format(L=self.last(), F=self.first(), T=self.town()), form
        if slot == "street":
            return f"{r.randrange(1, 999)} {self.last()} {r.choice(_STREETS)}", "street"
        if slot == "zip":
            return f"0{self.digits(4)}", "zip"
        if slot == "state":
            return r.choice(_STATES), "state"
        if slot == "rel":
            return r.choice(_RELATIONS), "rel"
        if slot == "age":
            return str(r.randrange(90, 106)), "age"
        if slot == "year":
            return str(r.randrange(1960, 2024)), "year"
        if slot == "year2":
            return f"{r.randrange(60, 100)}", "year2"
        if slot == "phone":
            area, mid, end = self.digits(3), self.digits(3), self.digits(4)
            area = str(r.randrange(2, 10)) + area[1:]
            form = r.choice(("({a}) {m}-{e}", "{a}-{m}-{e}", "{a}.{m}.{e}", "{m}-{e}"))
            return form.format(a=area, m=str(r.randrange(2, 10)) + mid[1:], e=end), form
        if slot == "pager":
            return self.digits(5), "pager"
        if slot == "ext":
            return self.digits(4), "ext"
        if slot == "email":
            return f"{self.first().lower()}.{self.last().lower()}@{self.last().lower()}.com", \
                "email"
        if slot == "url":
            return r.choice((f"www.{self.last().lower()}health.org",
                             f"https://portal.{self.last().lower()}.com/pt/{self.digits(5)}")), \
                "url"
        if slot == "ip":
            return ".".join(str(r.randrange(1, 255)) for _ in range(4)), "ip"
        if slot == "ssn":
            return f"{r.randrange(100, 666)}-{r.randrange(10, 99)}-{r.randrange(1000, 9999)}", \
                "ssn"
        if slot == "mrn":
            return r.choice((self.digits(8), "A" + self.digits(7), self.digits(7))), "mrn"
        if slot == "acct":
            return self.digits(9), "acct"
        if slot == "device":
            return f"{r.choice(('PJN', 'SN', 'XR'))}{self.digits(6)}", "device"
        if slot == "licence":
            return r.choice("SDMK") + self.digits(8), "licence"
        if slot == "date_md":
            return f"{month}/{day}", slot
        if slot == "date_mdy":
            return f"{month:02d}/{day:02d}/{year}", slot
        if slot == "date_mdy_short":
            return f"{month}/{day}/{year % 100:02d}", slot
        if slot == "date_month_day":
            return r.choice((f"{_MONTHS[month - 1]} {_ordinal(day)}",
                             f"{_MONTHS[month - 1]} {day}",
                             f"{r.choice(_MONTH_ABBR)} {day}")), slot
        if slot == "date_ordinal":
            return _ordinal(day), slot
        if slot == "date_day_month":
            return f"{day} {r.choice(_MONTH_ABBR)}", slot
        if slot == "date_iso":
            return f"{year}-{month:02d}-{day:02d}", slot
        if slot == "date_month_day_year":
            return f"{_MONTHS[month - 1]} {day}, {year}", slot
        if slot == "date_month_year":
            return r.choice((f"{_MONTHS[month - 1]} {year}", f"{month}/{year % 100:02d}")), slot
        if slot == "date_dash":
            return f"{month}-{day}-{year % 100:02d}", slot
        raise KeyError(slot)

    def fill(self, template: str) -> tuple[str, list[tuple[int, int, str, str]]]:
        out: list[str] = []
        gold: list[tuple[int, int, str, str]] = []
        pos = 0
        length = 0
        for match in _SLOT.finditer(template):
            literal = template[pos:match.start()]
            out.append(literal)
            length += len(literal)
            slot = match.group(1)
            value, form = self.value(slot)
            phi_type = _SLOT_TYPE.get(slot) or ("DATE" if slot.startswith("date_") else "")
            if phi_type:
                gold.append((length, length + _gold_length(slot, value), phi_type, form))
            out.append(value)
            length += len(value)
            pos = match.end()
        out.append(template[pos:])
        return "".join(out), gold


def _signature(writer: _Writer) -> tuple[str, list[tuple[int, int, str, str]]]:
    first = writer.first()
    if writer.rng.random() < 0.5:
        return first, [(0, len(first), "NAME", "signature")]
    initial = writer.rng.choice("ABCDEFGHJKLMNPRSTW")
    text = f"{first} {initial}., RN"
    return text, [(0, len(first), "NAME", "signature"),
                  (len(first) + 1, len(first) + 2, "NAME", "signature_initial")]


def generate_notes(pools: NamePools, *, n: int, seed: int = 0) -> tuple[SyntheticNote, ...]:
    """``n`` notes with injected PHI, deterministic for ``(pools, n, seed)``."""
    rng = random.Random(seed)
    writer = _Writer(rng, pools)
    groups = (_CLINICIAN, _PATIENT, _RELATIVE, _DATES, _CONTACT, _PLACE)
    notes: list[SyntheticNote] = []
    for index in range(n):
        parts: list[str] = []
        gold: list[GoldPhi] = []
        length = 0
        sentences = [rng.choice(group) for group in groups for _ in range(rng.randrange(1, 3))]
        sentences += [rng.choice(_FILLER) for _ in range(rng.randrange(2, 6))]
        rng.shuffle(sentences)
        for template in sentences:
            text, spans = writer.fill(template)
            gold.extend(GoldPhi(length + s, length + e, t, f) for s, e, t, f in spans)
            sep = "\n" if rng.random() < 0.4 else "  "
            parts.append(text + sep)
            length += len(text) + len(sep)
        if rng.random() < 0.5:
            text, spans = _signature(writer)
            parts.append("\n" + text + "\n")
            gold.extend(GoldPhi(length + 1 + s, length + 1 + e, t, f) for s, e, t, f in spans)
        body = "".join(parts)
        roll = rng.random()
        case = "upper" if roll < 0.3 else "lower" if roll < 0.4 else "mixed"
        if case == "upper":
            body = body.upper()
        elif case == "lower":
            body = body.lower()
        notes.append(SyntheticNote(id=f"proxy-{seed}-{index:04d}", text=body,
                                   phi=tuple(gold), case=case))
    return tuple(notes)


@dataclass(frozen=True, slots=True)
class ProxyScore:
    """Recall of injected PHI (overall, per type, per format) and character precision."""

    caught: int
    total: int
    by_type: dict[str, tuple[int, int]]
    by_form: dict[str, tuple[int, int]]
    char_precision: float
    missed: tuple[tuple[str, str, str], ...]  # (note id, type, form): no PHI text kept

    @property
    def recall(self) -> float:
        """Caught / total phrases."""
        return self.caught / self.total if self.total else 1.0


def score_proxy(notes: Sequence[SyntheticNote],
                predictions: Iterable[Sequence[PhiSpan]],
                *, types: Callable[[str], bool] = lambda t: True) -> ProxyScore:
    """Score predicted spans against the injected PHI (score_deid.py's rule)."""
    caught: Counter[str] = Counter()
    total: Counter[str] = Counter()
    form_caught: Counter[str] = Counter()
    form_total: Counter[str] = Counter()
    pred_chars = pred_phi = 0
    missed: list[tuple[str, str, str]] = []
    for note, spans in zip(notes, predictions, strict=True):
        covered: set[int] = set()
        for span in spans:
            covered.update(range(span.start, span.end))
        gold_chars: set[int] = set()
        for phi in note.phi:
            gold_chars.update(range(phi.start, phi.end))
            if not types(phi.type):
                continue
            chars = [i for i in range(phi.start, phi.end) if not note.text[i].isspace()]
            total[phi.type] += 1
            form_total[phi.form] += 1
            if chars and 2 * sum(i in covered for i in chars) >= len(chars):
                caught[phi.type] += 1
                form_caught[phi.form] += 1
            else:
                missed.append((note.id, phi.type, phi.form))
        nonspace = {i for i in covered if i < len(note.text) and not note.text[i].isspace()}
        pred_chars += len(nonspace)
        pred_phi += len(nonspace & gold_chars)
    return ProxyScore(
        caught=sum(caught.values()), total=sum(total.values()),
        by_type={t: (caught[t], total[t]) for t in sorted(total)},
        by_form={f: (form_caught[f], form_total[f]) for f in sorted(form_total)},
        char_precision=pred_phi / pred_chars if pred_chars else 1.0,
        missed=tuple(missed))
