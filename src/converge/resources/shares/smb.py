"""Kind `smb`: a Samba share in converge's own include file of smb.conf."""

from __future__ import annotations

import re
from typing import Annotated, Any

from pydantic import Field, ValidationError, field_validator, model_validator

from ...errors import PlanError
from ...formats import smbconf
from ...formats.samba_params import PARAMETERS
from ...formats.smbconf import FIELDS, TM_VFS, canonical_param, is_share_parameter, runs_command
from ...hosts.base import Result, unroot
from ...logs import get_logger
from ...model import Change, FieldDiff, Observed, Ref, Step
from ...rendering import render
from ...types import ConfText, OnOff, Size, SortedStrs, all_match, parse_bool
from ..base import Context, Joint, Kind, Spec, file_joint
from .common import SharePath, final_shares, path_dependency, read_back_path, share_host_paths

log = get_logger(__name__)
DEFAULT_CONFIG = "/etc/samba/smb.conf"
DEFAULT_INCLUDE = "/etc/samba/converge.conf"

RESERVED = frozenset({"global", "homes", "printers", "print$", "ipc$"})
MASK = r"^0?[0-7]{3}$"
OPTION_KEY = re.compile(r"[a-z0-9][a-z0-9 _:.*-]*")
BAD_TEXT = re.compile(r"[\x00-\x1f\x7f\[\]]")  # newlines and other controls, section brackets


def check_conf_text(text: str, what: str) -> str:
    """A value that lands on one smb.conf line: nothing that ends the line, opens a section, or
    (a trailing backslash) joins the next line to it."""
    if BAD_TEXT.search(text) or text.rstrip().endswith("\\"):
        raise ValueError(f"{what} {text!r} may not contain newlines, control characters, '[' or ']', "
                         "or end with a backslash")
    return text
USER = re.compile(r"[@+&]?[A-Za-z0-9_.][A-Za-z0-9_.$-]{0,31}")
Users = Annotated[SortedStrs, all_match(USER, "a user or @group name")]
ALLOW_COMMANDS = "allow_command_options"  # settings: {smb: {allow_command_options: true}} in converge.yaml


class SmbShareSpec(Spec):
    path: SharePath = Field(description="a dataset (pool/path, resolved to its mountpoint) or an absolute path")
    comment: str | None = None
    enabled: OnOff | None = None
    read_only: OnOff | None = None
    browseable: OnOff | None = None
    guest_ok: OnOff | None = None
    valid_users: Users | None = None
    write_list: Users | None = None
    admin_users: Users | None = None
    create_mask: str | None = Field(None, pattern=MASK)
    directory_mask: str | None = Field(None, pattern=MASK)
    force_user: str | None = Field(None, pattern=r"^[A-Za-z0-9_.][A-Za-z0-9_.$-]{0,31}$")
    force_group: str | None = Field(None, pattern=r"^[A-Za-z0-9_.][A-Za-z0-9_.$-]{0,31}$")
    veto_files: SortedStrs | None = None
    time_machine: OnOff | None = None
    time_machine_max_size: Size | None = None
    options: dict[str, ConfText] = Field(default_factory=dict, description="any other smb.conf parameter")

    @field_validator("comment")
    @classmethod
    def _comment(cls, v: str | None) -> str | None:
        return None if v is None else check_conf_text(v.strip(), "comment")

    @field_validator("create_mask", "directory_mask")
    @classmethod
    def _mask(cls, v: str | None) -> str | None:
        return None if v is None else "0" + v[-3:]  # 755 and 0755 are one mask: testparm prints 0755

    @field_validator("veto_files")
    @classmethod
    def _veto(cls, v: list[str] | None) -> list[str] | None:
        for pattern in v or []:
            if "/" in pattern or "\n" in pattern or not pattern:
                raise ValueError(f"veto pattern {pattern!r} may not be empty or contain '/' or a newline")
        return v

    @field_validator("options", mode="before")
    @classmethod
    def _options(cls, v: Any) -> dict[str, str]:
        if not isinstance(v, dict):
            raise ValueError("options is a mapping of smb.conf parameter names to values")
        out: dict[str, str] = {}
        for key, value in v.items():
            if isinstance(value, (dict, list)) or value is None:
                raise ValueError(f"option {key!r}: the value must be a string, number or boolean")
            text = ("yes" if value else "no") if isinstance(value, bool) else str(value).strip()
            check_conf_text(str(key), "option name")
            check_conf_text(text, f"option {key!r}: value")
            if "include" in str(key).lower() or str(key).strip().lower() in ("config file", "copy"):
                raise ValueError(f"option {key!r} is not allowed: it would pull other files into smb.conf")
            name, text = canonical_param(str(key), text)
            if not OPTION_KEY.fullmatch(name) or "=" in name:
                raise ValueError(f"option {key!r} is not an smb.conf parameter name")
            if not is_share_parameter(name):
                raise ValueError(f"option {key!r} is not a share parameter of Samba (testparm --show-all-parameters); "
                                 "global parameters belong in smb.conf")
            field = next((f for f, p in FIELDS.items() if p == name), None)
            if field or name == "path":
                raise ValueError(f"option {key!r}: use the field {field or 'path'} instead")
            out[name] = text
        return out

    @model_validator(mode="after")
    def _time_machine(self) -> "SmbShareSpec":
        vfs = self.options.get("vfs objects")
        if self.time_machine and vfs is not None and not {"fruit", "streams_xattr"} <= set(vfs.split()):
            raise ValueError(f"time_machine needs the vfs objects fruit and streams_xattr (e.g. {TM_VFS!r}); "
                             f"options sets vfs objects to {vfs!r}")
        if self.time_machine_max_size is not None and not self.time_machine:
            raise ValueError("time_machine_max_size needs time_machine: on")
        return self


class SmbKind(Kind[SmbShareSpec]):
    """Shares live in converge's include file (setting `smb.include`, default /etc/samba/converge.conf),
    pulled into smb.conf (`smb.config`) by one `include =` line at the end of its [global] section,
    added once if missing; nothing else of smb.conf is ever written. Shares defined in smb.conf
    itself are read (through testparm) as unmanaged and never touched."""

    kind = "smb"
    section = ("shares", "smb")
    spec = SmbShareSpec
    label = "smb share"
    name_pattern = re.compile(r"[A-Za-z0-9_.$-]([A-Za-z0-9_.$ -]{0,78}[A-Za-z0-9_.$-])?")
    name_allowed = "up to 80 letters, digits, '_', '.', '$', '-', inner spaces"
    name_max_length = 80
    tools = ("testparm",)

    def check_name(self, name: str) -> str:
        name = super().check_name(name)
        if name.lower() in RESERVED:
            raise ValueError(f"share name {name!r} is reserved by Samba ({', '.join(sorted(RESERVED))})")
        return name

    def depends(self, name: str, spec: SmbShareSpec) -> list[Ref]:
        from ..accounts import share_account_refs  # the accounts a share names: checked, and made first

        return path_dependency(spec.path) + share_account_refs(
            [*(spec.valid_users or []), *(spec.write_list or []), *(spec.admin_users or [])])

    def host_paths(self, name: str, observed: Observed) -> list[str]:
        return share_host_paths(observed)

    def validate_set(self, specs: dict[str, SmbShareSpec], desired: Any) -> list[tuple[str, str, str]]:
        seen: dict[str, str] = {}
        problems = []
        allow = (getattr(desired, "settings", None) or {}).get("smb", {}).get(ALLOW_COMMANDS, False)
        try:
            allow_commands = parse_bool(allow)
        except ValueError:
            allow_commands = False
        for name in sorted(specs):
            for option in sorted(o for o in specs[name].options if runs_command(o) and not allow_commands):
                problems.append((name, f"options.{option}", f"option {option!r} makes Samba run a command on the "
                                 "server (as root for root preexec/postexec): refused unless converge.yaml sets "
                                 f"settings: {{smb: {{{ALLOW_COMMANDS}: true}}}}; allowed: share parameters that "
                                 "run nothing"))
        for name in sorted(specs):
            if name.lower() in seen:  # Samba share names are case-insensitive
                problems.append((name, "", f"share {name!r} is the same share as {seen[name.lower()]!r} for Samba "
                                           "(names are case-insensitive)"))
            seen.setdefault(name.lower(), name)
        return problems

    def paths(self, ctx: Context) -> tuple[str, str]:
        settings = ctx.kind_settings("smb")
        return str(settings.get("config", DEFAULT_CONFIG)), str(settings.get("include", DEFAULT_INCLUDE))

    def shared_file(self, ctx: Context) -> str:
        return self.paths(ctx)[1]

    # -- read ----------------------------------------------------------------------------------
    def read(self, ctx: Context) -> dict[str, Observed]:
        host = ctx.host
        config, include = self.paths(ctx)
        own = [s for s in smbconf.parse(host.read_file(include) or "") if s.name.lower() != "global"]
        if host.read_file(config) is None:  # no Samba configuration at all: nothing is served
            result = Result(0)
        else:
            result = host.run(["testparm", "-s", host.path(config)], check=False)
        loaded = smbconf.parse(result.stdout) if result.returncode == 0 else []
        if result.returncode != 0:
            log.warning("testparm failed: shares outside converge's file are not read",
                        config=config, error=result.stderr.strip()[-300:])
        defaults = {k: v for k, (_, v) in PARAMETERS.items()}
        for section in loaded:
            if section.name.lower() == "global":
                defaults.update(section.params)  # [global] sets share defaults too (read only = no ...)
        served = {s.name.lower() for s in loaded}
        out: dict[str, Observed] = {}
        for section in own:
            if result.returncode == 0 and section.name.lower() not in served:
                continue  # not served by Samba (include line gone): reads as missing, the next apply fixes it
            out[section.name] = self._observed(section, defaults, ctx, managed=True)
        mine = {s.name.lower() for s in own}
        for section in loaded:
            if section.name.lower() not in mine | RESERVED:
                out[section.name] = self._observed(section, defaults, ctx, managed=False)
        return out

    def _observed(self, section: smbconf.Section, defaults: dict[str, str], ctx: Context, managed: bool) -> Observed:
        raw = smbconf.spec_from_params(section.params, defaults)
        path = unroot(ctx.host, section.params.get("path", ""))
        source = section.markers.get("path", "")
        raw["path"] = read_back_path(source, path, ctx)
        info = {"directory": path, "in": "include" if managed else "smb.conf"}
        try:
            return Observed(spec=observed_spec(raw), managed=managed, info=info)
        except ValidationError as e:  # a path converge would not write (`/home/%U`): shown, never touched
            return Observed(spec={"path": path}, managed=managed, info={**info, "unreadable": str(e)})


    # -- change (a share has no steps of its own: the include file is written once, by joints) --
    def create(self, name: str, spec: SmbShareSpec, ctx: Context) -> list[Step]:
        for other, obs in ctx.facts.of("smb").items():
            if other.lower() == name.lower() and not obs.managed:
                raise PlanError(self._outside(other, ctx))
        return []

    def update(self, name: str, spec: SmbShareSpec, observed: Observed, diffs: list[FieldDiff],
               ctx: Context) -> list[Step]:
        if not observed.managed:
            raise PlanError(self._outside(name, ctx))
        return []

    def delete(self, name: str, observed: Observed, ctx: Context) -> list[Step]:
        return []

    def _outside(self, name: str, ctx: Context) -> str:
        return (f"smb share {name!r} is defined in {self.paths(ctx)[0]}, outside converge's include file: "
                "converge never edits it there; remove it from smb.conf to let converge manage it, "
                "or give the declared share another name")

    def joints(self, changes: list[Change], ctx: Context) -> list[Joint]:
        """The include file with every change applied: one candidate, one testparm, one install, one reload."""
        host = ctx.host
        config, include = self.paths(ctx)
        shares = [{"name": name, "source": "" if spec.path.startswith("/") else spec.path,
                   "params": smbconf.params_from_spec(spec, host.path(path))}
                  for name, spec, path in final_shares(self, "smb share", changes, ctx, str.lower)]
        text = render("smb-shares.conf.j2", shares=shares, config=config, include=host.path(include))
        candidate = include + ".candidate"
        steps = [
            Step(op="write", path=candidate, content=text, note="candidate share file"),
            Step(argv=["testparm", "-s", host.path(candidate)], note="Samba validates the candidate"),
            Step(op="write", path=include, content=text, note="install the share file"),
            Step(op="remove", path=candidate),
        ]
        new_config = smbconf.with_include(host.read_file(config), host.path(include))
        if new_config is not None:
            steps.append(Step(op="write", path=config, content=new_config,
                              note=f"add 'include = {host.path(include)}' to [global]"))
        note = ""
        if host.run(["smbcontrol", f"--configfile={host.path(config)}", "smbd", "ping"], check=False).returncode == 0:
            steps.append(Step(argv=["smbcontrol", f"--configfile={host.path(config)}", "smbd", "reload-config"],
                              note="smbd reloads its shares"))
        else:
            note = "smbd is not running: it reads the new shares when it starts"
        return [file_joint(include, text, [s["name"] for s in shares], steps, [c.ref for c in changes], ctx, note)]


def observed_spec(raw: dict[str, Any]) -> dict[str, Any]:
    """The Spec's normal form of what was read. A field a hand edit made unreadable (a bad
    option, `read only = maybe`) is left out, so a declared field shows up as drift and the next
    apply rewrites the share instead of the read failing."""
    for _ in range(len(raw) + 1):
        try:
            return SmbShareSpec.model_validate(raw).model_dump(mode="json", exclude_none=True)
        except ValidationError as e:
            bad = {str(err["loc"][0]) for err in e.errors() if err["loc"]}
            if not bad or "path" in bad:
                raise
            raw = {k: ({} if k == "options" else v) for k, v in raw.items() if k not in bad or k == "options"}
    raise AssertionError("unreachable")
