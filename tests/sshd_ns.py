"""SSH "hosts" for the fleet tests: one network namespace for the client (the test's side) and
one per host, joined by veth pairs; each host namespace runs a real `/usr/sbin/sshd -D` with a
temp config, temp host key and temp authorized_keys, listening on its veth address only. All
names come from tests/isolation.py; everything is removed by exact PID and namespace name.

The hosts' sessions get a PATH and HOME of their own (sshd_config SetEnv): a directory of links to
every tool of this machine but ZFS's, the container runtimes' and LXC's, so a remote plan sees
neither this machine's pools nor its containers (other tests' resources, not this test's); and
an empty home, so the account's own shell start-up files (this machine's root's) are not run."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from isolation import stop_group, unique_name, wait_for

SSHD = "/usr/sbin/sshd"
FOREIGN_TOOLS = ("zfs", "zpool", "podman", "docker", "lxc-ls", "lxc-info", "lxc-create", "btrfs", "exportfs", "pdbedit",
                 "testparm")
CONFIG = """ListenAddress {address}
Port 22
HostKey {key}
PidFile {base}/sshd.pid
AuthorizedKeysFile {base}/authorized_keys
UsePAM no
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
StrictModes no
MaxSessions 64
MaxStartups 64
SetEnv PATH={tools} HOME={base}/home
"""


def sh(*argv: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    out = subprocess.run(list(argv), capture_output=True, text=True)
    if check and out.returncode:
        raise RuntimeError(f"{' '.join(argv)} failed: {out.stderr.strip()}")
    return out


@dataclass
class SshdHost:
    name: str  # its inventory name
    netns: str
    address: str  # on its veth, reached from the client namespace
    base: Path
    proc: subprocess.Popen | None = None
    host_key: Path = field(default_factory=Path)

    def known_hosts_line(self) -> str:
        return f"{self.address} {self.host_key.with_suffix('.pub').read_text().strip()}\n"

    def stop(self) -> None:
        if self.proc is not None:
            stop_group(self.proc)  # by its exact process group (sshd and its sessions)
            self.proc = None


@dataclass
class Fleet:
    base: Path
    client_ns: str
    client_key: Path
    known_hosts: Path
    hosts: list[SshdHost] = field(default_factory=list)
    namespaces: list[str] = field(default_factory=list)

    def in_client(self, *argv: str) -> list[str]:
        """argv run in the client namespace (where the hosts' addresses are reachable)."""
        return ["ip", "netns", "exec", self.client_ns, *argv]

    def cleanup(self) -> None:
        for host in self.hosts:
            host.stop()
        for ns in reversed(self.namespaces):
            pids = sh("ip", "netns", "pids", ns, check=False).stdout.split()
            for pid in pids:  # nothing of ours should remain; a stray session is stopped by PID
                try:
                    os.kill(int(pid), signal.SIGKILL)
                except ProcessLookupError:
                    pass
            sh("ip", "netns", "del", ns, check=False)


def tool_dir(base: Path, allow: tuple[str, ...] = ()) -> Path:
    """`allow`: foreign tools a test's hosts do need (btrfs for a replication over SSH)."""
    tools = base / "host-bin"
    tools.mkdir()
    for directory in ("/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin"):
        if not os.path.isdir(directory):
            continue
        for entry in os.scandir(directory):
            link = tools / entry.name
            if (entry.name not in FOREIGN_TOOLS or entry.name in allow) and not os.path.lexists(link):
                link.symlink_to(entry.path)
    return tools


def start_fleet(base: Path, count: int, allow: tuple[str, ...] = ()) -> Fleet:
    if not os.path.exists(SSHD):
        raise RuntimeError(f"{SSHD} is missing: install the Debian package openssh-server")
    if not os.path.isdir("/run/sshd"):
        raise RuntimeError("sshd needs its privilege separation directory /run/sshd (made by its service at "
                           "boot): mkdir -m 0755 /run/sshd")
    client_ns = unique_name()
    fleet = Fleet(base, client_ns, base / "client_key", base / "known_hosts", namespaces=[client_ns])
    try:
        sh("ip", "netns", "add", client_ns)
        sh("ip", "-n", client_ns, "link", "set", "lo", "up")
        sh("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "converge-test", "-f", str(fleet.client_key))
        tools = tool_dir(base, allow)
        for i in range(count):
            fleet.hosts.append(start_host(fleet, i, tools))
        fleet.known_hosts.write_text("".join(h.known_hosts_line() for h in fleet.hosts))
    except BaseException:
        fleet.cleanup()
        raise
    return fleet


def start_host(fleet: Fleet, index: int, tools: Path) -> SshdHost:
    ns = unique_name()
    fleet.namespaces.append(ns)
    base = fleet.base / f"host{index}"
    base.mkdir()
    (base / "home").mkdir()
    host = SshdHost(f"host{index}", ns, f"10.201.{index}.2", base, host_key=base / "ssh_host_ed25519_key")
    sh("ip", "netns", "add", ns)
    # the pair is made in the client namespace, one end then moved: the machine's own links are never touched
    sh("ip", "-n", fleet.client_ns, "link", "add", f"c{index}", "type", "veth", "peer", "name", "eth0", "netns", ns)
    sh("ip", "-n", fleet.client_ns, "addr", "add", f"10.201.{index}.1/24", "dev", f"c{index}")
    sh("ip", "-n", fleet.client_ns, "link", "set", f"c{index}", "up")
    sh("ip", "-n", ns, "addr", "add", f"{host.address}/24", "dev", "eth0")
    sh("ip", "-n", ns, "link", "set", "eth0", "up")
    sh("ip", "-n", ns, "link", "set", "lo", "up")
    sh("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(host.host_key))
    shutil.copy(fleet.client_key.with_suffix(".pub"), base / "authorized_keys")
    config = base / "sshd_config"
    config.write_text(CONFIG.format(address=host.address, key=host.host_key, base=base, tools=tools))
    sh(SSHD, "-t", "-f", str(config))  # the config is valid before the daemon starts
    start_sshd(host)
    return host


def start_sshd(host: SshdHost) -> None:
    log = open(host.base / "sshd.log", "ab")
    host.proc = subprocess.Popen(["ip", "netns", "exec", host.netns, SSHD, "-D", "-e", "-f",
                                  str(host.base / "sshd_config")], stdout=log, stderr=log,
                                 stdin=subprocess.DEVNULL, start_new_session=True)
    log.close()

    def listening() -> bool:
        out = sh("ip", "netns", "exec", host.netns, "ss", "-Hltn", f"src {host.address}", check=False).stdout
        return ":22" in out or host.proc is None or host.proc.poll() is not None

    if not wait_for(listening, 15) or host.proc.poll() is not None:
        raise RuntimeError(f"sshd in {host.netns} did not start: {(host.base / 'sshd.log').read_text()[-2000:]}")
