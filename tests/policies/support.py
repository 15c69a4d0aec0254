"""A manifest directory on a simulated host, for policy tests."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime

from click.testing import CliRunner

from converge import engine
from converge.cli import main

ZFS = """pools:
  tank: {vdevs: [{type: mirror, disks: [/dev/sda, /dev/sdb]}]}
datasets:
  tank/data: {}
  tank/data/sub: {}
"""
BTRFS = """pools:
  bt: {driver: btrfs, disks: [/dev/sdc], mountpoint: /bt}
datasets:
  bt/vol: {}
"""


def make_dir(path, policies: str, storage: str = ZFS) -> str:
    os.makedirs(path, exist_ok=True)
    with open(os.path.join(path, "converge.yaml"), "w") as f:
        json.dump({"sim": {"disks": {d: {"size": 1 << 34} for d in ("/dev/sda", "/dev/sdb", "/dev/sdc")},
                           "paths": ["/bt"]}}, f)
    with open(os.path.join(path, "storage.yaml"), "w") as f:
        f.write(storage)
    with open(os.path.join(path, "policies.yaml"), "w") as f:
        f.write(policies)
    return str(path)


def cli(*args):
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def target(directory):
    return engine.open_target(directory)


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def host_snapshots(directory) -> dict:
    t = target(directory)
    return dict(t.host.facts.of("snapshot"))


def enabled_units(host) -> list[str]:
    """converge's units the simulated systemd has enabled (as `systemctl is-enabled` would say)."""
    units = host.facts.sim.get("systemd", {}).get("units", {})
    return sorted(n for n, u in units.items() if n.startswith("converge-") and u.get("enabled"))
