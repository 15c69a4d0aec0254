"""Save-to-applied latency of `converge watch` (issue: watch benchmark).

A manifest set of N datasets (default 1 000) on the simulated host; a watcher with the default
debounce runs in this process; each round changes one dataset's quota and measures the time
from the file write to the end of the reconcile that applied it. Reports the median of 20.
Target: under debounce + 300 ms.

    python3 bench/watch_latency.py [N] [ROUNDS]
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

DEBOUNCE_MS = 300


def main(n: int = 1000, rounds: int = 20) -> None:
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

        def on_event(event: dict) -> None:
            if event.get("event") == "reconcile" and event.get("trigger") == "save" and event.get("applied"):
                applied.append(time.perf_counter())
                done.set()

        stop = threading.Event()
        watcher = Watcher(str(d), debounce_ms=DEBOUNCE_MS, resync_s=0, on_event=on_event)
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
    print(f"{n} resources, debounce {DEBOUNCE_MS} ms: save-to-applied median {statistics.median(latencies):.0f} ms, "
          f"max {max(latencies):.0f} ms over {rounds} saves (target < {DEBOUNCE_MS + 300} ms)")


if __name__ == "__main__":
    main(*(int(a) for a in sys.argv[1:3]))
