import pytest

from codeproof.errors import ConfigError, UnknownRegistryName
from codeproof.registry import Registry


def test_register_get_names() -> None:
    reg: Registry[int] = Registry("things")
    reg.register("things.one.v1", 1)
    reg.register_lazy("things.pi.v1", "math:pi")
    assert reg.get("things.one.v1") == 1
    assert abs(reg.get("things.pi.v1") - 3.14159) < 1e-4
    assert reg.names() == ["things.one.v1", "things.pi.v1"]


@pytest.mark.parametrize("name", ["plain", "things.one", "things.one.x1"])
def test_names_must_be_versioned(name: str) -> None:
    with pytest.raises(ConfigError):
        Registry[int]("things").register(name, 1)


def test_unknown_name_lists_available() -> None:
    reg: Registry[int] = Registry("things")
    reg.register("things.one.v1", 1)
    with pytest.raises(UnknownRegistryName) as info:
        reg.get("things.two.v1")
    assert "things.one.v1" in str(info.value)
    assert info.value.code == "CP-CFG-002"
