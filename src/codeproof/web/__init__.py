"""codeproof.web."""
