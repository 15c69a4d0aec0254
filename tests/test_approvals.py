"""Approvals: recorded atomically, used once."""

from __future__ import annotations

from click.testing import CliRunner

from converge import approvals
from converge.cli import main
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


def nas_with_a_removed_dataset(tmp_path):
    d = tmp_path / "nas"
    d.mkdir()
    (d / "converge.yaml").write_text('{"sim": {"disks": ["/dev/sdb"]}}')
    (d / "main.yaml").write_text("pools:\n  tank: {vdevs: [{type: stripe, disks: [/dev/sdb]}]}\n"
                                 "datasets:\n  tank/a: {}\n  tank/b: {}\n")
    run("apply", str(d))
    (d / "main.yaml").write_text("pools:\n  tank: {vdevs: [{type: stripe, disks: [/dev/sdb]}]}\n"
                                 "datasets:\n  tank/b: {}\n")
    return d


def run(*args):
    result = CliRunner().invoke(main, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def test_cli_approve_without_ref_approves_what_is_held_now(tmp_path):
    d = nas_with_a_removed_dataset(tmp_path)
    assert run("approve", "-C", str(d)) == "approved dataset/tank/a: the next reconcile applies it\n"
    assert approvals.load(str(d)) == {A}


def test_cli_approve_names_refs_and_says_when_nothing_is_held(tmp_path):
    d = nas_with_a_removed_dataset(tmp_path)
    run("approve", "-C", str(d), "smb/media")
    assert approvals.load(str(d)) == {B}
    (d / "main.yaml").write_text("pools:\n  tank: {vdevs: [{type: stripe, disks: [/dev/sdb]}]}\n"
                                 "datasets:\n  tank/a: {}\n  tank/b: {}\n")
    assert run("approve", "-C", str(d)) == "nothing is held\n"
