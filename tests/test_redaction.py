"""One redaction path: a secret fed in through a container's env (a sensitive field whose value
reaches the runtime's argv) is found in none of converge's outputs — plan text, plan JSON, logs,
the apply's report and failures, API answers and events. (The manifest itself holds it: the user
wrote it there; accounts show how to keep one out of git with a secret reference.)"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

from starlette.testclient import TestClient

from converge.api import create_app
from converge.api.auth import create_token
from converge.redaction import MASK, mask, mask_fields

HOMELAB = Path(__file__).resolve().parents[1] / "examples" / "homelab"
SECRET = "pa55-Wx9-only-in-the-manifest"


def test_mask_replaces_every_secret_and_ignores_empty_ones():
    assert mask("a=1 b=XY c=XY", ["XY", ""]) == f"a=1 b={MASK} c={MASK}"
    assert mask_fields(frozenset({"env", "token"}), {"env": {"A": "1"}, "token": "t", "image": "i", "note": None}) == \
        {"env": {"A": MASK}, "token": MASK, "image": "i", "note": None}


def _homelab_with_secret(tmp_path: Path) -> Path:
    d = tmp_path / "homelab"
    shutil.copytree(HOMELAB, d, ignore=shutil.ignore_patterns(".converge"))
    apps = (d / "apps.yaml").read_text()
    (d / "apps.yaml").write_text(apps.replace("    memory: 2G\n", f"    memory: 2G\n    env: {{DB_PASSWORD: {SECRET}}}\n", 1))
    assert SECRET in (d / "apps.yaml").read_text()
    env = {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@e", "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@e",
           "PATH": "/usr/bin:/bin", "HOME": str(d)}
    (d / ".gitignore").write_text(".converge/\n")
    for argv in (["init", "-q", "-b", "main"], ["add", "-A"], ["commit", "-qm", "homelab"]):
        subprocess.run(["git", *argv], cwd=d, check=True, capture_output=True, env=env)
    return d


def _converge(*args: str) -> str:
    result = subprocess.run([sys.executable, "-m", "converge.cli", *args], capture_output=True, text=True,
                            env=dict(os.environ, CONVERGE_DEBUG="1"), timeout=300)
    return result.stdout + result.stderr


def test_a_secret_reaches_no_output(tmp_path):
    d = _homelab_with_secret(tmp_path)
    seen = {
        "plan text": _converge("plan", str(d)),
        "plan text with commands": _converge("plan", str(d), "--show-commands") if "--show-commands" in _converge(
            "plan", "--help") else "",
        "plan json": _converge("plan", str(d), "--json"),
    }
    assert "DB_PASSWORD" in seen["plan json"], "the secret's key is shown, only its value is hidden"
    client = TestClient(create_app(str(d)), base_url="http://localhost:8470",
                        headers={"Authorization": f"Bearer {create_token(str(d), 'admin', 'admin')}"})
    seen["api resource"] = client.get("/api/v1/containers/jellyfin").text
    seen["api list"] = client.get("/api/v1/containers").text
    seen["api plan"] = client.get("/api/v1/plan").text
    job = client.post("/api/v1/apply").json()
    for _ in range(600):
        state = client.get(f"/api/v1/jobs/{job['id']}").json()
        if state["status"] in ("done", "failed"):
            break
        time.sleep(0.1)
    seen["api job"] = json.dumps(state)
    assert state["status"] == "done", state
    seen["api facts"] = client.get("/api/v1/facts").text
    seen["api events"] = client.get("/api/v1/events", params={"since": 0, "timeout": 1}).text
    seen["apply output and debug logs"] = _converge("apply", str(d))  # converged already: shows the proof
    leaked = [where for where, text in seen.items() if SECRET in text]
    assert not leaked, f"the secret shows in: {', '.join(leaked)}"
    assert any(MASK in text for text in seen.values())


def test_a_failing_step_never_echoes_its_secret(tmp_path):
    """A tool that fails and echoes its argument (podman: 'no such object: "..."') is masked in the report."""
    from converge.executor import execute
    from converge.hosts.sim import SimHost
    from converge.model import Action, Change, Plan, Ref, Step

    host = SimHost(str(tmp_path / "sim.json"))
    step = Step(argv=["podman", "inspect", f"DB_PASSWORD={SECRET}"], redact=[f"DB_PASSWORD={SECRET}"])
    plan = Plan(changes=[Change(ref=Ref(kind="container", name="x"), action=Action.CREATE, steps=[step])])
    report = execute(plan, host)
    [failure] = report.failed
    assert "no such object" in failure.error and MASK in failure.error and MASK in failure.step
    assert SECRET not in failure.error + failure.step
