from pathlib import Path

from codeproof.cache import cache_key, cached


def test_builds_once_and_rebuilds_on_new_key(tmp_path: Path) -> None:
    calls: list[int] = []

    def build() -> dict[str, int]:
        calls.append(1)
        return {"n": len(calls)}

    assert cached(tmp_path, "thing", "k1", build) == {"n": 1}
    assert cached(tmp_path, "thing", "k1", build) == {"n": 1}
    assert len(calls) == 1
    assert cached(tmp_path, "thing", "k2", build) == {"n": 2}
    assert [p.name for p in (tmp_path / "cache").glob("thing-*.pkl")] == ["thing-k2.pkl"]


def test_corrupt_cache_is_rebuilt(tmp_path: Path) -> None:
    (tmp_path / "cache").mkdir()
    (tmp_path / "cache" / "x-k.pkl").write_bytes(b"not a pickle")
    assert cached(tmp_path, "x", "k", lambda: 5) == 5


def test_none_disables_and_key_depends_on_file_contents(tmp_path: Path) -> None:
    assert cached(None, "x", "k", lambda: 3) == 3
    f = tmp_path / "data.txt"
    f.write_text("a")
    k1 = cache_key("v1", f)
    f.write_text("b")
    assert cache_key("v1", f) != k1
