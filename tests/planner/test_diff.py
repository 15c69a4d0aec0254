"""The generic diff: only declared fields, same normal form on both sides, readable values."""

from __future__ import annotations

from converge.planner.diff import diff_fields
from converge.resources.containers.container import ContainerSpec
from converge.resources.storage.dataset import DatasetSpec


def diffs(spec, actual, create_only=frozenset()):
    return [(d.path, d.before_text, d.after_text, d.forces_replace)
            for d in diff_fields(type(spec), spec.declared(), actual, create_only)]


def test_only_declared_fields_are_compared_and_spellings_never_differ():
    spec = DatasetSpec.model_validate({"properties": {"quota": "2T", "atime": "no"}})
    host = {"properties": {"quota": 2199023255552, "atime": False, "compression": "lz4", "recordsize": 131072}}
    assert diffs(spec, host) == []
    assert diffs(spec, {"properties": {"quota": 2199023255552, "atime": True}}) == [("properties.atime", "on", "off", False)]


def test_changed_values_read_as_a_person_writes_them():
    spec = DatasetSpec.model_validate({"properties": {"quota": "2T", "org.example:tier": "gold"}})
    host = {"properties": {"quota": 1099511627776}}
    assert diffs(spec, host) == [("properties.org.example:tier", "(unset)", "gold", False),
                                 ("properties.quota", "1T", "2T", False)]


def test_create_only_field_forces_replacement():
    spec = DatasetSpec.model_validate({"properties": {"encryption": "aes-256-gcm"}})
    assert diffs(spec, {"properties": {"encryption": "off"}}, frozenset({"properties.encryption"})) == [
        ("properties.encryption", "off", "aes-256-gcm", True)]


def test_sensitive_values_never_shown():
    spec = ContainerSpec.model_validate({"image": "a/b:1", "env": {"TOKEN": "hunter2"}})
    found = diff_fields(ContainerSpec, spec.declared(), {"image": "docker.io/a/b:1", "env": {"TOKEN": "old"}, "state": "running",
                                                                  "persist": True})
    assert [(d.path, d.before_text, d.after_text) for d in found] == [("env", "(sensitive)", "(sensitive)")]


def test_default_that_is_a_promise_is_compared():
    spec = ContainerSpec.model_validate({"image": "a/b:1"})
    assert diffs(spec, {"image": "docker.io/a/b:1", "state": "stopped", "persist": True}) == [
        ("state", "stopped", "running", False)]
