"""Write the main job's bootstrap table to a Markdown file.

    python scripts/demo_report.py --replicates 2000 --out demo.md
"""

import argparse
import io

from jaxlogreg import cli


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--replicates", type=int, default=2000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default="demo.md")
    args = ap.parse_args()
    buf = io.StringIO()
    cli.demo(replicates=args.replicates, seed=args.seed, out=buf)
    with open(args.out, "w") as f:
        f.write("# jaxlogreg demo: bootstrap of the seed data set\n\n```\n")
        f.write(buf.getvalue())
        f.write("```\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
