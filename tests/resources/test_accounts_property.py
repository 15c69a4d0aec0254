"""Property: on the simulated host, any valid set of groups and users applies and converges (the
engine's re-plan is empty, else NotConverged), and so does moving to another such set."""

from __future__ import annotations

import json
import os
import tempfile

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from converge.engine import open_target, plan, reconcile
from converge.errors import PlanError

GROUPS = ["staff", "media", "backup"]
USERS = ["alice", "bob", "carol", "dave"]
onoff = st.sampled_from([True, False, "on", "off"])
user = st.fixed_dictionaries({}, optional={
    "groups": st.lists(st.sampled_from(GROUPS), max_size=3, unique=True),
    "shell": st.sampled_from(["/bin/bash", "/usr/sbin/nologin", "/bin/zsh"]),
    "comment": st.from_regex(r"[A-Za-z][A-Za-z0-9 ._-]{0,15}", fullmatch=True),
    "locked": onoff,
    "uid": st.integers(0, 3),  # an offset: each user has ids of its own (see valid())
    "password": st.just({"secret": "pw"}),
    "smb": onoff,
    "sudo": st.lists(st.sampled_from(["ALL=(ALL:ALL) ALL", "ALL=(root) /usr/bin/apt update"]), max_size=2, unique=True),
})
manifest = st.tuples(st.dictionaries(st.sampled_from(GROUPS), st.fixed_dictionaries({}, optional={
    "gid": st.integers(0, 3), "members": st.lists(st.sampled_from(USERS), max_size=3, unique=True)}),
                                     max_size=3),
                     st.dictionaries(st.sampled_from(USERS), user, max_size=4))


def valid(groups: dict, users: dict) -> tuple[dict, dict]:
    """What validation asks of a set: supplementary groups that exist. Ids are per name (4000 + 10 *
    index + offset), so a set never asks for an id another name holds on the host: that the tools
    refuse it is tested elsewhere, it is not what this property is about."""
    for name, spec in groups.items():
        if "gid" in spec:
            spec["gid"] = 4000 + 10 * GROUPS.index(name) + spec["gid"]
    for spec in groups.values():
        if "members" in spec:
            spec["members"] = [m for m in spec["members"] if m in users]
    for name, spec in users.items():
        spec["groups"] = [g for g in spec.get("groups", []) if g in groups and "members" not in groups[g]]
        if spec.get("smb") in (True, "on") and "password" not in spec:
            del spec["smb"]  # a validation error: a Samba account needs a password
        if "uid" in spec:
            spec["uid"] = 3000 + 10 * USERS.index(name) + spec["uid"]
        if spec.get("locked") in (False, "off") and "password" not in spec:
            del spec["locked"]  # a plan error (test_accounts.py): an account without a password stays locked
    return groups, users


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(first=manifest, second=manifest)
def test_any_account_set_converges(first, second):
    with tempfile.TemporaryDirectory() as directory:
        os.makedirs(os.path.join(directory, "secrets"))
        secret = os.path.join(directory, "secrets", "pw")
        with open(secret, "w") as f:
            f.write("pass word\n")
        os.chmod(secret, 0o600)
        with open(os.path.join(directory, "converge.yaml"), "w") as f:
            json.dump({"settings": {"user": {"secrets_dir": "secrets"}}}, f)
        host = f"sim:{directory}/.converge/sim-host.json"
        for groups, users in (first, second):
            groups, users = valid(json.loads(json.dumps(groups)), json.loads(json.dumps(users)))
            with open(os.path.join(directory, "accounts.yaml"), "w") as f:
                json.dump({"groups": groups, "users": users}, f)
            target = open_target(directory, host=host)
            try:
                reconcile(target)  # NotConverged unless the re-plan is empty
            except PlanError as e:  # an id an account of the earlier set still holds: refused before anything runs
                assert "is taken by" in str(e)
                return
            target.host.flush()
            again, _ = plan(open_target(directory, host=host))
            assert again.changes == [], [(str(c.ref), c.diffs) for c in again.changes]
