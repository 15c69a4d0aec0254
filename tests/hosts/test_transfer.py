"""hosts.transfer.pipe_between: the first host's process writes into the second's, no shell;
a failing receive is reported with the send's own error; a simulated host streams only to
another simulated host."""

from __future__ import annotations

import pytest

from converge.errors import CommandFailed, HostError
from converge.hosts import LocalHost, SimHost
from converge.hosts.transfer import pipe_between


def test_bytes_flow_from_one_hosts_process_into_the_others(tmp_path):
    source, target = LocalHost(), LocalHost()
    data = tmp_path / "data.bin"
    data.write_bytes(bytes(range(256)) * 4096)  # binary, 1 MiB: more than a pipe's buffer
    out = tmp_path / "out.bin"
    result = pipe_between(source, ["cat", str(data)], target, ["dd", f"of={out}", "status=none"])
    assert result.returncode == 0 and out.read_bytes() == data.read_bytes()
    assert source.commands == [["cat", str(data)]] and target.commands == [["dd", f"of={out}", "status=none"]]


def test_an_argument_with_shell_characters_stays_one_argument(tmp_path):
    odd = tmp_path / "a b;$(touch x)'\""
    odd.write_text("payload\n")
    result = pipe_between(LocalHost(), ["cat", str(odd)], LocalHost(), ["cat"])
    assert result.stdout == "payload\n" and not (tmp_path / "x").exists()


def test_a_failing_receive_names_itself_and_the_send(tmp_path):
    with pytest.raises(CommandFailed) as failed:
        pipe_between(LocalHost(), ["cat", str(tmp_path / "missing")], LocalHost(), ["sh", "-c", "cat >/dev/null; exit 3"])
    text = str(failed.value)
    assert "exit 3" in text and "cat" in text and "No such file or directory" in text


def test_a_simulated_host_streams_only_to_a_simulated_one(tmp_path):
    with pytest.raises(HostError, match="only exchanges streams with another simulated host"):
        pipe_between(SimHost(str(tmp_path / "s.json")), ["zfs", "send", "t/d@s"], LocalHost(), ["cat"])
