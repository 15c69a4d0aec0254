"""The simulated account tools refuse what shadow 4.13 and Samba 4.17 refuse, with their exit codes."""

from __future__ import annotations

from converge.formats import accounts as fmt
from converge.formats.passwords import crypt_matches, nt_hash


def run(sim, *argv, input=None):
    return sim.run(list(argv), input=input, check=False)


def test_useradd_groupadd_and_their_refusals(sim):
    assert run(sim, "groupadd", "-g", "2000", "staff").returncode == 0
    assert run(sim, "groupadd", "staff").returncode == 9  # already exists
    r = run(sim, "groupadd", "-g", "2000", "other")
    assert (r.returncode, r.stderr) == (4, "groupadd: GID '2000' already exists\n")
    assert run(sim, "useradd", "-U", "-G", "staff", "-s", "/usr/sbin/nologin", "-d", "/nonexistent", "-M", "alice").returncode == 0
    r = run(sim, "useradd", "-u", "1000", "-U", "bob")
    assert (r.returncode, r.stderr) == (4, "useradd: UID 1000 is not unique\n")
    r = run(sim, "useradd", "-g", "nosuch", "carol")
    assert (r.returncode, r.stderr) == (6, "useradd: group 'nosuch' does not exist\n")
    assert run(sim, "useradd", "-U", "Bad!").returncode == 3
    assert run(sim, "useradd", "-U", "alice").returncode == 9
    passwd = fmt.parse_passwd(run(sim, "getent", "passwd").stdout)
    assert (passwd["alice"].uid, passwd["alice"].shell) == (1000, "/usr/sbin/nologin") and "root" in passwd
    groups = fmt.parse_group(run(sim, "getent", "group").stdout)
    assert groups["staff"].members == ["alice"] and groups["alice"].gid == passwd["alice"].gid
    r = run(sim, "groupdel", "alice")
    assert (r.returncode, r.stderr) == (8, "groupdel: cannot remove the primary group of user 'alice'\n")
    assert run(sim, "userdel", "alice").returncode == 0
    groups = fmt.parse_group(run(sim, "getent", "group").stdout)
    assert "alice" not in groups and groups["staff"].members == []  # own group gone, membership gone
    assert run(sim, "userdel", "alice").returncode == 6


def test_passwords_are_stored_hashed_and_samba_needs_the_unix_user(sim):
    run(sim, "useradd", "-U", "alice")
    assert run(sim, "smbpasswd", "-s", "-a", "ghost", input="pw\npw\n").returncode == 1  # no Unix user
    assert run(sim, "chpasswd", "-c", "SHA512", input="alice:pw\n").returncode == 0
    stored = fmt.parse_shadow(run(sim, "getent", "shadow").stdout)["alice"].hash
    assert crypt_matches("pw", stored) and "pw" not in stored.split("$")
    assert run(sim, "smbpasswd", "-s", "-a", "alice", input="pw\nother\n").returncode == 1  # mismatch
    assert run(sim, "smbpasswd", "-s", "-a", "alice", input="pw\npw\n").returncode == 0
    entry = fmt.parse_smbpasswd(run(sim, "pdbedit", "-L", "-w").stdout)["alice"]
    assert entry.nt_hash == nt_hash("pw") and entry.uid == 1000
    assert run(sim, "usermod", "-L", "alice").returncode == 0
    assert fmt.parse_shadow(run(sim, "getent", "shadow").stdout)["alice"].locked
    assert run(sim, "smbpasswd", "-x", "alice").stdout == "Deleted user alice.\n"
    assert fmt.parse_smbpasswd(run(sim, "pdbedit", "-L", "-w").stdout) == {}
