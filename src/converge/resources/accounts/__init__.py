"""Kinds `group` and `user`: local accounts (passwd, group, shadow) and Samba accounts.

Ownership: converge deletes only the accounts it created (recorded in its host-side state on
create). An existing account named in a manifest is adopted for the declared fields only and is
never deleted. System accounts (below login.defs UID_MIN) are never deleted and never renumbered."""

from __future__ import annotations

import re
from typing import Any

from ...errors import PlanError
from ...model import FieldDiff, Observed, Ref, Step
from ..base import Context, Kind, KindAction, record_managed
from ..storage.common import specs_of
from . import extras, steps
from .read import read_groups, read_users
from .spec import ACCOUNT_NAME, NAME_ALLOWED, GroupSpec, UserSpec

SHARE_USER_FIELDS = ("valid_users", "write_list", "admin_users")


def share_account_refs(names: list[str] | None) -> list[Ref]:
    """`alice` is a user; `@staff`, `+staff`, `&staff` are groups (smb.conf(5))."""
    out = []
    for n in names or []:
        if n[:1] in "@+&":
            out.append(Ref(kind="group", name=n.lstrip("@+&")))
        elif "%" not in n:  # a substitution (%U) names nobody in particular
            out.append(Ref(kind="user", name=n))
    return out


def shares_naming(desired: Any) -> set[str]:
    """Declared users that a declared SMB share names, directly or through a declared group."""
    users, groups = specs_of(desired, "user"), specs_of(desired, "group")
    names: set[str] = set()
    for share in specs_of(desired, "smb").values():
        for f in SHARE_USER_FIELDS:
            for ref in share_account_refs(getattr(share, f, None)):
                if ref.kind == "user":
                    names.add(ref.name)
                    continue
                group = groups.get(ref.name)
                names |= set(group.members or []) if group is not None and group.members is not None else \
                    {u for u, spec in users.items() if ref.name in (spec.groups or []) or spec.primary_group == ref.name}
    return names


def _refuse_system(kind: str, name: str, observed: Observed, what: str) -> None:
    if observed.info.get("system"):
        raise PlanError(f"{kind} {name} is a system account (below UID_MIN of login.defs): converge never {what} it")


def _unlock_needs_password(name: str) -> str:
    return (f"user {name}: locked: off needs a password (usermod -U refuses to leave an account without "
            "one); add password: {secret: NAME} or leave locked out")


class GroupKind(Kind[GroupSpec]):
    kind = "group"
    section = ("groups",)
    spec = GroupSpec
    name_pattern = re.compile(ACCOUNT_NAME.pattern)
    name_allowed = NAME_ALLOWED
    tools = ("getent", "groupadd")

    def depends(self, name: str, spec: GroupSpec) -> list[Ref]:
        return [Ref(kind="user", name=m) for m in spec.members or []]

    def validate_set(self, specs: dict[str, GroupSpec], desired: Any) -> list[tuple[str, str, str]]:
        problems = []
        users = specs_of(desired, "user")
        for name, spec in sorted(specs.items()):
            if spec.members is None:
                continue
            both = sorted(u for u, s in users.items() if name in (s.groups or []))
            if both:
                problems.append((name, "members", f"group {name}: membership is declared here and in the `groups` "
                                                  f"of user {', '.join(both)}; declare it in one place only"))
        return problems

    def read(self, ctx: Context) -> dict[str, Observed]:
        return read_groups(ctx)

    def create(self, name: str, spec: GroupSpec, ctx: Context) -> list[Step]:
        return steps.groupadd(name, spec, ctx) + [record_managed(self.ref(name), True)]

    def update(self, name: str, spec: GroupSpec, observed: Observed, diffs: list[FieldDiff], ctx: Context) -> list[Step]:
        fields = {d.path.split(".", 1)[0] for d in diffs}
        if "gid" in fields:
            _refuse_system("group", name, observed, "renumbers")
        return steps.groupmod(name, spec, fields, ctx)

    def delete(self, name: str, observed: Observed, ctx: Context) -> list[Step]:
        _refuse_system("group", name, observed, "deletes")
        return steps.groupdel(name, ctx) + [record_managed(self.ref(name), False)]


class UserKind(Kind[UserSpec]):
    kind = "user"
    section = ("users",)
    spec = UserSpec
    actions = {"password": KindAction('admin: {"password": ...} into the user\'s secret file (0600); a password_changed stamp',
                                      handler="password", admin_only=True)}
    name_pattern = re.compile(ACCOUNT_NAME.pattern)
    name_allowed = NAME_ALLOWED
    tools = ("getent", "useradd")

    def depends(self, name: str, spec: UserSpec) -> list[Ref]:
        refs = [Ref(kind="group", name=g) for g in [spec.primary_group, *(spec.groups or [])] if g]
        return refs

    def validate_set(self, specs: dict[str, UserSpec], desired: Any) -> list[tuple[str, str, str]]:
        problems = []
        groups = specs_of(desired, "group")
        named = shares_naming(desired)
        uids: dict[int, str] = {}
        for name, spec in sorted(specs.items()):
            if spec.uid is not None:
                if spec.uid in uids:
                    problems.append((name, "uid", f"uid {spec.uid} is also declared for user {uids[spec.uid]}"))
                uids.setdefault(spec.uid, name)
            if spec.authorized_keys and not spec.home:
                problems.append((name, "authorized_keys", "authorized_keys need a home: set home (a path or a dataset)"))
            if spec.smb and spec.password is None:
                problems.append((name, "smb", "a Samba account needs a password: add password: {secret: NAME}"))
            if spec.smb is None and spec.password is not None and name in named:
                spec.smb = True  # the default: a user a share names gets a Samba account (now declared)
            if spec.primary_group is None and name in groups:
                spec.primary_group = name  # a declared group of the user's name is their group: made first
        for name, spec in sorted(specs.items()):
            for i, g in enumerate(spec.groups or []):
                if g in groups and groups[g].members is not None:
                    problems.append((name, f"groups.{i}", f"group {g} declares its members itself; list user "
                                                           f"{name} there, not here (membership is declared in one place)"))
        return problems

    def read(self, ctx: Context) -> dict[str, Observed]:
        return read_users(ctx)

    def create(self, name: str, spec: UserSpec, ctx: Context) -> list[Step]:
        if spec.locked is False and spec.password is None:
            raise PlanError(_unlock_needs_password(name))
        home = steps.home_args(spec, ctx, create=True)[1]
        return steps.useradd(name, spec, ctx) + extras.steps(name, spec, home, {"authorized_keys", "sudo"}, ctx) \
            + [record_managed(self.ref(name), True)]

    def update(self, name: str, spec: UserSpec, observed: Observed, diffs: list[FieldDiff], ctx: Context) -> list[Step]:
        fields = {d.path.split(".", 1)[0] for d in diffs}
        if "uid" in fields:
            _refuse_system("user", name, observed, "renumbers")
        if "locked" in fields and spec.locked is False and spec.password is None and not observed.info.get("password_set"):
            raise PlanError(_unlock_needs_password(name))
        home = steps.home_args(spec, ctx, create=False)[1] if spec.home else str(observed.info.get("home", ""))
        return steps.usermod(name, spec, fields, ctx, bool(observed.spec.get("smb"))) \
            + extras.steps(name, spec, home, fields, ctx)

    def delete(self, name: str, observed: Observed, ctx: Context) -> list[Step]:
        _refuse_system("user", name, observed, "deletes")
        return extras.delete_steps(name, observed, ctx) + steps.userdel(name, observed, ctx) \
            + [record_managed(self.ref(name), False)]


ACCOUNT_KINDS: list[Kind] = [GroupKind(), UserKind()]  # groups first: users name them
