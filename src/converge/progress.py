"""Apply progress: a live bar on a terminal, structured log lines otherwise."""

from __future__ import annotations

import sys
from typing import Any

from .logs import get_logger
from .model import Change

log = get_logger("converge.apply")


class Progress:
    def __init__(self, stream: Any = None) -> None:
        self.stream = stream or sys.stderr
        self.live = None
        self.task = None

    def __enter__(self) -> "Progress":
        if self.stream.isatty():
            from rich.console import Console
            from rich.progress import Progress as Bar

            self.live = Bar(console=Console(file=self.stream), transient=True)
            self.live.start()
            self.task = self.live.add_task("applying", total=None)
        return self

    def __exit__(self, *exc: Any) -> None:
        if self.live is not None:
            self.live.stop()

    def event(self, what: str, change: Change, detail: str) -> None:
        if self.live is not None:
            if what in ("done", "failed", "skipped"):
                self.live.advance(self.task)
            self.live.update(self.task, description=f"{change.action.value} {change.ref}")
            if what == "failed":
                self.live.console.print(f"[red]✗ {change.ref}: {detail}[/red]")
        else:
            log.info(what, ref=str(change.ref), action=change.action.name.lower(), **({"detail": detail} if detail else {}))
