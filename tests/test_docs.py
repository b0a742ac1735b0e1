"""Docs are tested: generated reference pages are current, and everything is documented."""

import importlib.util
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"


def _gen():  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location("gen_reference", ROOT / "tools" /
                                                  "gen_reference.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _all_docs() -> str:
    return "\n".join(p.read_text(encoding="utf-8") for p in DOCS.rglob("*.md"))


@pytest.mark.parametrize("page", ["cli.md", "errors.md", "registries.md", "config.md"])
def test_generated_reference_is_current(page: str) -> None:
    gen = _gen()
    expected = gen.PAGES[page]()
    current = (DOCS / "reference" / page).read_text(encoding="utf-8")
    assert current == expected, f"docs/reference/{page} is stale: run `make docs`"


def test_every_cli_command_is_explained_in_a_concept_page() -> None:
    import typer

    from codeproof.cli import app

    gen = _gen()
    prose = "\n".join(p.read_text(encoding="utf-8") for p in DOCS.rglob("*.md")
                      if p.parent.name != "reference") + (ROOT / "README.md").read_text()
    missing = []
    for path, cmd in gen._commands(typer.main.get_command(app), ["codeproof"]):
        if len(path) < 2 or getattr(cmd, "commands", None):
            continue
        if "codeproof " + " ".join(path[1:]) not in prose:
            missing.append(" ".join(path))
    assert not missing, f"commands not explained outside the generated reference: {missing}"


def test_every_error_code_registry_name_and_key_is_documented() -> None:
    from codeproof.errors import all_error_classes
    from codeproof.registrations import REGISTRIES

    text = _all_docs()
    missing = [cls.code for cls in all_error_classes() if cls.code not in text]
    missing += [name for reg in REGISTRIES.values() for name in reg.names() if name not in text]
    assert not missing, missing


def test_readme_shows_the_two_commands() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "make demo" in readme and "make test" in readme
