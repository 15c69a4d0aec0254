"""Pull mode end to end: a real `converge serve` on a loopback port (the central server) and a real
`converge watch --report` on a simulated host (temp directories) that posts its status after
its reconcile; the status shows in GET /api/v1/hosts. Another host's agent token is refused (403)
and the watcher only logs that, without the token, and goes on watching."""

from __future__ import annotations

import http.client
import json
import os
import shutil
import signal
import subprocess
import sys
import time

import pytest

from converge.api.auth import create_token

from .conftest import HOMELAB
from .test_serve import serve, stop

pytestmark = pytest.mark.real


def request(port: int, method: str, path: str, token: str, body: dict | None = None) -> tuple[int, dict]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request(method, path, body=json.dumps(body) if body is not None else None,
                     headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
        answer = conn.getresponse()
        return answer.status, json.loads(answer.read() or b"{}")
    finally:
        conn.close()


def watch(directory, port: int, token_file, name: str, log) -> subprocess.Popen:
    """`converge watch --report` with its output in the file `log`."""
    with open(log, "w") as out:
        return subprocess.Popen([sys.executable, "-m", "converge.cli", "watch", str(directory), "--resync", "0",
                                 "--report", f"http://127.0.0.1:{port}", "--report-token-file", str(token_file),
                                 "--report-as", name], stdout=out, stderr=subprocess.STDOUT, start_new_session=True)


def stop_watch(proc: subprocess.Popen, log) -> str:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(60)
    return open(log).read()


def test_an_agent_reports_to_the_central_server(tmp_path):
    central = tmp_path / "central"
    central.mkdir()
    (central / "converge.yaml").write_text('hosts:\n  edge1: {address: "sim:edge1.json"}\n'
                                           '  edge2: {address: "sim:edge2.json"}\n')
    admin = create_token(str(central), "admin", "admin")
    tokens = {}
    for name in ("edge1", "edge2"):
        tokens[name] = tmp_path / f"{name}.token"
        tokens[name].write_text(create_token(str(central), f"agent-{name}", "agent", host=name) + "\n")
        tokens[name].chmod(0o600)  # as the README installs it: a token others may read is refused
    edge1 = tmp_path / "edge1"  # the host's own manifests; its simulated machine is edge1/.converge/
    shutil.copytree(HOMELAB, edge1, ignore=shutil.ignore_patterns(".converge"))
    proc, port, _ = serve(str(central))
    agents: list[subprocess.Popen] = []
    try:
        code, listed = request(port, "GET", "/api/v1/hosts", admin)
        assert code == 200 and all(h["status"] is None for h in listed["hosts"])
        logs = [tmp_path / "watch1.log", tmp_path / "watch2.log"]
        agents.append(watch(edge1, port, tokens["edge1"], "edge1", logs[0]))
        status = None
        for _ in range(600):
            code, listed = request(port, "GET", "/api/v1/hosts", admin)
            status = {h["name"]: h["status"] for h in listed["hosts"]}["edge1"]
            if status is not None or agents[0].poll() is not None:
                break
            time.sleep(0.1)
        assert status is not None, stop_watch(agents[0], logs[0])
        assert status["host"] == "edge1" and status["last_apply"]["result"] in ("changed", "held")
        assert status["last_apply"]["changes"] > 0 and status["age_seconds"] >= 0
        assert status["converged"] == (status["drift"] == 0)
        code, one = request(port, "GET", "/api/v1/hosts/edge1", admin)
        assert code == 200 and one["status"]["last_apply"] == status["last_apply"]
        # edge2's token may not post edge1's status: neither directly nor through a watcher
        edge2_token = tokens["edge2"].read_text().strip()
        code, refused = request(port, "POST", "/api/v1/hosts/edge1/status", edge2_token,
                                {**{k: v for k, v in status.items() if k not in ("received", "age_seconds")}})
        assert code == 403 and "posts the status of 'edge2' only" in refused["error"]["message"]
        agents.append(watch(edge1, port, tokens["edge2"], "edge1", logs[1]))
        for _ in range(600):
            if agents[1].poll() is not None or "report-refused" in logs[1].read_text():
                break
            time.sleep(0.1)
        assert agents[1].poll() is None, logs[1].read_text()  # a refused report never stops the watch
        output = stop_watch(agents[1], logs[1])
        assert "report-refused" in output and "403" in output
        assert edge2_token not in output and edge2_token not in " ".join(agents[1].args)
        assert tokens["edge1"].read_text().strip() not in stop_watch(agents[0], logs[0])
        stored = json.loads((central / ".converge" / "host-status.json").read_text())
        assert set(stored) == {"edge1"} and stored["edge1"]["last_apply"] == status["last_apply"]
    finally:
        for agent in agents:
            if agent.poll() is None:
                os.killpg(agent.pid, signal.SIGTERM)
                agent.wait(60)
        stop(proc)
