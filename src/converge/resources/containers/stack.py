"""Kind `stack`: a compose project run by `podman-compose` or `docker compose`.

The project (`file:` in the manifest directory, or `compose:` inline) is written with converge's
labels on every service to /etc/converge/stacks/NAME/compose.yaml, its variables (`env`, secrets by
reference) to a root-only env file next to it, so no value is in an argv or a plan. Read in bulk from
the containers' labels in the one `ps -a` the container kind runs too. A changed service is
recreated by itself (`up -d --force-recreate SERVICE`); `state: down` and a delete are `down`."""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import Field, PrivateAttr, field_validator, model_validator

from ... import secrets
from ...formats import compose
from ...formats.containers import normalize_image
from ...logs import get_logger
from ...model import FieldDiff, Observed, Ref, Step
from ...secrets import SecretRef
from ..base import Context, Kind, Spec
from . import stack_boot
from .fields import check_env_names
from .parse import parse_ps
from .stack_project import (
    Resolved,
    bind_mounts,
    check_project,
    check_with_runtime,
    newer_images,
    port_clashes,
    read_file,
    resolve,
    runtime_problems,
    volume_refs,
)

log = get_logger(__name__)
STACK_DIR = "/etc/converge/stacks"
FILE_RE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]*(/[A-Za-z0-9_][A-Za-z0-9_.-]*)*")


def stack_files(name: str) -> tuple[str, str]:
    return f"{STACK_DIR}/{name}/compose.yaml", f"{STACK_DIR}/{name}/.env"


class StackSpec(Spec):
    runtime: Literal["podman", "docker"] = "podman"
    file: str | None = Field(None, description="a compose file in the manifest directory (relative path), named "
                             "compose.yaml, docker-compose.yml or NAME.compose.yaml (never read as a manifest)")
    compose: dict[str, Any] | None = Field(None, description="the compose project inline (services:, volumes:, ...)")
    env: dict[str, str | SecretRef] = Field(default_factory=dict, description="variables the project uses "
                                            "(${VAR}); a secret by reference: {secret: NAME} or {env: VAR}")
    state: Literal["up", "down"] = Field("up", json_schema_extra={"x-converge-always": True})
    pull: Literal["missing", "always", "newer"] = Field(
        "missing", description="missing: the runtime pulls what is not local; always: pull the images of the "
        "services an apply (re)creates first; newer (podman): also recreate a service whose image moved on "
        "(the registry's digest where it answers, else the local store)", json_schema_extra={"x-converge-meta": True})
    _project: dict[str, Any] | None = PrivateAttr(None)  # the file's content, once the manifests are validated
    _compared: dict[str, Any] | None = PrivateAttr(None)  # the resolved form (desired_specs)

    @field_validator("file")
    @classmethod
    def _file(cls, v: str | None) -> str | None:
        if v is None:
            return None
        if not FILE_RE.fullmatch(v) or ".." in v.split("/"):
            raise ValueError(f"{v!r}: a compose file is a relative path inside the manifest directory")
        if not compose.is_compose_file(v):
            raise ValueError(f"{v!r}: name the file compose.yaml, docker-compose.yml or NAME.compose.yaml "
                             "(other *.yaml files are read as manifests)")
        return v

    @field_validator("compose")
    @classmethod
    def _compose(cls, v: dict[str, Any] | None) -> dict[str, Any] | None:
        if v is not None:
            for path, message in check_project(v):
                raise ValueError(f"{path}: {message}" if path else message)
        return v

    @field_validator("env")
    @classmethod
    def _env(cls, v: dict[str, Any]) -> dict[str, Any]:
        check_env_names(v)
        for name, value in v.items():
            if isinstance(value, str) and not compose.dotenv_safe(value):
                raise ValueError(f"env {name}: a value may not hold a quote, a backslash or a line break")
        return v

    @model_validator(mode="after")
    def _one_source(self) -> "StackSpec":
        if (self.file is None) == (self.compose is None):
            raise ValueError("a stack takes either file: (a compose file) or compose: (the project inline)")
        for path, message in runtime_problems(self.compose, self.runtime) if self.compose else []:
            raise ValueError(f"compose.{path}: {message}")
        return self

    def project(self) -> dict[str, Any] | None:
        return self.compose if self.compose is not None else self._project

    def declared(self) -> dict[str, Any]:
        """Resolved (see desired_specs): what the host's containers are compared with."""
        return self._compared if self._compared is not None else super().declared()


class StackKind(Kind[StackSpec]):
    kind = "stack"
    section = ("stacks",)
    spec = StackSpec
    name_pattern = re.compile(r"[a-z0-9][a-z0-9_-]{0,62}")
    name_allowed = "a lowercase letter or digit, then up to 62 lowercase letters, digits, '_', '-' (a compose project name)"
    tools = ("podman", "docker")
    importable = False  # the host knows the services' labels, not the compose file they came from

    def depends(self, name: str, spec: StackSpec) -> list[Ref]:
        project = spec.project()
        return volume_refs(project) if project else []

    def validate_set(self, specs: dict[str, StackSpec], desired: Any) -> list[tuple[str, str, str]]:
        """Reads each `file:` (so its datasets count as dependencies) and checks it as compose: inline."""
        problems = []
        directory = str(getattr(desired, "directory", "") or "")
        for name, spec in sorted(specs.items()):
            if spec.file is None:
                continue
            project, why = read_file(spec.file, directory)
            if project is None:
                problems.append((name, "file", why))
                continue
            found = check_project(project)
            found = found or runtime_problems(project, spec.runtime)
            problems += [(name, "file", f"{spec.file}: {path}: {message}" if path else f"{spec.file}: {message}")
                         for path, message in found]
            if not found:
                spec._project = project
        return problems + port_clashes(specs, desired)

    def desired_specs(self, ctx: Context) -> dict[str, StackSpec]:
        out = {}
        for name, spec in ctx.specs(self.kind).items():
            copy = spec.model_copy()
            copy._compared = resolve(name, spec, ctx).form
            if stack_boot.wanted(spec, ctx):
                copy._compared = {**copy._compared, "boot": True}
            out[name] = copy
        return out

    # -- host ----------------------------------------------------------------------------------
    def read(self, ctx: Context) -> dict[str, Observed]:
        """Containers labelled converge.stack=NAME, grouped by project; a declared stack that is
        down reads as down (nothing to create)."""
        found: dict[str, Observed] = {}
        declared = ctx.specs(self.kind)
        for runtime in ("podman", "docker"):
            if not ctx.host.has(runtime):
                continue
            text = self._ps(runtime, ctx, any(s.runtime == runtime for s in declared.values()))
            for row in parse_ps(runtime, text or ""):
                labels = row["labels"]
                stack, service = labels.get(compose.STACK_LABEL), labels.get(compose.SERVICE_LABEL)
                if not stack or not service or labels.get(compose.PROJECT_LABEL) != stack:
                    continue
                obs = found.setdefault(stack, Observed(spec={"runtime": runtime, "state": "up", "services": {}},
                                                       managed=True, info={"containers": {}}))
                summary = compose.summary_from_labels(labels, normalize_image(row["image"]))
                summary["state"] = "running" if row["state"] == "running" else "stopped"
                obs.spec["services"][service] = summary
                obs.info["containers"][service] = row["name"]
            if runtime == "podman":
                newer_images(found, declared, text or "", ctx)
        for name, spec in declared.items():
            if name in found and stack_boot.wanted(spec, ctx) and found[name].spec["runtime"] == "podman":
                found[name].spec["boot"] = stack_boot.observed_boot(name, self._unit(name, spec, ctx), ctx)
            if name not in found and spec.state == "down":
                found[name] = Observed(spec={"runtime": spec.runtime, "state": "down"}, info={"containers": {}})
        return found

    def _ps(self, runtime: str, ctx: Context, wanted: bool) -> str | None:
        """The container kind's `ps -a` of this pass when it ran one, else our own."""
        shared = ctx.reads.get("ps", {}).get(runtime)
        if shared is not None:
            return str(shared)
        from .cli import CliDriver

        answer = ctx.host.run(CliDriver(runtime).ps_argv(), check=wanted)
        if answer.returncode != 0:
            log.warning("container runtime not answering", runtime=runtime, error=answer.stderr.strip())
            return None
        ctx.reads.setdefault("ps", {})[runtime] = answer.stdout
        return answer.stdout

    def _unit(self, name: str, spec: StackSpec, ctx: Context) -> str:
        return stack_boot.unit_text(name, stack_files(name)[0], bind_mounts(name, spec, ctx), ctx)

    def owned_files(self, ctx: Context) -> list[str]:
        names = set(ctx.specs(self.kind)) | set(ctx.facts.of(self.kind))
        return sorted(stack_files(n)[0] for n in names)

    def create(self, name: str, spec: StackSpec, ctx: Context) -> list[Step]:
        if spec.state == "down":
            return []
        return self._up(name, spec, ctx, services=None) + self._boot(name, spec, ctx)

    def _boot(self, name: str, spec: StackSpec, ctx: Context) -> list[Step]:
        return stack_boot.install(name, self._unit(name, spec, ctx), ctx) if stack_boot.wanted(spec, ctx) else []

    def update(self, name: str, spec: StackSpec, observed: Observed, diffs: list[FieldDiff],
               ctx: Context) -> list[Step]:
        if spec.state == "down":
            return self._down(name, observed, ctx) + stack_boot.removal(name, ctx)
        boot = self._boot(name, spec, ctx) if any(d.path == "boot" for d in diffs) else []
        if any(d.path == "runtime" for d in diffs):  # the other runtime's containers go first
            return self._down(name, observed, ctx) + stack_boot.removal(name, ctx) + \
                self._up(name, spec, ctx, services=None) + self._boot(name, spec, ctx)
        changed = {d.path.split(".")[1] for d in diffs if d.path.startswith("services.")}
        wanted = resolve(name, spec, ctx).form.get("services") or {}
        gone = sorted(s for s in changed if wanted.get(s) is None)
        steps = []
        runtime = observed.spec.get("runtime", spec.runtime)
        for service in gone:
            container = observed.info.get("containers", {}).get(service)
            if container:
                if (observed.spec.get("services", {}).get(service) or {}).get("state") == "running":
                    steps.append(Step(argv=[runtime, "stop", container], note=f"service {service} is gone"))
                steps.append(Step(argv=[runtime, "rm", container], note=f"service {service} is gone"))
        recreate = sorted(changed - set(gone))
        if observed.spec.get("state") != "up":
            return steps + self._up(name, spec, ctx, services=None) + self._boot(name, spec, ctx)
        if recreate:
            steps += self._up(name, spec, ctx, services=recreate)
        return steps + boot

    def delete(self, name: str, observed: Observed, ctx: Context) -> list[Step]:
        path, env_path = stack_files(name)
        return self._down(name, observed, ctx) + stack_boot.removal(name, ctx) + [Step(op="remove", path=env_path, note="the stack's variables"),
                                                  Step(op="remove", path=path, note="the stack's compose file")]

    # -- steps ---------------------------------------------------------------------------------
    def _base(self, name: str, runtime: str, ctx: Context) -> list[str]:
        path, env_path = stack_files(name)
        if runtime == "docker":
            return ["docker", "compose", "-p", name, "-f", ctx.host.path(path), "--env-file", ctx.host.path(env_path)]
        return ["podman-compose", "-p", name, "-f", ctx.host.path(path)]  # reads the .env next to the file

    def _up(self, name: str, spec: StackSpec, ctx: Context, services: list[str] | None) -> list[Step]:
        """Write the project and its variables, pull when asked, then `up -d` (all, or the services
        whose definition changed: recreated, the others left running)."""
        resolved = resolve(name, spec, ctx)
        check_with_runtime(name, spec, ctx)
        base = self._base(name, spec.runtime, ctx)
        steps = self._write(name, resolved)
        if spec.pull in ("always", "newer"):
            steps.append(Step(argv=[*base, "pull", *(services or [])], note="pull the images"))
        # the secrets' sources: their values are blanked out of the output of a failed `up` (podman-compose
        # prints every `podman run -e NAME=value` it runs)
        hidden = secrets.join_sources([src for _, src in sorted(resolved.secret_sources.items())])
        if services is None:
            steps.append(Step(argv=[*base, "up", "-d"], secret=hidden, note="create and start every service"))
        else:
            no_deps = ["--no-deps"] if spec.runtime == "docker" else []  # podman-compose 1.0.3 ignores it
            steps.append(Step(argv=[*base, "up", "-d", "--force-recreate", *no_deps, *services], secret=hidden,
                              note="recreate the changed services"))
        return steps

    def _write(self, name: str, resolved: Resolved) -> list[Step]:
        import json

        path, env_path = stack_files(name)
        values = dict(resolved.plain_env)
        sources = sorted(resolved.secret_sources.items())
        for i, (var, _) in enumerate(sources):
            values[var] = secrets.mark(i, len(sources))
        text = json.dumps(resolved.project, indent=2, sort_keys=True) + "\n"  # JSON is YAML: no dumper needed
        return [Step(op="write", path=env_path, content=compose.dotenv(values), mode=0o600,
                     secret=secrets.join_sources([src for _, src in sources]), note="the stack's variables (root only)"),
                Step(op="write", path=path, content=text, mode=0o600, note="the compose project with converge's labels")]

    def _down(self, name: str, observed: Observed, ctx: Context) -> list[Step]:
        runtime = observed.spec.get("runtime", "podman")
        containers = observed.info.get("containers", {})
        if not containers:
            return []
        path, _ = stack_files(name)
        steps = []
        if path in ctx.facts.files:
            steps.append(Step(argv=[*self._base(name, runtime, ctx), "down"], note="stop and remove the services"))
        else:  # converge's file is gone: remove the project's containers by name
            for service, container in sorted(containers.items()):
                if (observed.spec.get("services", {}).get(service) or {}).get("state") == "running":
                    steps.append(Step(argv=[runtime, "stop", container], note=f"stop {service}"))
                steps.append(Step(argv=[runtime, "rm", container], note=f"remove {service}"))
        return steps
