"""Real Samba 4.17: smbd on a free loopback port (REAL-COMPONENTS.md), shares applied with the smb
kind through LocalHost(root=TMP), checked with smbclient; the reload is shown by smbd's own
debug level, which only a reload-config makes the running parent pick up."""

from __future__ import annotations

import os
import pathlib
import re
import shutil
import socket
import subprocess
import tempfile

import pytest
from isolation import free_port, stop_group, unique_name, wait_for
from shares_support import FakeDesired, apply, plan

from converge.hosts import LocalHost
from converge.resources.base import Context
from converge.resources.shares.smb import SmbKind, SmbShareSpec

pytestmark = pytest.mark.real
KIND = SmbKind()
GLOBAL = """[global]
\tsmb ports = {port}
\tserver string = {tag}
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


def start_smbd(base: pathlib.Path, config: pathlib.Path, port: int) -> subprocess.Popen | None:
    """samba-dcerpcd + smbd in their own session; None when smbd never answered on `port` as
    this run's server (its server string) - another process may have taken the port first."""
    launcher = ('/usr/libexec/samba/samba-dcerpcd --foreground --libexec-rpcds --configfile="$1" & '
                'exec smbd --foreground --no-process-group --configfile="$1"')
    with open(base / "smbd.out", "w") as out:
        proc = subprocess.Popen(["sh", "-c", launcher, "sh", str(config)], start_new_session=True,
                                stdout=out, stderr=subprocess.STDOUT)

    def ours() -> bool:
        return proc.poll() is not None or (_listening(port) and unique_tag(config) in server_comment(config, port))

    if wait_for(ours, 60) and proc.poll() is None:
        return proc
    stop_group(proc)
    return None


def unique_tag(config: pathlib.Path) -> str:
    return re.search(r"server string = (\S+)", config.read_text()).group(1)  # type: ignore[union-attr]


def server_comment(config: pathlib.Path, port: int) -> str:
    out = sh("smbclient", "-L", "//127.0.0.1", "-p", str(port), "-N", f"--configfile={config}")
    return out.stdout


@pytest.fixture(scope="module")
def smbd():
    """smbd + samba-dcerpcd in their own session on a free loopback port, every directory under
    a temp dir of this run, config under ROOT/etc/samba/smb.conf (without the include line:
    converge adds it). Stopped by process group."""
    # not under pytest's 0700 temp dir: the guest account (nobody) must reach the share directories
    base = pathlib.Path(tempfile.mkdtemp(prefix=f"{unique_name()}-samba-"))
    base.chmod(0o755)
    root, run = base / "root", base / "run"
    for d in ("private", "lock", "state", "cache", "pid", "ncalrpc", "log"):
        (run / d).mkdir(parents=True)
    (root / "etc/samba").mkdir(parents=True)
    config = root / "etc/samba/smb.conf"
    for _ in range(3):  # the free port can be taken between our check and smbd's bind: pick another
        port = free_port()
        config.write_text(GLOBAL.format(port=port, run=run, tag=base.name.split("-")[0]))
        proc = start_smbd(base, config, port)
        if proc is not None:
            break
    else:
        shutil.rmtree(base)
        pytest.fail(f"smbd did not start: {(base / 'smbd.out').read_text()[-2000:]}")
    try:
        yield {"root": root, "config": config, "pgid": proc.pid, "base": base, "port": port}
    finally:
        stop_group(proc)  # smbd, its children and samba-dcerpcd: the whole session, by its PGID
        shutil.rmtree(base)


def sh(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, capture_output=True, text=True, timeout=30, env=dict(os.environ, LC_ALL="C"))


def listing(smbd) -> dict[str, str]:
    out = sh("smbclient", "-L", "//127.0.0.1", "-p", str(smbd["port"]), "-N", f"--configfile={smbd['config']}")
    assert out.returncode == 0, out.stderr + out.stdout
    return {m.group(1): m.group(2).strip() for m in re.finditer(r"^\t(\S+)[ \t]+Disk[ \t]*([^\n]*)$", out.stdout, re.M)}


def guest_put(smbd, share: str, name: str) -> subprocess.CompletedProcess[str]:
    local = smbd["base"] / "upload.txt"
    local.write_text("hello\n")
    return sh("smbclient", f"//127.0.0.1/{share}", "-p", str(smbd["port"]), "-N", f"--configfile={smbd['config']}",
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
    assert [(str(c.ref), c.action.value) for c in changes] == [
        ("smb/ro", "~"), ("smb/team", "-"), ("file//etc/samba/converge.conf", "~")]  # the include file, once
    assert apply(KIND, context(smbd, **shares)) == []
    # reload-config was sent (smbd handles the message on its own time: wait for it, bounded)
    assert wait_for(lambda: "all:3" in debuglevel(smbd), 30), debuglevel(smbd)
    assert listing(smbd) == {"pub": "Public", "ro": "now writable"}
    assert guest_put(smbd, "ro", "b.txt").returncode == 0 and (root / "srv/ro/b.txt").exists()

    # a second apply does nothing at all: reads only
    ctx = context(smbd, **shares)
    assert plan(KIND, ctx) == []
    assert [c[0] for c in ctx.host.commands] == ["testparm"]


def test_testparm_rejects_a_bad_value_and_nothing_is_installed(smbd):
    root = smbd["root"]
    (root / "srv/bad").mkdir(parents=True, exist_ok=True)
    include = root / "etc/samba/converge.conf"  # there when the test before ran; this one runs alone too
    installed = include.read_text() if include.exists() else None
    ctx = context(smbd, bad={"path": "/srv/bad", "options": {"oplocks": "maybe"}})
    changes = plan(KIND, ctx)
    from shares_support import run_steps

    from converge.errors import CommandFailed

    with pytest.raises(CommandFailed, match="value is not boolean"):
        run_steps(ctx, changes[-1].steps)  # the include file's own change
    assert (include.read_text() if include.exists() else None) == installed
    assert "bad" not in listing(smbd)
