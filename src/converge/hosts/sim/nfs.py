"""exportfs on the simulated host: `-ra` re-reads /etc/exports and /etc/exports.d/*.exports
(from `host.facts.files`) into the export table `sim["nfs"]["exports"]`; `-v` prints it.
Messages and exit codes as nfs-utils 2.6 (tests/fixtures/exportfs/): an unknown keyword skips
that export and fails (rc 1); a bad anonuid/fsid is reported but exportfs still exits 0; a
missing directory is reported (rc 1) yet stays in the table, as the real one does."""

from __future__ import annotations

from typing import Any

from ...formats import exports
from ..base import Result
from . import tool
from .system import directories

# The options exportfs -v shows, in its order, with the defaults it fills in.
SHOWN = [("sync", "async", "sync"), ("wdelay", "no_wdelay", "wdelay"), ("hide", "nohide", "hide"),
         ("crossmnt", None, None), ("no_subtree_check", "subtree_check", "no_subtree_check"),
         ("insecure_locks", None, None), ("nordirplus", None, None), ("security_label", None, None),
         ("no_acl", None, None), ("pnfs", None, None)]


def _table_options(options: list[str]) -> str:
    names = {o.partition("=")[0]: o for o in options}
    out = []
    for first, second, default in SHOWN:
        chosen = first if first in names else second if second and second in names else default
        if chosen:
            out.append(chosen)
    out += [names[k] for k in ("fsid", "mountpoint", "mp", "anonuid", "anongid") if k in names]
    out.append(names.get("sec", "sec=sys"))
    out.append("ro" if "ro" in names else "rw")
    if "insecure" in names:
        out.append("insecure")
    out.append("no_root_squash" if "no_root_squash" in names else "root_squash")
    out.append("all_squash" if "all_squash" in names else "no_all_squash")
    return ",".join(out)


def _reexport(host: Any) -> Result:
    files = sorted(p for p in host.facts.files if p.startswith("/etc/exports.d/") and p.endswith(".exports"))
    table: list[list[str]] = []
    errors: list[str] = []
    rc = 0
    dirs = directories(host)
    for path in ["/etc/exports", *files]:
        for number, line in enumerate((host.facts.files.get(path) or "").splitlines(), start=1):
            if not line.strip() or line.lstrip().startswith("#"):
                continue
            parsed = exports.parse_line(line)
            if parsed is None:
                errors.append(f"exportfs: {path}:{number}: syntax error: bad option list")
                rc = 1
                continue
            export_path, clients = parsed
            for client, options in clients:
                problems = [exports.option_error(o) for o in options]
                unknown = [p for p in problems if p and p.startswith("unknown keyword")]
                if unknown:
                    errors.append(f"exportfs: {path}:{number}: {unknown[0]}")
                    rc = 1
                    continue
                errors += [f"exportfs: {path}: {number}: {p}" for p in problems if p and p.startswith("bad ")]
                errors += [f"exportfs: {p}" for p in problems if p and p.startswith("unknown flavor")]
                table.append([export_path, client, _table_options(options)])
            if export_path.rstrip("/") not in dirs:
                errors.append(f"exportfs: Failed to stat {export_path}: No such file or directory")
                rc = 1
    host.facts.sim.setdefault("nfs", {})["exports"] = table
    host.changed()
    return Result(rc, "", "".join(e + "\n" for e in errors))


def _show(host: Any) -> Result:
    lines = []
    for path, client, options in host.facts.sim.get("nfs", {}).get("exports", []):
        lead = f"{path}\n\t\t" if len(path) > 14 else f"{path:<14}\t"
        lines.append(f"{lead}{client}({options})\n")
    return Result(0, "".join(lines), "")


@tool("exportfs")
def exportfs(host: Any, argv: list[str], input: str | None) -> Result:
    flags = "".join(a[1:] for a in argv[1:] if a.startswith("-") and not a.startswith("--"))
    if "r" in flags:
        return _reexport(host)
    if "v" in flags or not argv[1:]:
        return _show(host)
    return Result(1, "", "usage: exportfs [-adfhioruvs] [host:/path]\n")
