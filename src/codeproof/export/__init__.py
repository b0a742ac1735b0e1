"""codeproof.export."""
