"""Simulated `podman` and `docker`: ps, images, inspect, pull, create, start, stop, restart, rm.

State: host.facts.resources["container"][name] (an Observed: what the runtime recorded of the
create, in the runtimes' own forms from formats/containers.py, never through the kind's spec;
facts taken from a real host have the same shape; info: id, runtime, state, converge_labels), sim["images"] (local images), sim["registry"] (what
`pull` can fetch; nothing else: there is no network), sim["paths"] (host directories a bind may
name, besides dataset and pool mountpoints). Refusals use the real tools' messages and exit codes:
an image not present locally, a name already in use, a host port already taken by a running
container, a bind source that does not exist (podman; docker creates it), removing a running
container, a memory limit under 6M (docker refuses at create; podman's runc at start)."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from ...formats.containers import MIN_MEMORY, normalize_cap, normalize_device, normalize_image, normalize_port
from ...formats.durations import format_duration, parse_duration
from ...model import Observed
from ..base import Result
from . import fail, tool
from .containers_net import network_cli
from .containers_render import digest, images, inspect_one, ps_rows
from .system import is_directory

VALUE_FLAGS = {"--pull": "pull", "--name": "name", "--label": "label", "-l": "label", "--env": "env", "-e": "env",
               "--env-file": "env_file", "--publish": "ports", "-p": "ports", "--volume": "volumes", "-v": "volumes",
               "--network": "network", "--restart": "restart", "--cpus": "cpus", "--memory": "memory", "-m": "memory",
               "--pids-limit": "pids_limit", "--entrypoint": "entrypoint", "--device": "devices", "--cap-add": "cap_add",
               "--cap-drop": "cap_drop", "--user": "user", "-u": "user", "--health-cmd": "health_cmd",
               "--health-interval": "health_interval", "--health-timeout": "health_timeout",
               "--health-retries": "health_retries", "--health-start-period": "health_start_period",
               "--stop-timeout": "stop_timeout"}
LISTS = {"label", "env", "ports", "volumes", "devices", "cap_add", "cap_drop", "network"}
MODES = ("none", "host", "bridge", "private", "slirp4netns")


class Runtime:
    """The runtime's own words for each refusal."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.rc = 125 if name == "podman" else 1
        self.daemon = "" if name == "podman" else "Error response from daemon: "

    def err(self, podman: str, docker: str) -> Result:
        return fail(f"Error: {podman}" if self.name == "podman" else self.daemon + docker, self.rc)

    def no_such(self, ref: str) -> Result:
        return self.err(f'no container with name or ID "{ref}" found: no such container', f"No such container: {ref}")


def _find(host: Any, ref: str, by_id: dict[str, str] | None = None) -> tuple[str, Observed] | None:
    containers = host.facts.of("container")
    if ref in containers:  # by name: the common case, without a scan
        return ref, containers[ref]
    if by_id is not None and ref in by_id:  # by full id (what `ps` printed), without a scan
        return by_id[ref], containers[by_id[ref]]
    if len(ref) < 12 or ref.strip("0123456789abcdef"):  # no id (64 hex) nor id prefix: no scan
        return None
    for name, obs in containers.items():
        if ref in (name, obs.info.get("id")) or (len(ref) >= 12 and str(obs.info.get("id", "")).startswith(ref)):
            return name, obs
    return None


# CLI plugins (`docker compose`): their emulators register here, as the plugin installs itself
PLUGINS: dict[tuple[str, str], Callable[[Any, str, list[str]], Result]] = {}


@tool("podman", "docker")
def container_cli(host: Any, argv: list[str], input: str | None) -> Result:
    rt = Runtime(argv[0].rsplit("/", 1)[-1])
    verb, args = (argv[1], argv[2:]) if len(argv) > 1 else ("", [])
    if verb == "ps":
        return Result(0, ps_rows(host, rt.name))
    if verb == "images":
        return Result(0, images(host, rt.name))
    plugin = PLUGINS.get((rt.name, verb))
    if plugin is not None:
        return plugin(host, rt.name, args)
    if verb == "network":
        return network_cli(host, rt.name, rt.rc, args)
    if verb == "image" and args[:1] == ["inspect"]:
        return _image_inspect(host, rt, args[1:])
    if verb == "inspect":
        return _inspect(host, rt, args)
    if verb == "pull":
        return _pull(host, rt, args)
    if verb == "create":
        return _create(host, rt, args)
    if verb in ("start", "stop", "restart", "rm"):
        refs = [a for i, a in enumerate(args) if not a.startswith("-") and args[i - 1:i] not in (["-t"], ["--time"])]
        return _lifecycle(host, rt, verb, refs)
    return fail(f"Error: unrecognized command `{rt.name} {verb}`", rt.rc)


@tool("skopeo")
def skopeo(host: Any, argv: list[str], input: str | None) -> Result:
    """`skopeo inspect --format {{.Digest}} docker://IMAGE`: the registry's manifest digest. The
    registry answers only when the seed says it is reachable (`registry_reachable: true`); else
    the lookup fails as it does on a host without network."""
    ref = argv[-1]
    if argv[1:2] != ["inspect"] or not ref.startswith("docker://"):
        return fail("Error: unsupported in the simulation: " + " ".join(argv[1:]), 1)
    image = normalize_image(ref.removeprefix("docker://"))
    host_name = image.split("/")[0].replace("docker.io", "registry-1.docker.io")
    if not host.facts.sim.get("registry_reachable"):
        return fail(f"time=\"2026-11-28T10:00:00Z\" level=fatal msg=\"Error parsing image name \\\"{ref}\\\": "
                    f"pinging container registry {host_name}: Get \\\"https://{host_name}/v2/\\\": dial tcp: "
                    f"lookup {host_name}: no such host\"", 1)
    if image not in {normalize_image(i) for i in host.facts.sim.get("registry", [])}:
        return fail(f"time=\"2026-11-28T10:00:00Z\" level=fatal msg=\"Error parsing image name \\\"{ref}\\\": "
                    "reading manifest: manifest unknown\"", 1)
    return Result(0, image_digest(host, image, "registry_digests") + "\n")


def _inspect(host: Any, rt: Runtime, refs: list[str]) -> Result:
    out = []
    # The reader inspects every container by the id `ps` printed: one index, not a scan per id.
    by_id = {str(obs.info.get("id")): name for name, obs in host.facts.of("container").items()}
    for ref in refs:
        found = _find(host, ref, by_id)
        if found is None or found[1].spec.get("runtime") != rt.name:
            return Result(rt.rc, "[]\n", f'Error: inspecting object: no such object: "{ref}"\n' if rt.name == "podman"
                          else f"Error: No such object: {ref}\n")
        out.append(inspect_one(host, rt.name, *found))
    import json

    # One line, not podman's indent=4: the same JSON to a reader, and json's C encoder (with an
    # indent it falls back to the pure-Python one: half a second at 1 000 containers).
    return Result(0, json.dumps(out) + "\n")


def _pull(host: Any, rt: Runtime, args: list[str]) -> Result:
    image = normalize_image(args[-1])
    if image not in {normalize_image(i) for i in host.facts.sim.get("registry", [])}:
        return rt.err(f"initializing source docker://{image}: reading manifest in {image}: manifest unknown",
                      f"manifest for {image} not found: manifest unknown: manifest unknown")
    local = host.facts.sim.setdefault("images", [])
    if image not in local:
        local.append(image)
        host.changed()
    remote = image_digest(host, image, "registry_digests")
    if remote != image_digest(host, image):  # a newer image under the same tag replaces the local one
        host.facts.sim.setdefault("image_digests", {})[image] = remote
        host.changed()
    return Result(0, digest(image) + "\n")


def image_digest(host: Any, image: str, where: str = "image_digests") -> str:
    """The manifest digest of an image in the local store (or the registry): seeded, else derived."""
    return str(host.facts.sim.get(where, {}).get(image) or host.facts.sim.get("image_digests", {}).get(image)
               or "sha256:" + digest(image + "@"))


def _image_inspect(host: Any, rt: Runtime, refs: list[str]) -> Result:
    import json

    local = {normalize_image(i) for i in host.facts.sim.get("images", [])}
    out = []
    for ref in refs:
        image = normalize_image(ref)
        if image not in local:
            return Result(rt.rc, "[]\n", f"Error: {ref}: image not known\n" if rt.name == "podman"
                          else f"Error: No such image: {ref}\n")
        manifest = image_digest(host, image)
        out.append({"Id": digest(manifest), "Digest": manifest, "RepoTags": [image],
                    "RepoDigests": [f"{image.rsplit(':', 1)[0]}@{manifest}"], "Names": [image]}
                   if rt.name == "podman" else
                   {"Id": "sha256:" + digest(manifest), "RepoTags": [image],
                    "RepoDigests": [f"{image.rsplit(':', 1)[0]}@{manifest}"]})
    return Result(0, json.dumps(out, indent=4) + "\n")


def _parse_create(args: list[str]) -> tuple[dict[str, Any], list[str]]:
    opts: dict[str, Any] = {k: [] for k in LISTS}
    i = 0
    while i < len(args) and args[i].startswith("-"):
        flag, _, inline = args[i].partition("=")
        if flag not in VALUE_FLAGS:
            raise ValueError(f"unknown flag: {flag}")
        value = inline if inline else args[i + 1]
        key = VALUE_FLAGS[flag]
        if key in LISTS:
            opts[key].append(value)
        else:
            opts[key] = value
        i += 1 if inline else 2
    return opts, args[i:]


def _create(host: Any, rt: Runtime, args: list[str]) -> Result:
    try:
        opts, rest = _parse_create(args)
    except (ValueError, IndexError) as e:
        return fail(f"Error: {e}", rt.rc)
    if not rest:
        return fail(f"Error: {rt.name} create requires at least 1 arg(s), only received 0", rt.rc)
    name, image = opts.get("name") or digest(str(args))[:12], normalize_image(rest[0])
    if _find(host, name):
        cid = _find(host, name)[1].info.get("id")  # type: ignore[index]
        return rt.err(f'creating container storage: the container name "{name}" is already in use by {cid}. '
                      "You have to remove that container to be able to reuse that name: that name is already in use",
                      f'Conflict. The container name "/{name}" is already in use by container "{cid}". '
                      "You have to remove (or rename) that container to be able to reuse that name.")
    if image not in {normalize_image(i) for i in host.facts.sim.get("images", [])}:
        return rt.err(f"{image}: image not known", f"No such image: {image}")
    memory = int(opts["memory"]) if "memory" in opts else None
    if memory is not None and memory < MIN_MEMORY and rt.name == "docker":
        return rt.err("", "Minimum memory limit allowed is 6MB")
    for volume in opts["volumes"]:
        source = volume.split(":")[0]
        if not is_directory(host, source):
            if rt.name == "podman":
                return fail(f"Error: statfs {source}: no such file or directory", rt.rc)
            host.facts.sim.setdefault("paths", []).append(source)  # dockerd creates a missing bind source
    labels = dict(kv.split("=", 1) for kv in opts["label"])
    known = set(host.facts.sim.get("networks" if rt.name == "podman" else "docker_networks", {}))
    mode = next((n for n in opts["network"] if n in MODES or n not in known), None)
    joined = sorted(n for n in opts["network"] if n != mode) or None
    if mode and joined or len(opts["network"]) > 1 and mode:
        return fail("Error: cannot set multiple networks without bridge network mode, selected mode "
                    f"{mode}: invalid argument", rt.rc)
    opts["network"] = mode
    warning = ""
    if opts["ports"] and opts.get("network") in ("none", "host"):
        opts["ports"], warning = [], "Port mappings have been discarded as one of the Host, Container, Pod, and None network modes are in use\n"
    try:
        spec = _recorded({
            "runtime": rt.name, "image": image, "command": rest[1:] or None,
            "env": dict(kv.split("=", 1) for kv in opts["env"]), "env_file": opts.get("env_file"),
            "labels": {k: v for k, v in labels.items() if not k.startswith("converge.")},
            "ports": sorted({normalize_port(p) for p in opts["ports"]}) or None,
            "volumes": sorted(set(opts["volumes"])) or None,
            "network": opts.get("network"), "restart": opts.get("restart") or None,
            "cpus": float(opts["cpus"]) if "cpus" in opts else None, "state": "stopped",
            "pids_limit": int(opts["pids_limit"]) if "pids_limit" in opts else None,
            "entrypoint": _entrypoint(opts.get("entrypoint")),
            "devices": sorted({normalize_device(d) for d in opts["devices"]}) or None,
            "cap_add": sorted({normalize_cap(c) for c in opts["cap_add"]}) or None,
            "cap_drop": sorted({normalize_cap(c) for c in opts["cap_drop"]}) or None, "user": opts.get("user"),
            "healthcheck": _healthcheck(opts), "networks": joined,
        })
    except ValueError as e:  # a device, capability or port the runtime cannot parse
        return fail(f"Error: {e}", rt.rc)
    if memory is not None:
        spec["memory"] = memory  # kept even under 6M: podman accepts it here and fails at start
    seq = host.facts.sim.get("container_seq", 0) + 1
    host.facts.sim["container_seq"] = seq
    cid = digest(f"{name}:{seq}")
    host.facts.of("container")[name] = Observed(
        spec=spec, managed=labels.get("converge.managed") == "true",
        info={"id": cid, "runtime": rt.name, "state": "created", "image_digest": image_digest(host, image),
              "stop_timeout": int(opts["stop_timeout"]) if "stop_timeout" in opts else None,
              "converge_labels": {k: v for k, v in sorted(labels.items()) if k.startswith("converge.")}})
    host.changed()
    return Result(0, cid + "\n", warning)


@functools.lru_cache(maxsize=65536)
def _host_port(mapping: str) -> tuple[str, str]:
    """'[ip:]host:container/proto' -> (host port, proto); cached: every start compares with all."""
    return mapping.split("/")[0].split(":")[-2], mapping.split("/")[1]


def _entrypoint(value: str | None) -> list[str] | None:
    """podman reads a JSON list, else one program; docker always one program."""
    import json

    if not value:
        return None
    if value.startswith("["):
        return list(json.loads(value))
    return [value]


def _healthcheck(opts: dict[str, Any]) -> dict[str, Any] | None:
    """As podman 4.3 records `--health-cmd`: a JSON list is the exec form (CMD prepended), else a shell command."""
    import json

    cmd = opts.get("health_cmd")
    if not cmd:
        return None
    words = json.loads(cmd) if cmd.startswith("[") else None
    if words is None:
        test = ["CMD-SHELL", cmd]
    elif words[:1] == ["CMD-SHELL"]:
        test = words
    elif words[:1] in (["CMD"], ["NONE"]):  # measured: podman 4.3 keeps such a list as blank-split text
        test = cmd.split(" ")
    else:
        test = ["CMD", *words]
    return {"test": test, "interval": _duration(opts.get("health_interval", "30s")),
            "timeout": _duration(opts.get("health_timeout", "30s")), "retries": int(opts.get("health_retries", 3)),
            "start_period": _duration(opts.get("health_start_period", "0s"))}


def _duration(value: str) -> str:
    """A --health-* duration as the runtime keeps it (nanoseconds), shown as a Go duration."""
    return format_duration(parse_duration(value))


def _recorded(fields: dict[str, Any]) -> dict[str, Any]:
    """What the runtime records of a create, in the shape its inspect is rendered from (unset
    fields left out; the maps always present, as podman's inspect always has them)."""
    return {"env": {}, "labels": {}, "features": {}, "persist": True,
            **{k: v for k, v in fields.items() if v is not None}}


def _ports_taken(host: Any, name: str, obs: Observed) -> str | None:
    mine = {_host_port(m) for m in obs.spec.get("ports", [])}
    if not mine:
        return None
    for other_name, other in host.facts.of("container").items():
        if other_name == name or other.spec.get("state") != "running":
            continue
        for m in other.spec.get("ports", []):
            key = _host_port(m)
            if key in mine:
                return f"{key[0]}/{key[1]}"
    return None


def _lifecycle(host: Any, rt: Runtime, verb: str, refs: list[str]) -> Result:
    out = ""
    for ref in refs:
        found = _find(host, ref)
        if found is None or found[1].spec.get("runtime") != rt.name:
            return rt.no_such(ref)
        name, obs = found
        running = obs.spec.get("state") == "running"
        if verb == "rm":
            if running:
                return rt.err(f"cannot remove container {obs.info.get('id')} as it is running - running or paused "
                              "containers cannot be removed without force: container state improper",
                              f"You cannot remove a running container {obs.info.get('id')}. Stop the container "
                              "before attempting removal or force remove")
            del host.facts.of("container")[name]
        elif verb in ("start", "restart"):
            taken = None if running else _ports_taken(host, name, obs)
            if taken:
                port = taken.split("/")[0]
                return rt.err(f'unable to start container "{obs.info.get("id")}": cannot listen on the TCP port: '
                              f"listen tcp4 :{port}: bind: address already in use",
                              f"driver failed programming external connectivity on endpoint {name} "
                              f"({obs.info.get('id')}): Bind for 0.0.0.0:{port} failed: port is already allocated")
            if obs.spec.get("memory") is not None and obs.spec["memory"] < MIN_MEMORY:
                return rt.err(f'OCI runtime error: unable to start container "{obs.info.get("id")}": runc: runc '
                              f"create failed: unable to set memory limit to {obs.spec['memory']}", "")
            obs.spec["state"], obs.info["state"] = "running", "running"
            obs.info["restarts"] = obs.info.get("restarts", 0) + (verb == "restart")
        elif verb == "stop":
            obs.spec["state"], obs.info["state"] = "stopped", "exited"
        host.changed()
        out += ref + "\n"
    return Result(0, out)
