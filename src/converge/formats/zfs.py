"""OpenZFS 2.x's own facts about properties: which native properties exist, the values each accepts
(its index values and their aliases, sizes, the recordsize range), which are fixed at create time,
the pool properties, and the form `zfs get -Hp` prints a value in. The dataset kind checks a
manifest against them; the simulated zfs stores and refuses values by them, with zfs's words."""

from __future__ import annotations

import re

from ..types import parse_size

ON_OFF = ("on", "off")
COMPRESSION = ("on", "off", "lzjb", "zle", "lz4", "gzip", *[f"gzip-{i}" for i in range(1, 10)],
               "zstd", "zstd-fast", *[f"zstd-{i}" for i in range(1, 20)])
# index properties: the values zfs accepts (what `zfs get` prints is one of them)
CHOICES: dict[str, tuple[str, ...]] = {
    "compression": COMPRESSION, "atime": ON_OFF, "relatime": ON_OFF, "readonly": ON_OFF, "exec": ON_OFF,
    "canmount": ("on", "off", "noauto"), "acltype": ("off", "posix", "nfsv4"), "xattr": ("on", "off", "sa", "dir"),
    "sync": ("standard", "always", "disabled"), "snapdir": ("hidden", "visible"),
    "dedup": ("on", "off", "verify", "sha256", "sha512", "skein", "blake3"),
    "encryption": ("off", "on", "aes-128-ccm", "aes-192-ccm", "aes-256-ccm", "aes-128-gcm", "aes-192-gcm",
                   "aes-256-gcm"),
    "keyformat": ("raw", "hex", "passphrase"), "casesensitivity": ("sensitive", "insensitive", "mixed"),
    "normalization": ("none", "formC", "formD", "formKC", "formKD"), "utf8only": ON_OFF,
}
ALIASES: dict[str, dict[str, str]] = {"acltype": {"posixacl": "posix", "noacl": "off", "disabled": "off"}}
SIZES = frozenset({"quota", "refquota", "reservation", "refreservation", "recordsize"})
NATIVE = frozenset({*CHOICES, *SIZES, "mountpoint"})
CREATE_ONLY = frozenset({"encryption", "keyformat", "casesensitivity", "normalization", "utf8only"})
POOL_PROPERTIES = frozenset({"ashift", "autotrim", "autoexpand", "autoreplace", "failmode", "listsnapshots",
                             "comment"})
USER_PROPERTY = re.compile(r"[a-z0-9_.+-]+:[a-z0-9_.:+-]+")
MOUNTPOINT = re.compile(r"/[A-Za-z0-9_./:+@ -]*|none|legacy")
RECORDSIZE_MAX = 16 * 1024 * 1024


def dataset_value(prop: str, value: str) -> str:
    """A `zfs set PROP=VALUE` value as zfs stores and `zfs get -Hp` prints it (sizes in bytes, an
    alias as its canonical name). ValueError, with zfs's message, for what zfs refuses."""
    if ":" in prop:
        if not USER_PROPERTY.fullmatch(prop):
            raise ValueError(f"invalid property '{prop}'")
        if "\n" in value:
            raise ValueError(f"invalid value for user property '{prop}'")
        return value
    if prop not in NATIVE:
        raise ValueError(f"invalid property '{prop}'")
    if prop in SIZES:
        try:
            size = parse_size(value)
        except ValueError:
            raise ValueError(f"bad numeric value '{value}'") from None
        if prop == "recordsize" and (size < 512 or size > RECORDSIZE_MAX or size & (size - 1)):
            raise ValueError("'recordsize' must be power of 2 from 512B to 16M")
        return str(size)
    if prop == "mountpoint":
        if not MOUNTPOINT.fullmatch(value):
            raise ValueError("'mountpoint' must be an absolute path, 'none', or 'legacy'")
        return value
    value = ALIASES.get(prop, {}).get(value, value)
    if value not in CHOICES[prop]:
        raise ValueError(f"'{prop}' must be one of '{' | '.join(CHOICES[prop])}'")
    return value
