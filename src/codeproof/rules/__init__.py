"""codeproof.rules."""
