"""The commands that change accounts: shadow's groupadd/useradd family (with `-R ROOT` under
--root), chpasswd and smbpasswd with the password on stdin (secrets.MARK, filled in by the
executor), never in argv."""

from __future__ import annotations

from typing import Any

from ... import secrets
from ...errors import PlanError
from ...model import Step
from ..base import Context
from ..holders import dataset_mountpoint
from .read import accounts, rooted, smb_config
from .spec import DEFAULT_SHELL, NO_HOME, GroupSpec, UserSpec


def _r(ctx: Context) -> list[str]:
    root = rooted(ctx)
    return ["-R", root] if root else []


def allocate(ctx: Context, what: str) -> int:
    """The next free uid or gid for an account the manifest gives none, chosen at plan time past
    every id on the host, declared, or given out earlier in this plan, as useradd would (the next
    after the highest in range), but never one a declared account asks for: left to the tools, an
    account created early could take the id another change of the same apply then sets."""
    db = accounts(ctx)
    uids = {p.uid for p in db.passwd.values()} | {s.uid for s in ctx.specs("user").values() if s.uid is not None}
    gids = {g.gid for g in db.group.values()} | {s.gid for s in ctx.specs("group").values() if s.gid is not None}
    taken: set[int] = ctx.reads.setdefault("allocated-ids", set())
    used = (uids | gids) | taken  # a user's own group (useradd -U) gets gid = uid when that is free
    in_range = [i for i in (uids if what == "uid" else gids) | taken if db.uid_min <= i < 60000]
    n = max(in_range) + 1 if in_range else db.uid_min
    while n in used:
        n += 1
    taken.add(n)
    return n


def check_free(ctx: Context, what: str, value: int, name: str) -> None:
    """A declared id another account holds on the host: the tools would refuse it mid-apply."""
    db = accounts(ctx)
    entries = db.passwd.values() if what == "uid" else db.group.values()
    holder = next((e.name for e in entries if (e.uid if what == "uid" else e.gid) == value  # type: ignore[union-attr]
                   and e.name != name), None)
    if holder is not None:
        kind = "user" if what == "uid" else "group"
        raise PlanError(f"{kind} {name}: {what} {value} is taken by {kind} {holder} on the host; choose another "
                        f"{what} (or give {holder} another one first, in its own apply)")


def _id_option(ctx: Context, what: str, declared: int | None, name: str) -> list[str]:
    """`-u UID` / `-g GID`: the declared id (checked free), else the next free one converge allocates."""
    if declared is not None:
        check_free(ctx, what, declared, name)
    return ["-" + what[0], str(declared if declared is not None else allocate(ctx, what))]


def groupadd(name: str, spec: GroupSpec, ctx: Context) -> list[Step]:
    argv = ["groupadd", *_r(ctx), *_id_option(ctx, "gid", spec.gid, name)]
    if spec.members:
        argv += ["-U", ",".join(spec.members)]
    return [Step(argv=[*argv, name], note="create the group")]


def groupmod(name: str, spec: GroupSpec, fields: set[str], ctx: Context) -> list[Step]:
    argv = ["groupmod", *_r(ctx)]
    if "gid" in fields and spec.gid is not None:
        check_free(ctx, "gid", spec.gid, name)
        argv += ["-g", str(spec.gid)]
    if "members" in fields and spec.members is not None:
        argv += ["-U", ",".join(spec.members)]
    return [Step(argv=[*argv, name], note="change the group")] if len(argv) > 1 + len(_r(ctx)) else []


def groupdel(name: str, ctx: Context) -> list[Step]:
    return [Step(argv=["groupdel", *_r(ctx), name], note="delete the group")]


def home_args(spec: UserSpec, ctx: Context, create: bool) -> list[str]:
    """An absolute home is made by useradd; a dataset home is the dataset's mountpoint (the
    dataset kind makes it); no home is Debian's /nonexistent."""
    if spec.home is None:
        return ["-d", NO_HOME, "-M"] if create else []
    if spec.home.startswith("/"):
        return ["-d", spec.home, "-m"] if create else ["-d", spec.home]
    return ["-d", dataset_mountpoint(spec.home, ctx), *(["-M"] if create else [])]


def useradd(name: str, spec: UserSpec, ctx: Context) -> list[Step]:
    argv = ["useradd", *_r(ctx), *_id_option(ctx, "uid", spec.uid, name)]
    if spec.primary_group:
        argv += ["-g", spec.primary_group]
    elif name in ctx.specs("group") or name in ctx.facts.of("group"):
        argv += ["-g", name]  # the group of the same name exists (or is declared): join it
    else:
        argv += ["-U"]  # a group of the user's own, as Debian does
    if spec.groups:
        argv += ["-G", ",".join(spec.groups)]
    argv += ["-s", spec.shell or DEFAULT_SHELL, *home_args(spec, ctx, create=True)]
    if spec.comment:
        argv += ["-c", spec.comment]
    steps = [Step(argv=[*argv, name], note="create the account")]
    if spec.password is not None:
        steps.append(chpasswd(name, spec, ctx))
    if spec.locked:
        steps.append(Step(argv=["usermod", *_r(ctx), "-L", name], note="lock the password"))
    if spec.smb:
        steps.append(smbpasswd_set(name, spec, ctx))
        if spec.locked:
            steps.append(smb_lock(name, True, ctx))
    return steps


def smb_lock(name: str, locked: bool, ctx: Context) -> Step:
    return Step(argv=["smbpasswd", "-c", ctx.host.path(smb_config(ctx)), "-d" if locked else "-e", name],
                note="disable the Samba account" if locked else "enable the Samba account")


def usermod(name: str, spec: UserSpec, fields: set[str], ctx: Context, observed_smb: bool = False) -> list[Step]:
    argv = ["usermod", *_r(ctx)]
    if "uid" in fields and spec.uid is not None:
        check_free(ctx, "uid", spec.uid, name)
        argv += ["-u", str(spec.uid)]
    if "primary_group" in fields and spec.primary_group:
        argv += ["-g", spec.primary_group]
    if "groups" in fields and spec.groups is not None:
        # -G replaces every supplementary group: keep those whose `members` list the user (they own
        # that membership) and that exist already (a new one is made after the user, with -U)
        owned = [g for g, gs in ctx.specs("group").items()
                 if gs.members and name in gs.members and g in ctx.facts.of("group")]
        argv += ["-G", ",".join(sorted(set(spec.groups) | set(owned)))]
    if "shell" in fields and spec.shell:
        argv += ["-s", spec.shell]
    if "home" in fields:
        argv += home_args(spec, ctx, create=False)
    if "comment" in fields and spec.comment is not None:
        argv += ["-c", spec.comment]
    steps = [Step(argv=[*argv, name], note="change the account")] if len(argv) > 1 + len(_r(ctx)) else []
    if "password" in fields and spec.password is not None:
        steps.append(chpasswd(name, spec, ctx))
    if spec.locked is not None and ("locked" in fields or "password" in fields):  # chpasswd unlocks
        steps.append(Step(argv=["usermod", *_r(ctx), "-L" if spec.locked else "-U", name],
                          note="lock the password" if spec.locked else "unlock the password"))
    if spec.smb and ("smb" in fields or "password" in fields):
        steps.append(smbpasswd_set(name, spec, ctx))
    elif "smb" in fields and spec.smb is False:
        steps.append(smbpasswd_delete(name, ctx))
    has_smb = spec.smb if spec.smb is not None else bool(observed_smb)
    if has_smb and spec.locked is not None and ("locked" in fields or "smb" in fields or "password" in fields):
        steps.append(smb_lock(name, spec.locked, ctx))  # smbpasswd -a leaves an account enabled
    return steps


def userdel(name: str, observed: Any, ctx: Context) -> list[Step]:
    """Never `-r`: a home (a dataset, or a directory with someone's files) stays."""
    steps = [smbpasswd_delete(name, ctx)] if observed.spec.get("smb") else []
    return steps + [Step(argv=["userdel", *_r(ctx), name], note="delete the account (its home stays)")]


def _source(name: str, spec: UserSpec, ctx: Context) -> str:
    """Where the password is read at apply time; a missing or unreadable secret fails the plan now."""
    if spec.password is None:
        raise PlanError(f"user {name}: smb needs a password (password: {{secret: NAME}})")
    directory = str(getattr(ctx.desired, "directory", "") or "")
    src = secrets.source(spec.password, secrets.secrets_dir(ctx.settings, directory))
    secrets.read(src, f"user {name}")
    return src


def chpasswd(name: str, spec: UserSpec, ctx: Context) -> Step:
    # -c SHA512: chpasswd hashes itself instead of going through PAM (which -R cannot chroot)
    return Step(argv=["chpasswd", *_r(ctx), "-c", "SHA512"], input=f"{name}:{secrets.MARK}\n",
                secret=_source(name, spec, ctx), note="set the password (on stdin)")


def smbpasswd_set(name: str, spec: UserSpec, ctx: Context) -> Step:
    return Step(argv=["smbpasswd", "-c", ctx.host.path(smb_config(ctx)), "-s", "-a", name],
                input=f"{secrets.MARK}\n{secrets.MARK}\n", secret=_source(name, spec, ctx),
                note="set the Samba password (on stdin)")


def smbpasswd_delete(name: str, ctx: Context) -> Step:
    return Step(argv=["smbpasswd", "-c", ctx.host.path(smb_config(ctx)), "-x", name],
                note="delete the Samba account")
