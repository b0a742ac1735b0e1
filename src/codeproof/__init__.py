"""codeproof: audit-ready medical coding with evidence-linked justifications."""

from codeproof.errors import CodeproofError
from codeproof.model import (
    CodeAssignment,
    CodeCandidate,
    Encounter,
    Evidence,
    Mention,
    Note,
    RuleFinding,
)

__version__ = "0.1.0"

__all__ = [
    "CodeAssignment",
    "CodeCandidate",
    "CodeproofError",
    "Encounter",
    "Evidence",
    "Mention",
    "Note",
    "RuleFinding",
    "__version__",
]
