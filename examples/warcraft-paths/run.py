"""The Warcraft-like shortest-path study, one command, resumable:

    examples/warcraft-paths/run.sh [--steps 300] [--seeds 3] [--workers 1] [--long-tier 2400]

Stage 0: the maps (the first --train-maps of the 10,000 training maps, of which the last fifth
validates, and --test-maps test maps), generated once into examples/warcraft-paths/cache/*.npy.
Stage 1 (selection, seed 0, validation exact-path accuracy): gss's gamma = 1/beta from
{1/3, 1, 3} with logistic noise, rqmc-latin, s = 100, smoothing the algorithm (then used for every
gss configuration); the Fenchel-Young loss's sigma from {1/3, 1, 3} at s = 10.  Blackbox
differentiation uses Vlastelica et al.'s lambda = 20 for Warcraft.
Stage 2 (seed-major, seeds 0 .. seeds-1): gss smoothing the algorithm {logistic, Gaussian} and
smoothing the objective (logistic) x s in {10, 100} with rqmc-latin; blackbox; Fenchel-Young at
s = 10.  Stage 2b: smoothing the objective with Gaussian noise, Fenchel-Young at s = 100.
Stage 3: gss smoothing the algorithm with the sobol sampler, {logistic, Gaussian} x s in {16, 128}
(sobol takes powers of two).  Stages 4 and 5 (--no-extras skips them): seed 0 of gss (logistic,
algorithm, s = 100) and Fenchel-Young (s = 10) at --long-steps; gss at s = 1000, every seed.
Long tier (--long-tier 0 skips it): --long-seeds seeds at --long-tier steps on --long-maps maps of
gss (logistic; the algorithm at s = 100 and 1000, the objective at s = 100), blackbox and
Fenchel-Young (s = 10); --long-only runs it alone.
Every finished run is one line of docs/learning-benchmarks/warcraft-paths/runs.jsonl; a restart
skips the runs already there.  Afterwards the report is rewritten (report.py).
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
JOURNAL = os.path.join(ROOT, "docs", "learning-benchmarks", "warcraft-paths", "runs.jsonl")
GAMMAS = (1 / 3, 1.0, 3.0)
SIGMAS = (1 / 3, 1.0, 3.0)
LAMBDA = 20.0
DISTS = ("logistic", "gaussian")


_COUNTS = (None, None)  # maps used: --train-maps, --test-maps (a prefix of the collections)


def _work(args):
    cfg_dict, journal_path = args
    import torch

    torch.set_num_threads(1)
    import data
    from journal import Journal, log
    from train import RunConfig, train

    global _DATA
    cfg = RunConfig(**cfg_dict)
    if "_DATA" not in globals() or _DATA[0] != cfg.train_maps:  # the study's maps, or the long tier's
        _DATA = (cfg.train_maps, data.load("train", count=cfg.train_maps), data.load("test", count=_COUNTS[1]))
    log(f"start {cfg.key()}")
    record = train(cfg, *_DATA[1:], log_every=max(cfg.steps // 4, 1))
    Journal(journal_path).append(record)
    log(f"done  {cfg.key()}: test exact {record['test_exact']:.3f}, optimal {record['test_optimal']:.3f}, "
        f"val exact {record['val_exact']:.3f}, {record['seconds']:.0f} s")
    return record


def best(records, configs):
    by_key = {r["key"]: r for r in records}
    scored = [((by_key[c.key()]["val_exact"], by_key[c.key()]["val_optimal"]), c.hyper)
              for c in configs if c.key() in by_key]
    if len(scored) < len(configs):
        return None
    return max(scored)[1]


def study_stages(args, base, gamma, sigma, run_all) -> None:
    """Stages 2 to 5: every configuration over seeds at the chosen values, then the extras."""
    from train import RunConfig

    main_runs, more_runs = [], []
    for seed in range(args.seeds):
        for samples in (100, 10):
            for d in DISTS:
                main_runs.append(RunConfig(f"gss-algorithm-{d}", gamma, seed, samples=samples, **base))
            main_runs.append(RunConfig("gss-objective-logistic", gamma, seed, samples=samples, **base))
            more_runs.append(RunConfig("gss-objective-gaussian", gamma, seed, samples=samples, **base))
        main_runs.append(RunConfig("blackbox", LAMBDA, seed, samples=1, **base))
        main_runs.append(RunConfig("fy", sigma, seed, samples=10, **base))
        more_runs.append(RunConfig("fy", sigma, seed, samples=100, **base))
    run_all(main_runs, f"stage 2 (seeds 0..{args.seeds - 1})")
    run_all(more_runs, f"stage 2b (objective smoothing with Gaussian noise, Fenchel-Young at s = 100)")
    if not args.no_sobol:
        # sobol takes powers of two: s = 128 and 16 beside rqmc-latin's 100 and 10
        sob = [RunConfig(f"gss-algorithm-{d}", gamma, seed, samples=s, sampler="sobol", **base)
               for seed in range(args.seeds) for s in (128, 16) for d in DISTS]
        run_all(sob, "stage 3 (sobol)")
    if args.extras:
        run_all([RunConfig("gss-algorithm-logistic", gamma, 0, samples=100, **dict(base, steps=args.long_steps)),
                 RunConfig("fy", sigma, 0, samples=10, **dict(base, steps=args.long_steps))],
                f"stage 4 (seed 0 at {args.long_steps} steps)")
        run_all([RunConfig("gss-algorithm-logistic", gamma, seed, samples=1000, **base) for seed in range(args.seeds)],
                "stage 5 (gss at s = 1000)")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--steps", type=int, default=300)
    p.add_argument("--batch", type=int, default=8, help="maps per step")
    p.add_argument("--train-maps", type=int, default=3000,
                   help="the first N of the 10,000 training maps (the last fifth, at most 1,000, validate)")
    p.add_argument("--test-maps", type=int, default=1000)
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--workers", type=int, default=1, help="processes (one torch thread each)")
    p.add_argument("--journal", default=JOURNAL)
    p.add_argument("--no-sobol", action="store_true")
    p.add_argument("--no-extras", dest="extras", action="store_false",
                   help="skip what follows the study: s = 1000 for gss (logistic, algorithm), every seed; and "
                        "seed 0 of gss (logistic, algorithm, s = 100) and Fenchel-Young (s = 10) at --long-steps")
    p.add_argument("--long-steps", type=int, default=1200)
    p.add_argument("--long-tier", type=int, default=2400, metavar="STEPS",
                   help="last: --long-seeds seeds at STEPS steps on --long-maps training maps of gss "
                        "(logistic; smoothing the algorithm at s = 100 and 1000, the objective at s = 100), "
                        "blackbox and Fenchel-Young (s = 10), seed-major, at the study's gamma and sigma "
                        "(0: skip)")
    p.add_argument("--long-maps", type=int, default=10000)
    p.add_argument("--long-seeds", type=int, default=3)
    p.add_argument("--long-only", action="store_true",
                   help="only the long tier (the study's stage 1 must be in the journal)")
    p.add_argument("--smoke", action="store_true", help="tiny evaluations (50 maps), to check the harness")
    args = p.parse_args()
    sys.path.insert(0, HERE)
    import data
    from journal import Journal, log, progress
    from train import RunConfig

    global _COUNTS
    _COUNTS = (args.train_maps, args.test_maps)
    if args.smoke:
        _COUNTS = (600, 100)
    log("maps: loading or generating the cache")
    t = time.time()
    tr, te = data.load("train", count=_COUNTS[0]), data.load("test", count=_COUNTS[1])
    log(f"maps: {len(tr['images'])} train, {len(te['images'])} test ({time.time() - t:.0f} s)")
    del tr, te
    journal = Journal(args.journal)
    base = dict(steps=args.steps, batch=args.batch)
    if args.smoke:
        base.update(val_maps=50, test_maps=50, curve_maps=20, eval_every=max(args.steps // 2, 1))
    pool = mp.get_context("fork").Pool(args.workers) if args.workers > 1 else None

    def run_all(configs, stage: str):
        done = journal.keys()
        todo = [c for c in configs if c.key() not in done]
        log(f"{stage}: {len(configs)} runs, {len(configs) - len(todo)} already in the journal")
        if not todo:
            return
        started = time.time()
        jobs = [(c.__dict__, args.journal) for c in todo]
        it = pool.imap(_work, jobs) if pool else map(_work, jobs)
        for i, _ in enumerate(it, 1):
            progress(i, len(todo), started, "runs")

    sel_gss = [RunConfig("gss-algorithm-logistic", g, 0, samples=100, **base) for g in GAMMAS]
    sel_fy = [RunConfig("fy", s, 0, samples=10, **base) for s in SIGMAS]
    if args.long_only:
        if any(c.key() not in journal.keys() for c in sel_gss + sel_fy):
            raise SystemExit("--long-only needs the study's stage 1 (at --steps) in the journal; run the study first.")
    else:
        run_all(sel_gss + sel_fy, "stage 1 (gamma and sigma on validation, seed 0)")
    records = journal.load()
    gamma, sigma = best(records, sel_gss), best(records, sel_fy)
    log(f"chosen: gamma {gamma:.3g}, sigma {sigma:.3g}, lambda {LAMBDA:g}")

    def long_tier():
        long = dict(base, steps=args.long_tier, train_maps=args.long_maps)
        tier = []
        for seed in range(args.long_seeds):
            tier += [RunConfig("gss-algorithm-logistic", gamma, seed, samples=100, **long),
                     RunConfig("fy", sigma, seed, samples=10, **long),
                     RunConfig("gss-objective-logistic", gamma, seed, samples=100, **long),
                     RunConfig("blackbox", LAMBDA, seed, samples=1, **long),
                     RunConfig("gss-algorithm-logistic", gamma, seed, samples=1000, **long)]
        run_all(tier, f"long tier ({args.long_tier} steps, {args.long_maps} maps, seeds 0..{args.long_seeds - 1})")

    if not args.long_only:
        study_stages(args, base, gamma, sigma, run_all)
    if args.long_tier:
        long_tier()
    if pool:
        pool.close()
    import report

    report.main(args.journal)


if __name__ == "__main__":
    main()
