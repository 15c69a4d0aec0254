"""`converge.yaml` of a manifest directory: which host, its root, per-kind settings, and the
seed of the simulated host. Everything in it is optional."""

from __future__ import annotations

import os
import re
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from .errors import Issue, ManifestError
from .fleet.inventory import NAME_PATTERN, HostFields, InventoryHost
from .types import Size
from .yamlread import display_path, locate, node_location, parse_yaml, plain, read_source

CONFIG_FILE = "converge.yaml"
DEFAULT_MANIFEST_SIZE = 4 * 1024**2  # bytes of one manifest (and of a template's output)
CONFIG_SIZE = 1024**2  # converge.yaml itself (read before any limit it sets is known)


class Limits(BaseModel):
    model_config = ConfigDict(defer_build=True, extra="forbid")
    manifest_size: Size = Field(DEFAULT_MANIFEST_SIZE, gt=0,
                                description="largest manifest file (and template output, and API edit), e.g. 4M")


class RateLimits(BaseModel):
    model_config = ConfigDict(defer_build=True, extra="forbid")
    reads_per_minute: int = Field(3600, ge=1, description="GETs per token (or per client without one)")
    writes_per_minute: int = Field(1200, ge=1, description="writes per token")
    logins_per_minute: int = Field(60, ge=1, description="failed logins and token checks per client address")
    account_logins_per_minute: int = Field(5, ge=1, description="failed logins per API account (bursts of as many)")
    anonymous_per_minute: int = Field(600, ge=1, description="requests without a token, per client")


class ApiConfig(BaseModel):
    model_config = ConfigDict(defer_build=True, extra="forbid")
    rate_limits: RateLimits = Field(default_factory=RateLimits, description="bursts of ten seconds' worth")
    allowed_hosts: list[str] = Field(default_factory=list, description="Host header names `converge serve` "
                                     "answers besides localhost and its listen address (LAN name, reverse proxy)")
    access_token_minutes: int = Field(15, ge=1, le=24 * 60, description="lifetime of a login's access token")
    refresh_token_days: int = Field(7, ge=1, le=365, description="lifetime of a login's refresh token (renewed by each refresh)")


class SimDisk(BaseModel):
    model_config = ConfigDict(defer_build=True, extra="allow")  # the emulator keeps its own marks here
    size: Size | None = Field(None, description="bytes, or a size with a unit: 4T")


class SimLink(BaseModel):
    model_config = ConfigDict(defer_build=True, extra="forbid")
    mac: str | None = None
    mtu: int | None = Field(None, ge=68, le=65535)


class SimSeed(BaseModel):
    """The seed of a new simulated host: what a real machine of that shape would have. The keys a
    user writes are checked; the emulators' own bookkeeping keys pass."""
    model_config = ConfigDict(defer_build=True, extra="allow")
    disks: dict[str, SimDisk] = Field(default_factory=dict, description="path -> {size} (a list of paths: no sizes)")
    links: dict[str, SimLink] = Field(default_factory=dict, description="NIC names, or name -> {mac, mtu}")
    images: list[str] = Field(default_factory=list, description="container images already pulled")
    paths: list[str] = Field(default_factory=list, description="directories that exist")

    @field_validator("disks", "links", mode="before")
    @classmethod
    def _names(cls, value: Any) -> Any:
        if isinstance(value, list):
            return {name: {} for name in value}
        return {name: {} if v is None else v for name, v in value.items()} if isinstance(value, dict) else value


class Config(BaseModel):
    model_config = ConfigDict(defer_build=True, extra="forbid")
    host: str | None = Field(None, description="local, or sim:PATH (relative to the directory)")
    root: str | None = Field(None, description="prefix for every file a driver writes (staging, tests)")
    settings: dict[str, dict[str, Any]] = Field(default_factory=dict, description="per kind: settings.smb...")
    sim: dict[str, Any] = Field(default_factory=dict, description="seed of a new simulated host (SimSeed)")
    vars: dict[str, Any] = Field(default_factory=dict, description="variables for *.yaml.j2 manifests")
    api: ApiConfig = Field(default_factory=ApiConfig, description="the REST API (converge serve)")
    limits: Limits = Field(default_factory=Limits)
    hosts: dict[str, InventoryHost] = Field(default_factory=dict, description="the fleet: NAME -> its address, "
                                            "manifest directories, vars, tags (converge plan|apply --all / --limit)")
    host_defaults: HostFields = Field(default_factory=HostFields, description="fields every host of the fleet gets")
    host_groups: dict[str, list[str]] = Field(default_factory=dict, description="GROUP -> host names (--limit GROUP)")
    inventory: str | None = Field(None, description="an Ansible inventory file (INI or YAML) to take hosts from")

    @field_validator("sim")
    @classmethod
    def _sim_seed(cls, value: dict[str, Any]) -> dict[str, Any]:
        # checked for its shape; kept as written (sizes normalised), the emulators read it as a dict
        return {**value, **SimSeed.model_validate(value).model_dump(include=set(value) & set(SimSeed.model_fields),
                                                                     exclude_none=True)}

    @field_validator("hosts", "host_groups")
    @classmethod
    def _names(cls, value: dict[str, Any]) -> dict[str, Any]:
        for name in value:
            if not re.fullmatch(NAME_PATTERN, name):
                raise ValueError(f"{name!r} is not a host or group name (letters, digits, '_', '.', '-')")
        return value


def load_config(directory: str) -> Config:
    path = os.path.join(directory, CONFIG_FILE)
    if not os.path.lexists(path):
        return Config()
    shown = display_path(path)
    issues: list[Issue] = []
    text = read_source(path, shown, issues, CONFIG_SIZE, directory)
    doc = parse_yaml(text, shown, issues) if text is not None else None
    if issues:
        raise ManifestError(issues)
    if doc is None:
        return Config()
    try:
        config = Config.model_validate(plain(doc))
    except ValidationError as e:
        for err in e.errors():
            where = locate(shown, doc, err["loc"], node_location(shown, doc))
            issues.append(Issue(where.file, where.line, where.column, ".".join(map(str, err["loc"])), err["msg"]))
        raise ManifestError(issues) from None
    if config.hosts or config.host_groups or config.inventory:
        _check_inventory(directory, config, doc, shown)
    if config.host and config.host.startswith("sim:") and not os.path.isabs(config.host[4:]):
        config.host = "sim:" + os.path.join(directory, config.host[4:])
    return config


def manifest_size_limit(directory: str) -> int:
    """The most bytes one manifest of this directory may have (`limits.manifest_size` in its
    converge.yaml, else 4 MiB): the loader refuses larger files, the API larger edits."""
    try:
        return load_config(directory).limits.manifest_size
    except ManifestError:  # a broken converge.yaml is reported where it is loaded; keep the default here
        return DEFAULT_MANIFEST_SIZE


def _check_inventory(directory: str, config: Config, doc: Any, shown: str) -> None:
    from .fleet.inventory import check

    issues: list[Issue] = []
    names = set(config.hosts) | set(ansible_hosts(directory, config, issues))
    fallback = node_location(shown, doc)
    issues += check(config.hosts, config.host_groups, names, lambda loc: locate(shown, doc, loc, fallback))
    if issues:
        raise ManifestError(issues)


def ansible_hosts(directory: str, config: Config, issues: list[Issue]) -> dict[str, Any]:
    """The hosts of `inventory:` (an Ansible inventory file), {} without one."""
    if not config.inventory:
        return {}
    from .fleet.ansible import parse

    path = os.path.join(directory, config.inventory)
    shown = display_path(path)
    text = read_source(path, shown, issues, CONFIG_SIZE, directory)
    return parse(text, shown, issues) if text is not None else {}


def load_fleet(directory: str) -> tuple[Config, dict[str, Any]]:
    """converge.yaml and its inventory, resolved: {name: FleetHost}."""
    from .fleet.inventory import resolve

    config = load_config(directory)
    issues: list[Issue] = []
    extra = ansible_hosts(directory, config, issues)
    if issues:
        raise ManifestError(issues)
    return config, resolve(directory, config.hosts, config.host_defaults, config.host_groups, extra)
