"""The helpers that keep two runs of the suite apart (tests/isolation.py), on harmless processes."""

from __future__ import annotations

import os
import subprocess

import isolation


def test_names_are_unique_carry_the_run_and_fit_every_resource_kind():
    names = {isolation.unique_name() for _ in range(200)}
    assert len(names) == 200
    for name in names:
        assert isolation.NAME.fullmatch(name) and name[0].isalpha() and len(name) <= 30
        assert isolation.owner_alive(name)  # this run


def test_a_name_of_an_ended_run_is_reported_as_a_leftover_and_a_live_one_is_not():
    ended = subprocess.Popen(["true"])
    ended.wait()  # its PID belongs to no process now (unless reused, then not by a python)
    dead, live = f"cvt{ended.pid}xabcdef", isolation.unique_name()
    before = len(isolation.LEFTOVERS)
    try:
        assert isolation.note_leftovers("thing", [dead, live, "someone-elses"], "rm it") == [dead]
        assert isolation.LEFTOVERS[before:] == [f"thing {dead} (left by a test run that has ended; not touched). "
                                                "Remove it with: rm it"]
    finally:
        del isolation.LEFTOVERS[before:]


def test_stop_group_stops_the_leader_and_the_children_it_left_behind():
    proc = subprocess.Popen(["sh", "-c", "sleep 300 & sleep 300 & exec sleep 300"], start_new_session=True)
    assert isolation.wait_for(lambda: len(isolation.group_members(proc.pid)) == 3, 10)
    isolation.stop_group(proc)
    assert isolation.group_members(proc.pid) == [] and proc.returncode is not None


def test_stop_group_signals_nothing_once_the_group_is_gone():
    """A reaped leader with no members left: its number may be another group's now."""
    proc = subprocess.Popen(["true"], start_new_session=True)
    proc.wait()
    isolation.stop_group(proc)  # must not raise, must not signal
    assert proc.returncode == 0


def test_mounts_under_only_lists_our_directory(tmp_path):
    assert isolation.mounts_under(tmp_path) == []
    assert "/proc" not in isolation.mounts_under(tmp_path) and os.path.ismount("/proc")
