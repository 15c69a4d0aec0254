"""Samba on the simulated host: `testparm` and `smbcontrol`.

smb.conf and its include files are `host.facts.files`. testparm answers like Samba 4.17
(tests/fixtures/testparm/): the loaded config on stdout with canonical parameter names, booleans
as Yes/No and values equal to the default left out; "Unknown parameter encountered" is only a
warning (rc 0) but a bad boolean is fatal ("Error loading services.", rc 1). smbcontrol needs a
running smbd (`sim["samba"]["smbd_running"]`, default true) and counts reloads in
`sim["samba"]["reloads"]`, with the share names each reload loaded in `sim["samba"]["loaded"]`."""

from __future__ import annotations

from typing import Any

from ...formats import smbconf
from ...formats.samba_params import PARAMETERS
from ...types import parse_bool
from ..base import Result
from . import fail, tool

GLOBAL_LINES = ["\tidmap config * : backend = tdb"]  # testparm always prints this default


def _samba(host: Any) -> dict[str, Any]:
    return host.facts.sim.setdefault("samba", {"smbd_running": True, "reloads": 0, "loaded": []})


def load(host: Any, path: str) -> tuple[list[smbconf.Section] | None, list[str]]:
    """Sections of a config with its includes expanded, or None and the errors testparm prints."""
    text = host.facts.files.get(path)
    if text is None:
        return None, ["Error loading services."]  # what testparm 4.17 says for a missing file
    messages: list[str] = []
    sections: dict[str, smbconf.Section] = {}
    order: list[str] = []

    def walk(text: str, depth: int) -> None:
        for section in smbconf.parse(text):
            key = section.name.lower()
            target = sections.setdefault(key, smbconf.Section(section.name))
            if key not in order:
                order.append(key)
            for name, value in section.params.items():
                if name == "include":
                    included = host.facts.files.get(value)
                    if included is None:
                        messages.append(f"Can't find include file {value}")
                    elif depth < 10:
                        walk(included, depth + 1)
                target.params[name] = value

    walk(text, 0)
    for key in order:
        for name, value in list(sections[key].params.items()):
            kind = PARAMETERS.get(name, ("", ""))[0]
            if name not in PARAMETERS and ":" not in name and name != "include" and key != "global":
                messages += [f'Unknown parameter encountered: "{name}"', f'Ignoring unknown parameter "{name}"']
                del sections[key].params[name]
            elif kind in ("P_BOOL", "P_BOOLREV"):
                try:
                    parse_bool(value)
                except ValueError:
                    return None, messages + [f"set_variable_helper({value}): value is not boolean!",
                                             "Error loading services."]
    return [sections[k] for k in order], messages


def _show(name: str, value: str) -> str | None:
    """A parameter as testparm -s prints it, or None when it equals the default."""
    kind, default = PARAMETERS.get(name, ("", None))
    if kind in ("P_BOOL", "P_BOOLREV"):
        value = "Yes" if parse_bool(value) else "No"
    if default is not None and value == default:
        return None
    return f"\t{name} = {value}"


@tool("testparm")
def testparm(host: Any, argv: list[str], input: str | None) -> Result:
    files = [a for a in argv[1:] if not a.startswith("-")]
    section_name = next((a.split("=", 1)[1] for a in argv if a.startswith("--section-name=")), None)
    if len(files) != 1:
        return fail("Usage: testparm [OPTION...] <config-file> [host-name] [host-ip]")
    sections, messages = load(host, files[0])
    err = f"Load smb config files from {files[0]}\n" + "".join(m + "\n" for m in messages)
    if sections is None:
        return Result(1, "", err)
    out = ["# Global parameters", "[global]"]
    shares = []
    for section in sections:
        if section.name.lower() == "global":
            out[2:2] = [f"\t{k} = {v}" for k, v in section.params.items()]
            continue
        known = [line for name in PARAMETERS if name in section.params
                 for line in [_show(name, section.params[name])] if line]
        parametric = [f"\t{k} = {v}" for k, v in section.params.items() if ":" in k]
        shares.append((section.name, known + parametric))
    out += GLOBAL_LINES
    text = "\n".join(out) + "\n"
    for name, lines in shares:
        if section_name is None or name.lower() == section_name.lower():
            text += f"\n\n[{name}]\n" + "".join(line + "\n" for line in lines)
    return Result(0, text, err + "Loaded services file OK.\n\nServer role: ROLE_STANDALONE\n\n")


@tool("smbcontrol")
def smbcontrol(host: Any, argv: list[str], input: str | None) -> Result:
    args = [a for a in argv[1:] if not a.startswith("-")]
    config = next((a.split("=", 1)[1] for a in argv if a.startswith("--configfile=")), "/etc/samba/smb.conf")
    if len(args) < 2:
        return fail("Usage: smbcontrol [OPTION...] <destination> <message-type> <parameters>")
    dest, message = args[0], args[1]
    state = _samba(host)
    if dest != "smbd" or not state.get("smbd_running", True):
        return fail(f"Can't find pid for destination '{dest}'")
    if message == "ping":
        return Result(0, "PONG from pid 4242\n", "")
    if message == "reload-config":
        sections, _ = load(host, config)
        state["reloads"] = int(state.get("reloads", 0)) + 1
        if sections is not None:  # a broken config keeps the last good one loaded, as smbd does
            state["loaded"] = sorted(s.name for s in sections if s.name.lower() != "global")
        host.changed()
        return Result(0, "", "")
    return fail(f"smbcontrol: unknown message type '{message}'")
