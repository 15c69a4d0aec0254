"""What lets two runs of the suite share one machine: names that carry the run (its PID) so no
two runs pick the same pool, label, namespace or file; free loopback ports; private mount
namespaces for daemons with fixed paths (zfs-fuse's socket); and clean-up by the exact device,
mount or process group a test created, never by a name another run might also use.

A resource named by a run that no longer exists is a leftover: tests note the ones of their own
kind, and the terminal summary lists them (they are never touched)."""

from __future__ import annotations

import os
import re
import secrets
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from converge.hosts import LocalHost
from converge.hosts.base import Result

TAG = "cvt"  # every name a test run gives a real resource starts with this
NAME = re.compile(rf"{TAG}(\d+)x[0-9a-f]+")
LEFTOVERS: list[str] = []  # shown by tests/conftest.py's terminal summary


def unique_name() -> str:
    """`cvt<pid>x<random>`: unique per call, valid as a zpool/btrfs label/netns/file name."""
    return f"{TAG}{os.getpid()}x{secrets.token_hex(3)}"


def owner_alive(name: str) -> bool:
    """Is the run that made this name (by the PID in it) still running a Python process?"""
    m = NAME.search(name)
    if not m:
        return True  # not ours to judge
    try:
        return b"python" in Path(f"/proc/{m.group(1)}/cmdline").read_bytes()
    except OSError:
        return False


def note_leftovers(kind: str, names: list[str], how: str) -> list[str]:
    """Record the names of `kind` left by runs that no longer exist; return them."""
    dead = sorted(n for n in names if NAME.search(n) and not owner_alive(n))
    for name in dead:
        LEFTOVERS.append(f"{kind} {name} (left by a test run that has ended; not touched). Remove it with: {how}")
    return dead


def wait_for(condition: Callable[[], object], seconds: float, step: float = 0.1) -> bool:
    """Poll until `condition()` is true or `seconds` pass; the last check is made at the deadline."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(step)
    return bool(condition())


def free_port() -> int:
    """A loopback TCP port nobody listens on now (the kernel's pick for port 0)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# -- processes --------------------------------------------------------------------------------
def group_members(pgid: int) -> list[int]:
    """Live (non-zombie) processes in process group `pgid`, from /proc."""
    out = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        if fields[0] != "Z" and int(fields[2]) == pgid:
            out.append(int(entry))
    return out


def stop_group(proc: subprocess.Popen, timeout: float = 20) -> None:
    """Stop the process group `proc` leads (started with start_new_session=True): SIGTERM, then
    SIGKILL after timeout/2. The leader is reaped only at the end: until then its PID cannot be
    reused, so no signal can reach an unrelated group that later got the same number."""
    pgid = proc.pid

    def signal_group(sig: int) -> None:
        if group_members(pgid):  # no member left: the number may belong to someone else now
            try:
                os.killpg(pgid, sig)
            except ProcessLookupError:
                pass

    if proc.returncode is None:  # not reaped yet: the leader (maybe a zombie) pins the PGID
        signal_group(signal.SIGTERM)
        if not wait_for(lambda: not group_members(pgid), timeout / 2, 0.05):
            signal_group(signal.SIGKILL)
            wait_for(lambda: not group_members(pgid), timeout / 2, 0.05)
    else:
        signal_group(signal.SIGKILL)
    proc.wait(timeout)


# -- loop devices and mounts -------------------------------------------------------------------
def _unescape(path: str) -> str:
    return re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), path)


def mounts_under(base: Path) -> list[str]:
    """Mountpoints at or below `base` in this mount namespace, deepest first."""
    prefix = str(base).rstrip("/")
    found = []
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        target = _unescape(line.split()[4])
        if target == prefix or target.startswith(prefix + "/"):
            found.append(target)
    return sorted(set(found), key=lambda t: (-t.count("/"), t))


def unmount_under(base: Path, timeout: float = 60) -> list[str]:
    """Unmount everything mounted at or below our own directory `base`. A busy mount is retried
    (another run's `btrfs filesystem show` holds every mounted btrfs open for a moment), then
    detached lazily. Returns what could not be unmounted at all."""
    stuck = []
    for target in mounts_under(base):
        def gone(target: str = target) -> bool:
            subprocess.run(["umount", target], capture_output=True)
            return target not in mounts_under(base)

        if not wait_for(gone, timeout / 2, 0.3):
            subprocess.run(["umount", "-l", target], capture_output=True)
            if target in mounts_under(base):
                stuck.append(target)
    return stuck


def backing_file(device: str) -> str | None:
    out = subprocess.run(["losetup", "-n", "-O", "BACK-FILE", device], capture_output=True, text=True)
    if out.returncode:
        return None
    return out.stdout.strip().removesuffix(" (deleted)") or None


class LoopDevices:
    """Loop devices over sparse files in our own directory; detached by exact device, and only
    while the device is still backed by our file (a device number is reused once detached)."""

    def __init__(self, base: Path) -> None:
        self.base = base
        self.attached: dict[str, str] = {}  # device -> backing file

    def attach(self, size: int) -> str:
        image = self.base / f"{unique_name()}.img"
        with open(image, "wb") as f:
            f.truncate(size)
        # `losetup -f` can lose a race for a free device to another run: try again
        for _ in range(10):
            out = subprocess.run(["losetup", "-f", "--show", str(image)], capture_output=True, text=True)
            if out.returncode == 0:
                break
            time.sleep(0.2)
        else:
            raise RuntimeError(f"cannot attach a loop device to {image}: {out.stderr.strip()}")
        device = out.stdout.strip()
        self.attached[device] = str(image)
        return device

    def cleanup(self) -> list[str]:
        """Unmount what is mounted under our directory, then detach our devices. Returns problems."""
        problems = [f"still mounted: {t}" for t in unmount_under(self.base)]
        for device, image in self.attached.items():
            if backing_file(device) != image:
                continue  # detached already (autoclear) or someone else's file now
            # forget btrfs's registration of the device, so no stale path outlives it
            subprocess.run(["btrfs", "device", "scan", "--forget", device], capture_output=True)
            out = subprocess.run(["losetup", "-d", device], capture_output=True, text=True)
            if out.returncode and backing_file(device) == image:
                problems.append(f"cannot detach {device} ({image}): {out.stderr.strip()}")
        return problems


def leftover_loop_devices() -> list[str]:
    """Record loop devices backed by a test image of a run that has ended."""
    out = subprocess.run(["losetup", "-n", "-l", "-O", "NAME,BACK-FILE"], capture_output=True, text=True)
    names = [line.split(None, 1)[1] for line in out.stdout.splitlines() if len(line.split(None, 1)) == 2]
    dead = note_leftovers("loop device backed by", [n for n in names if NAME.search(Path(n.split()[0]).name)],
                          "umount its filesystem, then losetup -d DEVICE (see losetup -a)")
    return dead


# -- private mount namespaces ------------------------------------------------------------------
def private_mount_namespace(proc: subprocess.Popen, timeout: float = 30) -> bool:
    """Wait until `proc` (started as `unshare -m ... CMD`) runs in a mount namespace of its own:
    until unshare has exec'd, nsenter -t PID would enter the machine's namespace."""
    mine = os.readlink("/proc/self/ns/mnt")

    def ready() -> bool:
        try:
            return proc.poll() is not None or os.readlink(f"/proc/{proc.pid}/ns/mnt") != mine
        except OSError:
            return False

    return wait_for(ready, timeout, 0.01) and proc.poll() is None


class NamespaceHost(LocalHost):
    """LocalHost whose commands run in the mount namespace of process `pid` (the files under
    --root are shared with the machine; mounts made inside are not)."""

    def __init__(self, root: str | None, pid: int) -> None:
        super().__init__(root)
        self.prefix = ["nsenter", "-t", str(pid), "-m", "--"]

    def run(self, argv: Sequence[str], *, input: str | None = None, check: bool = True) -> Result:
        return super().run([*self.prefix, *argv], input=input, check=check)
