"""The account databases as the tools keep and print them: passwd(5), group(5), shadow(5),
the smbpasswd(5) lines `pdbedit -L -w` prints, and login.defs(5). Pure functions."""

from __future__ import annotations

from dataclasses import dataclass, field

UID_MIN_DEFAULT = 1000  # Debian's login.defs


@dataclass
class PasswdEntry:
    name: str
    uid: int
    gid: int
    gecos: str = ""
    home: str = ""
    shell: str = ""
    password: str = "x"

    def line(self) -> str:
        return f"{self.name}:{self.password}:{self.uid}:{self.gid}:{self.gecos}:{self.home}:{self.shell}"


@dataclass
class GroupEntry:
    name: str
    gid: int
    members: list[str] = field(default_factory=list)
    password: str = "x"

    def line(self) -> str:
        return f"{self.name}:{self.password}:{self.gid}:{','.join(self.members)}"


@dataclass
class ShadowEntry:
    name: str
    hash: str = "!"  # `!` or `*`: no password; a leading `!` on a hash: locked
    rest: list[str] = field(default_factory=lambda: ["", "0", "99999", "7", "", "", ""])

    @property
    def locked(self) -> bool:
        return self.hash.startswith("!")

    def line(self) -> str:
        return ":".join([self.name, self.hash, *self.rest])


@dataclass
class SmbPasswdEntry:
    """One Samba account as `pdbedit -L -w` prints it (smbpasswd file format)."""

    name: str
    uid: int
    nt_hash: str = "X" * 32  # upper-case hex, or X's when no password is set
    flags: str = "U"  # account control bits: U user, D disabled, N no password required
    lm_hash: str = "X" * 32
    last_change: int = 0

    @property
    def disabled(self) -> bool:
        return "D" in self.flags

    def line(self) -> str:
        return (f"{self.name}:{self.uid}:{self.lm_hash}:{self.nt_hash}:[{self.flags:<11}]:"
                f"LCT-{self.last_change:08X}:")


def _lines(text: str) -> list[list[str]]:
    return [line.split(":") for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]


def _int(text: str) -> int | None:
    return int(text) if text.isdigit() else None


def parse_passwd(text: str) -> dict[str, PasswdEntry]:
    """NAME:PASSWORD:UID:GID:GECOS:HOME:SHELL, one account a line (lines that do not parse, such
    as NIS `+` entries, are skipped: they are not local accounts)."""
    out: dict[str, PasswdEntry] = {}
    for f in _lines(text):
        if len(f) != 7 or _int(f[2]) is None or _int(f[3]) is None or not f[0] or f[0][0] in "+-":
            continue
        out.setdefault(f[0], PasswdEntry(f[0], int(f[2]), int(f[3]), f[4], f[5], f[6], f[1]))
    return out


def parse_group(text: str) -> dict[str, GroupEntry]:
    out: dict[str, GroupEntry] = {}
    for f in _lines(text):
        if len(f) != 4 or _int(f[2]) is None or not f[0] or f[0][0] in "+-":
            continue
        out.setdefault(f[0], GroupEntry(f[0], int(f[2]), [m for m in f[3].split(",") if m], f[1]))
    return out


def parse_shadow(text: str) -> dict[str, ShadowEntry]:
    out: dict[str, ShadowEntry] = {}
    for f in _lines(text):
        if len(f) != 9 or not f[0]:
            continue
        out.setdefault(f[0], ShadowEntry(f[0], f[1], f[2:]))
    return out


def parse_smbpasswd(text: str) -> dict[str, SmbPasswdEntry]:
    """`pdbedit -L -w`: NAME:UID:LMHASH:NTHASH:[FLAGS]:LCT-HEXTIME: (other lines ignored)."""
    out: dict[str, SmbPasswdEntry] = {}
    for f in _lines(text):
        if len(f) < 6 or _int(f[1]) is None or not f[4].startswith("["):
            continue
        lct = f[5][4:] if f[5].startswith("LCT-") else "0"
        try:
            changed = int(lct, 16)
        except ValueError:
            changed = 0
        out[f[0]] = SmbPasswdEntry(f[0], int(f[1]), f[3].upper(), f[4].strip("[]").strip(), f[2].upper(), changed)
    return out


def render(entries: list[PasswdEntry] | list[GroupEntry] | list[ShadowEntry] | list[SmbPasswdEntry]) -> str:
    return "".join(e.line() + "\n" for e in entries)


def login_defs(text: str | None) -> dict[str, str]:
    """KEY VALUE lines of login.defs(5)."""
    out: dict[str, str] = {}
    for line in (text or "").splitlines():
        parts = line.split()
        if len(parts) >= 2 and not parts[0].startswith("#"):
            out[parts[0]] = parts[1]
    return out


def uid_min(text: str | None) -> int:
    value = login_defs(text).get("UID_MIN", "")
    return int(value) if value.isdigit() else UID_MIN_DEFAULT
