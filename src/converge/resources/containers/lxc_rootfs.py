"""Files converge keeps inside an LXC container's (directory) rootfs: the root user's
`authorized_keys` (`ssh_keys`: converge's block of it, between its marker lines; keys added by
hand stay) and `/etc/resolv.conf` (`nameserver`: the whole file, as Proxmox does). Written from the
host with atomic writes, owned by the container's root (uid 100000 in an unprivileged one, as
sshd checks the owner).

The host writes as its own root into a tree the container controls: a symlink there (say
`root/.ssh -> /root/.ssh`) would make converge write the host's own file. So the read asks `stat`
for the type of every path on the way, and a link anywhere refuses the write (plan error)."""

from __future__ import annotations

from typing import Any

from ...errors import PlanError
from ...model import Step
from ..base import Context

KEYS = "root/.ssh/authorized_keys"
RESOLV = "etc/resolv.conf"
BEGIN, END = "# --- BEGIN CONVERGE ---", "# --- END CONVERGE ---"
ROOT_ID = {True: "100000", False: "0"}  # the container's root on the host (IDMAP in formats/lxc.py)


def paths_checked(want: Any) -> list[str]:
    """The rootfs-relative paths whose type must be known before converge writes."""
    out = []
    if want.ssh_keys is not None:
        out += ["root", "root/.ssh", KEYS]
    if want.nameserver is not None:
        out += ["etc", RESOLV]
    return out


def read(rootfs: str, want: Any, ctx: Context) -> tuple[dict[str, Any], list[str]]:
    """(fields read, rootfs-relative paths that are symlinks) for the fields the manifest declares."""
    checked = paths_checked(want)
    if not checked:
        return {}, []
    full = {ctx.host.path(f"{rootfs}/{p}"): p for p in checked}
    # a missing path is only a message on stderr (rc 1): each line names its path
    answer = ctx.host.run(["stat", "-c", "%F:%n", "--", *full], check=False)
    kinds = dict(reversed(line.split(":", 1)) for line in answer.stdout.splitlines() if ":" in line)
    links = [p for f, p in full.items() if kinds.get(f) == "symbolic link"]
    out: dict[str, Any] = {}
    if want.ssh_keys is not None:
        out["ssh_keys"] = block_keys(_read(rootfs, KEYS, links, ctx))
    if want.nameserver is not None:
        text = _read(rootfs, RESOLV, links, ctx)
        out["nameserver"] = [line.split()[1] for line in text.splitlines() if line.startswith("nameserver ")
                             and len(line.split()) > 1]
    return out, links


def _read(rootfs: str, path: str, links: list[str], ctx: Context) -> str:
    if any(path == link or path.startswith(link + "/") for link in links):
        return ""  # never read through a link into the host's own files
    return ctx.host.read_file(f"{rootfs}/{path}") or ""


def block_keys(text: str) -> list[str]:
    lines = text.splitlines()
    if BEGIN not in lines or END not in lines:
        return []
    return [line.strip() for line in lines[lines.index(BEGIN) + 1:lines.index(END)] if line.strip()]


def with_block(text: str, keys: list[str]) -> str:
    """authorized_keys with converge's block replaced (or added at the end); other lines kept."""
    lines = text.splitlines()
    if BEGIN in lines and END in lines and lines.index(BEGIN) < lines.index(END):
        lines[lines.index(BEGIN):lines.index(END) + 1] = []
    block = [BEGIN, *keys, END] if keys else []
    return "\n".join(lines + block) + "\n" if lines or block else ""


def steps(name: str, rootfs: str, spec: Any, fields: set[str], links: list[str], ctx: Context) -> list[Step]:
    """The writes for the declared rootfs fields among `fields`."""
    out: list[Step] = []
    owner = ROOT_ID[bool(spec.unprivileged)]
    wanted = {"ssh_keys": ["root", "root/.ssh", KEYS], "nameserver": ["etc", RESOLV]}
    for field in sorted(fields & {"ssh_keys", "nameserver"}):
        if getattr(spec, field) is None:
            continue
        bad = [p for p in wanted[field] if p in links]
        if bad:
            raise PlanError(f"container {name}: {rootfs}/{bad[0]} is a symbolic link: converge writes no file "
                            f"through a link in a container's rootfs (it could lead to the host's own files)")
        if field == "ssh_keys":
            ssh = ctx.host.path(f"{rootfs}/root/.ssh")
            text = with_block(ctx.host.read_file(f"{rootfs}/{KEYS}") or "", spec.ssh_keys)
            out += [Step(argv=["install", "-d", "-m", "700", "-o", owner, "-g", owner, ssh], note="root's .ssh"),
                    Step(op="write", path=f"{rootfs}/{KEYS}", content=text, mode=0o600,
                         note="converge's block of root's authorized_keys"),
                    Step(argv=["chown", "--", f"{owner}:{owner}", ctx.host.path(f"{rootfs}/{KEYS}")],
                         note="owned by the container's root (sshd checks)")]
        else:
            text = "# written by converge (nameserver of the container's manifest)\n" + \
                "".join(f"nameserver {ns}\n" for ns in spec.nameserver)
            out.append(Step(op="write", path=f"{rootfs}/{RESOLV}", content=text, mode=0o644,
                            note="the container's resolv.conf"))
    return out
