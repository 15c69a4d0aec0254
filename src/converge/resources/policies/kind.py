"""Kind `snapshot_policy` (section `snapshot_policies:`): what to snapshot, when and what to keep.

The kind itself only owns the systemd timer + service that run `converge run snapshot_policy/NAME`
on its schedule; the snapshots are taken and pruned by that run (run.py), never by apply."""

from __future__ import annotations

import re
from typing import Any, ClassVar, TypeVar

from ...model import FieldDiff, Observed, Ref, Step
from ..base import Context, Kind, KindAction, Spec, record_managed
from . import units
from .spec import SnapshotPolicySpec

S = TypeVar("S", bound=Spec)


class TimerKind(Kind[S]):
    """A kind whose whole presence on the host is a timer + service pair running `converge run`."""

    name_pattern = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}")
    name_allowed = "up to 64 letters, digits, '_', '-' (it names a systemd unit)"
    unit_prefix: ClassVar[str] = "converge-run-"

    def stem(self, name: str) -> str:
        return f"{self.unit_prefix}{name}"

    def _names(self, ctx: Context) -> list[str]:
        managed = [k.split("/", 1)[1] for k in ctx.state.get("managed", {}) if k.startswith(self.kind + "/")]
        return sorted(set(ctx.specs(self.kind)) | set(managed))

    def read(self, ctx: Context) -> dict[str, Observed]:
        found = units.read_units(ctx, {n: self.stem(n) for n in self._names(ctx)})
        out: dict[str, Observed] = {}
        for name, (spec, enabled, text) in found.items():
            rendered = self._render(name, spec, ctx)
            out[name] = units.observed(spec, enabled, text, rendered, {"timer": self.stem(name) + ".timer"})
        return out

    def _render(self, name: str, declared: dict[str, Any], ctx: Context) -> tuple[str, str]:
        return units.render_units(self.ref(name), self.stem(name), str(declared.get("schedule", "")), declared, ctx)

    def create(self, name: str, spec: S, ctx: Context) -> list[Step]:
        timer, service = self._render(name, spec.declared(), ctx)
        return units.install_steps(self.stem(name), timer, service, ctx.host) + [record_managed(self.ref(name), True)]

    def update(self, name: str, spec: S, observed: Observed, diffs: list[FieldDiff],
               ctx: Context) -> list[Step]:
        return self.create(name, spec, ctx)

    def delete(self, name: str, observed: Observed, ctx: Context) -> list[Step]:
        # The policy's snapshots stay: they are data; only the schedule goes.
        return units.remove_steps(self.stem(name), ctx.host) + [record_managed(self.ref(name), False)]


class SnapshotPolicyKind(TimerKind[SnapshotPolicySpec]):
    kind = "snapshot_policy"
    section = ("snapshot_policies",)
    spec = SnapshotPolicySpec
    label = "snapshot policy"
    actions = {"run": KindAction("run the policy now (not an edit); optional body {at: ISO8601}", handler="run")}

    def depends(self, name: str, spec: SnapshotPolicySpec) -> list[Ref]:
        return [Ref(kind="dataset" if "/" in d else "pool", name=d) for d in spec.datasets]

    def validate_set(self, specs: dict[str, SnapshotPolicySpec], desired: Any) -> list[tuple[str, str, str]]:
        """A replication target changes only by receiving: a policy's snapshot there would make the
        next incremental receive fail. Recursive policies skip targets; naming one is an error."""
        targets = ({r.target.pool_dataset: n for n, r in desired.specs("replication").items() if not r.target.host}
                   if desired else {})
        problems = []
        for name, spec in sorted(specs.items()):
            for i, dataset in enumerate(spec.datasets):
                owner = next((n for t, n in targets.items() if dataset == t or dataset.startswith(t + "/")), None)
                if owner:
                    problems.append((name, f"datasets.{i}", f"{dataset} is the target of replication {owner!r}, "
                                     "which keeps its own snapshots there; leave it out of the policy"))
        return problems
