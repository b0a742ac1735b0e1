"""codeproof.review."""
