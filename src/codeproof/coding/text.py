"""Text utilities of the coder: tokens with offsets, stems, sentences, context cues.

Everything here is pure and deterministic. Offsets always index the text they
were computed on (the de-identified model view, which has the same length as
the original note, so they index the original note too).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = [
    "STOPWORDS",
    "Context",
    "Token",
    "context_of",
    "sentence_spans",
    "stem",
    "tokenize",
]

_WORD = re.compile(r"[A-Za-z]+(?:'s)?|\d+(?:\.\d+)?")
_SENT_END = re.compile(r"(?<=[.!?;])\s+(?=[A-Z(\d\"'])|\n+")

#: Words that carry no meaning for matching code texts.
STOPWORDS = frozenset(
    "a an the of and or in on at to for by with from as is are was were be been "
    "this that these those it its his her their he she they we our patient "
    "unspecified other specified nos not elsewhere classified site part "
    "due than which who".split()
)

_SPELLING = (
    ("oesophag", "esophag"), ("oedem", "edem"), ("haem", "hem"), ("anaem", "anem"),
    ("aemia", "emia"), ("paed", "ped"), ("foet", "fet"), ("tumour", "tumor"),
    ("oestr", "estr"), ("diarrhoea", "diarrhea"), ("leukaem", "leukem"),
    ("ischaem", "ischem"), ("orthopaed", "orthoped"), ("caecum", "cecum"),
)


def stem(word: str) -> str:
    """Lower-case, US spelling, crude plural/possessive stripping."""
    w = word.lower()
    if w.endswith("'s"):
        w = w[:-2]
    for old, new in _SPELLING:
        if old in w:
            w = w.replace(old, new)
    if len(w) > 4 and w.endswith("ies"):
        return w[:-3] + "y"
    if len(w) > 4 and w.endswith(("ches", "shes", "xes", "sses")):
        return w[:-2]
    if len(w) > 3 and w.endswith("s") and not w.endswith(("ss", "us", "is")):
        return w[:-1]
    return w


@dataclass(frozen=True, slots=True)
class Token:
    """A word of a text: its stem and its offsets."""

    stem: str
    start: int
    end: int


def tokenize(text: str, start: int = 0, end: int | None = None) -> list[Token]:
    """Return the word tokens of ``text[start:end]`` with absolute offsets."""
    stop = len(text) if end is None else end
    return [Token(stem(m.group()), m.start(), m.end())
            for m in _WORD.finditer(text, start, stop)]


def sentence_spans(text: str) -> list[tuple[int, int]]:
    """Split ``text`` into sentence spans (line breaks and sentence punctuation)."""
    spans: list[tuple[int, int]] = []
    pos = 0
    for m in _SENT_END.finditer(text):
        if m.start() > pos:
            spans.append((pos, m.start()))
        pos = m.end()
    if pos < len(text):
        spans.append((pos, len(text)))
    return [(s, e) for s, e in spans if text[s:e].strip()]


# ConText-style cues (a fallback when the NLP layer gave no mention for a span).
_NEG_PRE = re.compile(
    r"\b(no|not|without|denie[sd]|deny|negative for|ruled? out|absence of|absent|"
    r"free of|never had|nor|neither|excluded|rule out)\b|\bnon-\s*$", re.I)
_NEG_POST = re.compile(r"^\W*(was|were|is|are)?\s*(ruled out|excluded|absent|negative|"
                       r"not (seen|found|observed|detected|present))", re.I)
_UNCERTAIN = re.compile(r"\b(possible|possibly|probable|probably|suspect(ed)?|suspicion of|"
                        r"likely|presumed|presumptive|compatible with|suggestive of|"
                        r"suggesting|consistent with|question of|versus|vs\.?|"
                        r"differential|may be|might be|cannot exclude|r/o)\b", re.I)
_HISTORICAL = re.compile(r"\b(history of|h/o|past medical history|previous(ly)?|prior|"
                         r"status post|s/p|years? ago|in childhood|resolved|treated for|"
                         r"personal history)\b", re.I)
_FAMILY = re.compile(r"\b(family history|mother|father|sister|brother|sibling|aunt|uncle|"
                     r"grandmother|grandfather|cousin|daughter|son|parents?)\b('s)?", re.I)
_HYPOTHETICAL = re.compile(r"\b(if|should|in case of|return if|risk of|to prevent|"
                           r"prophylaxis|return to (the )?(er|ed|emergency)\w* for|"
                           r"call (for|if)|watch for|warning signs?)\b", re.I)
_TERMINATE = re.compile(r"\b(but|however|although|though|except|which|who|whereas|"
                        r"presents?|presented|showed|revealed)\b|[,;:]", re.I)


@dataclass(frozen=True, slots=True)
class Context:
    """Assertion flags for a span (ConText-like, scoped to the sentence)."""

    negated: bool = False
    uncertain: bool = False
    historical: bool = False
    family: bool = False
    hypothetical: bool = False


def _scope_before(text: str, sent_start: int, start: int) -> str:
    window = text[max(sent_start, start - 80):start]
    cut = 0
    for m in _TERMINATE.finditer(window):
        cut = m.end()
    return window[cut:]


def context_of(text: str, sent_start: int, sent_end: int, start: int, end: int) -> Context:
    """Assertion flags of ``text[start:end]`` from cues inside its sentence."""
    before = _scope_before(text, sent_start, start)
    whole_before = text[max(sent_start, start - 120):start]
    after = text[end:min(sent_end, end + 40)]
    return Context(
        negated=bool(_NEG_PRE.search(before) or _NEG_POST.search(after)),
        uncertain=bool(_UNCERTAIN.search(before)),
        historical=bool(_HISTORICAL.search(whole_before)),
        family=bool(_FAMILY.search(whole_before)),
        hypothetical=bool(_HYPOTHETICAL.search(before)),
    )
