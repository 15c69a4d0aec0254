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


def nas_with_removed_datasets(tmp_path):
    """tank/a and the protected tank/p applied, then both removed from the manifests."""
    d = tmp_path / "nas"
    d.mkdir()
    (d / "converge.yaml").write_text('{"sim": {"disks": ["/dev/sdb"]}}')
    pool = "pools:\n  tank: {vdevs: [{type: stripe, disks: [/dev/sdb]}]}\n"
    (d / "main.yaml").write_text(pool + "datasets:\n  tank/a: {}\n  tank/b: {}\n  tank/p: {protect: true}\n")
    run("apply", str(d))
    (d / "main.yaml").write_text(pool + "datasets:\n  tank/b: {}\n")
    return d


def run(*args, code=0):
    result = CliRunner().invoke(main, list(args), catch_exceptions=False)
    assert result.exit_code == code, result.output
    return result.output


def test_cli_approve_without_ref_approves_what_only_an_approval_holds(tmp_path):
    d = nas_with_removed_datasets(tmp_path)
    assert run("approve", "-C", str(d)) == "approved dataset/tank/a: the next reconcile applies it\n"
    assert approvals.load(str(d)) == {A}  # not tank/p: protected on the host, no approval releases it


def test_cli_approve_refuses_what_is_not_held_and_says_when_nothing_is(tmp_path):
    d = nas_with_removed_datasets(tmp_path)
    for ref in ("smb/media", "dataset/tank/b", "dataset/tank/p"):
        out = run("approve", "-C", str(d), ref, code=1)
        assert f"nothing that an approval releases is held for {ref}" in out
    assert approvals.load(str(d)) == set()
    run("approve", "-C", str(d), "dataset/tank/a")
    assert approvals.load(str(d)) == {A}
    (d / "main.yaml").write_text("pools:\n  tank: {vdevs: [{type: stripe, disks: [/dev/sdb]}]}\n"
                                 "datasets:\n  tank/a: {}\n  tank/b: {}\n  tank/p: {}\n")
    assert run("approve", "-C", str(d)) == "nothing is waiting for an approval\n"
