"""converge beside pyinfra and Ansible on the same real storage (issue 22: the anchors).

One zfs-fuse pool (on an image file) and one btrfs filesystem (on a loop device), both made by
this script. Each tool in turn declares N datasets (ZFS) or N subvolumes (btrfs), each with a
quota of 1G and compression (gzip on zfs-fuse, which has no lz4/zstd; zstd on btrfs), and runs
twice back to back: the first apply, then a no-op run. The table gives wall and CPU seconds
(the tool and everything it spawned), ms per resource, the host commands run (`zfs`, `zpool`,
`btrfs`, `findmnt`, `lsblk`, `blkid`: counted by shims first on PATH, never the interpreters a
tool spawns for itself) and how many times converge is faster. Each tool meets a new daemon, pool
and filesystem of the same shape (zfs-fuse 0.7 kept datasets, then the whole pool, "busy" after
1 000 creates, so nothing is reused between tools).

How each tool is driven:
  - converge (this tree): `converge apply --host local --root TMP DIR`, run twice.
  - pyinfra @local: `zfs.dataset` with `properties` (pyinfra refuses ZFS without a `zfs` kernel
    module; zfs-fuse is a userspace daemon, so the deploy file lifts that precondition); btrfs
    has no pyinfra operation: one `server.shell` per subvolume (create if missing, set the
    compression property, set the qgroup limit), which pyinfra cannot tell is unchanged.
  - Ansible (-c local): `community.general.zfs` with `extra_zfs_properties`;
    `community.general.btrfs_subvolume`, plus one `ansible.builtin.command` per subvolume for
    compression and the qgroup limit (the module has neither).

Everything runs as root inside a private mount namespace holding the zfs-fuse daemon (its
socket, lock and pool cache on tmpfs, as tests/real/test_zfs.py does) and the btrfs mount, so
no other run or person sees or disturbs them. Afterwards the daemon's process group is stopped
(the namespace and its mounts vanish with it) and the loop device is detached by exact device,
only while it is still backed by our file (tests/isolation.py).

    python3 bench/anchors.py [-n N] [--install] [--venv DIR] [--tools converge,pyinfra,ansible]
                             [--fs zfs,btrfs] [--parallelism P] [--timeout SECONDS]

`--install` creates (or reuses) a throwaway venv with pyinfra, ansible-core and the `ansible`
package (which ships community.general). Never part of CI: it needs root, zfs-fuse, btrfs-progs
and a few minutes.
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
SRC = HERE.parent / "src"
sys.path.insert(0, str(HERE.parent / "tests"))
sys.path.insert(0, str(SRC))
from isolation import LoopDevices, private_mount_namespace, stop_group, unique_name, wait_for  # noqa: E402

DEFAULT_VENV = os.path.join(tempfile.gettempdir(), "converge-anchors-venv")
ANCHOR_PACKAGES = ["pyinfra", "ansible-core", "ansible"]  # `ansible` brings community.general
COUNTED = ("zfs", "zpool", "btrfs", "findmnt", "lsblk", "blkid")
PRIVATE = ("/run/zfs", "/run/lock/zfs", "/var/lib/zfs")  # zfs-fuse's fixed paths
# In the private namespace only: tmpfs over zfs-fuse's paths, and away with the btrfs mounts copied
# from the machine's namespace (other runs' test filesystems): this namespace must neither hold them
# mounted after their owners unmount them nor show them to the tools being timed.
LAUNCH = ('for d in "$@"; do mount -t tmpfs -o mode=0700 converge-test "$d" || exit 1; done; '
          "findmnt -rn -t btrfs -o TARGET | sort -r | while read -r t; do umount -l \"$(printf '%b' \"$t\")\"; done; "
          "exec /sbin/zfs-fuse --no-daemon --no-kstat-mount")
ENTRY = "import sys; from converge.cli import main; sys.argv[0] = 'converge'; main()"
QUOTA = "1G"


@dataclass
class Run:
    wall: float
    cpu: float
    commands: int


class Sandbox:
    """The zfs-fuse daemon in its mount namespace, a pool, a btrfs filesystem and counting shims."""

    def __init__(self, base: Path) -> None:
        self.base = base
        self.loops = LoopDevices(base)
        self.proc: subprocess.Popen | None = None
        self.pool = unique_name()
        self.label = unique_name()
        self.zmnt = base / "zfs"
        self.bmnt = base / "btrfs"
        self.shims = base / "shims"
        self.count_log = base / "commands.log"

    def start(self) -> None:
        log = open(self.base / "zfs-fuse.log", "w")
        self.proc = subprocess.Popen(["unshare", "-m", "--propagation", "private", "sh", "-c", LAUNCH, "sh", *PRIVATE],
                                     stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        if not private_mount_namespace(self.proc):
            raise SystemExit(f"zfs-fuse did not start in a private mount namespace: {self._log()}")
        if not wait_for(lambda: self.proc.poll() is not None or self.inside("zpool", "list", check=False).returncode == 0,
                        30):
            raise SystemExit(f"zfs-fuse did not answer `zpool list` within 30 s: {self._log()}")
        self.image = self.base / f"{self.pool}.img"
        self.make_pool()
        device = self.loops.attach(4 << 30)
        self.bmnt.mkdir()
        subprocess.run(["mkfs.btrfs", "-q", "-f", "-L", self.label, device], check=True, capture_output=True)
        self.inside("mount", "-t", "btrfs", device, str(self.bmnt))
        self.inside("btrfs", "quota", "enable", str(self.bmnt))  # for every tool alike
        self.shims.mkdir()
        for tool in COUNTED:
            real = shutil.which(tool, path="/usr/sbin:/sbin:/usr/bin:/bin")
            if real:
                (self.shims / tool).write_text(f'#!/bin/sh\necho {tool} >> {self.count_log}\nexec {real} "$@"\n')
                (self.shims / tool).chmod(0o755)

    def make_pool(self) -> None:
        with open(self.image, "wb") as f:
            f.truncate(4 << 30)
        self.inside("zpool", "create", "-f", "-m", str(self.zmnt), self.pool, str(self.image))

    def _log(self) -> str:
        return (self.base / "zfs-fuse.log").read_text()[-2000:]

    @property
    def prefix(self) -> list[str]:
        assert self.proc is not None
        return ["nsenter", "-t", str(self.proc.pid), "-m", "--"]

    def inside(self, *argv: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        done = subprocess.run([*self.prefix, *argv], capture_output=True, text=True, timeout=600)
        if check and done.returncode:
            raise SystemExit(f"{' '.join(argv)}: {done.stderr.strip()}")
        return done

    def timed(self, argv: list[str], env: dict[str, str], timeout: float) -> Run:
        """Run argv in the namespace with the shims first on PATH; wall, CPU and commands counted."""
        self.count_log.write_text("")
        env = dict(os.environ, **env, PATH=f"{self.shims}:/usr/sbin:/sbin:{os.environ.get('PATH', '/usr/bin:/bin')}")
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        t0 = time.perf_counter()
        try:
            done = subprocess.run([*self.prefix, *argv], capture_output=True, text=True, env=env, cwd=self.base,
                                  timeout=timeout)
        except subprocess.TimeoutExpired:  # zfs-fuse 0.7 can hang a `zfs create` for good: say so, then clean up
            raise SystemExit(f"{' '.join(argv)} did not finish within {timeout:g} s "
                             f"(commands run so far: {len(self.count_log.read_text().splitlines())})") from None
        wall = time.perf_counter() - t0
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        if done.returncode:
            raise SystemExit(f"{' '.join(argv)} failed ({done.returncode}):\n{done.stdout[-3000:]}{done.stderr[-3000:]}")
        cpu = after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime
        return Run(wall, cpu, len(self.count_log.read_text().splitlines()))

    def check(self, fs: str, tool: str, n: int) -> None:
        """What the first apply made, read with the filesystem's own tools."""
        if fs == "zfs":
            out = self.inside("zfs", "get", "-H", "-o", "name,property,value", "-r", "quota,compression",
                              f"{self.pool}/{tool}").stdout
            rows = [line.split("\t") for line in out.splitlines()]
            good = {r[0] for r in rows if r[1] == "quota" and r[2] == QUOTA} & \
                   {r[0] for r in rows if r[1] == "compression" and r[2] == "gzip"}
        else:
            out = self.inside("btrfs", "qgroup", "show", "-re", "--raw", str(self.bmnt)).stdout
            good = {line.split()[-1] for line in out.splitlines()[2:]
                    if line.split()[-1].startswith(f"{tool}-d") and line.split()[3] == str(1 << 30)}
            sample = self.inside("btrfs", "property", "get", str(self.bmnt / f"{tool}-d0"), "compression").stdout
            if sample.strip() != "compression=zstd":
                raise SystemExit(f"{tool}: {tool}-d0 has {sample.strip()!r}, not compression=zstd")
        if len(good) != n:
            raise SystemExit(f"{tool} on {fs}: {len(good)} of {n} datasets carry the quota and compression")

    def stop(self) -> list[str]:
        if self.proc is not None:
            stop_group(self.proc)  # the namespace, the FUSE and btrfs mounts in it go with the daemon
        return self.loops.cleanup()


# -- the three tools ---------------------------------------------------------------------------
def converge_job(box: Sandbox, fs: str, n: int, work: Path, parallelism: int) -> tuple[list[str], dict[str, str]]:
    directory, root = work / "manifests", work / "root"
    directory.mkdir(parents=True)
    if fs == "zfs":
        lines = ["datasets:", f"  {box.pool}/converge: {{}}"]
        lines += [f"  {box.pool}/converge/d{i}: {{properties: {{quota: {QUOTA}, compression: gzip}}}}" for i in range(n)]
    else:
        lines = ["datasets:"] + [f"  {box.label}/converge-d{i}: {{properties: {{quota: {QUOTA}, compression: zstd}}}}"
                                 for i in range(n)]
    (directory / "main.yaml").write_text("\n".join(lines) + "\n")
    argv = [sys.executable, "-c", ENTRY, "apply", "--parallelism", str(parallelism), "--host", "local", "--root",
            str(root), str(directory)]
    return argv, {"PYTHONPATH": str(SRC)}


PYINFRA_HEAD = """from pyinfra.facts.zfs import ZfsDatasets
from pyinfra.operations import server, zfs

# zfs-fuse is a userspace daemon: there is no `zfs` kernel module for pyinfra's precondition to find
ZfsDatasets.check_preconditions = lambda self, state, host: None
"""


def pyinfra_job(box: Sandbox, fs: str, n: int, work: Path, venv: Path) -> tuple[list[str], dict[str, str]]:
    work.mkdir(parents=True)
    lines = [PYINFRA_HEAD]
    if fs == "zfs":
        lines.append(f"zfs.dataset(name='parent', dataset_name='{box.pool}/pyinfra')")
        lines.append(f"for i in range({n}):\n    zfs.dataset(name=f'd{{i}}', dataset_name=f'{box.pool}/pyinfra/d{{i}}', "
                     f"properties={{'quota': '{QUOTA}', 'compression': 'gzip'}})")
    else:
        lines.append(f"for i in range({n}):\n    p = f'{box.bmnt}/pyinfra-d{{i}}'\n"
                     f"    server.shell(name=f'd{{i}}', commands=[f'test -d {{p}} || btrfs subvolume create {{p}}', "
                     f"f'btrfs property set {{p}} compression zstd', f'btrfs qgroup limit {QUOTA} {{p}}'])")
    deploy = work / "deploy.py"
    deploy.write_text("\n".join(lines) + "\n")
    return [str(venv / "bin" / "pyinfra"), "@local", str(deploy), "--yes"], {}


def ansible_job(box: Sandbox, fs: str, n: int, work: Path, venv: Path) -> tuple[list[str], dict[str, str]]:
    work.mkdir(parents=True)
    loop = f'      loop: "{{{{ range({n}) | list }}}}"'
    if fs == "zfs":
        tasks = [f"    - community.general.zfs: {{name: '{box.pool}/ansible', state: present}}",
                 "    - community.general.zfs:",
                 f"        name: '{box.pool}/ansible/d{{{{ item }}}}'",
                 "        state: present",
                 f"        extra_zfs_properties: {{quota: {QUOTA}, compression: gzip}}", loop]
    else:
        path = f"{box.bmnt}/ansible-d{{{{ item }}}}"
        tasks = ["    - community.general.btrfs_subvolume:",
                 "        name: '/ansible-d{{ item }}'",
                 f"        filesystem_label: {box.label}",
                 "        state: present", loop,
                 f"    - ansible.builtin.command: btrfs property set {path} compression zstd", loop,
                 f"    - ansible.builtin.command: btrfs qgroup limit {QUOTA} {path}", loop]
    play = work / "play.yml"
    play.write_text("- hosts: localhost\n  connection: local\n  gather_facts: false\n  tasks:\n" + "\n".join(tasks) + "\n")
    argv = [str(venv / "bin" / "ansible-playbook"), "-i", "localhost,", "-e",
            f"ansible_python_interpreter={venv / 'bin' / 'python'}", str(play)]
    return argv, {"ANSIBLE_LOCALHOST_WARNING": "false", "ANSIBLE_HOME": str(work / "ansible-home")}


# -- the run -----------------------------------------------------------------------------------
def install(venv: Path) -> None:
    if not (venv / "bin" / "python").exists():
        made = subprocess.run([sys.executable, "-m", "venv", str(venv)], capture_output=True, text=True)
        if made.returncode:  # Debian's own python3 has venv in a package of its own
            sys.exit(f"cannot create the venv {venv}: {made.stderr.strip()[-500:]}\n"
                     "(on Debian: apt-get install python3-venv)")
    if subprocess.run([str(venv / "bin" / "pip"), "install", "-q", *ANCHOR_PACKAGES]).returncode:
        sys.exit(f"pip could not install {' '.join(ANCHOR_PACKAGES)} into {venv}")


def versions(venv: Path) -> str:
    def first_line(argv: list[str]) -> str:
        try:
            return subprocess.run(argv, capture_output=True, text=True).stdout.splitlines()[0].strip()
        except (OSError, IndexError):
            return "?"

    pyinfra = first_line([str(venv / "bin" / "pyinfra"), "--version"])
    ansible = first_line([str(venv / "bin" / "ansible"), "--version"])
    return f"{pyinfra}; {ansible}; Python {platform.python_version()}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=100, help="datasets (and subvolumes) per tool (default 100)")
    parser.add_argument("--install", action="store_true", help="create/refresh the venv of the anchors first")
    parser.add_argument("--venv", default=DEFAULT_VENV, help=f"the anchors' venv (default {DEFAULT_VENV})")
    parser.add_argument("--tools", default="converge,pyinfra,ansible")
    parser.add_argument("--fs", default="zfs,btrfs")
    parser.add_argument("--parallelism", type=int, default=4,
                        help="converge apply --parallelism (default 4, converge's own; zfs-fuse 0.7 has been seen to "
                             "hang concurrent `zfs create`s for good on a loaded machine at N = 1000: use 1 there)")
    parser.add_argument("--timeout", type=float, default=3600, help="seconds one run of one tool may take")
    opts = parser.parse_args()
    venv = Path(opts.venv)
    tools, filesystems = opts.tools.split(","), opts.fs.split(",")
    if os.geteuid() != 0:
        sys.exit("anchors.py needs root (zfs-fuse, loop devices, mounts)")
    for tool in ("/sbin/zfs-fuse", "mkfs.btrfs", "losetup", "unshare", "nsenter"):
        if not shutil.which(tool, path="/usr/sbin:/sbin:/usr/bin:/bin"):
            sys.exit(f"{tool} not found: install zfs-fuse, btrfs-progs and util-linux (see .ci/apt-packages.txt)")
    if opts.install:
        install(venv)
    for tool, exe in (("pyinfra", "pyinfra"), ("ansible", "ansible-playbook")):
        if tool in tools and not (venv / "bin" / exe).exists():
            sys.exit(f"{venv / 'bin' / exe} not found: run with --install (or --venv DIR)")
    print(f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, {platform.node()}, {os.cpu_count()} CPUs, "
          f"load {os.getloadavg()[0]:.1f}; N = {opts.n}")
    if "pyinfra" in tools or "ansible" in tools:
        print(versions(venv))
    base = Path(tempfile.mkdtemp(prefix=f"{unique_name()}-anchors-"))
    results: dict[tuple[str, str], tuple[Run, Run]] = {}
    problems: list[str] = []
    try:
        for fs in filesystems:
            for tool in tools:
                home = base / f"{tool}-{fs}"
                home.mkdir()
                box = Sandbox(home)  # a new daemon, pool and filesystem of the same shape for each tool
                try:
                    box.start()
                    work = home / "work"
                    if tool == "converge":
                        argv, env = converge_job(box, fs, opts.n, work, opts.parallelism)
                    elif tool == "pyinfra":
                        argv, env = pyinfra_job(box, fs, opts.n, work, venv)
                    else:
                        argv, env = ansible_job(box, fs, opts.n, work, venv)
                    first = box.timed(argv, env, opts.timeout)
                    box.check(fs, tool, opts.n)
                    noop = box.timed(argv, env, opts.timeout)
                finally:
                    problems += box.stop()
                results[fs, tool] = (first, noop)
                print(f"  {fs:<5} {tool:<8} first {first.wall:7.2f} s ({first.cpu:.2f} CPU, {first.commands} commands)  "
                      f"no-op {noop.wall:7.2f} s ({noop.cpu:.2f} CPU, {noop.commands} commands)", flush=True)
    finally:
        shutil.rmtree(base, ignore_errors=True)
        if problems:
            print("cleanup problems:", *problems, sep="\n  ")
    report(results, opts.n)


def report(results: dict[tuple[str, str], tuple[Run, Run]], n: int) -> None:
    print("\n| fs | tool | first apply s (CPU) | ms/dataset | cmds | no-op s (CPU) | ms/dataset | cmds "
          "| first: × converge | no-op: × converge |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for (fs, tool), (first, noop) in results.items():
        ours = results.get((fs, "converge"))
        ratio_first = f"{first.wall / ours[0].wall:.1f}" if ours else ""
        ratio_noop = f"{noop.wall / ours[1].wall:.1f}" if ours else ""
        print(f"| {fs} | {tool} | {first.wall:.2f} ({first.cpu:.2f}) | {first.wall * 1000 / n:.1f} | {first.commands} "
              f"| {noop.wall:.2f} ({noop.cpu:.2f}) | {noop.wall * 1000 / n:.1f} | {noop.commands} "
              f"| {ratio_first} | {ratio_noop} |")


if __name__ == "__main__":
    main()
