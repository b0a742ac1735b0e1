"""codeproof.backends."""
