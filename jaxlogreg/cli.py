"""Command line: ``jaxlogreg demo`` fits a bootstrap batch of the built-in seed data set."""

from __future__ import annotations

import argparse
import sys
import time


def _bootstrap_counts(key, num: int, n: int):
    """``(num, n)`` multinomial counts: row ``b`` says how often each row is drawn."""
    import jax
    import jax.numpy as jnp

    def one(k):
        return jnp.bincount(jax.random.randint(k, (n,), 0, n), length=n)

    return jax.vmap(one)(jax.random.split(key, num))


def demo(replicates: int = 2000, n: int = 1000, seed: int = 0, float32: bool = False, out=None) -> dict:
    """Fit the seed data set once and on ``replicates`` bootstrap resamples; print a table.

    Returns the numbers printed, as a dict of NumPy arrays and scalars.
    """
    import jax

    if not float32:
        jax.config.update("jax_enable_x64", True)
    import jax.numpy as jnp
    import numpy as np

    from . import Status, fit, make_seed_data

    out = sys.stdout if out is None else out
    dtype = np.float32 if float32 else np.float64
    data = make_seed_data(n=n, seed=seed)
    X = jnp.asarray(data.X, dtype)
    y = jnp.asarray(data.y, dtype)
    full = fit(X, y)
    counts = _bootstrap_counts(jax.random.PRNGKey(seed), replicates, n).astype(dtype)

    t0 = time.perf_counter()
    boot = jax.block_until_ready(fit(X, y, weights=counts))
    first = time.perf_counter() - t0
    t0 = time.perf_counter()
    boot = jax.block_until_ready(fit(X, y, weights=counts))
    warm = time.perf_counter() - t0

    names = ("intercept",) + tuple(data.feature_names)
    true = np.concatenate([[data.intercept], data.coef])
    est = np.asarray(full.params)
    ok = np.asarray(boot.converged)
    params = np.asarray(boot.params)[ok]
    if len(params) >= 2:
        mean, sd = params.mean(axis=0), params.std(axis=0, ddof=1)
        lo, hi = np.percentile(params, [2.5, 97.5], axis=0)
        flips = np.mean(np.sign(params) != np.sign(true), axis=0)
    else:  # too few converged resamples for a spread
        mean = sd = lo = hi = flips = np.full(true.shape, np.nan)

    print(
        f"jaxlogreg demo: seed data set (n = {n}, {int(data.y.sum())} positives), "
        f"{replicates} bootstrap refits, {np.dtype(dtype).name}",
        file=out,
    )
    print(f"full-data fit: {Status(int(full.status)).name}, {int(full.n_iter)} Newton steps", file=out)
    print(
        f"bootstrap batch: {first:.2f} s first call (with compilation), {warm:.3f} s warm "
        f"({warm / replicates * 1e6:.1f} us per fit)",
        file=out,
    )
    print(f"statuses: {Status.counts(boot.status)}", file=out)
    print("", file=out)
    header = f"{'':10s} {'true':>9s} {'estimate':>10s} {'boot mean':>10s} {'boot SD':>9s} {'95% percentile interval':>25s} {'sign flips':>10s}"
    print(header, file=out)
    for i, name in enumerate(names):
        print(
            f"{name:10s} {true[i]:9.4f} {est[i]:10.4f} {mean[i]:10.4f} {sd[i]:9.4f} "
            f"[{lo[i]:10.4f}, {hi[i]:10.4f}] {flips[i]:10.1%}",
            file=out,
        )
    print("", file=out)
    print(
        "sign flips: share of converged resamples whose estimate has the opposite sign to the "
        "true coefficient.",
        file=out,
    )
    return dict(
        names=names, true=true, estimate=est, boot_mean=mean, boot_sd=sd, lower=lo, upper=hi,
        sign_flips=flips, status_counts=Status.counts(boot.status), warm_seconds=warm,
    )


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        prog="jaxlogreg", description="Batched logistic regression in JAX."
    )
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("demo", help="bootstrap the built-in seed data set and print a table")
    p.add_argument("--replicates", type=int, default=2000, help="bootstrap resamples (2000)")
    p.add_argument("--n", type=int, default=1000, help="rows of the data set (1000)")
    p.add_argument("--seed", type=int, default=0, help="seed of the data and resamples (0)")
    p.add_argument("--float32", action="store_true", help="compute in float32")
    args = parser.parse_args(argv)
    if args.command == "demo":
        if args.replicates < 2:
            parser.error("--replicates: need at least 2")
        if args.n < 10:
            parser.error("--n: need at least 10 rows")
        demo(args.replicates, args.n, args.seed, args.float32)
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
