"""The account formats: parsing what the tools print, and the hashes they store."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from converge.formats import accounts as fmt
from converge.formats.passwords import crypt_hash, crypt_matches, md4, nt_hash

# Recorded from Debian 12 (shadow 4.13, Samba 4.17): files written by useradd/chpasswd -R and
# `pdbedit -L -w` after `smbpasswd -a -s alice` (password "hunter2").
PASSWD = """root:x:0:0:root:/root:/bin/bash
nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin
alice:x:1000:1001:Alice,,,:/nonexistent:/usr/sbin/nologin
+nisuser::::::
"""
GROUP = "root:x:0:\nstaff:x:1000:alice,bob\nalice:x:1001:\n"
SHADOW = "root:*:19000:0:99999:7:::\nalice:!$6$XSpA8mLud7uplBIM$V5sU:20785:0:99999:7:::\n"
PDBEDIT = ("alice:1000:XXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX:6608E4BC7B2B7A5F77CE3573570775AF:[U          ]:LCT-6B0AA141:\n")


def test_md4_rfc1320_vectors_and_the_nt_hash():
    assert md4(b"").hex() == "31d6cfe0d16ae931b73c59d7e0c089c0"
    assert md4(b"abc").hex() == "a448017aaf21d8525fc10ae87aa6729d"
    assert md4(b"message digest").hex() == "d9130a8164549fe818874806e1c7014b"
    assert md4(b"1234567890" * 8).hex() == "e33b4ddc9c38f2199c3e7b164fcc0536"
    assert nt_hash("password") == "8846F7EAEE8FB117AD06BDD830B7586C"  # the well-known NT hash
    assert nt_hash("hunter2") == fmt.parse_smbpasswd(PDBEDIT)["alice"].nt_hash


def test_parsers_read_the_files_the_tools_write():
    users = fmt.parse_passwd(PASSWD)
    assert list(users) == ["root", "nobody", "alice"]  # NIS `+` lines are not local accounts
    assert (users["alice"].uid, users["alice"].gid, users["alice"].gecos) == (1000, 1001, "Alice,,,")
    groups = fmt.parse_group(GROUP)
    assert groups["staff"].members == ["alice", "bob"] and groups["alice"].members == []
    shadow = fmt.parse_shadow(SHADOW)
    assert shadow["alice"].locked and not shadow["root"].locked
    smb = fmt.parse_smbpasswd(PDBEDIT)["alice"]
    assert (smb.uid, smb.flags, smb.last_change, smb.disabled) == (1000, "U", 0x6B0AA141, False)
    assert fmt.render([smb]) == PDBEDIT


def test_login_defs_uid_min():
    assert fmt.uid_min("# comment\nUID_MIN\t\t\t 2000\nUID_MAX 60000\n") == 2000
    assert fmt.uid_min(None) == 1000 and fmt.uid_min("UID_MIN x\n") == 1000


def test_crypt_hash_round_trip_and_lock():
    stored = crypt_hash("s3cret")
    assert stored.startswith("$6$") and crypt_matches("s3cret", stored)
    assert crypt_matches("s3cret", "!" + stored)  # a locked password still has the same hash
    assert not crypt_matches("other", stored) and not crypt_matches("s3cret", "!") and not crypt_matches("", "*")


names = st.from_regex(r"[a-z_][a-z0-9_-]{0,10}", fullmatch=True)
ids = st.integers(0, 2**32 - 2)
text = st.from_regex(r"[A-Za-z0-9 ,./_-]{0,20}", fullmatch=True)


@given(st.lists(st.builds(fmt.PasswdEntry, names, ids, ids, text, text, text), unique_by=lambda e: e.name))
def test_passwd_render_parse_round_trip(entries):
    assert list(fmt.parse_passwd(fmt.render(entries)).values()) == entries


@given(st.lists(st.builds(fmt.GroupEntry, names, ids, st.lists(names, max_size=4)), unique_by=lambda e: e.name))
def test_group_render_parse_round_trip(entries):
    assert list(fmt.parse_group(fmt.render(entries)).values()) == entries
