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
    assert ("valid: 5 files, 1 pool, 5 datasets, 2 snapshots, 2 smb shares, 2 nfs exports, 2 interfaces, "
            "2 containers, 2 snapshot policies") in result.output
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
