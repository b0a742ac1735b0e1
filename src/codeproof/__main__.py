"""``python -m codeproof``."""

from codeproof.cli import main

main()
