"""The ``codeproof`` command line: thin typer commands over library functions.

Each domain module (``run``, ``terminology``, ``nlp``, ``deid``, ``audit``,
``rules``, ``coding``, ``justify``, ``service``) exposes ``register(app)``.
Errors from the library are printed as ``error [CODE]: message`` on stderr
with no traceback; the exit code is 1 for a usage/runtime failure and 2 when
some inputs of a batch were rejected (the command decides).
"""

from __future__ import annotations

import logging
import sys
from importlib import import_module

import typer

from codeproof import __version__
from codeproof.errors import CodeproofError

__all__ = ["app", "main"]

_MODULES = ("run", "terminology", "nlp", "deid", "audit", "rules", "coding", "justify",
            "service")

app = typer.Typer(
    name="codeproof",
    help="Audit-ready medical coding: codes, evidence, justification, routing, audit trail.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"codeproof {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True,
                                 help="Print the version and exit."),
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Log progress (never PHI)."),
) -> None:
    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr)


for _name in _MODULES:
    try:
        _module = import_module(f"codeproof.cli.{_name}")
    except ModuleNotFoundError as _exc:  # a domain not built yet in this checkout
        if _exc.name != f"codeproof.cli.{_name}":
            raise
        continue
    _module.register(app)


def _click_exception_types() -> tuple[type[Exception], ...]:
    """Usage-error classes of click and of typer's bundled copy of click."""
    types: list[type[Exception]] = []
    for module in ("typer._click.exceptions", "click.exceptions"):
        try:
            types.append(import_module(module).ClickException)
        except (ImportError, AttributeError):
            continue
    return tuple(types)


def main() -> None:
    """Entry point: run the app, turning codeproof errors into clean messages."""
    try:
        # With standalone_mode=False click returns the exit code of typer.Exit(...).
        rc = app(standalone_mode=False)
    except CodeproofError as exc:
        typer.echo(f"error [{exc.code}]: {exc.message}", err=True)
        sys.exit(1)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except typer.Abort:
        typer.echo("aborted", err=True)
        sys.exit(130)
    except Exception as exc:  # click usage errors and the like
        if isinstance(exc, _click_exception_types()):
            exc.show()  # type: ignore[attr-defined]
            sys.exit(exc.exit_code)  # type: ignore[attr-defined]
        typer.echo(f"error [CP-000]: unexpected {type(exc).__name__}; run with -v for logs",
                   err=True)
        logging.getLogger("codeproof").debug("unexpected error", exc_info=True)
        sys.exit(1)
    sys.exit(rc if isinstance(rc, int) else 0)
