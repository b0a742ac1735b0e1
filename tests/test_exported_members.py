import importlib

import pytest

import codeproof

MODULES = ["codeproof", "codeproof.errors", "codeproof.model", "codeproof.pipeline",
           "codeproof.config", "codeproof.registry", "codeproof.run",
           "codeproof.export.package", "codeproof.ingest"]


@pytest.mark.parametrize("name", MODULES)
def test_all_members_exist(name: str) -> None:
    module = importlib.import_module(name)
    exported = getattr(module, "__all__", None)
    assert exported, f"{name} must declare __all__"
    for member in exported:
        assert hasattr(module, member), f"{name}.__all__ names missing {member}"


def test_version() -> None:
    assert codeproof.__version__.count(".") == 2
