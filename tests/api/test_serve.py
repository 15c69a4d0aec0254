"""The real `converge serve` under uvicorn on a free loopback port, driven with curl."""

from __future__ import annotations

import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import time

import pytest

from converge.api.auth import create_token

from .conftest import git

pytestmark = pytest.mark.real


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def curl(*args: str, token: str | None = None) -> tuple[int, dict]:
    auth = ["-H", f"Authorization: Bearer {token}"] if token else []
    out = subprocess.run(["curl", "-sS", "-w", "\n%{http_code}", *auth, *args], capture_output=True, text=True, timeout=30)
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


def serve(directory: str, *args: str, cwd: str | None = None) -> tuple[subprocess.Popen, int, str | None]:
    """`converge serve DIRECTORY` on a free loopback port: the process, the port, and the admin
    token it printed (None when the directory had a token store already)."""
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "converge.cli", "serve", directory, "--listen", f"127.0.0.1:{port}",
                             *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True, cwd=cwd)
    token = None
    for _ in range(20):
        line = proc.stderr.readline().decode()
        if not line:
            pytest.fail(f"converge serve exited: {proc.stderr.read().decode()}")
        if line.strip().startswith("cvg_"):
            token = line.strip()
        if line.startswith("converge API on"):
            break
    wait_listening(port, proc)
    return proc, port, token


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(10)
    proc.stdout.close()
    proc.stderr.close()


def test_serve_with_curl(homelab):
    proc, port, token = serve(str(homelab))
    base = f"http://127.0.0.1:{port}/api/v1"
    try:
        assert token and '"admin"' in (homelab / ".converge" / "tokens.json").read_text()
        assert token not in (homelab / ".converge" / "tokens.json").read_text()
        code, body = curl("-X", "POST", f"{base}/datasets", "-H", "Content-Type: application/json",
                          "-d", '{"name": "tank/nope"}')
        assert code == 401  # no token, no write
        code, body = curl("-X", "POST", f"{base}/datasets", "-H", "Content-Type: application/json",
                          "-d", '{"name": "tank/photos", "properties": {"quota": "500G"}}', token=token)
        assert code == 201 and body["file"] == "storage.yaml"
        code, body = curl("-X", "POST", f"{base}/containers/jellyfin/start", token=token)
        assert code == 200
        code, plan = curl(f"{base}/plan")  # reads on loopback need no token while serve's is the only one
        assert code == 200 and "dataset" in {c["ref"]["kind"] for c in plan["changes"]}
        code, job = curl("-X", "POST", f"{base}/apply", token=token)
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
        stop(proc)
    proc, port, again = serve(str(homelab))  # the second serve keeps the store and prints no token
    try:
        assert again is None
        assert curl(f"http://127.0.0.1:{port}/api/v1/jobs/x", token=token)[0] == 404
    finally:
        stop(proc)


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
    proc, port, token = serve(str(homelab), "--watch", "--resync", "0", "--debounce", "200")
    base = f"http://127.0.0.1:{port}/api/v1"
    storage = homelab / "storage.yaml"
    try:
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
        code, body = curl("-X", "POST", f"{base}/approvals", "-H", "Content-Type: application/json", "-d", "{}",
                          token=token)
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


def request(port: int, method: str, path: str, token: str | None = None, headers: dict | None = None,
            body: bytes | None = None) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        auth = {"Authorization": f"Bearer {token}"} if token else {}
        conn.request(method, path, body=body, headers={**auth, **(headers or {})})
        r = conn.getresponse()
        return r.status, r.read()
    finally:
        conn.close()


def open_stream(port: int, token: str) -> tuple[socket.socket, int]:
    """An event stream left idle: the socket and the status line's code."""
    s = socket.create_connection(("127.0.0.1", port), timeout=30)
    s.sendall(f"GET /api/v1/events?timeout=120 HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
              f"Authorization: Bearer {token}\r\n\r\n".encode())
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = s.recv(4096)
        if not chunk:
            break
        head += chunk
    return s, int(head.split(b" ", 2)[1]) if head else 0


def test_idle_event_streams_do_not_starve_the_api(homelab):
    """Each stream once held a worker thread: 200 idle ones made a GET wait for seconds."""
    viewers = [create_token(str(homelab), f"viewer{i}", "viewer") for i in range(26)]
    admin = create_token(str(homelab), "alice", "admin")
    proc, port, _ = serve(str(homelab))
    streams: list[socket.socket] = []
    try:
        start = time.monotonic()
        assert request(port, "GET", "/api/v1/datasets", viewers[0])[0] == 200
        alone = time.monotonic() - start
        for token in viewers[1:]:
            for _ in range(8):
                s, code = open_stream(port, token)
                streams.append(s)
                assert code == 200
        s, code = open_stream(port, viewers[1])
        s.close()
        assert code == 429  # 8 streams per token
        start = time.monotonic()
        assert request(port, "GET", "/api/v1/datasets", viewers[0])[0] == 200
        crowded = time.monotonic() - start
        assert crowded < max(2.0, 4 * alone), (alone, crowded)
        code, _ = request(port, "POST", "/api/v1/datasets", admin, {"Content-Type": "application/json"},
                          b'{"name": "tank/ev"}')
        assert code == 201
        streams[-1].settimeout(10)
        got = b""
        while b"event: edit" not in got:
            got += streams[-1].recv(65536)  # an idle stream wakes for the edit
        assert b"api: create dataset tank/ev" in got
    finally:
        for s in streams:
            s.close()
        stop(proc)


def test_x_forwarded_for_does_not_make_a_new_client(homelab):
    create_token(str(homelab), "alice", "admin")
    proc, port, _ = serve(str(homelab))
    try:
        codes = [request(port, "GET", "/api/v1/plan", "cvg_wrong", {"X-Forwarded-For": f"203.0.113.{i}"})[0]
                 for i in range(15)]
        assert 429 in codes, codes
    finally:
        stop(proc)


def test_serve_keeps_working_when_its_working_directory_is_deleted(homelab, tmp_path):
    work = tmp_path / "work"
    work.mkdir()
    proc, port, token = serve("../homelab", "--root", "../root", cwd=str(work))
    try:
        work.rmdir()
        assert request(port, "GET", "/api/v1/datasets", token)[0] == 200
        code, body = request(port, "POST", "/api/v1/datasets", token, {"Content-Type": "application/json"},
                             b'{"name": "tank/after"}')
        assert code == 201, body
        assert "tank/after" in (homelab / "storage.yaml").read_text()
    finally:
        stop(proc)


def test_a_stream_slot_comes_back_when_its_client_goes_away(homelab):
    """Keepalive comments find clients that left an idle stream, so their slots are not held."""
    import threading

    import uvicorn

    from converge.api import create_app

    token = create_token(str(homelab), "alice", "viewer")
    port = free_port()
    app = create_app(str(homelab), listen=f"127.0.0.1:{port}", keepalive=0.2)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", proxy_headers=False))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        for _ in range(100):
            if server.started:
                break
            time.sleep(0.1)
        streams = [open_stream(port, token) for _ in range(8)]
        assert [code for _, code in streams] == [200] * 8
        s, code = open_stream(port, token)
        s.close()
        assert code == 429
        for s, _ in streams:
            s.close()
        for _ in range(50):
            s, code = open_stream(port, token)
            s.close()
            if code == 200:
                break
            time.sleep(0.1)
        assert code == 200
    finally:
        server.should_exit = True
        thread.join(10)
