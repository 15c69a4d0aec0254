"""Kind `snapshot_policy` (section `snapshot_policies:`): what to snapshot, when and what to keep.

The kind itself only owns the systemd timer + service that run `converge run snapshot_policy/NAME`
on its schedule; the snapshots are taken and pruned by that run (run.py), never by apply."""

from __future__ import annotations

import re
from typing import Any

from ...model import FieldDiff, Observed, Ref, Step
from ..base import Context, Kind, record_managed
from . import units
from .spec import SnapshotPolicySpec


def stem(name: str) -> str:
    return f"converge-run-{name}"


class SnapshotPolicyKind(Kind[SnapshotPolicySpec]):
    kind = "snapshot_policy"
    section = ("snapshot_policies",)
    spec = SnapshotPolicySpec
    name_pattern = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}")
    name_allowed = "up to 64 letters, digits, '_', '-' (it names a systemd unit)"

    def depends(self, name: str, spec: SnapshotPolicySpec) -> list[Ref]:
        return [Ref(kind="dataset" if "/" in d else "pool", name=d) for d in spec.datasets]

    def _names(self, ctx: Context) -> list[str]:
        managed = [k.split("/", 1)[1] for k in ctx.state.get("managed", {}) if k.startswith(self.kind + "/")]
        return sorted(set(ctx.specs(self.kind)) | set(managed))

    def read(self, ctx: Context) -> dict[str, Observed]:
        found = units.read_units(ctx, {n: stem(n) for n in self._names(ctx)})
        out: dict[str, Observed] = {}
        for name, (spec, enabled, text) in found.items():
            rendered = self._render(name, spec, ctx)
            out[name] = units.observed(spec, enabled, text, rendered, {"timer": stem(name) + ".timer"})
        return out

    def _render(self, name: str, declared: dict[str, Any], ctx: Context) -> tuple[str, str]:
        return units.render_units(self.ref(name), stem(name), str(declared.get("schedule", "")), declared, ctx)

    def create(self, name: str, spec: SnapshotPolicySpec, ctx: Context) -> list[Step]:
        timer, service = self._render(name, spec.declared(), ctx)
        return units.install_steps(stem(name), timer, service, ctx.host) + [record_managed(self.ref(name), True)]

    def update(self, name: str, spec: SnapshotPolicySpec, observed: Observed, diffs: list[FieldDiff],
               ctx: Context) -> list[Step]:
        return self.create(name, spec, ctx)

    def delete(self, name: str, observed: Observed, ctx: Context) -> list[Step]:
        # The policy's snapshots stay: they are data; only the schedule goes.
        return units.remove_steps(stem(name), ctx.host) + [record_managed(self.ref(name), False)]
