from pathlib import Path

import pytest

from codeproof.config import load_settings
from codeproof.errors import ConfigError


def test_defaults_and_env_overrides(tmp_path: Path) -> None:
    settings = load_settings(environ={"CODEPROOF_HOME": str(tmp_path),
                                      "CODEPROOF_ROUTING__AUTO_THRESHOLD": "0.95"})
    assert settings.home == tmp_path
    assert settings.reference_path == tmp_path / "reference"
    assert settings.routing.auto_threshold == 0.95
    assert settings.database_url.startswith("sqlite:///")


def test_toml_file(tmp_path: Path) -> None:
    path = tmp_path / "codeproof.toml"
    path.write_text('[routing]\nreview_threshold = 0.6\n[backends]\nllm = "llm.fake.v1"\n')
    settings = load_settings(path, environ={})
    assert settings.routing.review_threshold == 0.6


@pytest.mark.parametrize(
    "text",
    ['[routing]\nauto_treshold = 0.9\n', '[nosuch]\nx = 1\n', '[routing\n',
     '[routing]\nauto_threshold = "high"\n'],
)
def test_bad_config_is_a_config_error(tmp_path: Path, text: str) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(ConfigError):
        load_settings(path, environ={})
