"""The manifest side of accounts: `groups:` and `users:`."""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import Field, field_validator

from ...secrets import SecretRef
from ...types import OnOff, SortedStrs, Stamp, all_match, matching
from ..base import Spec
from .extras import PublicKeys, SudoRules

# useradd/groupadd's default NAME_REGEX on Debian (login.defs), at most 32 characters.
ACCOUNT_NAME = re.compile(r"[a-z_][a-z0-9_-]{0,30}\$?")
NAME_ALLOWED = "lower-case letters, digits, '_', '-' (first a letter or '_'), an optional final '$', up to 32"
SHELL = r"^/[A-Za-z0-9_./+-]+$"
HOME = r"^(/[A-Za-z0-9_./:+@-]*|[A-Za-z][A-Za-z0-9_.:-]*(/[A-Za-z0-9_.:-]+)+)$"
ID_MAX = 2**32 - 2  # (uid_t)-1 means "no change" to the kernel
DEFAULT_SHELL = "/usr/sbin/nologin"
NO_HOME = "/nonexistent"  # what Debian gives accounts without a home


AN_ACCOUNT_NAME = f"an account name ({NAME_ALLOWED})"
AccountNames = Annotated[SortedStrs, all_match(ACCOUNT_NAME, AN_ACCOUNT_NAME)]


class GroupSpec(Spec):
    gid: int | None = Field(None, ge=0, le=ID_MAX, description="numeric group id (default: the next free one)")
    members: AccountNames | None = Field(None, description="the group's members; leave out to take membership "
                                                          "from the users' `groups` instead (never both)",
                                       json_schema_extra={"x-converge-no-import": True})  # import: users' groups


class UserSpec(Spec):
    uid: int | None = Field(None, ge=0, le=ID_MAX, description="numeric user id (default: the next free one)")
    primary_group: str | None = Field(None, description="default: a group named like the user (created with it)")
    groups: AccountNames | None = Field(None, description="supplementary groups")
    shell: str | None = Field(None, pattern=SHELL, description=f"login shell (created with {DEFAULT_SHELL})")
    home: str | None = Field(None, pattern=HOME, description="an absolute path (created), or a dataset "
                                                             "(pool/path: its mountpoint); default none")
    comment: str | None = Field(None, max_length=200, description="GECOS field")
    locked: OnOff | None = Field(None, description="password login disabled (usermod -L / -U)")
    password: SecretRef | None = Field(None, description="a secret reference; compared by hash, never shown",
                                       json_schema_extra={"x-converge-sensitive": True})
    smb: OnOff | None = Field(None, description="has a Samba account with the same password (default on when "
                                                "a declared SMB share names the user and a password is set)",
                       json_schema_extra={"x-converge-no-import": True})  # needs a password, never imported
    authorized_keys: PublicKeys | None = Field(None, description="OpenSSH public keys: HOME/.ssh/authorized_keys "
                                                                "(needs a home)")
    sudo: SudoRules | None = Field(None, description="sudo rules, HOSTS=(RUNAS) COMMANDS each, in "
                                                     "/etc/sudoers.d/converge-NAME (checked with visudo -cf)")
    password_changed: Stamp | None = Field(None, description="when the password was last set through the API "
                                                            "(a record; the value is in the secret)",
                                           json_schema_extra={"x-converge-meta": True})

    @field_validator("primary_group")
    @classmethod
    def _primary(cls, v: str | None) -> str | None:
        return matching(ACCOUNT_NAME, v, AN_ACCOUNT_NAME) if v else v  # "": no group named

    @field_validator("comment")
    @classmethod
    def _comment(cls, v: str | None) -> str | None:
        if v == "":
            return None  # passwd's empty GECOS field: no comment
        if v is not None and any(c in v for c in ":\n\r\x00"):
            raise ValueError("comment may not contain ':' or newlines (passwd separates fields with them)")
        return v
