#!/usr/bin/env python3
"""Peer implementations of the sorter case for the side-by-side benchmark against gss.

The black box: f(x) = the hard n x n permutation matrix of x, flattened to m = n^2 outputs,
P[i*n + j] = 1 iff x_i has ascending rank j (ties broken by index), at
x = (-0.71, -0.29, 0.04, 0.36, 0.82), scale gamma = 1. Both peers estimate the 25 x 5 Jacobian
of the smoothed f, E[f(x + gamma*eps)], from s evaluations of f.

  --impl numpy  what a competent NumPy user would script for the same estimator as gss:
                randomised Latin hypercube uniforms, eps = F^-1(u), score = -d log p(eps),
                leave-one-out baseline, value and per-entry standard errors, in chunks.
  --impl optax  optax.perturbations.make_perturbed_fun on the same f written in JAX,
                jax.jit(jax.jacrev(...)); its own noise (Gumbel or Normal), its own baseline
                f(x), i.i.d. sampling with one PRNG key per sample.

Prints ONE JSON line on stdout; progress and warnings go to stderr. --check compares the
Jacobian with the exact smoothed Jacobian (1-D quadrature + Richardson central differences).
"""
import argparse
import json
import math
import os
import statistics
import sys
import time

import numpy as np
from scipy.special import ndtri

X = np.array([-0.71, -0.29, 0.04, 0.36, 0.82])
GAMMA = 1.0
CASE = "sorter-5"


def log(*args):
    print(*args, file=sys.stderr, flush=True)


# --------------------------------------------------------------------------------------------
# Exact smoothed permutation matrix (oracle for --check), for i.i.d. noise with cdf F, density p:
#   P_ij(x) = integral p(t - x_i) * PB_j(t) dt,  PB_j(t) = P(exactly j of the x_k + eps_k,
#   k != i, lie below t), each with probability F(t - x_k) (gamma = 1).
# --------------------------------------------------------------------------------------------
def noise_functions(name):
    from scipy import special

    if name == "logistic":
        return (lambda z: special.expit(z),
                lambda z: np.exp(-np.abs(z)) / (1 + np.exp(-np.abs(z))) ** 2)
    if name == "gaussian":
        return (lambda z: special.ndtr(z),
                lambda z: np.exp(-0.5 * z * z) / math.sqrt(2 * math.pi))
    if name == "gumbel":  # optax.perturbations.Gumbel: standard Gumbel (max), mean 0.5772
        return (lambda z: np.exp(-np.exp(-z)),
                lambda z: np.exp(-z - np.exp(-z)))
    raise ValueError(name)


def exact_permutation_matrix(x, noise, grid=np.linspace(-45.0, 45.0, 180_001)):
    cdf, pdf = noise_functions(noise)
    n = len(x)
    P = np.zeros((n, n))
    dt = grid[1] - grid[0]
    for i in range(n):
        pb = np.zeros((n, grid.size))
        pb[0] = 1.0
        seen = 0
        for k in range(n):
            if k == i:
                continue
            q = cdf((grid - x[k]) / GAMMA)
            for j in range(seen + 1, 0, -1):
                pb[j] = pb[j] * (1 - q) + pb[j - 1] * q
            pb[0] *= 1 - q
            seen += 1
        w = pdf((grid - x[i]) / GAMMA) / GAMMA
        integrand = w[None, :] * pb
        # trapezoid rule (spectrally accurate for these smooth, fast-decaying integrands)
        P[i] = dt * (integrand.sum(axis=1) - 0.5 * (integrand[:, 0] + integrand[:, -1]))
    return P.reshape(-1)


def exact_jacobian(x, noise, step=1e-3):
    n = len(x)
    J = np.zeros((n * n, n))

    def diff(k, h):
        plus, minus = x.copy(), x.copy()
        plus[k] += h
        minus[k] -= h
        return (exact_permutation_matrix(plus, noise) - exact_permutation_matrix(minus, noise)) / (2 * h)

    for k in range(n):
        J[:, k] = (4 * diff(k, step / 2) - diff(k, step)) / 3
    return J


# --------------------------------------------------------------------------------------------
# numpy peer: the gss estimator (rqmc-latin sampler, LOO baseline), vectorised, chunked.
# --------------------------------------------------------------------------------------------
def numpy_estimate(x, samples, dist, sampler, seed, chunk=65_536):
    n = x.size
    s = samples
    m = n * n
    rng = np.random.default_rng(seed)
    if sampler == "latin":
        # each dimension an independent random permutation of the s strata
        strata = rng.permuted(np.broadcast_to(np.arange(s, dtype=np.float64)[:, None], (s, n)), axis=0)
    # running sums (as gss keeps them): value, value^2, f*score, f^2*score^2, score, score^2
    sum_f = np.zeros(m)
    sum_f2 = np.zeros(m)
    sum_fz = np.zeros((m, n))
    sum_f2z2 = np.zeros((m, n))
    sum_fz2 = np.zeros((m, n))
    sum_z = np.zeros(n)
    sum_z2 = np.zeros(n)
    onehot_cols = np.arange(n) * n
    for start in range(0, s, chunk):
        rows = min(chunk, s - start)
        jitter = rng.random((rows, n))
        if sampler == "latin":
            u = (strata[start:start + rows] + jitter) * (1.0 / s)
        else:
            u = jitter
        np.clip(u, 2.0 ** -53, 1 - 2.0 ** -53, out=u)
        if dist == "logistic":
            eps = np.log(u) - np.log1p(-u)   # F^-1(u)
            z = 2.0 * u - 1.0                # -d/d eps log p(eps) = tanh(eps/2)
        else:
            eps = ndtri(u)
            z = eps
        y = x + GAMMA * eps
        ranks = np.argsort(np.argsort(y, axis=1, kind="stable"), axis=1, kind="stable")
        F = np.zeros((rows, m))
        F[np.arange(rows)[:, None], onehot_cols + ranks] = 1.0
        F2 = F * F
        z2 = z * z
        sum_f += F.sum(axis=0)
        sum_f2 += F2.sum(axis=0)
        sum_fz += F.T @ z
        sum_f2z2 += F2.T @ z2
        sum_fz2 += F.T @ z2
        sum_z += z.sum(axis=0)
        sum_z2 += z2.sum(axis=0)
    value = sum_f / s
    value_var = (sum_f2 - sum_f * sum_f / s) / (s - 1)
    value_se = np.sqrt(np.maximum(value_var, 0) / s)
    # LOO: sum_i (F_i - (S - F_i)/(s-1)) z_i = s/(s-1) sum_i (F_i - Fbar) z_i; divide by s - 1.
    c = value[:, None]
    sum_h = sum_fz - c * sum_z[None, :]
    jac = sum_h / (s - 1) / GAMMA
    sum_h2 = sum_f2z2 - 2 * c * sum_fz2 + c * c * sum_z2[None, :]
    var = (sum_h2 - sum_h * sum_h / s) / (s - 1)
    jac_se = np.sqrt(s * np.maximum(var, 0)) / (s - 1) / GAMMA
    return value, value_se, jac, jac_se


def run_numpy(args):
    from threadpoolctl import threadpool_info

    x = X.copy()
    if args.dist == "gumbel":
        sys.exit("numpy peer: --dist logistic or gaussian")
    t0 = time.perf_counter()
    numpy_estimate(x, args.samples, args.dist, args.sampler, args.seed + 10_000, args.chunk)
    warmup_seconds = time.perf_counter() - t0
    log(f"numpy warm-up run {warmup_seconds:.3f} s")
    times = []
    result = None
    c0 = time.process_time()
    for r in range(args.repeats):
        t0 = time.perf_counter()
        result = numpy_estimate(x, args.samples, args.dist, args.sampler, args.seed + r, args.chunk)
        times.append(time.perf_counter() - t0)
        log(f"numpy {args.dist} s={args.samples} repeat {r + 1}/{args.repeats}: {times[-1]:.4f} s")
    cpu_seconds = time.process_time() - c0
    value, value_se, jac, jac_se = result
    blas = [f"{i['internal_api']} {i['version']} threads={i['num_threads']}" for i in threadpool_info()]
    blas.append(f"measured {cpu_seconds / sum(times):.2f} CPU-seconds per wall-second")
    notes = (f"gss's estimator in NumPy: sampler={args.sampler}"
             f"{' (randomised Latin hypercube)' if args.sampler == 'latin' else ' (i.i.d. uniforms)'}, "
             f"{args.dist} noise by inverse cdf, score {'2u-1' if args.dist == 'logistic' else 'eps'}, "
             f"leave-one-out baseline, value + per-entry standard errors, float64, chunks of "
             f"{args.chunk} rows, ranks by argsort of argsort; one process, BLAS for the "
             f"25x5 products only (sorting and elementwise work are single-threaded); "
             f"one untimed warm-up run ({warmup_seconds:.3f} s) first")
    out = dict(peer="numpy", case=CASE, dist=args.dist, samples=args.samples,
               repeats=args.repeats, times=times, threads="; ".join(blas) or "none",
               cpu_seconds_per_wall_second=cpu_seconds / sum(times),
               jacobian=jac.tolist(), notes=notes)
    if args.check:
        exact = exact_jacobian(x, args.dist)
        err = np.abs(jac - exact)
        zscore = err / np.where(jac_se > 0, jac_se, np.nan)
        out["check"] = dict(
            target=f"exact smoothed Jacobian, {args.dist} noise, gamma=1 (quadrature + Richardson differences)",
            max_abs_error=float(err.max()), max_standard_error=float(jac_se.max()),
            median_standard_error=float(np.median(jac_se)),
            max_error_in_standard_errors=float(np.nanmax(zscore)),
            rms_error_in_standard_errors=float(np.sqrt(np.nanmean(zscore ** 2))),
            passed=bool(np.nanmax(zscore) < 5.0),
            value_max_abs_error=float(np.abs(value - exact_permutation_matrix(x, args.dist)).max()),
            value_max_standard_error=float(value_se.max()))
    return out


# --------------------------------------------------------------------------------------------
# optax peer
# --------------------------------------------------------------------------------------------
def run_optax(args):
    if args.x64:
        os.environ["JAX_ENABLE_X64"] = "1"
    import jax
    import jax.numpy as jnp
    import optax
    from optax import perturbations

    if args.x64:
        jax.config.update("jax_enable_x64", True)
    n = X.size

    def hard_sort_matrix(v):  # one-hot of the ascending ranks, flattened (argsort is stable)
        ranks = jnp.argsort(jnp.argsort(v, stable=True), stable=True)
        return jax.nn.one_hot(ranks, n, dtype=v.dtype).reshape(-1)

    class Logistic:  # user-written noise, only with --optax-noise logistic
        def sample(self, key, sample_shape=(), dtype=float):
            return jax.random.logistic(key, sample_shape, dtype)

        def log_prob(self, z):
            return -z - 2 * jax.nn.softplus(-z)

    if args.optax_noise == "builtin":
        noise = perturbations.Gumbel() if args.dist == "logistic" else perturbations.Normal()
        noise_name = "gumbel" if args.dist == "logistic" else "gaussian"
    elif args.optax_noise == "logistic":
        noise, noise_name = Logistic(), "logistic"
    else:
        noise = perturbations.Gumbel() if args.optax_noise == "gumbel" else perturbations.Normal()
        noise_name = args.optax_noise
    perturbed = perturbations.make_perturbed_fun(
        hard_sort_matrix, num_samples=args.samples, sigma=GAMMA, noise=noise)
    if args.mode == "jacrev":
        jac_fn = jax.jit(jax.jacrev(perturbed, argnums=1))
    else:
        jac_fn = jax.jit(jax.jacfwd(perturbed, argnums=1))
    dtype = jnp.float64 if args.x64 else jnp.float32
    x = jnp.asarray(X, dtype=dtype)
    key = jax.random.key(args.seed)

    t0 = time.perf_counter()
    compiled = jac_fn.lower(key, x).compile()
    compile_seconds = time.perf_counter() - t0
    t0 = time.perf_counter()
    compiled(jax.random.fold_in(key, 10_000), x).block_until_ready()  # warm-up run
    warmup_seconds = time.perf_counter() - t0
    log(f"optax compile {compile_seconds:.2f} s, warm-up run {warmup_seconds:.3f} s")

    times, jacs = [], []
    c0 = time.process_time()
    for r in range(args.repeats):
        k = jax.random.fold_in(key, r)
        t0 = time.perf_counter()
        J = compiled(k, x).block_until_ready()
        times.append(time.perf_counter() - t0)
        jacs.append(np.asarray(J, dtype=np.float64))
        log(f"optax {noise_name} s={args.samples} repeat {r + 1}/{args.repeats}: {times[-1]:.4f} s")
    cpu_seconds = time.process_time() - c0
    jac = jacs[-1]
    xla_flags = os.environ.get("XLA_FLAGS", "")
    threads = (f"XLA CPU backend, {len(jax.devices())} device, default intra-op thread pool over "
               f"{os.cpu_count()} cores; XLA_FLAGS={xla_flags or '(unset)'}; "
               f"measured {cpu_seconds / sum(times):.2f} CPU-seconds per wall-second")
    notes = (f"optax {optax.__version__} / jax {jax.__version__}: "
             f"perturbations.make_perturbed_fun(num_samples={args.samples}, sigma=1, "
             f"noise={noise_name}{' (user-written class)' if noise_name == 'logistic' else ' (built in)'}), "
             f"jax.jit(jax.{args.mode}) for the 25x5 Jacobian, "
             f"{'float64' if args.x64 else 'float32 (JAX default)'}; i.i.d. samples, one PRNG key per "
             f"sample (jax.random.split), baseline f(x) at the unperturbed point (use_baseline=True), "
             f"no value or standard errors returned; compile {compile_seconds:.2f} s and one warm-up "
             f"run ({warmup_seconds:.3f} s) excluded from times")
    if args.dist == "logistic" and noise_name == "gumbel":
        notes += ("; optax has no logistic noise: its built-in Gumbel (asymmetric, mean 0.577) is used, "
                  "so it smooths f to a different function than gss's logistic smoothing")
    out = dict(peer="optax", case=CASE, dist=args.dist, noise=noise_name, samples=args.samples,
               repeats=args.repeats, times=times, threads=threads,
               cpu_seconds_per_wall_second=cpu_seconds / sum(times), jacobian=jac.tolist(),
               compile_seconds=compile_seconds, notes=notes)
    if args.check:
        if args.repeats < 20:
            log("warning: the optax check estimates standard errors from the spread of the runs; "
                "use --repeats 20 or more (with fewer, errors of 5-15 'standard errors' are normal)")
        exact = exact_jacobian(X.copy(), noise_name)
        stack = np.stack(jacs)
        err = np.abs(stack.mean(axis=0) - exact)
        check = dict(
            target=f"exact smoothed Jacobian under optax's {noise_name} noise, sigma=1",
            jacobian_frobenius_norm=float(np.linalg.norm(jac)),
            exact_frobenius_norm=float(np.linalg.norm(exact)),
            exact_logistic_frobenius_norm=float(np.linalg.norm(exact_jacobian(X.copy(), "logistic"))),
            max_abs_error_single_run=float(np.abs(jac - exact).max()),
            max_abs_error_mean_of_runs=float(err.max()))
        if len(jacs) >= 3:
            se = stack.std(axis=0, ddof=1) / math.sqrt(len(jacs))  # standard error of the mean of runs
            z = err / np.where(se > 0, se, np.nan)
            check.update(standard_error_single_run_median=float(np.median(se) * math.sqrt(len(jacs))),
                         standard_error_single_run_max=float(np.nanmax(se) * math.sqrt(len(jacs))),
                         standard_error_of_mean_max=float(np.nanmax(se)),
                         max_error_in_standard_errors=float(np.nanmax(z)),
                         rms_error_in_standard_errors=float(np.sqrt(np.nanmean(z ** 2))),
                         note=f"standard errors from the spread of {len(jacs)} independent runs, i.e. "
                              f"with {len(jacs) - 1} degrees of freedom (heavy-tailed below ~20 runs)")
        out["check"] = check
    return out


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--impl", choices=["numpy", "optax"], required=True)
    p.add_argument("--samples", type=int, default=2 ** 15)
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--dist", choices=["logistic", "gaussian"], default="logistic")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--check", action="store_true", help="compare with the exact smoothed Jacobian")
    p.add_argument("--sampler", choices=["latin", "mc"], default="latin", help="numpy only")
    p.add_argument("--chunk", type=int, default=65_536, help="numpy only: rows per chunk")
    p.add_argument("--mode", choices=["jacrev", "jacfwd"], default="jacrev", help="optax only")
    p.add_argument("--x64", action="store_true", help="optax only: float64 instead of float32")
    p.add_argument("--optax-noise", choices=["builtin", "gumbel", "gaussian", "logistic"], default="builtin",
                   help="optax only: builtin = Gumbel for --dist logistic, Normal for gaussian; "
                        "logistic = a user-written Logistic noise class (same target as gss)")
    args = p.parse_args()
    out = run_numpy(args) if args.impl == "numpy" else run_optax(args)
    median = statistics.median(out["times"])
    ordered = dict(peer=out.pop("peer"), case=out.pop("case"), dist=out.pop("dist"),
                   samples=out.pop("samples"), repeats=out.pop("repeats"),
                   median_seconds=median, min_seconds=min(out["times"]),
                   samples_per_second=args.samples / median)
    ordered.update(out)
    print(json.dumps(ordered))


if __name__ == "__main__":
    main()
