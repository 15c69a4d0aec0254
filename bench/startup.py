"""Start-up time of the `converge` command (issue 22), on the simulated host.

Times, each in a fresh process, the median and best of R runs:
  - `converge --version`,
  - `converge validate` of a small directory (a pool, two datasets, an SMB share),
  - a no-op `converge plan` of examples/homelab (applied once first).
Targets: --version and validate under 150 ms, the no-op plan under 250 ms.
Then prints, per command, the packages whose imports cost the most (`python -X importtime`).

Measure as a user's machine runs it: bytecode compiled (`python3 -m compileall -q src`) and
PYTHONDONTWRITEBYTECODE unset. `python -c pass` is printed too: the interpreter's own floor.

    python3 bench/startup.py [-r RUNS] [-n TOP]
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict

HERE = os.path.dirname(os.path.abspath(__file__))
EXAMPLE = os.path.join(HERE, "..", "examples", "homelab")
TARGETS_MS = {"--version": 150, "validate": 150, "plan (no-op)": 250}
# The console script's body, run with the same interpreter (a shim such as pyenv's would add
# its own start-up to every figure).
ENTRY = "import sys; from converge.cli import main; sys.argv[0] = 'converge'; main()"
SMALL = """pools:
  tank: {vdevs: [{type: mirror, disks: [/dev/sdb, /dev/sdc]}]}
datasets:
  tank/media: {properties: {compression: zstd, quota: 2T}}
  tank/backup: {properties: {quota: 500G}}
shares:
  smb:
    media: {path: tank/media, read_only: true}
"""


def converge(*args: str, importtime: bool = False) -> subprocess.CompletedProcess[str]:
    flags = ["-X", "importtime"] if importtime else []
    return subprocess.run([sys.executable, *flags, "-c", ENTRY, *args], capture_output=True, text=True)


def timed(argv: list[str], runs: int) -> tuple[list[float], list[float]]:
    """Wall ms and CPU ms (the child's user+sys: what other load on the machine inflates least)."""
    times, cpu = [], []
    for _ in range(runs):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        t0 = time.perf_counter()
        subprocess.run(argv, check=True, capture_output=True)
        times.append((time.perf_counter() - t0) * 1000)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu.append((after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime) * 1000)
    return times, cpu


def top_importers(stderr: str, top: int) -> list[tuple[str, float]]:
    """Self time of every imported module, summed per top-level package (ms)."""
    spent: dict[str, float] = defaultdict(float)
    for line in stderr.splitlines():
        if not line.startswith("import time:") or "self [us]" in line:
            continue
        self_us, _, name = line[len("import time:"):].split("|")
        spent[name.strip().split(".")[0]] += int(self_us) / 1000
    return sorted(spent.items(), key=lambda kv: -kv[1])[:top]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-r", "--runs", type=int, default=15)
    parser.add_argument("-n", "--top", type=int, default=8)
    opts = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        small = os.path.join(tmp, "small")
        os.mkdir(small)
        with open(os.path.join(small, "main.yaml"), "w") as f:
            f.write(SMALL)
        homelab = os.path.join(tmp, "homelab")
        shutil.copytree(EXAMPLE, homelab, ignore=shutil.ignore_patterns(".converge"))
        applied = converge("apply", homelab)
        if applied.returncode:
            sys.exit(f"apply of examples/homelab failed:\n{applied.stdout}{applied.stderr}")
        commands = {"--version": ["--version"], "validate": ["validate", small],
                    "plan (no-op)": ["plan", "--detailed-exitcode", homelab]}
        floor, floor_cpu = timed([sys.executable, "-c", "pass"], opts.runs)
        print(f"{'command':<14} {'median ms':>9} {'best ms':>8} {'cpu ms':>7} {'target':>7}")
        print(f"{'python -c pass':<14} {statistics.median(floor):>9.0f} {min(floor):>8.0f} "
              f"{statistics.median(floor_cpu):>7.0f} {'':>7}")
        for label, args in commands.items():
            times, cpu = timed([sys.executable, "-c", ENTRY, *args], opts.runs)
            median = statistics.median(times)
            verdict = "ok" if median < TARGETS_MS[label] else "MISSED"
            print(f"{label:<14} {median:>9.0f} {min(times):>8.0f} {statistics.median(cpu):>7.0f} "
                  f"{TARGETS_MS[label]:>5}  {verdict}")
        for label, args in commands.items():
            listed = ", ".join(f"{name} {ms:.0f}" for name, ms in top_importers(
                converge(*args, importtime=True).stderr, opts.top))
            print(f"\nimports of {label} (self ms per package, -X importtime inflates them):\n  {listed}")


if __name__ == "__main__":
    main()
