"""Compose files as converge reads them: the names a compose file may have, `${VAR}` interpolation,
and each service's summary and definition hash. Shared by the stack kind and the simulated
`podman-compose` / `docker compose`, so both sides see a file the same way.

Converge labels every service it runs (podman-compose 1.0.3 writes a constant
`io.podman.compose.config-hash=123`, so the runtime's own hash cannot tell a change):
`converge.stack` (the project), `converge.definition` (a digest of the service as written plus the
values of the variables it uses), `converge.env` (KEY:digest of each environment value, or
KEY:(sensitive) when it uses a secret) and `converge.ports`. Label values never hold a comma (docker
prints a container's labels comma-joined)."""

from __future__ import annotations

import hashlib
import json
import os
import re
from typing import Any

from ..redaction import MASK

COMPOSE_NAMES = frozenset({"compose.yaml", "compose.yml", "docker-compose.yaml", "docker-compose.yml"})
COMPOSE_SUFFIXES = (".compose.yaml", ".compose.yml")
PROJECT_LABEL = "com.docker.compose.project"
SERVICE_LABEL = "com.docker.compose.service"
STACK_LABEL = "converge.stack"
DEFINITION_LABEL = "converge.definition"
ENV_KEYS_LABEL = "converge.env"
PORTS_LABEL = "converge.ports"
VARIABLE = re.compile(r"\$(?:\$|\{(?P<braced>[A-Za-z_][A-Za-z0-9_]*)(?P<op>:?[-?+])?(?P<arg>[^}]*)\}|(?P<bare>[A-Za-z_][A-Za-z0-9_]*))")


def is_compose_file(path: str) -> bool:
    """A compose file by its name: never read as a manifest of the directory it sits in."""
    name = os.path.basename(path)
    return name in COMPOSE_NAMES or name.endswith(COMPOSE_SUFFIXES)


def variables(value: Any) -> set[str]:
    """Names of the variables a value (any nesting) refers to."""
    if isinstance(value, str):
        return {m["braced"] or m["bare"] for m in VARIABLE.finditer(value) if m["braced"] or m["bare"]}
    if isinstance(value, dict):
        return set().union(*(variables(v) for v in value.values())) if value else set()
    if isinstance(value, list):
        return set().union(*(variables(v) for v in value)) if value else set()
    return set()


def interpolate(value: Any, env: dict[str, str], keep: frozenset[str] = frozenset()) -> Any:
    """`${VAR}`, `${VAR:-default}`, `${VAR-default}`, `$VAR` and `$$` as compose substitutes them;
    a name in `keep` stays as written (a secret: the runtime fills it in from the env file)."""
    if isinstance(value, dict):
        return {k: interpolate(v, env, keep) for k, v in value.items()}
    if isinstance(value, list):
        return [interpolate(v, env, keep) for v in value]
    if not isinstance(value, str):
        return value

    def one(m: re.Match[str]) -> str:
        name = m["braced"] or m["bare"]
        if name is None:
            return "$$" if keep else "$"  # `$$` stays escaped for the runtime when it interpolates after us
        if name in keep:
            return m[0]
        op, arg = m["op"] or "", m["arg"] or ""
        have = env.get(name)
        if op in (":-", "-"):
            return arg if have is None or (op == ":-" and have == "") else have
        if op in (":+", "+"):
            return arg if have is not None and (op == "+" or have != "") else ""
        if op in (":?", "?") and (have is None or (op == ":?" and have == "")):
            raise ValueError(f"variable {name} is required: {arg or 'not set'}")
        return have or ""

    return VARIABLE.sub(one, value)


def environment(service: dict[str, Any]) -> dict[str, str]:
    """A service's `environment:` (mapping or `KEY=value` list) as a mapping."""
    raw = service.get("environment") or {}
    if isinstance(raw, list):
        raw = dict(str(e).split("=", 1) if "=" in str(e) else (str(e), "") for e in raw)
    return {str(k): "" if v is None else str(v) for k, v in raw.items()}


def normalize_port(spec: Any) -> str:
    """`8080:80`, `"127.0.0.1:8080:80/udp"`, or the long form -> `[ip:]HOST:CONTAINER/proto`."""
    if isinstance(spec, dict):
        host, ctr, proto = spec.get("published"), spec.get("target"), spec.get("protocol") or "tcp"
        ip = spec.get("host_ip") or ""
        return f"{ip + ':' if ip and ip != '0.0.0.0' else ''}{host or ctr}:{ctr}/{proto}"
    text = str(spec)
    addr, _, proto = text.partition("/")
    parts = addr.split(":")
    if len(parts) == 1:
        parts = [parts[0], parts[0]]
    ip = parts[0] if len(parts) == 3 and parts[0] != "0.0.0.0" else ""
    return f"{ip + ':' if ip else ''}{parts[-2]}:{parts[-1]}/{proto or 'tcp'}"


def digest(value: Any) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True, separators=(",", ":")).encode()).hexdigest()[:16]


def definition(service: dict[str, Any], env: dict[str, str]) -> str:
    """The digest of a service as written plus the values of the variables it uses (a changed
    secret recreates the services that use it, and only those)."""
    used = sorted(variables(service))
    return digest([service, {name: env.get(name) for name in used}])


def summary(service: dict[str, Any], env: dict[str, str], secret: frozenset[str]) -> dict[str, Any]:
    """What a plan shows of a service: image, ports, and each environment key with a digest of its
    value ((sensitive) when the value uses a secret variable), and the definition digest."""
    resolved = interpolate({k: v for k, v in service.items() if k != "labels"}, env, secret)
    return {
        "image": str(resolved.get("image") or ""),
        "ports": sorted(normalize_port(p) for p in resolved.get("ports") or []),
        "env": {k: MASK if variables(v) & secret else "sha256:" + digest(v)[:8]
                for k, v in sorted(environment(resolved).items())},
        "definition": definition(service, env),
    }


def labels_of(summary_: dict[str, Any], stack: str) -> dict[str, str]:
    """The labels that carry a service's summary on its container."""
    return {STACK_LABEL: stack, DEFINITION_LABEL: summary_["definition"],
            ENV_KEYS_LABEL: ";".join(f"{k}:{v}" for k, v in summary_["env"].items()),
            PORTS_LABEL: ";".join(summary_["ports"])}


def summary_from_labels(labels: dict[str, str], image: str) -> dict[str, Any]:
    env = dict(kv.split(":", 1) for kv in labels.get(ENV_KEYS_LABEL, "").split(";") if ":" in kv)
    return {"image": image, "ports": sorted(filter(None, labels.get(PORTS_LABEL, "").split(";"))),
            "env": dict(sorted(env.items())), "definition": labels.get(DEFINITION_LABEL, "")}


def add_labels(service: dict[str, Any], extra: dict[str, str]) -> dict[str, Any]:
    """The service with converge's labels added (mapping or `KEY=value` list form kept as a mapping)."""
    raw = service.get("labels") or {}
    if isinstance(raw, list):
        raw = dict(str(e).split("=", 1) if "=" in str(e) else (str(e), "") for e in raw)
    return {**service, "labels": {**{str(k): str(v) for k, v in raw.items()}, **extra}}


def dotenv(values: dict[str, str]) -> str:
    """An env file both podman-compose (python-dotenv) and docker compose read literally: single
    quotes (no interpolation, no escapes); a value holding a quote or backslash is refused earlier."""
    return "".join(f"{k}='{v}'\n" for k, v in sorted(values.items()))


def dotenv_safe(value: str) -> bool:
    return not any(c in value for c in "'\\\n\r\x00")
