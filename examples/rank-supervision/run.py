"""The ranking-supervision study, one command, resumable:

    examples/rank-supervision/run.sh [--steps 250] [--seeds 3] [--workers 1] [--long-tier 2000]

Stage 1 (selection): every method's hyperparameter from its three candidates (relaxations.CANDIDATES;
gss: gamma in {1, 1/3, 0.1} as the paper's appendix D) by exact match on 300 validation sets, seed
0; gss chooses per distribution (with rqmc-latin), as the paper chooses per distribution and
sample count.  Stage 2: the chosen value, seeds 1 .. seeds-1 (seed 0 is the selection run).
Stage 3: gss with the sobol sampler at the gamma chosen for its distribution, every seed.
Stage 4 (--larger-samples 0 skips it): gss at s = 1024 with rqmc-latin, every seed.  Long tier
(--long-tier 0 skips it): every method at 2,000 steps, --long-seeds seeds, at the chosen values;
--long-only runs it alone.
Every finished run is one line of the journal (docs/learning-benchmarks/rank-supervision/runs.jsonl);
a restart skips the runs already there.  Afterwards the report is rewritten (report.py).
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
JOURNAL = os.path.join(ROOT, "docs", "learning-benchmarks", "rank-supervision", "runs.jsonl")

GSS_DISTS = ("gaussian", "logistic", "cauchy", "laplace")
BASELINES = ("neuralsort", "dsn-logistic", "dsn-cauchy", "perturbed")
METHODS = tuple(f"gss-{d}" for d in GSS_DISTS) + BASELINES


def _work(args):
    cfg_dict, journal_path = args
    import torch

    torch.set_num_threads(1)
    from journal import Journal, log
    from train import Digits, RunConfig, train

    global _DIGITS
    if "_DIGITS" not in globals():
        _DIGITS = Digits()
    cfg = RunConfig(**cfg_dict)
    log(f"start {cfg.key()}")
    record = train(cfg, _DIGITS, log_every=max(cfg.steps // 4, 1))
    Journal(journal_path).append(record)
    log(f"done  {cfg.key()}: test exact {record['test_exact']:.3f}, element {record['test_element']:.3f}, "
        f"val exact {record['val_exact']:.3f}, {record['seconds']:.0f} s")
    return record


def choose(records, method: str, base: dict):
    """The candidate with the best validation exact match at seed 0 (ties: element accuracy)."""
    from relaxations import candidates
    from train import RunConfig

    by_key = {r["key"]: r for r in records}
    best = None
    for h in candidates(method):
        key = RunConfig(method, h, 0, **base).key()
        if key not in by_key:
            return None
        r = by_key[key]
        score = (r["val_exact"], r["val_element"])
        if best is None or score > best[0]:
            best = (score, h)
    return best[1]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--steps", type=int, default=250)
    p.add_argument("--batch", type=int, default=5, help="sets of 5 numbers per step")
    p.add_argument("--samples", type=int, default=256)
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--workers", type=int, default=1, help="processes (one torch thread each)")
    p.add_argument("--journal", default=JOURNAL)
    p.add_argument("--no-sobol", action="store_true")
    p.add_argument("--larger-samples", type=int, default=1024,
                   help="after the study: gss with rqmc-latin at this s, at the gamma chosen at s = --samples (0: skip)")
    p.add_argument("--smoke", action="store_true", help="tiny evaluations (50 sets), to check the harness")
    p.add_argument("--long-tier", type=int, default=2000, metavar="STEPS",
                   help="last: every method at STEPS steps, seeds 0 .. --long-seeds - 1 (seed-major), at the "
                        "values the study's stage 1 chose (0: skip)")
    p.add_argument("--long-seeds", type=int, default=2)
    p.add_argument("--long-only", action="store_true",
                   help="only the long tier (the study's stage 1 must be in the journal)")
    args = p.parse_args()
    sys.path.insert(0, HERE)
    from journal import Journal, log
    from relaxations import candidates
    from train import RunConfig

    journal = Journal(args.journal)
    base = dict(steps=args.steps, batch=args.batch, samples=args.samples)
    if args.smoke:
        base.update(val_sets=50, test_sets=50, curve_sets=20, eval_every=max(args.steps // 2, 1))
    pool = mp.get_context("fork").Pool(args.workers, maxtasksperchild=None) if args.workers > 1 else None

    def run_all(configs, stage: str):
        done = journal.keys()
        todo = [c for c in configs if c.key() not in done]
        log(f"{stage}: {len(configs)} runs, {len(configs) - len(todo)} already in the journal")
        if not todo:
            return
        started = time.time()
        jobs = [(c.__dict__, args.journal) for c in todo]
        it = pool.imap(_work, jobs) if pool else map(_work, jobs)
        from journal import progress

        for i, _ in enumerate(it, 1):
            progress(i, len(todo), started, "runs")

    # stage 1: selection, seed 0
    sel = [RunConfig(m, h, 0, **base) for m in METHODS for h in candidates(m)]
    if args.long_only:
        if any(c.key() not in journal.keys() for c in sel):
            raise SystemExit("--long-only needs the study's stage 1 (at --steps) in the journal; run the study first.")
    else:
        run_all(sel, "stage 1 (hyperparameter selection, seed 0)")
    records = journal.load()
    chosen = {m: choose(records, m, base) for m in METHODS}
    log("chosen: " + ", ".join(f"{m} {h:.3g}" for m, h in chosen.items()))
    if not args.long_only:
        # stage 2: the other seeds, seed-major so that an interrupted study has whole seeds
        fin = [RunConfig(m, chosen[m], seed, **base) for seed in range(1, args.seeds) for m in METHODS]
        run_all(fin, f"stage 2 (seeds 1..{args.seeds - 1} at the chosen values)")
        if not args.no_sobol:
            sob = [RunConfig(f"gss-{d}", chosen[f"gss-{d}"], seed, sampler="sobol", **base)
                   for seed in range(args.seeds) for d in GSS_DISTS]
            run_all(sob, "stage 3 (gss with sobol)")
        if args.larger_samples:
            big = [RunConfig(f"gss-{d}", chosen[f"gss-{d}"], seed, **dict(base, samples=args.larger_samples))
                   for seed in range(args.seeds) for d in GSS_DISTS]
            run_all(big, f"stage 4 (gss at s = {args.larger_samples})")
    if args.long_tier:
        long = dict(base, steps=args.long_tier)
        tier = [RunConfig(m, chosen[m], seed, **long) for seed in range(args.long_seeds) for m in METHODS]
        run_all(tier, f"long tier ({args.long_tier} steps, seeds 0..{args.long_seeds - 1})")
    if pool:
        pool.close()
    import report

    report.main(args.journal)

if __name__ == "__main__":
    main()
