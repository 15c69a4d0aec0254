"""Samba's accounts on the simulated host: `smbpasswd` and `pdbedit`.

The passdb is kept in the smbpasswd(5) format (a real passdb backend, and what `pdbedit -L -w`
prints). As with the real tools, an account needs its Unix user (Samba finds it through NSS)."""

from __future__ import annotations

import time
from typing import Any

from ...formats import accounts as fmt
from ...formats.passwords import nt_hash
from ..base import Result
from . import fail
from .accounts import Db, options_tool

PASSDB = "/var/lib/samba/private/smbpasswd"


def _passdb(host: Any) -> dict[str, fmt.SmbPasswdEntry]:
    return fmt.parse_smbpasswd(host.facts.files.get(PASSDB, ""))


def _save_passdb(host: Any, entries: dict[str, fmt.SmbPasswdEntry]) -> None:
    host.facts.files[PASSDB] = fmt.render(list(entries.values()))
    host.changed()


@options_tool("smbpasswd", "cUr", "saxdenD")
def smbpasswd(host: Any, opts: dict[str, str], rest: list[str], input: str | None) -> Result:
    if len(rest) != 1:
        return fail("When run by root:\n    smbpasswd [options] [username]")
    name = rest[0]
    entries = _passdb(host)
    if "x" in opts:
        if entries.pop(name, None) is None:
            return fail(f"Failed to find entry for user {name}.\nFailed to delete entry for user {name}.")
        _save_passdb(host, entries)
        return Result(0, f"Deleted user {name}.\n")
    if "d" in opts or "e" in opts:
        if name not in entries:
            return fail(f"Failed to find entry for user {name}.")
        e = entries[name]
        e.flags = (e.flags.replace("D", "") + "D") if "d" in opts else e.flags.replace("D", "")
        _save_passdb(host, entries)
        return Result(0, f"{'Disabled' if 'd' in opts else 'Enabled'} user {name}.\n")
    user = Db(host).passwd.get(name)
    if user is None:  # Samba maps the account to a Unix user through NSS
        return fail(f"Failed to add entry for user {name}.")
    lines = (input or "").splitlines() if "s" in opts else []
    if len(lines) < 2 or lines[0] != lines[1]:
        return fail("Mismatch - password unchanged.\nUnable to get new password.")
    if name not in entries and "a" not in opts:
        return fail(f"Failed to find entry for user {name}.")
    entries[name] = fmt.SmbPasswdEntry(name, user.uid, nt_hash(lines[0]), "U", last_change=int(time.time()))
    _save_passdb(host, entries)
    return Result(0, f"Added user {name}.\n" if "a" in opts else "")


@options_tool("pdbedit", "suU", "Lwvx")
def pdbedit(host: Any, opts: dict[str, str], rest: list[str], input: str | None) -> Result:
    entries = _passdb(host)
    if "x" in opts:
        name = opts.get("u", "")
        if entries.pop(name, None) is None:
            return fail("Username not found!")
        _save_passdb(host, entries)
        return Result(0)
    if "L" in opts:
        return Result(0, fmt.render(list(entries.values())) if "w" in opts
                      else "".join(f"{e.name}:{e.uid}:\n" for e in entries.values()))
    return fail("pdbedit: no action given (-L, -x)", 2)
