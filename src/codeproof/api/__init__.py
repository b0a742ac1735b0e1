"""codeproof.api."""
