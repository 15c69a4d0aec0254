"""A real `converge serve` over a git copy of examples/homelab (simulated host, applied once),
and headless Debian chromium driven by Playwright (no browser download)."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from converge.api.auth import create_token

HOMELAB = Path(__file__).resolve().parents[2] / "examples" / "homelab"
CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def git(cwd: Path, *args: str) -> str:
    env = {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@e", "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@e",
           "PATH": "/usr/bin:/bin", "HOME": str(cwd)}
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True, env=env).stdout


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Server:
    def __init__(self, directory: Path, port: int, proc: subprocess.Popen, tokens: dict[str, str]) -> None:
        self.directory, self.port, self.proc, self.tokens = directory, port, proc, tokens
        self.url = f"http://127.0.0.1:{port}"


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    with serving(tmp_path) as started:
        yield started


@contextlib.contextmanager
def serving(tmp_path: Path, prepare: Callable[[Path], None] | None = None) -> Iterator[Server]:
    """The server over a fresh homelab copy; `prepare(directory)` edits it before its first commit."""
    d = tmp_path / "homelab"
    shutil.copytree(HOMELAB, d, ignore=shutil.ignore_patterns(".converge"))
    (d / ".gitignore").write_text(".converge/\n")
    if prepare is not None:
        prepare(d)
    git(d, "init", "-q", "-b", "main")
    git(d, "add", "-A")
    git(d, "commit", "-qm", "homelab")
    applied = subprocess.run([sys.executable, "-m", "converge.cli", "apply", str(d)], capture_output=True, text=True, timeout=120)
    assert applied.returncode == 0, applied.stderr
    tokens = {"alice": create_token(str(d), "alice", "admin"), "victor": create_token(str(d), "victor", "viewer")}
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "converge.cli", "serve", str(d), "--listen", f"127.0.0.1:{port}"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
    try:
        for _ in range(150):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.1).close()
                break
            except OSError:
                if proc.poll() is not None:
                    pytest.fail(f"converge serve exited: {proc.stderr.read().decode()}")
                time.sleep(0.1)
        else:
            pytest.fail(f"converge serve is not listening on {port} after 15 s")
        yield Server(d, port, proc, tokens)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)  # its own session: exactly the server we started
            proc.wait(10)
        proc.stderr.close()


@pytest.fixture
def browser(tmp_path: Path):
    """A fresh headless chromium profile; fails with the reason when chromium cannot start."""
    if not os.access(CHROMIUM, os.X_OK):
        pytest.fail(f"{CHROMIUM} is missing: install Debian's chromium (.ci/apt-packages.txt)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.fail("playwright is missing: pip install -e '.[test]'")
    with sync_playwright() as p:
        context = p.chromium.launch_persistent_context(str(tmp_path / "profile"), executable_path=CHROMIUM,
                                                       headless=True, args=ARGS, viewport={"width": 1280, "height": 900})
        context.set_default_timeout(30_000)
        try:
            yield context
        finally:
            context.close()


def sign_in(page, server: Server, who: str) -> None:
    page.goto(server.url + "/")
    page.fill("#token-form input[name=token]", server.tokens[who])
    page.click("#token-form button")
    try:
        page.wait_for_selector("#kinds .card")
    except Exception:
        # Seen once in a full CI run and not reproduced since: no overview after signing in. The
        # page's text says why (an API error box?): it is printed, and the overview is asked for
        # once more, so a second failure is the test's failure.
        first = page.inner_text("body")[:1500]
        print(f"no overview after signing in as {who}; the page showed: {first}", file=sys.stderr)
        page.reload()
        try:
            page.wait_for_selector("#kinds .card")
        except Exception as e:
            raise AssertionError(f"no overview after signing in as {who}, twice: {e}\nfirst: {first}\n"
                                 f"then: {page.inner_text('body')[:1500]}") from None
