"""exports(5) syntax and the option keywords nfs-utils 2.6 `exportfs` accepts. Shared by the
`nfs` kind (validation before anything is written, parsing its own file) and the simulated
exportfs. The keyword list was checked one by one against the real exportfs
(tests/real/test_exportfs.py runs every one of them through it)."""

from __future__ import annotations

import re
import shlex

FLAGS = frozenset({
    "ro", "rw", "secure", "insecure", "sync", "async", "wdelay", "no_wdelay", "hide", "nohide",
    "crossmnt", "nocrossmnt", "subtree_check", "no_subtree_check", "root_squash", "no_root_squash",
    "all_squash", "no_all_squash", "auth_nlm", "no_auth_nlm", "secure_locks", "insecure_locks",
    "acl", "no_acl", "pnfs", "no_pnfs", "security_label", "nordirplus", "mp", "mountpoint",
})
SEC_FLAVORS = ("sys", "krb5", "krb5i", "krb5p", "none")
UUID = r"[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}|[0-9a-fA-F]{32}"
VALUED: dict[str, re.Pattern[str]] = {
    "anonuid": re.compile(r"-?\d+"),
    "anongid": re.compile(r"-?\d+"),
    "fsid": re.compile(rf"\d+|root|{UUID}"),
    "sec": re.compile(rf"({'|'.join(SEC_FLAVORS)})(:({'|'.join(SEC_FLAVORS)}))*"),
    "mountpoint": re.compile(r"/[A-Za-z0-9_./:+@-]*"),
    "mp": re.compile(r"/[A-Za-z0-9_./:+@-]*"),
    "refer": re.compile(r"/[A-Za-z0-9_./-]*@[A-Za-z0-9_.+-]+(:/[A-Za-z0-9_./-]*@[A-Za-z0-9_.+-]+)*"),
    "replicas": re.compile(r"/[A-Za-z0-9_./-]*@[A-Za-z0-9_.+-]+(:/[A-Za-z0-9_./-]*@[A-Za-z0-9_.+-]+)*"),
}
# Pairs that contradict each other inside one client's options.
OPPOSITES = [("ro", "rw"), ("sync", "async"), ("secure", "insecure"), ("wdelay", "no_wdelay"), ("hide", "nohide"),
             ("crossmnt", "nocrossmnt"), ("subtree_check", "no_subtree_check"), ("root_squash", "no_root_squash"),
             ("all_squash", "no_all_squash"), ("auth_nlm", "no_auth_nlm"), ("secure_locks", "insecure_locks"),
             ("acl", "no_acl"), ("pnfs", "no_pnfs")]


def option_error(option: str) -> str | None:
    """What exportfs would say about one option, or None when it accepts it."""
    key, sep, value = option.partition("=")
    if not sep and option in FLAGS:
        return None
    if sep and key in VALUED:
        if VALUED[key].fullmatch(value):
            return None
        if key == "sec":
            bad = next((f for f in value.split(":") if f not in SEC_FLAVORS), value)
            return f"unknown flavor {bad}"
        return f'bad {key} "{option}"'
    return f'unknown keyword "{option}"'


def conflicts(options: list[str]) -> list[str]:
    names = {o.partition("=")[0] for o in options}
    out = [f"{a} and {b}" for a, b in OPPOSITES if a in names and b in names]
    for key in VALUED:
        if sum(1 for o in options if o.startswith(key + "=")) > 1:
            out.append(f"{key} given twice")
    return out


def quote_path(path: str) -> str:
    return f'"{path}"' if " " in path else path


def parse_line(line: str) -> tuple[str, list[tuple[str, list[str]]]] | None:
    """`/path client(opts) client2` -> (path, [(client, [opts])]). Paths may be quoted or use \\040."""
    try:
        words = shlex.split(line, comments=False, posix=True)
    except ValueError:
        return None
    if not words:
        return None
    path = words[0].replace("\\040", " ")
    clients = []
    for word in words[1:]:
        m = re.fullmatch(r"([^()]*)(?:\(([^()]*)\))?", word)
        if not m:
            return None
        clients.append((m.group(1) or "*", [o for o in (m.group(2) or "").split(",") if o]))
    return path, clients


def render_client(target: str, options: list[str]) -> str:
    return f"{target}({','.join(options)})" if options else target
