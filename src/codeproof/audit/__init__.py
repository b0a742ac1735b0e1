"""codeproof.audit."""
