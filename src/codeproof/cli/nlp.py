"""``codeproof assert`` (ConText assertions for target phrases) and ``codeproof annotate``."""

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
    """Assert target phrases in sentences (ConText): one JSON line per input line.

    Each answer has negated, historical, hypothetical, uncertain and experiencer. A bad
    line gets an error line with a stable code instead; the exit code is then 2.
    """
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


def annotate_command(
    input_path: Path = typer.Option(..., "--in", help="A plain-text note ('-' reads stdin)."),
    note_id: str = typer.Option("note", "--note-id", help="Id used in mention ids."),
    terminology: bool = typer.Option(False, "--terminology/--no-terminology",
                                     help="Also match ICD-10-CM titles (loads the store)."),
) -> None:
    """Print the note's sections and mentions with assertions and attributes as JSON."""
    from codeproof.nlp import NlpEngine, annotate_document

    if str(input_path) == "-":
        text = sys.stdin.read()
    else:
        try:
            text = input_path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise NlpError(f"cannot read input file {input_path}: {type(exc).__name__}",
                           path=str(input_path)) from exc
    if terminology:
        from codeproof.nlp.engine import engine_from_runtime
        from codeproof.runtime import Runtime

        engine = engine_from_runtime(Runtime())
    else:
        engine = NlpEngine()
    typer.echo(json.dumps(annotate_document(text, engine, note_id=note_id), indent=2,
                          ensure_ascii=False))


def register(app: typer.Typer) -> None:
    """Add the NLP commands to the root app."""
    app.command("assert")(assert_command)
    app.command("annotate")(annotate_command)
