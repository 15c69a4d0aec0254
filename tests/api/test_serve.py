"""The real `converge serve` under uvicorn on a free loopback port, driven with curl."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time

import pytest

from .conftest import git

pytestmark = pytest.mark.real


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def curl(*args: str) -> tuple[int, dict]:
    out = subprocess.run(["curl", "-sS", "-w", "\n%{http_code}", *args], capture_output=True, text=True, timeout=30)
    if out.returncode != 0:
        pytest.fail(f"curl {' '.join(args)}: {out.stderr}")
    body, _, code = out.stdout.rpartition("\n")
    return int(code), json.loads(body) if body.strip() else {}


def wait_listening(port: int, proc: subprocess.Popen) -> None:
    for _ in range(100):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.1).close()
            return
        except OSError:
            if proc.poll() is not None:
                pytest.fail(f"converge serve exited: {proc.stderr.read().decode()}")
            time.sleep(0.1)
    pytest.fail(f"converge serve is not listening on {port} after 10 s")


def test_serve_with_curl(homelab):
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "converge.cli", "serve", str(homelab), "--listen", f"127.0.0.1:{port}"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
    base = f"http://127.0.0.1:{port}/api/v1"
    try:
        wait_listening(port, proc)
        code, body = curl("-X", "POST", f"{base}/datasets", "-H", "Content-Type: application/json",
                          "-d", '{"name": "tank/photos", "properties": {"quota": "500G"}}')
        assert code == 201 and body["file"] == "storage.yaml"
        code, body = curl("-X", "POST", f"{base}/containers/jellyfin/start")
        assert code == 200
        code, plan = curl(f"{base}/plan")
        assert code == 200 and "dataset" in {c["ref"]["kind"] for c in plan["changes"]}
        code, job = curl("-X", "POST", f"{base}/apply")
        assert code == 202
        for _ in range(100):
            code, status = curl(f"{base}/jobs/{job['id']}")
            if status["status"] not in ("queued", "running"):
                break
            time.sleep(0.1)
        assert status["status"] == "done", status
        code, plan = curl(f"{base}/plan")
        assert plan["changes"] == []
        assert "api: create dataset tank/photos" in git(homelab, "log", "--format=%s")
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(10)


def test_serve_refuses_a_public_address_without_tokens(homelab):
    out = subprocess.run([sys.executable, "-m", "converge.cli", "serve", str(homelab), "--listen", "0.0.0.0:8470"],
                         capture_output=True, text=True, timeout=30)
    assert out.returncode == 1 and "without tokens" in out.stderr


def sse(base: str) -> list[dict]:
    """Every event so far on the API's stream (it is read for half a second, then closed)."""
    out = subprocess.run(["curl", "-sSN", f"{base}/events?since=0&timeout=0.5"], capture_output=True, text=True,
                         timeout=30)
    return [json.loads(line[len("data: "):]) for line in out.stdout.splitlines() if line.startswith("data: ")]


def wait_for_event(base: str, proc: subprocess.Popen, match) -> dict:
    for _ in range(40):
        found = [e for e in sse(base) if match(e)]
        if found:
            return found[0]
        if proc.poll() is not None:
            pytest.fail(f"converge serve exited: {proc.stderr.read().decode()}")
    pytest.fail(f"no such event in {sse(base)}")


def test_serve_watch_applies_saves_and_streams_the_watcher_events(homelab):
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "converge.cli", "serve", str(homelab), "--listen", f"127.0.0.1:{port}",
                             "--watch", "--resync", "0", "--debounce", "200"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
    base = f"http://127.0.0.1:{port}/api/v1"
    storage = homelab / "storage.yaml"
    try:
        wait_listening(port, proc)
        start = wait_for_event(base, proc, lambda e: e.get("source") == "watch" and e.get("trigger") == "start")
        assert "dataset/tank/media/music" in start["applied"]
        time.sleep(0.3)  # the file watcher is set up right after the start reconcile
        storage.write_text(storage.read_text().replace("quota: 200G", "quota: 300G"))
        save = wait_for_event(base, proc, lambda e: e.get("source") == "watch" and e.get("trigger") == "save")
        assert save["applied"] == ["dataset/tank/media/music"] and save["files"] == ["storage.yaml"]
        assert any(e.get("source") == "watch" and e["event"] == "change" for e in sse(base))  # per-change progress

        storage.write_text(storage.read_text().replace("  tank/media/movies: {}\n", ""))
        held = wait_for_event(base, proc, lambda e: e.get("held"))
        assert held["held"] == ["dataset/tank/media/movies"]
        code, body = curl("-X", "POST", f"{base}/approvals", "-H", "Content-Type: application/json", "-d", "{}")
        assert code == 200 and body == {"approved": ["dataset/tank/media/movies"]}
        done = wait_for_event(base, proc, lambda e: e.get("trigger") == "save" and e.get("applied")
                              == ["dataset/tank/media/movies"])
        assert done["files"] == [".converge/approvals.json"]
        code, plan = curl(f"{base}/plan")
        assert plan["changes"] == []
        os.killpg(proc.pid, signal.SIGTERM)
        assert proc.wait(10) == 0  # the watcher thread is stopped and joined, not killed
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)
        proc.stdout.close()
        proc.stderr.close()
