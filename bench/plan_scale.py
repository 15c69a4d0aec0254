"""Scale of the loop on the simulated host (issue: engine benchmark).

For N datasets (plus SMB shares, NFS exports and containers in proportion: one of each per
ten datasets), measure in a fresh process each:
  - the first `apply` (wall time, peak RSS),
  - a no-op `plan` (wall time, peak RSS, number of host commands).
Targets (issue 22), 2-core machine: a no-op plan of 10 000 resources under 1 s and 200 MB peak,
the first apply under 5 s; host commands constant in N.

    python3 bench/plan_scale.py [N ...]        (default: 100 1000 10000)
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile

CHILD = r"""
import json, resource, sys, time
from converge import engine
from converge.logs import configure
configure(json=True)  # as the CLI does: info and up (an unconfigured structlog prints every debug line)
directory, what = sys.argv[1], sys.argv[2]
t0, c0 = time.perf_counter(), time.process_time()
target = engine.open_target(directory)
if what == "apply":
    outcome = engine.reconcile(target, parallelism=4)
    assert outcome.report.ok, outcome.report.as_dict()
    changes = len(outcome.plan.changes)
else:
    plan, _ = engine.plan(target)
    assert plan.empty, [str(c.ref) for c in plan.changes][:5]
    changes = 0
wall, cpu = time.perf_counter() - t0, time.process_time() - c0
rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024
print(json.dumps({"wall": wall, "cpu": cpu, "rss_mb": rss, "commands": len(target.host.commands), "changes": changes}))
"""


def write_manifests(directory: str, n: int) -> None:
    shares = max(1, n // 10)
    seed = {"disks": {"/dev/sdb": {"size": 1 << 44}, "/dev/sdc": {"size": 1 << 44}},
            "images": ["docker.io/library/app:1"], "paths": ["/srv"]}
    with open(os.path.join(directory, "converge.yaml"), "w") as f:
        json.dump({"sim": seed}, f)
    lines = ["pools:", "  tank: {vdevs: [{type: mirror, disks: [/dev/sdb, /dev/sdc]}]}", "datasets:"]
    lines += [f"  tank/d{i}: {{properties: {{quota: {1 + i % 50}G, compression: zstd}}}}" for i in range(n)]
    lines += ["shares:", "  smb:"] + [f"    s{i}: {{path: tank/d{i}, read_only: true}}" for i in range(shares)]
    lines += ["  nfs:"] + [f"    e{i}: {{path: tank/d{i}, clients: [{{network: 10.0.0.0/8, options: [ro]}}]}}"
                           for i in range(shares)]
    lines += ["containers:"] + [f"  c{i}: {{image: 'docker.io/library/app:1', ports: ['{10000 + i}:80'], "
                                f"volumes: ['tank/d{i}:/data']}}" for i in range(shares)]
    with open(os.path.join(directory, "main.yaml"), "w") as f:
        f.write("\n".join(lines) + "\n")


def measure(directory: str, what: str) -> dict[str, float]:
    out = subprocess.run([sys.executable, "-c", CHILD, directory, what], check=True, capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(sizes: list[int]) -> None:
    print("wall and CPU seconds (CPU: this process's user+sys, what other load on the machine does not inflate)")
    print(f"{'N datasets':>10} {'resources':>9} | {'apply s':>8} {'cpu s':>6} {'MB':>5} | {'no-op plan s':>12} {'cpu s':>6} "
          f"{'MB':>5} {'cmds':>5}")
    for n in sizes:
        with tempfile.TemporaryDirectory() as d:
            write_manifests(d, n)
            first = measure(d, "apply")
            noop = measure(d, "plan")
        total = 1 + n + 3 * max(1, n // 10)
        print(f"{n:>10} {total:>9} | {first['wall']:>8.2f} {first['cpu']:>6.2f} {first['rss_mb']:>5} | "
              f"{noop['wall']:>12.2f} {noop['cpu']:>6.2f} {noop['rss_mb']:>5} {noop['commands']:>5}")


if __name__ == "__main__":
    main([int(a) for a in sys.argv[1:]] or [100, 1000, 10000])
