"""Property: on the simulated host, applying any valid set of SMB shares and NFS exports
converges (the engine's re-plan after apply is empty, else NotConverged), and so does moving
from one such set to another; a plan right after is empty."""

from __future__ import annotations

import json
import os
import tempfile

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from converge.engine import open_target, plan, reconcile
from converge.model import Ref

PATHS = ["/srv/a", "/srv/b", "/srv/c d", "/srv/e"]
names = st.from_regex(r"[a-z][a-z0-9_-]{0,10}", fullmatch=True).filter(
    lambda n: n not in ("global", "homes", "printers"))
onoff = st.sampled_from([True, False, "yes", "off"])
smb_share = st.fixed_dictionaries({"path": st.sampled_from(PATHS)}, optional={
    "read_only": onoff, "guest_ok": onoff, "browseable": onoff, "enabled": onoff, "time_machine": st.booleans(),
    "comment": st.from_regex(r"[A-Za-z0-9 .,_-]{0,20}", fullmatch=True),
    "valid_users": st.lists(st.sampled_from(["alice", "bob", "@staff"]), max_size=3),
    "create_mask": st.sampled_from(["644", "0660", "0755"]),
    "veto_files": st.lists(st.sampled_from(["*.tmp", ".DS_Store", "Thumbs.db"]), max_size=2),
    "options": st.dictionaries(st.sampled_from(["oplocks", "hide dot files", "strict sync"]), onoff, max_size=2)})
client_options = st.lists(st.sampled_from(["rw", "sync", "no_subtree_check", "all_squash", "anonuid=1000",
                                           "insecure", "sec=sys"]), max_size=4, unique=True)
targets = st.sampled_from([{"network": "192.168.1.0/24"}, {"network": "10.0.0.0/8"}, {"host": "*"},
                           {"host": "nas.lan"}, {"network": "fd00::/64"}])
nfs_export = st.fixed_dictionaries({"clients": st.lists(
    st.tuples(targets, client_options).map(lambda t: {**t[0], "options": t[1]}), min_size=1, max_size=3,
    unique_by=lambda c: json.dumps({k: v for k, v in c.items() if k != "options"}))},
    optional={"enabled": onoff})
manifest = st.tuples(st.dictionaries(names, smb_share, max_size=4),
                     st.lists(st.tuples(names, nfs_export), max_size=len(PATHS), unique_by=lambda t: t[0]))


def write(directory: str, smb: dict, nfs: list) -> None:
    exports = {name: {**spec, "path": PATHS[i]} for i, (name, spec) in enumerate(nfs)}
    with open(os.path.join(directory, "shares.yaml"), "w") as f:
        json.dump({"shares": {"smb": smb, "nfs": exports}}, f)  # JSON is YAML
    with open(os.path.join(directory, "accounts.yaml"), "w") as f:  # the accounts valid_users names
        json.dump({"groups": {"staff": {}}, "users": {"alice": {}, "bob": {}}}, f)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(first=manifest, second=manifest)
def test_apply_then_plan_is_empty(first, second):
    with tempfile.TemporaryDirectory() as directory:
        with open(os.path.join(directory, "converge.yaml"), "w") as f:
            json.dump({"sim": {"paths": PATHS}}, f)
        host = f"sim:{directory}/.converge/sim-host.json"
        for smb, nfs in (first, second):
            write(directory, smb, nfs)
            target = open_target(directory, host=host)
            reconcile(target, allow_destroy={Ref(kind="smb", name=n) for n in first[0]})
            target.host.flush()
            again, _ = plan(open_target(directory, host=host))
            assert again.changes == [], [(str(c.ref), c.diffs) for c in again.changes]
