"""Kind `nfs`: an NFS export in converge's own exports file (setting `nfs.exports`, default
/etc/exports.d/converge.exports, which exportfs reads with /etc/exports). The kind's shared file:
a plan that changes exports writes it once (one explicit `file` change) and runs `exportfs -ra`;
nothing else of the NFS configuration is touched."""

from __future__ import annotations

import re
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_serializer, model_validator

from ...formats import exports
from ...hosts.base import unroot
from ...logs import get_logger
from ...model import Change, FieldDiff, Observed, Ref, Step
from ...rendering import render
from ...types import Network, OnOff, matches
from ..base import Context, Joint, Kind, Spec, file_joint
from .common import SharePath, final_shares, path_dependency, read_back_path, share_host_paths

log = get_logger(__name__)
DEFAULT_EXPORTS = "/etc/exports.d/converge.exports"
HOST_RE = re.compile(r"(\*|[A-Za-z0-9*?][A-Za-z0-9*?.-]*|@[A-Za-z0-9_.-]+)")
MARKER = re.compile(r"^#\s*converge:\s*export\s+(\S+)(?:\s+path\s+(\S+))?\s*$")


class NfsClient(BaseModel):
    model_config = ConfigDict(defer_build=True, extra="forbid")
    network: Network | None = None
    host: Annotated[str, matches(HOST_RE, "a host name, wildcard or @netgroup")] | None = None
    options: list[str] = Field(default_factory=list, description="exports(5) options: rw, sync, anonuid=1000...")

    @field_validator("options", mode="before")
    @classmethod
    def _options(cls, v: Any) -> list[str]:
        if not isinstance(v, (list, tuple)):
            raise ValueError("options is a list: [rw, sync, no_subtree_check]")
        if not all(isinstance(o, str) for o in v):
            raise ValueError("options are strings: [rw, sync, anonuid=1000]")
        opts = sorted({o.strip() for o in v})  # exportfs does not care about order: one normal form
        for opt in opts:
            error = exports.option_error(opt)
            if error:
                raise ValueError(f"option {opt!r}: exportfs would refuse it ({error})")
        clash = exports.conflicts(opts)
        if clash:
            raise ValueError(f"options contradict each other: {', '.join(clash)}")
        return opts

    @model_validator(mode="after")
    def _one_target(self) -> "NfsClient":
        if (self.network is None) == (self.host is None):
            raise ValueError("a client has exactly one of network (192.168.1.0/24) or host (nas.lan, *)")
        return self

    def target(self) -> str:
        return self.network or self.host or "*"

    @model_serializer
    def _normal_form(self) -> dict[str, Any]:
        """Always the same keys, declared or read: clients are compared as a whole list."""
        return {"network": self.network, "options": self.options} if self.network else \
            {"host": self.host, "options": self.options}


class NfsExportSpec(Spec):
    path: SharePath
    clients: list[NfsClient] = Field(min_length=1, description="in order: the first matching client wins")
    enabled: OnOff | None = None

    @model_validator(mode="after")
    def _distinct_clients(self) -> "NfsExportSpec":
        targets = [c.target() for c in self.clients]
        twice = sorted({t for t in targets if targets.count(t) > 1})
        if twice:
            raise ValueError(f"client {', '.join(twice)} is listed twice: merge its options into one entry")
        return self


def client_from_text(target: str, options: list[str]) -> dict[str, Any]:
    key = "network" if "/" in target else "host"
    return {key: target, "options": options}


class NfsKind(Kind[NfsExportSpec]):
    kind = "nfs"
    section = ("shares", "nfs")
    spec = NfsExportSpec
    label = "nfs export"
    name_pattern = re.compile(r"[A-Za-z0-9_.-]{1,64}")
    name_allowed = "up to 64 letters, digits, '_', '.', '-'"
    tools = ("exportfs",)

    def depends(self, name: str, spec: NfsExportSpec) -> list[Ref]:
        return path_dependency(spec.path)

    def host_paths(self, name: str, observed: Observed) -> list[str]:
        return share_host_paths(observed)

    def validate_set(self, specs: dict[str, NfsExportSpec], desired: Any) -> list[tuple[str, str, str]]:
        first: dict[str, str] = {}
        problems = []
        for name in sorted(specs):
            path = specs[name].path
            if path in first:
                problems.append((name, "path", f"{path} is already exported by {first[path]}: one path is one "
                                               "export (list all its clients there)"))
            first.setdefault(path, name)
        return problems

    def exports_file(self, ctx: Context) -> str:
        return str(ctx.kind_settings("nfs").get("exports", DEFAULT_EXPORTS))

    def shared_file(self, ctx: Context) -> str:
        return self.exports_file(ctx)

    def read(self, ctx: Context) -> dict[str, Observed]:
        host = ctx.host
        text = host.read_file(self.exports_file(ctx)) or ""
        active = active_exports(host.run(["exportfs", "-v"], check=False).stdout)
        out: dict[str, Observed] = {}
        marker = None
        for line in text.splitlines():
            m = MARKER.match(line.strip())
            if m:
                marker = m
                continue
            if not line.strip() or (line.lstrip().startswith("#") and marker is None):
                continue
            disabled = line.lstrip().startswith("#")
            parsed = exports.parse_line(line.lstrip().lstrip("#"))
            if marker is None or parsed is None:
                log.warning("line in converge's exports file without its marker: dropped on the next write", line=line)
                continue
            name, source = marker.group(1), marker.group(2)
            marker = None
            path = unroot(host, parsed[0])
            raw = {"path": read_back_path(source, path, ctx),
                   "clients": [client_from_text(t, o) for t, o in parsed[1]], "enabled": not disabled}
            try:
                spec = NfsExportSpec.model_validate(raw).model_dump(mode="json", exclude_none=True)
            except ValueError as e:  # a hand edit exportfs or converge refuses: shown as drift, rewritten
                spec = {"path": raw["path"], "clients": [], "enabled": not disabled}
                log.warning("unreadable export in converge's exports file", name=name, error=str(e))
            out[name] = Observed(spec=spec, managed=True, info={
                "directory": path, "active": all((parsed[0], t) in active for t, _ in parsed[1])})
        return out

    def create(self, name: str, spec: NfsExportSpec, ctx: Context) -> list[Step]:
        return []

    def update(self, name: str, spec: NfsExportSpec, observed: Observed, diffs: list[FieldDiff],
               ctx: Context) -> list[Step]:
        return []

    def delete(self, name: str, observed: Observed, ctx: Context) -> list[Step]:
        return []

    def joints(self, changes: list[Change], ctx: Context) -> list[Joint]:
        """The exports file with every change applied, written once, then `exportfs -ra`."""
        host = ctx.host
        shares = final_shares(self, "nfs export", changes, ctx)
        rows = [{"name": name, "source": "" if spec.path.startswith("/") else spec.path,
                 "enabled": spec.enabled is not False, "path": exports.quote_path(host.path(path)),
                 "clients": [exports.render_client(c.target(), c.options) for c in spec.clients]}
                for name, spec, path in shares]
        path, text = self.exports_file(ctx), render("nfs-exports.j2", exports=rows)
        steps = [Step(op="write", path=path, content=text, note="converge's exports file"),
                 Step(argv=["exportfs", "-ra"], note="re-export everything from /etc/exports and /etc/exports.d")]
        return [file_joint(path, text, [row["name"] for row in rows], steps, [c.ref for c in changes], ctx)]


def active_exports(text: str) -> set[tuple[str, str]]:
    """(path, client) pairs of `exportfs -v`; a long path puts its clients on the next lines."""
    out: set[tuple[str, str]] = set()
    path = ""
    for line in text.splitlines():
        if not line.strip():
            continue
        if line.startswith("\t") or line.startswith(" "):
            rest = line.strip()
        else:
            path, _, rest = line.partition("\t")
            path, rest = path.rstrip(), rest.strip()
        if rest:
            out.add((path, rest.split("(", 1)[0]))
    return out
