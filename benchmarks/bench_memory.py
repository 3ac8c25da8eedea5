"""Memory bound: a million bootstrap fits of the seed study in one call, peak resident memory
measured by ``/usr/bin/time -v``.

The weights come from a :class:`jaxlogreg.Bootstrap` scheme, generated on the device inside
each chunk of models, so no ``(B, n)`` array is ever held: memory is ``O(n d + chunk n)``
plus the ``(B, p)`` results. The script re-runs itself under ``/usr/bin/time -v`` and reports
its peak resident set size and wall time, and writes its section of BENCHMARKS.md.

    python benchmarks/bench_memory.py              # B = 1,000,000, writes BENCHMARKS.md
    python benchmarks/bench_memory.py --B 20000 --quick
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import re
import subprocess
import sys
import time

MARK_BEGIN = "<!-- bench_memory:begin -->"
MARK_END = "<!-- bench_memory:end -->"


def child(B: int) -> None:
    """The measured process: one fit of B bootstrap resamples."""
    import jax

    jax.config.update("jax_enable_x64", True)
    import numpy as np

    import jaxlogreg

    data = jaxlogreg.make_seed_data()
    scheme = jaxlogreg.Bootstrap(jax.random.key(0), B)
    t0 = time.perf_counter()
    res = jax.block_until_ready(jaxlogreg.fit(data.X, data.y, weights=scheme))
    elapsed = time.perf_counter() - t0
    counts = jaxlogreg.Status.counts(res.status)
    print(f"RESULT fit_seconds={elapsed:.2f} iters_mean={float(np.mean(res.n_iter)):.2f} "
          f"statuses={';'.join(f'{k}:{v}' for k, v in counts.items() if v)}")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--B", type=int, default=1_000_000)
    ap.add_argument("--quick", action="store_true", help="print only")
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "..", "BENCHMARKS.md"))
    args = ap.parse_args(argv)
    if args.child:
        child(args.B)
        return 0
    cmd = ["/usr/bin/time", "-v", sys.executable, __file__, "--child", "--B", str(args.B)]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        print(proc.stdout, proc.stderr)
        return proc.returncode
    reported = re.search(r"RESULT (.*)", proc.stdout).group(1)
    result = dict(kv.split("=", 1) for kv in reported.split())
    rss_kb = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", proc.stderr).group(1))
    wall = re.search(r"Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): (\S+)",
                     proc.stderr).group(1)
    sys.path.insert(0, os.path.dirname(__file__))
    import jax
    import numpy as np

    from bench_newton import cpu_name, write

    section = "\n".join([
        MARK_BEGIN,
        "## Memory: a million bootstrap fits (`benchmarks/bench_memory.py`)",
        "",
        f"Measured {datetime.date.today().isoformat()} on {cpu_name()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}, jax {jax.__version__}, numpy {np.__version__}; "
        f"float64; the seed data set (n = 1000, d = 6 + intercept), B = {args.B:,} "
        "bootstrap resamples from a `jaxlogreg.Bootstrap` scheme, one `fit` call, in a fresh "
        "process under `/usr/bin/time -v`.",
        "",
        "| what | value |",
        "| --- | --- |",
        f"| peak resident memory (maximum resident set size) | {rss_kb / 1024**2:.2f} GiB |",
        f"| process wall time (import, compile, fit) | {wall} |",
        f"| the fit call (with its compilation) | {float(result['fit_seconds']):.1f} s |",
        f"| mean Newton steps | {result['iters_mean']} |",
        f"| statuses | {result['statuses'].replace(';', ', ').replace(':', ' ')} |",
        "",
        "Target (issue 6): 1,000,000 bootstrap fits with peak resident memory under 2 GB.",
        MARK_END,
    ])
    print(section)
    if not args.quick:
        write(section, args.out, MARK_BEGIN, MARK_END)
    return 0


if __name__ == "__main__":
    sys.exit(main())
