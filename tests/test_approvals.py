"""Approvals: recorded atomically, used once."""

from __future__ import annotations

from converge import approvals
from converge.model import Ref

A, B = Ref(kind="dataset", name="tank/a"), Ref(kind="smb", name="media")


def test_approve_records_and_consume_uses_once(tmp_path):
    assert approvals.load(str(tmp_path)) == set()
    approvals.approve(str(tmp_path), [A])
    approvals.approve(str(tmp_path), [B])
    assert approvals.load(str(tmp_path)) == {A, B}
    approvals.consume(str(tmp_path), {A})
    assert approvals.load(str(tmp_path)) == {B}
    assert (tmp_path / ".converge" / "approvals.json").read_text() == '{\n "approved": [\n  "smb/media"\n ]\n}\n'


def test_a_damaged_file_approves_nothing(tmp_path):
    (tmp_path / ".converge").mkdir()
    (tmp_path / ".converge" / "approvals.json").write_text("{not json")
    assert approvals.load(str(tmp_path)) == set()
