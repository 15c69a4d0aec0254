"""Kinds group and user on the simulated host, through the engine: apply converges, a password
is compared by hash and never shown, converge deletes only the accounts it created, and the
references of shares and users are checked at validation."""

from __future__ import annotations

import json
import os

import pytest

from converge.engine import open_target, plan, reconcile
from converge.errors import ManifestError, PlanError
from converge.formats import accounts as fmt
from converge.hosts.sim.passdb import PASSDB
from converge.model import Action
from converge.planner.render import render_plan

SECRET = "correct horse battery"
MANIFEST = """\
pools:
  tank:
    vdevs: [{type: stripe, disks: [/dev/sda]}]
datasets:
  tank/media:
    group: media
    mode: "2770"
groups:
  media: {}
users:
  alice:
    groups: [media]
    password: {secret: alice}
  bob:
    groups: [media]
    comment: Bob
shares:
  smb:
    media:
      path: tank/media
      valid_users: ["@media"]
      write_list: [alice]
"""


def setup(tmp_path, manifest=MANIFEST, secret=SECRET, seed=None):
    (tmp_path / "converge.yaml").write_text(json.dumps({
        "settings": {"user": {"secrets_dir": "secrets"}},
        "sim": {"disks": {"/dev/sda": {"size": 1 << 40}}}}))
    (tmp_path / "m.yaml").write_text(manifest)
    os.makedirs(tmp_path / "secrets", exist_ok=True)
    if secret is not None:
        write_secret(tmp_path, secret)
    if seed:  # an account that exists before converge (written as useradd would)
        state = {"format": 1, "files": seed, "sim": {"disks": {"/dev/sda": {"size": 1 << 40}}}}
        os.makedirs(tmp_path / ".converge", exist_ok=True)
        (tmp_path / ".converge" / "sim-host.json").write_text(json.dumps(state))
    return str(tmp_path)


def write_secret(tmp_path, value, mode=0o600):
    path = tmp_path / "secrets" / "alice"
    path.write_text(value + "\n")
    os.chmod(path, mode)


def host_files(directory):
    with open(os.path.join(directory, ".converge", "sim-host.json")) as f:
        return json.load(f)["files"]


def test_apply_converges_and_a_second_plan_is_empty(tmp_path):
    directory = setup(tmp_path)
    first, _ = plan(open_target(directory))
    order = [str(c.ref) for c in first.changes]
    assert order.index("group/media") < order.index("user/alice") < order.index("smb/media")
    assert order.index("group/media") < order.index("dataset/tank/media")  # owned by the group
    media = next(c for c in first.changes if str(c.ref) == "dataset/tank/media")
    assert [s.argv for s in media.steps if s.argv[0] in ("chown", "chmod")] == [
        ["chown", "--", ":media", "/tank/media"], ["chmod", "--", "02770", "/tank/media"]]
    reconcile(open_target(directory))  # raises NotConverged unless the re-plan is empty
    again, _ = plan(open_target(directory))
    assert again.empty
    files = host_files(directory)
    groups = fmt.parse_group(files["/etc/group"])
    assert groups["media"].members == ["alice", "bob"]
    shadow = fmt.parse_shadow(files["/etc/shadow"])
    assert shadow["alice"].hash.startswith("$6$") and shadow["bob"].hash == "!"
    smb = fmt.parse_smbpasswd(files[PASSDB])
    assert list(smb) == ["alice"]  # alice: named by a share and has a password; bob has none
    assert SECRET not in json.dumps(files) and SECRET not in first.model_dump_json()
    with open(os.path.join(directory, ".converge", "sim-host.json")) as f:
        assert json.load(f)["sim"]["owners"]["/tank/media"] == ["root", "media", "2770"]


def test_a_changed_secret_is_one_sensitive_update_and_never_shown(tmp_path):
    directory = setup(tmp_path)
    reconcile(open_target(directory))
    write_secret(tmp_path, "a new passphrase")
    changed, _ = plan(open_target(directory))
    assert [(str(c.ref), c.action, [d.path for d in c.diffs]) for c in changed.changes] == [
        ("user/alice", Action.UPDATE, ["password"])]
    text = render_plan(changed)
    assert "~ password: (sensitive) → (sensitive)" in text
    saved = changed.model_dump_json()  # what `plan -o` writes
    assert "a new passphrase" not in text + saved and SECRET not in saved
    assert [s.argv[0] for s in changed.changes[0].steps] == ["chpasswd", "smbpasswd"]
    outcome = reconcile(open_target(directory), saved=changed)
    assert outcome.report.ok
    smb = fmt.parse_smbpasswd(host_files(directory)[PASSDB])
    from converge.formats.passwords import nt_hash
    assert smb["alice"].nt_hash == nt_hash("a new passphrase")


def test_missing_or_open_secret_is_a_plan_error_naming_user_and_file(tmp_path):
    directory = setup(tmp_path, secret=None)
    with pytest.raises(PlanError, match=r"user alice: secret file .*/secrets/alice does not exist"):
        plan(open_target(directory))
    write_secret(tmp_path, SECRET, mode=0o644)
    with pytest.raises(PlanError, match=r"user alice: secret file .*secrets/alice has mode 0644"):
        plan(open_target(directory))
    assert not os.path.exists(os.path.join(directory, ".converge", "sim-host.json")) or \
        "alice" not in host_files(directory).get("/etc/passwd", "")


def test_only_accounts_converge_created_are_deleted(tmp_path):
    seed = {"/etc/passwd": "root:x:0:0:root:/root:/bin/bash\ncarol:x:1500:1500:Carol:/home/carol:/bin/bash\n",
            "/etc/group": "root:x:0:\ncarol:x:1500:\n", "/etc/shadow": "root:*:1:0:99999:7:::\ncarol:!:1:0:99999:7:::\n"}
    adopted = MANIFEST.replace("    comment: Bob\n", "    comment: Bob\n  carol:\n    shell: /bin/zsh\n")
    directory = setup(tmp_path, manifest=adopted, seed=seed)
    first, _ = plan(open_target(directory))
    carol = next(c for c in first.changes if str(c.ref) == "user/carol")
    assert carol.action is Action.UPDATE and carol.steps[0].argv == ["usermod", "-s", "/bin/zsh", "carol"]
    reconcile(open_target(directory))
    (tmp_path / "m.yaml").write_text(MANIFEST.replace("  bob:\n    groups: [media]\n    comment: Bob\n", ""))
    removed, _ = plan(open_target(directory))
    assert [(str(c.ref), c.action) for c in removed.changes] == [("user/bob", Action.DELETE)]  # not carol
    assert removed.changes[0].steps[0].argv == ["userdel", "bob"]  # never -r: a home stays
    reconcile(open_target(directory))
    passwd = fmt.parse_passwd(host_files(directory)["/etc/passwd"])
    assert "bob" not in passwd and passwd["carol"].shell == "/bin/zsh"


def test_system_accounts_are_never_renumbered(tmp_path):
    directory = setup(tmp_path, manifest="users:\n  www-data:\n    uid: 1200\n")
    with pytest.raises(PlanError, match="user www-data is a system account"):
        plan(open_target(directory))


def test_dangling_share_user_is_a_validation_error_with_line_and_suggestion(tmp_path):
    directory = setup(tmp_path, manifest=MANIFEST.replace("write_list: [alice]", "write_list: [alica]")
                      .replace('["@media"]', '["@medai"]'))
    with pytest.raises(ManifestError) as e:
        plan(open_target(directory))
    text = str(e.value)
    assert "m.yaml:21:21: shares.smb.media.valid_users.0: group 'medai' is not declared nor present on the host " \
           "(did you mean 'media'?)" in text
    assert "m.yaml:22:20: shares.smb.media.write_list.0: user 'alica' is not declared nor present on the host " \
           "(did you mean 'alice'?)" in text


def test_dangling_dataset_owner_is_a_validation_error(tmp_path):
    directory = setup(tmp_path, manifest=MANIFEST.replace("    group: media\n", "    owner: alise\n"))
    with pytest.raises(ManifestError) as e:
        plan(open_target(directory))
    assert "m.yaml:6:5: datasets.tank/media.owner: user 'alise' is not declared nor present on the host " \
           "(did you mean 'alice'?)" in str(e.value)


def test_membership_declared_in_two_places_is_refused(tmp_path):
    directory = setup(tmp_path, manifest=MANIFEST.replace("  media: {}", "  media:\n    members: [bob]"))
    with pytest.raises(ManifestError) as e:
        plan(open_target(directory))
    assert "groups.media.members: group media: membership is declared here and in the `groups` of user alice, bob" \
        in str(e.value)


def test_import_writes_accounts_above_the_system_range_and_never_secrets(tmp_path):
    from converge.adopt import write_manifests
    from converge.engine import read_facts

    seed = {"/etc/passwd": "root:x:0:0:root:/root:/bin/bash\ncarol:x:1500:1500:Carol:/home/carol:/bin/bash\n",
            "/etc/group": "root:x:0:\nsudo:x:27:carol\ncarol:x:1500:\nmedia:x:1600:carol\n",
            "/etc/shadow": "root:*:1:0:99999:7:::\ncarol:$6$salt$hash:1:0:99999:7:::\n"}
    directory = setup(tmp_path, manifest="vars: {}\n", secret=None, seed=seed)
    target = open_target(directory)
    written = write_manifests(read_facts(target.host, None, target.config.settings).facts, str(tmp_path / "out"))
    text = "".join(open(p).read() for p in written)
    assert "root" not in text and "sudo:" not in text and "$6$" not in text and "password" not in text
    import yaml
    users = yaml.safe_load(open(tmp_path / "out" / "imported-users.yaml"))["users"]
    groups = yaml.safe_load(open(tmp_path / "out" / "imported-groups.yaml"))["groups"]
    assert users == {"carol": {"uid": 1500, "primary_group": "carol", "groups": ["media", "sudo"],
                               "shell": "/bin/bash", "home": "/home/carol", "comment": "Carol", "locked": False}}
    assert groups == {"carol": {"gid": 1500}, "media": {"gid": 1600}}  # membership comes with the users
    (tmp_path / "m.yaml").unlink()
    for p in written:
        os.rename(p, tmp_path / os.path.basename(p))
    again, _ = plan(open_target(directory))
    assert [c for c in again.changes if c.ref.kind in ("user", "group")] == []


KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHk8ZlA2uQzDgX2W alice@laptop"


def test_authorized_keys_and_sudo_drop_in(tmp_path):
    manifest = MANIFEST.replace("    password: {secret: alice}\n", f"    password: {{secret: alice}}\n    home: /home/alice\n"
                                f"    authorized_keys: [\"{KEY}\"]\n    sudo: [\"ALL=(ALL:ALL) ALL\"]\n")
    directory = setup(tmp_path, manifest=manifest)
    first, _ = plan(open_target(directory))
    alice = next(c for c in first.changes if str(c.ref) == "user/alice")
    shown = [s.display() for s in alice.steps]
    assert "install -d -m 700 -o alice /home/alice/.ssh" in shown and "visudo -cf /etc/sudoers.d/.converge-alice-candidate" in shown
    reconcile(open_target(directory))
    files = host_files(directory)
    assert files["/etc/sudoers.d/converge-alice"].endswith("alice ALL=(ALL:ALL) ALL\n")
    assert KEY in files["/home/alice/.ssh/authorized_keys"]
    assert plan(open_target(directory))[0].empty
    (tmp_path / "m.yaml").write_text(manifest.replace('sudo: ["ALL=(ALL:ALL) ALL"]', 'sudo: []'))
    changed, _ = plan(open_target(directory))
    assert [d.path for d in changed.changes[0].diffs] == ["sudo"]
    reconcile(open_target(directory))
    assert "/etc/sudoers.d/converge-alice" not in host_files(directory)


@pytest.mark.parametrize("field, value, message", [
    ("authorized_keys", '["not a key"]', "is not an OpenSSH public key line"),
    ("sudo", '["ALL"]', r"is HOSTS=\(RUNAS\) COMMANDS on one line"),
])
def test_bad_keys_and_rules_are_validation_errors(tmp_path, field, value, message):
    manifest = MANIFEST.replace("    comment: Bob\n", f"    comment: Bob\n    home: /home/bob\n    {field}: {value}\n")
    directory = setup(tmp_path, manifest=manifest)
    with pytest.raises(ManifestError, match=message):
        plan(open_target(directory))


def test_home_dataset_is_its_mountpoint_and_never_deleted_with_the_user(tmp_path):
    manifest = MANIFEST.replace("  tank/media:\n", "  tank/home: {}\n  tank/home/bob:\n    owner: bob\n    mode: \"0700\"\n"
                                "  tank/media:\n").replace("    comment: Bob\n", "    comment: Bob\n    home: tank/home/bob\n")
    directory = setup(tmp_path, manifest=manifest)
    first, _ = plan(open_target(directory))
    bob = next(c for c in first.changes if str(c.ref) == "user/bob")
    assert "-d" in bob.steps[0].argv and bob.steps[0].argv[bob.steps[0].argv.index("-d") + 1] == "/tank/home/bob"
    order = [str(c.ref) for c in first.changes]
    assert order.index("user/bob") < order.index("dataset/tank/home/bob")  # owned by bob: made after him
    reconcile(open_target(directory))
    assert plan(open_target(directory))[0].empty  # passwd's /tank/home/bob reads back as the dataset
    (tmp_path / "m.yaml").write_text(manifest.replace("    home: tank/home/bob\n", "").replace(
        "  bob:\n    groups: [media]\n    comment: Bob\n", "").replace("    owner: bob\n", ""))
    removed, _ = plan(open_target(directory))
    assert [(str(c.ref), c.action) for c in removed.changes] == [("user/bob", Action.DELETE)]


def test_deletes_run_users_first_then_their_groups(tmp_path):
    directory = setup(tmp_path)
    reconcile(open_target(directory))
    (tmp_path / "m.yaml").write_text("pools:\n  tank:\n    vdevs: [{type: stripe, disks: [/dev/sda]}]\n"
                                     "datasets:\n  tank/media: {}\n")
    removed, _ = plan(open_target(directory))
    order = [str(c.ref) for c in removed.changes if c.action is Action.DELETE]
    assert order.index("smb/media") < order.index("user/alice") < order.index("group/media")
    assert order.index("user/bob") < order.index("group/media")
    reconcile(open_target(directory))
    assert "media" not in fmt.parse_group(host_files(directory)["/etc/group"])


def test_login_defs_uid_min_sets_the_system_range(tmp_path):
    seed = {"/etc/login.defs": "UID_MIN 2000\n",
            "/etc/passwd": "root:x:0:0:root:/root:/bin/bash\ncarol:x:1500:1500::/home/carol:/bin/bash\n",
            "/etc/group": "root:x:0:\ncarol:x:1500:\n", "/etc/shadow": "carol:!:1:0:99999:7:::\n"}
    directory = setup(tmp_path, manifest="users:\n  carol:\n    shell: /bin/zsh\n", secret=None, seed=seed)
    assert plan(open_target(directory))[0].changes[0].steps[0].argv == ["usermod", "-s", "/bin/zsh", "carol"]
    (tmp_path / "m.yaml").write_text("users:\n  carol:\n    uid: 2500\n")
    with pytest.raises(PlanError, match="user carol is a system account"):
        plan(open_target(directory))


def test_the_secret_never_reaches_logs_or_events(tmp_path, capsys):
    directory = setup(tmp_path)
    events = []
    reconcile(open_target(directory), on_event=lambda what, change, detail: events.append((what, change.model_dump_json(), detail)))
    captured = capsys.readouterr()
    assert "chpasswd" in captured.out + captured.err or events  # something was logged or reported
    assert SECRET not in captured.out + captured.err + json.dumps(events)


def test_a_locked_user_is_locked_for_samba_too(tmp_path):
    directory = setup(tmp_path)
    reconcile(open_target(directory))
    (tmp_path / "m.yaml").write_text(MANIFEST.replace("    password: {secret: alice}\n",
                                                      "    password: {secret: alice}\n    locked: true\n"))
    locked, _ = plan(open_target(directory))
    assert [s.argv[-2:] for s in locked.changes[0].steps] == [["-L", "alice"], ["-d", "alice"]]
    reconcile(open_target(directory))
    assert fmt.parse_smbpasswd(host_files(directory)[PASSDB])["alice"].disabled
    # enabled again behind converge's back: reads as unlocked, and the next apply disables it again
    from converge.hosts.sim import SimHost
    host = SimHost(os.path.join(directory, ".converge", "sim-host.json"))
    host.run(["smbpasswd", "-e", "alice"])
    host.flush()
    drift, _ = plan(open_target(directory))
    assert [(str(c.ref), [d.path for d in c.diffs]) for c in drift.changes] == [("user/alice", ["locked"])]


def test_unlocking_an_account_without_a_password_is_a_plan_error(tmp_path):
    directory = setup(tmp_path, manifest="users:\n  dave:\n    locked: false\n", secret=None)
    with pytest.raises(PlanError, match="user dave: locked: off needs a password"):
        plan(open_target(directory))


def test_an_id_another_account_holds_is_a_plan_error(tmp_path):
    seed = {"/etc/passwd": "root:x:0:0:root:/root:/bin/bash\ncarol:x:1500:1500::/home/carol:/bin/bash\n",
            "/etc/group": "root:x:0:\ncarol:x:1500:\n", "/etc/shadow": "carol:!:1:0:99999:7:::\n"}
    directory = setup(tmp_path, manifest="users:\n  dave:\n    uid: 1500\ngroups:\n  staff:\n    gid: 1500\n",
                      secret=None, seed=seed)
    with pytest.raises(PlanError, match="is taken by"):
        plan(open_target(directory))


def test_a_declared_group_of_the_users_name_is_their_primary_group_and_comes_first(tmp_path):
    directory = setup(tmp_path, manifest="users:\n  erin: {}\ngroups:\n  erin:\n    gid: 2345\n", secret=None)
    first, _ = plan(open_target(directory))
    assert [str(c.ref) for c in first.changes] == ["group/erin", "user/erin"]
    assert first.changes[1].steps[0].argv[3:5] == ["-g", "erin"]
    assert [str(r) for r in first.changes[1].depends_on] == ["group/erin"]  # waits for it, even in parallel
    reconcile(open_target(directory))
    assert fmt.parse_passwd(host_files(directory)["/etc/passwd"])["erin"].gid == 2345


def test_changing_a_users_groups_keeps_memberships_a_group_declares(tmp_path):
    manifest = "groups:\n  staff: {}\n  media:\n    members: [dave]\nusers:\n  dave:\n    groups: [staff]\n"
    directory = setup(tmp_path, manifest=manifest, secret=None)
    reconcile(open_target(directory))
    (tmp_path / "m.yaml").write_text(manifest.replace("groups: [staff]", "groups: []"))
    changed, _ = plan(open_target(directory))
    assert [s.argv for s in changed.changes[0].steps] == [["usermod", "-G", "media", "dave"]]
    reconcile(open_target(directory))  # NotConverged if dave had left media
    assert fmt.parse_group(host_files(directory)["/etc/group"])["media"].members == ["dave"]
