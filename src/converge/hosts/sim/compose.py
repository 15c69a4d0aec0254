"""Simulated `podman-compose` (1.0.3, Debian bookworm) and `docker compose`: up, down, pull, and the
parse-only `--dry-run ... ps` converge checks a file with.

Like the real tools they turn each service into containers of the simulated podman/docker (so
`ps` shows them with the runtime's compose labels) and keep no state of their own. podman-compose
1.0.3 as measured here: containers are `PROJECT_SERVICE_1`, labelled
`io.podman.compose.config-hash=123` (a constant), `io.podman.compose.project`,
`com.docker.compose.project`, `com.docker.compose.service`, `com.docker.compose.container-number`;
every service joins the network `PROJECT_default` (made on first use, left by `down`), so a
`network_mode` of none or host fails ("cannot set multiple networks"); `up -d` on an existing
container only starts it; `--force-recreate SERVICE` stops and removes just that service (and
what it depends on) first; a failed `podman run` is printed and the exit code is still 0. The
`.env` next to the first file fills `${VAR}`. docker compose: `PROJECT-SERVICE-1`, `--env-file`,
and a failure is exit 1. Named volumes are not modelled (a service's named volume is left out)."""

from __future__ import annotations

import json
import os
import shlex
from typing import Any

from ...formats import compose
from ..base import Result
from . import fail, tool
from .containers import PLUGINS, container_cli
from .containers_net import network_cli, store

USAGE = "usage: podman-compose [-h] [-v] [-f file] [-p PROJECT_NAME] [--dry-run] {up,down,pull,ps} ...\n"


@tool("podman-compose")
def podman_compose(host: Any, argv: list[str], input: str | None) -> Result:
    return compose_cli(host, "podman", argv[1:])


def compose_cli(host: Any, runtime: str, args: list[str]) -> Result:
    opts: dict[str, Any] = {"files": [], "project": None, "dry_run": False, "env_file": None}
    i = 0
    while i < len(args) and args[i].startswith("-"):
        flag = args[i]
        if flag in ("-f", "--file"):
            opts["files"].append(args[i + 1])
        elif flag in ("-p", "--project-name"):
            opts["project"] = args[i + 1]
        elif flag == "--env-file" and runtime == "docker":
            opts["env_file"] = args[i + 1]
        elif flag == "--dry-run" and runtime == "podman":
            opts["dry_run"] = True
            i += 1
            continue
        else:
            return fail(f"{USAGE}podman-compose: error: unrecognized arguments: {flag}", 2)
        i += 2
    if i >= len(args) or not opts["files"] or not opts["project"]:
        return fail(USAGE + "podman-compose: error: the project (-p), a file (-f) and a command are needed", 2)
    command, rest = args[i], args[i + 1:]
    path = opts["files"][0]
    text = host.read_file(path)
    if text is None:
        return Result(1, f"missing files:  [{path!r}]\n")
    env_text = host.read_file(opts["env_file"] or os.path.join(os.path.dirname(path), ".env")) or ""
    try:
        project = _load(text)
        services = compose.interpolate(project["services"], _dotenv(env_text))
    except (ValueError, KeyError, TypeError) as e:
        return fail(f"Compose file does not contain a top level object: {path} ({e})", 1)
    run = Project(host, runtime, opts["project"], services, project)
    if command == "ps":
        return Result(0, "") if opts["dry_run"] else Result(0, run.ps())
    if command == "pull":
        return run.pull(rest)
    if command == "up":
        return run.up(rest)
    if command == "down":
        return run.down()
    return fail(f"{USAGE}podman-compose: error: invalid choice: {command!r}", 2)


PLUGINS[("docker", "compose")] = compose_cli


def _load(text: str) -> dict[str, Any]:
    try:
        data = json.loads(text)
    except ValueError:
        from ruamel.yaml import YAML

        data = YAML(typ="safe").load(text)
    if not isinstance(data, dict) or not isinstance(data.get("services"), dict):
        raise ValueError("no services")
    return data


def _dotenv(text: str) -> dict[str, str]:
    out = {}
    for line in text.splitlines():
        key, sep, value = line.partition("=")
        if sep and not key.startswith("#"):
            value = value.strip()
            out[key.strip()] = value[1:-1] if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"" else value
    return out


class Project:
    def __init__(self, host: Any, runtime: str, name: str, services: dict[str, Any], raw: dict[str, Any]) -> None:
        self.host, self.runtime, self.name, self.services = host, runtime, name, services
        self.named_volumes = set(raw.get("volumes") or {})
        self.errors: list[str] = []

    def container(self, service: str) -> str:
        return f"{self.name}_{service}_1" if self.runtime == "podman" else f"{self.name}-{service}-1"

    def cli(self, *args: str) -> Result:
        result = container_cli(self.host, [self.runtime, *args], None)
        if result.returncode:
            self.errors.append(result.stderr.strip())
        return result

    def done(self) -> Result:
        if self.errors and self.runtime == "docker":
            return fail("\n".join(self.errors), 1)
        return Result(0, "", "".join(e + "\nexit code: 125\n" for e in self.errors))  # podman-compose: still 0

    def exists(self, service: str) -> dict[str, Any] | None:
        obs = self.host.facts.of("container").get(self.container(service))
        return None if obs is None else {"running": obs.spec.get("state") == "running"}

    def ps(self) -> str:
        return "".join(self.container(s) + "\n" for s in sorted(self.services) if self.exists(s))

    def selected(self, names: list[str]) -> list[str]:
        """The services named and what they depend on (podman-compose's excluded set), in file order."""
        if not names:
            return list(self.services)
        chosen = set(names)
        for n in names:
            chosen |= set(self.services.get(n, {}).get("depends_on") or [])
        return [s for s in self.services if s in chosen]

    def pull(self, names: list[str]) -> Result:
        for service in self.selected([n for n in names if not n.startswith("-")]):
            self.cli("pull", str(self.services[service]["image"]))
        return self.done()

    def up(self, args: list[str]) -> Result:
        flags = {a for a in args if a.startswith("-")}
        unknown = flags - {"-d", "--detach", "--force-recreate", "--no-deps"}
        if unknown:
            return fail(f"{USAGE}podman-compose: error: unrecognized arguments: {' '.join(sorted(unknown))}", 2)
        unknown_services = [a for a in args if not a.startswith("-") and a not in self.services]
        if unknown_services:
            return fail(f"KeyError: {unknown_services[0]!r}", 1)
        chosen = self.selected([a for a in args if not a.startswith("-")])
        if "--force-recreate" in flags:
            self.remove(chosen)
        for service in chosen:
            state = self.exists(service)
            if state is None:
                self.create(service)
            if not (state or {}).get("running"):
                self.cli("start", self.container(service))
        return self.done()

    def down(self) -> Result:
        self.remove(list(self.services))
        return self.done()

    def remove(self, chosen: list[str]) -> None:
        for service in reversed(chosen):
            state = self.exists(service)
            if state and state["running"]:
                self.cli("stop", self.container(service))
            if state:
                self.cli("rm", self.container(service))

    def create(self, service: str) -> None:
        svc = self.services[service]
        labels = {str(k): str(v) for k, v in (svc.get("labels") or {}).items()} \
            if isinstance(svc.get("labels"), dict) else dict(str(e).split("=", 1) for e in svc.get("labels") or [])
        labels.update({"com.docker.compose.project": self.name, "com.docker.compose.service": service,
                       "com.docker.compose.container-number": "1"})
        if self.runtime == "podman":
            labels.update({"io.podman.compose.config-hash": "123", "io.podman.compose.project": self.name})
        args = ["create", "--name", self.container(service)]
        for key, value in sorted(labels.items()):
            args += ["--label", f"{key}={value}"]
        for key, value in sorted(compose.environment(svc).items()):
            args += ["--env", f"{key}={value}"]
        for port in svc.get("ports") or []:
            args += ["--publish", compose.normalize_port(port)]
        for volume in svc.get("volumes") or []:
            bind = _bind(volume, self.named_volumes)
            if bind:
                args += ["--volume", bind]
        if svc.get("network_mode"):
            args += ["--network", str(svc["network_mode"])]
        args += ["--network", self.network()]
        if svc.get("restart"):
            args += ["--restart", str(svc["restart"])]
        if svc.get("entrypoint"):
            entry = svc["entrypoint"]
            args += ["--entrypoint", json.dumps(shlex.split(entry) if isinstance(entry, str) else entry)]
        image = str(svc["image"])
        command = svc.get("command") or []
        command = shlex.split(command) if isinstance(command, str) else [str(c) for c in command]
        if self.cli(*args, image, *command).returncode and "image not known" in self.errors[-1]:
            self.errors.pop()  # `podman run` pulls a missing image, then creates
            if self.cli("pull", image).returncode == 0:
                self.cli(*args, image, *command)

    def network(self) -> str:
        name = f"{self.name}_default"
        if name not in store(self.host, self.runtime):
            network_cli(self.host, self.runtime, 125, ["create", "--label", f"com.docker.compose.project={self.name}",
                                                       name])
        return name


def _bind(volume: Any, named: set[str]) -> str | None:
    if isinstance(volume, dict):
        if volume.get("type") != "bind":
            return None
        return f"{volume['source']}:{volume['target']}" + (":ro" if volume.get("read_only") else "")
    parts = str(volume).split(":")
    return None if len(parts) < 2 or parts[0] in named else str(volume)
