"""A client generated from a live server's /openapi.json (openapi-python-client), used as it is
generated: create a dataset, start a container, read the plan, against the simulated host.
Every status the server answers must be one the document lists (raise_on_unexpected_status)."""

from __future__ import annotations

import importlib
import shutil
import subprocess
import sys
import urllib.request

import pytest

from .test_serve import serve, stop

pytestmark = pytest.mark.real  # a real server on a loopback port, driven by a real generated client


def generate(url: str, where) -> None:
    tool = shutil.which("openapi-python-client")
    if tool is None:
        pytest.fail("openapi-python-client is not installed: pip install -e '.[test]'")
    with urllib.request.urlopen(url, timeout=30) as answer:
        (where / "openapi.json").write_bytes(answer.read())
    out = subprocess.run([tool, "generate", "--path", str(where / "openapi.json"), "--meta", "none",
                          "--output-path", str(where / "converge_client")], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stdout[-5000:] + out.stderr[-5000:]
    # what the generator could not take is only the YAML-bodied manifest routes (a media type it does not write)
    skipped = {line for line in (out.stdout + out.stderr).splitlines() if line.startswith("WARNING parsing")}
    assert skipped <= {"WARNING parsing GET /api/v1/manifests/{path} within default.",
                       "WARNING parsing PUT /api/v1/manifests/{path} within default. Endpoint will not be generated.",
                       "WARNING parsing POST /api/v1/validate/{path} within default. Endpoint will not be generated."}, skipped


def test_a_generated_client_creates_a_dataset_starts_a_container_and_reads_the_plan(homelab, tmp_path):
    proc, port, token = serve(str(homelab))
    base = f"http://127.0.0.1:{port}"
    sys.path.insert(0, str(tmp_path))
    try:
        generate(f"{base}/openapi.json", tmp_path)
        gen = importlib.import_module("converge_client")
        default = importlib.import_module("converge_client.api.default")
        from converge_client.api.default import get_datasets_name, get_plan, post_containers_name_start, post_datasets
        from converge_client.models import DatasetCreate, DatasetProperties, EditResult, Error, Plan, PlanChange, Resource

        assert hasattr(default, "__path__")
        client = gen.AuthenticatedClient(base_url=base, token=token, raise_on_unexpected_status=True)
        created = post_datasets.sync_detailed(client=client, body=DatasetCreate(
            name="tank/generated", properties=DatasetProperties(quota="2G", compression="zstd")))
        assert created.status_code == 201 and isinstance(created.parsed, EditResult), created.content
        assert created.parsed.file == "storage.yaml"
        again = post_datasets.sync(client=client, body=DatasetCreate(name="tank/generated"))
        assert isinstance(again, Error) and again.error.code == "conflict"
        started = post_containers_name_start.sync(name="jellyfin", client=client)
        assert isinstance(started, EditResult) and started.commit
        one = get_datasets_name.sync(name="tank/generated", client=client)
        assert isinstance(one, Resource) and one.desired.additional_properties["properties"]["quota"] == 2 << 30  # as the kind reads it
        plan = get_plan.sync(client=client)
        assert isinstance(plan, Plan) and all(isinstance(c, PlanChange) for c in plan.changes)
        changes = {(c.ref.kind, c.ref.name): c for c in plan.changes}
        assert changes[("dataset", "tank/generated")].action.value == "+"
        assert ("container", "jellyfin") in changes
        assert isinstance(created.parsed.plan, Plan)  # an edit answers with the same typed plan
        assert "tank/generated" in (homelab / "storage.yaml").read_text()
    finally:
        sys.path.remove(str(tmp_path))
        for name in [m for m in sys.modules if m == "converge_client" or m.startswith("converge_client.")]:
            del sys.modules[name]
        stop(proc)
