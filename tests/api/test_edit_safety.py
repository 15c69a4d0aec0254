"""An API edit is one transaction: validated and planned first, written and committed together,
or refused with the manifests and the git history exactly as they were."""

from __future__ import annotations

import os
import subprocess

from converge import engine
from converge.edit import Edit, write_edit

from .conftest import git


def state(d) -> tuple[dict[str, bytes], str, str]:
    """Every file's bytes, HEAD and `git status`: what a refused edit must leave alone."""
    files = {}
    for dirpath, dirnames, filenames in os.walk(d):
        dirnames[:] = [x for x in dirnames if x not in (".git", ".converge")]
        for f in filenames:
            files[os.path.relpath(os.path.join(dirpath, f), d)] = open(os.path.join(dirpath, f), "rb").read()
    return files, git(d, "rev-parse", "HEAD"), git(d, "status", "--porcelain", "--untracked-files=all")


def error_of(response, status: int) -> str:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message", "details"}, body
    return body["error"]["message"]


def applied(homelab) -> None:
    outcome = engine.reconcile(engine.open_target(str(homelab)))
    assert outcome.report.ok


def test_an_edit_that_cannot_plan_is_refused_before_it_is_written(homelab, client):
    applied(homelab)
    before = state(homelab)
    # tank/media has children on the host: the plan cannot destroy it, so the edit is refused.
    message = error_of(client.delete("/api/v1/datasets/tank/media"), 409)
    assert "never destroys recursively" in message
    assert state(homelab) == before
    # ...and the manifests still work: the next edit plans, lands and is committed.
    r = client.patch("/api/v1/interfaces/br0", json={"mtu": 9000})
    assert r.status_code == 200, r.text
    assert r.json()["commit"] == git(homelab, "rev-parse", "HEAD").strip()
    assert git(homelab, "status", "--porcelain") == ""


def test_a_destroy_held_for_approval_is_written_and_said_so(homelab, client):
    applied(homelab)
    r = client.delete("/api/v1/datasets/tank/media/movies")
    assert r.status_code == 200, r.text
    held = r.json()["held"]
    assert [h["ref"] for h in held] == ["dataset/tank/media/movies"]
    assert "--allow-destroy" in held[0]["reason"]
    assert "tank/media/movies" not in (homelab / "storage.yaml").read_text()


def test_a_failed_commit_puts_the_file_and_index_back(homelab, client):
    lock = homelab / ".git" / "index.lock"
    lock.write_text("")  # another git command is running
    before = state(homelab)
    message = error_of(client.patch("/api/v1/interfaces/br0", json={"mtu": 9000}), 409)
    assert "index lock" in message
    assert state(homelab) == before
    lock.unlink()
    assert state(homelab) == (before[0], before[1], "")


def test_a_refused_commit_of_a_new_file_removes_it_and_its_index_entry(homelab, client):
    hook = homelab / ".git" / "hooks" / "pre-commit"
    hook.write_text("#!/bin/sh\necho refused by policy >&2\nexit 1\n")
    hook.chmod(0o755)
    before = state(homelab)
    message = error_of(client.put("/api/v1/manifests/extra.yaml", content=b"datasets:\n  tank/extra: {}\n"), 503)
    assert "refused by policy" in message
    assert state(homelab) == before
    assert not (homelab / "extra.yaml").exists()


def test_only_the_edited_file_is_committed_and_paths_are_literal(homelab):
    (homelab / "network.yaml").write_text((homelab / "network.yaml").read_text() + "# operator's own change\n")
    git(homelab, "add", "network.yaml")  # even staged, it is not the API's to commit
    odd = homelab / ":(top)net*.yaml"
    commit = write_edit(str(homelab), Edit(str(odd), "", "datasets: {}\n"), "api", "api: write")
    assert commit == git(homelab, "rev-parse", "HEAD").strip()
    assert git(homelab, "show", "--name-only", "--format=", "HEAD").split("\n")[0] == ":(top)net*.yaml"
    assert git(homelab, "show", "--name-only", "--format=", "HEAD").strip() == ":(top)net*.yaml"
    assert git(homelab, "status", "--porcelain") == "M  network.yaml\n"


def test_manifest_names_are_plain_file_names(homelab, client):
    (homelab / "network.yaml").write_text((homelab / "network.yaml").read_text() + "# operator's own change\n")
    before = state(homelab)
    for name in (":(top)net*.yaml", ":(glob)*.yaml", "a%00.yaml", "a" * 5000 + ".yaml", ".hidden.yaml",
                 "a b.yaml", "-x.yaml", "x.txt", "..%2Fx.yaml"):
        error_of(client.put(f"/api/v1/manifests/{name}", content=b"datasets: {}\n"), 400)
        error_of(client.get(f"/api/v1/manifests/{name}"), 400)
    assert state(homelab) == before
    r = client.put("/api/v1/manifests/sub/more.yaml", content=b"datasets:\n  tank/more: {}\n")
    assert r.status_code == 200, r.text
    assert git(homelab, "show", "--name-only", "--format=", "HEAD").strip() == "sub/more.yaml"


def test_the_settings_file_is_not_a_manifest(homelab, client):
    before = state(homelab)
    assert "settings" in error_of(client.put("/api/v1/manifests/converge.yaml", content=b"datasets: {}\n"), 403)
    error_of(client.get("/api/v1/manifests/converge.yaml"), 403)
    assert state(homelab) == before
    assert client.get("/api/v1/datasets").status_code == 200


def test_a_trailing_newline_in_a_url_addresses_nothing(homelab, client):
    applied(homelab)
    before = state(homelab)
    error_of(client.patch("/api/v1/interfaces/br0%0A", json={"mtu": 9000}), 404)
    r = client.delete("/api/v1/datasets/tank/media/music%0A")  # no route: .../ACTION is POST only
    error_of(r, 405)
    error_of(client.get("/api/v1/manifests/network.yaml%0A"), 404)
    assert state(homelab) == before


def test_odd_input_gets_a_clear_4xx(homelab, client):
    before = state(homelab)
    assert "5005 characters" in error_of(client.put("/api/v1/datasets/tank/" + "a" * 5000, json={}), 422)
    assert "at most 15" not in error_of(client.put("/api/v1/interfaces/" + "a" * 16, json={}), 422)
    as_json = {"content-type": "application/json"}
    error_of(client.put("/api/v1/datasets/tank/x", content=b"[" * 100_000, headers=as_json), 400)
    deep = b'{"properties":' * 40 + b"1" + b"}" * 40
    assert "deeper than" in error_of(client.put("/api/v1/datasets/tank/x", content=deep, headers=as_json), 400)
    assert "not UTF-8" in error_of(client.put("/api/v1/manifests/network.yaml", content=b"interfaces: {}\n# \xff\n"), 400)
    os.mkdir(homelab / "dir.yaml")
    error_of(client.put("/api/v1/manifests/dir.yaml", content=b"datasets: {}\n"), 409)
    error_of(client.get("/api/v1/manifests/dir.yaml"), 409)
    os.rmdir(homelab / "dir.yaml")
    nested = b"datasets:\n  tank/x: " + b"[" * 5000 + b"]" * 5000 + b"\n"
    deep_answer = client.put("/api/v1/manifests/deep.yaml", content=nested)  # the loader's located error
    error_of(deep_answer, 422)
    assert "nested more than 64 levels" in deep_answer.json()["error"]["details"][0]["message"]
    (homelab / "latin1.yaml").write_bytes(b"# caf\xe9\n")
    assert "not UTF-8" in error_of(client.get("/api/v1/manifests/latin1.yaml"), 409)
    os.unlink(homelab / "latin1.yaml")
    assert state(homelab) == before
    r = client.put("/api/v1/datasets/tank/" + "a" * 250, json={})  # 255 in all: ZFS's limit, accepted
    assert r.status_code == 200, r.text


RO_EDIT = """
import json, sys
from starlette.testclient import TestClient
from converge.api import create_app
c = TestClient(create_app(sys.argv[1]), raise_server_exceptions=False, base_url="http://localhost:8470",
               headers={"Authorization": "Bearer " + sys.argv[2]})
r = c.patch("/api/v1/interfaces/br0", json={"mtu": 9000})
print(json.dumps({"status": r.status_code, "body": r.json()}))
"""


def test_a_read_only_manifest_directory_answers_503_and_changes_nothing(homelab, client, admin_token):
    assert client.get("/api/v1/plan").status_code == 200  # .converge/ (sim host, edit lock) exists
    client.patch("/api/v1/interfaces/br0", json={"mtu": 1500})
    before = state(homelab)
    d = str(homelab)
    script = f"mount --bind -o ro {d} {d} && exec python3 -c \"$1\" {d} \"$2\""
    result = subprocess.run(["unshare", "-m", "--propagation", "private", "sh", "-c", script, "sh", RO_EDIT, admin_token],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    import json

    answer = json.loads(result.stdout.strip().splitlines()[-1])
    assert answer["status"] == 503, answer
    assert answer["body"]["error"]["code"] == "read_only"
    assert "Read-only file system" in answer["body"]["error"]["message"]
    assert state(homelab) == before


CONCURRENT_EDITS = """
import json, sys, threading
from starlette.testclient import TestClient
from converge.api import create_app
directory, tag, token = sys.argv[1], sys.argv[2], sys.argv[3]
client = TestClient(create_app(directory), raise_server_exceptions=False, base_url="http://localhost:8470",
                    headers={"Authorization": "Bearer " + token})
acknowledged, answers = [], []

def edits(thread):
    for i in range(8):
        name = f"tank/{tag}-{thread}-{i}"
        r = client.put("/api/v1/datasets/" + name, json={"properties": {"quota": "1G"}})
        answers.append(r.status_code)
        if r.status_code == 200:
            acknowledged.append([name, r.json()["commit"]])

threads = [threading.Thread(target=edits, args=(t,)) for t in range(2)]
[t.start() for t in threads]
[t.join() for t in threads]
print(json.dumps({"acknowledged": acknowledged, "answers": answers}))
"""


def test_two_processes_editing_one_directory_lose_no_edit(homelab, admin_token):
    import json

    env = dict(os.environ, GIT_AUTHOR_NAME="t", GIT_AUTHOR_EMAIL="t@e", GIT_COMMITTER_NAME="t",
               GIT_COMMITTER_EMAIL="t@e")
    procs = [subprocess.Popen(["python3", "-c", CONCURRENT_EDITS, str(homelab), tag, admin_token], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True, env=env) for tag in ("a", "b")]
    results = []
    for p in procs:
        out, err = p.communicate(timeout=300)
        assert p.returncode == 0, err
        results.append(json.loads(out.strip().splitlines()[-1]))
    acknowledged = [a for r in results for a in r["acknowledged"]]
    storage = (homelab / "storage.yaml").read_text()
    assert [name for name, _ in acknowledged if f"  {name}:" not in storage] == []  # none lost
    assert [s for r in results for s in r["answers"]] == [200] * 32  # and none refused: they wait their turn
    history = git(homelab, "log", "--format=%H").split()
    assert sorted(commit for _, commit in acknowledged) == sorted(history[:-1])
    assert git(homelab, "status", "--porcelain") == ""
