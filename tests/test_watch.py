"""The watcher with real file events in a temp directory (watchfiles, not a mock)."""

from __future__ import annotations

import io
import json
import threading
import time

import pytest
import structlog

from converge import approvals, engine
from converge.hosts import SimHost
from converge.lock import apply_lock
from converge.logs import configure
from converge.model import Ref
from converge.watch import Watcher

MANIFEST = """pools:
  tank: {vdevs: [{type: mirror, disks: [/dev/sdb, /dev/sdc]}]}
datasets:
  tank/media: {properties: {quota: 1T}}
  tank/old: {}
"""
DEBOUNCE_MS = 200


class Running:
    """A watcher in a thread, with its events."""

    def __init__(self, directory, **options):
        self.events: list[dict] = []
        self.cond = threading.Condition()
        options.setdefault("debounce_ms", DEBOUNCE_MS)
        self.watcher = Watcher(str(directory), on_event=self._record, **options)
        self.stop = threading.Event()

    def _record(self, event):
        json.dumps(event)  # the API's event stream sends them as JSON
        with self.cond:
            self.events.append(event)
            self.cond.notify_all()

    def reconciles(self):
        return [e for e in self.events if e["event"] in ("reconcile", "invalid", "error", "drift")]

    def wait_for(self, count, timeout=10.0):
        deadline = time.monotonic() + timeout
        with self.cond:
            while len(self.reconciles()) < count:
                left = deadline - time.monotonic()
                assert left > 0, f"only {len(self.reconciles())} reconciles: {self.reconciles()}"
                self.cond.wait(left)
        return self.reconciles()[count - 1]

    def __enter__(self):
        self.thread = self.watcher.start(self.stop)  # as `serve --watch` runs it
        self.wait_for(1)
        time.sleep(0.3)  # let the file watcher settle before the test saves
        return self

    def __exit__(self, *exc):
        self.stop.set()
        self.thread.join(10)


@pytest.fixture
def nas(tmp_path):
    d = tmp_path / "nas"
    d.mkdir()
    (d / "converge.yaml").write_text(json.dumps({"sim": {"disks": ["/dev/sdb", "/dev/sdc"]}}))
    (d / "main.yaml").write_text(MANIFEST)
    return d


def quota(d, name="tank/media"):
    host = SimHost(str(d / ".converge" / "sim-host.json"))
    # the simulated zfs keeps a size as zfs prints it with -p: bytes, as text
    return int(host.facts.of("dataset")[name].spec["properties"]["quota"]) if name in host.facts.of("dataset") else None


def test_a_save_applies_within_debounce_plus_a_second(nas):
    with Running(nas) as w:
        assert w.reconciles()[0]["trigger"] == "start" and quota(nas) == 1 << 40
        saved = time.monotonic()
        (nas / "main.yaml").write_text(MANIFEST.replace("quota: 1T", "quota: 2T"))
        event = w.wait_for(2)
        assert time.monotonic() - saved < DEBOUNCE_MS / 1000 + 1
        assert event["trigger"] == "save" and event["files"] == ["main.yaml"]
        assert event["applied"] == ["dataset/tank/media"] and quota(nas) == 2 << 40


@pytest.mark.parametrize("gap", [0.01, 0.1], ids=["ten-saves-in-100ms", "a-save-every-100ms-for-a-second"])
def test_a_burst_of_saves_gives_one_reconcile(nas, gap):
    """Saves of one file closer than the debounce are one burst, however long it lasts (watchfiles
    alone cuts it every two steps: the same path does not grow its set of changes)."""
    with Running(nas) as w:
        for i in range(10):
            (nas / "main.yaml").write_text(MANIFEST.replace("quota: 1T", f"quota: {i + 1}G"))
            time.sleep(gap)
        w.wait_for(2)
        time.sleep(DEBOUNCE_MS / 1000 * 3)
        assert len(w.reconciles()) == 2 and quota(nas) == 10 << 30


def test_broken_save_applies_nothing_and_a_fixed_save_applies(nas):
    with Running(nas) as w:
        (nas / "main.yaml").write_text(MANIFEST.replace("quota: 1T", "quota: 2X"))
        event = w.wait_for(2)
        assert event["event"] == "invalid"
        assert "nas/main.yaml:4:29: datasets.tank/media.properties.quota: '2X' is not a size" in event["issues"][0]
        assert quota(nas) == 1 << 40
        (nas / "main.yaml").write_text(MANIFEST.replace("quota: 1T", "quota: 3T"))
        assert w.wait_for(3)["applied"] == ["dataset/tank/media"] and quota(nas) == 3 << 40


def test_editor_litter_and_git_do_not_trigger(nas):
    with Running(nas) as w:
        (nas / ".main.yaml.swp").write_text("x")
        (nas / "main.yaml~").write_text("x")
        (nas / ".git").mkdir()
        (nas / ".git" / "HEAD").write_text("ref: refs/heads/main\n")
        time.sleep(DEBOUNCE_MS / 1000 * 4)
        assert len(w.reconciles()) == 1


def test_drift_is_repaired_on_resync(nas):
    with Running(nas, resync_s=0.5) as w:
        host = SimHost(str(nas / ".converge" / "sim-host.json"))
        host.run(["zfs", "set", "quota=5368709120", "tank/media"])  # a change made outside converge
        host.flush()
        deadline = time.monotonic() + 5
        while quota(nas) != 1 << 40 or not any(e["trigger"] == "resync" and e.get("applied") for e in w.reconciles()):
            assert time.monotonic() < deadline, w.reconciles()
            time.sleep(0.1)


def test_drift_only_reported_when_asked(nas):
    with Running(nas, resync_s=0.5, drift="report") as w:
        host = SimHost(str(nas / ".converge" / "sim-host.json"))
        host.run(["zfs", "set", "quota=5368709120", "tank/media"])
        host.flush()
        deadline = time.monotonic() + 5
        while not any(e["event"] == "drift" and e["changes"] for e in w.reconciles()):
            assert time.monotonic() < deadline, w.reconciles()
            time.sleep(0.1)
        assert quota(nas) == 5 << 30


def test_held_destroy_waits_for_approval(nas):
    with Running(nas) as w:
        (nas / "main.yaml").write_text(MANIFEST.replace("  tank/old: {}\n", ""))
        event = w.wait_for(2)
        assert event["held"] == ["dataset/tank/old"]
        assert "held for approval (converge approve dataset/tank/old)" in event["why"]["dataset/tank/old"]
        assert "tank/old" in SimHost(str(nas / ".converge" / "sim-host.json")).facts.of("dataset")
        approvals.approve(str(nas), [Ref(kind="dataset", name="tank/old")])
        event = w.wait_for(3)
        assert event["applied"] == ["dataset/tank/old"]
        assert "tank/old" not in SimHost(str(nas / ".converge" / "sim-host.json")).facts.of("dataset")
        assert approvals.load(str(nas)) == set()  # an approval is used once
        time.sleep(DEBOUNCE_MS / 1000 * 4)
        assert len(w.reconciles()) == 3  # consuming it is no reason for another reconcile


def test_an_approval_matching_no_pending_destroy_expires(nas):
    """Approving tank/media (declared, nothing to destroy) must not release a later destroy of it."""
    with Running(nas) as w:
        approvals.approve(str(nas), [Ref(kind="dataset", name="tank/media")])
        assert w.wait_for(2)["applied"] == [] and approvals.load(str(nas)) == set()
        (nas / "main.yaml").write_text(MANIFEST.replace("  tank/media: {properties: {quota: 1T}}\n", ""))
        assert w.wait_for(3)["held"] == ["dataset/tank/media"] and quota(nas) == 1 << 40


def test_a_crashing_reconcile_is_reported_and_the_watcher_goes_on(nas):
    with Running(nas) as w:
        (nas / ".converge").rename(nas / "state-aside")
        (nas / ".converge").write_text("not a directory")  # the host state cannot be read: OSError
        (nas / "main.yaml").write_text(MANIFEST.replace("quota: 1T", "quota: 2T"))
        event = w.wait_for(2)
        assert event["event"] == "error" and event["error"].startswith("NotADirectoryError")
        (nas / ".converge").unlink()
        (nas / "state-aside").rename(nas / ".converge")
        (nas / "main.yaml").write_text(MANIFEST.replace("quota: 1T", "quota: 3T"))
        assert w.wait_for(3)["applied"] == ["dataset/tank/media"] and quota(nas) == 3 << 40


def test_a_broken_save_is_logged_with_its_location(nas):
    out = io.StringIO()
    configure(out, json=True)
    try:
        with Running(nas) as w:
            (nas / "main.yaml").write_text(MANIFEST.replace("quota: 1T", "quota: 2X"))
            w.wait_for(2)
    finally:
        structlog.reset_defaults()
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    start, invalid = (line for line in lines if line["event"] in ("reconcile", "invalid"))
    assert start["trigger"] == "start" and start["applied"] and "duration_ms" in start and "summary" in start
    assert invalid["level"] == "warning" and invalid["trigger"] == "save" and invalid["files"] == ["main.yaml"]
    assert any("main.yaml:4:29:" in issue and "'2X' is not a size" in issue for issue in invalid["issues"])


def test_watcher_and_a_concurrent_apply_do_not_overlap(nas):
    with Running(nas) as w:
        lock = engine.open_target(str(nas)).host.lock_path()
        with apply_lock(lock):  # a CLI apply in progress
            (nas / "main.yaml").write_text(MANIFEST.replace("quota: 1T", "quota: 4T"))
            time.sleep(DEBOUNCE_MS / 1000 + 0.8)
            assert len(w.reconciles()) == 1 and quota(nas) == 1 << 40  # waiting for the lock
        event = w.wait_for(2)
        assert event["applied"] == ["dataset/tank/media"] and quota(nas) == 4 << 40


def git(cwd, *args):
    import subprocess

    env = {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@e", "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@e",
           "PATH": "/usr/bin:/bin", "HOME": str(cwd)}
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True, env=env)


def test_git_pull_fast_forwards_and_applies_and_never_forces(tmp_path, nas):
    upstream = tmp_path / "upstream.git"
    git(tmp_path, "init", "-q", "--bare", "-b", "main", str(upstream))
    git(nas, "init", "-q", "-b", "main")
    git(nas, "add", "main.yaml", "converge.yaml")
    git(nas, "commit", "-qm", "first")
    git(nas, "remote", "add", "origin", str(upstream))
    git(nas, "push", "-q", "-u", "origin", "main")
    other = tmp_path / "laptop"
    git(tmp_path, "clone", "-q", str(upstream), str(other))
    (other / "main.yaml").write_text(MANIFEST.replace("quota: 1T", "quota: 7T"))
    git(other, "commit", "-qam", "bigger quota")
    git(other, "push", "-q")
    with Running(nas, git_pull_s=0.5, resync_s=0) as w:
        deadline = time.monotonic() + 8
        while quota(nas) != 7 << 40:
            assert time.monotonic() < deadline, w.events
            time.sleep(0.1)
        # A local commit that diverges: the next pull is reported, never forced.
        (nas / "converge.yaml").write_text((nas / "converge.yaml").read_text() + "\n")
        git(nas, "commit", "-qam", "local edit")
        (other / "main.yaml").write_text(MANIFEST.replace("quota: 1T", "quota: 8T"))
        git(other, "commit", "-qam", "even bigger")
        git(other, "push", "-q")
        deadline = time.monotonic() + 8
        while not any(e["event"] == "git-pull" and not e["ok"] for e in w.events):
            assert time.monotonic() < deadline, w.events
            time.sleep(0.1)
        assert quota(nas) == 7 << 40


def test_saves_during_an_apply_give_exactly_one_more_reconcile(nas):
    """Saves made while an apply runs (from its progress callback: real writes, mid-apply) are
    applied by exactly one more reconcile after it, with the last content."""
    saved_during = threading.Event()
    w: Running

    def save_mid_apply(event):
        if event["event"] == "change" and not saved_during.is_set() and w.reconciles():
            saved_during.set()
            for i in range(5):
                (nas / "main.yaml").write_text(MANIFEST.replace("quota: 1T", f"quota: {i + 20}G"))
                time.sleep(0.05)
            time.sleep(0.3)  # the apply goes on after the saves

    with Running(nas) as w:
        w.watcher.on_event = lambda e: (save_mid_apply(e), w._record(e))  # after the start reconcile
        (nas / "main.yaml").write_text(MANIFEST.replace("quota: 1T", "quota: 2T"))
        assert w.wait_for(2)["applied"] == ["dataset/tank/media"] and saved_during.is_set()
        third = w.wait_for(3)
        assert third["trigger"] == "save" and third["applied"] == ["dataset/tank/media"] and quota(nas) == 24 << 30
        time.sleep(DEBOUNCE_MS / 1000 * 4)
        assert len(w.reconciles()) == 3


def test_a_cli_apply_during_a_watcher_apply_waits_then_finds_nothing_to_do(nas):
    """Real `converge apply` processes started while the watcher is mid-apply (holding it there
    until the CLI is seen waiting on the lock file): without the shared lock the CLI would plan
    and apply the same change concurrently; with it, it waits and finds the host converged."""
    import os
    import subprocess
    import sys

    mid_apply, release, finished = threading.Event(), threading.Event(), []

    def hold(event):
        if event["event"] == "change" and w.reconciles() and not mid_apply.is_set():
            mid_apply.set()
            release.wait(30)
        if event["event"] == "reconcile" and event["trigger"] == "save":
            finished.append(time.monotonic())

    def has_open(pid, path):
        fds = f"/proc/{pid}/fd"
        return any(os.path.realpath(os.path.join(fds, fd)) == path for fd in os.listdir(fds))

    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
    cli = [sys.executable, "-m", "converge.cli", "apply", str(nas)]
    lock = os.path.realpath(engine.open_target(str(nas)).host.lock_path())
    with Running(nas) as w:
        w.watcher.on_event = lambda e: (hold(e), w._record(e))
        (nas / "main.yaml").write_text(MANIFEST.replace("quota: 1T", "quota: 2T"))
        assert mid_apply.wait(5)
        busy = subprocess.run(cli, capture_output=True, text=True, env=env)
        assert busy.returncode != 0 and "another apply is running on this host" in busy.stderr
        waiting = subprocess.Popen([*cli, "--lock-timeout", "60"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                   text=True, env=env)
        deadline = time.monotonic() + 30
        while not has_open(waiting.pid, lock):
            assert time.monotonic() < deadline and waiting.poll() is None
            time.sleep(0.05)
        release.set()
        out, err = waiting.communicate(60)
        cli_done = time.monotonic()
        assert w.wait_for(2)["applied"] == ["dataset/tank/media"]
    assert waiting.returncode == 0 and "No changes" in out, out + err
    assert finished and finished[0] < cli_done and quota(nas) == 2 << 40


def test_sigterm_stops_the_cli_watcher_cleanly(nas):
    import os
    import signal
    import subprocess
    import sys

    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
    proc = subprocess.Popen([sys.executable, "-m", "converge.cli", "watch", str(nas), "--resync", "0"],
                            stderr=subprocess.PIPE, text=True, env=env)
    try:
        deadline = time.monotonic() + 10
        while quota(nas) != 1 << 40:  # the start reconcile applied
            assert time.monotonic() < deadline and proc.poll() is None
            time.sleep(0.05)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(5) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_stopping_does_not_wait_out_another_process_apply(nas):
    """A watcher waiting for the lock (here for its start reconcile) stops within a second or so."""
    lock = engine.open_target(str(nas)).host.lock_path()
    with apply_lock(lock):  # a long CLI apply in progress
        events: list[dict] = []
        watcher = Watcher(str(nas), debounce_ms=DEBOUNCE_MS, on_event=events.append)  # lock_timeout 600 s
        stop = threading.Event()
        thread = threading.Thread(target=watcher.run, args=(stop,), daemon=True)
        thread.start()
        time.sleep(1.5)
        assert events == [] and quota(nas) is None  # still waiting
        stopped = time.monotonic()
        stop.set()
        thread.join(5)
        assert not thread.is_alive() and time.monotonic() - stopped < 2.5
    assert events[0]["event"] == "error" and "another apply is running" in events[0]["error"]


def test_a_fetch_that_hangs_is_reported_and_the_watcher_goes_on(nas, monkeypatch):
    """A remote that accepts and never answers (a loopback socket): the pull gives up, says so."""
    import socket

    from converge import watch

    server = socket.create_server(("127.0.0.1", 0))
    try:
        git(nas, "init", "-q", "-b", "main")
        git(nas, "remote", "add", "origin", f"git://127.0.0.1:{server.getsockname()[1]}/nas.git")
        monkeypatch.setattr(watch, "GIT_TIMEOUT_S", 1)
        events: list[dict] = []
        started = time.monotonic()
        assert Watcher(str(nas), on_event=events.append).git_pull() is False
        assert time.monotonic() - started < 3
        assert events == [{"event": "git-pull", "ok": False, "error": "git fetch: no answer in 1 s"}]
    finally:
        server.close()
