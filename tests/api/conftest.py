from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from converge.api import create_app
from converge.api.auth import create_token

HOMELAB = Path(__file__).resolve().parents[2] / "examples" / "homelab"


def git(cwd, *args):
    env = {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@e", "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@e",
           "PATH": "/usr/bin:/bin", "HOME": str(cwd)}
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True, env=env).stdout


@pytest.fixture
def homelab(tmp_path):
    """A copy of examples/homelab in a git repository."""
    d = tmp_path / "homelab"
    shutil.copytree(HOMELAB, d, ignore=shutil.ignore_patterns(".converge"))
    (d / ".gitignore").write_text(".converge/\n")
    git(d, "init", "-q", "-b", "main")
    git(d, "add", "-A")
    git(d, "commit", "-qm", "homelab")
    return d


def api_client(app, token: str | None = None, **kwargs) -> TestClient:
    """A client that sends what a local caller sends: Host localhost, the token if given."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return TestClient(app, base_url="http://localhost:8470", headers=headers, **kwargs)


@pytest.fixture
def admin_token(homelab) -> str:
    return create_token(str(homelab), "admin", "admin")


@pytest.fixture
def client(homelab, admin_token):
    return api_client(create_app(str(homelab)), admin_token)


class Clock:
    """A clock a test moves by hand (token expiry, status ages)."""

    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock():
    return Clock()
