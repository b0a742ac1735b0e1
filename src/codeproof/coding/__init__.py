"""codeproof.coding."""
