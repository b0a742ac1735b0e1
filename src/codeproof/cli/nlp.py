"""``codeproof assert``: ConText assertions for target phrases in sentences."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import typer

from codeproof.errors import NlpError

__all__ = ["register"]


def assert_command(
    input_path: Path = typer.Option(..., "--in", help="JSONL file of {id, text, target} "
                                    "lines ('-' reads stdin)."),
    explain: bool = typer.Option(False, "--explain",
                                 help="Also print conditional, the target span and the cues."),
) -> None:
    """Print one JSON line per input line: negated, historical, hypothetical, uncertain,
    experiencer. Bad lines get an error line with a stable code; exit code 2 if any."""
    from codeproof.nlp import NlpEngine, assert_records

    engine = NlpEngine()
    if str(input_path) == "-":
        lines = sys.stdin
    else:
        try:
            lines = input_path.open(encoding="utf-8")
        except OSError as exc:
            raise NlpError(f"cannot read input file {input_path}: {exc.strerror}",
                           path=str(input_path)) from exc
    errors = 0
    with lines:
        for output, ok in assert_records(lines, engine, explain=explain):
            errors += not ok
            typer.echo(json.dumps(output, ensure_ascii=False))
    if errors:
        # SystemExit, not typer.Exit: the root runs click with standalone_mode=False,
        # which turns typer.Exit into a return value that would be lost.
        raise SystemExit(2)


def register(app: typer.Typer) -> None:
    """Add the NLP commands to the root app."""
    app.command("assert")(assert_command)
