"""Real Samba 4.17: smbd on 127.0.0.1:4450 (REAL-COMPONENTS.md), shares applied with the smb
kind through LocalHost(root=TMP), checked with smbclient; the reload is shown by smbd's own
debug level, which only a reload-config makes the running parent pick up."""

from __future__ import annotations

import os
import pathlib
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time

import pytest
from shares_support import FakeDesired, apply, plan

from converge.hosts import LocalHost
from converge.resources.base import Context
from converge.resources.smb import SmbKind, SmbShareSpec

pytestmark = pytest.mark.real
KIND = SmbKind()
PORT = 4450
GLOBAL = """[global]
\tsmb ports = {port}
\tinterfaces = lo
\tbind interfaces only = yes
\tdisable netbios = yes
\tserver role = standalone server
\tmap to guest = Bad User
\tload printers = no
\tprinting = bsd
\tprintcap name = /dev/null
\tdisable spoolss = yes
\trpc start on demand helpers = no
\tlog level = 1
""" + "".join(f"\t{p} = {{run}}/{d}\n" for p, d in [
    ("private dir", "private"), ("lock directory", "lock"), ("state directory", "state"),
    ("cache directory", "cache"), ("pid directory", "pid"), ("ncalrpc dir", "ncalrpc"), ("log file", "log/log.%m")])


def _listening(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


@pytest.fixture(scope="module")
def smbd():
    """smbd + samba-dcerpcd in their own session, config under ROOT/etc/samba/smb.conf (without
    the include line: converge adds it). Stopped by process group."""
    # not under pytest's 0700 temp dir: the guest account (nobody) must reach the share directories
    base = pathlib.Path(tempfile.mkdtemp(prefix="converge-samba-"))
    base.chmod(0o755)
    root, run = base / "root", base / "run"
    for d in ("private", "lock", "state", "cache", "pid", "ncalrpc", "log"):
        (run / d).mkdir(parents=True)
    (root / "etc/samba").mkdir(parents=True)
    config = root / "etc/samba/smb.conf"
    config.write_text(GLOBAL.format(port=PORT, run=run))
    if _listening(PORT):
        pytest.fail(f"port {PORT} is already in use: cannot start a test smbd")
    launcher = ('/usr/libexec/samba/samba-dcerpcd --foreground --libexec-rpcds --configfile="$1" & '
                'exec smbd --foreground --no-process-group --configfile="$1"')
    proc = subprocess.Popen(["sh", "-c", launcher, "sh", str(config)], start_new_session=True,
                            stdout=open(base / "smbd.out", "w"), stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 10
    while not _listening(PORT):
        if proc.poll() is not None or time.monotonic() > deadline:
            os.killpg(proc.pid, signal.SIGKILL)
            pytest.fail(f"smbd did not start: {(base / 'smbd.out').read_text()[-2000:]}")
        time.sleep(0.05)
    yield {"root": root, "config": config, "pgid": proc.pid, "base": base}
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    time.sleep(0.2)
    try:
        os.killpg(proc.pid, signal.SIGKILL)  # anything of the group still around (dcerpcd)
    except ProcessLookupError:
        pass
    shutil.rmtree(base)


def sh(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, capture_output=True, text=True, timeout=30, env=dict(os.environ, LC_ALL="C"))


def listing(smbd) -> dict[str, str]:
    out = sh("smbclient", "-L", "//127.0.0.1", "-p", str(PORT), "-N", f"--configfile={smbd['config']}")
    assert out.returncode == 0, out.stderr + out.stdout
    return {m.group(1): m.group(2).strip() for m in re.finditer(r"^\t(\S+)[ \t]+Disk[ \t]*([^\n]*)$", out.stdout, re.M)}


def guest_put(smbd, share: str, name: str) -> subprocess.CompletedProcess[str]:
    local = smbd["base"] / "upload.txt"
    local.write_text("hello\n")
    return sh("smbclient", f"//127.0.0.1/{share}", "-p", str(PORT), "-N", f"--configfile={smbd['config']}",
              "-c", f"put {local} {name}")


def debuglevel(smbd) -> str:
    out = sh("smbcontrol", f"--configfile={smbd['config']}", "smbd", "debuglevel")
    return next(line for line in out.stdout.splitlines() if line.startswith(f"PID {smbd['pgid']}:"))


def context(smbd, **shares: dict) -> Context:
    specs = {n: SmbShareSpec.model_validate(s) for n, s in shares.items()}
    return Context(host=LocalHost(root=str(smbd["root"])), desired=FakeDesired(smb=specs))


def test_apply_change_remove_on_real_samba(smbd):
    root = smbd["root"]
    for d in ("srv/pub", "srv/ro", "srv/team"):
        (root / d).mkdir(parents=True)
        os.chmod(root / d, 0o777)  # the guest account (nobody) writes here
    shares = {"pub": {"path": "/srv/pub", "guest_ok": True, "read_only": False, "comment": "Public"},
              "ro": {"path": "/srv/ro", "guest_ok": True},
              "team": {"path": "/srv/team", "valid_users": ["root"], "browseable": True, "create_mask": "0640"}}
    before = debuglevel(smbd)
    assert apply(KIND, context(smbd, **shares)) == []
    assert listing(smbd) == {"pub": "Public", "ro": "", "team": ""}
    assert f"include = {root}/etc/samba/converge.conf" in smbd["config"].read_text()
    assert "\tpath = " + str(root / "srv/pub") in (root / "etc/samba/converge.conf").read_text()
    put = guest_put(smbd, "pub", "a.txt")
    assert put.returncode == 0 and (root / "srv/pub/a.txt").read_text() == "hello\n", put.stdout + put.stderr
    put = guest_put(smbd, "ro", "a.txt")
    assert "NT_STATUS_ACCESS_DENIED" in put.stdout + put.stderr and not (root / "srv/ro/a.txt").exists()
    assert debuglevel(smbd) == before  # log level unchanged so far

    # the admin raises the log level in smb.conf; only a reload makes the running smbd use it
    config = smbd["config"]
    config.write_text(config.read_text().replace("log level = 1", "log level = 3"))
    shares["ro"] = {"path": "/srv/ro", "guest_ok": True, "read_only": False, "comment": "now writable"}
    del shares["team"]
    changes = plan(KIND, context(smbd, **shares))
    assert [(str(c.ref), c.action.value) for c in changes] == [("smb/ro", "~"), ("smb/team", "-")]
    assert apply(KIND, context(smbd, **shares)) == []
    assert "all:3" in debuglevel(smbd)  # reload-config was sent
    assert listing(smbd) == {"pub": "Public", "ro": "now writable"}
    assert guest_put(smbd, "ro", "b.txt").returncode == 0 and (root / "srv/ro/b.txt").exists()

    # a second apply does nothing at all: reads only
    ctx = context(smbd, **shares)
    assert plan(KIND, ctx) == []
    assert [c[0] for c in ctx.host.commands] == ["testparm"]


def test_testparm_rejects_a_bad_value_and_nothing_is_installed(smbd):
    root = smbd["root"]
    (root / "srv/bad").mkdir(parents=True, exist_ok=True)
    installed = (root / "etc/samba/converge.conf").read_text()
    ctx = context(smbd, bad={"path": "/srv/bad", "options": {"oplocks": "maybe"}})
    changes = plan(KIND, ctx)
    from shares_support import run_steps

    from converge.errors import CommandFailed

    with pytest.raises(CommandFailed, match="value is not boolean"):
        run_steps(ctx, changes[0].steps)
    assert (root / "etc/samba/converge.conf").read_text() == installed
    assert "bad" not in listing(smbd)
