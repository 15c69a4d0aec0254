"""agent.py and `converge agent`: the unit that runs `converge watch` on a host, installed once
(a second install changes nothing), removed by `agent uninstall`. On the simulated host here;
the real systemd tools check the unit in tests/real/test_agent_unit.py."""

from __future__ import annotations

import os

import pytest
from click.testing import CliRunner

from converge import agent
from converge.cli import main
from converge.engine import open_target
from converge.errors import ConvergeError


@pytest.fixture
def directory(tmp_path):
    d = tmp_path / "my manifests"
    d.mkdir()
    return d


def converge(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, list(args))
    return result.exit_code, result.output


def exec_start(unit: str) -> str:
    return next(line for line in unit.splitlines() if line.startswith("ExecStart="))


def test_the_unit_runs_watch_with_the_options_and_names_the_token_file_only(directory, tmp_path):
    host = open_target(str(directory)).host
    argv = agent.watch_argv(str(directory), host, 30, "http://central:8470", str(tmp_path / "agent.token"), "nas1")
    assert argv[argv.index("watch") + 1] == str(directory)
    assert argv[argv.index("--git-pull") + 1] == "30" and argv[argv.index("--report-as") + 1] == "nas1"
    assert argv[argv.index("--report-token-file") + 1] == str(tmp_path / "agent.token")
    line = exec_start(agent.render_unit(str(directory), argv))
    assert f'"{directory}"' in line  # a path with a space is one quoted argument
    assert "WantedBy=multi-user.target" in agent.render_unit(str(directory), argv)


@pytest.mark.parametrize(("kwargs", "says"), [
    ({"report": "http://c:1"}, "go together"), ({"token_file": "/t"}, "go together"), ({"git_pull": 0}, "more than 0")])
def test_bad_options_are_refused(directory, kwargs, says):
    with pytest.raises(ConvergeError, match=says):
        agent.watch_argv(str(directory), open_target(str(directory)).host, **kwargs)


def test_install_twice_changes_nothing_the_second_time_then_uninstall(directory, tmp_path):
    token = tmp_path / "agent.token"
    token.write_text("cvg_neverinargv\n")
    args = ["agent", "install", str(directory), "--git-pull", "60", "--report", "http://127.0.0.1:8470",
            "--report-token-file", str(token)]
    code, out = converge(*args)
    assert code == 0 and "installed converge-agent.service" in out and "systemd-analyze verify" in out, out
    host = open_target(str(directory)).host
    unit = host.read_file("/etc/systemd/system/converge-agent.service")
    assert unit is not None and "cvg_neverinargv" not in unit and "--report-token-file" in unit
    assert host.read_file("/var/lib/converge/unit-candidates/converge-agent.service") is None
    code, out = converge(*args)
    assert code == 0 and "nothing to change" in out and "installed converge" not in out and "write" not in out, out
    code, out = converge(*args[:3], "--git-pull", "30")  # other options: the unit is rewritten
    assert code == 0 and "installed converge-agent.service" in out
    assert "--git-pull 30" in exec_start(open_target(str(directory)).host.read_file(agent.unit_path(agent.UNIT)))
    code, out = converge("agent", "uninstall", str(directory))
    assert code == 0 and "remove /etc/systemd/system/converge-agent.service" in out
    assert open_target(str(directory)).host.read_file(agent.unit_path(agent.UNIT)) is None
    code, out = converge("agent", "uninstall", str(directory))
    assert code == 0 and "not installed: nothing to remove" in out


def test_a_report_url_without_its_token_file_is_refused_before_anything_is_written(directory):
    code, out = converge("agent", "install", str(directory), "--report", "http://127.0.0.1:8470")
    assert code == 1 and "go together" in out and "Traceback" not in out
    code, out = converge("agent", "install", str(directory), "--report", "gopher://x", "--report-token-file", "/t")
    assert code == 1 and "base URL" in out
    assert not os.path.exists(directory / ".converge" / "sim-host.json") or \
        open_target(str(directory)).host.read_file(agent.unit_path(agent.UNIT)) is None


def test_watch_report_options_go_together(directory):
    code, out = converge("watch", str(directory), "--report", "http://127.0.0.1:8470")
    assert code == 1 and "--report URL and --report-token-file PATH go together" in out


def test_a_host_that_does_not_boot_with_systemd_gets_no_agent_unit(directory):
    (directory / "converge.yaml").write_text("sim:\n  systemd: {running: false}\n")
    code, out = converge("agent", "install", str(directory))
    assert code == 1 and "does not boot with systemd" in out and "--root ROOT" in out
    assert open_target(str(directory)).host.read_file(agent.unit_path(agent.UNIT)) is None
