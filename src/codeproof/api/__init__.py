"""codeproof.api: the REST API and the workbench, served by one FastAPI app."""

from __future__ import annotations

from codeproof.api.app import create_app

__all__ = ["create_app"]
