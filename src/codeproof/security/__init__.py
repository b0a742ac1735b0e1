"""codeproof.security."""
