"""formats/compose.py: interpolation as compose does it, service summaries and their labels, and
the env file format; plus several secrets in one step (secrets.fill_all)."""

from __future__ import annotations

import os

import pytest
from hypothesis import given
from hypothesis import strategies as st

from converge import secrets
from converge.errors import PlanError
from converge.formats import compose


@pytest.mark.parametrize("text,expected", [
    ("${A}", "1"), ("$A-x", "1-x"), ("${MISSING}", ""), ("${MISSING:-d}", "d"), ("${EMPTY:-d}", "d"),
    ("${EMPTY-d}", ""), ("${A:+set}", "set"), ("${EMPTY+set}", "set"), ("${EMPTY:+set}", ""), ("$$A", "$A"), ("a${A}b${A}", "a1b1"), ("no vars", "no vars"),
])
def test_interpolation_as_compose_does_it(text, expected):
    assert compose.interpolate(text, {"A": "1", "EMPTY": ""}) == expected


def test_a_required_variable_that_is_missing_is_an_error():
    with pytest.raises(ValueError, match="variable DB is required: set it"):
        compose.interpolate("${DB:?set it}", {})


def test_kept_variables_stay_for_the_runtime():
    assert compose.interpolate({"x": ["${S}", "${P}"]}, {"S": "s", "P": "p"}, frozenset({"S"})) == {"x": ["${S}", "p"]}


def test_a_summary_hides_secret_values_and_its_definition_follows_only_used_variables():
    svc = {"image": "app:${TAG}", "ports": ["8080:80", {"published": 53, "target": 53, "protocol": "udp"}],
           "environment": ["PASS=${SECRET}", "MODE=${MODE}"]}
    env = {"TAG": "1", "SECRET": "hunter2", "MODE": "fast", "UNUSED": "x"}
    got = compose.summary(svc, env, frozenset({"SECRET"}))
    assert got["image"] == "app:1" and got["ports"] == ["53:53/udp", "8080:80/tcp"]
    assert got["env"]["PASS"] == "(sensitive)" and got["env"]["MODE"].startswith("sha256:")
    assert "hunter2" not in repr(got)
    assert compose.summary(svc, {**env, "UNUSED": "y"}, frozenset({"SECRET"})) == got
    assert compose.summary(svc, {**env, "SECRET": "other"}, frozenset({"SECRET"}))["definition"] != got["definition"]


KEY = st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,10}", fullmatch=True)
VALUE = st.text(st.characters(codec="utf-8", exclude_characters="\x00"), max_size=20)


@given(st.dictionaries(KEY, VALUE, max_size=5), st.lists(st.integers(1, 65535), max_size=4), st.sets(KEY, max_size=3))
def test_labels_carry_a_summary_back_unchanged(environment, ports, secret_names):
    svc = {"image": "docker.io/library/app:1", "environment": {k: v.replace("$", "") for k, v in environment.items()},
           "ports": [f"{p}:{p}" for p in ports]}
    summary = compose.summary(svc, {}, frozenset(secret_names))
    labels = compose.labels_of(summary, "stack")
    assert all("," not in v for v in labels.values())  # docker prints labels comma-joined
    assert compose.summary_from_labels(labels, summary["image"]) == summary


def test_compose_file_names():
    assert compose.is_compose_file("apps/media.compose.yaml") and compose.is_compose_file("docker-compose.yml")
    assert not compose.is_compose_file("apps.yaml") and not compose.is_compose_file("compose.yaml.j2")


def test_the_env_file_is_literal_single_quoted():
    assert compose.dotenv({"B": "x y$z", "A": "1"}) == "A='1'\nB='x y$z'\n"
    assert not compose.dotenv_safe("it's") and not compose.dotenv_safe("a\\b") and compose.dotenv_safe("a b$c")


def test_several_secrets_fill_their_own_marks(tmp_path, monkeypatch):
    monkeypatch.setenv("CVT_ONE", "first")
    path = tmp_path / "two"
    path.write_text("second\n")
    os.chmod(path, 0o600)
    sources = ["env:CVT_ONE", f"file:{path}"]
    text = f"A={secrets.mark(0, 2)}\nB={secrets.mark(1, 2)}\n"
    filled, values = secrets.fill_all(text, secrets.join_sources(sources), "stack/x")
    assert filled == "A=first\nB=second\n" and values == ["first", "second"]
    assert secrets.fill_all(f"P={secrets.MARK}", "env:CVT_ONE", "stack/x") == ("P=first", ["first"])
    assert secrets.fill_all("nothing", "", "stack/x") == ("nothing", [])
    monkeypatch.delenv("CVT_ONE")
    with pytest.raises(PlanError, match="stack/x: the environment variable CVT_ONE"):
        secrets.fill_all(text, secrets.join_sources(sources), "stack/x")
