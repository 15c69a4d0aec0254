"""Host.pipe: two argv processes joined by converge (no shell), on the local and simulated hosts."""

from __future__ import annotations

import pytest

from converge.errors import CommandFailed
from converge.hosts import LocalHost, SimHost


def test_local_pipe_passes_bytes_and_reports_the_failing_side(tmp_path):
    host = LocalHost()
    out = host.pipe(["printf", "a b; $(rm -rf x)\\n"], ["tr", "a-z", "A-Z"])
    assert out.returncode == 0 and out.stdout == "A B; $(RM -RF X)\n", "arguments are never a shell string"
    with pytest.raises(CommandFailed, match="false"):
        host.pipe(["false"], ["cat"])
    failed = host.pipe(["printf", "x"], ["sh", "-c", "cat >/dev/null; echo nope >&2; exit 3"], check=False)
    assert failed.returncode == 3 and "nope" in failed.stderr
    missing = host.pipe(["converge-no-such-tool"], ["cat"], check=False)
    assert missing.returncode == 127
    assert host.commands[-2:] == [["converge-no-such-tool"], ["cat"]]


def test_sim_pipe_feeds_the_first_output_to_the_second(tmp_path):
    host = SimHost(str(tmp_path / "h.json"))
    result = host.pipe(["zfs", "send", "tank/x@s"], ["zfs", "receive", "-u", "tank/y"], check=False)
    assert result.returncode == 1 and "dataset does not exist" in result.stderr


def test_a_sender_that_writes_much_to_stderr_never_blocks_the_pipe():
    """Its stderr goes to a file: read only at the end from a pipe, 300 kB of warnings would fill
    the pipe's buffer and the sender, then the receiver waiting for its end, would hang."""
    import threading

    host, answers = LocalHost(), []
    chatty = ["sh", "-c", "head -c 300000 /dev/zero | tr '\\0' w >&2; echo payload"]
    worker = threading.Thread(target=lambda: answers.append(host.pipe(chatty, ["cat"])), daemon=True)
    worker.start()
    worker.join(60)
    assert answers and answers[0].stdout == "payload\n", "the pipe hung on the sender's stderr"
