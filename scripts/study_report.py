"""Re-render a finished study's report and plots from its files.

    python scripts/study_report.py jaxlogreg-study

Reads ``summary.json`` and ``replicates.npz`` from the study directory (as written by
``jaxlogreg study`` or ``jaxlogreg.run_study(..., out=...)``) and writes ``report.md``,
``coefficients.png``, ``calibration.png`` and ``sign_flips.png`` again, e.g. after a change
of plotting style or of the reading. A study written before the reading named its causes
(no ``diagnostics`` in ``summary.json``) is drawn with what it holds; run the study again
(``--overwrite``) to have the data's causes named.
"""

import argparse

from jaxlogreg import _io, _study
from jaxlogreg._study import _storage


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out", help="the study directory")
    args = ap.parse_args()
    # The study's own lock: no run may write the folder while its outputs are replaced.
    with _io.lock_directory(args.out, _storage._LOCK, what="out"):
        result = _study.load(args.out)
        for path in _study.write_outputs(result, args.out):
            print(f"wrote {path}")


if __name__ == "__main__":
    main()
