"""A user's `authorized_keys` (HOME/.ssh/authorized_keys, the user's own, 0600) and `sudo` rules
(a drop-in /etc/sudoers.d/converge-NAME, 0440, checked with `visudo -cf` before it is installed).
Both are read only for the users that declare them: two file reads each, no command."""

from __future__ import annotations

import re
from typing import Annotated, Any

from ...model import Step
from ...types import each
from ..base import Context

SUDOERS_DIR = "/etc/sudoers.d"
KEY = re.compile(r"(?:[a-z0-9-]+(?:=\"[^\"]*\")?(?:,[a-z0-9-]+(?:=\"[^\"]*\")?)* )?"
                 r"(ssh-(rsa|ed25519|dss)|ecdsa-sha2-nistp(256|384|521)|sk-(ssh-ed25519|ecdsa-sha2-nistp256)@openssh\.com)"
                 r" [A-Za-z0-9+/=]+( [^\n\r]*)?")
SUDO_RULE = re.compile(r"[^\n\r\\]*=[^\n\r\\]*")


def check_key(line: str) -> str:
    line = line.strip()
    if not KEY.fullmatch(line):
        raise ValueError(f"{line[:40]!r}... is not an OpenSSH public key line (TYPE BASE64 [COMMENT], "
                         "e.g. ssh-ed25519 AAAA... alice@laptop)")
    return line


PublicKeys = Annotated[list[str], each(check_key)]  # authorized_keys lines, each stripped and checked


def check_rule(rule: str) -> str:
    rule = rule.strip()
    if not SUDO_RULE.fullmatch(rule):
        raise ValueError(f"sudo rule {rule!r} is HOSTS=(RUNAS) COMMANDS on one line, e.g. ALL=(ALL:ALL) ALL")
    return rule


SudoRules = Annotated[list[str], each(check_rule)]


def sudoers_path(name: str) -> str:
    return f"{SUDOERS_DIR}/converge-{name}"  # sudo skips drop-ins with a '.' in the name: none here


def keys_path(home: str) -> str:
    return home.rstrip("/") + "/.ssh/authorized_keys"


def read(name: str, home: str, want: Any, ctx: Context) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if want.authorized_keys is not None:
        text = ctx.host.read_file(keys_path(home)) or ""
        out["authorized_keys"] = [line.strip() for line in text.splitlines()
                                  if line.strip() and not line.lstrip().startswith("#")]
    if want.sudo is not None:
        text = ctx.host.read_file(sudoers_path(name)) or ""
        out["sudo"] = [line[len(name):].strip() for line in text.splitlines() if line.startswith(name + " ")]
    return out


def steps(name: str, spec: Any, home: str, fields: set[str], ctx: Context) -> list[Step]:
    host = ctx.host
    out: list[Step] = []
    if "authorized_keys" in fields and spec.authorized_keys is not None:
        ssh = home.rstrip("/") + "/.ssh"
        text = "# written by converge: the user's authorized_keys of the manifest\n" + \
            "".join(k + "\n" for k in spec.authorized_keys)
        out += [Step(argv=["install", "-d", "-m", "700", "-o", name, host.path(ssh)], note="the user's .ssh"),
                Step(op="write", path=keys_path(home), content=text, mode=0o600, note="authorized_keys"),
                Step(argv=["chown", "--", name, host.path(keys_path(home))], note="owned by the user (sshd checks)")]
    if "sudo" in fields and spec.sudo is not None:
        path = sudoers_path(name)
        if not spec.sudo:
            return out + [Step(op="remove", path=path, note="no sudo rules")]
        text = "# written by converge\n" + "".join(f"{name} {rule}\n" for rule in spec.sudo)
        candidate = f"{SUDOERS_DIR}/.converge-{name}-candidate"  # a '.' name: sudo never reads it
        out += [Step(op="write", path=candidate, content=text, mode=0o440, note="candidate sudoers drop-in"),
                Step(argv=["visudo", "-cf", host.path(candidate)], note="sudo checks the syntax"),
                Step(op="write", path=path, content=text, mode=0o440, note="install the drop-in"),
                Step(op="remove", path=candidate)]
    return out


def delete_steps(name: str, observed: Any, ctx: Context) -> list[Step]:
    if ctx.host.read_file(sudoers_path(name)) is None:
        return []
    return [Step(op="remove", path=sudoers_path(name), note="the user's sudo rules")]
