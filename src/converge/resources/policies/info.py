"""Info lines for `converge plan`: when each policy runs next and how many snapshots it holds."""

from __future__ import annotations

from datetime import UTC, datetime

from ...errors import ConvergeError
from ...formats import calendar
from ..base import Context
from ..storage.common import pool_driver
from .run import datasets_of, marked
from .spec import SnapshotPolicySpec


def info_lines(ctx: Context, now: datetime | None = None) -> list[str]:
    now = now or datetime.now(UTC)
    lines = []
    for name, spec in sorted(ctx.specs("snapshot_policy").items()):
        assert isinstance(spec, SnapshotPolicySpec)
        nxt = calendar.parse(spec.schedule).next_run(now)
        when = nxt.strftime("%Y-%m-%d %H:%M:%S UTC") if nxt else "never"
        try:
            held = sum(len(marked(name, spec.prefix_for(name), d, pool_driver(ctx, d), ctx))
                       for d in datasets_of(name, spec, ctx))
            count = f"holds {held} snapshot{'s' if held != 1 else ''}"
        except ConvergeError:
            count = "datasets not on the host yet"
        lines.append(f"snapshot_policy/{name}: next run {when}; {count}")
    for name, repl in sorted(ctx.specs("replication").items()):
        nxt = calendar.parse(repl.schedule).next_run(now)
        base = ctx.state.get("replication_bases", {}).get(name)
        to = f" to host {repl.target.host}" if repl.target.host else ""
        lines.append(f"replication/{name}{to}: next run {nxt.strftime('%Y-%m-%d %H:%M:%S UTC') if nxt else 'never'}; "
                     + (f"last common snapshot {base}" if base else "nothing sent yet"))
    for name, pool in sorted(ctx.specs("pool").items()):
        if getattr(pool, "scrub_schedule", None):
            nxt = calendar.parse(pool.scrub_schedule).next_run(now)
            lines.append(f"pool/{name}: next scrub {nxt.strftime('%Y-%m-%d %H:%M:%S UTC') if nxt else 'never'}")
    return lines
