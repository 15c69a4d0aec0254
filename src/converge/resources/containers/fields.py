"""Normal forms of the podman/docker container fields beyond the basics: devices, capabilities,
healthcheck, entrypoint, networks. The manifest's spelling and the runtimes' `inspect` answers
both land in the same form, so a container as declared reads back identical (an empty plan).

Measured on podman 4.3.1 (tests/fixtures/podman/inspect-fields.json): `Config.Entrypoint` is one
string (the words joined by blanks), `HostConfig.Devices[].CgroupPermissions` is always empty
(even for `:r`), `CapAdd`/`CapDrop` carry the `CAP_` prefix, healthcheck durations are
nanoseconds and a zero start period is left out; `--health-cmd '["CMD", ...]'` is mangled (the
exec form must be passed without its `CMD`)."""

from __future__ import annotations

import json
import re
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, WithJsonSchema, field_validator, model_validator

from ...formats.durations import format_duration, parse_duration
from ...types import Stamp, matching

ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
NETWORK_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,62}")
USER_RE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,31}(:[A-Za-z0-9_][A-Za-z0-9_.-]{0,31})?")
NETWORK_MODES = frozenset({"none", "host", "bridge", "default", "private", "slirp4netns", ""})
HEALTH_DEFAULTS = {"interval": "30s", "timeout": "30s", "retries": 3, "start_period": "0s"}

# Fields whose before-validators take a second spelling declare it, so the published schema
# accepts exactly what validation does (a generated client, schemathesis' ST201).
STRINGS = {"type": "array", "items": {"type": "string"}}


def split_words(value: Any) -> Any:
    """A command given as one string: its words, as a shell would split them."""
    if isinstance(value, str):
        import shlex

        return shlex.split(value)
    return value


Words = Annotated[list[str], BeforeValidator(split_words), WithJsonSchema({"anyOf": [
    {"type": "string", "description": "split into words as a shell would"}, STRINGS]})]
Duration = Annotated[str, WithJsonSchema({"anyOf": [
    {"type": "string", "description": "e.g. 30s, 1m30s, 500ms, 2h"}, {"type": "number", "minimum": 0}]})]


def check_env_names(env: dict[str, Any]) -> None:
    """Names a shell (and a compose file's ${VAR}) can take."""
    for name in env:
        matching(ENV_NAME, name, "an environment variable name ([A-Za-z_][A-Za-z0-9_]*)")


class Healthcheck(BaseModel):
    """`test` a shell command (string) or an exec list; durations like 30s or 1m30s. Defaults as
    podman's (interval 30s, timeout 30s, retries 3, start_period 0s), always passed explicitly so
    podman and docker record the same."""
    model_config = ConfigDict(defer_build=True, extra="forbid")

    test: Annotated[list[str], WithJsonSchema({"anyOf": [{"type": "string"}, STRINGS]})] = Field(
        description="a shell command, or [program, args...] (exec form)")
    interval: Duration = "30s"
    timeout: Duration = "30s"
    retries: int = Field(3, ge=0, le=1000)
    start_period: Duration = "0s"

    @model_validator(mode="before")
    @classmethod
    def _defaults(cls, data: Any) -> Any:
        # every field counts as declared: an interval dropped from the manifest goes back to 30s
        return {**HEALTH_DEFAULTS, **data} if isinstance(data, dict) else data

    @field_validator("test", mode="before")
    @classmethod
    def _test(cls, v: Any) -> Any:
        if isinstance(v, str):
            if not v.strip():
                raise ValueError("an empty healthcheck test")
            return ["CMD-SHELL", v]
        if isinstance(v, list) and v and all(isinstance(x, str) for x in v):
            if v[0] == "CMD-SHELL" and len(v) == 2 or v[0] == "CMD" and len(v) > 1:
                return v
            if v[0] in ("CMD", "CMD-SHELL", "NONE"):
                raise ValueError("healthcheck test: [CMD, program, args...], [CMD-SHELL, command], "
                                 "or leave healthcheck out for none")
            return ["CMD", *v]
        raise ValueError("healthcheck test is a shell command (string) or a list of strings")

    @field_validator("interval", "timeout", "start_period", mode="before")
    @classmethod
    def _duration(cls, v: Any) -> str:
        return format_duration(parse_duration(v))


def health_argv(check: Healthcheck, runtime: str) -> list[str]:
    """podman 4.3 mangles a JSON list that starts with CMD: the exec form goes without it."""
    kind, *words = check.test
    cmd = words[0] if kind == "CMD-SHELL" else json.dumps(words, separators=(",", ":"))
    return ["--health-cmd", cmd, "--health-interval", check.interval, "--health-timeout", check.timeout,
            "--health-retries", str(check.retries), "--health-start-period", check.start_period]


def health_from_inspect(raw: dict[str, Any] | None) -> dict[str, Any] | None:
    """`Config.Healthcheck` (nanoseconds; docker's 0 means the default) -> the spec's form."""
    if not raw or not raw.get("Test") or raw["Test"][0] == "NONE":
        return None

    def dur(key: str, default: str) -> str:
        return format_duration(int(raw.get(key) or 0)) if raw.get(key) else default

    return {"test": list(raw["Test"]), "interval": dur("Interval", "30s"), "timeout": dur("Timeout", "30s"),
            "retries": int(raw.get("Retries") or 3), "start_period": dur("StartPeriod", "0s")}


def devices_from_inspect(devices: list[dict[str, Any]] | None) -> list[str]:
    out = []
    for d in devices or []:
        perms = d.get("CgroupPermissions") or ""
        out.append(f"{d.get('PathOnHost')}:{d.get('PathInContainer') or d.get('PathOnHost')}"
                   + (f":{perms}" if perms else ""))
    return out


def entrypoint_from_inspect(value: Any) -> list[str] | None:
    """docker: a list; podman 4.3: one string of the words joined by blanks (see map_declared)."""
    if isinstance(value, list):
        return value or None
    return str(value).split(" ") if value else None


def networks_from_inspect(raw: dict[str, Any]) -> tuple[list[str] | None, str | None]:
    """(networks joined, network mode): a container on named networks reads back with mode bridge
    (podman says bridge; docker names the first network as its mode)."""
    mode = (raw.get("HostConfig") or {}).get("NetworkMode") or ""
    names = sorted(((raw.get("NetworkSettings") or {}).get("Networks") or {}).keys())
    if mode in ("none", "host") or not names:
        return None, mode
    return names, "bridge"


def map_declared(spec: dict[str, Any], declared: Any) -> dict[str, Any]:
    """What the runtime reports with less detail than the manifest says, read as declared when it
    agrees: podman's blank-joined entrypoint, podman's empty device permissions."""
    if declared is None:
        return spec
    out = dict(spec)
    if declared.entrypoint and isinstance(spec.get("entrypoint"), list) \
            and " ".join(spec["entrypoint"]) == " ".join(declared.entrypoint):
        out["entrypoint"] = declared.entrypoint
    if declared.devices and spec.get("devices"):
        by_paths = {":".join(d.split(":")[:2]): d for d in declared.devices}
        out["devices"] = [by_paths.get(d, d) if d.count(":") == 1 else d for d in spec["devices"]]
    return out


class StopRequest(BaseModel):
    """A request stamp with parameters: the stop that `state: stopped` makes, done once this way
    (the API's stop action writes it). `force` kills at once (`stop -t 0`); `timeout` overrides
    stop_timeout for this one stop."""
    model_config = ConfigDict(defer_build=True, extra="forbid")

    at: Stamp
    timeout: int | None = Field(None, ge=0, le=3600)
    force: bool = False
