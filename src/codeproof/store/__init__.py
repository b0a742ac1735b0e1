"""codeproof.store."""
