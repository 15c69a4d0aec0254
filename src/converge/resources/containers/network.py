"""Kind `container_network`: a podman or docker network (bridge, macvlan, ipvlan) that containers
join by name (`networks: [NAME]`); a container waits for the networks it names.

Read in bulk: podman 4.3 `network ls --format json` gives every field
(tests/fixtures/podman/network-ls.json); docker 20.10 lists names, then one `network inspect`.
Networks cannot be changed in place (neither CLI has an update for these fields): a change is
`network rm` + `network create`, which the runtime refuses while a container is attached.
Networks converge did not make (no `converge.managed` label, e.g. podman's own `podman`) are
read so containers may name them, and never changed."""

from __future__ import annotations

import ipaddress
import json
import re
from typing import Annotated, Any, Literal

from pydantic import Field, field_validator, model_validator

from ...errors import PlanError
from ...model import FieldDiff, Observed, Step
from ...types import matches
from ..base import Context, Kind, Spec, record_managed
from .parse import MANAGED_LABEL

IFACE = re.compile(r"[A-Za-z0-9_.@-]{1,15}")
HostInterface = Annotated[str, matches(IFACE, "an interface name (1-15 letters, digits, '_', '.', '@', '-')")]


def _address(value: str | None, parse: Any, what: str) -> str | None:
    """The address in ipaddress's normal form; `'VALUE' is not WHAT` when it is none."""
    if value is None:
        return None
    try:
        return str(parse(value))
    except ValueError:
        raise ValueError(f"{value!r} is not {what}") from None


class ContainerNetworkSpec(Spec):
    runtime: Literal["podman", "docker"] = "podman"
    driver: Literal["bridge", "macvlan", "ipvlan"] = "bridge"
    subnet: str | None = Field(None, description="e.g. 10.89.0.0/24; the runtime picks one when unset")
    gateway: str | None = Field(None, description="an address inside subnet")
    parent: HostInterface | None = Field(None, description="macvlan/ipvlan: the host interface, e.g. eth0")

    @field_validator("subnet")
    @classmethod
    def _subnet(cls, v: str | None) -> str | None:
        return _address(v, lambda text: ipaddress.ip_network(text, strict=False), "a subnet (CIDR, e.g. 10.89.0.0/24)")

    @field_validator("gateway")
    @classmethod
    def _gateway(cls, v: str | None) -> str | None:
        return _address(v, ipaddress.ip_address, "an IP address")

    @model_validator(mode="after")
    def _consistent(self) -> "ContainerNetworkSpec":
        if self.gateway and not self.subnet:
            raise ValueError("gateway needs subnet")
        if self.gateway and ipaddress.ip_address(self.gateway) not in ipaddress.ip_network(self.subnet or ""):
            raise ValueError(f"gateway {self.gateway} is not inside subnet {self.subnet}")
        if self.parent and self.driver == "bridge":
            raise ValueError("parent is for macvlan and ipvlan networks; a bridge has none")
        return self


class ContainerNetworkKind(Kind[ContainerNetworkSpec]):
    kind = "container_network"
    section = ("container_networks",)
    spec = ContainerNetworkSpec
    name_pattern = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,62}")
    name_allowed = "a letter or digit, then up to 62 letters, digits, '_', '.', '-'"
    create_only = frozenset({"runtime", "driver", "subnet", "gateway", "parent"})

    def read(self, ctx: Context) -> dict[str, Observed]:
        found: dict[str, Observed] = {}
        for runtime in ("podman", "docker"):
            if not ctx.host.has(runtime):
                continue
            wanted = any(s.runtime == runtime for s in ctx.specs(self.kind).values())
            for row in self._list(ctx, runtime, wanted):
                name, spec, labels = parse_network(runtime, row)
                found[name] = Observed(spec=spec, managed=labels.get(MANAGED_LABEL) == "true",
                                       info={"runtime": runtime, "id": row.get("id") or row.get("Id")})
        return found

    def _list(self, ctx: Context, runtime: str, wanted: bool) -> list[dict[str, Any]]:
        if runtime == "podman":
            answer = ctx.host.run(["podman", "network", "ls", "--format", "json"], check=wanted)
            return list(json.loads(answer.stdout or "[]") or []) if answer.returncode == 0 else []
        answer = ctx.host.run(["docker", "network", "ls", "--no-trunc", "--format", "{{.Name}}"], check=wanted)
        names = answer.stdout.split() if answer.returncode == 0 else []
        if not names:
            return []
        return list(json.loads(ctx.host.run(["docker", "network", "inspect", *names]).stdout or "[]"))

    def create(self, name: str, spec: ContainerNetworkSpec, ctx: Context) -> list[Step]:
        argv = [spec.runtime, "network", "create", "--driver", spec.driver, "--label", f"{MANAGED_LABEL}=true"]
        if spec.subnet:
            argv += ["--subnet", spec.subnet]
        if spec.gateway:
            argv += ["--gateway", spec.gateway]
        if spec.parent:
            argv += ["-o", f"parent={spec.parent}"]
        return [Step(argv=[*argv, name], note=f"create {spec.driver} network")]

    def update(self, name: str, spec: ContainerNetworkSpec, observed: Observed, diffs: list[FieldDiff],
               ctx: Context) -> list[Step]:
        # only adoption reaches here (every field is create-only): ownership is kept in converge's state
        return [] if observed.managed else [record_managed(self.ref(name), True)]

    def replace(self, name: str, spec: ContainerNetworkSpec, observed: Observed, ctx: Context) -> list[Step]:
        """Refused while containers are on it: the runtime will not remove a network in use, and
        converge does not take containers down for a network edit on its own."""
        users = sorted(c for c, obs in ctx.facts.of("container").items() if name in (obs.spec.get("networks") or []))
        if users:
            raise PlanError(f"container_network {name}: changing it means remove + create, and containers are on "
                            f"it ({', '.join(users)}); take it out of their networks first, apply, then change it")
        return self.delete(name, observed, ctx) + self.create(name, spec, ctx)

    def delete(self, name: str, observed: Observed, ctx: Context) -> list[Step]:
        runtime = observed.spec.get("runtime", "podman")
        steps = [Step(argv=[runtime, "network", "rm", name], note="remove the network")]
        if ctx.managed_in_state(self.ref(name)):
            steps.append(record_managed(self.ref(name), False))
        return steps


def parse_network(runtime: str, row: dict[str, Any]) -> tuple[str, dict[str, Any], dict[str, str]]:
    """One network as podman's `network ls --format json` or docker's `network inspect` shows it ->
    (name, spec in normal form, labels)."""
    if runtime == "podman":
        subnets = row.get("subnets") or []
        first = subnets[0] if subnets else {}
        driver = row.get("driver") or "bridge"
        parent = row.get("network_interface") if driver in ("macvlan", "ipvlan") else None
        name, labels = row["name"], row.get("labels") or {}
        subnet, gateway = first.get("subnet"), first.get("gateway")
    else:
        config = ((row.get("IPAM") or {}).get("Config") or [{}])
        first = config[0] if config else {}
        driver = row.get("Driver") or "bridge"
        parent = (row.get("Options") or {}).get("parent")
        name, labels = row["Name"], row.get("Labels") or {}
        subnet, gateway = first.get("Subnet"), first.get("Gateway")
    spec: dict[str, Any] = {"runtime": runtime, "driver": driver if driver in ("bridge", "macvlan", "ipvlan") else "bridge"}
    for key, value in (("subnet", subnet), ("gateway", gateway), ("parent", parent)):
        if value:
            spec[key] = value
    try:
        spec = ContainerNetworkSpec.model_validate(spec).model_dump(mode="json", exclude_none=True)
    except ValueError:
        spec = {"runtime": runtime, "driver": spec["driver"]}  # a network made by hand, odd: its name still counts
    return name, spec, labels
