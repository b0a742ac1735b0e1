"""Workbench UI routes."""

from __future__ import annotations

from fastapi import FastAPI

__all__ = ["install_web"]


def install_web(app: FastAPI) -> None:
    """Mount the workbench pages and static files on ``app``."""
