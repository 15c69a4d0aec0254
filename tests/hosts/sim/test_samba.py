"""The simulated testparm/smbcontrol answer as the real Samba 4.17 does (recorded fixtures)."""

from __future__ import annotations

from converge.hosts import SimHost


def fixture(name: str) -> str:
    with open(f"tests/fixtures/testparm/{name}") as f:
        return "".join(line for line in f if not line.startswith("# testparm"))


def test_testparm_prints_what_the_real_one_prints(sim: SimHost):
    sim.facts.files["/etc/samba/smb.conf"] = fixture("shares.conf")
    result = sim.run(["testparm", "-s", "/etc/samba/smb.conf"])
    assert result.stdout == fixture("shares.out")


def test_testparm_refuses_a_bad_boolean_and_warns_on_unknown_names(sim: SimHost):
    sim.facts.files["/c"] = "[x]\n\tpath = /tmp\n\tbogus param = 1\n"
    ok = sim.run(["testparm", "-s", "/c"])
    assert ok.returncode == 0 and 'Ignoring unknown parameter "bogus param"' in ok.stderr
    sim.facts.files["/c"] = "[x]\n\tpath = /tmp\n\tread only = maybe\n"
    bad = sim.run(["testparm", "-s", "/c"], check=False)
    assert bad.returncode == 1 and "set_variable_helper(maybe): value is not boolean!" in bad.stderr
    assert sim.run(["testparm", "-s", "/missing"], check=False).stderr == \
        "Load smb config files from /missing\nError loading services.\n"


def test_smbcontrol_needs_smbd(sim: SimHost):
    sim.facts.files["/etc/samba/smb.conf"] = "[a]\n\tpath = /a\n"
    assert sim.run(["smbcontrol", "smbd", "reload-config"]).returncode == 0
    assert sim.facts.sim["samba"]["reloads"] == 1 and sim.facts.sim["samba"]["loaded"] == ["a"]
    sim.facts.sim["samba"]["smbd_running"] = False
    down = sim.run(["smbcontrol", "smbd", "ping"], check=False)
    assert down.returncode == 1 and down.stderr == "Can't find pid for destination 'smbd'\n"
