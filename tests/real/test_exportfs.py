"""Real nfs-utils exportfs against converge's rendered exports file. exportfs only reads
/etc/exports, /etc/exports.d and /var/lib/nfs, so it runs in a private mount namespace (a
`sleep` started by `unshare -m`, entered with nsenter) where /etc is an overlay, /var/lib/nfs a
tmpfs and /etc/exports.d a bind of ROOT/etc/exports.d: the machine's own files are never touched."""

from __future__ import annotations

import os
import subprocess

import pytest
from isolation import NamespaceHost, private_mount_namespace, stop_group
from shares_support import FakeDesired, apply, plan

from converge.formats import exports
from converge.resources.base import Context
from converge.resources.shares.nfs import NfsExportSpec, NfsKind, active_exports

pytestmark = pytest.mark.real
KIND = NfsKind()


@pytest.fixture(scope="module")
def ns(tmp_path_factory):
    base = tmp_path_factory.mktemp("nfs")
    root = base / "root"
    (root / "etc/exports.d").mkdir(parents=True)
    (base / "ovl").mkdir()
    etab_before = open("/var/lib/nfs/etab").read() if os.path.exists("/var/lib/nfs/etab") else None
    proc = subprocess.Popen(["unshare", "-m", "--propagation", "private", "sleep", "infinity"], start_new_session=True)
    if not private_mount_namespace(proc):
        stop_group(proc)
        pytest.fail("unshare -m did not create a private mount namespace")
    own = os.readlink(f"/proc/{proc.pid}/ns/mnt")

    def inside(*argv: str) -> subprocess.CompletedProcess[str]:
        assert os.readlink(f"/proc/{proc.pid}/ns/mnt") == own != os.readlink("/proc/self/ns/mnt")
        return subprocess.run(["nsenter", "-t", str(proc.pid), "-m", "--", *argv], capture_output=True, text=True)

    setup = [("mount", "-t", "tmpfs", "tmpfs", str(base / "ovl")),
             ("mkdir", str(base / "ovl/u"), str(base / "ovl/w")),
             ("mount", "-t", "overlay", "overlay", "-o",
              f"lowerdir=/etc,upperdir={base / 'ovl/u'},workdir={base / 'ovl/w'}", "/etc"),
             ("mount", "-t", "tmpfs", "tmpfs", "/var/lib/nfs"),
             ("touch", "/var/lib/nfs/etab", "/var/lib/nfs/rmtab"),
             ("truncate", "-s", "0", "/etc/exports"),
             ("mkdir", "-p", "/etc/exports.d"),
             ("mount", "--bind", str(root / "etc/exports.d"), "/etc/exports.d")]
    for argv in setup:
        result = inside(*argv)
        if result.returncode != 0:
            stop_group(proc)
            pytest.fail(f"cannot set up the mount namespace for exportfs: {' '.join(argv)}: {result.stderr}")
    try:
        yield {"root": root, "pid": proc.pid, "inside": inside}
    finally:
        stop_group(proc)  # the namespace and its mounts vanish with its only process
    assert not os.path.exists("/etc/exports.d/converge.exports")  # the machine's own files were never touched
    if etab_before is not None:
        assert open("/var/lib/nfs/etab").read() == etab_before


def context(ns, **specs: dict) -> Context:
    desired = FakeDesired(nfs={n: NfsExportSpec.model_validate(s) for n, s in specs.items()})
    return Context(host=NamespaceHost(str(ns["root"]), ns["pid"]), desired=desired)


def exported(ns) -> dict[tuple[str, str], str]:
    out = ns["inside"]("exportfs", "-v")
    assert out.returncode == 0, out.stderr
    table = {}
    for path, client in active_exports(out.stdout):
        line = next(line for line in out.stdout.replace("\n\t\t", "\t").splitlines()
                    if line.startswith(path) and f"\t{client}(" in line.replace(path, "", 1).replace(" ", ""))
        table[(path, client)] = line.split("(", 1)[1].rstrip(")")
    return table


def test_apply_change_remove_with_real_exportfs(ns):
    root = ns["root"]
    for d in ("srv/media", "srv/with space"):
        (root / d).mkdir(parents=True, exist_ok=True)
    specs = {"media": {"path": "/srv/media", "clients": [
                 {"network": "192.168.1.0/24", "options": ["rw", "sync", "no_subtree_check"]},
                 {"host": "*.lan", "options": ["ro", "all_squash", "anonuid=1000", "anongid=1000"]}]},
             "space": {"path": "/srv/with space", "clients": [{"host": "127.0.0.1", "options": ["rw", "sec=sys:krb5"]}]}}
    assert apply(KIND, context(ns, **specs)) == []
    media, space = str(root / "srv/media"), str(root / "srv/with space")
    table = exported(ns)
    assert set(table) == {(media, "192.168.1.0/24"), (media, "*.lan"), (space, "127.0.0.1")}
    assert table[(media, "*.lan")] == \
        "sync,wdelay,hide,no_subtree_check,anonuid=1000,anongid=1000,sec=sys,ro,root_squash,all_squash"
    assert ",rw," in table[(space, "127.0.0.1")] and "sec=sys:krb5" in table[(space, "127.0.0.1")]

    del specs["space"]
    specs["media"]["clients"][0]["options"] = ["ro", "sync", "no_subtree_check"]
    assert apply(KIND, context(ns, **specs)) == []
    table = exported(ns)
    assert set(table) == {(media, "192.168.1.0/24"), (media, "*.lan")}
    assert ",ro," in table[(media, "192.168.1.0/24")]
    ctx = context(ns, **specs)
    assert plan(KIND, ctx) == []
    assert [c[len(ctx.host.prefix)] for c in ctx.host.commands] == ["exportfs"]  # `exportfs -v` only


def _try(ns, option: str) -> subprocess.CompletedProcess[str]:
    (ns["root"] / "etc/exports.d/probe.exports").write_text(f"{ns['root']} 10.9.0.0/16({option},no_subtree_check)\n")
    try:
        return ns["inside"]("exportfs", "-ra")
    finally:
        (ns["root"] / "etc/exports.d/probe.exports").unlink()


EXAMPLES = sorted(exports.FLAGS) + ["anonuid=65534", "anongid=100", "fsid=0", "fsid=root",
                                    "fsid=7f3c0c0e-1b9b-4d33-9d7f-6d1a4c7a0e11", "sec=krb5p:sys",
                                    "mountpoint=/srv", "mp=/srv", "refer=/a@h", "replicas=/a@h1:/b@h2"]


@pytest.mark.parametrize("option", EXAMPLES)
def test_every_option_converge_accepts_the_real_exportfs_accepts(ns, option):
    assert exports.option_error(option) is None
    result = _try(ns, option)
    assert result.returncode == 0, result.stderr
    assert not any(word in result.stderr for word in ("unknown", "bad ", "probe.exports")), result.stderr


@pytest.mark.parametrize("option", ["bogusopt", "root=1", "rdirplus", "anonuid=x", "fsid=abc", "sec=foo",
                                    "xprtsec=tls"])
def test_options_the_real_exportfs_refuses_converge_refuses_with_its_words(ns, option):
    ours = exports.option_error(option)
    result = _try(ns, option)
    assert ours is not None and ours in result.stderr, (ours, result.stderr)
