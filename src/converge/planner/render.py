"""A plan as a person reads it: one block per change, `+ ~ -/+ -`, destroys impossible to miss."""

from __future__ import annotations

from typing import Any

from ..model import JOINT_KINDS, Action, Change, Plan
from ..redaction import mask

WORDS = {Action.CREATE: "create", Action.UPDATE: "update", Action.REPLACE: "REPLACE", Action.DELETE: "DESTROY"}
COLORS = {Action.CREATE: "green", Action.UPDATE: "yellow", Action.REPLACE: "red", Action.DELETE: "red"}


def render_plan(plan: Plan, style: Any = None, show_steps: bool = True) -> str:
    """`style(text, fg=..., bold=...)` colours (click.style on a terminal); plain text otherwise."""
    paint = style or (lambda text, **_: text)
    lines: list[str] = []
    for w in plan.warnings:
        lines.append(paint(f"warning: {w}", fg="yellow"))
    for c in plan.changes:
        lines += _change(c, paint, show_steps)
    lines.append(summary_line(plan))
    return "\n".join(lines)


def _change(c: Change, paint: Any, show_steps: bool) -> list[str]:
    color = COLORS.get(c.action, None)
    bold = c.action in (Action.REPLACE, Action.DELETE)
    head = f"{c.action.value} {c.ref.kind} {c.ref.name}"
    if c.action in (Action.REPLACE, Action.DELETE):
        head += f"   <-- {WORDS[c.action]}" + (" (destroys data)" if c.destructive else "")
    out = [paint(head, fg=color, bold=bold)]
    if c.reason and (c.action is not Action.CREATE or c.ref.kind in JOINT_KINDS):  # a joint: what it is for
        out.append(f"    # {c.reason}")
    for d in c.diffs if c.action is Action.CREATE else ():
        out.append(f"    {d.path}: {d.after_text}")
    for d in c.diffs if c.action is not Action.CREATE else ():
        mark = "  (forces replacement)" if d.forces_replace else ""
        out.append(paint(f"    ~ {d.path}: {d.before_text} → {d.after_text}{mark}", fg=color if d.forces_replace else None))
    for item in c.destroys:
        out.append(paint(f"    ! takes with it: {item}", fg="red"))
    if c.blocked:
        out.append(paint(f"    ✗ refused: {c.blocked}", fg="red", bold=True))
    if show_steps:
        for s in c.steps:
            if s.op != "state":
                out.append(paint(f"    $ {s.display()}", dim=True))
            if s.op == "run" and s.input:  # a batch on stdin (`ip -batch -`): show what it runs
                out += [paint(f"      < {line}", dim=True) for line in mask(s.input, s.redact).splitlines()]
    return out


def summary_line(plan: Plan) -> str:
    if plan.empty:
        return "No changes. The host matches the manifests."
    s = plan.summary()
    text = (f"Plan: {s['create']} to create, {s['update']} to update, {s['replace']} to replace, "
            f"{s['delete']} to destroy.")
    if s["blocked"]:
        text += f" {s['blocked']} refused (see ✗ above)."
    return text
