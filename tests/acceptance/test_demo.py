"""`stockwire demo` as CI runs it: a few seconds on SQLite, exit 0, no oversells."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest


@pytest.mark.slow
def test_demo_runs_a_few_seconds_and_passes() -> None:
    """The demo exits 0 only when nothing was oversold and every channel converged."""
    env = {**os.environ, "STOCKWIRE_ALLOW_PRIVATE_TARGETS": "1", "COLUMNS": "120"}
    run = subprocess.run(
        [sys.executable, "-m", "stockwire.cli.main", "demo", "--duration", "5", "--rate", "40", "--seed", "7"],
        capture_output=True, text=True, timeout=180, env=env, check=False,
    )
    out = run.stdout + run.stderr
    assert run.returncode == 0, out
    assert "PASS" in out, out
    assert re.search(r"│ oversells\s+0\s", out), out
