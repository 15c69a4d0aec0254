"""Login sessions: only hashes on disk, rotation, reuse ends the session, expired ones dropped."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from converge.api.jsonfile import StoreError
from converge.api.sessions import ACCESS, REFRESH, Sessions, split


def test_tokens_are_stored_only_as_hashes(tmp_path):
    s = Sessions(str(tmp_path), 900, 7 * 86400)
    issued = s.start("alice", 1000.0)
    text = (tmp_path / ".converge" / "sessions.json").read_text()
    for token in (issued.access_token, issued.refresh_token):
        assert token.partition(".")[2] not in text
    assert oct((tmp_path / ".converge" / "sessions.json").stat().st_mode & 0o777) == "0o600"
    assert (tmp_path / ".gitignore").read_text() == ".converge/\n"
    assert s.check_access(issued.access_token, 1000.0) == (issued.sid, "alice", 1900.0)


def test_a_token_is_only_right_whole(tmp_path):
    s = Sessions(str(tmp_path), 900, 86400)
    issued = s.start("alice", 0.0)
    sid, secret = split(issued.access_token, ACCESS)
    for wrong in (f"{ACCESS}{sid}.{secret[:-1]}x", f"{ACCESS}{sid}.", f"{ACCESS}{sid}", issued.refresh_token,
                  f"{ACCESS}ffffffffffffffff.{secret}", ""):
        assert s.check_access(wrong, 0.0) is None, wrong
    assert s.check_access(issued.access_token, 900.0) == "expired"
    assert split(issued.refresh_token, REFRESH)[0] == sid


def test_refresh_rotates_and_an_old_refresh_token_ends_the_session(tmp_path):
    s = Sessions(str(tmp_path), 900, 86400)
    first = s.start("alice", 0.0)
    second = s.refresh(first.refresh_token, 100.0)
    assert second is not None and second.sid == first.sid and second.access_expires == 1000.0
    assert s.check_access(first.access_token, 100.0) is None  # the old access token stops too
    assert s.refresh(first.refresh_token, 200.0) is None
    assert s.check_access(second.access_token, 200.0) is None and s.refresh(second.refresh_token, 200.0) is None


def test_expired_sessions_are_dropped_when_the_file_is_written(tmp_path):
    s = Sessions(str(tmp_path), 900, 86400)
    old = s.start("alice", 0.0)
    assert s.refresh(old.refresh_token, 86400.0) is None
    s.start("bob", 86400.0)
    assert [e["user"] for e in json.loads((tmp_path / ".converge" / "sessions.json").read_text()).values()] == ["bob"]


def test_end_and_end_user(tmp_path):
    s = Sessions(str(tmp_path), 900, 86400)
    a1, a2, b = s.start("alice", 0.0), s.start("alice", 0.0), s.start("bob", 0.0)
    assert s.end(a1.sid) and not s.end(a1.sid)
    assert s.end_user("alice") == 1
    assert s.check_access(a2.access_token, 1.0) is None and s.check_access(b.access_token, 1.0) is not None


def test_a_corrupt_store_is_an_error_not_an_empty_one(tmp_path):
    (tmp_path / ".converge").mkdir()
    (tmp_path / ".converge" / "sessions.json").write_text('{"x": {"user": 1}}')
    with pytest.raises(StoreError, match="entry 'x' is corrupt"):
        Sessions(str(tmp_path), 900, 86400).check_access(f"{ACCESS}x.y", 0.0)


def test_no_other_string_is_a_valid_access_token(tmp_path):
    s = Sessions(str(tmp_path), 900, 86400)
    issued = s.start("alice", 0.0)

    @given(st.text(max_size=120))
    @settings(max_examples=200, deadline=None)
    def check(attempt: str) -> None:
        for wrong in (attempt, issued.access_token[:-1] + attempt[:1], issued.access_token + attempt):
            if wrong != issued.access_token:
                assert s.check_access(wrong, 1.0) is None

    check()
    assert s.check_access(issued.access_token, 1.0) is not None
