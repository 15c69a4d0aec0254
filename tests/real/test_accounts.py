"""Real shadow tools and Samba 4.17 for the group and user kinds.

Accounts: converge applies groups and users with `useradd -R ROOT` & co. on a copy of a minimal
/etc under a temp dir, checked by reading those files and by `pwck -r -R` / `grpck -r -R`.
Samba: in a private mount namespace (accounts_ns.py) where ROOT/etc stands in for /etc, converge
creates the accounts and the share, and smbd on a free loopback port lets alice in with her
password and refuses a wrong password and a user outside valid_users. The machine's own account
files are checked unchanged."""

from __future__ import annotations

import hashlib
import json
import os
import pathlib
import shutil
import socket
import stat
import subprocess
import sys
import tempfile

import pytest

from converge.engine import plan, reconcile
from converge.formats import accounts as fmt
from converge.formats.passwords import crypt_matches, nt_hash
from converge.model import Action

pytestmark = [pytest.mark.real, pytest.mark.usefixtures("without_machine_zfs")]  # tests/real/conftest.py
HERE = pathlib.Path(__file__).parent
sys.path.insert(0, str(HERE))
from accounts_ns import FOREIGN_TOOLS, isolated_target  # noqa: E402
from isolation import unique_name  # noqa: E402

POOL = unique_name()  # the btrfs label: another run of the suite may be at the same test

MACHINE_FILES = ("/etc/passwd", "/etc/group", "/etc/shadow", "/etc/gshadow")
PASSWD = "root:x:0:0:root:/root:/bin/bash\nnobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n"
GROUP = "root:x:0:\nusers:x:100:\nnogroup:x:65534:\n"


def checksums() -> dict[str, str]:
    return {p: hashlib.sha256(open(p, "rb").read()).hexdigest() for p in MACHINE_FILES if os.path.exists(p)}


@pytest.fixture
def machine_untouched():
    before = checksums()
    yield
    assert checksums() == before, "the machine's own account files changed"


def minimal_etc(root: pathlib.Path, extra_passwd: str = "", extra_group: str = "") -> None:
    etc = root / "etc"
    etc.mkdir(parents=True, exist_ok=True)
    (etc / "passwd").write_text(PASSWD + extra_passwd)
    (etc / "group").write_text(GROUP + extra_group)
    names = [line.split(":")[0] for line in (PASSWD + extra_passwd).splitlines()]
    groups = [line.split(":")[0] for line in (GROUP + extra_group).splitlines()]
    (etc / "shadow").write_text("".join(f"{n}:*:19000:0:99999:7:::\n" for n in names))
    (etc / "gshadow").write_text("".join(f"{g}:*::\n" for g in groups))
    for name in ("shadow", "gshadow"):
        os.chmod(etc / name, 0o640)
    shutil.copy("/etc/login.defs", etc / "login.defs")
    (etc / "sudoers.d").mkdir(exist_ok=True)
    # what pwck looks for: the homes and shells the entries name
    (root / "root").mkdir(exist_ok=True)
    for shell in ("bin/bash", "usr/sbin/nologin", "bin/zsh"):
        path = root / shell
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("")
        path.chmod(0o755)


def manifests(directory: pathlib.Path, text: str, secrets: dict[str, str]) -> str:
    (directory / "secrets").mkdir(parents=True, exist_ok=True)
    (directory / "converge.yaml").write_text("settings:\n  user: {secrets_dir: secrets}\n")
    (directory / "m.yaml").write_text(text)
    for name, value in secrets.items():
        path = directory / "secrets" / name
        path.write_text(value + "\n")
        path.chmod(0o600)
    return str(directory)


ACCOUNTS = """\
groups:
  media: {}
users:
  alice:
    groups: [media]
    comment: Alice
    password: {secret: alice}
    sudo: ["ALL=(root) /usr/bin/apt update"]
  bob:
    groups: [media]
  carol:
    shell: /bin/zsh
"""


def test_shadow_tools_under_a_root(tmp_path, machine_untouched):
    root = tmp_path / "root"
    minimal_etc(root, extra_passwd="carol:x:1500:1500::/nonexistent:/bin/bash\n", extra_group="carol:x:1500:\n")
    directory = manifests(tmp_path / "m", ACCOUNTS, {"alice": "first passphrase"})

    def target():
        return isolated_target(directory, str(root))

    first, _ = plan(target())
    actions = {str(c.ref): c for c in first.changes}
    assert {r: c.action for r, c in actions.items()} == {
        "group/media": Action.CREATE, "user/alice": Action.CREATE, "user/bob": Action.CREATE,
        "user/carol": Action.UPDATE}  # carol exists: adopted for her shell only
    assert actions["user/alice"].steps[0].argv[:3] == ["useradd", "-R", str(root)]
    reconcile(target())  # NotConverged unless the re-plan is empty
    assert plan(target())[0].empty
    passwd = fmt.parse_passwd((root / "etc/passwd").read_text())
    groups = fmt.parse_group((root / "etc/group").read_text())
    shadow = fmt.parse_shadow((root / "etc/shadow").read_text())
    assert passwd["alice"].shell == "/usr/sbin/nologin" and passwd["alice"].gecos == "Alice"
    assert passwd["carol"].shell == "/bin/zsh" and groups["media"].members == ["alice", "bob"]
    assert crypt_matches("first passphrase", shadow["alice"].hash) and shadow["bob"].hash == "!"
    drop_in = root / "etc/sudoers.d/converge-alice"
    assert drop_in.read_text().endswith("alice ALL=(root) /usr/bin/apt update\n")
    assert stat.S_IMODE(drop_in.stat().st_mode) == 0o440
    for check in (["pwck", "-r", "-R", str(root)], ["grpck", "-r", "-R", str(root)], ["visudo", "-cf", str(drop_in)]):
        result = subprocess.run(check, capture_output=True, text=True)
        assert result.returncode == 0, (check, result.stdout, result.stderr)

    # a rule sudo refuses (a command must be a full path): the apply fails at visudo, the drop-in stays
    (tmp_path / "m/m.yaml").write_text(ACCOUNTS.replace("/usr/bin/apt update", "apt update"))
    outcome = reconcile(target())
    assert [f.ref for f in outcome.report.failed] and "fully-qualified" in outcome.report.failed[0].error
    assert drop_in.read_text().endswith("alice ALL=(root) /usr/bin/apt update\n")
    (tmp_path / "m/m.yaml").write_text(ACCOUNTS)
    (tmp_path / "m/secrets/alice").write_text("second passphrase\n")
    changed, _ = plan(target())
    assert [(str(c.ref), [d.path for d in c.diffs]) for c in changed.changes] == [("user/alice", ["password"])]
    reconcile(target())
    assert crypt_matches("second passphrase", fmt.parse_shadow((root / "etc/shadow").read_text())["alice"].hash)

    (tmp_path / "m/m.yaml").write_text(ACCOUNTS.replace("  bob:\n    groups: [media]\n", "").replace(
        "  carol:\n    shell: /bin/zsh\n", ""))
    removed, _ = plan(target())
    assert [(str(c.ref), c.action) for c in removed.changes] == [("user/bob", Action.DELETE)]  # never carol
    reconcile(target())
    passwd = fmt.parse_passwd((root / "etc/passwd").read_text())
    assert "bob" not in passwd and "carol" in passwd and "bob" not in fmt.parse_group((root / "etc/group").read_text())


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHk8ZlA2uQzDgX2W alice@laptop"
SHARED = ACCOUNTS.replace("  carol:\n    shell: /bin/zsh\n", "").replace(
    "  bob:\n    groups: [media]\n", "  bob:\n    password: {secret: bob}\n    smb: true\n").replace(
    "    comment: Alice\n", f"    comment: Alice\n    home: /home/alice\n    authorized_keys: [\"{KEY}\"]\n") + """\
pools:
  POOLNAME: {driver: btrfs, disks: [LOOP], mountpoint: /srv/POOLNAME}
datasets:
  POOLNAME/media: {group: media, mode: "2770"}
shares:
  smb:
    media:
      path: POOLNAME/media
      valid_users: ["@media"]
"""


def test_samba_logins_end_to_end(loop, machine_untouched):
    if shutil.which("unshare") is None or shutil.which("smbd") is None:
        pytest.fail("unshare and smbd are needed (util-linux, samba)")
    # not under pytest's 0700 temp dir: alice (uid 1000 inside) must reach the share directory
    base = pathlib.Path(tempfile.mkdtemp(prefix="converge-accounts-"))
    try:
        base.chmod(0o755)
        root, run = base / "root", base / "run"
        shutil.copytree("/etc", root / "etc", symlinks=True)  # NSS, ld.so.cache...; accounts replaced below
        minimal_etc(root)
        port = free_port()
        for d in ("private", "lock", "state", "cache", "pid", "ncalrpc", "log"):
            (run / d).mkdir(parents=True)
        (root / "etc/samba").mkdir(exist_ok=True)
        (root / "etc/samba/smb.conf").write_text(
            "[global]\n" + "".join(f"\t{k} = {v}\n" for k, v in [
                ("smb ports", port), ("interfaces", "lo"), ("bind interfaces only", "yes"),
                ("disable netbios", "yes"), ("server role", "standalone server"), ("load printers", "no"),
                ("printing", "bsd"), ("printcap name", "/dev/null"), ("disable spoolss", "yes"),
                ("rpc start on demand helpers", "no"), ("private dir", run / "private"),
                ("lock directory", run / "lock"), ("state directory", run / "state"),
                ("cache directory", run / "cache"), ("pid directory", run / "pid"),
                ("ncalrpc dir", run / "ncalrpc"), ("log file", run / "log/log.%m"),
                ("passdb backend", f"tdbsam:{run}/private/passdb.tdb")]))
        manifests(base / "manifests", SHARED.replace("LOOP", loop).replace("POOLNAME", POOL), {"alice": "alice pass 1", "bob": "bob pass 1"})
        env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
        result = subprocess.run(["unshare", "-m", sys.executable, str(HERE / "accounts_ns.py"), str(base), str(port), POOL],
                                capture_output=True, text=True, timeout=300, env=env)
        assert result.returncode == 0, result.stderr[-3000:]
        report = json.loads(result.stdout.strip().splitlines()[-1])
        assert "error" not in report, report.get("error")
        assert report["second_plan"] == []
        assert {"group/media", "user/alice", "user/bob", "smb/media", f"dataset/{POOL}/media"} <= set(report["applied"])
        media_gid = fmt.parse_group((root / "etc/group").read_text())["media"].gid
        assert report["media_stat"] == [0, media_gid, 0o2770]  # the dataset: root:media 2770
        smb = fmt.parse_smbpasswd(report["pdbedit"])
        assert smb["alice"].nt_hash == nt_hash("alice pass 1") and "bob" in smb
        assert report["alice"]["rc"] == 0 and "blocks of size" in report["alice"]["out"], report["alice"]
        assert report["alice_wrong"]["rc"] != 0 and "NT_STATUS_LOGON_FAILURE" in report["alice_wrong"]["out"]
        assert report["bob"]["rc"] != 0 and "NT_STATUS_ACCESS_DENIED" in report["bob"]["out"], report["bob"]
        keys = root / "home/alice/.ssh/authorized_keys"
        uid = fmt.parse_passwd((root / "etc/passwd").read_text())["alice"].uid
        assert KEY in keys.read_text() and keys.stat().st_uid == uid and stat.S_IMODE(keys.stat().st_mode) == 0o600
        assert (keys.parent.stat().st_uid, stat.S_IMODE(keys.parent.stat().st_mode)) == (uid, 0o700)
    finally:
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture
def loop(loops):
    """One loop device of tests/real/conftest.py (detached only while its backing file is ours)."""
    return loops[0]


def test_dataset_owner_group_mode_on_real_btrfs(loop, tmp_path):
    """chown/chmod on a real subvolume, read back with stat; accounts of the machine (nobody,
    nogroup) because chown resolves names through the machine's NSS."""
    sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "resources"))
    from storage_loop import converge, specs

    from converge.hosts import LocalHost

    class BtrfsOnly(LocalHost):  # blind to other tests' zfs-fuse pools and containers on this machine
        def has(self, tool: str) -> bool:
            return tool not in FOREIGN_TOOLS and super().has(tool)

    root = tmp_path / "root"
    host = BtrfsOnly(str(root))
    mnt = root / "srv" / POOL
    state: dict = {}
    desired = {"pool": specs("pool", {POOL: {"driver": "btrfs", "disks": [loop], "mountpoint": f"/srv/{POOL}"}}),
               "dataset": specs("dataset", {f"{POOL}/share": {"owner": "nobody", "group": "nogroup", "mode": "2770"}})}
    steps = converge(host, desired, state)
    assert [s.argv for s in steps if s.argv[:1] in (["chown"], ["chmod"])] == [
        ["chown", "--", "nobody:nogroup", f"{mnt}/share"], ["chmod", "--", "02770", f"{mnt}/share"]]
    info = os.stat(mnt / "share")
    assert (info.st_uid, info.st_gid, stat.S_IMODE(info.st_mode)) == (65534, 65534, 0o2770)
    assert converge(host, desired, state) == []  # read back with stat: nothing left to do
    desired["dataset"] = specs("dataset", {f"{POOL}/share": {"owner": "nobody", "group": "nogroup", "mode": "0750"}})
    assert [s.argv for s in converge(host, desired, state) if s.op == "run"] == [["chmod", "--", "00750", f"{mnt}/share"]]
    assert stat.S_IMODE(os.stat(mnt / "share").st_mode) == 0o750  # the setgid bit is cleared too
