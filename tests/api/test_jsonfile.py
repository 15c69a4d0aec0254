"""The JSON stores of DIR/.converge: re-read on change, changed under a lock, never lost updates."""

from __future__ import annotations

import threading

import pytest

from converge.api.jsonfile import JsonFile, StoreError


def test_missing_is_empty_corrupt_is_an_error(tmp_path):
    f = JsonFile(str(tmp_path), "x.json")
    assert f.read() == {}
    (tmp_path / ".converge").mkdir()
    (tmp_path / ".converge" / "x.json").write_text("[1]")
    with pytest.raises(StoreError, match="is not a JSON object"):
        f.read()
    (tmp_path / ".converge" / "x.json").write_text("{")
    with pytest.raises(StoreError, match="is not valid JSON"):
        f.read()


def test_updates_from_many_threads_and_instances_are_all_kept(tmp_path):
    def add(i: int) -> None:
        JsonFile(str(tmp_path), "x.json").update(lambda d: d.__setitem__(f"k{i}", i))

    threads = [threading.Thread(target=add, args=(i,)) for i in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert JsonFile(str(tmp_path), "x.json").read() == {f"k{i}": i for i in range(20)}


def test_a_change_is_seen_and_a_failed_update_writes_nothing(tmp_path):
    f = JsonFile(str(tmp_path), "x.json", lambda name, v: int(v))
    f.update(lambda d: d.__setitem__("a", 1))
    assert f.read() == {"a": 1}
    JsonFile(str(tmp_path), "x.json").update(lambda d: d.__setitem__("b", 2))
    assert f.read() == {"a": 1, "b": 2}

    def fail(d: dict) -> None:
        d["c"] = 3
        raise RuntimeError("no")

    with pytest.raises(RuntimeError):
        f.update(fail)
    assert f.read() == {"a": 1, "b": 2}
    assert oct((tmp_path / ".converge" / "x.json").stat().st_mode & 0o777) == "0o600"
