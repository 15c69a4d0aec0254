"""Emulated `zpool` and `zfs` (OpenZFS 2.x output formats). State: pools in
facts.resources["pool"] (driver zfs), datasets in ["dataset"], snapshots in ["snapshot"]; each
keeps what ZFS keeps: its vdevs, and its locally set properties as zfs stores them (a size in
bytes, an alias under its canonical name), checked by ZFS's own property table (formats/zfs.py);
inherited and default values are computed when read."""

from __future__ import annotations

from typing import Any

from ...formats.zfs import CREATE_ONLY, POOL_PROPERTIES, dataset_value
from ...model import Observed
from ..base import Result
from . import fail, tool
from .disks import check_disks, claim, size_of
from .zfs_props import SOURCES, Select, dataset_lines, pool_lines, render_status, zfs_value

ROLE_WORDS = {"log": "log", "cache": "cache", "spare": "spare", "special": "special", "dedup": "special"}


def _zfs_pools(host: Any) -> dict[str, Observed]:
    return {n: o for n, o in host.facts.of("pool").items() if o.spec.get("driver", "zfs") == "zfs"}


def _txg(host: Any) -> int:
    host.facts.sim["zfs_txg"] = int(host.facts.sim.get("zfs_txg", 100)) + 1
    return int(host.facts.sim["zfs_txg"])


def _vdevs(words: list[str]) -> list[dict[str, Any]] | str:
    """`mirror a b log c cache d` -> vdev dicts (an error text when malformed)."""
    out: list[dict[str, Any]] = []
    role, current = "data", None
    for w in words:
        if w in ROLE_WORDS:
            role, current = ROLE_WORDS[w], None
        elif w in ("mirror", "raidz", "raidz1", "raidz2", "raidz3"):
            current = {"type": "raidz1" if w == "raidz" else w, "role": role, "disks": []}
            out.append(current)
        elif w.startswith("/"):
            if current is None:
                out.append({"type": "stripe", "role": role, "disks": [w]})
            else:
                current["disks"].append(w)
        else:
            return f"cannot open '{w}': no such device in /dev\nmust be a full path or shorthand device name"
    if not any(v["role"] == "data" for v in out):
        return "invalid vdev specification: at least one toplevel vdev must be specified"
    for v in out:
        need = {"mirror": 2, "raidz1": 2, "raidz2": 3, "raidz3": 4}.get(v["type"], 1)
        if len(v["disks"]) < need:
            return f"invalid vdev specification: {v['type']} requires at least {need} devices"
        if v["role"] in ("cache", "spare") and v["type"] != "stripe":
            return f"invalid vdev specification: {v['role']} devices cannot be {v['type']}s"
    return out


def _flags(argv: list[str], takes: set[str]) -> tuple[dict[str, list[str]], list[str]]:
    opts: dict[str, list[str]] = {}
    rest: list[str] = []
    i = 0
    while i < len(argv):
        a = argv[i]
        if a.startswith("-") and len(a) > 1 and not rest:
            for j, c in enumerate(a[1:]):
                if c in takes:
                    value = a[j + 2:] or (argv[i + 1] if i + 1 < len(argv) else "")
                    opts.setdefault(c, []).append(value)
                    if not a[j + 2:]:
                        i += 1
                    break
                opts.setdefault(c, []).append("")
        else:
            rest.append(a)
        i += 1
    return opts, rest


@tool("zpool")
def zpool(host: Any, argv: list[str], input: str | None) -> Result:
    sub = argv[1] if len(argv) > 1 else ""
    opts, rest = _flags(argv[2:], {"o", "O", "m", "R"})
    pools = _zfs_pools(host)
    if sub == "list":
        rows = [[n, str(o.info.get("size", 0)), str(o.info.get("allocated", 0)), str(o.info.get("free", 0)),
                 "ONLINE", "-"] for n, o in sorted(pools.items())]
        return Result(0, "".join("\t".join(r) + "\n" for r in rows), "" if rows else "no pools available\n")
    if sub == "status":
        return Result(0, render_status(pools), "" if pools else "no pools available\n")
    if sub == "get":
        return Result(0, "".join(pool_lines(n, o) for n, o in sorted(pools.items())))
    if sub in ("create", "add") and rest:
        return _create_or_add(host, sub, opts, rest)
    name = rest[0] if rest else (rest[-1] if rest else "")
    if sub == "set" and len(rest) == 2:
        prop, _, value = rest[0].partition("=")
        name = rest[1]
    if name not in pools:
        return fail(f"cannot open '{name}': no such pool", 1)
    pool = pools[name]
    if sub == "set":
        if prop not in POOL_PROPERTIES:
            return fail(f"cannot set property for '{name}': invalid property '{prop}'", 1)
        pool.spec["properties"] = {**pool.spec.get("properties", {}), prop: value}
    elif sub == "scrub":
        pool.info["scrubs"] = int(pool.info.get("scrubs", 0)) + 1
    elif sub == "attach" and len(rest) == 3:
        err = check_disks(host, [rest[2]], "f" in opts, "zpool")
        vdev = next((v for v in pool.spec["vdevs"] if rest[1] in v["disks"]), None)
        if err or vdev is None:
            return err or fail(f"cannot attach {rest[2]} to {rest[1]}: no such device in pool", 1)
        vdev["disks"] = sorted(vdev["disks"] + [rest[2]])
        vdev["type"] = "mirror" if vdev["type"] == "stripe" else vdev["type"]
        claim(host, [rest[2]])
    elif sub == "destroy":
        for kind in ("dataset", "snapshot"):
            for n in [n for n in host.facts.of(kind) if n.split("@")[0].split("/")[0] == name]:
                del host.facts.of(kind)[n]
        del host.facts.of("pool")[name]
    else:
        return fail(f"unrecognized command '{sub}'", 2)
    host.changed()
    return Result(0)


def _create_or_add(host: Any, sub: str, opts: dict[str, list[str]], rest: list[str]) -> Result:
    name, words = rest[0], rest[1:]
    vdevs = _vdevs(words)
    if isinstance(vdevs, str):
        return fail(vdevs, 1)
    new = [d for v in vdevs for d in v["disks"]]
    err = check_disks(host, new, "f" in opts, "zpool")
    if err:
        return err
    pools = host.facts.of("pool")
    if sub == "create":
        if name in pools:
            return fail(f"cannot create '{name}': pool already exists", 1)
        props = dict(o.split("=", 1) for o in opts.get("o", []))
        bad = [p for p in props if p not in POOL_PROPERTIES]
        if bad:
            return fail(f"property '{bad[0]}' is not a valid pool property", 2)
        fs = dict(o.split("=", 1) for o in opts.get("O", []))
        user = {k: fs.pop(k) for k in list(fs) if k.startswith("converge:")}
        try:
            fs = {k: dataset_value(k, v) for k, v in fs.items()}
        except ValueError as e:
            return fail(f"cannot create '{name}': {e}", 1)
        mountpoint = (opts.get("m") or [f"/{name}"])[0]
        pools[name] = Observed(spec={"driver": "zfs", "vdevs": vdevs, "properties": props, "filesystem_properties": fs,
                                     "mountpoint": mountpoint},
                               managed=user.get("converge:managed") == "on",
                               protected=user.get("converge:protect") == "on",
                               info={"mountpoint_local": bool(opts.get("m"))})
    else:
        if name not in _zfs_pools(host):
            return fail(f"cannot open '{name}': no such pool", 1)
        pool = pools[name]
        have = {v["type"] for v in pool.spec["vdevs"] if v["role"] == "data"}
        adding = {v["type"] for v in vdevs if v["role"] == "data"}
        if adding and adding != have and "f" not in opts:
            return fail("invalid vdev specification\nuse '-f' to override the following errors:\n"
                        f"mismatched replication level: pool uses {'/'.join(sorted(have))} and new vdev is "
                        f"{'/'.join(sorted(adding))}", 1)
        pool.spec["vdevs"] = pool.spec["vdevs"] + vdevs
    pool = pools[name]
    pool.info["size"] = sum(size_of(host, d) for v in pool.spec["vdevs"] if v["role"] == "data" for d in v["disks"])
    pool.info["free"], pool.info["allocated"] = pool.info["size"], 0
    claim(host, new)
    host.changed()
    return Result(0)


@tool("zfs")
def zfs(host: Any, argv: list[str], input: str | None) -> Result:
    sub = argv[1] if len(argv) > 1 else ""
    opts, rest = _flags(argv[2:], {"o", "s", "t", "d", "I", "i"})
    if sub == "get":
        return _get(host, opts, rest)
    if sub == "send" and "t" in opts:
        return _resume_stream(host, opts["t"][0])
    if not rest:
        return fail(f"missing dataset argument\nusage: zfs {sub} ...", 2)
    if sub in ("create", "clone", "snapshot"):
        return _create(host, sub, opts, rest)
    if sub == "set":
        return _set(host, rest[:-1], rest[-1])
    if sub == "destroy":
        return _destroy(host, rest[0])
    if sub == "rollback":
        return _rollback(host, rest[0], "r" in opts)
    if sub in ("hold", "release", "holds"):
        return _holds(host, sub, rest)
    if sub in ("send", "receive", "recv"):
        return _send(host, opts, rest) if sub == "send" else _receive(host, rest[-1], input or "", "-s" in argv)
    return fail(f"unrecognized command '{sub}'", 2)


def _get(host: Any, opts: dict[str, list[str]], rest: list[str]) -> Result:
    """`zfs get [-s SOURCES] all|PROP,...` of every dataset and snapshot (the only form converge uses)."""
    sources = frozenset(s for v in opts.get("s", []) for s in v.split(",")) or None
    if sources is not None and not sources <= SOURCES:
        return fail(f"invalid source '{sorted(sources - SOURCES)[0]}'", 2)
    if not rest:
        return fail("missing property argument\nusage: zfs get ...", 2)
    if rest[0] == "receive_resume_token" and len(rest) == 2:  # `zfs get -H -o value receive_resume_token DS`
        found = _find(host, rest[1])
        if found is None:
            return fail(f"cannot open '{rest[1]}': dataset does not exist", 1)
        return Result(0, found.info.get("receive_resume_token", "-") + "\n")
    props = None if rest[0] == "all" else frozenset(rest[0].split(","))
    return Result(0, dataset_lines(host, _zfs_pools(host), Select(props, sources)))


def _find(host: Any, name: str) -> Observed | None:
    kind = "snapshot" if "@" in name else ("dataset" if "/" in name else "pool")
    obs = host.facts.of(kind).get(name)
    return obs if obs is not None and (kind != "pool" or name in _zfs_pools(host)) else None


def _apply_props(obs: Observed, values: dict[str, str], kind: str, name: str) -> str:
    for key in ("converge:managed", "converge:protect"):
        if key in values:
            setattr(obs, "managed" if key.endswith("managed") else "protected", values.pop(key) == "on")
    for key in [k for k in values if k.startswith("converge:")]:  # other converge marks (converge:policy)
        obs.info.setdefault("converge", {})[key] = values.pop(key)
    if kind == "snapshot" and any(":" not in k for k in values):
        return f"cannot set property for '{name}': this property can not be modified for snapshots"
    try:
        stored = {k: dataset_value(k, v) for k, v in values.items()}
    except ValueError as e:
        return f"cannot set property for '{name}': {e}"
    if kind == "pool" and "mountpoint" in stored:
        obs.spec["mountpoint"] = stored.pop("mountpoint")
    field = "filesystem_properties" if kind == "pool" else "properties"
    obs.spec[field] = {**obs.spec.get(field, {}), **stored}
    return ""


def _create(host: Any, sub: str, opts: dict[str, list[str]], rest: list[str]) -> Result:
    name = rest[-1]
    values = dict(o.split("=", 1) for o in opts.get("o", []))
    kind = "snapshot" if sub == "snapshot" else "dataset"
    if _find(host, name) is not None:
        return fail(f"cannot create '{name}': dataset already exists", 1)
    parent = name.split("@")[0] if kind == "snapshot" else name.rsplit("/", 1)[0]
    if kind == "snapshot" and "@" not in name:
        return fail(f"cannot create snapshot '{name}': missing '@' delimiter in snapshot name", 2)
    if kind == "dataset" and "/" not in name:
        return fail(f"cannot create '{name}': missing dataset name", 2)
    origin = rest[0] if sub == "clone" else None
    if origin is not None and _find(host, origin) is None:
        return fail(f"cannot open '{origin}': dataset does not exist", 1)
    if _find(host, parent) is None:
        if kind == "dataset" and "p" in opts and _find(host, name.split("/")[0]) is not None:
            parts = name.split("/")
            for i in range(2, len(parts)):
                host.facts.of("dataset").setdefault("/".join(parts[:i]), _new_dataset(host, {}, None))
        else:
            return fail(f"cannot create '{name}': parent does not exist", 1)
    obs = _new_dataset(host, {}, origin) if kind == "dataset" else Observed(
        spec={"properties": {}}, info={"driver": "zfs", "order": _txg(host)})
    err = _apply_props(obs, values, kind, name)
    if err:
        return fail(err, 1)
    host.facts.of(kind)[name] = obs
    host.changed()
    return Result(0)


def _new_dataset(host: Any, props: dict[str, Any], origin: str | None) -> Observed:
    spec: dict[str, Any] = {"properties": dict(props)}
    if origin is not None:
        spec["origin"] = origin
    return Observed(spec=spec, info={"driver": "zfs", "order": _txg(host)})


def _set(host: Any, pairs: list[str], name: str) -> Result:
    obs = _find(host, name)
    if obs is None:
        return fail(f"cannot open '{name}': dataset does not exist", 1)
    if not pairs or any("=" not in p for p in pairs):
        return fail("missing property=value argument(s)", 2)
    kind = "snapshot" if "@" in name else ("dataset" if "/" in name else "pool")
    values = dict(p.split("=", 1) for p in pairs)
    for k in values:
        if k in CREATE_ONLY:
            return fail(f"cannot set property for '{name}': '{k}' is readonly", 1)
    err = _apply_props(obs, values, kind, name)
    if err:
        return fail(err, 1)
    host.changed()
    return Result(0)


def _destroy(host: Any, name: str) -> Result:
    obs = _find(host, name)
    if obs is None or "/" not in name.split("@")[0] and "@" not in name:
        return fail("could not find any snapshots to destroy; check snapshot names." if "@" in name
                    else f"cannot open '{name}': dataset does not exist", 1)
    clones = [n for n, o in host.facts.of("dataset").items() if o.spec.get("origin") == name]
    if clones:
        return fail(f"cannot destroy '{name}': snapshot has dependent clones\nuse '-R' to destroy the following "
                    "datasets:\n" + "\n".join(clones), 1)
    children = [n for k in ("dataset", "snapshot") for n in host.facts.of(k)
                if n.startswith(name + "/") or n.startswith(name + "@")]
    if children:
        return fail(f"cannot destroy '{name}': filesystem has children\nuse '-r' to destroy the following "
                    "datasets:\n" + "\n".join(sorted(children)), 1)
    del host.facts.of("snapshot" if "@" in name else "dataset")[name]
    host.changed()
    return Result(0)


def _holds(host: Any, sub: str, rest: list[str]) -> Result:
    """`zfs hold TAG SNAP...`, `zfs release TAG SNAP...`, `zfs holds -H SNAP...` (tags in info["holds"])."""
    tag, snaps = (rest[0], rest[1:]) if sub != "holds" else ("", rest)
    for snap in snaps:
        if snap not in host.facts.of("snapshot"):
            return fail(f"cannot open '{snap}': dataset does not exist", 1)
    lines = []
    for snap in snaps:
        info = host.facts.of("snapshot")[snap].info
        tags = list(info.get("holds", []))
        if sub == "hold":
            if tag in tags:
                return fail(f"cannot hold snapshot '{snap}': tag already exists on this dataset", 1)
            info["holds"] = [*tags, tag]
        elif sub == "release":
            if tag not in tags:
                return fail(f"cannot release hold from snapshot '{snap}': no such tag on this dataset", 1)
            info["holds"] = [t for t in tags if t != tag]
        else:
            lines += [f"{snap}\t{t}\tSat Nov 28 09:00 2026\n" for t in tags]
    if sub != "holds":
        host.changed()
    return Result(0, "".join(lines))


def _snaps_of(host: Any, dataset: str) -> list[str]:
    found = [(int(o.info.get("order", 0)), n) for n, o in host.facts.of("snapshot").items()
             if n.split("@")[0] == dataset]
    return [n for _, n in sorted(found)]


def _send(host: Any, opts: dict[str, list[str]], rest: list[str]) -> Result:
    """`zfs send [-i|-I BASE] SNAP`: the stream is JSON naming the snapshots it carries."""
    import json

    snap = rest[-1]
    if snap not in host.facts.of("snapshot"):
        return fail(f"cannot open '{snap}': dataset does not exist", 1)
    dataset, chain = snap.split("@")[0], _snaps_of(host, snap.split("@")[0])
    base = (opts.get("I") or opts.get("i") or [""])[0]
    if base:
        base = base if "@" in base else f"{dataset}{base}"
        if base not in chain or chain.index(base) >= chain.index(snap):
            return fail(f"cannot send '{snap}': incremental source ({base}) is not earlier than it", 1)
        carried = chain[chain.index(base) + 1:chain.index(snap) + 1] if "I" in opts else [snap]
    else:
        carried = [snap]
    return Result(0, json.dumps({"zfs_stream": True, "base": base.split("@")[-1] if base else None,
                                 "snapshots": [n.split("@")[1] for n in carried]}))


def _resume_stream(host: Any, token: str) -> Result:
    """`zfs send -t TOKEN`: the rest of the stream an interrupted `zfs receive -s` saved."""
    import base64

    try:
        return Result(0, base64.b64decode(token.removeprefix("1-sim-"), validate=True).decode())
    except ValueError:
        return fail("cannot resume send: 'token' is not a valid resume token", 1)


def _receive(host: Any, target: str, stream: str, resumable: bool = False) -> Result:
    """`zfs receive [-s] -u TARGET`: a full stream creates TARGET; an incremental one needs TARGET's
    latest snapshot to be the stream's base. Never -F: a modified target is refused, as zfs does.
    `sim.interrupt_receive: N` breaks the next N streams; with -s the target keeps a resume token."""
    import base64
    import json

    try:
        data = json.loads(stream)
        assert data.get("zfs_stream")
    except (ValueError, AssertionError):
        return fail("cannot receive: invalid stream (bad magic number)", 1)
    found = _find(host, target)
    exists = found is not None
    token = found.info.get("receive_resume_token") if found is not None else None
    if token and not data.get("resumed"):
        return fail(f"cannot receive new filesystem stream: destination {target} contains partially-complete "
                    "state from \"zfs receive -s\".", 1)
    if host.facts.sim.get("interrupt_receive", 0) > 0:
        host.facts.sim["interrupt_receive"] -= 1
        if not resumable:
            return fail("cannot receive: failed to read from stream", 1)
        if not exists:
            host.facts.of("dataset")[target] = found = _new_dataset(host, {}, None)
        saved = base64.b64encode(json.dumps({**data, "resumed": True}).encode()).decode()
        found.info["receive_resume_token"] = "1-sim-" + saved
        host.changed()
        return fail("cannot receive new filesystem stream: checksum mismatch or incomplete stream.\n"
                    "Partially received snapshot is saved.\nA resuming stream can be generated on the sending "
                    f"system by running:\n    zfs send -t 1-sim-{saved}", 1)
    resumed = bool(data.get("resumed"))
    if resumed and found is not None:
        found.info.pop("receive_resume_token", None)
    if data["base"] is None:
        if exists and not resumed:
            return fail(f"cannot receive new filesystem stream: destination '{target}' exists\n"
                        "must specify -F to overwrite it", 1)
        if _find(host, target.rsplit("/", 1)[0]) is None:
            return fail(f"cannot receive new filesystem stream: parent of '{target}' does not exist", 1)
        if found is None:
            host.facts.of("dataset")[target] = _new_dataset(host, {}, None)
    else:
        if not exists:
            return fail(f"cannot receive incremental stream: destination '{target}' does not exist", 1)
        have = _snaps_of(host, target)
        if not have or have[-1] != f"{target}@{data['base']}":
            return fail(f"cannot receive incremental stream: most recent snapshot of {target} does not\n"
                        "match incremental source", 1)
    for snap in data["snapshots"]:
        host.facts.of("snapshot")[f"{target}@{snap}"] = Observed(spec={"properties": {}},
                                                                info={"driver": "zfs", "order": _txg(host)})
    host.changed()
    return Result(0)


def _rollback(host: Any, snap: str, recursive: bool) -> Result:
    obs = host.facts.of("snapshot").get(snap)
    if obs is None:
        return fail(f"cannot open '{snap}': dataset does not exist", 1)
    base = snap.split("@")[0]
    newer = sorted(n for n, o in host.facts.of("snapshot").items()
                   if n.startswith(base + "@") and int(o.info.get("order", 0)) > int(obs.info.get("order", 0)))
    if newer and not recursive:
        return fail(f"cannot rollback to '{snap}': more recent snapshots or bookmarks exist\n"
                    "use '-r' to force deletion of the following snapshots and bookmarks:\n" + "\n".join(newer), 1)
    for n in newer:
        del host.facts.of("snapshot")[n]
    host.facts.sim.setdefault("rollbacks", []).append(snap)
    host.changed()
    return Result(0)


__all__ = ["zpool", "zfs", "zfs_value"]
