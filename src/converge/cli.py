"""The `converge` command. Every error a user can cause prints as a message and exits 1;
no traceback. `plan --detailed-exitcode`: 0 no changes, 1 error, 2 changes."""

from __future__ import annotations

import functools
import json
import os
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import click

from . import __version__
from .errors import ConvergeError, ManifestError

if TYPE_CHECKING:
    from . import engine
    from .model import Ref

# Each command imports what it needs (the engine, pydantic models, the API stack) when it runs:
# `--version` and `--help` start in a fraction of the time (bench/startup.py).

HOST_HELP = "local, or sim:PATH (default: converge.yaml's host, else sim:DIR/.converge/sim-host.json)"


def _plural(label: str, n: int) -> str:
    return label if n == 1 else label[:-1] + "ies" if label.endswith("y") else label + "s"


def _fail(message: str) -> None:
    click.echo(message, err=True)
    sys.exit(1)


def reports_errors(fn: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except ManifestError as e:
            n = len(e.issues)
            _fail(f"{e}\n{n} error{'s' if n != 1 else ''}; nothing was changed.")
        except ConvergeError as e:
            _fail(f"error: {e}")
        except (OSError, ValueError) as e:
            _fail(f"error: {e}")
        except Exception as e:  # a bug in converge: say so plainly; the traceback on request
            if os.environ.get("CONVERGE_DEBUG"):
                raise
            _fail(f"internal error: {type(e).__name__}: {e} (a bug in converge; CONVERGE_DEBUG=1 shows the traceback)")
    return wrapper


def _refs(values: tuple[str, ...], option: str) -> list[Ref]:
    from .model import Ref

    try:
        return [Ref.parse(v) for v in values]
    except ValueError as e:
        raise click.BadParameter(str(e), param_hint=option) from None


def _target(directory: str, host: str | None, root: str | None, quiet: bool = False) -> engine.Target:
    from . import engine

    target = engine.open_target(directory, host, root)
    if target.note and not quiet:
        click.echo(target.note, err=True)
    return target


def _style() -> Any:
    return click.style if sys.stdout.isatty() else None


directory_arg = click.argument("directory", default=".", type=click.Path(file_okay=False))


def fleet_options(fn: Callable[..., Any]) -> Callable[..., Any]:
    """--all / --limit / --forks: run on the hosts of converge.yaml's inventory (fleet/commands.py)."""
    fn = click.option("--forks", default=10, show_default=True, type=click.IntRange(1, 256),
                      help="hosts at a time (fleet)")(fn)
    fn = click.option("--limit", metavar="NAME,GROUP,TAG", help="these hosts of the inventory")(fn)
    return click.option("--all", "all_hosts", is_flag=True, help="every host of the inventory")(fn)
host_opt = click.option("--host", "host", help=HOST_HELP)
root_opt = click.option("--root", help="put every file converge writes under this directory")


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, package_name="converge")
def main() -> None:
    """Keep a NAS / homelab host in the state its YAML manifests declare."""
    _configure_logging()


def _configure_logging() -> None:
    from .logs import configure

    configure()


@main.command()
@directory_arg
@host_opt
@root_opt
@fleet_options
@reports_errors
def validate(directory: str, host: str | None, root: str | None, all_hosts: bool = False,
             limit: str | None = None, forks: int = 10) -> None:
    """Check the manifests (and that everything they reference exists). With --all/--limit: each
    host's manifest directories, and which resource of an overlay wins over a shared one."""
    from . import engine

    if all_hosts or limit:
        from .fleet.commands import fleet_validate

        return fleet_validate(directory, None if all_hosts else limit, forks)

    target = _target(directory, host, root)
    desired, _ = engine.load_checked(target)
    from .resources import BY_KIND

    counts = ", ".join(f"{n} {_plural(BY_KIND[k].human(), n)}" for k, n in desired.count().items() if n)
    click.echo(f"valid: {len(desired.files)} {_plural('file', len(desired.files))}, {counts or 'no resources'}")


@main.command()
def schema() -> None:
    """Print the JSON Schema of manifests (editors validate with it)."""
    from .schema import manifest_schema

    click.echo(json.dumps(manifest_schema(), indent=2, sort_keys=False))


@main.command()
@directory_arg
@host_opt
@root_opt
@click.option("--json", "as_json", is_flag=True, help="machine output (stable; see docs/plan-json.md)")
@click.option("--detailed-exitcode", is_flag=True, help="exit 0 no changes, 1 error, 2 changes")
@click.option("-o", "--out", type=click.Path(dir_okay=False), help="save the plan for `converge apply PLANFILE`")
@click.option("--target", "targets", multiple=True, metavar="KIND/NAME", help="only these (and what they need)")
@click.option("--allow-destroy", multiple=True, metavar="KIND/NAME", help="allow destroying this resource's data")
@click.option("--after-reboot", is_flag=True, help="simulated host: plan against a rebooted copy of it")
@fleet_options
@reports_errors
def plan(directory: str, host: str | None, root: str | None, as_json: bool, detailed_exitcode: bool,
         out: str | None, targets: tuple[str, ...], allow_destroy: tuple[str, ...], after_reboot: bool = False,
         all_hosts: bool = False, limit: str | None = None, forks: int = 10) -> None:
    """Show what apply would change. Runs nothing on the host. With --all/--limit: each host of
    the inventory (-o names a directory: one saved plan per host)."""
    from . import engine
    from .planner.render import render_plan

    if all_hosts or limit:
        from .fleet.commands import fleet_plan

        return fleet_plan(directory, None if all_hosts else limit, forks, as_json=as_json,
                          detailed=detailed_exitcode, out=out, targets=_refs(targets, "--target") or None,
                          allow_destroy=set(_refs(allow_destroy, "--allow-destroy")), style=_style())

    target = _target(directory, host, root, quiet=as_json)
    if after_reboot:
        from .hosts.sim.reboot import rebooted_copy

        if out:
            raise ConvergeError("--after-reboot plans against a copy of the host: it cannot be saved with -o")
        target = rebooted_copy(target)
    result, ctx = engine.plan(target, allow_destroy=set(_refs(allow_destroy, "--allow-destroy")),
                              targets=_refs(targets, "--target") or None)
    if out:
        from .fsutil import atomic_write

        atomic_write(out, result.model_dump_json(indent=1) + "\n", 0o600)
    if as_json:
        click.echo(result.redacted().model_dump_json(indent=1))
    else:
        click.echo(render_plan(result, _style()))
        from .resources.policies.info import info_lines

        for line in info_lines(ctx):  # information, not changes
            click.echo(f"info: {line}")
        if out:
            click.echo(f"saved to {out}; run `converge apply {out}` to apply exactly this plan")
    if detailed_exitcode and not result.empty:
        sys.exit(2)


@main.command()
@click.argument("source", default=".", type=click.Path())
@host_opt
@root_opt
@click.option("--target", "targets", multiple=True, metavar="KIND/NAME")
@click.option("--allow-destroy", multiple=True, metavar="KIND/NAME")
@click.option("--parallelism", default=4, show_default=True, type=click.IntRange(1, 64))
@click.option("--lock-timeout", default=0.0, type=float, help="seconds to wait for another apply")
@click.option("--confirm-timeout", type=click.IntRange(5, 3600), metavar="SECONDS",
              help="network changes roll back unless `converge confirm` comes within SECONDS")
@fleet_options
@reports_errors
def apply(source: str, host: str | None, root: str | None, targets: tuple[str, ...],
          allow_destroy: tuple[str, ...], parallelism: int, lock_timeout: float,
          confirm_timeout: int | None, all_hosts: bool = False, limit: str | None = None, forks: int = 10) -> None:
    """Make the host match the manifests (SOURCE: a directory, or a plan saved with plan -o).
    With --all/--limit: each host of the inventory, --forks at a time."""
    from . import engine
    from .model import Plan
    from .planner.render import render_plan

    if (all_hosts or limit) and not os.path.isfile(source):
        from .fleet.commands import fleet_apply

        return fleet_apply(source, None if all_hosts else limit, forks, targets=_refs(targets, "--target") or None,
                           allow_destroy=set(_refs(allow_destroy, "--allow-destroy")), parallelism=parallelism,
                           lock_timeout=lock_timeout, style=_style())

    saved = None
    if os.path.isfile(source):
        with open(source, encoding="utf-8") as f:
            try:
                saved = Plan.model_validate_json(f.read())
            except ValueError as e:
                raise ConvergeError(f"{source}: not a saved converge plan ({str(e).splitlines()[0]})") from None
        if saved.inventory_host:  # a fleet plan: its own host of the inventory, never another
            from .fleet.commands import saved_plan_target

            target = saved_plan_target(saved, host, limit)
        else:
            target = _target(saved.directory, host or saved.host.split(" ")[0], root)
    else:
        target = _target(source, host, root)
    if confirm_timeout:
        target.config.settings.setdefault("interface", {})["confirm_timeout"] = confirm_timeout
    from .progress import Progress

    with Progress() as progress:
        outcome = engine.reconcile(target, allow_destroy=set(_refs(allow_destroy, "--allow-destroy")),
                                   targets=_refs(targets, "--target") or None, saved=saved,
                                   parallelism=parallelism, lock_timeout=lock_timeout, on_event=progress.event)
    report = outcome.report
    for note in outcome.notes:  # a saved plan older than the manifests: what stays pending
        click.echo(note, err=True)
    if outcome.plan.empty:
        click.echo("No changes. The host matches the manifests." if not outcome.notes else "No changes in the plan.")
        return
    click.echo(render_plan(outcome.plan, _style(), show_steps=False).rsplit("\n", 1)[0])
    for failure in report.failed:
        click.echo(f"✗ {failure.ref}: {failure.step}\n    {failure.error}", err=True)
    for ref, cause in report.skipped:
        click.echo(f"- skipped {ref}: depends on {cause}", err=True)
    for ref in report.held:
        click.echo(f"✗ held {ref}: not allowed (see above)", err=True)
    click.echo(f"Applied {len(report.applied)} of {len(outcome.plan.changes)} changes "
               f"({report.commands} commands)"
               + (f"; {len(report.failed)} failed, {len(report.skipped)} skipped, {len(report.held)} held."
                  if not report.ok else "; the plan's changes converged." if outcome.notes
                  else "; converged: a new plan is empty."))
    if not report.ok:
        sys.exit(1)


@main.command()
@directory_arg
@host_opt
@root_opt
@click.option("-o", "--out", type=click.Path(), help="write here instead of stdout (fleet: a directory)")
@fleet_options
@reports_errors
def facts(directory: str, host: str | None, root: str | None, out: str | None, all_hosts: bool = False,
          limit: str | None = None, forks: int = 10) -> None:
    """Read the host's actual state (the simulated host's file format)."""
    from . import engine

    if all_hosts or limit:
        from .fleet.commands import fleet_facts

        return fleet_facts(directory, None if all_hosts else limit, forks, out)

    target = _target(directory, host, root, quiet=not out)
    ctx = engine.read_facts(target.host, None, target.config.settings)
    text = ctx.facts.model_dump_json(indent=1) + "\n"
    if out:
        from .fsutil import atomic_write

        atomic_write(out, text)
        counts = ", ".join(f"{len(v)} {k}" for k, v in ctx.facts.resources.items() if v)
        click.echo(f"wrote {out}: {counts or 'nothing found'}")
    else:
        click.echo(text, nl=False)


@main.command("import")
@directory_arg
@host_opt
@root_opt
@click.option("-o", "--out", type=click.Path(file_okay=False), help="directory for the manifests (default: DIR)")
@reports_errors
def import_(directory: str, host: str | None, root: str | None, out: str | None) -> None:
    """Write manifests for what exists on the host, so converge can adopt it."""
    from . import engine
    from .adopt import write_manifests

    target = _target(directory, host, root)
    ctx = engine.read_facts(target.host, None, target.config.settings)
    written = write_manifests(ctx.facts, out or directory)
    for path, count in written.items():
        click.echo(f"wrote {path}: {count} resources")
    if not written:
        click.echo("nothing to import")


@main.command()
@directory_arg
@host_opt
@root_opt
@reports_errors
def confirm(directory: str, host: str | None, root: str | None) -> None:
    """Keep a network change applied with a confirm timeout (else it rolls back)."""
    from .resources.network.guard import confirm as keep

    target = _target(directory, host, root)
    click.echo("confirmed: the network change stays" if keep(target.host) else "nothing waits for a confirmation")


def watch_options(fn: Callable[..., Any]) -> Callable[..., Any]:
    """The watcher's options, for `watch` and `serve --watch` (they arrive as one dict: `watching`)."""
    options = [
        click.option("--debounce", default=300, show_default=True, type=click.IntRange(10, 60000),
                     help="ms without a save before a burst of saves is applied"),
        click.option("--resync", default=60.0, show_default=True, type=float,
                     help="seconds between drift checks (0: never)"),
        click.option("--drift", type=click.Choice(["repair", "report"]), default="repair", show_default=True),
        click.option("--auto-approve-destroy", is_flag=True, help="apply destroys and replacements without approval"),
        click.option("--git-pull", type=float, metavar="SECONDS", help="fetch and fast-forward the directory this often")]

    @functools.wraps(fn)
    def wrapper(*args: Any, debounce: int, resync: float, drift: str, auto_approve_destroy: bool,
                git_pull: float | None, **kwargs: Any) -> Any:
        watching = dict(debounce_ms=debounce, resync_s=resync, drift=drift,
                        auto_approve_destroy=auto_approve_destroy, git_pull_s=git_pull)
        return fn(*args, watching=watching, **kwargs)

    for option in reversed(options):
        wrapper = option(wrapper)
    return wrapper


def report_options(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Pull mode's status push (status_push.py), for `watch` and `agent install`."""
    for option in reversed([
            click.option("--report", metavar="URL", help="post a status after every reconcile to this converge serve"),
            click.option("--report-token-file", type=click.Path(dir_okay=False), metavar="PATH",
                         help="the file holding this host's agent token (never on the command line)"),
            click.option("--report-as", metavar="NAME", help="this host's name in the fleet (default: its hostname)")]):
        fn = option(fn)
    return fn


@main.command()
@directory_arg
@host_opt
@root_opt
@watch_options
@report_options
@reports_errors
def watch(directory: str, host: str | None, root: str | None, watching: dict[str, Any], report: str | None,
          report_token_file: str | None, report_as: str | None) -> None:
    """Apply on save; hold destroys for `converge approve`; repair drift on resync."""
    import signal
    import threading

    from .watch import Watcher

    if report or report_token_file:
        from .status_push import StatusPusher

        if not (report and report_token_file):
            raise ConvergeError("--report URL and --report-token-file PATH go together")
        watching["on_event"] = StatusPusher(report, report_token_file, report_as)
    target = _target(directory, host, root)
    click.echo(f"watching {target.directory} (debounce {watching['debounce_ms']} ms, resync "
               f"{watching['resync_s']:g} s); Ctrl-C stops", err=True)
    stop = threading.Event()
    # SIGTERM (systemctl stop): finish the apply in progress, then leave; never die mid-apply.
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        Watcher(directory, host=host, root=root, **watching).run(stop)
    except KeyboardInterrupt:
        stop.set()


@main.command()
@click.argument("refs", nargs=-1, metavar="[KIND/NAME ...]")
@click.option("-C", "--directory", default=".", type=click.Path(file_okay=False), help="manifest directory")
@host_opt
@root_opt
@reports_errors
def approve(refs: tuple[str, ...], directory: str, host: str | None, root: str | None) -> None:
    """Approve held destroys/replacements (all that are held now when no REF is given)."""
    from .watch import approve as record

    chosen = record(directory, _refs(refs, "REF"), host, root)
    if not chosen:
        click.echo("nothing is waiting for an approval")
    for ref in chosen:
        click.echo(f"approved {ref}: the next reconcile applies it")


@main.command("run")
@click.argument("ref", metavar="KIND/NAME")
@click.option("-C", "--directory", default=".", type=click.Path(file_okay=False), help="manifest directory")
@host_opt
@root_opt
@click.option("--at", metavar="ISO8601", help="the run's time (default now; snapshot names are UTC)")
@click.option("--lock-timeout", default=60.0, show_default=True, type=float, help="seconds to wait for an apply")
@fleet_options
@reports_errors
def run_command(ref: str, directory: str, host: str | None, root: str | None, at: str | None,
                lock_timeout: float, all_hosts: bool = False, limit: str | None = None, forks: int = 10) -> None:
    """Run a snapshot policy, replication or pool scrub now (what its timer calls)."""
    from .runs import parse_at
    from .runs import run as run_ref

    if all_hosts or limit:
        from .fleet.commands import fleet_run

        return fleet_run(directory, None if all_hosts else limit, forks, _refs((ref,), "REF")[0], parse_at(at),
                         lock_timeout)

    target = _target(directory, host, root, quiet=True)
    for action in run_ref(target, _refs((ref,), "REF")[0], parse_at(at), lock_timeout):
        click.echo(action.line())


@main.command()
@directory_arg
@host_opt
@root_opt
@click.option("--listen", default="127.0.0.1:8470", show_default=True, help="ADDRESS:PORT")
@click.option("--auto-apply", is_flag=True, help="apply after every edit (as a job)")
@click.option("--watch", "with_watch", is_flag=True, help="also run the watcher in this process (options below)")
@watch_options
@reports_errors
def serve(directory: str, host: str | None, root: str | None, listen: str, auto_apply: bool, with_watch: bool,
          watching: dict[str, Any]) -> None:
    """The REST API: imperative calls become manifest edits (see /docs).

    Calls need a token whose role (viewer, operator, admin) reaches the route's: the first serve
    of a directory creates an admin token and prints it once on stderr; API accounts log in
    with POST /api/v1/auth/login (`converge api-user add`)."""
    import signal

    from .api.app import create_app, run
    from .api.auth import TokenStoreError, ensure_store, has_store, tokens_path
    from .api.guard import is_loopback

    # Everything is resolved now: the server must keep working if its working directory goes.
    directory = os.path.abspath(directory)
    root = os.path.abspath(root) if root else None
    if host and host.startswith("sim:"):
        host = "sim:" + os.path.abspath(host[4:])
    address = listen.rpartition(":")[0].strip("[]") or "127.0.0.1"
    if not is_loopback(address) and not has_store(directory):
        raise ConvergeError(f"refusing to listen on {address} without tokens: create one with "
                            "`converge token create NAME --role admin` (or listen on 127.0.0.1)")
    target = _target(directory, host, root)
    try:
        created = ensure_store(target.directory)
    except TokenStoreError as e:
        raise ConvergeError(f"cannot serve: {e}") from None
    if created:
        click.echo(f"created the admin token (shown only now; its hash is in {tokens_path(target.directory)}):\n"
                   f"  {created}", err=True)
    os.chdir(target.directory)
    app = create_app(target.directory, host, root, auto_apply, listen=listen,
                     allowed_hosts=target.config.api.allowed_hosts)
    watcher = None
    if with_watch:
        from .watch import Watcher

        events = app.state.service.events  # the API's event stream carries the watcher's events
        watcher = Watcher(target.directory, host=host, root=root,
                          on_event=lambda e: events.publish({"source": "watch", **e}), **watching)
        thread = watcher.start()
        # uvicorn restores the handler it found and re-raises SIGTERM into it once it has shut
        # down: this one lets the watcher finish an apply in progress before the process ends.
        signal.signal(signal.SIGTERM, lambda *_: watcher.stop.set())
    click.echo(f"converge API on http://{listen} for {target.directory} (docs: /docs)", err=True)
    try:
        run(app, listen)  # until SIGINT/SIGTERM
    finally:
        if watcher is not None:  # let an apply in progress finish rather than die with the process
            watcher.stop.set()
            thread.join()


@main.group()
def token() -> None:
    """Long-lived API tokens (for scripts; people log in with an API account)."""


ROLE_CHOICE = click.Choice(["admin", "operator", "viewer"])
TOKEN_ROLE_CHOICE = click.Choice(["admin", "operator", "viewer", "agent"])
directory_opt = click.option("-C", "--directory", default=".", type=click.Path(file_okay=False))


def _account_name(name: str) -> None:
    if not name.replace("-", "").replace("_", "").replace(".", "").isalnum() or len(name) > 64:
        raise ConvergeError("a name is up to 64 letters, digits, '-', '_', '.'")


@token.command("create")
@click.argument("name")
@click.option("--role", type=TOKEN_ROLE_CHOICE, default="viewer", show_default=True)
@click.option("--host", "for_host", metavar="HOST", help="an agent token's host: the one status it may post")
@click.option("--expires", help="lifetime: 90m, 12h, 30d, 2w (default: until revoked)")
@directory_opt
@reports_errors
def token_create(name: str, role: str, for_host: str | None, expires: str | None, directory: str) -> None:
    """Create a token for NAME (replacing one of that name); it is printed once (only its hash is kept).
    `--role agent --host HOST`: a pull-mode agent's token, which only posts HOST's status."""
    from .api.auth import create_token, parse_lifetime

    _account_name(name)
    try:
        lifetime = parse_lifetime(expires) if expires is not None else None
    except ValueError as e:
        raise ConvergeError(str(e)) from None
    click.echo(create_token(os.path.abspath(directory), name, role, lifetime=lifetime, host=for_host))


@token.command("list")
@directory_opt
@reports_errors
def token_list(directory: str) -> None:
    """Name, role, created, expires and last use of each token (never the token)."""
    from .api.auth import TokenStoreError, list_tokens

    try:
        rows = list_tokens(os.path.abspath(directory))
    except TokenStoreError as e:
        raise ConvergeError(str(e)) from None
    click.echo(f"{'NAME':20} {'ROLE':9} {'CREATED':21} {'EXPIRES':21} LAST USED")
    for r in rows:
        click.echo(f"{r['name']:20} {r['role']:9} {r['created'] or '-':21} {r['expires'] or 'never':21} "
                   f"{r['last_used'] or '-'}")


@token.command("revoke")
@click.argument("name")
@directory_opt
@reports_errors
def token_revoke(name: str, directory: str) -> None:
    """Remove NAME's token: the server refuses it from its next request."""
    from .api.auth import revoke_token

    if not revoke_token(os.path.abspath(directory), name):
        raise ConvergeError(f"no token named {name!r} (see `converge token list`)")
    click.echo(f"revoked token {name}")


@main.group("api-user")
def api_user() -> None:
    """API accounts: people log in (POST /api/v1/auth/login) with a name and a password."""


def _read_password() -> str:
    """From a prompt (twice) on a terminal, else the first line of stdin: never from argv."""
    if sys.stdin.isatty():
        return str(click.prompt("password", hide_input=True, confirmation_prompt=True))
    return sys.stdin.readline().rstrip("\r\n")


@api_user.command("add")
@click.argument("name")
@click.option("--role", type=ROLE_CHOICE, required=True)
@directory_opt
@reports_errors
def api_user_add(name: str, role: str, directory: str) -> None:
    """Create NAME (or set its role and password); the password comes from a prompt or stdin."""
    from .api import apiusers

    password = _read_password()
    try:
        new = apiusers.add(os.path.abspath(directory), name, role, password)
    except ValueError as e:
        raise ConvergeError(str(e)) from None
    click.echo(f"{'added' if new else 'updated'} API account {name} ({role})")


@api_user.command("list")
@directory_opt
@reports_errors
def api_user_list(directory: str) -> None:
    """Name, role and creation time of each API account."""
    from .api import apiusers

    click.echo(f"{'NAME':20} {'ROLE':9} CREATED")
    for r in apiusers.listing(os.path.abspath(directory)):
        click.echo(f"{r['name']:20} {r['role']:9} {r['created'] or '-'}")


@api_user.command("remove")
@click.argument("name")
@directory_opt
@reports_errors
def api_user_remove(name: str, directory: str) -> None:
    """Remove NAME and end its login sessions."""
    from .api import apiusers
    from .api.sessions import Sessions

    directory = os.path.abspath(directory)
    if not apiusers.remove(directory, name):
        raise ConvergeError(f"no API account named {name!r} (see `converge api-user list`)")
    ended = Sessions(directory, 0, 0).end_user(name)
    click.echo(f"removed API account {name}" + (f" and ended {ended} session(s)" if ended else ""))


@main.group()
def agent() -> None:
    """Pull mode: a systemd service on the host that runs `converge watch` (agent.py)."""


@agent.command("install")
@directory_arg
@host_opt
@root_opt
@click.option("--git-pull", type=float, metavar="SECONDS", help="fetch and fast-forward DIR this often")
@report_options
@reports_errors
def agent_install(directory: str, host: str | None, root: str | None, git_pull: float | None, report: str | None,
                  report_token_file: str | None, report_as: str | None) -> None:
    """Install converge-agent.service: `converge watch DIR` on the host (enabled under --root or
    where systemd is the running init)."""
    from . import agent as agents

    if report:
        from .status_push import check_url

        check_url(report)
    target = _target(directory, host, root)
    argv = agents.watch_argv(target.directory, target.host, git_pull, report, report_token_file, report_as)
    outcome = agents.install(target.host, agents.render_unit(target.directory, argv))
    for line in outcome.lines:
        click.echo(line)
    if outcome.changed:
        click.echo(f"installed {agents.UNIT}")


@agent.command("uninstall")
@directory_arg
@host_opt
@root_opt
@reports_errors
def agent_uninstall(directory: str, host: str | None, root: str | None) -> None:
    """Remove converge-agent.service (stopped and disabled first where systemd runs it)."""
    from . import agent as agents

    target = _target(directory, host, root)
    for line in agents.uninstall(target.host).lines:
        click.echo(line)


@main.group()
def sim() -> None:
    """The simulated host."""


@sim.command("reboot")
@directory_arg
@host_opt
@reports_errors
def sim_reboot(directory: str, host: str | None) -> None:
    """Reboot the simulated host: runtime state goes, what was persisted (units, files) comes back."""
    from .hosts.sim import SimHost
    from .hosts.sim.reboot import reboot

    target = _target(directory, host, None)
    if not isinstance(target.host, SimHost):
        raise ConvergeError(f"`sim reboot` reboots only a simulated host, not {target.host.name}")
    from .lock import apply_lock

    with apply_lock(target.host.lock_path()):  # never in the middle of an apply
        target.host.reload()
        lines = reboot(target.host)
    for line in lines:
        click.echo(f"up: {line}")


def run() -> None:  # pragma: no cover - console entry
    main()


if __name__ == "__main__":  # pragma: no cover
    main()
