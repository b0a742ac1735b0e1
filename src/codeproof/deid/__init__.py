"""codeproof.deid."""
