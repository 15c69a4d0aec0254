"""The podman/docker driver: both CLIs take the same verbs and answer `inspect` in the same shape.

Reads are bulk: one `ps -a`, one `images` and one `inspect` of the containers converge owns or
is asked about, per runtime. Every container converge creates carries `converge.managed=true`
plus two bookkeeping labels (`converge.env`: the names of the env vars the manifest set, so the
image's own PATH etc. are never compared; `converge.env-file`). Containers are immutable here:
create-only fields are realised by a replace (stop, rm, create, start); `rm` never gets `-v`, so
volumes survive. State is start/stop; a restart stamp is `restart`."""

from __future__ import annotations

import json
from typing import Any

from pydantic import ValidationError

from ...formats.containers import normalize_image
from ...logs import get_logger
from ...model import Observed, Ref, Step
from ..base import Context, record_managed, record_stamp
from .common import desired_specs, map_volumes_to_declared, resolve_volume, spec_form
from .fields import health_argv, map_declared
from .parse import (
    ENV_FILE_LABEL,
    ENV_LABEL,
    MANAGED_LABEL,
    honoured_stop,
    inspect_name,
    parse_images,
    parse_ps,
    spec_from_inspect,
    spec_from_ps,
)

log = get_logger(__name__)


class CliDriver:
    """One docker-compatible CLI (`podman` or `docker`)."""

    def __init__(self, runtime: str) -> None:
        self.runtime = runtime

    # -- read ------------------------------------------------------------------------------
    def ps_argv(self) -> list[str]:
        if self.runtime == "podman":
            return ["podman", "ps", "-a", "--format", "json"]
        # docker 20.10 (Debian's docker.io) has no `--format json`; `{{json .}}` is one object a line.
        return ["docker", "ps", "-a", "--no-trunc", "--format", "{{json .}}"]

    def images_argv(self) -> list[str]:
        if self.runtime == "podman":
            return ["podman", "images", "--format", "json"]
        return ["docker", "images", "--no-trunc", "--format", "{{json .}}"]

    def read(self, ctx: Context) -> dict[str, Observed]:
        host = ctx.host
        wanted = {n for n, s in desired_specs(ctx, "container").items() if s.runtime == self.runtime}
        ps = host.run(self.ps_argv(), check=bool(wanted))
        if ps.returncode != 0:  # a docker CLI without a daemon, on a host whose manifests use no docker
            log.warning("container runtime not answering", runtime=self.runtime, error=ps.stderr.strip())
            return {}
        ctx.reads.setdefault("ps", {})[self.runtime] = ps.stdout  # the stack kind reads the same answer
        # a compose stack's containers are the stack kind's (converge.stack label), never single containers
        listed = [c for c in parse_ps(self.runtime, ps.stdout) if "converge.stack" not in c["labels"]]
        chosen = [c for c in listed if c["labels"].get(MANAGED_LABEL) == "true" or c["name"] in wanted
                  or ctx.managed_in_state(Ref(kind="container", name=c["name"]))]
        details: dict[str, dict[str, Any]] = {}
        if chosen:
            out = host.run([self.runtime, "inspect", *[c["id"] for c in chosen]]).stdout
            details = {inspect_name(d): d for d in json.loads(out or "[]")}
        newer = self.newer_images(ctx, details)
        result = {}
        for c in listed:
            ref = Ref(kind="container", name=c["name"])
            raw = details.get(c["name"])
            spec = spec_from_inspect(self.runtime, raw) if raw else spec_from_ps(self.runtime, c)
            spec = map_declared(map_volumes_to_declared(spec, c["name"], ctx), desired_specs(ctx, "container").get(c["name"]))
            spec["restart_requested"] = ctx.stamp(ref, "restart_requested")
            spec["stop_requested"] = honoured_stop(ctx, ref, desired_specs(ctx, "container").get(c["name"]))
            if c["name"] in newer:  # the image moved on: read as the digest it runs, a replace follows
                spec["image"] = f"{spec['image'].split('@')[0]}@{newer[c['name']][0]}"
            try:
                spec = spec_form(spec)
            except ValidationError as e:  # an odd container made by hand must not hide the others
                log.warning("container not readable", name=c["name"], error=str(e))
                continue
            labels = (raw or {}).get("Config", {}).get("Labels") or c["labels"]
            result[c["name"]] = Observed(
                spec=spec,
                managed=labels.get(MANAGED_LABEL) == "true" or ctx.managed_in_state(ref),
                info={"id": c["id"], "runtime": self.runtime, "status": c["status"],
                      "stop_timeout": (raw or {}).get("Config", {}).get("StopTimeout"),
                      "image_id": (raw or {}).get("Image"), "image_digest": (raw or {}).get("ImageDigest"),
                      "converge_labels": {k: v for k, v in sorted(labels.items()) if k.startswith("converge.")}})
        return result

    def newer_images(self, ctx: Context, details: dict[str, dict[str, Any]]) -> dict[str, tuple[str, str, str]]:
        """Containers declared `pull: newer` whose image has another digest now: name -> (digest it
        runs, digest available, where from). The registry is asked with skopeo where the host has it
        and it answers; else the local store (`image inspect`, one call for all) is the reference."""
        specs = {n: s for n, s in desired_specs(ctx, "container").items()
                 if s.runtime == self.runtime and s.pull == "newer" and n in details}
        if not specs:
            return {}
        found: dict[str, tuple[str, str, str]] = {}
        local: dict[str, dict[str, Any]] = {}
        images = sorted({s.image for s in specs.values()})
        listed = ctx.host.run([self.runtime, "image", "inspect", *images], check=False)
        for row in json.loads(listed.stdout or "[]") if listed.returncode == 0 or listed.stdout.strip() else []:
            for ref in row.get("RepoTags") or row.get("Names") or []:
                local[normalize_image(ref)] = row
        for name, spec in sorted(specs.items()):
            raw = details[name]
            remote = self.registry_digest(ctx, spec.image)
            if remote and raw.get("ImageDigest"):
                if remote != raw["ImageDigest"]:
                    found[name] = (raw["ImageDigest"], remote, "registry")
                continue
            row = local.get(spec.image)
            if row is not None and row.get("Id") and raw.get("Image") and row["Id"].removeprefix("sha256:") \
                    != str(raw["Image"]).removeprefix("sha256:"):
                old = raw.get("ImageDigest") or raw["Image"]
                found[name] = (old if ":" in old else f"sha256:{old}",
                               row.get("Digest") or row["Id"], "local")
        ctx.reads.setdefault("container", {}).setdefault("newer", {}).update(found)
        return found

    def registry_digest(self, ctx: Context, image: str) -> str | None:
        if not ctx.host.has("skopeo") or image.startswith("localhost/"):
            return None
        answer = ctx.host.run(["skopeo", "inspect", "--format", "{{.Digest}}", f"docker://{image}"], check=False)
        return answer.stdout.strip() or None if answer.returncode == 0 else None

    def local_images(self, ctx: Context) -> set[str]:
        return parse_images(self.runtime, ctx.host.run(self.images_argv()).stdout)

    # -- steps -----------------------------------------------------------------------------
    def create(self, name: str, spec: Any, ctx: Context, images: set[str] | None) -> list[Step]:
        steps = []
        moved = ctx.reads.get("container", {}).get("newer", {}).get(name)
        # pull: newer with a registry that answers: a new container starts from the registry's image,
        # never from a stale local copy (the next read would find it behind and replace it)
        fresh = spec.pull == "newer" and not moved and self.registry_digest(ctx, spec.image) is not None
        if images is None or spec.image not in images or spec.pull == "always" or fresh or moved and moved[2] == "registry":
            note = f"pull image {spec.image}" + (f" (digest {moved[1]})" if moved else "")
            steps.append(Step(argv=[self.runtime, "pull", spec.image], note=note))
        steps += self.create_steps(name, spec, ctx)
        return steps

    def create_steps(self, name: str, spec: Any, ctx: Context) -> list[Step]:
        """`create` (never `run`: the pull is its own step, so create gets `--pull never`), then start."""
        argv = [self.runtime, "create", "--pull", "never", "--name", name, "--label", f"{MANAGED_LABEL}=true"]
        if spec.env:
            argv += ["--label", f"{ENV_LABEL}={','.join(sorted(spec.env))}"]
        if spec.env_file:
            argv += ["--label", f"{ENV_FILE_LABEL}={spec.env_file}", "--env-file", spec.env_file]
        for key, value in sorted(spec.labels.items()):
            argv += ["--label", f"{key}={value}"]
        for key, value in sorted(spec.env.items()):
            argv += ["--env", f"{key}={value}"]
        for port in spec.ports or []:
            argv += ["--publish", port]
        for volume in spec.volumes or []:
            argv += ["--volume", resolve_volume(volume, ctx)]
        if spec.network:
            argv += ["--network", spec.network]
        if spec.restart:
            argv += ["--restart", spec.restart]
        if spec.cpus is not None:
            argv += ["--cpus", f"{spec.cpus:g}"]
        if spec.memory is not None:
            argv += ["--memory", str(spec.memory)]
        if spec.pids_limit is not None:
            argv += ["--pids-limit", str(spec.pids_limit)]
        argv += self.more_flags(spec)
        argv += [spec.image, *(spec.command or [])]
        # whole `NAME=value` arguments: a short value ("1") must not blank out the rest of the line
        secrets = [f"{k}={v}" for k, v in sorted(spec.env.items())]
        steps = [Step(argv=argv, redact=secrets, note="create the container")]
        if spec.state == "running":
            steps.append(Step(argv=[self.runtime, "start", name], note="start"))
        ref = Ref(kind="container", name=name)
        if spec.restart_requested:  # a new container has just (re)started: the stamp is honoured
            steps.append(record_stamp(ref, "restart_requested", spec.restart_requested))
        if spec.stop_requested:  # nothing of the old container is left to stop
            steps.append(record_stamp(ref, "stop_requested", spec.stop_requested.at))
        return steps

    def more_flags(self, spec: Any) -> list[str]:
        argv: list[str] = []
        if spec.entrypoint:  # podman takes a JSON list; docker one program (its args go in command)
            argv += ["--entrypoint", json.dumps(spec.entrypoint, separators=(",", ":"))
                     if self.runtime == "podman" else spec.entrypoint[0]]
        for device in spec.devices or []:
            argv += ["--device", device]
        for cap in spec.cap_add or []:
            argv += ["--cap-add", cap]
        for cap in spec.cap_drop or []:
            argv += ["--cap-drop", cap]
        if spec.user:
            argv += ["--user", spec.user]
        if spec.healthcheck:
            argv += health_argv(spec.healthcheck, self.runtime)
        for network in spec.networks or []:
            argv += ["--network", network]
        if spec.stop_timeout is not None:
            argv += ["--stop-timeout", str(spec.stop_timeout)]
        return argv

    def stop_argv(self, name: str, timeout: int | None) -> list[str]:
        return [self.runtime, "stop", *(["-t", str(timeout)] if timeout is not None else []), name]

    def update(self, name: str, spec: Any, observed: Observed, paths: set[str], ctx: Context) -> list[Step]:
        ref = Ref(kind="container", name=name)
        steps = []
        if not observed.managed:  # adoption: a label cannot be added to an existing container
            steps.append(record_managed(ref, True))
        running = observed.spec.get("state") == "running"
        if "state" in paths and spec.state != observed.spec.get("state"):
            if spec.state == "running":
                steps.append(Step(argv=[self.runtime, "start", name], note="start"))
            else:
                timeout, request = spec.stop_timeout, spec.stop_requested
                if request and "stop_requested" in paths:  # a stop requested with parameters, honoured once
                    timeout = 0 if request.force else request.timeout if request.timeout is not None else timeout
                steps.append(Step(argv=self.stop_argv(name, timeout), note="stop"))
            running = spec.state == "running"
        elif "restart_requested" in paths and spec.restart_requested and running:
            timeout = ["-t", str(spec.stop_timeout)] if spec.stop_timeout is not None else []
            steps.append(Step(argv=[self.runtime, "restart", *timeout, name], note="restart requested"))
        if "restart_requested" in paths:
            steps.append(record_stamp(ref, "restart_requested", spec.restart_requested))
        if "stop_requested" in paths:
            steps.append(record_stamp(ref, "stop_requested", spec.stop_requested.at if spec.stop_requested else None))
        return steps

    def delete(self, name: str, observed: Observed, ctx: Context, timeout: int | None = None) -> list[Step]:
        """A stop waits the declared stop_timeout when the manifest has one (a replace), else what the
        container was made with (the runtime's own default)."""
        steps = []
        if observed.spec.get("state") == "running":
            steps.append(Step(argv=self.stop_argv(name, timeout), note="stop"))
        # no `-v`: volumes hold data, containers do not
        steps.append(Step(argv=[self.runtime, "rm", name], note="remove the container (volumes stay)"))
        ref = Ref(kind="container", name=name)
        if ctx.managed_in_state(ref):
            steps.append(record_managed(ref, False))
        return steps

    def replace(self, name: str, spec: Any, observed: Observed, ctx: Context, images: set[str] | None) -> list[Step]:
        """Pull first, so a missing image fails before the old container is gone."""
        create = self.create(name, spec, ctx, images)
        pulls = [s for s in create if s.argv[1:2] == ["pull"]]
        removal = [s for s in self.delete(name, observed, ctx, spec.stop_timeout) if s.op == "run"]
        return pulls + removal + [s for s in create if s not in pulls]
