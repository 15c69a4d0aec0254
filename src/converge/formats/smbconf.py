"""smb.conf text: parse sections, canonicalise parameter names, and map between smb.conf
parameters and the `smb` kind's fields. Used on both sides (kind and simulated testparm) so a
hand edit and converge's own rendering read back the same way."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from ..types import format_size, parse_bool, parse_size
from .samba_params import PARAMETERS, SYNONYMS

MARKER = re.compile(r"^[#;]\s*converge:\s*(\w+)\s+(.*?)\s*$")  # `# converge: path tank/media`
TM_VFS = "catia fruit streams_xattr"  # what `fruit:time machine` needs (vfs_fruit(8))

# kind field -> smb.conf parameter (canonical name)
FIELDS: dict[str, str] = {
    "comment": "comment",
    "enabled": "available",
    "read_only": "read only",
    "browseable": "browseable",
    "guest_ok": "guest ok",
    "valid_users": "valid users",
    "write_list": "write list",
    "admin_users": "admin users",
    "create_mask": "create mask",
    "directory_mask": "directory mask",
    "force_user": "force user",
    "force_group": "force group",
    "veto_files": "veto files",
    "time_machine": "fruit:time machine",
    "time_machine_max_size": "fruit:time machine max size",
}
PARAM_FIELDS = {v: k for k, v in FIELDS.items()}
BOOL_FIELDS = ("enabled", "read_only", "browseable", "guest_ok", "time_machine")
LIST_FIELDS = ("valid_users", "write_list", "admin_users")


@dataclass
class Section:
    name: str
    params: dict[str, str] = field(default_factory=dict)  # canonical name -> value as written
    markers: dict[str, str] = field(default_factory=dict)  # converge's own comments in the section
    line: int = 0


def canonical_name(key: str) -> str:
    """`Read_Only`, `read  only` -> `read only`; parametric names (`fruit:time machine`) keep '_'."""
    key = key.strip().lower()
    if ":" not in key:
        key = key.replace("_", " ")
    return " ".join(key.split())


def canonical_param(key: str, value: str) -> tuple[str, str]:
    """Synonyms to their canonical parameter; an inverse synonym (`writeable`) flips its boolean."""
    key = canonical_name(key)
    if key in SYNONYMS:
        target, inverse = SYNONYMS[key]
        if inverse:
            try:
                value = "no" if parse_bool(value) else "yes"
            except ValueError:
                pass  # left as written: the bad value shows up as drift / a testparm error
        key = target
    return key, value


def is_share_parameter(key: str) -> bool:
    return key in PARAMETERS or ":" in key


# Share parameters whose value is a command smbd runs (as root for root preexec/postexec, on
# every connect, close or print job): anyone who can write a manifest would run code on the server.
COMMAND_PARAMETERS = frozenset({
    "preexec", "postexec", "root preexec", "root postexec", "magic script", "magic output", "dfree command",
    "print command", "lpq command", "lprm command", "lppause command", "lpresume command",
    "queuepause command", "queueresume command",
})


def runs_command(name: str) -> bool:
    """A share parameter that runs a command; also module options such as `shell_snap:create command`."""
    module_option = name.partition(":")[2]
    return name in COMMAND_PARAMETERS or any(word in module_option for word in ("command", "script"))


def parse(text: str) -> list[Section]:
    """Sections in file order. Lines before any section header belong to [global]."""
    sections: list[Section] = []
    current = Section("global")
    pending = ""
    for number, raw in enumerate(text.splitlines(), start=1):
        line = pending + raw.strip()
        pending = ""
        if line.endswith("\\"):  # Samba joins a line ending in a backslash with the next one
            pending = line[:-1]
            continue
        if not line:
            continue
        if line[0] in "#;":
            m = MARKER.match(line)
            if m:
                current.markers[m.group(1)] = m.group(2)
            continue
        if line.startswith("["):
            if current.params or current.markers or current.name != "global" or sections:
                sections.append(current)
            current = Section(line[1:line.index("]")].strip() if "]" in line else line[1:].strip(), line=number)
            continue
        key, sep, value = line.partition("=")
        if sep:
            k, v = canonical_param(key, value.strip())
            current.params[k] = v
    sections.append(current)
    return [s for s in sections if s.name.lower() != "global" or s.params or s.markers]


def spec_from_params(params: dict[str, str], defaults: dict[str, str]) -> dict[str, object]:
    """smb.conf parameters of one share -> the kind's fields (raw values; the Spec normalises).

    `defaults` are the values a share gets without setting them (Samba's, overridden by [global]),
    so a share that leaves `read only` out reads as read_only true, exactly as Samba serves it."""
    merged = {k: v for k, v in defaults.items() if k in PARAM_FIELDS}
    merged.update(params)
    out: dict[str, object] = {}
    options: dict[str, str] = {}
    tm = False
    for key, value in merged.items():
        fname = PARAM_FIELDS.get(key)
        if fname in ("force_user", "force_group") and not value:
            continue  # Samba's default: nobody forced
        try:
            if fname in BOOL_FIELDS:
                out[fname] = parse_bool(value)
                tm = tm or (fname == "time_machine" and bool(out[fname]))
            elif fname in LIST_FIELDS:
                out[fname] = [u for u in re.split(r"[\s,]+", value) if u]
            elif fname == "veto_files":
                out[fname] = [p for p in value.split("/") if p]
            elif fname == "time_machine_max_size":
                out[fname] = parse_size(value)
            elif fname in ("create_mask", "directory_mask"):
                out[fname] = "0" + value.lstrip("0").rjust(3, "0") if re.fullmatch(r"0?[0-7]{3}", value) else value
            elif fname is not None:
                out[fname] = value
            elif key != "path" and key in params:
                options[key] = value
        except ValueError:
            options[key] = value  # unreadable value: left out of the field, so a declared field shows drift
    out.setdefault("time_machine", False)
    if tm and options.get("vfs objects") == TM_VFS:
        del options["vfs objects"]  # converge added it for Time Machine
    out["options"] = options
    return out


def params_from_spec(spec: object, path: str) -> list[tuple[str, str]]:
    """The smb.conf lines of one share, in a fixed order (field order, then options sorted)."""
    data = spec.model_dump(mode="json", exclude_none=True)  # type: ignore[attr-defined]
    lines = [("path", path)]
    for fname, param in FIELDS.items():
        if fname not in data:
            continue
        value = data[fname]
        if fname in BOOL_FIELDS:
            if fname == "time_machine" and not value:
                continue  # Samba's default: no line needed
            text = "yes" if value else "no"
        elif fname in LIST_FIELDS:
            text = " ".join(value)
        elif fname == "veto_files":
            text = "/" + "/".join(value) + "/" if value else ""
        elif fname == "time_machine_max_size":
            text = exact_size(value)
        else:
            text = str(value)
        lines.append((param, text))
    options = dict(data.get("options", {}))
    if data.get("time_machine") and "vfs objects" not in options:
        options["vfs objects"] = TM_VFS
    lines.extend(sorted(options.items()))
    return lines


def exact_size(n: int) -> str:
    """A size Samba parses exactly: whole units only (1.5T would be rounded), else bytes."""
    text = format_size(n)
    return text if text[:-1].isdigit() else str(n)


def with_include(text: str | None, include: str) -> str | None:
    """smb.conf with `include = FILE` as the last line of [global]; None when it is there already.
    Only that one line is added: every other byte of smb.conf stays as it was."""
    line = f"\tinclude = {include}\n"
    if text is None:
        return "[global]\n" + line
    lines = text.splitlines(keepends=True)
    for raw in lines:
        key, sep, value = raw.strip().partition("=")
        if sep and canonical_name(key) == "include" and value.strip() == include:
            return None
    start = next((i for i, raw in enumerate(lines) if raw.strip().lower().replace(" ", "") == "[global]"), None)
    if start is None:
        return "[global]\n" + line + "\n" + text
    end = next((i for i in range(start + 1, len(lines)) if lines[i].lstrip().startswith("[")), len(lines))
    while end > start + 1 and not lines[end - 1].strip():
        end -= 1  # keep the blank lines between [global] and the next section after the new line
    if end and not lines[end - 1].endswith("\n"):
        lines[end - 1] += "\n"
    lines.insert(end, line)
    return "".join(lines)
