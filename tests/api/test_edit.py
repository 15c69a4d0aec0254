"""Edits keep every untouched line byte for byte (comments, order, quoting, blank lines)."""

from __future__ import annotations

import difflib

from converge.edit import current_fields, edit_resource
from converge.manifest import load_unchecked
from converge.resources import BY_KIND


def changed_lines(before: str, after: str) -> list[str]:
    return [line for line in difflib.unified_diff(before.splitlines(), after.splitlines(), lineterm="", n=0)
            if line[:1] in "+-" and not line.startswith(("+++", "---"))]


def edit(d, kind, name, fields):
    desired, _ = load_unchecked(str(d))
    return edit_resource(str(d), desired, kind, name, fields)


def test_every_kind_of_edit_touches_only_its_lines(homelab):
    cases = [
        ("dataset", "tank/media", {"properties": {"compression": "zstd", "quota": "3T", "recordsize": "1M"}},
         ["-    properties: {compression: zstd, quota: 2T, recordsize: 1M}",
          "+    properties: {compression: zstd, quota: 3T, recordsize: 1M}"]),
        ("dataset", "tank/photos", {"properties": {"quota": "1G"}},
         ["+  tank/photos:", "+    properties:", "+      quota: 1G"]),
        ("smb", "photos", {"path": "tank/media", "read_only": True},
         ["+    photos:", "+      path: tank/media", "+      read_only: true"]),
        ("dataset", "tank/appdata", None,
         ["-  tank/appdata:", '-    properties: {recordsize: 16K, "org.example:owner": alice}']),
    ]
    for kind, name, fields, expected in cases:
        e = edit(homelab, kind, name, fields)
        assert changed_lines(e.before, e.after) == expected, (kind, name)
    jellyfin = current_fields(str(homelab / "apps.yaml"), BY_KIND["container"], "jellyfin")
    e = edit(homelab, "container", "jellyfin", {**jellyfin, "state": "stopped"})
    assert changed_lines(e.before, e.after) == ["+    state: stopped"]
    nfs = current_fields(str(homelab / "shares.yaml"), BY_KIND["nfs"], "media")
    nfs["clients"][0]["options"] = ["rw", "sync"]
    e = edit(homelab, "nfs", "media", nfs)
    assert changed_lines(e.before, e.after) == ["-          options: [ro, root_squash, sync]", "+          options: [rw, sync]"]
    net = current_fields(str(homelab / "network.yaml"), BY_KIND["interface"], "br0")
    e = edit(homelab, "interface", "br0", {**net, "mtu": 9000})
    assert changed_lines(e.before, e.after) == ["-    mtu: 1500", "+    mtu: 9000"]
    pool = current_fields(str(homelab / "storage.yaml"), BY_KIND["pool"], "tank")
    e = edit(homelab, "pool", "tank", {**pool, "scrub_requested": "2026-11-22T10:00:00Z"})
    assert changed_lines(e.before, e.after) == ["+    scrub_requested: '2026-11-22T10:00:00Z'"]
    e = edit(homelab, "snapshot", "tank/media@new", {})
    assert changed_lines(e.before, e.after) == ["+  tank/media@new: {}"]
