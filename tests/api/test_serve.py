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


def test_serve_with_curl(homelab):
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "converge.cli", "serve", str(homelab), "--listen", f"127.0.0.1:{port}"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
    base = f"http://127.0.0.1:{port}/api/v1"
    try:
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.1).close()
                break
            except OSError:
                if proc.poll() is not None:
                    pytest.fail(f"converge serve exited: {proc.stderr.read().decode()}")
                time.sleep(0.1)
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
