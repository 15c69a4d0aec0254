"""Save-to-applied latency of `converge watch` (issue: watch benchmark).

A manifest set of N datasets (default 1 000) on the simulated host; a watcher with the default
debounce runs in this process; each round changes one dataset's quota and measures the time
from the file write to the end of the reconcile that applied it. Reports the median of 20.
Target (issue 22): under debounce + 150 ms.

    python3 bench/watch_latency.py [N] [ROUNDS] [DEBOUNCE_MS]

Also printed: the reconcile's own time (plan, apply, re-plan proving convergence) and the
rest, which is the watcher's: the quiet wait after the save and the file event's delivery.
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

from converge import engine
from converge.logs import configure
from converge.watch import Watcher


def main(n: int = 1000, rounds: int = 20, debounce_ms: int = 300) -> None:
    configure(open(os.devnull, "w"), json=True)  # the figures, not a log line per step
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        (d / "converge.yaml").write_text(json.dumps({"sim": {"disks": ["/dev/sdb", "/dev/sdc"]}}))
        head = "pools:\n  tank: {vdevs: [{type: mirror, disks: [/dev/sdb, /dev/sdc]}]}\ndatasets:\n"
        body = "".join(f"  tank/d{i}: {{properties: {{quota: {1 + i % 50}G}}}}\n" for i in range(1, n))
        (d / "main.yaml").write_text(head + "  tank/d0: {properties: {quota: 1G}}\n" + body)
        engine.reconcile(engine.open_target(str(d)))
        done = threading.Event()
        applied: list[float] = []
        reconcile_ms: list[float] = []

        def on_event(event: dict) -> None:
            if event.get("event") == "reconcile" and event.get("trigger") == "save" and event.get("applied"):
                applied.append(time.perf_counter())
                reconcile_ms.append(event["duration_ms"])
                done.set()

        stop = threading.Event()
        watcher = Watcher(str(d), debounce_ms=debounce_ms, resync_s=0, on_event=on_event)
        thread = threading.Thread(target=watcher.run, args=(stop,), daemon=True)
        thread.start()
        time.sleep(2)
        latencies = []
        for r in range(rounds):
            done.clear()
            start = time.perf_counter()
            (d / "main.yaml").write_text(head + f"  tank/d0: {{properties: {{quota: {r + 2}G}}}}\n" + body)
            assert done.wait(30), "no apply"
            latencies.append((applied[-1] - start) * 1000)
            time.sleep(0.2)
        stop.set()
        thread.join(10)
    median, reconcile = statistics.median(latencies), statistics.median(reconcile_ms)
    print(f"{n} resources, debounce {debounce_ms} ms: save-to-applied median {median:.0f} ms, "
          f"max {max(latencies):.0f} ms over {rounds} saves (target < {debounce_ms + 150} ms); "
          f"of which the reconcile {reconcile:.0f} ms, save to reconcile start {median - reconcile:.0f} ms")


if __name__ == "__main__":
    main(*(int(a) for a in sys.argv[1:4]))
