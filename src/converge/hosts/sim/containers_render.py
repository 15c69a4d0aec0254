"""Output shapes of the simulated `podman` and `docker`: `ps`, `images` and `inspect`, as the real
tools print them (podman 4.3 measured on our machines; docker from `docker ps --format '{{json .}}'`
and `docker inspect` samples, see tests/fixtures/docker/). A container is kept as the Observed
that the container kind's read() produces, so facts taken from a real host render here too."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from ...formats.durations import parse_duration
from ...model import Observed
from .system import mountpoint_of

PATH_ENV = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
NEVER = -62135596800  # podman's zero time, as a Unix time


def digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def status(obs: Observed) -> str:
    """Runtime state: running, or what a stopped container is (created before its first start)."""
    if obs.spec.get("state") == "running":
        return "running"
    return "created" if obs.info.get("state") == "created" else "exited"


def labels(obs: Observed) -> dict[str, str]:
    return {**obs.spec.get("labels", {}), **obs.info.get("converge_labels", {})}


def resolve(host: Any, volume: str) -> str:
    """A volume kept in a manifest's spelling (facts from a real host) -> the bind the runtime has."""
    source, _, rest = volume.partition(":")
    if source.startswith("/"):
        return volume
    return f"{mountpoint_of(host, source) or '/' + source}:{rest}"


def _port_bindings(obs: Observed) -> dict[str, list[dict[str, str]]]:
    out: dict[str, list[dict[str, str]]] = {}
    for mapping in obs.spec.get("ports", []):
        addr, proto = mapping.split("/")
        parts = addr.split(":")
        ip = parts[0] if len(parts) == 3 else ""
        out.setdefault(f"{parts[-1]}/{proto}", []).append({"HostIp": ip, "HostPort": parts[-2]})
    return out


def _mount(bind: str) -> dict[str, Any]:
    parts = bind.split(":")
    opts = parts[2].split(",") if len(parts) > 2 else []
    return {"Type": "bind", "Source": parts[0], "Destination": parts[1], "Driver": "", "Mode": "",
            "RW": "ro" not in opts, "Propagation": "rprivate"}


def ps_rows(host: Any, runtime: str) -> str:
    rows = []
    for name, obs in sorted(host.facts.resources.get("container", {}).items()):
        if obs.spec.get("runtime") != runtime:
            continue
        cid, running = obs.info.get("id") or digest(name), obs.spec.get("state") == "running"
        cmd = obs.spec.get("command") or []
        if runtime == "podman":
            rows.append({"AutoRemove": False, "Command": cmd or None, "CreatedAt": "About a minute ago",
                         "Exited": status(obs) == "exited", "ExitedAt": NEVER, "ExitCode": 0, "Id": cid,
                         "Image": obs.spec.get("image", ""),
                         # the id `image inspect` gives the image it was created from
                         "ImageID": digest(obs.info.get("image_digest") or obs.spec.get("image", "")),
                         "IsInfra": False, "Labels": labels(obs) or None,
                         "Mounts": [v.split(":")[1] for v in obs.spec.get("volumes", [])], "Names": [name],
                         "Namespaces": {}, "Networks": [], "Pid": 4242 if running else 0, "Pod": "", "PodName": "",
                         "Ports": None, "Size": None, "StartedAt": 1795338072 if running else NEVER,
                         "State": status(obs), "Status": "Up About a minute" if running else
                         ("Created" if status(obs) == "created" else "Exited (0) About a minute ago"),
                         "Created": 1795338072})
        else:
            rows.append({"Command": json.dumps(" ".join(cmd)), "CreatedAt": "2026-11-22 09:00:00 +0000 UTC",
                         "ID": cid, "Image": obs.spec.get("image", ""),
                         "Labels": ",".join(f"{k}={v}" for k, v in sorted(labels(obs).items())),
                         "LocalVolumes": "0", "Mounts": "", "Names": name,
                         "Networks": obs.spec.get("network") or "bridge", "Ports": "", "RunningFor": "About a minute ago",
                         "Size": "0B", "State": status(obs),
                         "Status": "Up About a minute" if running else "Exited (0) About a minute ago"})
    if runtime == "podman":
        return json.dumps(rows) + "\n"  # one line (podman indents): same JSON, C encoder
    return "".join(json.dumps(r) + "\n" for r in rows)


def inspect_one(host: Any, runtime: str, name: str, obs: Observed) -> dict[str, Any]:
    spec, cid = obs.spec, obs.info.get("id") or digest(name)
    cmd = spec.get("command") or []
    env = {k: v for k, v in spec.get("env", {}).items()}
    env_list = ([] if "PATH" in env else [PATH_ENV]) + [f"{k}={v}" for k, v in env.items()]
    if runtime == "podman":
        env_list += ["container=podman", f"HOSTNAME={cid[:12]}"]
    binds = [resolve(host, v) for v in spec.get("volumes", [])]
    if runtime == "podman":  # podman spells out the propagation it applies
        binds = [b + (",rprivate,rbind" if b.count(":") == 2 else ":rprivate,rbind") for b in binds]
    running = status(obs) == "running"
    entrypoint = spec.get("entrypoint") or []
    data: dict[str, Any] = {
        "Id": cid, "Created": "2026-11-22T09:00:00.000000000Z", "Path": cmd[0] if cmd else "", "Args": cmd[1:],
        "State": {"Status": status(obs), "Running": running, "Paused": False, "Restarting": False,
                  "OOMKilled": False, "Dead": False, "Pid": 4242 if running else 0, "ExitCode": 0, "Error": ""},
        "Image": digest(spec.get("image", "")),
        "Name": name if runtime == "podman" else "/" + name,
        "Mounts": [_mount(b) for b in binds],
        "Config": {"Hostname": cid[:12], "Env": env_list, "Cmd": cmd or None, "Image": spec.get("image", ""),
                   "Labels": labels(obs) or None, "User": spec.get("user", ""),
                   # podman 4.3 joins the entrypoint's words with blanks
                   "Entrypoint": (entrypoint or None) if runtime == "docker" else " ".join(entrypoint),
                   "WorkingDir": "/", "StopSignal": "SIGTERM" if runtime == "docker" else 15,
                   **_stop_timeout(obs, runtime), **_healthcheck(spec.get("healthcheck"))},
        "HostConfig": {"Binds": binds or None if runtime == "docker" else binds,
                       "NetworkMode": spec.get("network") or "bridge",
                       "PortBindings": _port_bindings(obs),
                       "RestartPolicy": {"Name": spec.get("restart", "no" if runtime == "docker" else ""),
                                         "MaximumRetryCount": 0},
                       "NanoCpus": round(spec.get("cpus", 0) * 1e9), "Memory": spec.get("memory", 0),
                       "PidsLimit": spec.get("pids_limit", 2048 if runtime == "podman" else None),
                       "Devices": [_device(d, runtime) for d in spec.get("devices", [])],
                       "CapAdd": spec.get("cap_add") or ([] if runtime == "podman" else None),
                       "CapDrop": spec.get("cap_drop") or ([] if runtime == "podman" else None)},
        "NetworkSettings": {"Networks": _networks(spec, runtime)},
    }
    if runtime == "podman":
        data["ImageName"] = spec.get("image", "")
        data["ImageDigest"] = obs.info.get("image_digest") or "sha256:" + digest(spec.get("image", "") + "@")
        data["Image"] = digest(data["ImageDigest"])
    else:
        data["Image"] = "sha256:" + digest(obs.info.get("image_digest") or "sha256:" + digest(spec.get("image", "") + "@"))
        data["HostConfig"]["NetworkMode"] = (spec.get("networks") or [data["HostConfig"]["NetworkMode"]])[0]
    return data


def _stop_timeout(obs: Observed, runtime: str) -> dict[str, Any]:
    """podman always records one (10 s by default); docker only when it was given."""
    value = obs.info.get("stop_timeout")
    if value is None:
        return {"StopTimeout": 10} if runtime == "podman" else {}
    return {"StopTimeout": value}


def _healthcheck(check: dict[str, Any] | None) -> dict[str, Any]:
    if not check:
        return {}
    out = {"Test": check["test"], "Interval": parse_duration(check["interval"]),
           "Timeout": parse_duration(check["timeout"]), "Retries": check["retries"]}
    if parse_duration(check["start_period"]):  # podman leaves out a zero start period
        out["StartPeriod"] = parse_duration(check["start_period"])
    return {"Healthcheck": out}


def _device(device: str, runtime: str) -> dict[str, str]:
    """podman 4.3 reports no cgroup permissions; docker spells them out (rwm by default)."""
    parts = device.split(":")
    return {"PathOnHost": parts[0], "PathInContainer": parts[1],
            "CgroupPermissions": "" if runtime == "podman" else (parts[2] if len(parts) > 2 else "rwm")}


def _networks(spec: dict[str, Any], runtime: str) -> dict[str, Any] | None:
    names = spec.get("networks")
    if not names:
        return None
    return {n: {"EndpointID": "", "Gateway": "", "IPAddress": "", "IPPrefixLen": 0, "MacAddress": "",
                "NetworkID": n, "Aliases": None} for n in names}


def images(host: Any, runtime: str) -> str:
    names = sorted(host.facts.sim.get("images", []))
    if runtime == "podman":
        rows = [{"Id": digest(n), "ParentId": "", "RepoTags": None, "RepoDigests": [], "Size": 1997895,
                 "SharedSize": 0, "VirtualSize": 1997895, "Labels": None, "Containers": 0, "Names": [n],
                 "Digest": "sha256:" + digest(n + "@"), "History": [n], "Created": 1795338072,
                 "CreatedAt": "2026-11-22T09:00:00Z"} for n in names]
        return json.dumps(rows, indent=4) + "\n"
    out = ""
    for n in names:
        repo, _, tag = n.rpartition(":") if ":" in n.rsplit("/", 1)[-1] else (n, "", "<none>")
        out += json.dumps({"Containers": "N/A", "CreatedAt": "2026-11-22 09:00:00 +0000 UTC",
                           "CreatedSince": "About a minute ago", "Digest": "<none>", "ID": "sha256:" + digest(n),
                           "Repository": repo, "SharedSize": "N/A", "Size": "2MB", "Tag": tag,
                           "UniqueSize": "N/A", "VirtualSize": "2MB"}) + "\n"
    return out
