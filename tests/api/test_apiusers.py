"""API accounts: argon2id hashes only, checked names and passwords, and the `converge api-user`
and `converge token` commands (a password never in argv)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from converge.api import apiusers
from converge.api.auth import read_tokens

PASSWORD = "correct horse battery"


def converge(*args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "converge.cli", *args], input=stdin, capture_output=True, text=True,
                          env=dict(os.environ), timeout=60)


def test_only_an_argon2id_hash_is_stored(tmp_path):
    assert apiusers.add(str(tmp_path), "alice", "operator", PASSWORD) is True
    text = (tmp_path / ".converge" / "api-users.json").read_text()
    assert PASSWORD not in text and json.loads(text)["alice"]["hash"].startswith("$argon2id$")
    accounts = apiusers.store(str(tmp_path)).read()
    assert apiusers.verify(accounts, "alice", PASSWORD) == "operator"
    assert apiusers.verify(accounts, "alice", PASSWORD + "x") is None
    assert apiusers.verify(accounts, "bob", PASSWORD) is None
    assert apiusers.add(str(tmp_path), "alice", "viewer", "another password") is False  # replaced
    assert apiusers.verify(apiusers.store(str(tmp_path)).read(), "alice", PASSWORD) is None


@pytest.mark.parametrize(("name", "password", "message"), [
    ("-x", PASSWORD, "an API account name is"), ("a" * 65, PASSWORD, "an API account name is"),
    ("alice", "short", "8 to 1024 characters"), ("alice", "two\nlines", "one line")])
def test_bad_names_and_passwords_are_refused(tmp_path, name, password, message):
    with pytest.raises(ValueError, match=message):
        apiusers.add(str(tmp_path), name, "viewer", password)
    assert not (tmp_path / ".converge" / "api-users.json").exists()


def test_the_api_user_commands(tmp_path):
    d = str(tmp_path)
    r = converge("api-user", "add", "alice", "--role", "operator", "-C", d, stdin=PASSWORD + "\n")
    assert r.returncode == 0 and r.stdout == "added API account alice (operator)\n", r.stderr
    r = converge("api-user", "list", "-C", d)
    assert r.stdout.splitlines()[1].split()[:2] == ["alice", "operator"]
    assert converge("api-user", "add", "bob", "--role", "viewer", "-C", d, stdin="short\n").stderr == \
        "error: a password has 8 to 1024 characters\n"
    assert converge("api-user", "add", "bob", "--role", "root", "-C", d, stdin=PASSWORD).returncode == 2
    assert converge("api-user", "remove", "alice", "-C", d).stdout == "removed API account alice\n"
    r = converge("api-user", "remove", "alice", "-C", d)
    assert r.returncode == 1 and "no API account named 'alice'" in r.stderr


def test_the_token_commands(tmp_path):
    d = str(tmp_path)
    token = converge("token", "create", "ci", "--role", "operator", "--expires", "30d", "-C", d).stdout.strip()
    assert token.startswith("cvg_")
    entry = read_tokens(d)["ci"]
    assert entry["role"] == "operator" and entry["expires"] > entry["created"]
    listing = converge("token", "list", "-C", d).stdout
    assert token not in listing and listing.splitlines()[1].split()[:2] == ["ci", "operator"]
    r = converge("token", "create", "x", "--expires", "3y", "-C", d)
    assert r.returncode == 1 and "m, h, d or w" in r.stderr
    assert converge("token", "revoke", "ci", "-C", d).stdout == "revoked token ci\n"
    assert "ci" not in read_tokens(d)
    assert converge("token", "revoke", "ci", "-C", d).returncode == 1
