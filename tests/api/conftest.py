from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from converge.api import create_app

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


@pytest.fixture
def client(homelab):
    return TestClient(create_app(str(homelab)))
