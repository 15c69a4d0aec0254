"""The web overview's first burst against a real `converge serve`: every answer is 2xx."""

from __future__ import annotations

import subprocess
import sys
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor

import pytest

from converge.api.auth import create_token
from converge.api.service import collections

from .test_serve import serve, stop

pytestmark = pytest.mark.real


def test_the_overview_requests_at_once_all_succeed(homelab):
    applied = subprocess.run([sys.executable, "-m", "converge.cli", "apply", str(homelab)], capture_output=True, text=True, timeout=120)
    assert applied.returncode == 0, applied.stderr
    token = create_token(str(homelab), "alice", "admin")
    proc, port, _ = serve(str(homelab))
    # what views/overview.js asks for right after signing in, all at once
    paths = ["/api/v1/auth/me", "/api/v1/health", "/api/v1/plan", "/api/v1/schedules",
             *(f"/api/v1/{c}?limit=1000" for c in collections())]

    def get(path: str) -> tuple[str, int, str]:
        req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", headers={"Authorization": f"Bearer {token}"})
        try:
            with urllib.request.urlopen(req, timeout=60) as r:
                r.read()
                return path, r.status, ""
        except urllib.error.HTTPError as e:
            return path, e.code, e.read().decode()[:300]

    try:
        with ThreadPoolExecutor(len(paths)) as pool:
            for _ in range(10):
                failed = [r for r in pool.map(get, paths) if r[1] // 100 != 2]
                assert not failed, failed
    finally:
        stop(proc)
