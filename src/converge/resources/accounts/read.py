"""Reading accounts in bulk: one `getent` per database (or the files under --root) and one
`pdbedit -L -w` for Samba, shared by the group and user kinds within a facts pass."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ... import secrets
from ...errors import PlanError
from ...formats import accounts as fmt
from ...formats.passwords import crypt_matches, nt_hash
from ...hosts.base import read_files
from ...logs import get_logger
from ...model import Observed, Ref
from ..base import Context
from ..holders import dataset_mountpoint, shared_read
from . import extras

log = get_logger(__name__)
DIFFERS = "(differs)"  # the observed password when the secret does not match the stored hash
SMB_CONFIG = "/etc/samba/smb.conf"


@dataclass
class Accounts:
    passwd: dict[str, fmt.PasswdEntry] = field(default_factory=dict)
    group: dict[str, fmt.GroupEntry] = field(default_factory=dict)
    shadow: dict[str, fmt.ShadowEntry] = field(default_factory=dict)
    smb: dict[str, fmt.SmbPasswdEntry] | None = None  # None: Samba's passdb could not be read
    uid_min: int = fmt.UID_MIN_DEFAULT

    def group_name(self, gid: int) -> str:
        return next((g.name for g in self.group.values() if g.gid == gid), str(gid))


def rooted(ctx: Context) -> str:
    """The --root directory, or '' on the machine itself (and on the simulated host)."""
    root = ctx.host.path("/")
    return "" if root in ("/", "") else root.rstrip("/")


def smb_config(ctx: Context) -> str:
    return str(ctx.kind_settings("smb").get("config", SMB_CONFIG))


def accounts(ctx: Context) -> Accounts:
    return shared_read(ctx, "accounts", lambda: _read(ctx))


def _read(ctx: Context) -> Accounts:
    host = ctx.host
    texts: dict[str, str] = {}
    # the files in one read (one round trip on a remote host); getent would answer for the
    # machine, not for the tree under --root
    files = read_files(host, [f"/etc/{db}" for db in ("passwd", "group", "shadow")] + ["/etc/login.defs"]) \
        if rooted(ctx) else read_files(host, ["/etc/login.defs"])
    for db in ("passwd", "group", "shadow"):
        if rooted(ctx):
            texts[db] = files[f"/etc/{db}"] or ""
        else:
            result = host.run(["getent", db], check=False)
            if result.returncode not in (0, 2):  # 2: the database is empty
                raise PlanError(f"getent {db} failed (exit {result.returncode}): {result.stderr.strip()[-300:]}")
            texts[db] = result.stdout
    out = Accounts(fmt.parse_passwd(texts["passwd"]), fmt.parse_group(texts["group"]),
                   fmt.parse_shadow(texts["shadow"]), uid_min=fmt.uid_min(files["/etc/login.defs"]))
    config = smb_config(ctx)
    if host.has("pdbedit"):
        result = host.run(["pdbedit", "-s", host.path(config), "-L", "-w"], check=False)
        if result.returncode == 0:
            out.smb = fmt.parse_smbpasswd(result.stdout)
        else:
            log.warning("pdbedit -L -w failed: Samba accounts are not read", error=result.stderr.strip()[-300:])
    return out


def read_groups(ctx: Context) -> dict[str, Observed]:
    db = accounts(ctx)
    declared = ctx.specs("group")
    out = {}
    for name, g in db.group.items():
        members = sorted(set(g.members))
        spec: dict[str, Any] = {"gid": g.gid}
        if name in declared and declared[name].members is not None:
            # compared only where the group owns its membership; elsewhere it is the users' `groups`
            # (and a group leaving the manifests then waits for its users' deletes, not the reverse)
            spec["members"] = members
        out[name] = Observed(spec=spec, managed=ctx.managed_in_state(Ref(kind="group", name=name)),
                             info={"system": g.gid < db.uid_min, "members": members})
    return out


def read_users(ctx: Context) -> dict[str, Observed]:
    db = accounts(ctx)
    declared_users = ctx.specs("user")
    owned_membership = {n for n, g in ctx.specs("group").items() if g.members is not None}
    supplementary: dict[str, list[str]] = {}
    for g in db.group.values():
        for member in g.members:
            supplementary.setdefault(member, []).append(g.name)
    out = {}
    for name, p in db.passwd.items():
        shadow = db.shadow.get(name)
        spec: dict[str, Any] = {
            "uid": p.uid, "primary_group": db.group_name(p.gid),
            "groups": sorted(set(supplementary.get(name, [])) - owned_membership),
            "shell": p.shell, "locked": bool(shadow and shadow.locked) and not _smb_enabled(name, db),
        }
        if p.gecos:
            spec["comment"] = p.gecos
        if p.home and p.home != "/nonexistent":
            spec["home"] = p.home
        if db.smb is not None:
            spec["smb"] = name in db.smb
        want = declared_users.get(name)
        if want is not None and want.home and not want.home.startswith("/") \
                and dataset_mountpoint(want.home, ctx) == p.home:
            spec["home"] = want.home  # the dataset named, mounted where passwd says
        if want is not None and want.password is not None:
            spec["password"] = _password(name, want, shadow, db, ctx)
        if want is not None:
            spec.update(extras.read(name, p.home, want, ctx))
        out[name] = Observed(spec=spec, managed=ctx.managed_in_state(Ref(kind="user", name=name)),
                             info={"system": p.uid < db.uid_min, "home": p.home,
                                   "password_set": bool(shadow and shadow.hash.lstrip("!") not in ("", "*"))})
    return out


def _smb_enabled(name: str, db: Accounts) -> bool:
    """A locked account is locked for Samba too: an enabled Samba account reads as unlocked."""
    entry = (db.smb or {}).get(name)
    return entry is not None and not entry.disabled


def _password(name: str, want: Any, shadow: fmt.ShadowEntry | None, db: Accounts, ctx: Context) -> Any:
    """The declared reference when the secret matches what the host stores (shadow, and Samba's NT
    hash when the user has a Samba account), else DIFFERS: compared by hash, never by value."""
    src = secrets.source(want.password, secrets.secrets_dir(ctx.settings, _directory(ctx)))
    try:
        value = secrets.read(src, f"user {name}")
    except PlanError:
        return DIFFERS  # the update that follows says what is missing
    if shadow is None or not crypt_matches(value, shadow.hash):
        return DIFFERS
    entry = (db.smb or {}).get(name)
    if want.smb and entry is not None and entry.nt_hash != nt_hash(value):
        return DIFFERS
    return want.password.model_dump(mode="json", exclude_none=True)


def _directory(ctx: Context) -> str:
    return str(getattr(ctx.desired, "directory", "") or "")
