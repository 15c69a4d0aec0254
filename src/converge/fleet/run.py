"""Fleet runs: one job per host of the inventory, `forks` at a time, each under its own host's
lock (engine.reconcile takes it). A host that fails is a row of the summary, never the end of
the run; the others go on."""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from ..config import Config
from ..errors import ConvergeError, ManifestError
from .inventory import FleetHost


@dataclass
class HostOutcome:
    name: str
    address: str
    ok: bool = False
    changes: int = 0
    result: str = ""  # a short word or the error, for the summary
    seconds: float = 0.0
    output: str = ""  # what the single-host command would have printed
    data: dict[str, Any] = field(default_factory=dict)  # --json


def open_fleet_target(directory: str, config: Config, host: FleetHost) -> Any:
    """An engine.Target for one inventory host: its address, root, manifest directories, vars."""
    from ..engine import Target
    from ..hosts import open_host

    opened = open_host(host.address, root=host.root, sim_seed=config.sim,
                       ssh=host.ssh if host.address.startswith("ssh://") else None)
    return Target(directory, config, opened, layers=host.manifests, vars=host.vars, inventory_name=host.name,
                  skip=host.skip)


def run_fleet(directory: str, config: Config, hosts: list[FleetHost], job: Callable[[Any, HostOutcome], None],
              forks: int) -> list[HostOutcome]:
    """Run `job(target, outcome)` for every host, `forks` in parallel; results in inventory order."""

    def one(host: FleetHost) -> HostOutcome:
        outcome = HostOutcome(host.name, host.address)
        started = time.monotonic()
        target = None
        try:
            target = open_fleet_target(directory, config, host)
            job(target, outcome)
        except ManifestError as e:
            outcome.ok, outcome.result = False, f"invalid manifests ({len(e.issues)} errors)"
            outcome.output = str(e)
        except ConvergeError as e:
            outcome.ok, outcome.result = False, f"error: {e}"
        except (OSError, ValueError) as e:
            outcome.ok, outcome.result = False, f"error: {e}"
        except Exception as e:  # a bug in converge: this host's row says so, the others go on
            outcome.ok, outcome.result = False, f"internal error: {type(e).__name__}: {e}"
        finally:
            close = getattr(target.host, "close", None) if target is not None else None
            if close is not None:
                close()
            outcome.seconds = time.monotonic() - started
        return outcome

    with ThreadPoolExecutor(max_workers=max(1, forks), thread_name_prefix="converge-host") as pool:
        return list(pool.map(one, hosts))


def planned(outcome: HostOutcome, plan: Any) -> None:
    """A host's row after its plan (the CLI and the API's fleet plan alike)."""
    import json

    outcome.ok, outcome.changes = True, len(plan.changes)
    outcome.result = "no changes" if plan.empty else f"{len(plan.changes)} to change"
    outcome.data["plan"] = json.loads(plan.redacted().model_dump_json())


def applied(outcome: HostOutcome, done: Any) -> None:
    """A host's row after its reconcile (engine.reconcile's outcome)."""
    report = done.report
    outcome.changes, outcome.ok = len(done.plan.changes), report.ok
    outcome.result = "no changes" if done.plan.empty else \
        f"converged ({len(report.applied)} applied)" if report.ok else \
        f"failed: {len(report.failed)} failed, {len(report.skipped)} skipped, {len(report.held)} held"


def summary_table(outcomes: list[HostOutcome]) -> str:
    rows = [("HOST", "CHANGES", "RESULT", "TIME")]
    rows += [(o.name, str(o.changes), o.result.splitlines()[0] if o.result else "", f"{o.seconds:.1f}s")
             for o in outcomes]
    widths = [max(len(r[i]) for r in rows) for i in range(3)]
    lines = ["  ".join(r[i].ljust(widths[i]) for i in range(3)) + "  " + r[3] for r in rows]
    failed = sum(not o.ok for o in outcomes)
    lines.append(f"{len(outcomes)} hosts: {len(outcomes) - failed} ok, {failed} failed, "
                 f"{sum(o.changes > 0 for o in outcomes if o.ok)} with changes")
    return "\n".join(lines)


def exit_code(outcomes: list[HostOutcome], detailed: bool) -> int:
    """1 if any host failed; else 2 with --detailed-exitcode if any host has changes; else 0."""
    if any(not o.ok for o in outcomes):
        return 1
    return 2 if detailed and any(o.changes for o in outcomes) else 0
