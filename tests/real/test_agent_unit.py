"""The real systemd tools on converge-agent.service: `systemd-analyze verify` of the rendered unit,
`systemctl --root=ROOT` enabling it (the .wants link, is-enabled), a second install that changes
nothing, and a unit the verifier refuses that leaves nothing installed. All under a temp --root:
this machine's own systemd is never touched."""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest

from converge import agent
from converge.errors import ConvergeError
from converge.hosts import open_host

pytestmark = pytest.mark.real

TOOLS = "/usr/sbin:/usr/bin:/sbin:/bin"


def sh(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False)


@pytest.fixture
def root(tmp_path):
    for tool in ("systemctl", "systemd-analyze"):
        if not shutil.which(tool, path=TOOLS):
            pytest.fail(f"{tool} is needed (Debian package systemd)")
    (tmp_path / "root").mkdir()
    return tmp_path / "root"


def test_the_agent_unit_verifies_installs_and_enables_under_root(tmp_path, root):
    manifests = tmp_path / "manifests"
    manifests.mkdir()
    (tmp_path / "agent.token").write_text("cvg_x\n")
    host = open_host("local", root=str(root))
    argv = agent.watch_argv(str(manifests), host, 30, "http://127.0.0.1:8470", str(tmp_path / "agent.token"))
    content = agent.render_unit(str(manifests), argv)
    rendered = tmp_path / agent.UNIT
    rendered.write_text(content)
    verified = sh("systemd-analyze", "verify", str(rendered))
    assert verified.returncode == 0, verified.stderr
    assert agent.install(host, content).changed
    unit = root / "etc/systemd/system" / agent.UNIT
    assert unit.read_text() == content
    assert os.readlink(root / "etc/systemd/system/multi-user.target.wants" / agent.UNIT) == f"/etc/systemd/system/{agent.UNIT}"
    assert sh("systemctl", f"--root={root}", "is-enabled", agent.UNIT).stdout.strip() == "enabled"
    again = agent.install(host, content)
    assert not again.changed and "nothing to change" in again.lines[0]
    assert agent.uninstall(host).changed
    assert not unit.exists() and not os.path.lexists(root / "etc/systemd/system/multi-user.target.wants" / agent.UNIT)


def test_a_unit_the_verifier_refuses_is_not_installed(tmp_path, root):
    host = open_host("local", root=str(root))
    bad = agent.render_unit(str(tmp_path), [f"/nonexistent-{os.getpid()}/converge", "watch", str(tmp_path)])
    with pytest.raises(ConvergeError, match="is not executable"):
        agent.install(host, bad)
    assert not (root / "etc/systemd/system" / agent.UNIT).exists()
    assert not (root / "var/lib/converge/unit-candidates" / agent.UNIT).exists()
