"""Kind `nfs` on the simulated host: exact rendered exports file and argv, read equals declared,
drift, bad input refused before anything runs."""

from __future__ import annotations

import pytest
from pydantic import ValidationError
from shares_support import FakeDesired, apply, plan

from converge.errors import PlanError
from converge.hosts import SimHost
from converge.model import Action, Observed
from converge.resources.base import Context
from converge.resources.shares.nfs import NfsExportSpec, NfsKind, active_exports

KIND = NfsKind()
FILE = "/etc/exports.d/converge.exports"
HEADER = ("# NFS exports managed by converge: this whole file is rewritten on every apply that changes an\n"
          "# export; edit the manifests instead (hand edits show up as drift in `converge plan`).\n")
MEDIA = {"path": "tank/media", "clients": [{"network": "192.168.1.0/24", "options": ["sync", "rw", "no_subtree_check"]},
                                           {"host": "*", "options": ["ro"]}]}
SPACE = {"path": "/srv/with space", "enabled": False, "clients": [{"host": "10.0.0.5"}]}
RENDERED = HEADER + """
# converge: export media path tank/media
/tank/media 192.168.1.0/24(no_subtree_check,rw,sync) *(ro)

# converge: export space
#"/srv/with space" 10.0.0.5
"""


@pytest.fixture
def host(sim: SimHost) -> SimHost:
    sim.facts.sim["paths"] = ["/srv/public", "/srv/with space"]
    sim.facts.resources["dataset"] = {
        "tank/media": Observed(spec={}, managed=True, info={"mountpoint": "/tank/media"})}
    return sim


def ctx_for(host: SimHost, **exports: dict) -> Context:
    specs = {n: NfsExportSpec.model_validate(s) for n, s in exports.items()}
    return Context(host=host, desired=FakeDesired(nfs=specs), facts=host.facts.model_copy(deep=True))


def test_create_renders_one_file_and_reexports(host):
    changes = plan(KIND, ctx_for(host, media=MEDIA, space=SPACE))
    assert [(str(c.ref), c.action) for c in changes] == [
        ("nfs/media", Action.CREATE), ("nfs/space", Action.CREATE), (f"file/{FILE}", Action.CREATE)]
    media, space, exports = changes
    assert [(s.op, s.argv, s.path) for s in exports.steps] == [("write", [], FILE), ("run", ["exportfs", "-ra"], "")]
    assert exports.steps[0].content == RENDERED
    assert media.steps == [] == space.steps  # no export carries the file: each waits for it
    assert [str(r) for r in media.depends_on] == ["dataset/tank/media", f"file/{FILE}"]
    assert [str(r) for r in space.depends_on] == [f"file/{FILE}"]
    assert [str(r) for r in exports.depends_on] == ["dataset/tank/media"]
    assert host.commands == [["exportfs", "-v"], ["stat", "-c", "%F\t%n", "--", "/srv/with space"]]


def test_apply_then_read_equals_declared(host):
    assert apply(KIND, ctx_for(host, media=MEDIA, space=SPACE)) == []
    assert host.facts.files[FILE] == RENDERED
    observed = KIND.read(ctx_for(host))
    assert observed["media"].spec == {"path": "tank/media", "enabled": True, "clients": [
        {"network": "192.168.1.0/24", "options": ["no_subtree_check", "rw", "sync"]}, {"host": "*", "options": ["ro"]}]}
    assert observed["media"].info == {"directory": "/tank/media", "active": True}
    assert observed["space"].info["active"] is False  # commented out: not exported
    assert host.facts.sim["nfs"]["exports"] == [
        ["/tank/media", "192.168.1.0/24", "sync,wdelay,hide,no_subtree_check,sec=sys,rw,root_squash,no_all_squash"],
        ["/tank/media", "*", "sync,wdelay,hide,no_subtree_check,sec=sys,ro,root_squash,no_all_squash"]]


def test_update_delete_and_hand_edit(host):
    apply(KIND, ctx_for(host, media=MEDIA, space=SPACE))
    host.facts.files[FILE] = host.facts.files[FILE].replace("*(ro)", "*(rw)")
    changes = plan(KIND, ctx_for(host, media=MEDIA))
    assert [(str(c.ref), c.action) for c in changes] == [
        ("nfs/media", Action.UPDATE), ("nfs/space", Action.DELETE), (f"file/{FILE}", Action.UPDATE)]
    assert [d.path for d in changes[0].diffs] == ["clients"]
    assert [(d.path, d.after) for d in changes[2].diffs][0] == ("entries", ["media"])
    assert apply(KIND, ctx_for(host, media=MEDIA)) == []
    assert host.facts.files[FILE] == HEADER + "\n# converge: export media path tank/media\n" \
        "/tank/media 192.168.1.0/24(no_subtree_check,rw,sync) *(ro)\n"


def test_missing_path_fails_before_anything_runs(host):
    with pytest.raises(PlanError, match="nfs export x: path /srv/nothing is not a directory"):
        plan(KIND, ctx_for(host, x={"path": "/srv/nothing", "clients": [{"host": "*"}]}))
    with pytest.raises(PlanError, match="'tank/ghost' names a dataset"):
        plan(KIND, ctx_for(host, x={"path": "tank/ghost", "clients": [{"host": "*"}]}))
    assert host.facts.files == {}


@pytest.mark.parametrize("client,message", [
    ({"network": "192.168.1.1/24"}, "host bits set: did you mean 192.168.1.0/24"),
    ({"network": "not-a-net"}, "not a network"),
    ({"host": "a b"}, "not a host name"),
    ({"host": "x", "network": "10.0.0.0/8"}, "exactly one of"),
    ({"host": "x", "options": ["bogusopt"]}, 'unknown keyword "bogusopt"'),
    ({"host": "x", "options": ["anonuid=x"]}, 'bad anonuid "anonuid=x"'),
    ({"host": "x", "options": ["sec=foo"]}, "unknown flavor foo"),
    ({"host": "x", "options": ["rw,no_root_squash"]}, "unknown keyword"),
    ({"host": "x", "options": ["rw", "ro"]}, "contradict each other: ro and rw"),
    ({"host": "x", "options": ["rw)\n/etc *(rw"]}, "unknown keyword"),
])
def test_bad_clients(client, message):
    with pytest.raises(ValidationError, match=message):
        NfsExportSpec.model_validate({"path": "/srv", "clients": [client]})


def test_same_client_twice_and_same_path_twice():
    with pytest.raises(ValidationError, match="listed twice"):
        NfsExportSpec.model_validate({"path": "/srv", "clients": [{"host": "a"}, {"host": "a", "options": ["ro"]}]})
    specs = {n: NfsExportSpec.model_validate({"path": "/srv", "clients": [{"host": "*"}]}) for n in ("a", "b")}
    assert KIND.validate_set(specs, None) == [("b", "path", "/srv is already exported by a: one path is one export "
                                                            "(list all its clients there)")]


def test_active_exports_parses_real_exportfs_v():
    # recorded from nfs-utils 2.6.2 `exportfs -v` (tests/fixtures/exportfs/exportfs-v.txt)
    with open("tests/fixtures/exportfs/exportfs-v.txt") as f:
        text = "".join(line for line in f if not line.startswith("#"))
    assert active_exports(text) == {("/tmp/exp/media", "10.0.0.5"), ("/tmp/exp/with space", "127.0.0.1"),
                                    ("/tmp/exp/media", "192.168.1.0/24"), ("/tmp/exp/media", "*.lan")}
