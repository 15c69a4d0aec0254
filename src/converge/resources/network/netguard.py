"""Test-then-commit for network changes (issue 6).

An apply that touches the link carrying the management address (or any apply when
`settings.interface.confirm_timeout` / `--confirm-timeout S` is set) first writes a checkpoint
of every link as it is now, and starts a watchdog on the host, detached (`setsid -f`). Unless
`converge confirm` removes the checkpoint within S seconds, the watchdog restores the links,
addresses, routes and persisted files of the checkpoint exactly, so an admin whose change cut
them off gets their host back.

    python3 -m converge.resources.network.netguard watch CHECKPOINT SECONDS ROOT   (started by the plan's step)
    python3 -m converge.resources.network.netguard rollback CHECKPOINT ROOT         (what the watchdog does)
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Sequence
from typing import Any

from ...hosts.base import Host
from ...hosts.local import LocalHost
from ...model import Facts, Observed, Step
from ..base import Context
from .guard import CHECKPOINT, ROLLED_BACK
from .interface import InterfaceKind
from .spec import InterfaceSpec
from .steps import add_line, batch_step, configure_lines


def rollback_steps(host: Host, checkpoint: dict[str, Any]) -> list[Step]:
    """Steps that bring the host's links back to the checkpoint: links created since are
    deleted, deleted ones re-created, every field of the others restored."""
    kind = InterfaceKind()
    saved = {n: Observed.model_validate(o) for n, o in checkpoint["links"].items()}
    specs = {n: InterfaceSpec.model_validate(o.spec) for n, o in saved.items()}
    ctx = Context(host=host, settings={"interface": checkpoint.get("settings", {})},
                  desired={"interface": specs}, facts=Facts())
    now = kind.read(ctx)
    ctx.facts.resources["interface"] = now
    lines = [f"link del dev {n}" for n in sorted(set(now) - set(saved))
             if now[n].spec.get("type") != "physical" and not _peer_gone(n, now, saved)]
    # parents and ports first, as on an apply
    for name in _parents_first(specs):
        spec, before = specs[name], (now[name].spec if name in now else None)
        if before is not None and any(before.get(k) != saved[name].spec.get(k) for k in kind.create_only):
            lines.append(f"link del dev {name}")
            before = None
        if before is None:
            if spec.type == "physical":
                continue  # a NIC that vanished is not converge's to bring back
            if not _peer_made(name, spec, specs, now):
                lines.append(add_line(name, spec))
            before = {}
        fields = {k for k, v in saved[name].spec.items() if before.get(k) != v}
        lines += configure_lines(name, spec, before, fields, ctx, new=not before)
    steps = batch_step(lines, "roll back to the checkpoint")
    for path, text in sorted(checkpoint.get("files", {}).items()):
        steps.append(Step(op="remove", path=path) if text is None else Step(op="write", path=path, content=text))
    return steps


def _peer_gone(name: str, now: dict[str, Observed], saved: dict[str, Observed]) -> bool:
    peer = now[name].spec.get("peer")
    return bool(peer and peer not in saved and peer < name)


def _peer_made(name: str, spec: Any, specs: dict[str, Any], now: dict[str, Observed]) -> bool:
    return bool(spec.type == "veth" and spec.peer in specs and spec.peer < name and spec.peer not in now)


def _parents_first(specs: dict[str, Any]) -> list[str]:
    import graphlib

    graph = {n: {d for d in list(s.ports or []) + list(s.members or []) + [s.parent or ""] +
                 ([s.peer] if s.type == "veth" and s.peer and s.peer < n else []) if d in specs}
             for n, s in specs.items()}
    return list(graphlib.TopologicalSorter(graph).static_order())


def run_steps(host: Host, steps: list[Step]) -> None:
    for step in steps:
        if step.op == "run":
            host.run(step.argv, input=step.input)
        elif step.op == "write":
            host.write_file(step.path, step.content, step.mode)
        elif step.op == "remove":
            host.remove_file(step.path)


def rollback(host: Host, checkpoint_path: str = CHECKPOINT) -> bool:
    """Roll back now if a checkpoint is pending; True when it did."""
    text = host.read_file(checkpoint_path)
    if text is None:
        return False
    checkpoint = json.loads(text)
    run_steps(host, rollback_steps(host, checkpoint))
    host.remove_file(checkpoint_path)
    host.write_file(ROLLED_BACK, json.dumps({"at": time.time(), "links": sorted(checkpoint["links"])}) + "\n")
    return True


def main(argv: Sequence[str]) -> int:
    cmd, path = argv[0], argv[1]
    if cmd == "watch":
        seconds, root = float(argv[2]), argv[3]
        # detached from the apply: never hold its pipes open
        fd = os.open(os.devnull, os.O_RDWR)
        for n in (0, 1, 2):
            os.dup2(fd, n)
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if not os.path.exists(path):
                return 0  # confirmed
            time.sleep(min(0.2, max(0.0, deadline - time.monotonic())))
    else:
        root = argv[2]
    host = LocalHost(root=None if root in ("", "/") else root)
    rel = "/" + os.path.relpath(path, host.path("/")) if host.root else path
    rollback(host, rel)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
