"""Loading manifests: every bad input gives its exact located error, all at once, and nothing else."""

from __future__ import annotations

import os

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from ruamel.yaml import YAML

from converge.errors import ManifestError
from converge.manifest import load
from converge.resources import BY_KIND

CASES = YAML(typ="safe").load(open(os.path.join(os.path.dirname(__file__), "cases", "manifest", "bad.yaml")))


def write(directory, files):
    for name, text in files.items():
        path = directory / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_bad_manifest_gives_exact_errors(case, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write(tmp_path, case["files"])
    with pytest.raises(ManifestError) as e:
        load(".", present=set())
    assert [str(i) for i in sorted(e.value.issues)] == case["errors"]


def test_valid_directory_merges_files_and_renders_templates(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write(tmp_path, {
        "pools.yaml": "vars: {pool: tank, quota: 2T}\npools:\n  tank: {vdevs: [{type: raidz, disks: [/dev/b, /dev/a]}]}\n",
        "sub/data.yaml.j2": "datasets:\n{% for d in ['media', 'backup'] %}  {{ pool }}/{{ d }}: {properties: {quota: {{ quota }}}}\n{% endfor %}",
        "converge.yaml": "host: local\n",  # directory settings, not a manifest
    })
    desired = load(".", present=set())
    assert desired.count()["dataset"] == 2
    assert desired.specs("pool")["tank"].declared()["vdevs"] == [{"type": "raidz1", "role": "data", "disks": ["/dev/a", "/dev/b"]}]
    assert desired.specs("dataset")["tank/media"].declared() == {"properties": {"quota": 2 * 2**40}}


def test_reference_to_something_present_on_the_host_is_fine(tmp_path):
    write(tmp_path, {"a.yaml": "interfaces:\n  br0: {type: bridge, ports: [eno1]}\n"})
    from converge.model import Ref

    assert load(str(tmp_path), present={Ref(kind="interface", name="eno1")}).count()["interface"] == 1
    with pytest.raises(ManifestError):
        load(str(tmp_path), present=set())


def test_examples_are_valid():
    root = os.path.join(os.path.dirname(__file__), "..", "examples")
    for name in ("homelab", "ci"):
        desired = load(os.path.join(root, name), present=None)
        assert sum(desired.count().values()) > 0


# -- hypothesis: random valid manifests round-trip; random junk only ever gives ManifestError ----------

NAME = st.from_regex(r"[a-z][a-z0-9_-]{0,8}", fullmatch=True)
SIZE = st.sampled_from(["512M", "1G", "2T", "2TiB", "1099511627776", "10g"])
DATASET_PROPS = st.fixed_dictionaries({}, optional={
    "compression": st.sampled_from(["lz4", "zstd", "off", "gzip-9"]),
    "quota": SIZE, "atime": st.sampled_from(["on", "off", True, False, "yes"]),
    "recordsize": st.sampled_from(["128K", "1M", "16K"]),
    "acltype": st.sampled_from(["posix", "nfsv4", "off"]),
})


@st.composite
def manifests(draw):
    pool = "p" + draw(NAME)  # ZFS reserves some names (c0, mirror, log...): keep clear of them
    datasets = {f"{pool}/{n}": {"properties": draw(DATASET_PROPS)}
                for n in draw(st.lists(NAME, max_size=4, unique=True))}
    shares = {n: {"path": ds, "read_only": draw(st.booleans())}
              for n, ds in zip(draw(st.lists(NAME, max_size=3, unique=True)), sorted(datasets), strict=False)}
    vdev_type, at_least = draw(st.sampled_from([("mirror", 2), ("raidz", 3), ("stripe", 1)]))
    disks = draw(st.lists(st.sampled_from(["/dev/a", "/dev/b", "/dev/c", "/dev/d"]), min_size=at_least, unique=True))
    return {"pools": {pool: {"vdevs": [{"type": vdev_type, "disks": disks}]}},
            "datasets": datasets, "shares": {"smb": shares}}


@settings(max_examples=60, deadline=None)
@given(doc=manifests())
def test_valid_manifests_round_trip_through_the_model(doc, tmp_path_factory):
    directory = tmp_path_factory.mktemp("m")
    YAML().dump(doc, directory / "a.yaml")
    first = load(str(directory), present=set())
    # Dump the normalised form and load it again: nothing is lost or changed.
    again = {"pools": {n: s.declared() for n, s in first.specs("pool").items()},
             "datasets": {n: s.declared() for n, s in first.specs("dataset").items()},
             "shares": {"smb": {n: s.declared() for n, s in first.specs("smb").items()}}}
    other = tmp_path_factory.mktemp("m2")
    YAML().dump(again, other / "a.yaml")
    second = load(str(other), present=set())
    for kind in ("pool", "dataset", "smb"):
        assert {n: s.declared() for n, s in second.specs(kind).items()} == \
               {n: s.declared() for n, s in first.specs(kind).items()}
        assert first.specs(kind).keys() == {n for n in doc.get(BY_KIND[kind].section[0], {})} or kind == "smb"


JUNK = st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=8) | st.floats(allow_nan=False),
                    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
                    max_leaves=12)


@settings(max_examples=150, deadline=None)
@given(doc=st.dictionaries(st.sampled_from(["pools", "datasets", "snapshots", "shares", "interfaces",
                                            "containers", "vars", "junk"]),
                           st.dictionaries(st.text(max_size=10), JUNK, max_size=3) | JUNK, max_size=4),
       raw=st.text(max_size=40))
def test_junk_only_ever_gives_a_manifest_error(doc, raw, tmp_path_factory):
    directory = tmp_path_factory.mktemp("junk")
    YAML().dump(doc, directory / "a.yaml")
    (directory / "b.yaml").write_text(raw)
    try:
        load(str(directory), present=set())
    except ManifestError as e:
        assert all(str(i) for i in e.issues)
