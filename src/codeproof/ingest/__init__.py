"""codeproof.ingest."""
