"""codeproof.nlp."""
