"""Run inside a private mount namespace (`unshare -m python3 accounts_ns.py BASE PORT POOL`) by
test_accounts.py: ROOT/etc (a copy of /etc with a minimal passwd/group/shadow/gshadow) is
bind-mounted over /etc, so Samba finds the accounts converge creates under --root through NSS,
as it would on a NAS. Starts smbd on 127.0.0.1:PORT, applies BASE/manifests with converge
(--host local --root BASE/root), tries logins with smbclient, stops smbd, and prints a JSON
report on the last line. The bind mount vanishes with the namespace."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time

FOREIGN_TOOLS = frozenset({"zfs", "zpool", "podman", "docker", "lxc-ls", "lxc-info", "lxc-create"})


def isolated_target(directory: str, root: str):  # type: ignore[no-untyped-def]
    """--host local --root ROOT, blind to the machine-wide tools (zfs-fuse pools, containers) that
    other tests on this machine may be using: their resources are not this test's to plan."""
    from converge.config import load_config
    from converge.engine import Target
    from converge.hosts import LocalHost

    class AccountsHost(LocalHost):
        def has(self, tool: str) -> bool:
            return tool not in FOREIGN_TOOLS and super().has(tool)

    return Target(directory, load_config(directory), AccountsHost(root))


def listening(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


def smbclient(port: int, config: str, share: str, user: str, password: str) -> dict[str, object]:
    r = subprocess.run(["smbclient", f"//127.0.0.1/{share}", "-p", str(port), "-U", f"{user}%{password}",
                        f"--configfile={config}", "-c", "ls"], capture_output=True, text=True, timeout=60)
    return {"rc": r.returncode, "out": (r.stdout + r.stderr)[-400:]}


def main() -> None:
    base, port, pool = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    root = os.path.join(base, "root")
    subprocess.run(["mount", "--make-rprivate", "/"], check=True)
    subprocess.run(["mount", "--bind", os.path.join(root, "etc"), "/etc"], check=True)
    config = os.path.join(root, "etc/samba/smb.conf")
    launcher = ('/usr/libexec/samba/samba-dcerpcd --foreground --libexec-rpcds --configfile="$1" & '
                'exec smbd --foreground --no-process-group --configfile="$1"')
    log = open(os.path.join(base, "smbd.out"), "w")
    proc = subprocess.Popen(["sh", "-c", launcher, "sh", config], start_new_session=True, stdout=log,
                            stderr=subprocess.STDOUT)
    report: dict[str, object] = {}
    try:
        deadline = time.monotonic() + 10
        while not listening(port):
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("smbd did not start: " + open(os.path.join(base, "smbd.out")).read()[-1500:])
            time.sleep(0.05)
        from converge.engine import plan, reconcile

        target = isolated_target(os.path.join(base, "manifests"), root)
        outcome = reconcile(target)  # raises NotConverged unless the re-plan is empty
        report["applied"] = [str(r) for r in outcome.report.applied]
        again, _ = plan(isolated_target(os.path.join(base, "manifests"), root))
        report["second_plan"] = [str(c.ref) for c in again.changes]
        password = open(os.path.join(base, "manifests/secrets/alice")).read().strip()
        bob = open(os.path.join(base, "manifests/secrets/bob")).read().strip()
        # smbd takes the reloaded configuration and the new passdb entries asynchronously (a message
        # to its processes, not a restart): a login right after the apply may still meet the old
        # state under load, so the good login gets a few seconds; the wrong ones below get one try.
        deadline = time.monotonic() + 5
        report["alice"] = smbclient(port, config, "media", "alice", password)
        while report["alice"]["rc"] and time.monotonic() < deadline:
            time.sleep(0.25)
            report["alice"] = smbclient(port, config, "media", "alice", password)
        report["alice_wrong"] = smbclient(port, config, "media", "alice", password + "x")
        report["bob"] = smbclient(port, config, "media", "bob", bob)  # has a Samba account, not in valid_users
        info = os.stat(os.path.join(root, "srv", pool, "media"))  # the dataset: gone with the namespace's mount
        report["media_stat"] = [info.st_uid, info.st_gid, info.st_mode & 0o7777]
        report["pdbedit"] = subprocess.run(["pdbedit", "-s", config, "-L", "-w"], capture_output=True,
                                           text=True).stdout
    except Exception as e:  # reported to the test, which fails with it
        report["error"] = f"{type(e).__name__}: {e}"
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
    print(json.dumps(report))


if __name__ == "__main__":
    main()
