"""codeproof.justify."""
