"""schema/manifest.schema.json is exactly `converge schema`; examples declare it for editors."""

from __future__ import annotations

import glob
import json
import os

from converge.schema import manifest_schema

ROOT = os.path.join(os.path.dirname(__file__), "..")


def test_committed_schema_is_current():
    with open(os.path.join(ROOT, "schema", "manifest.schema.json"), encoding="utf-8") as f:
        committed = json.load(f)
    assert committed == manifest_schema(), "schema is stale: run `converge schema > schema/manifest.schema.json`"


def test_schema_describes_every_section_and_forbids_unknown_ones():
    schema = manifest_schema()
    assert set(schema["properties"]) == {"vars", "pools", "datasets", "snapshots", "shares", "interfaces", "containers",
                                         "system", "services", "groups", "users",
                                         "container_networks", "snapshot_policies", "replications", "stacks"}
    assert set(schema["properties"]["shares"]["properties"]) == {"smb", "nfs"}
    assert schema["additionalProperties"] is False
    assert schema["$defs"]["DatasetSpec"]["additionalProperties"] is False


def test_example_manifests_point_editors_at_the_schema():
    files = [f for f in glob.glob(os.path.join(ROOT, "examples", "*", "*.yaml")) if not f.endswith("converge.yaml")]
    assert files
    for path in files:
        with open(path, encoding="utf-8") as f:
            assert f.readline().startswith("# yaml-language-server: $schema=../../schema/manifest.schema.json"), path
