"""ConText: assertion status of a span from trigger phrases and their scopes.

An own implementation of the ConText algorithm (Harkema et al., J Biomed Inform
2009; NegEx, Chapman et al. 2001) over plain strings, so it runs without a
spaCy ``Doc`` and fast. Rules are data (``resources/en/context_rules.json``),
loaded once with a strict key whitelist (pydantic); plain literals are compiled
into one character-trie regular expression, rules with their own pattern are
scanned one by one.

Algorithm for a target span inside a sentence:

1. find every trigger in the sentence, resolved leftmost-longest; a *pseudo*
   trigger ("no increase", "gram negative") consumes its text so the shorter
   trigger inside it never fires;
2. the target is opaque: when a trigger overlaps it, the triggers are found
   again with the target masked ("no change in vision" with the target
   "change in vision" keeps its "no");
3. a *forward* trigger before the target covers it when no terminator (a
   ``terminate`` rule such as "but"/"however"/";", an inline header colon or a
   closing parenthesis) lies between them and the gap is within ``max_scope``
   words; *backward* triggers after the target mirror this ("X was ruled
   out", "X: none"); *bidirectional* triggers do both;
4. each covering trigger sets its category's flag (and the ``also`` ones);
   the trigger spans become the assertion's ``cues``.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, ValidationError

from codeproof.errors import NlpResourceError
from codeproof.model import Assertion, Evidence

__all__ = [
    "CATEGORIES",
    "ContextEngine",
    "ContextRule",
    "Trigger",
    "load_context_rules",
    "trie_regex",
]

Category = Literal[
    "NEGATED", "UNCERTAIN", "HISTORICAL", "HYPOTHETICAL", "CONDITIONAL",
    "OTHER_EXPERIENCER", "PSEUDO", "TERMINATE",
]
Direction = Literal["forward", "backward", "bidirectional", "terminate", "pseudo"]

#: Categories that set an assertion flag.
CATEGORIES: tuple[str, ...] = (
    "NEGATED", "UNCERTAIN", "HISTORICAL", "HYPOTHETICAL", "CONDITIONAL", "OTHER_EXPERIENCER",
)

_WORD = re.compile(r"[A-Za-z0-9]+")
#: An inline header ("EXTREMITIES:", "Neck:") ends a forward scope.
_HEADER_COLON = re.compile(r"(?:^|(?<=\s))[A-Z][A-Za-z /&]{1,40}:(?=\s)")


class ContextRule(BaseModel):
    """One trigger rule as stored in the rules file (strict keys)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    literal: str
    category: Category
    direction: Direction
    pattern: str | None = None
    max_scope: int | None = None
    terminates: tuple[Category, ...] | None = None  # TERMINATE rules only: which scopes
    also: tuple[Category, ...] = ()  # further categories the trigger sets


class _RulesFile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    version: str
    description: str = ""
    rules: tuple[ContextRule, ...]


@dataclass(frozen=True, slots=True)
class Trigger:
    """A rule matched in a text: ``[start, end)`` offsets into that text."""

    start: int
    end: int
    rule: ContextRule


def _literal_regex(literal: str) -> str:
    parts = [re.escape(p) for p in literal.split()]
    body = r"\s+".join(parts)
    head = r"\b" if literal[:1].isalnum() else ""
    tail = r"\b" if literal[-1:].isalnum() else ""
    return head + body + tail


def trie_regex(words: list[str]) -> str:
    """A regex alternation of ``words`` shaped as a character trie (spaces -> ``\\s+``)."""
    trie: dict[str, Any] = {}
    for word in words:
        node = trie
        for char in word:
            node = node.setdefault(char, {})
        node[""] = {}

    def emit(node: dict[str, Any]) -> str:
        branches = []
        for char in sorted(node, key=lambda c: (c == "", c)):
            if char == "":
                continue
            piece = r"\s+" if char == " " else re.escape(char)
            branches.append(piece + emit(node[char]))
        if not branches:
            return ""
        body = branches[0] if len(branches) == 1 else "(?:" + "|".join(branches) + ")"
        return f"(?:{body})?" if "" in node else body

    return emit(trie)


def load_context_rules(path: Path | None = None) -> tuple[str, str, tuple[ContextRule, ...]]:
    """Load and validate a rules file; returns ``(name, version, rules)``.

    Raises :class:`NlpResourceError` when the file is missing or malformed.
    """
    try:
        if path is None:
            raw = (resources.files("codeproof.nlp") / "resources" / "en" / "context_rules.json"
                   ).read_text(encoding="utf-8")
            where = "context_rules.json"
        else:
            raw = Path(path).read_text(encoding="utf-8")
            where = str(path)
        data = _RulesFile.model_validate(json.loads(raw))
    except (OSError, json.JSONDecodeError, ValidationError) as exc:
        raise NlpResourceError(f"invalid ConText rules file {where}: {type(exc).__name__}",
                               resource="context_rules") from exc
    for rule in data.rules:
        try:
            re.compile(rule.pattern or _literal_regex(rule.literal))
        except re.error as exc:
            raise NlpResourceError(f"bad pattern in ConText rule {rule.literal!r}: {exc}",
                                   resource="context_rules") from exc
    return data.name, data.version, data.rules


class ContextEngine:
    """Compiled ConText rules; :meth:`assert_span` gives an :class:`Assertion`."""

    def __init__(self, rules: tuple[ContextRule, ...], *, name: str = "custom",
                 version: str = "0") -> None:
        self.rules = rules
        self.name = name
        self.version = version
        # Plain literals go into one character trie (fast: one path per position);
        # rules with their own regex are scanned one by one. Matches are then
        # resolved leftmost-longest, so "no evidence of" beats "no".
        self._literal: dict[str, ContextRule] = {}
        self._patterns: list[tuple[re.Pattern[str], ContextRule]] = []
        for rule in rules:
            literal = " ".join(rule.literal.lower().split())
            if rule.pattern is None and literal[:1].isalnum() and literal[-1:].isalnum():
                self._literal.setdefault(literal, rule)
            else:
                regex = rule.pattern or _literal_regex(rule.literal)
                self._patterns.append((re.compile(regex, re.IGNORECASE), rule))
        self._trie = re.compile(r"\b(?:" + trie_regex(sorted(self._literal)) + r")\b",
                                re.IGNORECASE)

    @classmethod
    def default(cls) -> ContextEngine:
        """The engine with the packaged English rules."""
        name, version, rules = load_context_rules()
        return cls(rules, name=name, version=version)

    def triggers(self, text: str, start: int = 0, end: int | None = None) -> list[Trigger]:
        """All triggers in ``text[start:end]`` (offsets into ``text``), left to right.

        Overlaps are resolved leftmost-longest: a pseudo trigger ("no increase")
        hides the shorter trigger ("no") inside it.
        """
        stop = len(text) if end is None else end
        found: list[Trigger] = []
        for match in self._trie.finditer(text, start, stop):
            rule = self._literal.get(" ".join(match.group(0).lower().split()))
            if rule is not None:
                found.append(Trigger(match.start(), match.end(), rule))
        for regex, rule in self._patterns:
            for match in regex.finditer(text, start, stop):
                if match.end() > match.start():
                    found.append(Trigger(match.start(), match.end(), rule))
        found.sort(key=lambda t: (t.start, -t.end))
        chosen: list[Trigger] = []
        last_end = -1
        for trig in found:
            if trig.start >= last_end:
                chosen.append(trig)
                last_end = trig.end
        return chosen

    def assert_span(self, text: str, start: int, end: int, *,
                    sentence: tuple[int, int] | None = None,
                    triggers: list[Trigger] | None = None,
                    note_id: str = "") -> Assertion:
        """Assertion of ``text[start:end]`` within ``sentence`` (default: whole text).

        ``triggers`` may be passed when several spans share a sentence (computed
        once with :meth:`triggers` over the sentence).
        """
        s0, s1 = sentence if sentence is not None else (0, len(text))
        if triggers is None or any(t.start < end and start < t.end for t in triggers):
            # The target is opaque: no trigger may reach into it (a pseudo trigger
            # "no change" must not hide the "no" of the target "change in vision").
            masked = text[:start] + "x" * (end - start) + text[end:]
            triggers = [t for t in self.triggers(masked, s0, s1)
                        if t.end <= start or t.start >= end]
        flags: dict[str, bool] = dict.fromkeys(CATEGORIES, False)
        cues: list[Evidence] = []
        before = [t for t in triggers if t.end <= start]
        after = [t for t in triggers if t.start >= end]
        for trig in before:
            rule = trig.rule
            if rule.direction not in ("forward", "bidirectional"):
                continue
            if flags[rule.category]:
                continue
            if self._blocked(text, trig.end, start, rule, triggers, forward=True):
                continue
            flags[rule.category] = True
            flags.update(dict.fromkeys(rule.also, True))
            cues.append(Evidence(note_id=note_id, start=trig.start, end=trig.end,
                                 quote=text[trig.start:trig.end]))
        for trig in after:
            rule = trig.rule
            if rule.direction not in ("backward", "bidirectional"):
                continue
            if flags[rule.category]:
                continue
            if self._blocked(text, end, trig.start, rule, triggers, forward=False):
                continue
            flags[rule.category] = True
            flags.update(dict.fromkeys(rule.also, True))
            cues.append(Evidence(note_id=note_id, start=trig.start, end=trig.end,
                                 quote=text[trig.start:trig.end]))
        return Assertion(
            negated=flags["NEGATED"],
            uncertain=flags["UNCERTAIN"],
            historical=flags["HISTORICAL"],
            hypothetical=flags["HYPOTHETICAL"],
            conditional=flags["CONDITIONAL"],
            experiencer="other" if flags["OTHER_EXPERIENCER"] else "patient",
            cues=tuple(sorted(cues, key=lambda c: c.start)),
        )

    @staticmethod
    def _blocked(text: str, gap_start: int, gap_end: int, rule: ContextRule,
                 triggers: list[Trigger], *, forward: bool) -> bool:
        """True when the gap between trigger and target ends the trigger's scope."""
        gap = text[gap_start:gap_end]
        if rule.max_scope is not None and len(_WORD.findall(gap)) > rule.max_scope:
            return True
        for other in triggers:
            if other.start >= gap_start and other.end <= gap_end:
                orule = other.rule
                if orule.direction == "terminate" and (
                    orule.terminates is None or rule.category in orule.terminates
                ):
                    return True
        # A trigger inside parentheses does not reach outside them, and back.
        if forward and gap.count(")") > gap.count("("):
            return True
        if not forward and gap.count("(") > gap.count(")"):
            return True
        # A header colon inside the gap starts a new statement ("Neck: supple").
        if forward:
            stripped = gap.lstrip(" :\t")
            offset = len(gap) - len(stripped)
            return _HEADER_COLON.search(gap, offset) is not None
        return _HEADER_COLON.search(gap) is not None
