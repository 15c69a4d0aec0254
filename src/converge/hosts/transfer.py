"""`first | second` where the two commands run on two hosts (a `zfs send` on one, its `zfs
receive` on another): each side is started as a process of this machine (the host's own
command line: the argv itself, `nsenter ...`, or `ssh ... 'env LC_ALL=C <shlex.join(argv)>'`),
and the first's stdout is the second's stdin. No shell string is built by hand, and the stream
passes through the kernel pipe between the two processes, never through Python. Simulated hosts
have no processes: between two of them the emulated stream is handed over as text."""

from __future__ import annotations

import subprocess
import tempfile
from collections.abc import Sequence
from typing import Any

from ..errors import CommandFailed, HostError
from .base import Host, Result, checked, not_found, validate_argv


def pipe_between(source: Host, first: Sequence[str], target: Host, second: Sequence[str], *,
                 check: bool = True) -> Result:
    """Run `first` on source into `second` on target (the same host or two); raise CommandFailed
    naming the side that failed (both when both did: a receive that dies ends the send too).
    With check=False the first failure is returned instead."""
    first, second = validate_argv(first), validate_argv(second)
    spawn_first, spawn_second = getattr(source, "local_command", None), getattr(target, "local_command", None)
    if spawn_first is None or spawn_second is None:
        if source is target:
            return source.pipe(first, second, check=check)  # the simulated host's own
        if spawn_first is not None or spawn_second is not None:
            raise HostError(f"cannot stream from {source.name} to {target.name}: a simulated host only "
                            "exchanges streams with another simulated host")
        sent = source.run(first)
        return target.run(second, input=sent.stdout)
    for host, argv in ((source, first), (target, second)):
        record = getattr(host, "record", None)  # CommandLog's, under its lock
        record(argv) if record is not None else host.commands.append(list(argv))
    first_cmd, first_env = spawn_first(first)
    second_cmd, second_env = spawn_second(second)
    with tempfile.TemporaryFile() as first_err, tempfile.TemporaryFile() as second_out, \
            tempfile.TemporaryFile() as second_err:
        # stderr and stdout go to files: a chatty side can never block on a full pipe
        try:
            producer = subprocess.Popen(first_cmd, env=first_env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                        stderr=first_err)
        except FileNotFoundError:
            return checked(first, not_found(first_cmd[0]), check)
        assert producer.stdout is not None
        try:
            consumer = subprocess.Popen(second_cmd, env=second_env, stdin=producer.stdout, stdout=second_out,
                                        stderr=second_err)
        except FileNotFoundError:
            producer.kill()
            producer.wait()
            return checked(second, not_found(second_cmd[0]), check)
        finally:
            producer.stdout.close()  # the consumer holds the only read end: a dead receive ends the send
        consumer.wait()
        producer.wait()
        sent, received = _result(producer, first_err, None), _result(consumer, second_err, second_out)
    for host, result in ((source, sent), (target, received)):
        if result.returncode == 255:
            explain = getattr(host, "transport_failure", None)
            if explain is not None:
                explain(result.stderr)  # raises when ssh itself failed (unreachable, unknown key)
    if not check:
        return sent if sent.returncode else received
    if received.returncode:
        also = f"\n(the sending side {' '.join(first)} on {source.name} exited {sent.returncode}: " \
               f"{sent.stderr.strip()})" if sent.returncode else ""
        raise CommandFailed(second, received.returncode, received.stderr + also, received.stdout)
    return checked(first, sent, True) if sent.returncode else received


def _result(proc: subprocess.Popen[Any], err: Any, out: Any) -> Result:
    def text(f: Any) -> str:
        if f is None:
            return ""
        f.seek(0)
        return f.read().decode(errors="replace")

    code = proc.returncode if proc.returncode >= 0 else 128 - proc.returncode  # killed by a signal: as a shell says
    return Result(code, text(out), text(err))
