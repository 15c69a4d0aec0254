"""Kind `system` (a singleton, ref system/host): hostname, timezone, DNS, NTP and sysctl settings.

Everything is kept in files, so it survives a reboot by construction: /etc/hostname, the
/etc/localtime link, /etc/resolv.conf (or a systemd-resolved drop-in when resolved manages DNS),
a timesyncd drop-in and a sysctl drop-in. On a live host with a running systemd the matching
tool (hostnamectl, timedatectl, sysctl -p) applies the value now as well; under --root, or on a
host without a running systemd, the files alone are written."""

from __future__ import annotations

import re
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from ...errors import suggest
from ...formats.systemd import parse_sysctl, timezones
from ...hosts.base import read_files
from ...model import Change, FieldDiff, Observed, Step
from ...types import ConfText, IPAddress, all_match
from ..base import Context, Kind, Spec
from .units import systemctl, systemd_running

HOSTNAME_FILE = "/etc/hostname"
LOCALTIME = "/etc/localtime"
ZONEINFO = "/usr/share/zoneinfo"
RESOLV_CONF = "/etc/resolv.conf"
RESOLVED_DROPIN = "/etc/systemd/resolved.conf.d/converge.conf"
TIMESYNCD_DROPIN = "/etc/systemd/timesyncd.conf.d/converge.conf"
SYSCTL_DROPIN = "/etc/sysctl.d/90-converge.conf"
HOSTNAME_RE = re.compile(r"(?=.{1,64}$)[A-Za-z0-9]([A-Za-z0-9-]{0,62}[A-Za-z0-9])?")
DOMAIN_RE = re.compile(r"[A-Za-z0-9]([A-Za-z0-9-]{0,62})(\.[A-Za-z0-9][A-Za-z0-9-]{0,62})*\.?")
SYSCTL_KEY_RE = re.compile(r"[a-z0-9_][a-z0-9_.-]*(\.[a-z0-9_*-]+)+")
HEADER = "# Written by converge; edits here are overwritten.\n"


class Dns(BaseModel):
    model_config = ConfigDict(defer_build=True, extra="forbid")
    nameservers: list[IPAddress] = Field(default_factory=list, max_length=3,
                                         description="in order (resolv.conf uses at most three)")
    search: Annotated[list[str], all_match(DOMAIN_RE, "a domain name (e.g. lan, home.example.org)")] = Field(
        default_factory=list, description="search domains, in order")


class Ntp(BaseModel):
    model_config = ConfigDict(defer_build=True, extra="forbid")
    servers: list[str] = Field(default_factory=list, description="NTP servers for systemd-timesyncd, in order")

    @field_validator("servers")
    @classmethod
    def _servers(cls, v: list[str]) -> list[str]:
        for s in v:
            if not DOMAIN_RE.fullmatch(s) and not re.fullmatch(r"[0-9A-Fa-f:.]+", s):
                raise ValueError(f"{s!r} is not a host name or an IP address")
        return v


def _sysctl_value(v: Any) -> str:
    if isinstance(v, bool):
        return "1" if v else "0"
    if isinstance(v, (int, float, str)):
        text = " ".join(str(v).split())  # sysctl normalises whitespace between fields
        if text and "\n" not in text:
            return text
    raise ValueError(f"{v!r} is not a sysctl value (a number or a string on one line)")


class SystemSpec(Spec):
    hostname: str | None = Field(None, description="the static host name (a single label)")
    timezone: str | None = Field(None, description="an IANA time zone name (Europe/Berlin, UTC)")
    dns: Dns | None = None
    ntp: Ntp | None = None
    sysctl: dict[str, ConfText] | None = Field(None, description="kernel parameters, written to " + SYSCTL_DROPIN)

    @field_validator("hostname")
    @classmethod
    def _hostname(cls, v: str | None) -> str | None:
        if v is not None and not HOSTNAME_RE.fullmatch(v):
            raise ValueError(f"{v!r} is not a host name: one label of letters, digits and '-', up to 64 "
                             "characters, not starting or ending with '-'")
        return v

    @field_validator("timezone")
    @classmethod
    def _timezone(cls, v: str | None) -> str | None:
        if v is not None and v not in timezones():
            raise ValueError(f"{v!r} is not a time zone of the tz database{suggest(v, sorted(timezones()))} "
                             "(an IANA name such as Europe/Berlin, America/New_York or UTC)")
        return v

    @field_validator("sysctl", mode="before")
    @classmethod
    def _sysctl(cls, v: Any) -> Any:
        if v is None:
            return v
        if not isinstance(v, dict):
            raise ValueError("sysctl is a mapping of keys to values: {net.ipv4.ip_forward: 1}")
        out = {}
        for key, value in v.items():
            name = str(key).replace("/", ".")
            if not SYSCTL_KEY_RE.fullmatch(name):
                raise ValueError(f"{key!r} is not a sysctl key (e.g. net.ipv4.ip_forward, vm.swappiness)")
            out[name] = _sysctl_value(value)
        return dict(sorted(out.items()))


def parse_resolv(text: str) -> dict[str, list[str]]:
    nameservers, search = [], []
    for line in text.splitlines():
        words = line.split("#", 1)[0].split()
        if words[:1] == ["nameserver"] and len(words) > 1:
            nameservers.append(words[1])
        elif words[:1] in (["search"], ["domain"]):
            search = words[1:]
    return {"nameservers": nameservers, "search": search}


def render_resolv(old: str, dns: Dns) -> str:
    """resolv.conf with converge's nameserver and search lines; other lines (options) are kept."""
    kept = [line for line in old.splitlines()
            if line.split()[:1] not in (["nameserver"], ["search"], ["domain"]) and line.strip() != HEADER.strip()]
    lines = [HEADER.rstrip("\n")] + [line for line in kept if line.strip()]
    if dns.search:
        lines.append("search " + " ".join(dns.search))
    lines += [f"nameserver {ns}" for ns in dns.nameservers]
    return "\n".join(lines) + "\n"


def _ini_values(text: str, key: str) -> list[str]:
    values: list[str] = []
    for line in text.splitlines():
        k, sep, v = line.partition("=")
        if sep and k.strip() == key:
            values = v.split()
    return values


class SystemKind(Kind[SystemSpec]):
    kind = "system"
    section = ("system",)
    singleton = "host"
    spec = SystemSpec
    name_pattern = re.compile(r"host")
    name_allowed = "only `host` (the system section describes this host)"

    def uses_resolved(self, ctx: Context) -> bool:
        """systemd-resolved manages DNS when /etc/resolv.conf links into /run/systemd/resolve."""
        if "resolved" not in ctx.reads:
            target = readlink(ctx, RESOLV_CONF) or ""
            ctx.reads["resolved"] = "/run/systemd/resolve/" in target or \
                bool(ctx.kind_settings("system").get("resolved", False))
        return bool(ctx.reads["resolved"])

    def owned_files(self, ctx: Context) -> list[str]:
        spec = ctx.specs("system").get("host")
        files = [SYSCTL_DROPIN, TIMESYNCD_DROPIN]
        if spec is not None and spec.dns is not None:
            files.append(RESOLVED_DROPIN if self.uses_resolved(ctx) else RESOLV_CONF)
        return files

    def read(self, ctx: Context) -> dict[str, Observed]:
        link = readlink(ctx, LOCALTIME) or ""
        zone = link.split("/zoneinfo/", 1)[1] if "/zoneinfo/" in link else None
        resolved = self.uses_resolved(ctx)
        # one read of all the files (one round trip on a remote host)
        files = read_files(ctx.host, [RESOLVED_DROPIN if resolved else RESOLV_CONF, HOSTNAME_FILE, TIMESYNCD_DROPIN,
                                      SYSCTL_DROPIN])
        if resolved:
            text = files[RESOLVED_DROPIN] or ""
            dns = {"nameservers": _ini_values(text, "DNS"), "search": _ini_values(text, "Domains")}
        else:
            dns = parse_resolv(files[RESOLV_CONF] or "")
        spec = {"hostname": (files[HOSTNAME_FILE] or "").strip() or None, "timezone": zone, "dns": dns,
                "ntp": {"servers": _ini_values(files[TIMESYNCD_DROPIN] or "", "NTP")},
                "sysctl": parse_sysctl(files[SYSCTL_DROPIN] or "")}
        return {"host": Observed(spec=spec, info={"localtime": link})}

    def create(self, name: str, spec: SystemSpec, ctx: Context) -> list[Step]:
        return self._steps(spec, set(spec.declared()), ctx)

    def update(self, name: str, spec: SystemSpec, observed: Observed, diffs: list[FieldDiff],
               ctx: Context) -> list[Step]:
        return self._steps(spec, {d.path.split(".", 1)[0] for d in diffs}, ctx)

    def delete(self, name: str, observed: Observed, ctx: Context) -> list[Step]:
        return []  # never planned: the host's settings are not converge's to remove

    def finalize(self, changes: list[Change], ctx: Context) -> None:
        for change in changes:  # the host's settings always exist: nothing is adopted or created
            change.reason = "differs from the manifest"

    def _steps(self, spec: SystemSpec, fields: set[str], ctx: Context) -> list[Step]:
        host = ctx.host
        live = systemd_running(host, ctx.reads)
        steps: list[Step] = []
        if "hostname" in fields and spec.hostname:
            steps.append(Step(op="write", path=HOSTNAME_FILE, content=spec.hostname + "\n", note="static host name"))
            if live and host.has("hostnamectl"):
                steps.append(Step(argv=["hostnamectl", "set-hostname", spec.hostname], note="apply it now"))
        if "timezone" in fields and spec.timezone:
            target = f"{ZONEINFO}/{spec.timezone}"
            steps.append(Step(argv=["ln", "-sfn", target, host.path(LOCALTIME)], note="the time zone, kept at boot"))
            if live and host.has("timedatectl"):
                steps.append(Step(argv=["timedatectl", "set-timezone", spec.timezone], note="apply it now"))
        if "dns" in fields and spec.dns is not None:
            steps += self._dns_steps(spec.dns, ctx, live)
        if "ntp" in fields and spec.ntp is not None:
            text = HEADER + "[Time]\nNTP=" + " ".join(spec.ntp.servers) + "\n"
            steps.append(Step(op="write", path=TIMESYNCD_DROPIN, content=text, note="systemd-timesyncd drop-in"))
            if live:
                steps.append(Step(argv=systemctl(host, "try-restart", "systemd-timesyncd.service"),
                                  note="timesyncd reads the servers"))
        if "sysctl" in fields and spec.sysctl is not None:
            text = HEADER + "".join(f"{k} = {v}\n" for k, v in spec.sysctl.items())
            steps.append(Step(op="write", path=SYSCTL_DROPIN, content=text, note="read by systemd-sysctl at boot"))
            if live and host.has("sysctl") and spec.sysctl:
                steps.append(Step(argv=["sysctl", "-p", SYSCTL_DROPIN], note="apply the values now"))
        return steps

    def _dns_steps(self, dns: Dns, ctx: Context, live: bool) -> list[Step]:
        if self.uses_resolved(ctx):
            text = HEADER + "[Resolve]\nDNS=" + " ".join(dns.nameservers) + "\nDomains=" + " ".join(dns.search) + "\n"
            steps = [Step(op="write", path=RESOLVED_DROPIN, content=text, note="systemd-resolved drop-in")]
            if live:
                steps.append(Step(argv=systemctl(ctx.host, "try-restart", "systemd-resolved.service"),
                                  note="resolved reads the servers"))
            return steps
        old = ctx.host.read_file(RESOLV_CONF) or ""
        return [Step(op="write", path=RESOLV_CONF, content=render_resolv(old, dns), note="name servers and search")]


def readlink(ctx: Context, path: str) -> str | None:
    """The target of a symlink on the host (None when it is not one)."""
    host = ctx.host
    if not host.has("readlink"):
        return None
    result = host.run(["readlink", host.path(path)], check=False)
    target = result.stdout.strip()
    return target if result.returncode == 0 and target else None


def zone_of(link: str) -> str | None:
    return link.split("/zoneinfo/", 1)[1] if "/zoneinfo/" in link else None


__all__ = ["SystemKind", "SystemSpec"]
