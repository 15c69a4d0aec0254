"""The command line: exit codes, messages without tracebacks, and the one-line host note."""

from __future__ import annotations

import os

from click.testing import CliRunner

from converge.cli import main

EXAMPLES = os.path.join(os.path.dirname(__file__), "..", "examples")


def run(*args, cwd=None):
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def test_validate_prints_a_summary(tmp_path):
    result = run("validate", os.path.join(EXAMPLES, "homelab"))
    assert result.exit_code == 0, result.output
    assert ("valid: 7 files, 1 pool, 6 datasets, 2 snapshots, 1 group, 2 users, 2 smb shares, 2 nfs exports, 2 interfaces, "
            "3 containers, 1 stack, 1 system, 1 service, 2 snapshot policies") in result.output
    assert "host: simulated" in result.output


def test_bad_input_exits_1_with_located_errors_and_no_traceback(tmp_path):
    (tmp_path / "a.yaml").write_text("datasets:\n  tank/a: {properties: {quota: 2X}}\n")
    result = run("validate", str(tmp_path))
    assert result.exit_code == 1
    assert "a.yaml:2:25: datasets.tank/a.properties.quota: '2X' is not a size" in result.output
    assert "1 error; nothing was changed." in result.output
    assert "Traceback" not in result.output
    assert not (tmp_path / ".converge").exists(), "a failed validate must leave nothing behind"


def test_missing_directory_is_a_clear_error(tmp_path):
    result = run("validate", str(tmp_path / "nope"))
    assert result.exit_code == 1
    assert "no such directory" in result.output


def test_schema_command_prints_json():
    result = run("schema")
    assert result.exit_code == 0
    assert '"title": "converge manifest"' in result.output


def test_confirm_with_nothing_pending(tmp_path):
    (tmp_path / "a.yaml").write_text("interfaces: {}\n")
    result = run("confirm", str(tmp_path))
    assert result.exit_code == 0 and "nothing waits for a confirmation" in result.output


def test_plan_detailed_exitcode_and_json(tmp_path):
    (tmp_path / "converge.yaml").write_text('{"sim": {"disks": ["/dev/sdb"]}}')
    (tmp_path / "a.yaml").write_text("pools:\n  tank: {vdevs: [{disks: [/dev/sdb]}]}\n")
    result = run("plan", str(tmp_path), "--detailed-exitcode")
    assert result.exit_code == 2 and "+ pool tank" in result.output and "Plan: 1 to create" in result.output
    import json

    result = run("plan", str(tmp_path), "--json")
    assert json.loads(result.output)["changes"][0]["action"] == "+"
    assert run("apply", str(tmp_path)).exit_code == 0
    assert run("plan", str(tmp_path), "--detailed-exitcode").exit_code == 0


SAVED_SEED = '{"sim": {"disks": ["/dev/sdb"]}}'
SAVED_BASE = ("pools:\n  tank: {vdevs: [{disks: [/dev/sdb]}]}\n"
              "datasets:\n  tank/a: {properties: {quota: 1G}}\n  tank/b: {properties: {quota: 1G}}\n")


def test_saved_plan_applied_after_an_edit_of_another_resource_reports_the_edit_as_pending(tmp_path):
    (tmp_path / "converge.yaml").write_text(SAVED_SEED)
    (tmp_path / "a.yaml").write_text(SAVED_BASE)
    assert run("apply", str(tmp_path)).exit_code == 0
    (tmp_path / "a.yaml").write_text(SAVED_BASE.replace("tank/a: {properties: {quota: 1G}}",
                                                        "tank/a: {properties: {quota: 2G}}"))
    saved = str(tmp_path / "p.json")
    assert run("plan", str(tmp_path), "-o", saved).exit_code == 0
    (tmp_path / "a.yaml").write_text(SAVED_BASE.replace("quota: 1G}}\n", "quota: 2G}}\n", 1)
                                     .replace("tank/b: {properties: {quota: 1G}}", "tank/b: {properties: {quota: 3G}}"))
    result = run("apply", saved)
    assert result.exit_code == 0, result.output
    assert "bug in converge" not in result.output
    assert "the manifests changed since this plan was made" in result.output
    assert "pending (the manifests changed after the plan was made; not part of it): ~ dataset/tank/b" in result.output
    plan = run("plan", str(tmp_path), "--json")
    import json

    [change] = json.loads(plan.output)["changes"]  # the edit is still to do; the plan's change is done
    assert change["ref"] == {"kind": "dataset", "name": "tank/b"}


def test_saved_plan_is_stale_when_a_file_converge_owns_was_edited(tmp_path):
    import json

    (tmp_path / "converge.yaml").write_text(SAVED_SEED)
    (tmp_path / "a.yaml").write_text(SAVED_BASE + "shares:\n  nfs:\n    a: {path: tank/a, clients: [{network: 10.0.0.0/24}]}\n")
    assert run("apply", str(tmp_path)).exit_code == 0, run("plan", str(tmp_path)).output
    (tmp_path / "a.yaml").write_text(SAVED_BASE.replace("quota: 1G", "quota: 2G", 1)
                                     + "shares:\n  nfs:\n    a: {path: tank/a, clients: [{network: 10.0.0.0/24}]}\n")
    saved = str(tmp_path / "p.json")
    assert run("plan", str(tmp_path), "-o", saved).exit_code == 0
    sim = tmp_path / ".converge" / "sim-host.json"
    facts = json.loads(sim.read_text())
    [path] = [p for p in facts["files"] if p.endswith(".exports")]
    facts["files"][path] += "# kept by hand\n"
    sim.write_text(json.dumps(facts))
    result = run("apply", saved)
    assert result.exit_code == 1 and f"plan is stale: the host changed since it was made (file:{path})" in result.output
    assert "# kept by hand" in json.loads(sim.read_text())["files"][path]
