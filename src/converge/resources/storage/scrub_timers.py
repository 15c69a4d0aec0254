"""A pool's `scrub_schedule`: a `converge-scrub-POOL` timer + service pair (units.py) whose run
is `converge run pool/NAME` (`zpool scrub` / `btrfs scrub start -B`)."""

from __future__ import annotations

from ...model import Observed, Ref, Step
from ..base import Context, record_managed
from ..policies import units
from .btrfs_driver import pool_path
from .common import pool_driver


def stem(pool: str) -> str:
    return f"converge-scrub-{pool}"


def _render(pool: str, schedule: str, ctx: Context) -> tuple[str, str]:
    return units.render_units(Ref(kind="pool", name=pool), stem(pool), schedule, {"schedule": schedule}, ctx)


def read(ctx: Context, pools: dict[str, Observed]) -> None:
    """Put each pool's scrub schedule (as its timer says, drift noted) into its observed spec."""
    scheduled = {n for n, spec in ctx.specs("pool").items() if getattr(spec, "scrub_schedule", None)}
    installed = {k.split("/", 1)[1] for k in ctx.state.get("managed", {}) if k.startswith("scrub_timer/")}
    names = sorted(set(pools) & (scheduled | installed))
    found = units.read_units(ctx, {n: stem(n) for n in names})
    for name, (spec, enabled, text) in found.items():
        schedule = str(spec.get("schedule", ""))
        seen = units.observed(spec, enabled, text, _render(name, schedule, ctx), {})
        pools[name].spec["scrub_schedule"] = seen.spec.get("schedule")
        pools[name].info["scrub_timer"] = stem(name) + ".timer"


def steps(pool: str, schedule: str | None, ctx: Context) -> list[Step]:
    """Install (or, with no schedule, remove) the pool's scrub timer."""
    ref = Ref(kind="scrub_timer", name=pool)
    if schedule is None:
        return units.remove_steps(stem(pool), ctx.host) + [record_managed(ref, False)]
    timer, service = _render(pool, schedule, ctx)
    return units.install_steps(stem(pool), timer, service, ctx.host) + [record_managed(ref, True)]


def scrub(pool: str, ctx: Context) -> list[str]:
    """Run the scrub now (the run a scrub timer calls); returns the argv run."""
    if pool_driver(ctx, pool) == "btrfs":
        argv = ["btrfs", "scrub", "start", "-B", pool_path(ctx, pool)]
    else:
        argv = ["zpool", "scrub", pool]
    ctx.host.run(argv)
    return argv
