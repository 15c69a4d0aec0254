"""A host reached through the system OpenSSH client: `ssh://[user@]host[:port]`.

One multiplexed connection per host (ControlMaster=auto, ControlPersist, a control socket in a
private 0700 directory), host keys checked against known_hosts (StrictHostKeyChecking=yes,
BatchMode=yes: never a prompt, never a silently accepted key). Each command is one remote
invocation of `env LC_ALL=C LANG=C ARGV...`, quoted for the remote shell with shlex.join.
Reads stay bulk: the tools a host has are probed in one call, and many files are read in one
`tar` stream (`read_files`); files are written atomically (temp file + rename) in one call."""

from __future__ import annotations

import hashlib
import io
import os
import re
import shlex
import shutil
import subprocess
import tarfile
import tempfile
import threading
import weakref
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from urllib.parse import urlsplit

from ..errors import HostError, LockBusy
from .base import PACKAGES, CommandLog, Result, checked, not_found, validate_argv
from .transfer import pipe_between

# Tools asked for by the kinds: probed in the first `has()` call, all at once.
PROBED = sorted(set(PACKAGES) | {"getent", "pdbedit", "testparm", "readlink", "systemctl", "hostnamectl",
                                 "timedatectl", "sysctl", "skopeo", "lxc-ls", "useradd", "groupadd", "tar"})
# The session's own PATH, as `env` searches it for every command (so `has` and `run` agree).
HAS_SCRIPT = 'for t do command -v "$t" >/dev/null 2>&1 && echo "$t"; done; exit 0'
# Atomic write: a temp file beside the target, synced, then renamed over it (never a half file).
WRITE_SCRIPT = ('set -e; d=$(dirname -- "$1"); mkdir -p -- "$d"; t=$(mktemp "$d/.converge-XXXXXX"); '
                'trap \'rm -f -- "$t"\' EXIT; cat > "$t"; chmod "$2" "$t"; sync "$t" 2>/dev/null || true; '
                'mv -f -- "$t" "$1"; trap - EXIT')
# The remote apply lock: flock held while `cat` waits for the end of our stdin (exit 75: busy).
LOCK_SCRIPT = ('mkdir -p -- "${1%/*}" && exec flock -E 75 -w "$2" "$1" sh -c \'echo locked; exec cat >/dev/null\'')
OPTION_NAME = re.compile(r"[A-Za-z][A-Za-z0-9]{1,63}")
HOSTNAME = re.compile(r"[A-Za-z0-9_.:%-]{1,253}")
USER = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}")
# What the ssh client itself says when it cannot run the command (exit 255).
SSH_FAILURES = ("ssh: ", "Connection closed", "Connection refused", "Permission denied", "Connection timed out",
                "kex_exchange_identification", "No route to host", "Could not resolve", "mux_client",
                "Control socket", "Bad configuration option", "Connection reset")


def parse_address(address: str) -> tuple[str | None, str, int]:
    """`ssh://[user@]host[:port]` -> (user, host, port); IPv6 literals in brackets."""
    parts = urlsplit(address)
    try:
        port = parts.port if parts.port is not None else 22
    except ValueError:
        port = -1
    host = parts.hostname or ""
    if parts.scheme != "ssh" or not HOSTNAME.fullmatch(host) or host.startswith("-") or port < 1 \
            or parts.path not in ("", "/") or parts.query or parts.fragment or parts.password \
            or (parts.username is not None and not USER.fullmatch(parts.username)):
        raise HostError(f"{address!r} is not an SSH address: use ssh://[user@]host[:port]")
    return parts.username, host, port


class SshHost(CommandLog):
    def __init__(self, address: str, *, root: str | None = None, identity_file: str | None = None,
                 known_hosts: str | None = None, ssh_options: dict[str, str] | None = None,
                 persist: int = 60) -> None:
        super().__init__()
        self.user, self.hostname, self.port = parse_address(address)
        self.address = address
        self.root = os.path.normpath(root) if root else ""
        if self.root and not self.root.startswith("/"):
            raise HostError(f"the root of {address} must be an absolute path on that host, not {root!r}")
        self.name = address + (f" (root {self.root})" if self.root else "")
        self.known_hosts = os.path.abspath(os.path.expanduser(known_hosts or "~/.ssh/known_hosts"))
        self.round_trips = 0  # ssh processes started: what a no-op plan must keep small
        self._tools: set[str] | None = None
        self._asked: set[str] = set()
        self._lock = threading.Lock()
        self._control = tempfile.mkdtemp(prefix="converge-ssh-")  # mode 0700: only we reach the socket
        options = {"BatchMode": "yes", "StrictHostKeyChecking": "yes", "UserKnownHostsFile": self.known_hosts,
                   "ControlMaster": "auto", "ControlPersist": str(persist),
                   "ControlPath": os.path.join(self._control, "%C"), "ConnectTimeout": "10",
                   "ServerAliveInterval": "15", "ServerAliveCountMax": "3"}
        for key, value in (ssh_options or {}).items():
            if not OPTION_NAME.fullmatch(key) or "\n" in str(value) or key in ("ControlPath", "StrictHostKeyChecking"):
                raise HostError(f"ssh option {key}={value!r} of {address} is not allowed")
            options[key] = str(value)
        self._ssh = ["ssh", "-T", "-p", str(self.port)] + (["-l", self.user] if self.user else [])
        if identity_file:
            self._ssh += ["-i", os.path.abspath(os.path.expanduser(identity_file)), "-o", "IdentitiesOnly=yes"]
        for key, value in options.items():
            self._ssh += ["-o", f"{key}={value}"]
        self._finalizer = weakref.finalize(self, _close, list(self._ssh), self.hostname, self._control)

    # -- transport ---------------------------------------------------------------------------------
    def _invoke(self, argv: Sequence[str], input: bytes | None) -> subprocess.CompletedProcess[bytes]:
        """One round trip: `ssh HOST 'env LC_ALL=C LANG=C ARGV...'`."""
        with self._lock:
            self.round_trips += 1
        remote = shlex.join(["env", "LC_ALL=C", "LANG=C", *argv])
        try:
            proc = subprocess.run([*self._ssh, "--", self.hostname, remote], input=input, capture_output=True,
                                  stdin=None if input is not None else subprocess.DEVNULL, check=False)
        except FileNotFoundError:
            raise HostError("the OpenSSH client `ssh` is not installed here (Debian: openssh-client)") from None
        if proc.returncode == 255:
            self._raise_ssh_failure(proc.stderr.decode(errors="replace"))
        return proc

    def _raise_ssh_failure(self, stderr: str) -> None:
        where = f"[{self.hostname}]:{self.port}" if self.port != 22 else self.hostname
        if "REMOTE HOST IDENTIFICATION HAS CHANGED" in stderr or "Host key for" in stderr and "has changed" in stderr:
            raise HostError(
                f"{self.address}: the host key differs from the one recorded in {self.known_hosts}; converge "
                f"refuses to connect (this can be an attack). If the host was reinstalled, check its new key's "
                f"fingerprint on the host (ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub), then replace the "
                f"old one: ssh-keygen -R '{where}' -f {self.known_hosts} && "
                f"ssh-keyscan -p {self.port} {self.hostname} >> {self.known_hosts}")
        if "Host key verification failed" in stderr or "host key is known" in stderr:
            raise HostError(
                f"{self.address}: its host key is not in {self.known_hosts}; converge connects only to known "
                f"hosts. Add it after checking its fingerprint against the host's own "
                f"(ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub on the host): "
                f"ssh-keyscan -p {self.port} {self.hostname} >> {self.known_hosts}")
        if any(marker in stderr for marker in SSH_FAILURES) or not stderr.strip():
            raise HostError(f"cannot reach {self.address}: {stderr.strip() or 'ssh exited with 255'}")

    def transport_failure(self, stderr: str) -> None:
        """Raise HostError when an ssh that exited 255 failed itself (not the remote command)."""
        self._raise_ssh_failure(stderr)

    def local_command(self, argv: Sequence[str]) -> tuple[list[str], None]:
        """The ssh process that runs argv on this host (one round trip), for a pipe to another host."""
        with self._lock:
            self.round_trips += 1
        return [*self._ssh, "--", self.hostname, shlex.join(["env", "LC_ALL=C", "LANG=C", *validate_argv(argv)])], None

    def run(self, argv: Sequence[str], *, input: str | None = None, check: bool = True) -> Result:
        argv = validate_argv(argv)
        self.record(argv)
        proc = self._invoke(argv, input.encode() if input is not None else None)
        out, err = proc.stdout.decode(errors="replace"), proc.stderr.decode(errors="replace")
        if proc.returncode == 127 and err.startswith("env: "):  # env could not find the program
            return checked(argv, not_found(argv[0]), check)
        return checked(argv, Result(proc.returncode, out, err), check)

    def pipe(self, first: Sequence[str], second: Sequence[str], *, check: bool = True) -> Result:
        """Two remote commands joined by converge (two ssh sessions, bytes through this machine)."""
        return pipe_between(self, first, self, second, check=check)

    def path(self, path: str) -> str:
        return os.path.join(self.root, path.lstrip("/")) if self.root else path

    def read_files(self, paths: Iterable[str]) -> dict[str, str | None]:
        """Many files in one round trip: a tar stream of the regular files among them."""
        wanted = {p: self.path(p) for p in dict.fromkeys(paths)}
        if not wanted:
            return {}
        proc = self._invoke(["tar", "-c", "-h", "-P", "--no-recursion", "--ignore-failed-read", "-f", "-",
                             "--", *wanted.values()], None)
        if proc.returncode not in (0, 1):  # 1: a file changed while it was read (tar says so; content is whole)
            raise HostError(f"reading files from {self.address} failed: {proc.stderr.decode(errors='replace').strip()}")
        found: dict[str, str] = {}
        with tarfile.open(fileobj=io.BytesIO(proc.stdout), mode="r:") as archive:
            for member in archive:
                data = archive.extractfile(member) if member.isfile() else None
                if data is not None:
                    found[member.name] = data.read().decode("utf-8", errors="replace")
        return {p: found.get(real) for p, real in wanted.items()}

    def read_file(self, path: str) -> str | None:
        return self.read_files([path])[path]

    def write_file(self, path: str, text: str, mode: int = 0o644) -> None:
        proc = self._invoke(["sh", "-c", WRITE_SCRIPT, "sh", self.path(path), f"{mode:o}"], text.encode())
        if proc.returncode:
            raise HostError(f"writing {path} on {self.address} failed: {proc.stderr.decode(errors='replace').strip()}")

    def remove_file(self, path: str) -> None:
        self.run(["rm", "-f", "--", self.path(path)])

    def has(self, tool: str) -> bool:
        with self._lock:
            known, asked = self._tools, tool in self._asked
        if known is None or not asked:
            ask = PROBED if known is None else [tool]
            found = set(self._invoke(["sh", "-c", HAS_SCRIPT, "sh", *ask, tool], None).stdout.decode().split())
            with self._lock:
                self._tools = (self._tools or set()) | found
                self._asked |= {*ask, tool}
                known = self._tools
        return tool in known

    def lock_path(self) -> str:
        """Applies from this machine to that host (and root) take this lock, one per host."""
        key = hashlib.sha256(f"{self.user}@{self.hostname}:{self.port}{self.root}".encode()).hexdigest()[:16]
        return os.path.join(os.path.expanduser("~/.cache/converge/locks"), f"ssh-{key}.lock")

    @contextmanager
    def remote_lock(self, timeout: float = 0.0) -> Iterator[None]:
        """Hold ROOT/run/converge/apply.lock on the host (flock) for as long as this ssh session
        lives: its `cat` ends when we close its stdin, or when the connection dies."""
        path = self.path("/run/converge/apply.lock")
        with self._lock:
            self.round_trips += 1
        remote = shlex.join(["env", "LC_ALL=C", "sh", "-c", LOCK_SCRIPT, "sh", path, f"{max(timeout, 0):g}"])
        proc = subprocess.Popen([*self._ssh, "--", self.hostname, remote], stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        assert proc.stdin is not None and proc.stdout is not None and proc.stderr is not None
        try:
            if proc.stdout.readline().strip() != b"locked":
                proc.stdin.close()
                err = proc.stderr.read().decode(errors="replace")
                code = proc.wait()
                if code == 255:
                    self._raise_ssh_failure(err)
                if code == 75:
                    raise LockBusy(f"another apply is running on {self.name} (from another machine: lock {path} "
                                   "on that host); wait for it or use --lock-timeout SECONDS")
                raise HostError(f"cannot take the apply lock {path} on {self.address}: {err.strip() or code}")
            yield
        finally:
            if proc.stdin and not proc.stdin.closed:
                proc.stdin.close()  # the remote cat ends: flock lets go
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            proc.stdout.close()
            proc.stderr.close()

    def flush(self) -> None:
        pass

    def reload(self) -> None:
        pass

    def close(self) -> None:
        """Stop the shared connection and remove its private directory."""
        self._finalizer()


def _close(ssh: list[str], hostname: str, control: str) -> None:
    if any(os.scandir(control)):  # a master is listening: ask it to leave
        subprocess.run([*ssh, "-O", "exit", "--", hostname], capture_output=True, stdin=subprocess.DEVNULL,
                       check=False, timeout=10)
    shutil.rmtree(control, ignore_errors=True)
