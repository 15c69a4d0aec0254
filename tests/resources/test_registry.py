"""A kind is one class plus one registry line: a throwaway kind, registered at run time and never
mentioned anywhere else, shows up in validate, plan, apply, import, the JSON Schema, the REST
collection with its action, and /openapi.json."""

from __future__ import annotations

import json
import re
import subprocess
from typing import Any

import pytest
from click.testing import CliRunner
from pydantic import Field
from starlette.testclient import TestClient

from converge.api import create_app
from converge.api.auth import create_token
from converge.cli import main
from converge.model import Observed, Step
from converge.resources import KINDS, Context, Kind, Spec, register, unregister
from converge.resources.base import KindAction

DIR = "/etc/greetings"


class GreetingSpec(Spec):
    text: str = Field(description="what the file says")


class GreetingKind(Kind[GreetingSpec]):
    """One file per greeting under /etc/greetings; the files converge wrote are recorded as managed."""

    kind = "greeting"
    section = ("greetings",)
    spec = GreetingSpec
    name_pattern = re.compile(r"[a-z][a-z0-9-]{0,30}")
    name_allowed = "a lower-case letter, then letters, digits, '-'"
    label = "greeting card"
    actions = {"reset": KindAction("text: hello", patch={"text": "hello"})}

    def read(self, ctx: Context) -> dict[str, Observed]:
        managed = {k.split("/", 1)[1] for k in ctx.state.get("managed", {}) if k.startswith("greeting/")}
        out = {}
        for name in sorted(set(ctx.specs(self.kind)) | managed):
            text = ctx.host.read_file(f"{DIR}/{name}")
            if text is not None:
                out[name] = Observed(spec={"text": text}, managed=name in managed)
        return out

    def create(self, name: str, spec: GreetingSpec, ctx: Context) -> list[Step]:
        return [Step(op="write", path=f"{DIR}/{name}", content=spec.text),
                Step(op="state", state={f"managed.greeting/{name}": True})]

    def update(self, name: str, spec: GreetingSpec, observed: Observed, diffs: Any, ctx: Context) -> list[Step]:
        return self.create(name, spec, ctx)

    def delete(self, name: str, observed: Observed, ctx: Context) -> list[Step]:
        return [Step(op="remove", path=f"{DIR}/{name}"), Step(op="state", state={f"managed.greeting/{name}": None})]


@pytest.fixture
def greeting_kind():
    kind = GreetingKind()
    register(kind)
    yield kind
    unregister(kind)


def cli(*args: str):
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def git(cwd, *args: str) -> str:
    env = {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@e", "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@e",
           "PATH": "/usr/bin:/bin", "HOME": str(cwd)}
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True, env=env).stdout


def test_a_registered_kind_is_everywhere_without_other_edits(greeting_kind, tmp_path):
    d = tmp_path / "nas"
    d.mkdir()
    (d / "greetings.yaml").write_text("greetings:\n  hello: {text: hi there}\n")
    assert "valid: 1 file, 1 greeting card\n" in cli("validate", str(d)).stdout
    (d / "bad.yaml").write_text("greetings:\n  Hello: {text: 3, colour: red}\n")
    bad = cli("validate", str(d))
    assert bad.exit_code == 1 and "bad.yaml:2:3: greetings.Hello:" in bad.output and "a lower-case letter" in bad.output
    (d / "bad.yaml").unlink()

    plan = cli("plan", str(d))
    assert "+ greeting hello" in plan.output
    assert cli("apply", str(d)).exit_code == 0
    assert "No changes" in cli("plan", str(d)).output

    out = tmp_path / "imported"
    imported = cli("import", str(d), "-o", str(out))
    assert imported.exit_code == 0, imported.output
    assert "hi there" in "".join(p.read_text() for p in out.glob("*.yaml"))

    schema = json.loads(cli("schema").output)
    assert schema["properties"]["greetings"]["additionalProperties"]["anyOf"][0] == {"$ref": "#/$defs/GreetingSpec"}


def test_a_registered_kind_has_its_rest_collection_action_and_openapi(greeting_kind, tmp_path):
    d = tmp_path / "nas"
    d.mkdir()
    (d / ".gitignore").write_text(".converge/\n")
    (d / "greetings.yaml").write_text("greetings:\n  hello: {text: hi there}\n")
    git(d, "init", "-q", "-b", "main")
    git(d, "add", "-A")
    git(d, "commit", "-qm", "start")
    token = create_token(str(d), "admin", "admin")
    client = TestClient(create_app(str(d)), base_url="http://localhost:8470", headers={"Authorization": f"Bearer {token}"})

    doc = client.get("/openapi.json").json()
    assert {"/api/v1/greetings", "/api/v1/greetings/{name}", "/api/v1/greetings/{name}/reset"} <= set(doc["paths"])
    assert doc["paths"]["/api/v1/greetings/{name}/reset"]["post"]["summary"] == "text: hello"

    listed = client.get("/api/v1/greetings").json()
    assert [item["name"] for item in listed["items"]] == ["hello"]
    created = client.post("/api/v1/greetings", json={"name": "bye", "text": "see you"})
    assert created.status_code == 201, created.text
    assert client.post("/api/v1/greetings/bye/reset").status_code == 200
    assert "  bye:\n    text: hello\n" in (d / "greetings.yaml").read_text()
    assert "api: reset greeting bye" in git(d, "log", "--format=%s")


def test_the_registry_is_back_to_its_lines_after_the_throwaway_kind():
    assert "greeting" not in {k.kind for k in KINDS}
    with pytest.raises(ValueError, match="already registered"):
        register(type(KINDS[0])())
