"""Loading manifests: every bad input gives its exact located error, all at once, and nothing else."""

from __future__ import annotations

import os

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from ruamel.yaml import YAML

from converge.errors import ManifestError
from converge.manifest import load, top_level
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
    sections = ", ".join(top_level())  # `{sections}` in a case: every top-level section, from the registry
    assert [str(i) for i in sorted(e.value.issues)] == [x.replace("{sections}", sections) for x in case["errors"]]


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


# -- hostile input (issue 13): every case is a located ManifestError, quickly, and nothing else ---------


def errors_of(directory) -> list[str]:
    with pytest.raises(ManifestError) as e:
        load(str(directory), present=set())
    return [str(i) for i in sorted(e.value.issues)]


def test_link_out_of_the_directory_is_refused_without_showing_what_it_points_at(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "secret").write_text("SECRET-VALUE-123\n")
    (tmp_path / "m" / ".converge").mkdir(parents=True)
    (tmp_path / "m" / ".converge" / "tokens").write_text("TOKEN-VALUE-456\n")
    (tmp_path / "m" / "a.yaml").symlink_to("../secret")
    (tmp_path / "m" / "b.yaml").symlink_to(".converge/tokens")
    (tmp_path / "m" / "c.yaml").symlink_to("d.yml")  # inside: fine
    (tmp_path / "m" / "d.yml").write_text("pools: {}\n")
    refused = ("a link to a file outside the manifest directory (or into a hidden one): refused; "
               "allowed: files and links to files inside the manifest directory")
    assert errors_of("m") == [f"m/a.yaml: {refused}", f"m/b.yaml: {refused}"]


def test_files_that_are_not_regular_files_are_located_errors(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "a.yaml").write_text("pools: {}\n")
    (tmp_path / "dir.yaml").mkdir()  # a directory with a manifest's name is walked, not read
    (tmp_path / "dir.yaml" / "b.yaml").write_text("pools: {}\n")
    os.mkfifo(tmp_path / "fifo.yaml")  # would block a plain open() forever
    (tmp_path / "gone.yaml").symlink_to("nowhere.yaml")
    assert errors_of(".") == ["fifo.yaml: not a regular file; allowed: manifest files (*.yaml, *.yaml.j2)",
                              "gone.yaml: cannot read: No such file or directory"]


def test_non_utf8_manifest_names_file_line_and_column(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "a.yaml").write_bytes(b"pools:\n  tank: {vdevs: [{disks: [/dev/caf\xe9]}]}\n")
    assert errors_of(".") == ["a.yaml:2:35: not UTF-8 text: byte 0xe9 cannot be decoded; allowed: UTF-8 text"]


def test_default_size_limit_is_4_mib_and_shared(tmp_path, monkeypatch):
    from converge.config import DEFAULT_MANIFEST_SIZE, manifest_size_limit

    monkeypatch.chdir(tmp_path)
    assert DEFAULT_MANIFEST_SIZE == manifest_size_limit(str(tmp_path)) == 4 * 1024**2
    (tmp_path / "a.yaml").write_text("pools: {}\n" + "#" * (4 * 1024**2))
    assert errors_of(".") == ["a.yaml: the file is larger than 4194304 bytes; allowed: up to 4194304 bytes a manifest "
                              "(limits.manifest_size in converge.yaml)"]
    (tmp_path / "converge.yaml").write_text("limits: {manifest_size: 8M}\n")
    assert manifest_size_limit(str(tmp_path)) == 8 * 1024**2
    assert load(".", present=set()).files == ["a.yaml"]


@pytest.mark.parametrize("depth", [950, 1_000_000])
def test_deep_nesting_is_a_located_error_from_the_cli(depth, tmp_path):
    # 950 levels: RecursionError before; a million: libyaml's C composer crashed the process.
    import subprocess
    import sys

    (tmp_path / "a.yaml").write_text("vars: " + "[" * depth + "]" * depth + "\n")
    done = subprocess.run([sys.executable, "-m", "converge.cli", "validate", str(tmp_path)],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 1, done.stderr
    assert "a.yaml:1:70: YAML error: nested more than 64 levels deep; allowed: up to 64 levels" in done.stderr
    assert "Traceback" not in done.stderr + done.stdout


def test_alias_bomb_is_refused_quickly_and_small(tmp_path):
    import resource
    import time

    lines = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for prev, name in zip("abcdefgh", "bcdefghi", strict=True):
        lines.append(f"{name}: &{name} [" + ",".join([f"*{prev}"] * 9) + "]")
    (tmp_path / "a.yaml").write_text("\n".join(lines) + "\n")  # ~400 bytes, 9^9 strings expanded
    before, started = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, time.monotonic()
    assert "aliases copy more than 100000 values" in errors_of(tmp_path)[0]
    assert time.monotonic() - started < 5
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before < 100 * 1024  # KiB: under 100 MB more


def test_template_cannot_run_commands(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    marker = tmp_path / "ran"
    (tmp_path / "a.yaml.j2").write_text(
        "datasets:\n  tank/x: {}\n" + "{{ cycler.__init__.__globals__.os.popen('touch " + str(marker) + "').read() }}\n")
    assert errors_of(".")[0].startswith("a.yaml.j2:3: template error: access to attribute '__init__' of 'type' "
                                        "object is unsafe. Templates run in a sandbox")
    assert not marker.exists()


def test_template_that_never_ends_is_stopped(tmp_path, monkeypatch):
    from converge import templating

    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(templating, "TEMPLATE_SECONDS", 2.0)
    (tmp_path / "a.yaml.j2").write_text("datasets:\n{% for i in range(100000) %}{% for j in range(100000) %}"
                                        "{% endfor %}{% endfor %}\n")
    assert errors_of(".") == ["a.yaml.j2: template error: rendering took longer than 2 s (a loop that does not end?); "
                              "allowed: 2 s for all templates"]


def test_template_memory_is_bounded(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "a.yaml.j2").write_text("datasets:\n  x: {{ 'x' * 10**9 }}\n")
    assert errors_of(".") == ["a.yaml.j2:2: template error: rendering needs more than 512 MB"]


def test_long_names_are_refused_without_repeating_them(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    name = "tank/" + "a" * 5000
    # an explicit key (`? `): YAML allows implicit keys of up to 1024 characters only
    (tmp_path / "a.yaml").write_text(f"pools:\n  tank: {{vdevs: [{{disks: [/dev/sdb]}}]}}\ndatasets:\n  ? {name}\n  : {{}}\n"
                                     f"  tank/{'b' * 250}: {{}}\n")  # 255: the most ZFS takes
    [error] = errors_of(".")
    assert error.endswith("(5005 characters) is 5005 characters long; allowed: up to 255")
    assert len(error) < 300


def test_samba_command_options_need_the_explicit_setting(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "a.yaml").write_text("shares:\n  smb:\n    media:\n      path: /srv/media\n"
                                     "      options: {root preexec: /usr/local/bin/mount-media, exec: id}\n")
    assert [e.split(": option ")[1].split(" makes")[0] for e in errors_of(".")] == ["'preexec'", "'root preexec'"]
    (tmp_path / "converge.yaml").write_text("settings: {smb: {allow_command_options: true}}\n")
    assert load(".", present=set()).specs("smb")["media"].options == {"root preexec": "/usr/local/bin/mount-media",
                                                                    "preexec": "id"}


@settings(max_examples=200, deadline=None)
@given(data=st.binary(max_size=200) | st.text(alphabet=st.sampled_from("[]{}&*!|>-:?,'\"\\ \n\tab\x00\x85\ufeff"),
                                            max_size=200).map(str.encode))
def test_junk_bytes_only_ever_give_a_manifest_error(data, tmp_path_factory):
    directory = tmp_path_factory.mktemp("bytes")
    (directory / "a.yaml").write_bytes(data)
    try:
        load(str(directory), present=set())
    except ManifestError as e:
        assert all(str(i) for i in e.issues)


@settings(max_examples=25, deadline=None)
@given(text=st.lists(st.sampled_from(list("{}%#()[]|.'\"*~+-/ \nabxi019") + ["{{", "}}", "{%", "%}", " for ", " in ",
                                                                          " if ", "range", "**"]),
                     max_size=30).map("".join))
def test_junk_templates_only_ever_give_a_manifest_error(text, tmp_path_factory):
    directory = tmp_path_factory.mktemp("tpl")
    (directory / "a.yaml.j2").write_text(text)
    try:
        load(str(directory), present=set())
    except ManifestError as e:
        assert all(str(i) for i in e.issues)
