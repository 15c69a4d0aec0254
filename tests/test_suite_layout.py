"""The suite's own layout: any part of it can be collected alone (shared helpers live in tests/,
not behind a sys.path edit in one test module that a partial run may never import)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

TESTS = os.path.dirname(os.path.abspath(__file__))


@pytest.mark.parametrize("args", [["--ignore", os.path.join(TESTS, "real")], [os.path.join(TESTS, "resources")]],
                         ids=["without-real", "resources-alone"])
def test_a_part_of_the_suite_collects_alone(args):
    out = subprocess.run([sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider", *args],
                         cwd=os.path.dirname(TESTS), capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
