"""Accounts on the simulated host: `getent`, shadow's `groupadd`/`groupmod`/`groupdel`/
`useradd`/`usermod`/`userdel`/`chpasswd` (Samba's accounts: passdb.py).

State is kept as the tools keep it: /etc/passwd, /etc/group and /etc/shadow in `host.facts.files`
(a Debian base set until the first change). The emulators refuse what the tools refuse, with their messages and exit
codes (shadow 4.13): a duplicate name (9) or id (4), an unknown user or group (6), deleting a
user's primary group (8), an invalid name (3)."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from typing import Any

from ...formats import accounts as fmt
from ...formats.passwords import crypt_hash
from ..base import Result
from . import fail, tool

NAME = re.compile(r"[a-z_][a-z0-9_-]{0,30}\$?")  # NAME_REGEX of Debian's login.defs
BASE_PASSWD = ("root:x:0:0:root:/root:/bin/bash\ndaemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin\n"
               "bin:x:2:2:bin:/bin:/usr/sbin/nologin\nsys:x:3:3:sys:/dev:/usr/sbin/nologin\n"
               "www-data:x:33:33:www-data:/var/www:/usr/sbin/nologin\n"
               "nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n")
BASE_GROUP = ("root:x:0:\ndaemon:x:1:\nbin:x:2:\nsys:x:3:\nadm:x:4:\nwww-data:x:33:\nusers:x:100:\n"
              "nogroup:x:65534:\n")
BASE_SHADOW = "".join(f"{n}:*:19000:0:99999:7:::\n" for n in ("root", "daemon", "bin", "sys", "www-data", "nobody"))
FIRST_ID, LAST_ID = 1000, 60000


class Db:
    """The three files, parsed; save() writes back what changed."""

    def __init__(self, host: Any) -> None:
        self.host = host
        files = host.facts.files
        self.passwd = fmt.parse_passwd(files.get("/etc/passwd", BASE_PASSWD))
        self.group = fmt.parse_group(files.get("/etc/group", BASE_GROUP))
        self.shadow = fmt.parse_shadow(files.get("/etc/shadow", BASE_SHADOW))

    def save(self) -> None:
        files = self.host.facts.files
        files["/etc/passwd"] = fmt.render(list(self.passwd.values()))
        files["/etc/group"] = fmt.render(list(self.group.values()))
        files["/etc/shadow"] = fmt.render(list(self.shadow.values()))
        self.host.changed()

    def free_id(self, used: set[int], want: int | None = None) -> int:
        if want is not None and want not in used:
            return want
        taken = [i for i in used if FIRST_ID <= i < LAST_ID]
        return max(taken) + 1 if taken else FIRST_ID

    def gid_of(self, name_or_id: str) -> int | None:
        if name_or_id.isdigit():
            gid = int(name_or_id)
            return gid if any(g.gid == gid for g in self.group.values()) else None
        g = self.group.get(name_or_id)
        return g.gid if g else None


def _options(argv: list[str], with_value: str, flags: str) -> tuple[dict[str, str], list[str]] | str:
    """Short options (`-u 1000`, `-m`); long ones are not used by converge. A string is an error."""
    opts: dict[str, str] = {}
    rest: list[str] = []
    args = argv[1:]
    i = 0
    while i < len(args):
        a = args[i]
        if a.startswith("-") and len(a) == 2 and a[1] in with_value:
            if i + 1 >= len(args):
                return f"{argv[0]}: option requires an argument -- '{a[1]}'"
            opts[a[1]] = args[i + 1]
            i += 2
            continue
        if a.startswith("-") and len(a) == 2 and a[1] in flags:
            opts[a[1]] = ""
        elif a.startswith("-") and a != "-":
            return f"{argv[0]}: invalid option -- '{a.lstrip('-')}'"
        else:
            rest.append(a)
        i += 1
    return opts, rest


OptionsTool = Callable[[Any, dict[str, str], list[str], str | None], Result]
AccountTool = Callable[[Any, dict[str, str], str, "Db", str | None], Result]


def options_tool(tool_name: str, with_value: str, flags: str) -> Callable[[OptionsTool], OptionsTool]:
    """Registers a tool that takes short options: the function gets (host, options, the other
    words, input); an option the tool does not know is refused for it (exit 2)."""
    def register(fn: OptionsTool) -> OptionsTool:
        @tool(tool_name)
        def run(host: Any, argv: list[str], input: str | None) -> Result:
            parsed = _options(argv, with_value, flags)
            return fail(parsed, 2) if isinstance(parsed, str) else fn(host, parsed[0], parsed[1], input)
        return fn
    return register


def name_tool(tool_name: str, with_value: str, flags: str, kind: str = "user",
              must_exist: bool = False) -> Callable[[AccountTool], AccountTool]:
    """Registers `TOOL [options] NAME`: the function gets (host, options, the one NAME, the account
    files, input), or the tool's refusal is returned for it."""
    def register(fn: AccountTool) -> AccountTool:
        @options_tool(tool_name, with_value, flags)
        def run(host: Any, opts: dict[str, str], rest: list[str], input: str | None) -> Result:
            if len(rest) != 1:
                return fail(f"Usage: {tool_name} [options] {kind.upper()}", 2)
            db = Db(host)
            if must_exist and rest[0] not in (db.passwd if kind == "user" else db.group):
                return fail(f"{tool_name}: {kind} '{rest[0]}' does not exist", 6)
            return fn(host, opts, rest[0], db, input)
        return fn
    return register


def _id_refused(tool_name: str, kind: str, value: str | None, used: set[int], taken: str) -> Result | None:
    """The refusal of an -u/-g id that is not a number (3) or already used (4; `taken` is the tool's text)."""
    if value is None:
        return None
    if not value.isdigit():
        return fail(f"{tool_name}: invalid {kind} ID '{value}'", 3)
    return fail(f"{tool_name}: " + taken.format(value), 4) if int(value) in used else None


def _members(db: Db, listed: str) -> list[str] | str:
    """The users of a `-U a,b` list, or the refusal of the first unknown one."""
    members = [m for m in listed.split(",") if m]
    unknown = next((m for m in members if m not in db.passwd), None)
    return f"Invalid member username {unknown}" if unknown else members


def _days() -> str:
    return str(int(time.time() // 86400))


@tool("getent")
def getent(host: Any, argv: list[str], input: str | None) -> Result:
    if len(argv) < 2 or argv[1] not in ("passwd", "group", "shadow"):
        return fail(f"Unknown database: {argv[1] if len(argv) > 1 else ''}\nTry `getent --help' for more information.")
    db = Db(host)
    entries = list({"passwd": db.passwd, "group": db.group, "shadow": db.shadow}[argv[1]].values())
    if len(argv) > 2:
        entries = [e for e in entries if e.name in argv[2:]]
        if not entries:
            return Result(2)
    return Result(0, fmt.render(entries))


@name_tool("groupadd", "gRUKp", "for", "group")
def groupadd(host: Any, opts: dict[str, str], name: str, db: Db, input: str | None) -> Result:
    if not NAME.fullmatch(name):
        return fail(f"groupadd: '{name}' is not a valid group name", 3)
    if name in db.group:
        return fail(f"groupadd: group '{name}' already exists", 9)
    used = {g.gid for g in db.group.values()}
    refused = _id_refused("groupadd", "group", opts.get("g"), used, "GID '{}' already exists")
    members = _members(db, opts.get("U", ""))
    if refused or isinstance(members, str):
        return refused or fail(f"groupadd: {members}", 3)
    gid = db.free_id(used, int(opts["g"]) if "g" in opts else None)
    db.group[name] = fmt.GroupEntry(name, gid, members)
    db.save()
    return Result(0)


@name_tool("groupmod", "gnRUpP", "ao", "group", must_exist=True)
def groupmod(host: Any, opts: dict[str, str], name: str, db: Db, input: str | None) -> Result:
    entry = db.group[name]
    refused = _id_refused("groupmod", "group", opts.get("g"),
                          {g.gid for g in db.group.values() if g.name != name}, "GID '{}' already exists")
    if refused:
        return refused
    if "g" in opts:
        old, entry.gid = entry.gid, int(opts["g"])
        for p in db.passwd.values():  # the primary group of its users follows, as groupmod does
            if p.gid == old:
                p.gid = entry.gid
    if "U" in opts:
        members = _members(db, opts["U"])
        if isinstance(members, str):
            return fail(f"groupmod: {members}", 3)
        entry.members = sorted(set(entry.members) | set(members)) if "a" in opts else members
    db.save()
    return Result(0)


@name_tool("groupdel", "RP", "f", "group", must_exist=True)
def groupdel(host: Any, opts: dict[str, str], name: str, db: Db, input: str | None) -> Result:
    user = next((p.name for p in db.passwd.values() if p.gid == db.group[name].gid), None)
    if user and "f" not in opts:
        return fail(f"groupdel: cannot remove the primary group of user '{user}'", 8)
    del db.group[name]
    db.save()
    return Result(0)


def _check_groups(db: Db, tool_name: str, opts: dict[str, str]) -> Result | None:
    if "g" in opts and db.gid_of(opts["g"]) is None:
        return fail(f"{tool_name}: group '{opts['g']}' does not exist", 6)
    for g in (x for x in opts.get("G", "").split(",") if x):
        if g not in db.group:
            return fail(f"{tool_name}: group '{g}' does not exist", 6)
    return None


def _set_groups(db: Db, name: str, groups: list[str]) -> None:
    for g in db.group.values():
        g.members = [m for m in g.members if m != name] + ([name] if g.name in groups else [])


@name_tool("useradd", "ugGsdcRePfkKbp", "mMUNro")
def useradd(host: Any, opts: dict[str, str], name: str, db: Db, input: str | None) -> Result:
    if not NAME.fullmatch(name) or name.isdigit():
        return fail(f"useradd: invalid user name '{name}': use --badname to ignore", 3)
    if name in db.passwd:
        return fail(f"useradd: user '{name}' already exists", 9)
    uids = {p.uid for p in db.passwd.values()}
    refused = (_id_refused("useradd", "user", opts.get("u"), uids, "UID {} is not unique")
               or _check_groups(db, "useradd", opts))
    if refused:
        return refused
    uid = db.free_id(uids, int(opts["u"]) if "u" in opts else None)
    if "g" in opts:
        gid = db.gid_of(opts["g"])
    else:  # -U, Debian's default (USERGROUPS_ENAB yes): a group of the user's own name
        if name in db.group:
            return fail(f"useradd: group {name} exists - if you want to add this user to that group, use -g.", 9)
        gid = db.free_id({g.gid for g in db.group.values()}, uid)
        db.group[name] = fmt.GroupEntry(name, gid)
    home = opts.get("d", f"/home/{name}")
    db.passwd[name] = fmt.PasswdEntry(name, uid, int(gid or 0), opts.get("c", ""), home, opts.get("s", "/bin/sh"))
    db.shadow[name] = fmt.ShadowEntry(name, "!", [_days(), "0", "99999", "7", "", "", ""])
    _set_groups(db, name, [g for g in opts.get("G", "").split(",") if g])
    if "m" in opts:
        paths = host.facts.sim.setdefault("paths", [])
        if home not in paths:
            paths.append(home)
    db.save()
    return Result(0)


@name_tool("usermod", "ugGsdcRPlpef", "mLUaov", must_exist=True)
def usermod(host: Any, opts: dict[str, str], name: str, db: Db, input: str | None) -> Result:
    entry = db.passwd[name]
    refused = (_id_refused("usermod", "user", opts.get("u"),
                           {p.uid for p in db.passwd.values() if p.name != name}, "UID '{}' already exists")
               or _check_groups(db, "usermod", opts))
    if refused:
        return refused
    if "u" in opts:
        entry.uid = int(opts["u"])
    if "g" in opts:
        entry.gid = int(db.gid_of(opts["g"]) or 0)
    if "G" in opts:
        groups = [g for g in opts["G"].split(",") if g]
        if "a" in opts:
            groups += [g.name for g in db.group.values() if name in g.members]
        _set_groups(db, name, groups)
    entry.shell = opts.get("s", entry.shell)
    entry.home = opts.get("d", entry.home)
    entry.gecos = opts.get("c", entry.gecos)
    shadow = db.shadow.setdefault(name, fmt.ShadowEntry(name))
    if "L" in opts and not shadow.hash.startswith("!"):
        shadow.hash = "!" + shadow.hash
    if "U" in opts and shadow.hash.startswith("!"):
        if shadow.hash == "!":
            return fail("usermod: unlocking the user's password would result in a passwordless account.\n"
                        "You should set a password with usermod -p to unlock this user's password.", 0)
        shadow.hash = shadow.hash[1:]
    db.save()
    return Result(0)


@name_tool("userdel", "RP", "frZ", must_exist=True)
def userdel(host: Any, opts: dict[str, str], name: str, db: Db, input: str | None) -> Result:
    gid = db.passwd.pop(name).gid
    db.shadow.pop(name, None)
    _set_groups(db, name, [])
    own = db.group.get(name)  # USERGROUPS_ENAB: the user's own group goes when nobody else uses it
    if own is not None and own.gid == gid and not own.members and not any(p.gid == gid for p in db.passwd.values()):
        del db.group[name]
    db.save()
    return Result(0)


@options_tool("chpasswd", "Rcs", "em")
def chpasswd(host: Any, opts: dict[str, str], rest: list[str], input: str | None) -> Result:
    db = Db(host)
    errors = []
    for n, line in enumerate((input or "").splitlines(), 1):
        name, sep, password = line.partition(":")
        if not sep:
            errors.append(f"chpasswd: line {n}: missing new password")
        elif name not in db.shadow or name not in db.passwd:
            errors.append(f"chpasswd: line {n}: user '{name}' does not exist")
        else:
            db.shadow[name].hash = password if "e" in opts else crypt_hash(password)
            db.shadow[name].rest[0] = _days()
    if errors:
        return fail("\n".join(errors) + "\nchpasswd: error detected, changes ignored")
    db.save()
    return Result(0)
