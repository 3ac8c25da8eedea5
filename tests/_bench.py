"""What the tests of the benchmark scripts share: running a script's ``--quick`` mode and
reading the rows of its BENCHMARKS.md section."""

from __future__ import annotations

import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def run_quick(script: str, *args: str) -> str:
    path = os.path.join(ROOT, "benchmarks", script)
    before = {p: os.path.getmtime(p) for p in _outputs()}
    proc = subprocess.run(
        [sys.executable, path, "--quick", *args],
        capture_output=True, text=True, timeout=600, cwd=ROOT, check=False,
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    assert {p: os.path.getmtime(p) for p in _outputs()} == before, "--quick wrote a file"
    return proc.stdout


def _outputs():
    names = ("BENCHMARKS.md", os.path.join("benchmarks", "solver_traces.png"),
             os.path.join("benchmarks", "scaling.png"))
    return [os.path.join(ROOT, n) for n in names if os.path.exists(os.path.join(ROOT, n))]


def section_rows(out: str, marker: str) -> list[str]:
    begin, end = f"<!-- {marker}:begin -->", f"<!-- {marker}:end -->"
    assert begin in out and end in out
    body = out[out.index(begin) : out.index(end)]
    return [line for line in body.splitlines() if line.startswith("| ")]
