"""Candidate generation and ranking features for one note.

Two retrievers propose codes for a note: the :class:`~codeproof.coding.lexicon.TitleIndex`
(official titles and inclusion terms, every sentence) and the learned
:class:`~codeproof.coding.lexicon.Lexicon` (phrases seen with the code in
coded training notes). Each proposal is a :class:`Hit` with exact offsets and
ConText-style assertion flags; hits are grouped per code into a
:class:`Candidate` with the feature vector the ranker scores.
"""

from __future__ import annotations

import bisect
import math
import re
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache

from codeproof.coding.dense import StaticEmbedder
from codeproof.coding.lexicon import Lexicon, TitleIndex, term_stems
from codeproof.coding.text import STOPWORDS, Context, Token, context_of, sentence_spans, tokenize

__all__ = [
    "FEATURES",
    "Candidate",
    "CodeInfoLite",
    "DocAnalysis",
    "Hit",
    "analyze",
    "generate",
]

#: Feature names, in the order of :attr:`Candidate.features` (the model records them).
FEATURES: tuple[str, ...] = (
    "t_stems", "t_compact", "t_hits", "t_title", "t_best_in_cat",
    "l_p", "l_co", "l_df", "l_n", "l_aligned", "l_phrases", "l_sum_p",
    "neg", "unc", "hist", "fam", "hypo", "affirmed_hits",
    "first_pos", "n_sentences",
    "prior_code", "prior_cat", "code_len", "billable", "unspec", "chapter",
    "n_sources", "cat_cands", "doc_len", "sec_weight", "p_stems", "p_cover",
    "last_pos", "title_idf_cover", "l_best_in_cat", "span_codes", "span_share",
    "dense_span", "dense_sent",
)


@dataclass(frozen=True, slots=True)
class CodeInfoLite:
    """What ranking needs to know about a code."""

    title: str
    billable: bool


@dataclass(frozen=True, slots=True)
class Hit:
    """One retriever proposal with its span and assertion flags."""

    code: str
    source: str  # "title", "inclusion", "partial" or "lexicon"
    start: int
    end: int
    sentence: int
    strength: float  # title: matched stems; lexicon: P(code | phrase)
    compact: float = 1.0  # covered tokens / matched stems (1 = contiguous)
    cover: float = 1.0  # matched stems / term stems (partial title matches < 1)
    co: int = 0
    df: int = 0
    n: int = 0
    aligned: bool = False
    context: Context = field(default_factory=Context)
    note_id: str = ""


@dataclass(frozen=True, slots=True)
class DocAnalysis:
    """Sentences, tokens and phrase occurrences of one text."""

    text: str
    sentences: tuple[tuple[int, int], ...]
    tokens: tuple[tuple[Token, ...], ...]  # per sentence
    phrases: Mapping[str, tuple[int, int, int]]  # phrase -> (sentence, start, end) first seen

    @property
    def phrase_set(self) -> set[str]:
        """The distinct phrases of the text."""
        return set(self.phrases)


def analyze(text: str, *, max_n: int = 4,
            sentences: Sequence[tuple[int, int]] | None = None) -> DocAnalysis:
    """Tokenize ``text`` by sentence and collect its n-grams (1..``max_n``)."""
    spans = tuple(sentences) if sentences else tuple(sentence_spans(text))
    per_sentence: list[tuple[Token, ...]] = []
    phrases: dict[str, tuple[int, int, int]] = {}
    for si, (s, e) in enumerate(spans):
        tokens = tuple(tokenize(text, s, e))
        per_sentence.append(tokens)
        stems = [t.stem for t in tokens]
        for i in range(len(tokens)):
            if stems[i] in STOPWORDS:
                continue
            for n in range(1, max_n + 1):
                j = i + n
                if j > len(tokens):
                    break
                if stems[j - 1] in STOPWORDS:
                    continue
                if n == 1 and (stems[i].isdigit() or len(stems[i]) < 2):
                    continue
                key = " ".join(stems[i:j])
                if key not in phrases:
                    phrases[key] = (si, tokens[i].start, tokens[j - 1].end)
    return DocAnalysis(text=text, sentences=spans, tokens=tuple(per_sentence),
                       phrases=phrases)


@dataclass(frozen=True, slots=True)
class Candidate:
    """A code proposed for a note, its hits and its feature vector."""

    code: str
    hits: tuple[Hit, ...]
    features: tuple[float, ...]

    @property
    def best_hit(self) -> Hit:
        """The hit that best supports the code (affirmed and strongest first)."""
        return max(self.hits, key=_hit_rank)


def _hit_rank(hit: Hit) -> tuple[int, int, float]:
    ctx = hit.context
    affirmed = not (ctx.negated or ctx.family or ctx.hypothetical)
    return (int(affirmed), int(hit.source != "lexicon"), hit.strength)


_CtxFn = Callable[[int, int, int], Context]


def _title_hits(doc: DocAnalysis, index: TitleIndex, ctx: _CtxFn, note_id: str) -> list[Hit]:
    hits: list[Hit] = []
    for si, tokens in enumerate(doc.tokens):
        if not tokens:
            continue
        positions: dict[str, list[int]] = defaultdict(list)
        for i, token in enumerate(tokens):
            positions[token.stem].append(i)
        for term in index.match(positions):
            # anchor on the first position of the term's first stem, nearest others
            idxs = []
            anchor = positions[term.stems[0]][0]
            for s in term.stems:
                idxs.append(min(positions[s], key=lambda p: abs(p - anchor)))
            lo, hi = min(idxs), max(idxs)
            hits.append(Hit(
                code=term.code, source="title" if term.title else "inclusion",
                start=tokens[lo].start, end=tokens[hi].end, sentence=si,
                strength=float(len(term.stems)),
                compact=(hi - lo + 1) / len(term.stems),
                context=ctx(si, tokens[lo].start, tokens[hi].end), note_id=note_id))
        for term, matched in index.match_partial(positions):
            anchor = positions[matched[0]][0]
            idxs = [min(positions[s], key=lambda p: abs(p - anchor)) for s in matched]
            lo, hi = min(idxs), max(idxs)
            hits.append(Hit(
                code=term.code, source="partial", start=tokens[lo].start,
                end=tokens[hi].end, sentence=si, strength=float(len(matched)),
                compact=(hi - lo + 1) / len(matched), cover=len(matched) / len(term.stems),
                context=ctx(si, tokens[lo].start, tokens[hi].end), note_id=note_id))
    return hits


def _lexicon_hits(doc: DocAnalysis, lexicon: Lexicon, allowed: Callable[[str], bool],
                  ctx: _CtxFn, note_id: str) -> list[Hit]:
    hits: list[Hit] = []
    for phrase, (si, start, end) in doc.phrases.items():
        stats = lexicon.get(phrase)
        if not stats:
            continue
        context = ctx(si, start, end)
        for stat in stats:
            if not allowed(stat.code):
                continue
            hits.append(Hit(code=stat.code, source="lexicon", start=start, end=end,
                            sentence=si, strength=stat.p, co=stat.co, df=stat.df,
                            n=phrase.count(" ") + 1, aligned=stat.aligned,
                            context=context, note_id=note_id))
    return hits


def generate(doc: DocAnalysis, *, index: TitleIndex | None, lexicon: Lexicon | None,
             info: Mapping[str, CodeInfoLite], prior: Mapping[str, int],
             prior_cat: Mapping[str, int], n_train: int,
             context: _CtxFn | None = None,
             section_weight: Callable[[int], float] | None = None,
             note_id: str = "", dense: StaticEmbedder | None = None) -> list[Candidate]:
    """Propose codes for ``doc`` with their features.

    ``context(sentence, start, end)`` gives the assertion of a span (defaults to the built-in
    cue scan of its sentence); ``section_weight(offset)`` the weight of the
    section at an offset (default 1); ``dense`` the static MiniLM vectors of the dense
    features (missing values, NaN, without it).
    """
    contexts: dict[tuple[int, int], Context] = {}

    def ctx(si: int, start: int, end: int) -> Context:
        found = contexts.get((start, end))
        if found is None:
            if context is not None:
                found = context(si, start, end)
            else:
                s, e = doc.sentences[si]
                found = context_of(doc.text, s, e, start, end)
            contexts[(start, end)] = found
        return found

    by_code: dict[str, list[Hit]] = defaultdict(list)
    if index is not None:
        for hit in _title_hits(doc, index, ctx, note_id):
            by_code[hit.code].append(hit)
    if lexicon is not None:
        for hit in _lexicon_hits(doc, lexicon, lambda code: code in info, ctx,
                                 note_id):
            by_code[hit.code].append(hit)
    best_title_in_cat: dict[str, float] = defaultdict(float)
    best_lex_in_cat: dict[str, float] = defaultdict(float)
    cat_count: dict[str, int] = defaultdict(int)
    span_codes: dict[tuple[int, int], set[str]] = defaultdict(set)
    span_best: dict[tuple[int, int], float] = defaultdict(float)
    for code, hits in by_code.items():
        cat_count[code[:3]] += 1
        for h in hits:
            span_codes[(h.start, h.end)].add(code)
            if h.source == "lexicon":
                span_best[(h.start, h.end)] = max(span_best[(h.start, h.end)], h.strength)
                best_lex_in_cat[code[:3]] = max(best_lex_in_cat[code[:3]], h.strength)
        t = max((h.strength for h in hits if h.source in ("title", "inclusion")),
                default=0.0)
        best_title_in_cat[code[:3]] = max(best_title_in_cat[code[:3]], t)
    length = max(len(doc.text), 1)
    norm = max(n_train, 1)
    idf = index.idf if index is not None else {}
    sentence_stems = [frozenset(t.stem for t in tokens) for tokens in doc.tokens]
    spans_memo: dict[tuple[int, int], str] = {}

    out: list[Candidate] = []
    breaks = [m.start() for m in _CLAUSE_BREAK.finditer(doc.text)]
    for code, all_hits in by_code.items():
        hits = _distinct(doc.text, breaks, all_hits, spans_memo)
        titles = [h for h in hits if h.source in ("title", "inclusion")]
        partial = [h for h in hits if h.source == "partial"]
        lex = [h for h in hits if h.source == "lexicon"]
        best_p = max(partial, key=lambda h: (h.cover, h.strength), default=None)
        best_t = max(titles, key=lambda h: (h.strength, -h.compact), default=None)
        best_l = max(lex, key=lambda h: (h.strength, h.co), default=None)
        n = len(hits)
        neg = sum(h.context.negated for h in hits) / n
        unc = sum(h.context.uncertain for h in hits) / n
        hist = sum(h.context.historical for h in hits) / n
        fam = sum(h.context.family for h in hits) / n
        hypo = sum(h.context.hypothetical for h in hits) / n
        affirmed = sum(not (h.context.negated or h.context.family or h.context.hypothetical)
                       for h in hits)
        meta = info.get(code)
        title = meta.title.lower() if meta else ""
        t_strength = best_t.strength if best_t else 0.0
        sec = max((section_weight(h.start) for h in hits), default=1.0) \
            if section_weight is not None else 1.0
        hit_sentences = {h.sentence for h in hits}
        l_strength = best_l.strength if best_l else 0.0
        features = (
            t_strength,
            best_t.compact if best_t else 0.0,
            float(len(titles)),
            float(any(h.source == "title" for h in titles)),
            float(bool(best_t) and t_strength >= best_title_in_cat[code[:3]]),
            best_l.strength if best_l else 0.0,
            float(best_l.co) if best_l else 0.0,
            float(best_l.df) if best_l else 0.0,
            float(best_l.n) if best_l else 0.0,
            float(any(h.aligned for h in lex)),
            float(len({(h.start, h.end) for h in lex})),
            sum(h.strength for h in lex),
            neg, unc, hist, fam, hypo, float(affirmed),
            min(h.start for h in hits) / length,
            float(len({h.sentence for h in hits})),
            math.log1p(prior.get(code, 0)) - math.log(norm),
            math.log1p(prior_cat.get(code[:3], 0)) - math.log(norm),
            float(len(code.replace(".", ""))),
            float(meta.billable) if meta else 0.0,
            float("unspecified" in title),
            float(ord(code[0]) - 64) if code[0].isalpha() else 0.0,
            float(bool(titles)) + float(bool(lex)),
            float(cat_count[code[:3]]),
            math.log(length),
            sec,
            best_p.strength if best_p else 0.0,
            best_p.cover if best_p else 0.0,
            max(h.start for h in hits) / length,
            _idf_cover(title, hit_sentences, sentence_stems, idf),
            float(bool(best_l) and l_strength >= best_lex_in_cat[code[:3]]),
            float(min(len(span_codes[(h.start, h.end)]) for h in hits)),
            l_strength / span_best[(best_l.start, best_l.end)] if best_l else 0.0,
            *_dense_features(dense, doc, hits, hit_sentences, meta.title if meta else ""),
        )
        out.append(Candidate(code=code, hits=tuple(all_hits), features=features))
    out.sort(key=lambda c: c.code)
    return out


_NO_DENSE = (math.nan, math.nan)


def _dense_features(dense: StaticEmbedder | None, doc: DocAnalysis, hits: Sequence[Hit],
                    sentences: set[int], title: str) -> tuple[float, float]:
    """Cosine of the code title with its best evidence span and best evidence sentence."""
    if dense is None or not title:
        return _NO_DENSE
    span = max(dense.similarity(doc.text[h.start:h.end], title) for h in hits)
    sentence = max(dense.similarity(doc.text[slice(*doc.sentences[si])], title)
                   for si in sentences)
    return span, sentence


@lru_cache(maxsize=65536)
def _title_stems(title: str) -> tuple[str, ...]:
    return term_stems(title)


def _idf_cover(title: str, sentences: set[int], sentence_stems: Sequence[frozenset[str]],
               idf: Mapping[str, float]) -> float:
    """IDF-weighted share of the code title's stems found in the hits' sentences.

    A BM25-style lexical score of the code text against the evidence sentences
    (saturated term frequency reduces to presence for short titles): high when the
    sentences also carry the title's rare, specific words, not just a learned phrase.
    """
    stems = _title_stems(title)
    if not stems:
        return 0.0
    weights = [idf.get(s, 1.0) for s in stems]
    found = sum(w for s, w in zip(stems, weights, strict=True)
                if any(s in sentence_stems[si] for si in sentences))
    return found / sum(weights)


_CLAUSE_BREAK = re.compile(r"[.;:()\[\]\n]")
_NON_WORD = re.compile(r"[^a-z0-9]+")


def _distinct(text: str, breaks: list[int], hits: list[Hit],
              memo: dict[tuple[int, int], str] | None = None) -> list[Hit]:
    """Hits of one code minus verbatim repeats of the same clause.

    Templated notes copy a clause (the chief complaint, a problem-list line) into
    several sections; counting each copy as another mention would read one statement
    as corroborated evidence (features ``n_sentences``, ``affirmed_hits``...), a
    pattern the training case reports do not have. A hit counts once per distinct
    clause (normalized words between punctuation); all hits stay evidence.
    ``memo`` caches normalized spans across the codes of one note.
    """
    cache: dict[tuple[int, int], str] = memo if memo is not None else {}

    def normalized(start: int, end: int) -> str:
        found = cache.get((start, end))
        if found is None:
            found = cache[(start, end)] = _NON_WORD.sub(" ", text[start:end].lower()).strip()
        return found

    seen: set[tuple[str, str]] = set()
    out: list[Hit] = []
    for hit in sorted(hits, key=lambda h: (h.start, h.end, h.source)):
        i = bisect.bisect_left(breaks, hit.start)
        left = breaks[i - 1] + 1 if i else 0
        j = bisect.bisect_left(breaks, hit.end)
        right = breaks[j] if j < len(breaks) else len(text)
        clause = normalized(left, right)
        key = (hit.source, normalized(hit.start, hit.end) + "|" + clause)
        if key in seen and clause.count(" ") >= 3:  # >= 4 words
            continue
        seen.add(key)
        out.append(hit)
    return out
