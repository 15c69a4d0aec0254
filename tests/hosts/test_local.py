"""LocalHost on this machine's own harmless commands (sh, true)."""

from __future__ import annotations

import pytest

from converge.errors import CommandFailed
from converge.hosts import LocalHost


def test_a_command_killed_by_a_signal_is_a_failed_command_not_a_crash():
    """zfs-fuse's `zpool` aborts (SIGABRT) when the daemon goes away mid-call: the host gives the
    shell's 128+N exit status with what the tool printed, like any other failure."""
    host = LocalHost()
    argv = ["sh", "-c", "echo partial; echo 'internal error' >&2; kill -ABRT $$"]
    result = host.run(argv, check=False)
    assert (result.returncode, result.stdout, result.stderr) == (134, "partial\n", "internal error\n")
    with pytest.raises(CommandFailed) as exc:
        host.run(argv)
    assert exc.value.returncode == 134 and "internal error" in str(exc.value)
