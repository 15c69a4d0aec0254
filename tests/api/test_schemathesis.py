"""schemathesis against a real `converge serve`: every check, the stateful phase on, a bounded run.

The server runs on a copy of examples/homelab (simulated host) with a named admin token (so
reads need it too) and rate limits raised in converge.yaml. Answers a schema cannot foresee
are expected where they are the truth: 409 (exists already, a template), 412 (If-Match that
is not the current ETag) and 422 (the manifests would not validate: references, values)."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys

import pytest

from converge.api.auth import create_token

from .test_serve import free_port, wait_listening

pytestmark = pytest.mark.real  # a real server on a loopback port, driven by a real client

CONFIG = """
[checks.positive_data_acceptance]
expected-statuses = ["2xx", 401, 403, 404, 409, 412, 422]

[checks.negative_data_rejection]
expected-statuses = [400, 401, 403, 404, 405, 409, 412, 413, 415, 422]
"""


def test_schemathesis_finds_nothing(homelab, tmp_path):
    st = shutil.which("st")
    if st is None:
        pytest.fail("schemathesis (`st`) is not installed: pip install -e '.[test]'")
    with open(homelab / "converge.yaml", "a") as f:
        f.write("api:\n  rate_limits: {reads_per_minute: 1000000, writes_per_minute: 1000000, logins_per_minute: 1000000, "
                "anonymous_per_minute: 1000000, account_logins_per_minute: 1000000}\n")
    token = create_token(str(homelab), "fuzzer", "admin")  # a named token: no anonymous reads
    (tmp_path / "schemathesis.toml").write_text(CONFIG)
    port = free_port()
    log = tmp_path / "serve.log"
    with open(log, "wb") as err:  # a file, not a pipe nobody reads: the server never blocks on its log
        proc = subprocess.Popen([sys.executable, "-m", "converge.cli", "serve", str(homelab), "--listen",
                                 f"127.0.0.1:{port}"], stdout=err, stderr=err, start_new_session=True)
    try:
        wait_listening(port, proc)
        out = subprocess.run(
            [st, "--config-file", str(tmp_path / "schemathesis.toml"), "run", f"http://127.0.0.1:{port}/openapi.json",
             "--checks", "all", "--phases", "examples,coverage,fuzzing,stateful", "--max-examples", "5",
             "--max-time", "100", "--request-timeout", "20",
             "--exclude-path", "/api/v1/events",  # a stream: it answers for as long as it is asked to
             "--exclude-path", "/api/v1/ws",  # a WebSocket: plain HTTP only ever gets its 426
             "--suppress-health-check", "filter_too_much", "--no-shrink", "--seed", os.environ.get("CONVERGE_ST_SEED", "1"),  # another seed to explore
             "-w", "1",  # one thread: CPython 3.11.7 ast.parse in two threads at once (hypothesis) can crash
             "-H", f"Authorization: Bearer {token}"],
            capture_output=True, text=True, timeout=300, cwd=tmp_path)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(10)
    (tmp_path / "schemathesis.txt").write_text(out.stdout + out.stderr)
    summary = out.stdout[out.stdout.rfind("SUMMARY"):]
    assert out.returncode == 0, out.stdout[-20000:]
    assert "failures" not in summary.splitlines()[-1] and "error" not in summary.splitlines()[-1], summary
