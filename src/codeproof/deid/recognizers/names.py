"""Personal names: patients, relatives and clinicians.

Evidence combines census name lists, a dictionary of common English and
medical words, and context: titles ("Dr.", "Mrs"), credentials after or before
a name ("Jane Doe, RN", "NP Carol"), relationship words ("daughter Thelma"),
and capitalisation when the note is written in mixed case. A census name that
is not an ordinary word (``strong``) is a name on its own; one that is also an
ordinary word (``ambiguous``: "Bill", "White") needs context.
"""

from __future__ import annotations

from typing import Any, Final, Literal

from presidio_analyzer import EntityRecognizer, RecognizerResult

from codeproof.deid.lexicons import Lexicons
from codeproof.deid.recognizers.base import result
from codeproof.deid.recognizers.tokens import CaseMode, Token, case_mode, tokenize

__all__ = ["CONTEXT", "ClinicalNameRecognizer", "WordClass", "invalidate", "text_profile",
           "word_class"]

WordClass = Literal["never", "strong", "ambiguous", "unknown", "word", "other"]

#: Titles are read from resources/titles.txt; these need a census name after them.
_WEAK_TITLES: Final[frozenset[str]] = frozenset({"doctor", "miss", "prof", "professor"})
#: Credentials that may follow a name ("Nancy Jones, RN").
_AFTER_CREDENTIALS: Final[frozenset[str]] = frozenset(
    {"rn", "np", "md", "rrt", "lpn", "lvn", "sn", "cna", "msw", "lcsw", "licsw", "phd",
     "pharmd", "crna", "aprn", "fnp", "acnp", "pa-c", "rd", "cnm", "dpt", "crt"})
#: Credentials that may precede a name ("NP Carol").
_BEFORE_CREDENTIALS: Final[frozenset[str]] = frozenset(
    {"np", "rn", "md", "pa", "sn", "rrt", "rt"})
_CALL_VERBS: Final[frozenset[str]] = frozenset(
    {"called", "visited", "phoned", "telephoned", "updated", "aware", "notified", "came",
     "stayed", "spoke", "asked", "wants", "states", "stated", "is", "was", "and"})
_CONTACT_LABELS: Final[frozenset[str]] = frozenset(
    {"cell", "cellphone", "phone", "tel", "pager", "beeper", "home#", "work#", "mobile",
     "mrn", "dob", "ssn"})
#: Labels followed by a name ("Patient Name: ...", "Pt name ...").
_NAME_LABELS: Final[frozenset[str]] = frozenset({"name", "nickname", "aka", "a/k/a"})
#: "goes by Bud", "prefers to be called Peg", "known as Sonny".
_NICK_CUES: Final[frozenset[str]] = frozenset({"called", "by", "as"})
#: Surname particles that may follow a title in lower case ("Dr. o rourke", "Dr. de Souza").
_PARTICLES: Final[frozenset[str]] = frozenset(
    {"o", "mc", "mac", "de", "van", "von", "la", "le", "du", "di", "da", "del", "st"})
_AGE_UNITS: Final[frozenset[str]] = frozenset(
    {"yo", "y", "year", "years", "yr", "yrs", "yof", "yom"})
_CUE_WORDS: Final[frozenset[str]] = frozenset(
    {"per", "by", "paged", "page", "called", "notified", "told", "informed", "updated",
     "contacted", "spoke", "w/"})
CONTEXT: Final[tuple[str, ...]] = ("dr", "mr", "mrs", "ms", "rn", "np", "md", "wife",
                                   "husband", "son", "daughter")


def word_class(token: Token, lex: Lexicons) -> WordClass:
    """Classify a token for name detection (pure)."""
    if not token.is_word:
        return "other"
    w = token.lower.replace(".", "") if token.kind == "abbr" else token.lower
    base = w[:-2] if w.endswith("'s") else w
    if lex.never_name(base) or base in lex.titles or base in lex.relatives:
        return "never"
    if base in lex.hospital_words:
        return "never"
    in_names = lex.is_name_word(base)
    common = lex.is_common(base)
    if in_names and not common:
        return "strong"
    if in_names:
        return "ambiguous"
    if not common:
        return "unknown"
    return "word"


#: The profiles of the last few texts: the name and location recognizers (and the
#: engine's propagation) read the same note one after the other. A tuple replaced
#: as a whole, so concurrent readers never see a half-updated cache.
_RECENT: tuple[tuple[str, Lexicons, tuple[tuple[Token, ...], CaseMode,
                                          tuple[WordClass, ...]]], ...] = ()
_RECENT_SIZE: Final[int] = 2


def text_profile(text: str, lex: Lexicons) -> tuple[list[Token], CaseMode, list[WordClass]]:
    """``tokenize(text)``, ``case_mode(text)`` and the ``word_class`` of every token.

    Pure; computed once per text and lexicons and shared by the recognizers that
    run over the same note (each call returns fresh lists).
    """
    global _RECENT
    profile = next((found for seen, seen_lex, found in _RECENT
                    if seen_lex is lex and seen == text), None)
    if profile is None:
        tokens = tuple(tokenize(text))
        memo: dict[tuple[str, str], WordClass] = {}
        classes: list[WordClass] = []
        for token in tokens:  # word_class reads only the kind and the lower-cased form
            key = (token.kind, token.lower)
            cls = memo.get(key)
            if cls is None:
                cls = memo[key] = word_class(token, lex)
            classes.append(cls)
        profile = (tokens, case_mode(text), tuple(classes))
        _RECENT = ((text, lex, profile), *_RECENT[:_RECENT_SIZE - 1])
    return list(profile[0]), profile[1], list(profile[2])


def invalidate(tokens: list[Token], first: int, last: int) -> bool:
    """Reject a candidate name made only of single letters or digits (pure)."""
    words = [t for t in tokens[first:last + 1] if t.is_word]
    return not words or all(len(t.text) == 1 for t in words)


class ClinicalNameRecognizer(EntityRecognizer):
    """Lexicon + context recognizer for personal names (entity ``NAME``)."""

    def __init__(self, lexicons: Lexicons) -> None:
        self.lex = lexicons
        super().__init__(supported_entities=["NAME"], name="deid.names.v1",
                         supported_language="en", context=list(CONTEXT))

    def load(self) -> None:
        """Lexicons are injected; nothing to load."""

    def analyze(self, text: str, entities: list[str],
                nlp_artifacts: Any = None) -> list[RecognizerResult]:
        """Return NAME results for ``text``."""
        if entities and "NAME" not in entities:
            return []
        return [result("NAME", s, e, score, "deid.names.v1", rule)
                for s, e, score, rule in self.find(text)]

    # -- detection ------------------------------------------------------------------
    def find(self, text: str) -> list[tuple[int, int, float, str]]:
        """Name spans as ``(start, end, score, rule)``."""
        tokens, mode, classes = text_profile(text, self.lex)
        flags: dict[int, tuple[float, str]] = {}

        def cap_ok(i: int) -> bool:
            return mode != "mixed" or tokens[i].capitalized

        def is_initial(i: int) -> bool:
            t = tokens[i]
            return t.kind == "word" and len(t.text) == 1 and t.text.isalpha() and (
                mode != "mixed" or t.text.isupper())

        def flag(i: int, score: float, rule: str) -> None:
            if i not in flags or flags[i][0] < score:
                flags[i] = (score, rule)

        n = len(tokens)
        for i, tok in enumerate(tokens):
            w = tok.lower.replace(".", "")
            cls = classes[i]
            # R1: titles
            if w in self.lex.titles or tok.lower in self.lex.titles:
                j = i + 1
                if j < n and tokens[j].text == ".":
                    j += 1
                self._title_chain(tokens, classes, j, weak=w in _WEAK_TITLES,
                                  flag=flag, cap_ok=cap_ok, is_initial=is_initial)
            # R2: credential after a name
            if w in _AFTER_CREDENTIALS and (tok.kind == "abbr" or tok.text.isupper()
                                            or mode != "mixed"):
                self._before_credential(tokens, classes, i, mode, flag, is_initial)
            # R2b: credential before a name
            if w in _BEFORE_CREDENTIALS and i + 1 < n and (w != "rt" or tok.text == "RT") and (
                    (classes[i + 1] in ("strong", "ambiguous") and (
                        tokens[i + 1].lower in self.lex.first_names
                        or (mode == "mixed" and tokens[i + 1].capitalized)))
                    or (mode == "mixed" and classes[i + 1] == "unknown"
                        and self._titlecase(tokens[i + 1]))):
                flag(i + 1, 0.7, "credential_before")
            # R10: "(Exie Peacock)": two capitalised words in parentheses, one a name
            if tok.text == "(" and mode == "mixed" and i + 3 < n \
                    and tokens[i + 3].text == ")" and all(
                        self._titlecase(tokens[k]) and classes[k] not in ("never", "other")
                        for k in (i + 1, i + 2)) and any(
                        classes[k] in ("unknown", "strong") for k in (i + 1, i + 2)):
                flag(i + 1, 0.6, "parenthesized")
                flag(i + 2, 0.6, "parenthesized")
            # R8: "per David", "paged Smith"
            if tok.lower in _CUE_WORDS and i + 1 < n and classes[i + 1] in (
                    "strong", "ambiguous") and cap_ok(i + 1) and (
                    tokens[i + 1].lower in self.lex.first_names or classes[i + 1] == "strong"):
                flag(i + 1, 0.6, "cue")
            elif tok.lower in _CUE_WORDS and i + 1 < n and mode == "mixed" \
                    and classes[i + 1] == "unknown" and self._titlecase(tokens[i + 1]) \
                    and not self._capitalized_word_follows(tokens, classes, i + 1):
                flag(i + 1, 0.55, "cue")  # "Called by Leet", a name in no list
            # R9: "Patient Name: Jane Doe", "goes by Bud", "Pt Jane Doe states"
            if (w in _NAME_LABELS or (w == "name" and i + 1 < n and tokens[i + 1].text == ":")
                    or (tok.lower in _NICK_CUES and i > 0
                        and tokens[i - 1].lower in ("be", "by", "as", "goes", "prefers"))):
                self._after_label(tokens, classes, i, mode, flag, strict=False)
            elif w in ("pt", "patient") and i + 1 < n and mode == "mixed":
                self._after_label(tokens, classes, i, mode, flag, strict=True)
            # R3: relationship words
            if cls == "never" and (tok.lower in self.lex.relatives or w in self.lex.relatives):
                self._relative(tokens, classes, i, mode, flag)
                self._before_relative(tokens, classes, i, cap_ok, flag)
            # R4: a census name that is not a word
            if cls == "strong" and len(tok.text) >= 3 and cap_ok(i):
                flag(i, 0.55, "lexicon")
            # R5: "J. Chang", "D. Phyl": an initial with its period, then a name
            if (tok.kind == "word" and len(tok.text) == 1 and tok.text.isupper()
                    and i + 2 < n and tokens[i + 1].text == "."
                    and tokens[i + 1].start == tok.end and tokens[i + 2].is_word
                    and (classes[i + 2] in ("strong", "unknown") or (
                        classes[i + 2] == "ambiguous" and mode == "mixed"
                        and tokens[i + 2].text[1:].islower()))
                    and tokens[i + 2].capitalized and len(tokens[i + 2].text) > 2):
                flag(i, 0.7, "initial")
                flag(i + 2, 0.7, "initial")
            # R7: "<First name> called / visited"
            if (cls in ("strong", "ambiguous") and tok.lower in self.lex.first_names
                    and cap_ok(i) and i + 1 < n and tokens[i + 1].lower in _CALL_VERBS):
                flag(i, 0.6, "call_verb")
            # R6: "<Name> family"
            if tok.lower == "family" and i > 0 and classes[i - 1] in ("strong", "ambiguous") \
                    and cap_ok(i - 1):
                flag(i - 1, 0.6, "family")
        self._signature(tokens, classes, mode, flag)
        self._before_contact(tokens, classes, mode, flag)
        self._extend(tokens, classes, flags, mode, is_initial)
        return self._spans(text, tokens, flags)

    @staticmethod
    def _capitalized_word_follows(tokens: list[Token], classes: list[WordClass],
                                  i: int) -> bool:
        """True for "Cardic Transplant", "Csurg. Freq": a capitalised term, not a name."""
        j = i + 1
        if j < len(tokens) and tokens[j].text == ".":
            j += 1
        return j < len(tokens) and tokens[j].is_word and tokens[j].capitalized \
            and classes[j] in ("word", "never")

    def _rare_titlecase(self, token: Token, cls: WordClass, mode: CaseMode) -> bool:
        """A dictionary word written like a name in a mixed-case note ("Frost", "Sook").

        Frequent English words and medical words are excluded ("Will", "Pain").
        """
        return mode == "mixed" and cls in ("word", "ambiguous") and self._titlecase(token) \
            and token.lower not in self.lex.frequent_words \
            and token.lower not in self.lex.medical_words

    @staticmethod
    def _titlecase(token: Token) -> bool:
        return len(token.text) >= 3 and token.text[:1].isupper() and token.text[1:].islower()

    def _after_label(self, tokens: list[Token], classes: list[WordClass], i: int,
                     mode: CaseMode, flag: Any, *, strict: bool) -> None:
        """Names right after a label ("Name:", "called") or, strictly, after "pt (is)".

        Strict mode (after "pt"/"patient") takes only tokens that are not ordinary
        words (census names not in the dictionary, or words in no list) and needs
        one of them to be three letters or more; in a mixed-case note each must be
        capitalised.
        """
        n = len(tokens)
        j = i + 1
        while j < n and tokens[j].text in (":", "-", "#") and j - i <= 2:
            j += 1
        if strict and j < n and tokens[j].lower in ("is", "was", "name", "named"):
            j += 1
        chain: list[int] = []
        while j < n and len(chain) < 3 and tokens[j].is_word:
            cls = classes[j]
            tok = tokens[j]
            if mode == "mixed" and not (tok.capitalized and tok.text[1:].islower()):
                break
            if cls in ("never", "other"):
                break
            if strict and not self._titlecase(tok):
                break  # after "pt", all-caps or lower-case words are shorthand
            if strict and not (cls in ("strong", "unknown") or (
                    cls == "ambiguous" and tok.lower in self.lex.first_names
                    and mode == "mixed")):
                break
            if not strict and cls == "word" and mode != "mixed" and chain:
                break
            chain.append(j)
            j += 1
            if j < n and tokens[j].text == "," and not strict and len(chain) == 1:
                j += 1  # "Name: Doe, Jane"
        if not chain or all(len(tokens[k].text) < 3 for k in chain):
            return
        if strict and j < n and tokens[j].is_word and classes[j] in ("unknown", "strong"):
            return  # a longer unknown run is more likely shorthand than a name
        for k in chain:
            flag(k, 0.55 if strict else 0.75, "label")

    def _before_contact(self, tokens: list[Token], classes: list[WordClass], mode: CaseMode,
                        flag: Any) -> None:
        """"Lopie Certusi cell# ...": a name right before a phone label."""
        n = len(tokens)
        for i, tok in enumerate(tokens):
            if tok.lower in _CONTACT_LABELS:
                j = i - 1
            elif tok.kind == "num" and i > 1 and tokens[i - 1].text == "," and i + 1 < n \
                    and tokens[i + 1].lower in _AGE_UNITS:
                j = i - 2  # "ORA FIORENTINO, 98 YO": a name before its age
            else:
                continue
            chain: list[int] = []
            comma = False
            while j >= 0 and len(chain) < 3 and tokens[j].is_word and classes[j] in (
                    "strong", "ambiguous", "unknown") and (
                    mode != "mixed" or (tokens[j].capitalized and tokens[j].text[1:].islower())):
                chain.append(j)
                j -= 1
                if j > 0 and tokens[j].text == "," and len(chain) == 1 and not comma:
                    comma = True  # "Doe, Jane MRN ..."
                    j -= 1
            named = any(tokens[k].lower in self.lex.first_names or classes[k] == "strong"
                        for k in chain)
            unknown = sum(1 for k in chain if classes[k] in ("unknown", "strong")) >= 2
            if named or (mode == "mixed" and len(chain) >= 2) or unknown:
                for k in chain:
                    flag(k, 0.6, "before_contact")

    def _signature(self, tokens: list[Token], classes: list[WordClass], mode: CaseMode,
                   flag: Any) -> None:
        """A last line made only of a first name and up to two more names is a signature."""
        end = len(tokens)
        while end > 0 and tokens[end - 1].kind in ("nl", "punct"):
            end -= 1
        start = end
        while start > 0 and tokens[start - 1].kind != "nl":
            start -= 1
        for k in range(end - 1, start, -1):  # "... 1400U/HR.  SUSAN": after the last period
            if tokens[k].text in (".", "!", "?") and k + 1 < end:
                start = k + 1
                break
        line = tokens[start:end]
        words = [k for k in range(start, end) if tokens[k].is_word]
        if not 1 <= len(words) <= 3 or len(words) != sum(
                1 for t in line if t.kind != "punct"):
            return
        if any(classes[k] == "never" for k in words):
            return
        closed = tokens[end].text == "." if end < len(tokens) else False
        if tokens[words[0]].lower not in self.lex.first_names and not (
                not closed and len(words) <= 2
                and classes[words[0]] in ("unknown", "strong") and len(tokens[words[0]].text) >= 3
                and (mode != "mixed" or self._titlecase(tokens[words[0]]))):
            return  # a first name in no list still signs as one unknown capitalised word
        for k in words:
            flag(k, 0.6, "signature")

    def _before_relative(self, tokens: list[Token], classes: list[WordClass], i: int,
                         cap_ok: Any, flag: Any) -> None:
        """"Hank Przybylo (son)", "Nancy Smith his niece": names right before a relation."""
        j = i - 1
        if j >= 0 and (tokens[j].text == "(" or tokens[j].lower in ("his", "her", "pt's")):
            j -= 1
        else:
            return
        chain: list[int] = []
        while j >= 0 and len(chain) < 3 and tokens[j].is_word and cap_ok(j) and (
                classes[j] in ("strong", "ambiguous", "unknown")
                or (classes[j] == "word" and self._titlecase(tokens[j]) and chain
                    and tokens[j].lower not in self.lex.frequent_words)):
            chain.append(j)
            j -= 1
        if any(tokens[k].lower in self.lex.first_names or classes[k] in ("strong", "unknown")
               for k in chain):
            for k in chain:
                flag(k, 0.65, "before_relative")

    def _title_chain(self, tokens: list[Token], classes: list[WordClass], j: int, *,
                     weak: bool, flag: Any, cap_ok: Any, is_initial: Any) -> None:
        n = len(tokens)
        taken = 0
        while j < n and taken < 3:
            cls = classes[j]
            if cls == "never" and self._clinical_name(tokens[j]) and cap_ok(j):
                cls = "ambiguous"
            if tokens[j].lower in _PARTICLES and j + 1 < n and tokens[j + 1].is_word \
                    and tokens[j + 1].start - tokens[j].end <= 1 \
                    and classes[j + 1] in ("strong", "unknown", "ambiguous"):
                cls = "strong"  # "Dr. o rourke", "Dr. van Dyke": a particle starts the name
            if cls in ("never", "other") and not is_initial(j):
                break
            if taken == 0:
                if weak and cls not in ("strong", "ambiguous"):
                    break
                if cls == "word" and not cap_ok(j):
                    break
            elif cls == "word" and not is_initial(j) and not (
                    tokens[j].capitalized and cap_ok(j) and tokens[j].text[1:].islower()):
                break
            flag(j, 0.85, "title")
            taken += 1
            j += 1
            if j < n and tokens[j].text in (".", "-") and tokens[j].start == tokens[j - 1].end:
                j += 1
            if j < n and tokens[j].lower == "and" and j + 1 < n and classes[j + 1] in (
                    "strong", "ambiguous", "unknown") and cap_ok(j + 1):
                j += 1

    def _clinical_name(self, token: Token) -> bool:
        """A clinical word that is also a census name ("Foley", "Art", "Ed")."""
        w = token.lower
        return (w in self.lex.clinical_terms and w not in self.lex.stopwords
                and w not in self.lex.credentials and w not in self.lex.titles
                and w not in self.lex.relatives and self.lex.is_name_word(w))

    def _before_credential(self, tokens: list[Token], classes: list[WordClass], i: int,
                           mode: CaseMode, flag: Any, is_initial: Any) -> None:
        j = i - 1
        if j >= 0 and tokens[j].text == ",":
            j -= 1
        chain: list[int] = []
        while j >= 0 and len(chain) < 4:
            tok = tokens[j]
            if tok.text in (".", "-") and j > 0 and tokens[j - 1].end == tok.start:
                j -= 1
                continue
            if classes[j] in ("strong", "ambiguous", "unknown") or is_initial(j) or (
                    classes[j] == "never" and self._clinical_name(tok) and tok.capitalized
                    and tok.text[1:].islower()) or self._rare_titlecase(tok, classes[j], mode):
                chain.append(j)
                j -= 1
                continue
            break
        if not chain:
            return
        named = sum(1 for k in chain if classes[k] in ("strong", "ambiguous"))
        comma_form = tokens[i - 1].text == "," and classes[chain[0]] == "unknown" \
            and len(tokens[chain[0]].text) >= 3  # "Mendy, RN": a name in no list
        if named >= 1 or len(chain) >= 2 or comma_form:
            for k in chain:
                flag(k, 0.8, "credential_after")

    def _relative(self, tokens: list[Token], classes: list[WordClass], i: int,
                  mode: CaseMode, flag: Any) -> None:
        n = len(tokens)
        j = i + 1
        skipped = 0
        while j < n and skipped < 4 and (tokens[j].kind == "punct" and tokens[j].text in
                                         ",-:(" or tokens[j].lower in ("named", "'s")):
            j += 1
            skipped += 1
        while j < n:
            tok = tokens[j]
            cls = classes[j]
            ok = (cls == "strong" or (cls == "ambiguous" and tok.lower in self.lex.first_names)
                  or (cls == "unknown" and len(tok.text) > 2
                      and (mode != "mixed" or tok.capitalized))
                  or self._rare_titlecase(tok, cls, mode)
                  or (cls == "never" and self._clinical_name(tok)
                      and mode == "mixed" and tok.capitalized))
            if not ok:
                return
            flag(j, 0.75, "relative")
            # lists: "Sons David, Morris and Roger"
            k = j + 1
            if k < n and tokens[k].lower in (",", "and", "&"):
                k += 1
                if k < n and tokens[k].lower == "and":
                    k += 1
                j = k
                continue
            return

    def _extend(self, tokens: list[Token], classes: list[WordClass],
                flags: dict[int, tuple[float, str]], mode: CaseMode, is_initial: Any) -> None:
        changed = True
        while changed:
            changed = False
            for i in sorted(flags):
                for step in (-1, 1):
                    j = i + step
                    # skip an initial's period or a hyphen glued to both sides
                    if 0 <= j < len(tokens) and tokens[j].text in (".", "-"):
                        left, right = (j - 1, j + 1)
                        if 0 <= left and right < len(tokens) and (
                                tokens[left].end == tokens[j].start
                                and (tokens[j].text == "." or tokens[right].start
                                     == tokens[j].end)):
                            j += step
                    if not 0 <= j < len(tokens) or j in flags:
                        continue
                    a, b = (j, i) if j < i else (i, j)
                    if "\n" in _between(tokens, a, b):
                        continue
                    cls = classes[j]
                    tok = tokens[j]
                    ok = (cls == "strong" or is_initial(j)
                          or (cls == "ambiguous" and (mode != "mixed" or tok.capitalized))
                          or (self._rare_titlecase(tok, cls, mode)
                              and tokens[i].capitalized)
                          or (cls == "unknown" and len(tok.text) > 2
                              and (mode != "mixed" or tok.capitalized)))
                    if ok:
                        flags[j] = (flags[i][0] * 0.9, "extend")
                        changed = True
                # "Suzette and Hank": a first name joined by "and" to a found name
                k = i + 1
                if k + 1 < len(tokens) and tokens[k].lower in ("and", "&") \
                        and k + 1 not in flags and classes[k + 1] in ("strong", "ambiguous") \
                        and tokens[k + 1].lower in self.lex.first_names \
                        and (mode != "mixed" or tokens[k + 1].capitalized):
                    flags[k + 1] = (flags[i][0] * 0.9, "and")
                    changed = True

    def _spans(self, text: str, tokens: list[Token],
               flags: dict[int, tuple[float, str]]) -> list[tuple[int, int, float, str]]:
        spans: list[tuple[int, int, float, str]] = []
        run: list[int] = []

        def close() -> None:
            titled = len(run) == 1 and flags[run[0]][1] == "title" and run[0] + 1 < len(
                tokens) and tokens[run[0] + 1].text == "."
            if run and (titled or not invalidate(tokens, run[0], run[-1])):
                score = max(flags[k][0] for k in run)
                rule = flags[max(run, key=lambda k: flags[k][0])][1]
                spans.append((tokens[run[0]].start, tokens[run[-1]].end, score, rule))
            run.clear()

        for i in sorted(flags):
            if run:
                gap = text[tokens[run[-1]].end:tokens[i].start]
                between = tokens[run[-1] + 1:i]
                if i - run[-1] <= 3 and "\n" not in gap and all(
                        t.text in (".", "-") for t in between):
                    run.append(i)
                    continue
                close()
            run.append(i)
        close()
        return spans


def _between(tokens: list[Token], a: int, b: int) -> str:
    return "".join(t.text for t in tokens[a + 1:b] if t.kind == "nl") + (
        "\n" if any(t.kind == "nl" for t in tokens[a + 1:b]) else "")
