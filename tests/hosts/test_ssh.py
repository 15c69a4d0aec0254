"""The SSH host without a server: addresses, options, and how the ssh command line is built
(argv only; the remote command is shlex.join of the argv). tests/real/test_fleet_ssh.py runs it
against real sshd."""

from __future__ import annotations

import shlex

import pytest

from converge.errors import HostError
from converge.hosts import open_host
from converge.hosts.ssh import SshHost, parse_address


@pytest.mark.parametrize(("address", "parsed"), [
    ("ssh://nas", (None, "nas", 22)),
    ("ssh://root@10.0.0.2:2222", ("root", "10.0.0.2", 2222)),
    ("ssh://admin@[fd00::1]:23", ("admin", "fd00::1", 23)),
])
def test_addresses(address, parsed):
    assert parse_address(address) == parsed


@pytest.mark.parametrize("address", ["ssh://", "http://nas", "ssh://-oProxyCommand=x", "ssh://a:b@nas",
                                     "ssh://nas/path", "ssh://nas:0", "ssh://nas:99999", "ssh://bad user@nas"])
def test_bad_addresses_are_refused(address):
    with pytest.raises(HostError, match="is not an SSH address"):
        parse_address(address)


def test_options_cannot_turn_host_key_checking_off(tmp_path):
    with pytest.raises(HostError, match="StrictHostKeyChecking"):
        SshHost("ssh://nas", ssh_options={"StrictHostKeyChecking": "no"})
    with pytest.raises(HostError, match="not allowed"):
        SshHost("ssh://nas", ssh_options={"Bad Option": "x"})


def test_the_command_line(tmp_path, monkeypatch):
    host = open_host("ssh://root@nas:2222", root="/srv/r", ssh={"identity_file": str(tmp_path / "k"),
                     "known_hosts": str(tmp_path / "kh"), "ssh_options": {"ConnectTimeout": 3}})
    seen = []

    class Done:
        returncode, stdout, stderr = 0, b"ok\n", b""

    monkeypatch.setattr("subprocess.run", lambda argv, **kw: seen.append((argv, kw)) or Done())
    result = host.run(["echo", "a b; rm -rf /", "$(x)"], input="secret")
    argv, kw = seen[0]
    assert result.stdout == "ok\n" and kw["input"] == b"secret"  # stdin, never argv
    assert argv[:6] == ["ssh", "-T", "-p", "2222", "-l", "root"]
    options = dict(argv[i + 1].split("=", 1) for i, a in enumerate(argv) if a == "-o")
    assert options["StrictHostKeyChecking"] == "yes" and options["BatchMode"] == "yes"
    assert options["UserKnownHostsFile"] == str(tmp_path / "kh") and options["ConnectTimeout"] == "3"
    assert options["ControlMaster"] == "auto" and options["ControlPath"].endswith("/%C")
    assert argv[-3:-1] == ["--", "nas"]
    assert shlex.split(argv[-1]) == ["env", "LC_ALL=C", "LANG=C", "echo", "a b; rm -rf /", "$(x)"]
    assert host.path("/etc/hostname") == "/srv/r/etc/hostname" and host.name == "ssh://root@nas:2222 (root /srv/r)"
    host.close()


def test_a_relative_root_is_refused():
    with pytest.raises(HostError, match="absolute path"):
        SshHost("ssh://nas", root="rel")
