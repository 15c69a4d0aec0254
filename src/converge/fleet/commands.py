"""`converge plan|apply|facts --all / --limit NAME,GROUP,TAG`: the single-host command on each
host of the inventory, in parallel, then one summary table. Output of each host is printed as a
block after it finished (never interleaved)."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from typing import Any

import click

from ..config import load_fleet
from ..errors import ConvergeError
from .inventory import select
from .run import HostOutcome, applied, exit_code, planned, run_fleet, summary_table


def selected_hosts(directory: str, limit: str | None) -> tuple[Any, list[Any]]:
    """converge.yaml's config and the inventory hosts `limit` selects (all without one)."""
    config, hosts = load_fleet(directory)
    if not hosts:
        raise ConvergeError(f"{os.path.join(directory, 'converge.yaml')} has no hosts: declare them under `hosts:` "
                            "(or name an Ansible inventory with `inventory: FILE`)")
    try:
        return config, select(hosts, limit)
    except ValueError as e:
        raise ConvergeError(str(e)) from None


def _finish(outcomes: list[HostOutcome], as_json: bool, detailed: bool, key: str) -> None:
    if as_json:
        click.echo(json.dumps({"hosts": {o.name: {"address": o.address, "ok": o.ok, "result": o.result,
                                                   "changes": o.changes, "seconds": round(o.seconds, 3),
                                                   key: o.data.get(key)} for o in outcomes}}, indent=1))
    else:
        for o in outcomes:
            click.echo(f"== {o.name} ({o.address}) ==")
            if o.output:
                click.echo(o.output)
            if not o.ok:
                click.echo(f"✗ {o.name}: {o.result}", err=True)
        click.echo(summary_table(outcomes))
    code = exit_code(outcomes, detailed)
    if code:
        raise SystemExit(code)


def _run(directory: str, limit: str | None, forks: int, job: Callable[[Any, HostOutcome], None]) -> list[HostOutcome]:
    directory = os.path.abspath(directory)
    config, hosts = selected_hosts(directory, limit)
    return run_fleet(directory, config, hosts, job, forks)


def fleet_plan(directory: str, limit: str | None, forks: int, *, as_json: bool, detailed: bool, out: str | None,
               allow_destroy: set[Any], targets: list[Any] | None, style: Any) -> None:
    from .. import engine
    from ..fsutil import atomic_write
    from ..planner.render import render_plan

    def job(target: Any, outcome: HostOutcome) -> None:
        result, _ = engine.plan(target, allow_destroy=allow_destroy, targets=targets)
        planned(outcome, result)
        outcome.output = render_plan(result, style)
        if out:  # one saved plan per host, named after it (apply refuses it on another host)
            atomic_write(os.path.join(out, f"{outcome.name}.json"), result.model_dump_json(indent=1) + "\n", 0o600)

    _finish(_run(directory, limit, forks, job), as_json, detailed, "plan")


def fleet_apply(directory: str, limit: str | None, forks: int, *, allow_destroy: set[Any],
                targets: list[Any] | None, parallelism: int, lock_timeout: float, style: Any) -> None:
    from .. import engine
    from ..planner.render import render_plan

    def job(target: Any, outcome: HostOutcome) -> None:
        done = engine.reconcile(target, allow_destroy=allow_destroy, targets=targets, parallelism=parallelism,
                                lock_timeout=lock_timeout)
        report = done.report
        applied(outcome, done)
        if done.plan.empty:
            outcome.output = "No changes. The host matches the manifests."
            return
        lines = [render_plan(done.plan, style, show_steps=False).rsplit("\n", 1)[0]]
        lines += [f"✗ {f.ref}: {f.step}\n    {f.error}" for f in report.failed]
        lines += [f"- skipped {ref}: depends on {cause}" for ref, cause in report.skipped]
        lines += [f"✗ held {ref}: not allowed" for ref in report.held]
        outcome.output = "\n".join(lines)

    _finish(_run(directory, limit, forks, job), False, False, "report")


def fleet_facts(directory: str, limit: str | None, forks: int, out: str | None) -> None:
    from .. import engine
    from ..fsutil import atomic_write

    def job(target: Any, outcome: HostOutcome) -> None:
        ctx = engine.read_facts(target.host, None, target.config.settings)
        outcome.ok, outcome.result = True, "read"
        counts = ", ".join(f"{len(v)} {k}" for k, v in ctx.facts.resources.items() if v)
        if out:
            path = os.path.join(out, f"{outcome.name}.json")
            atomic_write(path, ctx.facts.model_dump_json(indent=1) + "\n")
            outcome.output = f"wrote {path}: {counts or 'nothing found'}"
        else:
            outcome.data["facts"] = json.loads(ctx.facts.model_dump_json())
            outcome.output = counts or "nothing found"

    _finish(_run(directory, limit, forks, job), not out, False, "facts")


def saved_plan_target(saved: Any, host: str | None, limit: str | None) -> Any:
    """The inventory host a saved fleet plan was made for; --host or --limit naming another is refused."""
    from .run import open_fleet_target

    name = saved.inventory_host
    if host or (limit and limit != name):
        raise ConvergeError(f"this plan was made for host {name} of the inventory: it is applied there only "
                            f"(drop --host/--limit, or make a plan for {host or limit})")
    config, hosts = load_fleet(saved.directory)
    if name not in hosts:
        raise ConvergeError(f"this plan was made for host {name}, which is no longer in the inventory of "
                            f"{saved.directory}")
    return open_fleet_target(saved.directory, config, hosts[name])


def fleet_validate(directory: str, limit: str | None, forks: int) -> None:
    from .. import engine

    def job(target: Any, outcome: HostOutcome) -> None:
        desired, _ = engine.load_checked(target)
        counts = ", ".join(f"{n} {k}" for k, n in desired.count().items() if n)
        outcome.ok, outcome.result = True, "valid"
        outcome.output = "\n".join([f"valid: {len(desired.files)} files, {counts or 'no resources'}",
                                    *(f"overlay: {line}" for line in desired.overlays)])

    _finish(_run(directory, limit, forks, job), False, False, "")


def fleet_run(directory: str, limit: str | None, forks: int, ref: Any, at: Any, lock_timeout: float) -> None:
    """`converge run KIND/NAME --all`: the policy, replication or scrub on each host that declares it."""
    from ..runs import run as run_ref

    def job(target: Any, outcome: HostOutcome) -> None:
        actions = run_ref(target, ref, at, lock_timeout)
        outcome.ok, outcome.changes = True, sum(a.verb in ("created", "sent", "pruned") for a in actions)
        outcome.result = "ran" if actions else "nothing to do"
        outcome.output = "\n".join(a.line() for a in actions)

    _finish(_run(directory, limit, forks, job), False, False, "")
