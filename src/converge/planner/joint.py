"""Explicit changes for what several changes share on the host (a kind's shared file, one atomic
`ip -batch`, a stop another change waits for), and the ordering edges kinds ask for. A plan reader
sees each change's own steps only: `+ smb media` says it waits for `~ file /etc/samba/converge.conf`,
and that change lists the entries it writes and the file's digest before and after."""

from __future__ import annotations

import hashlib
import json

from ..model import JOINT_KINDS, Action, Change, Plan, Ref
from ..resources import Context, Kind
from ..resources.base import Joint, Spec
from .diff import diff_fields


def arrange(kind: Kind, changes: list[Change], ctx: Context) -> list[Change]:
    """Apply the kind's edges to its changes, and return the explicit changes of its joints."""
    by_ref = {c.ref: c for c in changes}
    for first, then in kind.edges(changes, ctx):
        change = by_ref[then]
        if first not in change.depends_on:
            change.depends_on.append(first)
    return [joint_change(j, by_ref) for j in kind.joints(changes, ctx)]


def joint_change(joint: Joint, by_ref: dict[Ref, Change]) -> Change:
    """The joint as a change: it waits for what its creates, updates and replaces need (the
    dataset a share's directory is on); every change it carries waits for it. Deletes it carries
    wait for it too, so whatever must outlive them on the host (a share's dataset) outlives it."""
    carried = [by_ref[r] for r in joint.carries]
    refs = set(joint.carries)
    needs: list[Ref] = []
    for change in carried:
        if change.action is not Action.DELETE:
            needs += [d for d in change.depends_on if d not in refs and d not in needs]
    for change in carried:
        change.depends_on.append(joint.ref)
    after = joint.after
    return Change(ref=joint.ref, action=Action.CREATE if joint.before is None else Action.UPDATE,
                  before=joint.before, after=after, diffs=diff_fields(Spec, after, joint.before or {}),
                  steps=joint.steps, depends_on=needs, reason=joint.reason)


def carried_by(changes: list[Change]) -> dict[Ref, list[Change]]:
    """Explicit change -> the changes that wait for it (the ones it exists for)."""
    out: dict[Ref, list[Change]] = {}
    for change in changes:
        for dep in change.depends_on:
            if dep.kind in JOINT_KINDS:
                out.setdefault(dep, []).append(change)
    return out


def hold_joints(plan: Plan) -> None:
    """An explicit change is held with any change it exists for: the file written without a held
    share delete would delete it anyway, a stop for a held replace would stop a container for nothing."""
    carried = carried_by(plan.changes)
    for change in plan.changes:
        if change.ref.kind in JOINT_KINDS and not change.blocked:
            held = next((c for c in carried.get(change.ref, []) if c.blocked), None)
            if held is not None:
                change.blocked = f"{change.ref} waits with {held.ref}: {held.blocked}"


def desired_digest(carried: list[Change], desired: dict[str, str]) -> str:
    """What an explicit change was made from: the manifests of the changes it carries."""
    data = json.dumps(sorted((str(c.ref), desired.get(str(c.ref), "")) for c in carried))
    return hashlib.sha256(data.encode()).hexdigest()[:16]
