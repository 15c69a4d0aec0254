"""Kind `service`: enable/start through systemctl on the simulated systemd; implied services."""

from __future__ import annotations

import json
from typing import Any

from converge import engine


def directory(tmp_path: Any, text: str, sim: str = "") -> str:
    (tmp_path / "services.yaml").write_text(text)
    (tmp_path / "converge.yaml").write_text(f"host: sim:{tmp_path}/sim.json\nsim:\n  paths: [/srv/public]\n{sim}")
    return str(tmp_path)


def units(tmp_path: Any) -> dict[str, Any]:
    return json.loads((tmp_path / "sim.json").read_text())["sim"]["systemd"]["units"]  # type: ignore[no-any-return]


def test_declared_services_are_enabled_and_started_and_others_untouched(tmp_path: Any) -> None:
    target = engine.open_target(directory(tmp_path, "services:\n  nfs-server: {enabled: true, state: running}\n"
                                                    "  ssh: {enabled: false, state: stopped}\n"))
    outcome = engine.reconcile(target)
    assert outcome.report.ok
    argvs = [s.argv for c in outcome.plan.changes for s in c.steps]
    assert argvs == [["systemctl", "enable", "nfs-server.service"], ["systemctl", "start", "nfs-server.service"],
                     ["systemctl", "disable", "ssh.service"], ["systemctl", "stop", "ssh.service"]]
    found = units(tmp_path)
    assert found["nfs-server.service"] == {"enabled": True, "active": True}
    assert found["ssh.service"] == {"enabled": False, "active": False}
    assert found["systemd-timesyncd.service"] == {"enabled": True, "active": True}  # never declared: as it was
    directory(tmp_path, "services: {}\n")
    plan, _ = engine.plan(engine.open_target(str(tmp_path)))
    assert plan.empty  # a service no longer declared is left as it is, never stopped


def test_a_share_implies_smbd_and_a_services_entry_overrides_it(tmp_path: Any) -> None:
    share = "shares:\n  smb:\n    public: {path: /srv/public}\n"
    plan, _ = engine.plan(engine.open_target(directory(tmp_path, share)))
    [implied] = [c for c in plan.changes if c.ref.kind == "service"]
    assert str(implied.ref) == "service/smbd" and implied.reason.startswith("implied: SMB shares are served by smbd")
    assert [str(r) for r in implied.depends_on] == ["smb/public"]  # started once its shares are written
    assert [str(c.ref) for c in plan.changes] == ["file//etc/samba/converge.conf", "smb/public", "service/smbd"]
    assert [s.argv for s in implied.steps] == [["systemctl", "enable", "smbd.service"],
                                               ["systemctl", "start", "smbd.service"]]
    plan, _ = engine.plan(engine.open_target(directory(tmp_path, share + "services:\n  smbd: {enabled: false}\n")))
    assert not [c for c in plan.changes if c.ref.kind == "service"]  # smbd is disabled already: as declared


def test_restart_requested_restarts_once(tmp_path: Any) -> None:
    text = "services:\n  ssh: {restart_requested: '2026-11-28T10:00:00Z'}\n"
    outcome = engine.reconcile(engine.open_target(directory(tmp_path, text)))
    assert [s.argv for c in outcome.plan.changes for s in c.steps if s.op == "run"] == [
        ["systemctl", "restart", "ssh.service"]]
    assert engine.plan(engine.open_target(str(tmp_path)))[0].empty


def test_without_a_running_systemd_state_is_not_applied_and_the_plan_says_so(tmp_path: Any) -> None:
    target = engine.open_target(directory(tmp_path, "services:\n  smbd: {enabled: true, state: running}\n",
                                          "  systemd: {running: false}\n"))
    outcome = engine.reconcile(target)
    [change] = outcome.plan.changes
    assert [s.argv for s in change.steps] == [["systemctl", "enable", "smbd.service"]]
    assert "state and restarts are not applied: systemd is not running" in change.reason
    assert units(tmp_path)["smbd.service"] == {"enabled": True, "active": False}


def test_an_implied_service_the_host_lacks_is_left_out(tmp_path: Any) -> None:
    share = "shares:\n  smb:\n    public: {path: /srv/public}\n"
    sim = "  systemd: {vendor: true, units: {ssh.service: {enabled: true, active: true}}}\n"  # no smbd installed
    plan, _ = engine.plan(engine.open_target(directory(tmp_path, share, sim)))
    assert [str(c.ref) for c in plan.changes] == ["file//etc/samba/converge.conf", "smb/public"]
    plan, _ = engine.plan(engine.open_target(directory(tmp_path, share + "services:\n  smbd: {enabled: true}\n", sim)))
    assert [str(c.ref) for c in plan.changes] == ["file//etc/samba/converge.conf", "smb/public", "service/smbd"]  # declared: asked for, so tried


def test_a_live_host_without_systemd_gets_no_implied_services_nor_units(tmp_path: Any) -> None:
    """Enabling units on a machine that does not boot with systemd (a container, a test VM) would
    change that machine for nothing: only an explicit services: entry does it there."""
    text = ("shares:\n  smb:\n    public: {path: /srv/public}\ncontainers:\n"
            "  web: {image: docker.io/library/nginx:1.25, restart: always}\n")
    sim = "  systemd: {running: false}\n  images: [docker.io/library/nginx:1.25]\n"
    outcome = engine.reconcile(engine.open_target(directory(tmp_path, text, sim)))
    assert [str(c.ref) for c in outcome.plan.changes] == ["file//etc/samba/converge.conf", "container/web", "smb/public"]
    assert not [s for c in outcome.plan.changes for s in c.steps if s.argv[:1] == ["systemctl"]]
