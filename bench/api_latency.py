"""Latency of `POST /api/v1/datasets` (edit + validate + write + plan, no apply) on a manifest
set of N resources (default 1 000): p50 and p99 over 200 calls. Target: p50 under 50 ms.

    python3 bench/api_latency.py [N] [CALLS]
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import tempfile
import time
import warnings
from pathlib import Path

warnings.simplefilter("ignore")
from starlette.testclient import TestClient  # noqa: E402

from converge import engine  # noqa: E402
from converge.api import create_app  # noqa: E402
from converge.api.auth import create_token  # noqa: E402
from converge.logs import configure  # noqa: E402


def main(n: int = 1000, calls: int = 200) -> None:
    configure(open(os.devnull, "w"), json=True)  # as `converge serve` does; the figures, not a log line per step
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        (d / "converge.yaml").write_text(json.dumps({"sim": {"disks": ["/dev/sdb", "/dev/sdc"]}}))
        head = "pools:\n  tank: {vdevs: [{type: mirror, disks: [/dev/sdb, /dev/sdc]}]}\ndatasets:\n"
        (d / "main.yaml").write_text(head + "".join(f"  tank/d{i}: {{properties: {{quota: 1G}}}}\n" for i in range(n)))
        engine.reconcile(engine.open_target(str(d)))
        token = create_token(str(d), "bench", "admin")
        client = TestClient(create_app(str(d), write_burst=calls + 10, write_rate=1000), base_url="http://localhost:8470",
                            headers={"Authorization": f"Bearer {token}"})
        times = []
        cpu0 = time.process_time()  # this process: the client and the app's worker threads alike
        for i in range(calls):
            start = time.perf_counter()
            r = client.post("/api/v1/datasets", json={"name": f"tank/new{i}", "properties": {"quota": "1G"}})
            times.append((time.perf_counter() - start) * 1000)
            assert r.status_code == 201, r.text
        cpu = (time.process_time() - cpu0) * 1000 / calls
    times.sort()
    print(f"POST /api/v1/datasets on {n}+ resources: p50 {statistics.median(times):.0f} ms, "
          f"p99 {times[int(len(times) * 0.99) - 1]:.0f} ms over {calls} calls (target p50 < 50 ms); "
          f"CPU {cpu:.0f} ms a call (what other load on the machine inflates least)")


if __name__ == "__main__":
    main(*(int(a) for a in sys.argv[1:3]))
