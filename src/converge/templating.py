"""Rendering `*.yaml.j2` manifests: in Jinja2's sandbox, in a child process with bounds.

A template is input like any manifest: whoever can write the manifest directory (or send an
edit) must not run code as converge (root on a NAS), nor hang or exhaust the machine that
validates it. So templates render in ImmutableSandboxedEnvironment (no Python internals, no
mutation of lists and dicts, `range` capped at 100 000 items) with StrictUndefined, and in a
child process with a memory limit and a deadline: a loop inside a loop or `10**10**10` burns
CPU inside one Python operation, which only the end of a process stops. Output stops once it
exceeds the manifest size limit. One child renders all templates of a load.

Run as a script (the child), this file imports only the standard library and Jinja2."""

from __future__ import annotations

import json
import os
import pickle
import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .errors import Issue

TEMPLATE_SECONDS = 10.0  # all templates of one load
TEMPLATE_MEMORY = 512 * 1024**2  # address space of the rendering process


def render_templates(items: list[tuple[str, str]], variables: dict[str, Any], limit: int,
                     issues: list[Issue]) -> list[str | None]:
    """Each (shown name, template text) rendered with `variables`: its text, or None with a located
    issue. `limit`: the most characters one template may produce."""
    import subprocess

    from .errors import Issue

    if not items:
        return []
    request = pickle.dumps({"items": [text for _, text in items], "vars": variables, "limit": limit})
    argv = [sys.executable, "-P", os.path.abspath(__file__), str(TEMPLATE_MEMORY), str(int(TEMPLATE_SECONDS) + 1)]
    timed_out = False
    try:
        done = subprocess.run(argv, input=request, capture_output=True, timeout=TEMPLATE_SECONDS, check=False)
        output, errors = done.stdout, done.stderr
    except subprocess.TimeoutExpired as e:
        timed_out, output, errors = True, e.stdout or b"", e.stderr or b""
    results: list[str | None] = []
    for (shown, _), line in zip(items, output.splitlines(), strict=False):
        answer = json.loads(line)
        if "text" in answer:
            results.append(answer["text"])
        else:
            issues.append(Issue(shown, answer["line"], 0, "", answer["message"]))
            results.append(None)
    if len(results) < len(items):  # the child stopped in the middle of this one
        shown = items[len(results)][0]
        if timed_out:
            why = (f"rendering took longer than {TEMPLATE_SECONDS:g} s (a loop that does not end?); "
                   f"allowed: {TEMPLATE_SECONDS:g} s for all templates")
        else:
            last = (errors.decode("utf-8", "replace").strip().splitlines() or ["no message"])[-1]
            why = f"rendering failed ({last})"
        issues.append(Issue(shown, 0, 0, "", "template error: " + why))
        results += [None] * (len(items) - len(results))
    return results


def render_sandboxed(text: str, variables: dict[str, Any], limit: int) -> tuple[str | None, int, str]:
    """(output, 0, "") or (None, template line or 0, message)."""
    import traceback

    import jinja2
    from jinja2.sandbox import ImmutableSandboxedEnvironment, SecurityError

    env = ImmutableSandboxedEnvironment(undefined=jinja2.StrictUndefined, keep_trailing_newline=True,
                                        autoescape=False)
    try:
        template = env.from_string(text)
    except jinja2.TemplateSyntaxError as e:
        return None, e.lineno or 0, f"template error: {e.message}"
    pieces, size = [], 0
    stream = template.generate(**variables)
    try:
        for piece in stream:
            size += len(piece)
            if size > limit:
                return None, _current_line(template, stream), (
                    f"template error: the output is larger than {limit} characters; allowed: up to {limit} "
                    "(limits.manifest_size in converge.yaml)")
            pieces.append(piece)
    except Exception as e:  # any error of the template's own code: undefined names, 1/0, range too big
        line = next((fr.lineno for fr in reversed(traceback.extract_tb(e.__traceback__))
                     if fr.filename == "<template>"), 0) or 0
        if isinstance(e, SecurityError):
            return None, line, (f"template error: {e} Templates run in a sandbox: they may use variables, "
                                "filters, tests and loops, not Python internals")
        if isinstance(e, MemoryError):
            return None, line, f"template error: rendering needs more than {TEMPLATE_MEMORY // 1024**2} MB"
        if isinstance(e, jinja2.TemplateError):
            return None, line, f"template error: {e}"
        return None, line, f"template error: {type(e).__name__}: {e}"
    return "".join(pieces), 0, ""


def _current_line(template: Any, stream: Any) -> int:
    """The template line whose output went over the limit (the compiled code's line, translated)."""
    inner = getattr(stream, "gi_yieldfrom", None)
    frame = getattr(inner, "gi_frame", None)
    if frame is None:
        return 0
    return int(template.get_corresponding_lineno(frame.f_lineno))


def _child() -> None:
    import resource

    for which, wanted in ((resource.RLIMIT_AS, int(sys.argv[1])), (resource.RLIMIT_CPU, int(sys.argv[2]))):
        hard = resource.getrlimit(which)[1]  # never above a hard limit already set (that would fail)
        bound = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
        resource.setrlimit(which, (bound, bound))
    request = pickle.loads(sys.stdin.buffer.read())
    for text in request["items"]:
        output, line, message = render_sandboxed(text, request["vars"], request["limit"])
        answer = {"text": output} if output is not None else {"line": line, "message": message}
        sys.stdout.write(json.dumps(answer) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    _child()
