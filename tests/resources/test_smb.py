"""Kind `smb` on the simulated host: exact rendered file and argv, read equals declared after
apply, drift, unmanaged shares, bad input refused before anything runs."""

from __future__ import annotations

import pytest
from pydantic import ValidationError
from shares_support import FakeDesired, apply, plan, run_steps

from converge.errors import CommandFailed, PlanError
from converge.formats.smbconf import with_include
from converge.hosts import SimHost
from converge.model import Action, Observed
from converge.resources.base import Context
from converge.resources.shares.smb import SmbKind, SmbShareSpec

KIND = SmbKind()
SMB_CONF = "[global]\n\tserver role = standalone server\n\n[legacy]\n\tpath = /srv/legacy\n\tread only = no\n"
HEADER = ("# Samba shares managed by converge: this whole file is rewritten on every apply that changes\n"
          "# a share; edit the manifests instead (hand edits show up as drift in `converge plan`).\n"
          "# Included from /etc/samba/smb.conf ([global]: include = /etc/samba/converge.conf).\n")


@pytest.fixture
def host(sim: SimHost) -> SimHost:
    sim.facts.files["/etc/samba/smb.conf"] = SMB_CONF
    sim.facts.sim["paths"] = ["/srv/legacy", "/srv/public"]
    sim.facts.resources["dataset"] = {
        "tank/media": Observed(spec={}, managed=True, info={"mountpoint": "/tank/media"})}
    return sim


def ctx_for(host: SimHost, **shares: dict) -> Context:
    specs = {n: SmbShareSpec.model_validate(s) for n, s in shares.items()}
    return Context(host=host, desired=FakeDesired(smb=specs), facts=host.facts.model_copy(deep=True))


MEDIA = {"path": "tank/media", "read_only": False, "valid_users": ["bob", "alice"], "time_machine": True,
         "time_machine_max_size": "1T"}
PUBLIC = {"path": "/srv/public", "guest_ok": True, "comment": "Public files", "options": {"oplocks": False}}
RENDERED = HEADER + """
[media]
\t# converge: path tank/media
\tpath = /tank/media
\tread only = no
\tvalid users = alice bob
\tfruit:time machine = yes
\tfruit:time machine max size = 1T
\tvfs objects = catia fruit streams_xattr

[public]
\tpath = /srv/public
\tcomment = Public files
\tguest ok = yes
\toplocks = no
"""


def test_create_renders_one_file_validates_and_reloads(host):
    changes = plan(KIND, ctx_for(host, media=MEDIA, public=PUBLIC))
    assert [(str(c.ref), c.action) for c in changes] == [
        ("smb/media", Action.CREATE), ("smb/public", Action.CREATE), ("file//etc/samba/converge.conf", Action.CREATE)]
    media, public, include = changes
    # the shares run nothing themselves: they wait for the include file's own change
    assert media.steps == [] and public.steps == [] and all(include.ref in c.depends_on for c in (media, public))
    assert include.reason == "written for smb/media, smb/public" and include.before is None
    assert include.after["entries"] == ["media", "public"] and [d.path for d in include.diffs] == ["entries", "sha256"]
    assert [(s.op, s.argv, s.path) for s in include.steps] == [
        ("write", [], "/etc/samba/converge.conf.candidate"),
        ("run", ["testparm", "-s", "/etc/samba/converge.conf.candidate"], ""),
        ("write", [], "/etc/samba/converge.conf"),
        ("remove", [], "/etc/samba/converge.conf.candidate"),
        ("write", [], "/etc/samba/smb.conf"),
        ("run", ["smbcontrol", "--configfile=/etc/samba/smb.conf", "smbd", "reload-config"], ""),
    ]
    assert include.steps[0].content == RENDERED == include.steps[2].content
    # only the include line is added to smb.conf, at the end of [global]
    assert include.steps[4].content == SMB_CONF.replace(
        "standalone server\n", "standalone server\n\tinclude = /etc/samba/converge.conf\n")
    # valid_users: the accounts exist first; the file waits for what its shares need
    assert [str(r) for r in media.depends_on] == ["dataset/tank/media", "user/alice", "user/bob", str(include.ref)]
    assert [str(r) for r in include.depends_on] == ["dataset/tank/media", "user/alice", "user/bob"]
    # planning ran reads only: nothing on the host changed
    assert "/etc/samba/converge.conf" not in host.facts.files
    assert host.commands == [["testparm", "-s", "/etc/samba/smb.conf"],
                             ["stat", "-c", "%F\t%n", "--", "/srv/public"],
                             ["smbcontrol", "--configfile=/etc/samba/smb.conf", "smbd", "ping"]]


def test_apply_then_read_equals_declared(host):
    assert apply(KIND, ctx_for(host, media=MEDIA, public=PUBLIC)) == []
    assert host.facts.files["/etc/samba/converge.conf"] == RENDERED
    assert "/etc/samba/converge.conf.candidate" not in host.facts.files
    assert host.facts.sim["samba"] == {"smbd_running": True, "reloads": 1, "loaded": ["legacy", "media", "public"]}
    observed = KIND.read(ctx_for(host))
    assert observed["media"].managed and observed["media"].spec == {
        "path": "tank/media", "enabled": True, "read_only": False, "browseable": True, "guest_ok": False,
        "valid_users": ["alice", "bob"], "write_list": [], "admin_users": [], "create_mask": "0744", "directory_mask": "0755",
        "veto_files": [], "time_machine": True, "time_machine_max_size": 2**40, "comment": "", "options": {}}
    assert observed["public"].spec["options"] == {"oplocks": "no"}
    # unmanaged: defined in smb.conf, read through testparm, never touched
    assert not observed["legacy"].managed and observed["legacy"].spec["read_only"] is False


def test_update_and_delete_rewrite_the_file_once(host):
    apply(KIND, ctx_for(host, media=MEDIA, public=PUBLIC))
    changes = plan(KIND, ctx_for(host, media={**MEDIA, "read_only": True}))
    assert [(str(c.ref), c.action) for c in changes] == [
        ("smb/media", Action.UPDATE), ("smb/public", Action.DELETE), ("file//etc/samba/converge.conf", Action.UPDATE)]
    media, public, include = changes
    assert [d.path for d in media.diffs] == ["read_only"]
    # One write of the whole file, without the removed share and with the update; the delete waits
    # for it (so a dataset the share was on is destroyed only after the share left the file).
    assert media.steps == [] == public.steps and include.ref in public.depends_on
    assert "[public]" not in include.steps[0].content and "\tread only = yes\n" in include.steps[0].content
    assert [s.op for s in include.steps].count("write") == 2  # candidate + file; smb.conf already includes it
    assert [(d.path, d.before_text, d.after_text) for d in include.diffs][0] == (
        "entries", '["media", "public"]', '["media"]')
    assert include.before["sha256"] != include.after["sha256"]
    assert apply(KIND, ctx_for(host, media={**MEDIA, "read_only": True})) == []
    assert host.facts.sim["samba"]["loaded"] == ["legacy", "media"]
    assert host.facts.files["/etc/samba/smb.conf"].count("include =") == 1


def test_hand_edit_of_the_include_file_is_drift(host):
    apply(KIND, ctx_for(host, media=MEDIA))
    text = host.facts.files["/etc/samba/converge.conf"]
    host.facts.files["/etc/samba/converge.conf"] = text.replace("read only = no", "writeable = no")
    changes = plan(KIND, ctx_for(host, media=MEDIA))
    assert [(d.path, d.before, d.after) for d in changes[0].diffs] == [("read_only", True, False)]
    host.facts.files["/etc/samba/converge.conf"] = text.replace("read only = no", "read only = maybe")
    assert [d.path for d in plan(KIND, ctx_for(host, media=MEDIA))[0].diffs] == ["read_only"]


def test_removed_include_line_reads_as_missing_and_is_restored(host):
    apply(KIND, ctx_for(host, media=MEDIA))
    host.facts.files["/etc/samba/smb.conf"] = SMB_CONF
    changes = plan(KIND, ctx_for(host, media=MEDIA))
    assert changes[0].action == Action.CREATE
    assert apply(KIND, ctx_for(host, media=MEDIA)) == []


def test_smbd_not_running_is_said_and_not_an_error(host):
    host.facts.sim["samba"] = {"smbd_running": False}
    changes = plan(KIND, ctx_for(host, public=PUBLIC))
    assert "smbd is not running" in changes[-1].reason
    assert not any(s.argv[:1] == ["smbcontrol"] for s in changes[-1].steps)
    assert apply(KIND, ctx_for(host, public=PUBLIC)) == []


def test_testparm_rejection_never_installs(host):
    ctx = ctx_for(host, public={**PUBLIC, "options": {"oplocks": "maybe"}})
    changes = plan(KIND, ctx)
    with pytest.raises(CommandFailed, match="value is not boolean"):
        run_steps(ctx, changes[-1].steps)
    assert "/etc/samba/converge.conf" not in host.facts.files
    assert host.facts.files["/etc/samba/smb.conf"] == SMB_CONF


def test_missing_path_or_dataset_fails_before_anything_runs(host):
    with pytest.raises(PlanError, match="path /srv/nothing is not a directory"):
        plan(KIND, ctx_for(host, x={"path": "/srv/nothing"}))
    with pytest.raises(PlanError, match="'tank/ghost' names a dataset that is neither declared nor on the host"):
        plan(KIND, ctx_for(host, x={"path": "tank/ghost"}))
    assert all(c[0] in ("testparm", "stat") for c in host.commands)
    assert host.facts.files == {"/etc/samba/smb.conf": SMB_CONF}


def test_declared_dataset_not_yet_created_resolves_to_its_mountpoint(host):
    from converge.resources.storage.dataset import DatasetSpec

    ctx = ctx_for(host, docs={"path": "tank/docs"})
    ctx.desired.resources["dataset"] = {"tank/docs": DatasetSpec.model_validate({"properties": {"mountpoint": "/data/docs"}})}
    changes = plan(KIND, ctx)
    assert "\tpath = /data/docs\n" in changes[-1].steps[0].content
    assert ["stat"] not in [c[:1] for c in host.commands]


def test_share_defined_in_smb_conf_is_never_adopted(host):
    with pytest.raises(PlanError, match="defined in /etc/samba/smb.conf, outside converge's include file"):
        plan(KIND, ctx_for(host, legacy={"path": "/srv/legacy"}))
    with pytest.raises(PlanError, match="outside converge's include file"):
        plan(KIND, ctx_for(host, LEGACY={"path": "/srv/legacy"}))


@pytest.mark.parametrize("name", ["global", "Homes", "printers", "IPC$", "a]b", "x\ny", "-x", "trailing "])
def test_bad_names(name):
    with pytest.raises(ValueError):
        KIND.check_name(name)


@pytest.mark.parametrize("fields,message", [
    ({"options": {"comment": "x\n[evil]\npath = /"}}, "may not contain newlines"),
    ({"options": {"include": "/etc/passwd"}}, "not allowed"),
    ({"options": {"bogus parameter": "1"}}, "not a share parameter"),
    ({"options": {"workgroup": "X"}}, "not a share parameter"),
    ({"options": {"writeable": "yes"}}, "use the field read_only"),
    ({"options": {"a = b": "c"}}, "not an smb.conf parameter name"),
    ({"comment": "ends in \\"}, "end with a backslash"),
    ({"comment": "[x]"}, "'\\[' or '\\]'"),
    ({"valid_users": ["bob; rm"]}, "not a user"),
    ({"veto_files": ["a/b"]}, "may not be empty or contain '/'"),
    ({"time_machine": True, "options": {"vfs objects": "catia"}}, "fruit and streams_xattr"),
    ({"path": "/srv/../etc"}, "'..'"),
])
def test_bad_fields(fields, message):
    with pytest.raises(ValidationError, match=message):
        SmbShareSpec.model_validate({"path": "/srv/public", **fields})


def test_case_insensitive_duplicates():
    specs = {n: SmbShareSpec.model_validate({"path": "/srv"}) for n in ("Media", "media")}
    assert KIND.validate_set(specs, None)[0][0] == "media"


def test_normal_forms():
    spec = SmbShareSpec.model_validate({"path": "/srv/", "create_mask": "644", "options": {"Vfs_Object": "fruit"}})
    assert spec.model_dump(mode="json", exclude_none=True) == {
        "path": "/srv", "create_mask": "0644", "options": {"vfs objects": "fruit"}}


@pytest.mark.parametrize("before,after", [
    (None, "[global]\n\tinclude = /i.conf\n"),
    ("[global]\n\tworkgroup = X\n", "[global]\n\tworkgroup = X\n\tinclude = /i.conf\n"),
    ("[global]\n\tworkgroup = X\n\n\n[a]\n\tpath = /a\n", "[global]\n\tworkgroup = X\n\tinclude = /i.conf\n\n\n[a]\n\tpath = /a\n"),
    ("; top\n[a]\n\tpath = /a", "[global]\n\tinclude = /i.conf\n\n; top\n[a]\n\tpath = /a"),
    ("[ Global ]\n\tInclude = /i.conf\n", None),
])
def test_with_include(before, after):
    assert with_include(before, "/i.conf") == after
